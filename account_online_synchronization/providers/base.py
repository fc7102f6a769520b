# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The provider interface: what every bank aggregator connector implements.

Plain Python, no ORM: the Odoo layer only talks to these classes and records,
so a new aggregator is one new module here and nothing else.
"""
from __future__ import annotations

import abc
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable, ClassVar

POSTED = "posted"
PENDING = "pending"


# --------------------------------------------------------------------------
# Typed records
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Institution:
    """A bank as the aggregator lists it."""

    identifier: str
    name: str
    countries: tuple[str, ...] = ()
    bic: str | None = None
    logo_url: str | None = None
    is_beta: bool = False
    history_days: int = 90
    auto_sync_allowed: bool = True
    daily_refresh_limit: int = 0  # 0: no limit
    max_consent_days: int | None = None  # the longest consent the bank grants; None: not told


@dataclass
class Consent:
    """One consent given by the bank's customer.

    ``data`` is the provider's own state (tokens, counters): opaque to Odoo,
    stored with the connection, handed back on every call, saved again only
    after a successful synchronization.
    """

    identifier: str
    valid_until: dt.datetime | None = None
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ConnectStep:
    """What follows a connection request: a page for the user, or a consent
    that is already granted (no user interaction needed).

    ``data`` is what the provider needs again to finish the connection (the
    aggregator's ids of the request): the Odoo layer keeps it with the
    connection and hands it back to ``finish_connect`` as
    ``callback_params["connect_data"]``."""

    redirect_url: str | None = None
    consent: Consent | None = None
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class BankAccount:
    identifier: str
    name: str
    currency: str
    account_number: str | None = None
    holder_name: str | None = None


@dataclass(frozen=True)
class Balance:
    """The booked balance: what posted transactions add up to."""

    amount: Decimal
    currency: str
    reference_date: dt.date | None = None


@dataclass(frozen=True)
class Transaction:
    """One bank transaction, signed as the bank account sees it (+ = money in).

    ``booked_at`` is an aware datetime when the bank gives one; the Odoo
    layer then turns it into a date in the company's timezone. Otherwise
    ``booking_date`` is taken as it is: a date is never shifted.
    """

    identifier: str | None
    status: str  # POSTED or PENDING
    amount: Decimal
    currency: str
    booking_date: dt.date
    booked_at: dt.datetime | None = None
    label: str = ""
    partner_name: str | None = None
    partner_account_number: str | None = None
    partner_information: str | None = None
    foreign_currency: str | None = None
    foreign_amount: Decimal | None = None
    pending_identifier: str | None = None  # the pending transaction this one settles

    @property
    def is_posted(self) -> bool:
        return self.status == POSTED


@dataclass(frozen=True)
class ProviderConfig:
    """What the Odoo layer hands to a provider."""

    environment: str = "production"
    api_base_url: str | None = None
    credentials: dict = field(default_factory=dict, repr=False)
    timeout: float = 30.0
    # Injected so that tests and demos control time.
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc)


# --------------------------------------------------------------------------
# Typed errors
# --------------------------------------------------------------------------

class ProviderError(Exception):
    """An aggregator refused or failed a request. ``detail`` is safe to show
    (never contains credentials)."""

    code = "provider_error"

    def __init__(self, message: str, detail: str | None = None):
        super().__init__(message)
        self.message = message
        self.detail = detail


class InvalidCredentials(ProviderError):
    """The aggregator refuses the application's own credentials (keys,
    secrets): an administrator must fix them, reconnecting the bank won't."""

    code = "invalid_credentials"


class AuthenticationExpired(ProviderError):
    """The login at the bank must be renewed by the user."""

    code = "authentication_expired"


class ConsentExpired(ProviderError):
    """The consent is over: the user has to connect the bank again."""

    code = "consent_expired"


class RateLimited(ProviderError):
    """Too many refreshes: the next one is possible at ``reset_at`` (UTC)."""

    code = "rate_limited"

    def __init__(self, message: str, reset_at: dt.datetime | None = None, detail: str | None = None):
        super().__init__(message, detail)
        self.reset_at = reset_at


class AutoSyncNotAllowed(ProviderError):
    """The bank only allows synchronizations the user starts."""

    code = "auto_sync_not_allowed"


class ProviderUnreachable(ProviderError):
    """Network error, timeout, 5xx or a reply that is not the API's."""

    code = "provider_unreachable"


class InvalidData(ProviderError):
    """The aggregator answered with data we cannot trust."""

    code = "invalid_data"


# --------------------------------------------------------------------------
# The interface
# --------------------------------------------------------------------------

class BankProvider(abc.ABC):
    code: ClassVar[str]
    name: ClassVar[str]
    needs_credentials: ClassVar[bool] = True

    def __init__(self, config: ProviderConfig):
        self.config = config

    def now(self) -> dt.datetime:
        return self.config.now()

    @abc.abstractmethod
    def list_institutions(self, country: str | None = None) -> list[Institution]:
        """The banks this aggregator offers, optionally in one country (ISO code)."""

    @abc.abstractmethod
    def start_connect(self, institution_id: str, redirect_url: str, state: str) -> ConnectStep:
        """Ask for a consent; ``state`` comes back with the user on ``redirect_url``.
        ``state`` must be new for each attempt (some aggregators refuse a reference
        used before)."""

    def finish_connect(self, institution_id: str, callback_params: dict) -> Consent:
        """Turn what the bank sent back to ``redirect_url`` into a consent.

        ``callback_params``: the query parameters of the return to ``redirect_url``,
        plus ``"connect_data"``: the ``data`` of the :class:`ConnectStep` that
        ``start_connect`` returned (an empty dict when it had none)."""
        raise NotImplementedError(f"{self.name} does not use a redirect flow")

    def refresh(self, consent: Consent, automatic: bool) -> None:
        """Called once before each synchronization. Raises
        :class:`AutoSyncNotAllowed` or :class:`RateLimited` when the bank
        refuses it."""

    @abc.abstractmethod
    def list_accounts(self, consent: Consent) -> list[BankAccount]:
        """The accounts the consent covers."""

    @abc.abstractmethod
    def get_balance(self, consent: Consent, account_id: str) -> Balance:
        """The account's booked balance today."""

    @abc.abstractmethod
    def get_transactions(
        self, consent: Consent, account_id: str, date_from: dt.date, date_to: dt.date
    ) -> list[Transaction]:
        """Posted and pending transactions booked between both dates (included)."""
