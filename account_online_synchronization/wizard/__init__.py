# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from . import account_online_connect_wizard
