# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models


class AccountOnlineConnectWizard(models.TransientModel):
    _name = "account.online.connect.wizard"
    _description = "Add a Bank Account"

    provider_id = fields.Many2one(
        "account.online.provider",
        string="Aggregator",
        required=True,
        default=lambda self: self._default_provider(),
    )
    institution_id = fields.Many2one(
        "account.online.institution",
        string="Bank",
        required=True,
        domain="[('provider_id', '=', provider_id)]",
    )

    @api.model
    def _default_provider(self):
        return self.env["account.online.provider"].search(
            [*self.env["account.online.provider"]._check_company_domain(self.env.company)], limit=1,
        )

    @api.onchange("provider_id")
    def _onchange_provider_id(self):
        if self.institution_id and self.institution_id.provider_id != self.provider_id:
            self.institution_id = False

    def action_connect(self):
        self.ensure_one()
        link = self.env["account.online.link"].create({
            "institution_id": self.institution_id.id,
            "company_id": self.env.company.id,
        })
        return link.action_connect()
