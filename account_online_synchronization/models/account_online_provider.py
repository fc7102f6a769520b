# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import logging

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from .. import providers
from .account_online_link import REQUESTED_CRON_XMLID

_logger = logging.getLogger(__name__)

# Where aggregators push their notifications (controllers/main.py), + /<provider id>.
WEBHOOK_ROUTE = "/account_online_synchronization/webhook"
# Credentials are read and written by Settings administrators only; the
# synchronization reads them with sudo() and never logs them.
CREDENTIAL_GROUP = "base.group_system"
INSTITUTION_FIELDS = ("name", "country_ids", "bic", "logo_url", "is_beta", "history_days",
                      "auto_sync_allowed", "daily_refresh_limit", "active")


class AccountOnlineProvider(models.Model):
    _name = "account.online.provider"
    _description = "Bank Aggregator"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    code = fields.Selection(
        selection="_selection_code",
        required=True,
        help="The connector that talks to this aggregator.",
    )
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company",
        help="Leave empty to offer this aggregator to every company.",
    )
    environment = fields.Selection(
        [("sandbox", "Sandbox"), ("production", "Production")],
        required=True,
        default="production",
    )
    # The credentials are sent there: only who may read them may change it.
    api_base_url = fields.Char(
        string="API Base URL",
        groups=CREDENTIAL_GROUP,
        help="Leave empty to use the aggregator's own address. Set it to reach a proxy or an emulator.",
    )
    needs_credentials = fields.Boolean(compute="_compute_connector_traits")
    setup_token_label = fields.Char(compute="_compute_connector_traits")
    has_webhooks = fields.Boolean(compute="_compute_connector_traits")
    client_identifier = fields.Char(string="Client ID", groups=CREDENTIAL_GROUP, copy=False)
    client_secret = fields.Char(groups=CREDENTIAL_GROUP, copy=False)
    private_key = fields.Text(
        groups=CREDENTIAL_GROUP,
        copy=False,
        help="PEM private key, for aggregators that sign requests (Enable Banking).",
    )
    institution_ids = fields.One2many("account.online.institution", "provider_id", string="Banks")
    institution_count = fields.Integer(compute="_compute_institution_count")
    link_ids = fields.One2many("account.online.link", "provider_id", string="Connections")

    _code_company_uniq = models.UniqueIndex(
        "(code, COALESCE(company_id, 0))",
        "Each company configures an aggregator only once.",
    )

    def write(self, vals):
        if "code" in vals and not self.env.user.has_group(CREDENTIAL_GROUP):
            # Another connector would send this aggregator's credentials elsewhere.
            raise AccessError(_("Only Settings administrators change the connector of an aggregator."))
        return super().write(vals)

    @api.model
    def _selection_code(self):
        return [(code, cls.name) for code, cls in providers.PROVIDERS.items()]

    @api.depends("code")
    def _compute_connector_traits(self):
        for provider in self:
            connector = providers.get_provider_class(provider.code) if provider.code else None
            provider.needs_credentials = bool(connector and connector.needs_credentials)
            provider.setup_token_label = connector and connector.setup_token_label
            provider.has_webhooks = bool(connector and connector.has_webhooks)

    @api.depends("institution_ids")
    def _compute_institution_count(self):
        counts = dict(
            self.env["account.online.institution"]._read_group(
                [("provider_id", "in", self.ids)], ["provider_id"], ["__count"]
            )
        )
        for provider in self:
            provider.institution_count = counts.get(provider, 0)

    def _get_client(self):
        """The connector for this aggregator, configured from this record."""
        self.ensure_one()
        record = self.sudo()
        connector = providers.get_provider_class(record.code)
        config = providers.ProviderConfig(
            environment=record.environment,
            api_base_url=record.api_base_url or None,
            webhook_url=connector.has_webhooks and f"{self.get_base_url()}{WEBHOOK_ROUTE}/{record.id}" or None,
            credentials={
                "client_identifier": record.client_identifier or "",
                "client_secret": record.client_secret or "",
                "private_key": record.private_key or "",
            },
        )
        return connector(config)

    def _receive_notification(self, headers, body):
        """Act on a notification the aggregator pushed: new transactions are
        fetched soon (by the scheduled action, not in the request: the
        aggregator wants a quick answer); a login to renew is told. Raises a
        ProviderError when the notification is not the aggregator's."""
        self.ensure_one()
        event = self._get_client().parse_webhook(headers, body)
        if event is None or event.kind not in ("transactions", "login_required"):
            return
        links = self.env["account.online.link"].sudo().search([
            ("provider_id", "=", self.id), ("consent_identifier", "=", event.consent_identifier),
        ])
        if event.kind == "transactions":
            links = links.filtered(lambda link: link.auto_sync and link.state != "disconnected")
            if links:
                links.sync_requested = True
                self.env.ref(REQUESTED_CRON_XMLID).sudo()._trigger()
            return
        for link in links.filtered(lambda link: link.state != "disconnected"):
            link.with_company(link.company_id)._handle_error(providers.AuthenticationExpired(
                _("%(bank)s asks to log in again: click Update Credentials.", bank=link.name),
            ), automatic=True)

    def action_open_institutions(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "account_online_synchronization.action_account_online_institution",
        )
        action["domain"] = [("provider_id", "=", self.id)]
        action["context"] = {"default_provider_id": self.id}
        return action

    def action_sync_institutions(self):
        self._sync_institutions()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": _("The list of banks is up to date."),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    def _sync_institutions_if_possible(self):
        self.filtered(lambda p: not p.needs_credentials)._sync_institutions()

    def _sync_institutions(self):
        """Create or update the directory of banks from the aggregator, in
        batches: tens of thousands of banks cost a few queries, and only the
        banks that changed are written. Banks the aggregator no longer lists
        are archived, not deleted: connections may still point to them."""
        Institution = self.env["account.online.institution"].with_context(active_test=False)
        countries = {c.code: c.id for c in self.env["res.country"].search([])}
        for provider in self:
            try:
                listed = provider._get_client().list_institutions()
            except providers.ProviderError as error:
                raise UserError(_("%(provider)s did not send its list of banks: %(error)s",
                                  provider=provider.name, error=error.message)) from error
            wanted = {}
            for inst in listed:
                wanted.setdefault(inst.identifier, {
                    "name": inst.name,
                    "country_ids": sorted({countries[c] for c in inst.countries if c in countries}),
                    "bic": inst.bic or False,
                    "logo_url": inst.logo_url or False,
                    "is_beta": bool(inst.is_beta),
                    "history_days": inst.history_days,
                    "auto_sync_allowed": bool(inst.auto_sync_allowed),
                    "daily_refresh_limit": inst.daily_refresh_limit or 0,
                    "active": True,
                })
            existing = Institution.search_fetch([("provider_id", "=", provider.id)],
                                                ["identifier", *INSTITUTION_FIELDS])
            to_archive = Institution
            for record in existing:
                vals = wanted.pop(record.identifier, None)
                if vals is None:
                    to_archive |= record if record.active else Institution
                    continue
                changed = {
                    name: value for name, value in vals.items()
                    if (sorted(record[name].ids) if name == "country_ids" else record[name]) != value
                }
                if "country_ids" in changed:
                    changed["country_ids"] = [fields.Command.set(changed["country_ids"])]
                if changed:
                    record.write(changed)
            Institution.create([
                dict(vals, provider_id=provider.id, identifier=identifier,
                     country_ids=[fields.Command.set(vals["country_ids"])])
                for identifier, vals in wanted.items()
            ])
            to_archive.active = False
            _logger.info("%s: %d banks listed, %d new, %d archived",
                         provider.name, len(listed), len(wanted), len(to_archive))
