# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from . import models
from . import wizard


def _post_init_load_institutions(env):
    """Fill the bank directory of the providers that need no credentials."""
    env["account.online.provider"].search([])._sync_institutions_if_possible()
