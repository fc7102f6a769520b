# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import _, api, fields, models
from odoo.exceptions import UserError


class AccountOnlineConnectWizard(models.TransientModel):
    _name = "account.online.connect.wizard"
    _description = "Add a Bank Account"

    provider_id = fields.Many2one(
        "account.online.provider",
        string="Aggregator",
        required=True,
        compute="_compute_provider_id", store=True, readonly=False, precompute=True,
        domain="[('institution_ids', '!=', False)]",
    )
    institution_id = fields.Many2one(
        "account.online.institution",
        string="Bank",
        required=True,
        domain="[('provider_id', '=', provider_id)]",
    )
    # Reconnecting a connection of an aggregator that connects with a token.
    link_id = fields.Many2one("account.online.link", string="Connection")
    setup_token_label = fields.Char(related="provider_id.setup_token_label")
    setup_token = fields.Char(help="The token the aggregator gave you to connect Odoo: paste it as it is.")

    @api.model
    def _default_provider(self):
        # The first aggregator with banks to offer: the others are not configured yet.
        Provider = self.env["account.online.provider"]
        return Provider.search([
            *Provider._check_company_domain(self.env.company), ("institution_ids", "!=", False),
        ], limit=1)

    @api.depends("institution_id")
    def _compute_provider_id(self):
        for wizard in self:
            if wizard.institution_id:
                wizard.provider_id = wizard.institution_id.provider_id
            elif not wizard.provider_id:
                wizard.provider_id = self._default_provider()

    @api.onchange("provider_id")
    def _onchange_provider_id(self):
        if self.institution_id and self.institution_id.provider_id != self.provider_id:
            self.institution_id = False

    def action_connect(self):
        self.ensure_one()
        if self.setup_token_label and not (self.setup_token or "").strip():
            raise UserError(_("Paste the %(token)s first.", token=self.setup_token_label))
        if not self.link_id:
            # Kept by the wizard: a failed attempt (told and committed) is retried
            # on the same connection, not on a new one each time.
            self.link_id = self.env["account.online.link"].create({
                "institution_id": self.institution_id.id,
                "company_id": self.env.company.id,
            })
        # Opened from the wizard: the user lands on the new connection.
        link = self.link_id.with_context(online_sync_open_connection=True)
        if self.setup_token_label:
            return link._connect_with_token(self.setup_token)
        return link.action_connect()
