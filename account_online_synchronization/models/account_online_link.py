# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime as dt
import logging
import secrets
import uuid

import psycopg2.errors
import pytz
from markupsafe import Markup

from odoo import _, api, fields, models, modules
from odoo.exceptions import UserError, ValidationError
from odoo.tools.misc import format_datetime

from .. import providers
from ..providers import base as provider_base

_logger = logging.getLogger(__name__)

CRON_XMLID = "account_online_synchronization.online_sync_cron"


def _tz_get(self):
    return self.env["res.partner"]._fields["tz"].selection(self)


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
    # Tokens and the provider's own state: Settings administrators only.
    provider_data = fields.Json(groups="base.group_system", copy=False)

    _client_reference_uniq = models.UniqueIndex("(client_reference)")

    # ------------------------------------------------------------------
    # Computes
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
        nextcall = cron.sudo().nextcall if cron and cron.sudo().active else False
        now = fields.Datetime.now()
        for link in self:
            planned = nextcall if link.auto_sync and link.state != "disconnected" else False
            reset = link.rate_limit_reset if link.rate_limit_reset and link.rate_limit_reset > now else False
            link.next_refresh = max(filter(None, (planned, reset)), default=False)

    @api.constrains("auto_sync", "institution_id")
    def _check_auto_sync_allowed(self):
        for link in self:
            if link.auto_sync and link.institution_id and not link.institution_id.auto_sync_allowed:
                raise ValidationError(_(
                    "%(bank)s does not allow automatic synchronization. Please disable automatic "
                    "synchronization and use Synchronize Now.",
                    bank=link.institution_id.name,
                ))

    # ------------------------------------------------------------------
    # Buttons
    # ------------------------------------------------------------------

    def action_connect(self):
        """Start the connection to the bank. Returns the next step as an
        action: a page of the bank, or, when the consent is granted at once
        (Demo Bank), the connection with its accounts fetched and synced."""
        self.ensure_one()
        return self._start_consent_flow()

    def action_reconnect(self):
        self.ensure_one()
        return self._start_consent_flow()

    def action_update_credentials(self):
        self.ensure_one()
        return self._start_consent_flow()

    def action_fetch_accounts(self):
        self.ensure_one()
        new_accounts = self._fetch_accounts()
        return self._notify(
            _("%(count)s new bank account(s) found.", count=len(new_accounts)),
            "success" if new_accounts else "info",
        )

    def action_fetch_transactions(self):
        self.ensure_one()
        lines = self._fetch_transactions()
        if lines is None:  # refused without error (rate limit): already explained
            return self._notify(
                _("%(bank)s does not accept a new refresh yet. Next refresh possible from %(when)s.",
                  bank=self.name, when=format_datetime(self.env, self.rate_limit_reset, tz=self.timezone)),
                "warning",
            )
        return self._notify(
            _("%(count)s transaction(s) imported.", count=len(lines.filtered("online_transaction_identifier"))),
            "success",
        )

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
        self.sudo().provider_data = {
            "consent": {
                "identifier": consent.identifier,
                "valid_until": consent.valid_until.isoformat() if consent.valid_until else None,
                "data": consent.data,
            }
        }
        self.expiring_synchronization_date = (
            consent.valid_until and self._to_local(consent.valid_until).date()
        )

    def _get_redirect_url(self):
        return self.get_base_url() + "/account_online_synchronization/callback"

    def _start_consent_flow(self):
        if not self.institution_id:
            raise UserError(_("Choose the bank to connect first."))
        client = self.provider_id._get_client()
        try:
            step = client.start_connect(
                self.institution_id.identifier, self._get_redirect_url(), self.client_reference,
            )
        except providers.ProviderError as error:
            return self._handle_provider_error(error, automatic=False)
        if step.redirect_url:
            return {"type": "ir.actions.act_url", "url": step.redirect_url, "target": "self"}
        return self._finish_consent_flow(step.consent)

    def _finish_consent_flow(self, consent):
        """The bank granted ``consent``: fetch the accounts, link them to
        journals and run the first synchronization."""
        self._save_consent(consent)
        self.write({"state": "connected", "last_error_reference": False})
        self.message_post(body=_("Connected to %(bank)s.", bank=self.institution_id.name))
        self._fetch_accounts()
        self._fetch_transactions()
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "current",
        }

    # ------------------------------------------------------------------
    # Synchronization
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
        client = self.provider_id._get_client()
        consent = self._get_consent()
        try:
            bank_accounts = client.list_accounts(consent)
        except providers.ProviderError as error:
            return self._handle_provider_error(error, automatic=False)
        Account = self.env["account.online.account"]
        new_accounts = Account
        for bank_account in bank_accounts:
            account = self.account_online_account_ids.filtered(
                lambda a, b=bank_account: a.online_identifier == b.identifier
            )[:1]
            if not account and bank_account.account_number:
                # A new consent may give the same account a new identifier.
                account = self.account_online_account_ids.filtered(
                    lambda a, b=bank_account: a.account_number == b.account_number
                )[:1]
            vals = {
                "name": bank_account.name,
                "online_identifier": bank_account.identifier,
                "account_number": bank_account.account_number,
                "currency_id": Account._get_currency(bank_account.currency).id,
            }
            if account:
                account.write(vals)
            else:
                new_accounts |= Account.create(dict(vals, account_online_link_id=self.id))
        for account in new_accounts:
            account._link_journal()
        return new_accounts

    def _fetch_transactions(self, automatic=False):
        """Import the posted transactions of every account linked to a journal.

        All or nothing: the imported statement lines, or, on any error, the
        books exactly as they were (``last_sync`` included, so the next run
        fetches the same window again). Returns the new statement lines, or
        None when the bank refused the refresh without it being an error.
        """
        self.ensure_one()
        StatementLine = self.env["account.bank.statement.line"]
        if self.state == "disconnected":
            raise UserError(_("%(name)s is not connected: click Reconnect first.", name=self.name))
        accounts = self.account_online_account_ids.filtered("journal_ids")
        if not accounts:
            return StatementLine
        self._lock_for_sync()
        client = self.provider_id._get_client()
        consent = self._get_consent()
        try:
            with self.env.cr.savepoint():
                client.refresh(consent, automatic=automatic)
                lines = StatementLine
                for account in accounts:
                    lines |= account._import_transactions(client, consent)
                self._save_consent(consent)
                self.write({
                    "state": "connected",
                    "last_refresh": fields.Datetime.now(),
                    "rate_limit_reset": False,
                    "last_error_reference": False,
                })
        except providers.RateLimited as error:
            self._handle_rate_limit(error)
            return None
        except providers.ProviderError as error:
            return self._handle_provider_error(error, automatic=automatic)
        return lines

    def _lock_for_sync(self):
        """One synchronization of a connection at a time, across workers."""
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(
                    "SELECT id FROM account_online_link WHERE id = %s FOR UPDATE NOWAIT", [self.id]
                )
        except psycopg2.errors.LockNotAvailable:
            raise UserError(_(
                "%(name)s is being synchronized right now. Try again in a few minutes.", name=self.name,
            )) from None

    @api.model
    def _cron_fetch_online_transactions(self):
        """Every connection with automatic synchronization, each in its own
        transaction: one failing connection neither stops nor undoes the others.
        Connections in error are tried again (an outage heals); disconnected
        ones wait for the user."""
        links = self.search([("state", "in", ("connected", "error")), ("auto_sync", "=", True)])
        for link in links:
            link = link.with_company(link.company_id)
            try:
                with self.env.cr.savepoint():
                    link._fetch_transactions(automatic=True)
            except UserError as error:
                _logger.info("Online synchronization of connection %s skipped: %s", link.id, error)
            except Exception as error:  # noqa: BLE001 - keep going with the other connections
                _logger.exception("Online synchronization of connection %s failed", link.id)
                link._handle_provider_error(
                    providers.ProviderError(_("Unexpected error during the synchronization."),
                                            detail=type(error).__name__),
                    automatic=True,
                )
            self._commit_if_allowed()

    def _commit_if_allowed(self):
        # Tests run in one transaction that must not be committed.
        if not modules.module.current_test:
            self.env.cr.commit()

    # ------------------------------------------------------------------
    # Errors
    # ------------------------------------------------------------------

    def _handle_rate_limit(self, error):
        reset_at = error.reset_at
        if reset_at is not None:
            reset_at = reset_at.astimezone(dt.timezone.utc).replace(tzinfo=None)
        self.rate_limit_reset = reset_at
        when = format_datetime(self.env, reset_at, tz=self.timezone) if reset_at else _("later")
        self.message_post(body=_(
            "%(bank)s refused a new refresh: %(reason)s Next refresh possible from %(when)s.",
            bank=self.name, reason=error.message, when=when,
        ))

    def _handle_provider_error(self, error, automatic):
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
        self.write(vals)
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
        subject = _("Bank synchronization failed")
        self.message_post(body=body, subject=subject)
        # Bookkeepers may sync without the right to edit journals.
        for journal in self.journal_ids.sudo():
            journal.message_post(body=body, subject=subject)
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
