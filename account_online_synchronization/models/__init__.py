# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from . import account_online_provider
from . import account_online_institution
from . import account_online_link
from . import account_online_consent_request
from . import account_online_account
from . import account_journal
from . import account_bank_statement_line
from . import res_company
