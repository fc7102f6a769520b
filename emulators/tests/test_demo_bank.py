# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The built-in Demo Bank, without Odoo: a believable bank over the years."""
import datetime as dt

import pytest

from providers import ProviderConfig
from providers.demo import DEMO_ACCOUNTS, DemoBankProvider

UTC = dt.timezone.utc


def _balance_at(moment, institution, account):
    provider = DemoBankProvider(ProviderConfig(now=lambda: moment))
    step = provider.start_connect(institution, "https://odoo.example.com/callback", "state")
    return provider.get_balance(step.consent, f"{institution}-{account.key}").amount


@pytest.mark.parametrize("institution", sorted(DEMO_ACCOUNTS))
def test_balances_stay_believable_for_years(institution):
    """Never overdrawn, never piling up: every 43 days over five years."""
    for account in DEMO_ACCOUNTS[institution]:
        balances = [
            _balance_at(dt.datetime(2025, 1, 2, 12, tzinfo=UTC) + dt.timedelta(days=days), institution, account)
            for days in range(0, 5 * 365, 43)
        ]
        assert 0 < min(balances) and max(balances) < 3 * account.opening_balance, (
            f"{account.name}: from {min(balances)} to {max(balances)}")
