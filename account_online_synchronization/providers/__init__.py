# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Bank aggregator connectors. No Odoo import here: see base.py."""
from .base import (  # noqa: F401
    LISTING_RESTARTED,
    PENDING,
    POSTED,
    AccountUnavailable,
    AuthenticationExpired,
    AutoSyncNotAllowed,
    Balance,
    BankAccount,
    BankProvider,
    ConnectStep,
    Consent,
    ConnectionSuspended,
    ConsentExpired,
    Institution,
    InvalidCredentials,
    InvalidData,
    ProviderConfig,
    ProviderError,
    ProviderUnreachable,
    RateLimited,
    Transaction,
    TransactionChanges,
    WebhookEvent,
)
from .demo import DemoBankProvider
from .enablebanking import EnableBankingProvider
from .gocardless import GoCardlessProvider
from .plaid import PlaidProvider
from .simplefin import SimpleFINProvider

# Provider code -> class. A new connector registers itself here.
PROVIDERS: dict[str, type[BankProvider]] = {
    provider.code: provider
    for provider in (DemoBankProvider, EnableBankingProvider, GoCardlessProvider, PlaidProvider,
                     SimpleFINProvider)
}


def get_provider_class(code: str) -> type[BankProvider]:
    try:
        return PROVIDERS[code]
    except KeyError:
        raise ValueError(f"Unknown bank provider {code!r}") from None
