# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class AccountOnlineAccountChoiceLine(models.TransientModel):
    _name = "account.online.account.choice.line"
    _description = "Bank Account to Synchronize"

    choice_id = fields.Many2one("account.online.account.choice", required=True, ondelete="cascade")
    online_account_id = fields.Many2one("account.online.account", string="Bank Account", required=True,
                                        readonly=True)
    selected = fields.Boolean(string="Synchronize")
    name = fields.Char(related="online_account_id.name")
    account_number = fields.Char(related="online_account_id.account_number")
    currency_id = fields.Many2one(related="online_account_id.currency_id")
    company_id = fields.Many2one(related="online_account_id.company_id")
    # Offered although another connection feeds it: the same account, connected again.
    suggested_journal_id = fields.Many2one("account.journal", readonly=True)
    journal_id = fields.Many2one(
        "account.journal",
        string="Journal",
        check_company=True,
        domain="[('type', '=', 'bank'), '|', ('account_online_account_id', '=', False), "
        "('id', '=', suggested_journal_id)]",
        help="Leave it empty to create a new bank journal.",
    )
