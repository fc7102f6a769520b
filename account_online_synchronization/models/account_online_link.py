# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime as dt
import logging
import secrets
import uuid

import psycopg2.errors
import pytz
from dateutil.relativedelta import relativedelta
from markupsafe import Markup

from odoo import _, api, fields, models, modules
from odoo.addons.base.models.res_bank import sanitize_account_number
from odoo.addons.base.models.res_partner import _tz_get
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools.misc import format_date, format_datetime

from .. import providers
from ..providers import base as provider_base

_logger = logging.getLogger(__name__)

CRON_XMLID = "account_online_synchronization.online_sync_cron"
# Where the bank sends the user back after the consent (controllers/main.py).
CALLBACK_ROUTE = "/account_online_synchronization/callback"
# First key of the PostgreSQL advisory lock that serializes the work on one
# connection (the second key is the connection's id).
SYNC_LOCK_KEY = 0x41_4F_53  # "AOS"
# Written by the synchronization only (with sudo), never by a user.
SYSTEM_FIELDS = frozenset({
    "state", "last_refresh", "rate_limit_reset", "expiring_synchronization_date",
    "client_reference", "last_error_reference", "provider_data", "consent_identifier", "sync_requested",
    "expiry_reminder_days",
})
# Days before the consent's end at which its responsible gets an activity to renew it.
EXPIRY_REMINDER_DAYS = (15, 3, 1)
EXPIRY_SUMMARY_PREFIX = "Bank consent ends"
# Errors of concurrent transactions: the run is retried, the connection is not broken.
CONCURRENCY_ERRORS = (psycopg2.errors.SerializationFailure, psycopg2.errors.LockNotAvailable,
                      psycopg2.errors.DeadlockDetected)


class SyncInProgress(UserError):
    """Another transaction works on the connection right now."""


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
        compute="_compute_provider_id", store=True, readonly=False, precompute=True, required=True,
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
        readonly=True, copy=False, help="The aggregator announced new transactions: synchronize soon.",
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
        self.ensure_one()
        self._check_can_configure()
        new_accounts = self._run_guarded(self._fetch_accounts, automatic=False)
        if new_accounts is None:
            return self._notify(self._rate_limit_message(), "warning")
        return self._notify(
            _("%(count)s new bank account(s) found.", count=len(new_accounts)),
            "success" if new_accounts else "info",
        )

    def action_fetch_transactions(self):
        self.ensure_one()
        self._check_can_synchronize()
        lines = self._fetch_transactions()
        if lines is None:  # refused without error (rate limit): already explained
            return self._notify(self._rate_limit_message(), "warning")
        imported = lines.filtered("online_transaction_identifier")
        return self._notify(self._import_summary(imported), "success" if imported else "info")

    def _import_summary(self, lines):
        """What a synchronization brought, named: the bank, then each account."""
        accounts = self.account_online_account_ids.filtered("journal_ids")
        per_account = ", ".join(
            f"{account.name}: {len(lines.filtered(lambda line, a=account: line.online_account_id == a))}"
            for account in accounts
        )
        return _("%(bank)s: %(count)s new transaction(s) (%(accounts)s).",
                 bank=self.name, count=len(lines), accounts=per_account)

    def action_open_journals(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Bank Journals"),
            "res_model": "account.journal",
            "view_mode": "list,form",
            "domain": [("id", "in", self.journal_ids.ids)],
        }

    def _notify(self, message, kind):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": kind,
                "message": message,
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

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
        self.sudo().write({
            "consent_identifier": consent.identifier,
            "provider_data": {
                "consent": {
                    "identifier": consent.identifier,
                    "valid_until": consent.valid_until.isoformat() if consent.valid_until else None,
                    "data": consent.data,
                },
            },
            "expiring_synchronization_date": consent.valid_until and self._to_local(consent.valid_until).date(),
            "expiry_reminder_days": 0,
        })
        # A new consent: the reminders of the old one are answered.
        self._expiry_activities().action_feedback(feedback=_("Consent renewed."))

    def _get_redirect_url(self):
        return self.get_base_url() + CALLBACK_ROUTE

    def _current_consent(self):
        """The consent to renew, or None when there is none (yet)."""
        return self._get_consent() if (self.sudo().provider_data or {}).get("consent") else None

    def _start_consent_flow(self, renew_login=False):
        if not self.institution_id:
            raise UserError(_("Choose the bank to connect first."))
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
        self._run_guarded(self._fetch_accounts, automatic=False)
        lines = self._fetch_transactions()
        if not self.env.context.get("online_sync_open_connection"):
            # A button of the connection itself: say what happened, stay on it.
            message = _("Connected to %(bank)s.", bank=self.name)
            if lines is not None:
                message = f"{message} {self._import_summary(lines.filtered('online_transaction_identifier'))}"
            return self._notify(message, "success")
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
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

    def _fetch_accounts(self):
        """Create or update the online accounts; link new ones to a journal.
        Returns the accounts that were not known before."""
        self.ensure_one()
        self._lock_for_sync()
        client = self.provider_id._get_client()
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
        and its journals. Returns the new statement lines, or None when the
        bank refused the refresh without it being an error.
        """
        self.ensure_one()
        if self.state == "disconnected":
            raise UserError(_("%(name)s is not connected: click Reconnect first.", name=self.name))
        if self.rate_limit_reset and self.rate_limit_reset > fields.Datetime.now():
            # Asking again before the reset only spends the bank's quota.
            return None
        return self._run_guarded(lambda: self._import_all(automatic), automatic=automatic)

    def _import_all(self, automatic):
        self._lock_for_sync()
        StatementLine = self.env["account.bank.statement.line"]
        accounts = self.account_online_account_ids.filtered("journal_ids")
        if not accounts:
            return StatementLine
        client = self.provider_id._get_client()
        consent = self._get_consent()
        client.refresh(consent, automatic=automatic)
        lines = StatementLine
        for account in accounts:
            lines |= account._import_transactions(client, consent)
        self._save_consent(consent)
        self.sudo().write({
            "state": "connected",
            "last_refresh": fields.Datetime.now(),
            "rate_limit_reset": False,
            "last_error_reference": False,
            "sync_requested": False,
        })
        for account in accounts:
            account._check_balance()
        return lines

    def _run_guarded(self, work, automatic):
        """Run ``work`` in a savepoint: its result, or, on any error, nothing
        of it kept and the error recorded where the user looks (None when the
        bank asked to wait: that is no error)."""
        try:
            with self.env.cr.savepoint():
                result = work()
        except SyncInProgress:
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

    def _lock_for_sync(self):
        """One synchronization or account fetch of a connection at a time,
        across workers; held until the transaction ends."""
        self.env.cr.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [SYNC_LOCK_KEY, self.id])
        if not self.env.cr.fetchone()[0]:
            raise SyncInProgress(_(
                "%(name)s is being synchronized right now. Try again in a few minutes.", name=self.name,
            ))

    @api.model
    def _cron_fetch_online_transactions(self):
        """Every connection with automatic synchronization, each in its own
        transaction: one failing connection neither stops nor undoes the others.
        Connections in error are tried again (an outage heals); disconnected
        ones wait for the user, rate-limited ones for the bank's reset time."""
        self._synchronize_in_cron(self.search(self._cron_domain()))

    @api.model
    def _cron_sync_requested(self):
        """The connections whose aggregator announced new transactions."""
        self._synchronize_in_cron(self.search([*self._cron_domain(), ("sync_requested", "=", True)]))

    @api.model
    def _cron_domain(self):
        return [
            ("state", "in", ("connected", "error")), ("auto_sync", "=", True),
            "|", ("rate_limit_reset", "=", False), ("rate_limit_reset", "<=", fields.Datetime.now()),
        ]

    @api.model
    def _synchronize_in_cron(self, links):
        for link in links:
            link = link.with_company(link.company_id)
            try:
                with self.env.cr.savepoint():
                    link._fetch_transactions(automatic=True)
            except SyncInProgress:
                _logger.info("Online synchronization of connection %s skipped: already running", link.id)
            except Exception:  # noqa: BLE001 - even recording the error failed: go on with the others
                _logger.exception("Online synchronization of connection %s could not record its error", link.id)
            self._commit_if_allowed()

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
        # Tests run in one transaction that must not be committed.
        if not modules.module.current_test:
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
            elif self.state != "disconnected":
                vals["state"] = "error"
            description = error.message
            host = isinstance(error, providers.ProviderUnreachable) and self._api_host()
            if host:
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
        _logger.warning(
            "Online synchronization of connection %s: %s (reference %s)", self.id, error.code, reference,
        )
        if automatic:
            return None
        # Keep the state and the messages although the error undoes the request.
        self._commit_if_allowed()
        raise UserError(_(
            "%(description)s\n\nReference: %(reference)s (connection %(client)s). "
            "Quote it if you contact support.",
            description=description, reference=reference, client=self.client_reference,
        ))
