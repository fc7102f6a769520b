from . import account_online_account_choice
from . import account_online_account_choice_line
from . import account_online_connect_wizard
from . import account_online_link_reactivate
from . import account_online_oca_takeover
