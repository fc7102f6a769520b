# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from . import test_sync_pipeline
from . import test_sync_errors
from . import test_nothing_lost
from . import test_bad_data
from . import test_security
from . import test_views
from . import test_online_sync_tour
from . import test_connect_flow
from . import test_bank_directory
from . import test_consent_expiry
from . import test_account_choice
from . import test_blocking
from . import test_large_import
from . import test_scheduled_sync
from . import test_oca_takeover
from . import test_bank_faults
