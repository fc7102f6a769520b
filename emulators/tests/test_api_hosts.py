# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What a firewall must let through, as the error message of an unreachable
aggregator names it."""
import pytest

from providers import PROVIDERS, ProviderConfig


@pytest.mark.parametrize(("code", "environment", "host"), [
    ("enablebanking", "production", "api.enablebanking.com"),
    ("gocardless", "production", "bankaccountdata.gocardless.com"),
    ("plaid", "production", "production.plaid.com"),
    ("plaid", "sandbox", "sandbox.plaid.com"),
    ("simplefin", "production", "beta-bridge.simplefin.org"),
    ("demo", "sandbox", None),
])
def test_the_host_each_aggregator_is_reached_at(code, environment, host):
    assert PROVIDERS[code](ProviderConfig(environment=environment)).api_host() == host
    proxied = PROVIDERS[code](ProviderConfig(environment=environment, api_base_url="https://proxy.example.com/x"))
    assert proxied.api_host() == "proxy.example.com"
