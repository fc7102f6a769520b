# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""19.0.1.1.0 compares, after each synchronization, the journal's balance
with the bank's (``balance_difference``). A journal synchronized before may
already differ from its bank: the comparison is made once now, and a
difference told on the connection and the journal, rather than after the
next synchronization."""
from odoo import SUPERUSER_ID, api


def migrate(cr, version):
    env = api.Environment(cr, SUPERUSER_ID, {})
    accounts = env["account.online.account"].search([("journal_ids", "!=", False), ("last_sync", "!=", False)])
    for account in accounts:
        account._check_balance()
