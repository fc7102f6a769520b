# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
# A server-wide module (--load): the server's Demo Bank becomes the busy one of
# bench/busy_bank.py, with BENCH_TRANSACTIONS transactions and BENCH_EXTRA
# new ones today.
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from busy_bank import BusyDemoBank  # noqa: E402

from odoo.addons.account_online_synchronization import providers  # noqa: E402

BusyDemoBank.count = int(os.environ.get("BENCH_TRANSACTIONS", "10"))
BusyDemoBank.extra = int(os.environ.get("BENCH_EXTRA", "0"))
providers.PROVIDERS["demo"] = BusyDemoBank
