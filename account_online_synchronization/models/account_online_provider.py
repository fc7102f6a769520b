# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import logging

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from .. import providers

_logger = logging.getLogger(__name__)

# Credentials are read and written by Settings administrators only; the
# synchronization reads them with sudo() and never logs them.
CREDENTIAL_GROUP = "base.group_system"


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
    needs_credentials = fields.Boolean(compute="_compute_needs_credentials")
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
    def _compute_needs_credentials(self):
        for provider in self:
            provider.needs_credentials = bool(provider.code) and providers.get_provider_class(
                provider.code
            ).needs_credentials

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
        config = providers.ProviderConfig(
            environment=record.environment,
            api_base_url=record.api_base_url or None,
            credentials={
                "client_identifier": record.client_identifier or "",
                "client_secret": record.client_secret or "",
                "private_key": record.private_key or "",
            },
        )
        return providers.get_provider_class(record.code)(config)

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
        """Create or update the directory of banks from the aggregator.
        Banks the aggregator no longer lists are archived, not deleted:
        connections may still point to them."""
        Institution = self.env["account.online.institution"].with_context(active_test=False)
        countries = {c.code: c.id for c in self.env["res.country"].search([])}
        for provider in self:
            try:
                listed = provider._get_client().list_institutions()
            except providers.ProviderError as error:
                raise UserError(_("%(provider)s did not send its list of banks: %(error)s",
                                  provider=provider.name, error=error.message)) from error
            existing = {i.identifier: i for i in Institution.search([("provider_id", "=", provider.id)])}
            to_create = []
            for inst in listed:
                vals = {
                    "name": inst.name,
                    "country_ids": [fields.Command.set([countries[c] for c in inst.countries if c in countries])],
                    "bic": inst.bic,
                    "logo_url": inst.logo_url,
                    "is_beta": inst.is_beta,
                    "history_days": inst.history_days,
                    "auto_sync_allowed": inst.auto_sync_allowed,
                    "daily_refresh_limit": inst.daily_refresh_limit,
                    "active": True,
                }
                if inst.identifier in existing:
                    existing.pop(inst.identifier).write(vals)
                else:
                    to_create.append(dict(vals, provider_id=provider.id, identifier=inst.identifier))
            Institution.create(to_create)
            Institution.browse([i.id for i in existing.values()]).active = False
            _logger.info("%s: %d banks listed", provider.name, len(listed))
