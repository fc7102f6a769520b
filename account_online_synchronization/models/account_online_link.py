# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime as dt
import logging
import secrets
import uuid
from contextlib import contextmanager

import psycopg2.errors
import pytz
from dateutil.relativedelta import relativedelta
from markupsafe import Markup

from odoo import _, api, fields, models, modules
from odoo.addons.base.models.res_bank import sanitize_account_number
from odoo.addons.base.models.res_partner import _tz_get
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import LazyTranslate
from odoo.tools.misc import format_date, format_datetime

from .. import providers
from ..providers import base as provider_base

_logger = logging.getLogger(__name__)
_lt = LazyTranslate(__name__)

CRON_XMLID = "account_online_synchronization.online_sync_cron"
REQUESTED_CRON_XMLID = "account_online_synchronization.online_sync_requested_cron"
# Context key: the synchronization commits each imported batch (the scheduled
# action), so that a crash keeps them and the next run resumes after them.
COMMIT_BATCHES = "online_sync_commit_batches"
# Context key of the wizards' buttons: what they return closes their dialog.
FROM_DIALOG = "online_sync_from_dialog"
# Where the bank sends the user back after the consent (controllers/main.py).
CALLBACK_ROUTE = "/account_online_synchronization/callback"
# First key of the PostgreSQL advisory lock that serializes the work on one
# connection (the second key is the connection's id).
SYNC_LOCK_KEY = 0x41_4F_53  # "AOS"
# Written by the synchronization only (with sudo), never by a user.
SYSTEM_FIELDS = frozenset({
    "state", "last_refresh", "rate_limit_reset", "expiring_synchronization_date",
    "client_reference", "last_error_reference", "provider_data", "consent_identifier", "sync_requested",
    "expiry_reminder_days", "account_choice_pending", "blocked_reason", "auth_failure_count", "database_uuid",
    "scheduled_sync_started",
})
# Authentication failures in a row after which a connection is blocked.
AUTH_FAILURES_BEFORE_BLOCK = 3
# Days before the consent's end at which its responsible gets an activity to renew it.
EXPIRY_REMINDER_DAYS = (15, 3, 1)
EXPIRY_SUMMARY_PREFIX = "Bank consent ends"
# Errors of concurrent transactions: the run is retried, the connection is not broken.
CONCURRENCY_ERRORS = (psycopg2.errors.SerializationFailure, psycopg2.errors.LockNotAvailable,
                      psycopg2.errors.DeadlockDetected)


class BankSyncError(UserError):
    """A synchronization error as the user sees it, in the addon's own dialog
    (static/src/bank_sync_error_dialog): a title, what happened in a sentence,
    the reference to quote, and the button to act (``next_step``:
    "reconnect", "reactivate" or nothing)."""

    def __init__(self, message, reference=None, link_id=None, next_step=None, title=None):
        super().__init__(message)
        self.args = (message, reference or "", link_id or False, next_step or "", str(title or ""))

    def __str__(self):
        message, reference = self.args[:2]
        return f"{message}\n\nReference: {reference}" if reference else message


class SyncBlocked(BankSyncError):
    """The connection is blocked: no request leaves for it."""


class SyncInProgress(BankSyncError):
    """Another transaction works on the connection right now."""

    def __init__(self, message):
        super().__init__(message, title=_lt("Synchronization in Progress"))


class AccountOnlineLink(models.Model):
    _name = "account.online.link"
    _description = "Bank Connection"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "name, id"
    _check_company_auto = True

    name = fields.Char(
        compute="_compute_name", store=True, readonly=False, precompute=True, required=True, tracking=True,
    )
    institution_id = fields.Many2one(
        "account.online.institution", string="Bank", ondelete="restrict", tracking=True,
    )
    provider_id = fields.Many2one(
        "account.online.provider",
        string="Aggregator",
        # Empty only on a connection taken over from the legacy module whose
        # aggregator has no connector here: choosing its bank sets it.
        compute="_compute_provider_id", store=True, readonly=False, precompute=True,
        ondelete="restrict",
    )
    state = fields.Selection(
        [("connected", "Connected"), ("error", "Error"), ("disconnected", "Not Connected")],
        required=True, default="disconnected", readonly=True, tracking=True,
    )
    auto_sync = fields.Boolean(
        string="Automatic Synchronization",
        compute="_compute_auto_sync", store=True, readonly=False, precompute=True, tracking=True,
        help="Fetch new transactions every 12 hours. Some banks forbid it: "
        "their connections are synchronized with Synchronize Now only.",
    )
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True,
    )
    timezone = fields.Selection(
        _tz_get,
        default=lambda self: self.env.company.partner_id.tz or self.env.user.tz or "UTC",
        required=True,
        help="Bank transactions are dated in this timezone, so that a payment made at "
        "00:30 belongs to the day it was made.",
    )
    last_refresh = fields.Datetime(readonly=True, copy=False)
    next_refresh = fields.Datetime(
        compute="_compute_next_refresh",
        help="When the next automatic synchronization is planned, or the earliest time "
        "the bank accepts a new refresh.",
    )
    rate_limit_reset = fields.Datetime(
        string="Next Refresh Possible",
        readonly=True, copy=False,
        help="The bank refused more refreshes until then.",
    )
    expiring_synchronization_date = fields.Date(
        string="Consent Expires On", readonly=True, copy=False, tracking=True,
    )
    # The last reminder sent for the current consent (days before its end; 0: none yet).
    expiry_reminder_days = fields.Integer(readonly=True, copy=False)
    user_id = fields.Many2one(
        "res.users", string="Responsible", default=lambda self: self.env.user, tracking=True,
        domain="[('share', '=', False)]",
        help="Follows the connection and gets an activity when it needs someone: a consent to renew.",
    )
    account_online_account_ids = fields.One2many(
        "account.online.account", "account_online_link_id", string="Bank Accounts",
    )
    journal_ids = fields.Many2many(
        "account.journal", compute="_compute_journal_ids", string="Journals",
    )
    client_reference = fields.Char(
        readonly=True, copy=False, required=True, index=True,
        default=lambda self: uuid.uuid4().hex,
        help="Quote it to support: it identifies this connection at the aggregator.",
    )
    last_error_reference = fields.Char(readonly=True, copy=False)
    consent_identifier = fields.Char(
        readonly=True, copy=False, index="btree_not_null",
        help="The aggregator's id of the consent: its notifications name it.",
    )
    sync_requested = fields.Boolean(
        readonly=True, copy=False,
        help="Waiting for the scheduled action: the aggregator announced new transactions, "
        "or the connection is due.",
    )
    scheduled_sync_started = fields.Datetime(
        readonly=True, copy=False, help="When the scheduled action last took this connection to synchronize it.",
    )
    blocked_reason = fields.Selection(
        [
            ("suspended", "Suspended by the Bank or Aggregator"),
            ("authentication", "Repeated Authentication Failures"),
            ("copied", "Database Copied"),
        ],
        string="Blocked", readonly=True, copy=False, tracking=True,
        help="No request leaves for a blocked connection until an administrator reactivates it.",
    )
    auth_failure_count = fields.Integer(readonly=True, copy=False)
    # The database the consent was given to: a copy of it must not use the consent.
    database_uuid = fields.Char(readonly=True, copy=False)
    account_choice_pending = fields.Boolean(
        readonly=True, copy=False,
        help="The bank gave access to accounts: the user has not chosen yet which to synchronize.",
    )
    requested_journal_id = fields.Many2one(
        "account.journal", string="Journal to Feed", readonly=True, copy=False, check_company=True,
        domain="[('type', '=', 'bank')]",
        help="The journal the connection was started from: offered first for an account in its currency.",
    )
    # Tokens and the provider's own state: Settings administrators only.
    provider_data = fields.Json(groups="base.group_system", copy=False)

    _client_reference_uniq = models.UniqueIndex("(client_reference)")

    # ------------------------------------------------------------------
    # Computes and constraints
    # ------------------------------------------------------------------

    @api.depends("institution_id")
    def _compute_name(self):
        for link in self:
            if link.institution_id and not link.name:
                link.name = link.institution_id.name

    @api.depends("institution_id")
    def _compute_provider_id(self):
        for link in self:
            if link.institution_id:
                link.provider_id = link.institution_id.provider_id

    @api.depends("institution_id")
    def _compute_auto_sync(self):
        for link in self:
            link.auto_sync = link.institution_id.auto_sync_allowed if link.institution_id else True

    @api.depends("account_online_account_ids.journal_ids")
    def _compute_journal_ids(self):
        for link in self:
            link.journal_ids = link.account_online_account_ids.journal_ids

    @api.depends("auto_sync", "state", "rate_limit_reset")
    def _compute_next_refresh(self):
        cron = self.env.ref(CRON_XMLID, raise_if_not_found=False)
        cron = cron.sudo() if cron else cron
        now = fields.Datetime.now()
        for link in self:
            if not (cron and cron.active and link.auto_sync and link.state != "disconnected"):
                link.next_refresh = False
                continue
            # The first run of the scheduled action at which the bank accepts a refresh.
            planned = max(cron.nextcall, now)
            reset = link.rate_limit_reset
            if reset and reset > planned:
                step = relativedelta(**{cron.interval_type: cron.interval_number})
                while planned < reset:
                    planned += step
            link.next_refresh = planned

    @api.constrains("auto_sync", "institution_id")
    def _check_auto_sync_allowed(self):
        for link in self:
            if link.auto_sync and link.institution_id and not link.institution_id.auto_sync_allowed:
                raise ValidationError(_(
                    "%(bank)s does not allow automatic synchronization. Please disable automatic "
                    "synchronization and use Synchronize Now.",
                    bank=link.institution_id.name,
                ))

    @api.model_create_multi
    def create(self, vals_list):
        links = super().create(vals_list)
        for link in links.filtered("user_id"):
            link.message_subscribe(partner_ids=link.user_id.partner_id.ids)
        return links

    def write(self, vals):
        if vals.get("user_id"):
            self.message_subscribe(partner_ids=self.env["res.users"].browse(vals["user_id"]).partner_id.ids)
        if not self.env.su:
            self.check_access("write")
            forbidden = SYSTEM_FIELDS.intersection(vals)
            if forbidden:
                raise AccessError(_(
                    "Only the synchronization itself changes %(fields)s of a bank connection.",
                    fields=", ".join(sorted(self._fields[name].string for name in forbidden)),
                ))
            if "company_id" in vals and self.account_online_account_ids:
                raise UserError(_(
                    "The company of a connection with bank accounts cannot change: its journals "
                    "belong to it. Connect the bank again from the other company."
                ))
        return super().write(vals)

    # ------------------------------------------------------------------
    # Buttons
    # ------------------------------------------------------------------

    def _check_can_configure(self):
        """Connecting and reconfiguring are for accounting administrators."""
        self.check_access("write")

    def _offered_step(self, step):
        """The button an error dialog offers (Reconnect, Reactivate): only to
        those who may configure the connection."""
        return step if step and self.has_access("write") else None

    def _check_can_synchronize(self):
        """Bookkeepers synchronize: they read the connection, the
        synchronization writes its own fields."""
        self.check_access("read")
        if not self.env.user.has_group("account.group_account_basic"):
            raise AccessError(_("You are not allowed to synchronize bank connections."))

    def action_connect(self):
        """Start the connection to the bank. Returns the next step as an
        action: the bank's page, in the same tab (the user comes back to the
        callback route), or, when the consent is granted at once (Demo Bank),
        the connection with its accounts fetched and synced."""
        self.ensure_one()
        self._check_can_configure()
        return self._start_consent_flow()

    def action_reconnect(self):
        """A new consent, as on the first connection."""
        self.ensure_one()
        self._check_can_configure()
        return self._start_consent_flow()

    def action_update_credentials(self):
        """Renew the login of the current consent, for aggregators that can
        (Plaid's update mode); a new consent for the others."""
        self.ensure_one()
        self._check_can_configure()
        return self._start_consent_flow(renew_login=True)

    def action_fetch_accounts(self):
        """Ask the bank for its accounts again. From the screens, the accounts
        not synchronized yet (new ones, and those left out before) are offered
        in the account choice; scripts link new accounts at once."""
        self.ensure_one()
        self._check_can_configure()
        self._check_can_send_requests()
        choose = self._user_chooses_accounts()
        new_accounts = self._run_guarded(lambda: self._fetch_accounts(link_new=not choose), automatic=False)
        if new_accounts is None:
            return self._notify(self._rate_limit_message(), "warning")
        if choose:
            unsynchronized = self.account_online_account_ids.filtered(lambda account: not account.journal_ids)
            if unsynchronized:
                return self._action_choose_accounts(unsynchronized)
            return self._notify(_("%(bank)s has no other account to synchronize.", bank=self.name), "info")
        return self._notify(
            _("%(count)s new bank account(s) found.", count=len(new_accounts)),
            "success" if new_accounts else "info",
        )

    def action_choose_accounts(self):
        self.ensure_one()
        self._check_can_configure()
        return self._action_choose_accounts(self.account_online_account_ids.filtered(lambda a: not a.journal_ids))

    def _user_chooses_accounts(self):
        """Started from a screen (the buttons and wizards say so): the user
        ticks the accounts to synchronize. From a script, every account is."""
        return bool(self.env.context.get("online_sync_choose_accounts"))

    def _action_choose_accounts(self, accounts):
        if not accounts:
            raise UserError(_("Every bank account of %(bank)s is synchronized already.", bank=self.name))
        return {
            "type": "ir.actions.act_window",
            "name": _("Choose the Accounts to Synchronize"),
            "res_model": "account.online.account.choice",
            "view_mode": "form",
            "target": "new",
            "context": {
                "online_sync_link_id": self.id,
                "online_sync_account_ids": accounts.ids,
                "online_sync_open_connection": self.env.context.get("online_sync_open_connection"),
            },
        }

    def action_fetch_transactions(self):
        self.ensure_one()
        self._check_can_synchronize()
        return self._notify_synchronized(self._fetch_transactions())

    def _notify_synchronized(self, lines, connected=False):
        """What the user is told after a synchronization they started: the
        bank and each account with what it brought (``lines`` is None when the
        bank refused the refresh: a warning says until when), then where they
        land. ``connected``: the first synchronization of a new consent."""
        next_action = self._action_after_connect()
        message = _("Connected to %(bank)s.", bank=self.name) if connected else ""
        if lines is None:
            if not connected:
                return self._notify(self._rate_limit_message(), "warning", next_action=next_action)
            return self._notify(message, "success", next_action=next_action)
        # Counted by the database: a large import's lines are not read back into memory.
        imported = dict(self.env["account.bank.statement.line"].sudo()._read_group(
            [("id", "in", lines.ids), ("online_transaction_identifier", "!=", False)],
            ["online_account_id"], ["__count"],
        )) if lines else {}
        message = " ".join(filter(None, (message, self._import_summary(imported))))
        kind = "success" if connected or imported else "info"
        if self.account_online_account_ids.filtered(lambda account: account.journal_ids and account.unavailable_since):
            kind = "warning"  # an account the bank no longer gives: its journal's chatter says what to do
        return self._notify(message, kind, next_action=next_action)

    def _import_summary(self, imported):
        """What a synchronization brought, named: the bank, then each account
        (``imported``: account -> number of new lines)."""
        accounts = self.account_online_account_ids.filtered("journal_ids").sorted("name")
        per_account = ", ".join(
            _("%(account)s: unavailable at the bank", account=account.name) if account.unavailable_since
            else f"{account.name}: {imported.get(account, 0)}"
            for account in accounts
        )
        return _("%(bank)s: %(count)s new transaction(s) (%(accounts)s).",
                 bank=self.name, count=sum(imported.values()), accounts=per_account)

    def action_open_journals(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Bank Journals"),
            "res_model": "account.journal",
            "view_mode": "list,form",
            "domain": [("id", "in", self.journal_ids.ids)],
        }

    def _notify(self, message, kind, next_action=None):
        """A notification, then ``next_action``; by default the view behind
        shows what changed. A wizard's (``FROM_DIALOG``) closes its dialog,
        and the view that opened it reloads its records; a button of the view
        itself reloads the whole view. Not the latter from a dialog over a
        form: it redraws the form from its cached record before reloading it,
        and Odoo's status bar can stay on the state before."""
        if not next_action:
            next_action = ({"type": "ir.actions.act_window_close"} if self.env.context.get(FROM_DIALOG)
                           else {"type": "ir.actions.client", "tag": "soft_reload"})
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": kind,
                "message": message,
                "next": next_action,
            },
        }

    # ------------------------------------------------------------------
    # Blocking: no request leaves for a blocked connection
    # ------------------------------------------------------------------

    def _get_client(self):
        """The aggregator's connector, inside the synchronization's work (a
        savepoint): refuses a blocked connection, whatever path led here. The
        buttons check first (``_check_can_send_requests``), outside it."""
        self._check_can_send_requests(commit=False)
        return self.provider_id._get_client()

    @api.model
    def _check_database_allows_sync(self):
        if self.env["ir.config_parameter"].sudo().get_param("database.expiration_reason") == "trial":
            raise BankSyncError(
                _("Bank synchronization is not available on a trial database. A bank's consent is given to one "
                  "lasting database: a trial is often copied, shared, or deleted when it ends, and the consent "
                  "would go with it. Register the database, then connect your bank."),
                title=_("Not Available on Trial Databases"),
            )

    @api.model
    def _current_database_uuid(self):
        return self.env["ir.config_parameter"].sudo().get_param("database.uuid")

    def _check_can_send_requests(self, commit=True):
        """Refuse any request for a blocked connection. A connection whose
        consent was given to another database (this one is a copy) is blocked
        here, before anything leaves; ``commit`` keeps that although the
        request is refused (not inside a savepoint)."""
        self.ensure_one()
        self._check_database_allows_sync()
        if not self.blocked_reason and self.database_uuid and self.database_uuid != self._current_database_uuid():
            self._block("copied")
            if commit:
                self._commit_if_allowed()
        if self.blocked_reason:
            raise SyncBlocked(self._blocked_message(), link_id=self.id, next_step=self._offered_step("reactivate"),
                              title=_("Bank Connection Blocked"))

    def _blocked_message(self):
        reasons = {
            "suspended": _("%(bank)s or its aggregator suspended the access of this connection."),
            "authentication": _("The login at %(bank)s failed %(count)s times in a row."),
            "copied": _("This database is a copy of the one %(bank)s gave its consent to."),
        }
        return _(
            "%(reason)s The connection is blocked: Odoo sends no request for it until an administrator "
            "reactivates it by confirming the company's phone number.",
            reason=reasons[self.blocked_reason] % {"bank": self.name, "count": AUTH_FAILURES_BEFORE_BLOCK},
        )

    def _block(self, reason):
        """Block the connection and tell its journals and its responsible.
        Kept although the request that found it fails (committed)."""
        self.sudo().write({"blocked_reason": reason, "sync_requested": False})
        message = self._blocked_message()
        self._post(message, subject=_("Bank connection blocked"))
        self.sudo().activity_schedule(
            "mail.mail_activity_data_todo",
            summary=_("Bank connection blocked"),
            note=message,
            user_id=(self.user_id or self.create_uid).id,
        )
        _logger.warning("Online synchronization: connection %s blocked (%s)", self.id, reason)

    def action_reactivate(self):
        """Open the confirmation of the company's phone number."""
        self.ensure_one()
        self._check_can_configure()
        if not self.blocked_reason:
            raise UserError(_("%(bank)s is not blocked.", bank=self.name))
        return {
            "type": "ir.actions.act_window",
            "name": _("Reactivate %(bank)s", bank=self.name),
            "res_model": "account.online.link.reactivate",
            "view_mode": "form",
            "target": "new",
            "context": {"online_sync_link_id": self.id},
        }

    def _reactivate(self):
        """The administrator confirmed the phone number: requests may leave
        again, from this database."""
        self.ensure_one()
        reason = dict(self._fields["blocked_reason"]._description_selection(self.env)).get(self.blocked_reason)
        self.sudo().write({
            "blocked_reason": False, "auth_failure_count": 0, "database_uuid": self._current_database_uuid(),
        })
        self.sudo().activity_ids.filtered(
            lambda activity: activity.summary == _("Bank connection blocked")
        ).action_feedback(feedback=_("Reactivated."))
        self._post(_("Reactivated by %(user)s, who confirmed the company's phone number (blocked: %(reason)s).",
                     user=self.env.user.name, reason=reason))

    # ------------------------------------------------------------------
    # Consent
    # ------------------------------------------------------------------

    def _get_consent(self):
        data = (self.sudo().provider_data or {}).get("consent")
        if not data:
            raise UserError(_("%(name)s is not connected to its bank yet: click Reconnect.", name=self.name))
        valid_until = data.get("valid_until")
        return provider_base.Consent(
            identifier=data["identifier"],
            valid_until=dt.datetime.fromisoformat(valid_until) if valid_until else None,
            data=data.get("data") or {},
        )

    def _save_consent(self, consent):
        """Keep the consent as the aggregator left it (a rotated token lost is
        a connection lost). A new or longer consent answers the reminders of
        the old one; the same one, saved after each synchronization, not."""
        saved = (self.sudo().provider_data or {}).get("consent") or {}
        consent_vals = {
            "identifier": consent.identifier,
            "valid_until": consent.valid_until.isoformat() if consent.valid_until else None,
            "data": consent.data,
        }
        database_uuid = self._current_database_uuid()
        if consent_vals == saved and self.database_uuid == database_uuid:
            return
        renewed = (saved.get("identifier"), saved.get("valid_until")) != (consent.identifier, consent_vals["valid_until"])
        vals = {
            "database_uuid": database_uuid,
            "consent_identifier": consent.identifier,
            "provider_data": {"consent": consent_vals},
            "expiring_synchronization_date": consent.valid_until and self._to_local(consent.valid_until).date(),
        }
        if renewed:
            vals["expiry_reminder_days"] = 0
        self.sudo().write(vals)
        if renewed:
            self._expiry_activities().action_feedback(feedback=_("Consent renewed."))

    def _get_redirect_url(self):
        return self.get_base_url() + CALLBACK_ROUTE

    def _current_consent(self):
        """The consent to renew, or None when there is none (yet)."""
        return self._get_consent() if (self.sudo().provider_data or {}).get("consent") else None

    def _start_consent_flow(self, renew_login=False):
        if not self.institution_id:
            raise UserError(_("Choose the bank to connect first."))
        self._check_can_send_requests()
        client = self.provider_id._get_client()
        if client.setup_token_label:
            return self._ask_setup_token(client.setup_token_label)
        consent = self._current_consent() if renew_login else None
        Request = self.env["account.online.consent.request"]
        state = Request._new_state()
        step = self._run_guarded(lambda: client.start_connect(
            self.institution_id.identifier, self._get_redirect_url(), state, consent=consent,
        ), automatic=False)
        if step is None:  # the aggregator asked to wait: already told
            return self._notify(self._rate_limit_message(), "warning")
        if step.redirect_url:
            Request._open(self, state, step.data, renews_consent=consent is not None)
            # The same tab: the bank sends the user back to the callback route.
            return {"type": "ir.actions.act_url", "url": step.redirect_url, "target": "self"}
        return self._finish_consent_flow(step.consent)

    def _ask_setup_token(self, label):
        return {
            "type": "ir.actions.act_window",
            "name": label,
            "res_model": "account.online.connect.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {
                "default_link_id": self.id,
                "default_provider_id": self.provider_id.id,
                "default_institution_id": self.institution_id.id,
            },
        }

    def _connect_with_token(self, token):
        """Connect with the token the user pasted (aggregators that give one
        instead of a page of the bank)."""
        self.ensure_one()
        self._check_can_configure()
        self._check_can_send_requests()
        client = self.provider_id._get_client()
        consent = self._run_guarded(
            lambda: client.connect_with_token(self.institution_id.identifier, (token or "").strip()),
            automatic=False,
        )
        if consent is None:
            return self._notify(self._rate_limit_message(), "warning")
        return self._finish_consent_flow(consent)

    def _complete_consent_request(self, request, params):
        """The user is back from the bank with the state of ``request`` (already
        checked: theirs, unused, in time). Returns the consent's connection,
        connected and synchronized; raises UserError, told on the connection,
        when the bank gave no consent."""
        self.ensure_one()
        self._check_can_configure()
        # Single use, even when what follows fails.
        request.sudo().used_at = fields.Datetime.now()
        self._check_can_send_requests()
        client = self.provider_id._get_client()
        consent = self._current_consent() if request.renews_consent else None
        callback_params = {
            key: value for key, value in params.items() if isinstance(value, str)
        } | {"connect_data": request.connect_data or {}}
        new_consent = self._run_guarded(lambda: client.finish_connect(
            self.institution_id.identifier, callback_params, consent=consent,
        ), automatic=False)
        if new_consent is None:
            raise UserError(self._rate_limit_message())
        return self._finish_consent_flow(new_consent)

    def _finish_consent_flow(self, consent):
        """The bank granted ``consent``: fetch the accounts, link them to
        journals and run the first synchronization."""
        self._save_consent(consent)
        self.sudo().write({"state": "connected", "last_error_reference": False, "rate_limit_reset": False})
        self._post(_("Connected to %(bank)s.", bank=self.institution_id.name))
        choose = self._user_chooses_accounts()
        new_accounts = self._run_guarded(lambda: self._fetch_accounts(link_new=not choose), automatic=False)
        if choose and new_accounts:
            # The first sync waits for the user's choice of accounts and journals.
            self.sudo().account_choice_pending = True
            return self._action_choose_accounts(new_accounts)
        return self._notify_synchronized(self._fetch_transactions(), connected=True)

    def _action_after_connect(self):
        """Opened from Add a Bank Account: land on the new connection. From a
        journal's card or the connection itself: stay there (reloaded)."""
        if not self.env.context.get("online_sync_open_connection"):
            return None
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "views": [[False, "form"]],
            "target": "current",
        }

    # ------------------------------------------------------------------
    # Accounts
    # ------------------------------------------------------------------

    def _to_local(self, moment):
        """An aware datetime, or a naive one in UTC, seen in this connection's timezone."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
        return moment.astimezone(pytz.timezone(self.timezone or "UTC"))

    def _local_today(self):
        return self._to_local(fields.Datetime.now()).date()

    def _fetch_accounts(self, link_new=True):
        """Create or update the online accounts; with ``link_new``, link new
        ones to their journal (else the user chooses). Returns the accounts
        that were not known before."""
        self.ensure_one()
        self._lock_for_sync()
        client = self._get_client()
        bank_accounts = client.list_accounts(self._get_consent())
        Account = self.env["account.online.account"].sudo()
        new_accounts = Account
        for bank_account in bank_accounts:
            if not (isinstance(bank_account.identifier, str) and bank_account.identifier):
                raise providers.InvalidData(_("The bank sent an account without identifier."))
            account = self._find_online_account(bank_account)
            vals = {
                "name": bank_account.name,
                "online_identifier": bank_account.identifier,
                "stable_identifier": bank_account.stable_identifier or False,
                "account_number": bank_account.account_number,
                "currency_id": self._account_currency(bank_account.currency).id,
            }
            if account:
                account.sudo().write(vals)
            else:
                new_accounts |= Account.create(dict(vals, account_online_link_id=self.id))
        if link_new:
            for account in new_accounts:
                account._link_journal()
        return new_accounts.sudo(False)

    def _find_online_account(self, bank_account):
        """The online account ``bank_account`` is: by the aggregator's id, else,
        as a new consent may give the same account a new id, by the id the
        aggregator keeps across consents or by its number (IBAN)."""
        accounts = self.account_online_account_ids
        account = accounts.filtered(lambda a: a.online_identifier == bank_account.identifier)
        if not account and bank_account.stable_identifier:
            account = accounts.filtered(lambda a: a.stable_identifier == bank_account.stable_identifier)
        if not account and bank_account.account_number:
            number = sanitize_account_number(bank_account.account_number)
            account = accounts.filtered(
                lambda a: a.account_number and sanitize_account_number(a.account_number) == number
            )
        return account[:1]

    def _account_currency(self, code):
        """The currency of a bank account. Connecting an account in a currency
        the company does not use yet turns it on, and says so."""
        currency = self.env["account.online.account"]._get_currency(code)
        if not currency.active:
            currency.sudo().active = True
            self._post(_("%(currency)s was activated: %(bank)s has an account in it.",
                         currency=currency.name, bank=self.name))
        return currency

    # ------------------------------------------------------------------
    # Synchronization
    # ------------------------------------------------------------------

    def _fetch_transactions(self, automatic=False):
        """Import the posted transactions of every account linked to a journal.

        All or nothing: the imported statement lines, or, on any error, the
        books exactly as they were (``last_sync`` included, so the next run
        fetches the same window again) and the error told on the connection
        and its journals. In the scheduled action (``COMMIT_BATCHES``), each
        batch is kept once imported: the next run finds them and goes on.
        Returns the new statement lines, or None when the bank refused the
        refresh without it being an error.
        """
        self.ensure_one()
        if self.state == "disconnected":
            raise BankSyncError(
                _("%(name)s is not connected: click Reconnect first.", name=self.name), link_id=self.id,
                next_step=self._offered_step("reconnect"), title=_("%(bank)s Needs a New Consent", bank=self.name),
            )
        if self.rate_limit_reset and self.rate_limit_reset > fields.Datetime.now():
            # Asking again before the reset only spends the bank's quota.
            return None
        try:
            self._check_can_send_requests(commit=not automatic)
        except SyncBlocked:
            if automatic:
                return None  # told once, when it was blocked
            self._commit_if_allowed()
            raise
        return self._run_guarded(lambda: self._import_all(automatic), automatic=automatic)

    def _import_all(self, automatic):
        self._lock_for_sync()
        StatementLine = self.env["account.bank.statement.line"]
        accounts = self.account_online_account_ids.filtered("journal_ids")
        if not accounts:
            return StatementLine
        client = self._get_client()
        consent = self._get_consent()
        client.refresh(consent, automatic=automatic)
        lines = StatementLine
        commit_batch = (lambda: self._commit_batch(consent)) if self.env.context.get(COMMIT_BATCHES) else None
        unavailable = {}  # account -> the bank's refusal
        for account in accounts:
            try:
                with self._account_undone_on_error(commit_batch):
                    lines |= account._import_transactions(client, consent, commit_batch=commit_batch)
            except providers.AccountUnavailable as error:
                # One closed account must not hold back the others.
                unavailable[account] = error
        if len(unavailable) == len(accounts):
            raise providers.AccountUnavailable(
                _("%(bank)s no longer gives access to any account of this connection: the bank says they are "
                  "closed, deactivated or no longer shared with Odoo. If they are still open, click Reconnect and "
                  "share them again at the bank.", bank=self.name),
                detail="; ".join(dict.fromkeys(error.detail for error in unavailable.values() if error.detail)),
            )
        self._save_consent(consent)
        self.sudo().write({
            "state": "connected",
            "last_refresh": fields.Datetime.now(),
            "rate_limit_reset": False,
            "last_error_reference": False,
            "sync_requested": False,
            "auth_failure_count": 0,
        })
        self._tell_account_availability(accounts, unavailable)
        for account in accounts:
            if account not in unavailable:
                account._check_balance()
        return lines

    @contextmanager
    def _account_undone_on_error(self, commit_batch):
        """One account's import: on error, none of it kept, and what the
        accounts before it imported kept (when batches are committed, they
        are committed first: a rollback takes back this account alone)."""
        if not commit_batch:
            with self.env.cr.savepoint():
                yield
            return
        commit_batch()
        try:
            yield
        except providers.AccountUnavailable:
            self.env.cr.rollback()
            raise

    def _tell_account_availability(self, accounts, unavailable):
        """Tell once, on the connection and the account's journal, that the
        bank no longer gives an account (``unavailable``: account -> error),
        and once again when it gives it back."""
        for account in accounts:
            error = unavailable.get(account)
            journal = account.journal_ids
            if error and not account.unavailable_since:
                account.sudo().unavailable_since = self._local_today()
                if account.last_sync:
                    kept = _("%(journal)s keeps its transactions up to %(date)s", journal=journal.name,
                             date=format_date(self.env, account.last_sync))
                else:
                    kept = _("%(journal)s keeps its transactions", journal=journal.name)
                body = Markup("<p>%s</p>%s") % (
                    _("%(bank)s no longer gives access to %(account)s: the bank says the account is closed, "
                      "deactivated or no longer shared with Odoo. %(kept)s, and the other accounts of the "
                      "connection are synchronized as usual. If the account is still open, click Reconnect and "
                      "share it again at the bank. If it is closed, delete it from the connection's Bank "
                      "Accounts: its journal and its transactions stay.",
                      bank=self.name, account=account.name, kept=kept),
                    Markup("<ul><li>%s</li></ul>") % error.detail if error.detail else "",
                )
                self._post(body, journals=journal, subject=_("Bank account unavailable"))
                _logger.warning("Online synchronization of connection %s: account %s unavailable (%s)",
                                self.id, account.id, error.code)
            elif not error and account.unavailable_since:
                account.sudo().unavailable_since = False
                self._post(_("%(bank)s gives access to %(account)s again: its transactions are synchronized "
                             "again, from where they stopped.", bank=self.name, account=account.name),
                           journals=journal)

    def _run_guarded(self, work, automatic):
        """Run ``work``: its result, or, on any error, nothing of it kept (or,
        when batches are committed, nothing after the last one) and the error
        recorded where the user looks (None when the bank asked to wait: that
        is no error)."""
        try:
            with self._undo_on_error():
                result = work()
        except (SyncInProgress, SyncBlocked):
            raise
        except CONCURRENCY_ERRORS:
            # Another transaction changed the same rows: not the bank's fault.
            raise SyncInProgress(_(
                "%(name)s is being synchronized right now. Try again in a few minutes.", name=self.name,
            )) from None
        except providers.RateLimited as error:
            # Whichever call the bank refused: not an error, the same window comes again later.
            self._handle_rate_limit(error)
            return None
        except providers.ProviderError as error:
            return self._handle_error(error, automatic=automatic)
        except (UserError, ValidationError) as error:
            # Odoo refused to write (a journal without suspense account, a lock date...).
            return self._handle_error(providers.ProviderError(error.args[0]), automatic=automatic)
        except Exception as error:  # noqa: BLE001 - told with a reference, never a bare traceback
            _logger.exception("Online synchronization of connection %s failed", self.id)
            # The type only: an exception's text may quote what it was handling.
            return self._handle_error(
                providers.ProviderError(_("Unexpected error during the synchronization."),
                                        detail=type(error).__name__),
                automatic=automatic,
            )
        return result

    @contextmanager
    def _undo_on_error(self):
        """A savepoint; when batches are committed, the rollback of what the
        last commit did not keep."""
        if not self.env.context.get(COMMIT_BATCHES):
            with self.env.cr.savepoint():
                yield
            return
        try:
            yield
        except Exception:
            self.env.cr.rollback()
            raise

    def _commit_batch(self, consent):
        """What is imported so far is kept, with the consent the bank may have
        renewed meanwhile (a rotated token lost is a connection lost)."""
        self._save_consent(consent)
        self._commit_if_allowed()

    def _lock_for_sync(self):
        """One synchronization or account fetch of a connection at a time,
        across workers; held until the transaction ends."""
        if not self.env.context.get(COMMIT_BATCHES):
            # A user's synchronization holds the connection's row too: the
            # scheduled action, which takes only rows nobody holds, leaves it
            # alone instead of marking and claiming it meanwhile, writes that
            # would make this transaction fail at its end, its import undone.
            self.env.cr.execute("SELECT id FROM account_online_link WHERE id = %s FOR NO KEY UPDATE NOWAIT", [self.id])
        self.env.cr.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [SYNC_LOCK_KEY, self.id])
        if not self.env.cr.fetchone()[0]:
            raise SyncInProgress(_(
                "%(name)s is being synchronized right now. Try again in a few minutes.", name=self.name,
            ))

    @contextmanager
    def _locked_across_commits(self):
        """The same lock as ``_lock_for_sync``, held by the session until the
        block ends: a synchronization that commits its batches keeps it."""
        self.env.cr.execute("SELECT pg_try_advisory_lock(%s, %s)", [SYNC_LOCK_KEY, self.id])
        if not self.env.cr.fetchone()[0]:
            raise SyncInProgress(_(
                "%(name)s is being synchronized right now. Try again in a few minutes.", name=self.name,
            ))
        try:
            yield
        except Exception:
            # What was not committed goes; an aborted transaction could not release the lock.
            self.env.cr.rollback()
            raise
        finally:
            self.env.cr.execute("SELECT pg_advisory_unlock(%s, %s)", [SYNC_LOCK_KEY, self.id])

    @api.model
    def _cron_fetch_online_transactions(self):
        """The 12-hour run: every connection with automatic synchronization
        that no run took in the last half interval is due. The due ones are
        marked, and the second scheduled action is woken, so that two cron
        workers (or two Odoo servers) share them; this one works too.
        Connections in error are tried again (an outage heals); disconnected
        ones wait for the user, rate-limited ones for the bank's reset time."""
        if not self._sync_allowed_here():
            return
        cron = self.env.ref(CRON_XMLID).sudo()
        now = fields.Datetime.now()
        interval = now + relativedelta(**{cron.interval_type: cron.interval_number}) - now
        # Half an interval: a run that took long is no cause to skip the next one.
        taken_before = now - interval / 2
        try:
            due = self.search([
                *self._cron_domain(), ("sync_requested", "=", False),
                "|", ("scheduled_sync_started", "=", False), ("scheduled_sync_started", "<", taken_before),
            ]).try_lock_for_update(allow_referencing=True)
            if due:
                due.sudo().sync_requested = True
                self.env.ref(REQUESTED_CRON_XMLID).sudo()._trigger()
        except psycopg2.errors.SerializationFailure:
            # A notification marked one of them meanwhile: the next run marks the rest.
            self.env.cr.rollback()
        self._synchronize_requested()

    @api.model
    def _cron_sync_requested(self):
        """The connections marked due by the 12-hour run, or whose aggregator
        announced new transactions."""
        if self._sync_allowed_here():
            self._synchronize_requested()

    @api.model
    def _cron_domain(self):
        return [
            ("state", "in", ("connected", "error")), ("auto_sync", "=", True), ("blocked_reason", "=", False),
            "|", ("rate_limit_reset", "=", False), ("rate_limit_reset", "<=", fields.Datetime.now()),
        ]

    @api.model
    def _sync_allowed_here(self):
        try:
            self._check_database_allows_sync()
        except BankSyncError as error:
            _logger.info("Online synchronization skipped: %s", error.args[0])
            return False
        return True

    @api.model
    def _synchronize_requested(self):
        """Take the waiting connections one at a time, each committed before
        the next: one failing connection neither stops nor undoes the others.
        Time-boxed by Odoo's cron: when its time is up, the job stops and Odoo
        runs it again as soon as it can."""
        IrCron = self.env["ir.cron"]
        requested = [*self._cron_domain(), ("sync_requested", "=", True)]
        IrCron._commit_progress(remaining=self.search_count(requested))
        while link := self._claim(requested):
            link._synchronize_claimed()
            remaining = self.search_count(requested)
            if IrCron._commit_progress(1, remaining=remaining) <= 0 or not remaining:
                return
        # Nothing left that another worker is not taking right now.
        IrCron._commit_progress(remaining=0)

    @api.model
    def _claim(self, domain):
        """One connection of ``domain`` that no other worker holds, taken:
        its request cleared and committed, so that no other worker takes it
        again. An empty recordset when there is none."""
        for _attempt in range(3):
            try:
                link = self.search(domain, order="id").try_lock_for_update(allow_referencing=True, limit=1)
                if link:
                    link.sudo().write({"sync_requested": False, "scheduled_sync_started": fields.Datetime.now()})
                self._commit_if_allowed()
                return link
            except psycopg2.errors.SerializationFailure:
                # Another worker took it after this transaction began: look again.
                self.env.cr.rollback()
        return self.browse()

    def _synchronize_claimed(self):
        """Synchronize a connection taken by a scheduled action, committing
        each imported batch."""
        link = self.with_company(self.company_id).with_context(**{COMMIT_BATCHES: True})
        try:
            with link._locked_across_commits():
                link._fetch_transactions(automatic=True)
        except SyncInProgress:
            _logger.info("Online synchronization of connection %s skipped: already running", self.id)
        except Exception:  # noqa: BLE001 - even recording the error failed: go on with the others
            _logger.exception("Online synchronization of connection %s could not record its error", self.id)

    def _expiry_activities(self):
        return self.sudo().activity_ids.filtered(
            lambda activity: activity.activity_type_id == self.env.ref("mail.mail_activity_data_todo")
            and activity.summary and activity.summary.startswith(EXPIRY_SUMMARY_PREFIX)
        )

    @api.model
    def _cron_consent_expiry(self):
        """Once a day: remind the responsible of a consent that ends soon (15,
        3 and 1 days before), and disconnect the connections whose consent has
        ended, so that the dashboard and the form offer Reconnect."""
        links = self.search([("expiring_synchronization_date", "!=", False), ("state", "!=", "disconnected")])
        for link in links:
            link = link.with_company(link.company_id)
            days_left = (link.expiring_synchronization_date - link._local_today()).days
            if days_left < 0:
                link._handle_error(providers.ConsentExpired(_(
                    "The consent given to %(bank)s ended on %(date)s: click Reconnect to give a new one.",
                    bank=link.name, date=format_date(self.env, link.expiring_synchronization_date),
                )), automatic=True)
                continue
            due = [days for days in EXPIRY_REMINDER_DAYS if days_left <= days]
            if not due or (link.expiry_reminder_days and min(due) >= link.expiry_reminder_days):
                continue
            link._expiry_activities().unlink()
            link.sudo().activity_schedule(
                "mail.mail_activity_data_todo",
                date_deadline=link.expiring_synchronization_date,
                summary=_("%(prefix)s in %(days)s day(s)", prefix=EXPIRY_SUMMARY_PREFIX, days=days_left),
                note=_("The consent given to %(bank)s ends on %(date)s. Open the connection and click "
                       "Reconnect to renew it, or transactions stop coming.",
                       bank=link.name, date=format_date(self.env, link.expiring_synchronization_date)),
                user_id=(link.user_id or link.create_uid).id,
            )
            link.sudo().expiry_reminder_days = min(due)

    def _commit_if_allowed(self):
        # A test's own transaction must not be committed (the cursors a test
        # opens, as Odoo's cron does, only pretend to commit).
        test = modules.module.current_test
        if not (test and self.env.cr is getattr(test, "cr", None)):
            self.env.cr.commit()

    # ------------------------------------------------------------------
    # Messages and errors
    # ------------------------------------------------------------------

    def _post(self, body, journals=None, subject=None):
        """A message on the connection and on ``journals`` (default: all of
        its journals). Bookkeepers sync without the right to edit either."""
        self.sudo().message_post(body=body, subject=subject)
        for journal in (self.journal_ids if journals is None else journals).sudo():
            journal.message_post(body=body, subject=subject)

    def _rate_limit_message(self, reason=None):
        reset = self.rate_limit_reset
        parts = [_("%(bank)s does not accept a new refresh yet.", bank=self.name)]
        if reason:
            parts.append(reason)
        if reset:
            parts.append(_("Next refresh possible from %(when)s.",
                           when=format_datetime(self.env, reset, tz=self.timezone)))
        else:
            parts.append(_("Try again later."))
        return " ".join(parts)

    def _api_host(self):
        try:
            return self.provider_id._get_client().api_host()
        except Exception:  # noqa: BLE001 - only a hint in an error message
            return None

    def _handle_rate_limit(self, error):
        reset_at = error.reset_at
        if reset_at is not None:
            reset_at = reset_at.astimezone(dt.timezone.utc).replace(tzinfo=None)
        else:
            # The bank said no without saying until when: wait for the next run.
            reset_at = fields.Datetime.now() + dt.timedelta(hours=1)
        self.sudo().rate_limit_reset = reset_at
        self.sudo().message_post(body=self._rate_limit_message(error.message))

    def _handle_error(self, error, automatic):
        """Record what went wrong where the user looks (state, chatter of the
        connection and of its journals), with a reference for support.
        Manual calls then show the error; the cron goes on."""
        reference = f"{fields.Date.today():%Y%m%d}-{secrets.token_hex(4)}"
        vals = {"last_error_reference": reference}
        next_step = None
        title = _("Bank Synchronization Failed")
        if isinstance(error, providers.AutoSyncNotAllowed):
            # Not a broken connection: the bank only wants syncs a user starts.
            vals["auto_sync"] = False
            description = _(
                "%(bank)s does not allow automatic synchronization. Please disable automatic "
                "synchronization on this connection: it has been disabled, use Synchronize Now "
                "to fetch transactions.",
                bank=self.name,
            )
        else:
            if isinstance(error, (providers.ConsentExpired, providers.AuthenticationExpired)):
                vals["state"] = "disconnected"
                next_step = "reconnect"
                title = _("%(bank)s Needs a New Consent", bank=self.name)
            elif self.state != "disconnected":
                vals["state"] = "error"
            if isinstance(error, providers.AccountUnavailable):
                # Sharing the accounts again at the bank is the way out, when they are still open.
                next_step = "reconnect"
            if isinstance(error, providers.AuthenticationExpired):
                vals["auth_failure_count"] = self.auth_failure_count + 1
            description = error.message
            if isinstance(error, providers.ConsentExpired) and error.valid_until:
                description = _("%(description)s It was valid until %(date)s.", description=description,
                                date=format_datetime(self.env, error.valid_until.astimezone(dt.timezone.utc)
                                                     .replace(tzinfo=None), tz=self.env.user.tz or self.timezone))
            host = isinstance(error, providers.ProviderUnreachable) and self._api_host()
            if host:
                title = _("Aggregator Unreachable")
                description = _(
                    "%(description)s If Odoo reaches the internet through a firewall or a proxy, "
                    "it must let Odoo connect to %(host)s (HTTPS).",
                    description=description, host=host,
                )
        self.sudo().write(vals)
        body = Markup(
            "<p>%s</p><ul><li>%s</li><li>%s</li><li>%s</li>%s</ul>"
        ) % (
            description,
            _("Error reference: %s", reference),
            _("Client reference: %s", self.client_reference),
            _("Bank: %(bank)s (%(aggregator)s)", bank=self.institution_id.name or self.name,
              aggregator=self.provider_id.name),
            Markup("<li>%s</li>") % error.detail if error.detail else "",
        )
        self._post(body, subject=_("Bank synchronization failed"))
        if isinstance(error, providers.ConnectionSuspended) or (
            vals.get("auth_failure_count", 0) >= AUTH_FAILURES_BEFORE_BLOCK
        ):
            self._block("suspended" if isinstance(error, providers.ConnectionSuspended) else "authentication")
            next_step = "reactivate"
            title = _("Bank Connection Blocked")
            description = f"{description} {self._blocked_message()}"
        _logger.warning(
            "Online synchronization of connection %s: %s (reference %s)", self.id, error.code, reference,
        )
        if automatic:
            return None
        # Keep the state and the messages although the error undoes the request.
        self._commit_if_allowed()
        raise BankSyncError(description, reference=reference, link_id=self.id,
                            next_step=self._offered_step(next_step), title=title)
