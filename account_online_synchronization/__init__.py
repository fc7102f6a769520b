# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import Command

from . import controllers
from . import models
from . import wizard


def _post_init_load_institutions(env):
    """Fill the bank directory of the providers that need no credentials."""
    env["account.online.provider"].search([])._sync_institutions_if_possible()


def _uninstall_take_back_basic_accounting(env):
    """Take back what the addon gave Accounting Administrators, unless Odoo's
    own accounting app, which gives the same, stays installed."""
    if env["ir.module.module"].search_count([("name", "=", "account_accountant"), ("state", "=", "installed")]):
        return
    env.ref("account.group_account_manager").implied_ids = [
        Command.unlink(env.ref("account.group_account_basic").id),
    ]
