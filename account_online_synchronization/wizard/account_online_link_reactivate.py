# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..models.account_online_link import FROM_DIALOG


class AccountOnlineLinkReactivate(models.TransientModel):
    """An administrator reactivates a blocked connection by confirming the
    phone number the company registered at its first bank connection."""

    _name = "account.online.link.reactivate"
    _description = "Reactivate a Bank Connection"

    link_id = fields.Many2one("account.online.link", string="Connection", required=True, readonly=True)
    blocked_reason = fields.Selection(related="link_id.blocked_reason")
    company_id = fields.Many2one(related="link_id.company_id")
    registered_phone_hint = fields.Char(string="Registered Number", readonly=True)
    phone = fields.Char(string="Phone Number", help="The company's phone number, as registered.")

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        link = self.env["account.online.link"].browse(self.env.context.get("online_sync_link_id")).exists()
        if link:
            values.update(link_id=link.id, registered_phone_hint=link.company_id._online_sync_masked_phone())
        return values

    def action_reactivate(self):
        self.ensure_one()
        link = self.link_id
        link._check_can_configure()
        company = link.company_id
        number = company._online_sync_normalize_phone(self.phone)
        registered = company.sudo().account_online_phone
        if registered and number != registered:
            raise UserError(_(
                "%(number)s is not the phone number %(company)s registered for bank synchronization.",
                number=self.phone, company=company.name,
            ))
        if not registered:
            # Registered before the number was asked: it is now.
            company.sudo().account_online_phone = number
        link._reactivate()
        link = link.with_context(**{FROM_DIALOG: True})
        return link._notify(_("%(bank)s is reactivated: synchronize it again.", bank=link.name), "success")
