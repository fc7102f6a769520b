# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from . import controllers
from . import models
from . import wizard

from .hooks import _post_init, _pre_init_set_aside_legacy_tables, _uninstall_take_back_basic_accounting
