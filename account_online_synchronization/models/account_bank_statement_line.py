# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class AccountBankStatementLine(models.Model):
    _inherit = "account.bank.statement.line"

    online_transaction_identifier = fields.Char(
        string="Online Transaction ID",
        readonly=True,
        copy=False,
        help="The bank's identifier of this transaction: it is imported once per journal.",
    )
    online_partner_information = fields.Char(
        readonly=True,
        copy=False,
        help="The bank's key for the counterparty.",
    )
    online_account_id = fields.Many2one(
        "account.online.account",
        string="Online Bank Account",
        readonly=True,
        copy=False,
        index="btree_not_null",
        ondelete="set null",
        # Billing users read statement lines, not the bank connections.
        groups="account.group_account_readonly,account.group_account_basic",
    )

    # The database refuses a second import of a transaction into a journal,
    # whatever path the import takes.
    _online_transaction_identifier_uniq = models.UniqueIndex(
        "(journal_id, online_transaction_identifier) WHERE online_transaction_identifier IS NOT NULL",
        "This bank transaction is already imported in this journal.",
    )
