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
from urllib.parse import urlsplit

POSTED = "posted"
PENDING = "pending"


class _ListingRestarted:
    def __repr__(self):
        return "LISTING_RESTARTED"


#: Yielded by :meth:`BankProvider.iter_transaction_pages` in place of a page:
#: the aggregator's listing starts again from its first page, the pages
#: yielded before are to be forgotten.
LISTING_RESTARTED = _ListingRestarted()


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
    # Tokens and secrets: never in a repr (logs, tracebacks).
    data: dict = field(default_factory=dict, repr=False)


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
    """``identifier`` is what the aggregator calls the account in this consent;
    a new consent may give it another one. ``account_number`` (the IBAN where
    there is one) and ``stable_identifier`` (an id the aggregator keeps across
    consents, such as Enable Banking's ``identification_hash``) find it again."""

    identifier: str
    name: str
    currency: str
    account_number: str | None = None
    holder_name: str | None = None
    stable_identifier: str | None = None


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
class TransactionChanges:
    """What the bank reports for one account in one synchronization.

    ``added``: transactions that may be new (the Odoo layer skips those it
    already has): a list, or an iterator read once, as the aggregator's
    pages come (it may yield :data:`LISTING_RESTARTED`). ``modified``:
    transactions the bank changed since it sent them (same identifier).
    ``removed``: identifiers of transactions the bank withdrew (a pending
    one replaced by its posted one, a cancelled one).
    ``cursor``: where the next call resumes, for aggregators that report
    changes since a cursor (None for date windows); the Odoo layer keeps it
    only once the changes are imported."""

    added: list = field(default_factory=list)
    modified: list = field(default_factory=list)
    removed: list = field(default_factory=list)
    cursor: str | None = None


@dataclass(frozen=True)
class WebhookEvent:
    """A notification the aggregator pushed to Odoo, once verified.

    ``consent_identifier``: the consent it is about (``Consent.identifier``).
    ``kind``: ``"transactions"`` (new transactions are ready: synchronize
    soon), ``"login_required"`` (the user must renew the login at the bank)
    or ``"other"`` (nothing to do)."""

    consent_identifier: str
    kind: str


@dataclass(frozen=True)
class ProviderConfig:
    """What the Odoo layer hands to a provider."""

    environment: str = "production"
    api_base_url: str | None = None
    credentials: dict = field(default_factory=dict, repr=False)
    timeout: float = 30.0
    # Where the aggregator may push notifications (see BankProvider.parse_webhook); None: nowhere.
    webhook_url: str | None = None
    # Injected so that tests and demos control time.
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc)


def first_text(*values) -> str | None:
    """The first non-blank text among ``values``, stripped. Free texts (labels,
    names) of another type than text are left out, not refused."""
    return next((value.strip() for value in values if isinstance(value, str) and value.strip()), None)


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
    """The consent is over: the user has to connect the bank again.
    ``valid_until``: when it ended, when known (shown in the user's timezone)."""

    code = "consent_expired"

    def __init__(self, message: str, valid_until: dt.datetime | None = None, detail: str | None = None):
        super().__init__(message, detail)
        self.valid_until = valid_until


class ConnectionSuspended(ProviderError):
    """The aggregator or the bank suspended access for this connection (too
    many failed logins, suspected abuse): no request may leave for it until
    an administrator reactivates it."""

    code = "connection_suspended"


class AccountUnavailable(ProviderError):
    """The bank no longer gives one account of the consent (closed,
    deactivated, no longer shared): the consent and its other accounts are
    fine. Raised by the calls about that account only."""

    code = "account_unavailable"


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
    #: The aggregator reports changes since a cursor (:meth:`get_changes`)
    #: rather than the transactions of a date window.
    uses_cursor: ClassVar[bool] = False
    #: Set when the user connects by pasting a token the aggregator gave them
    #: (:meth:`connect_with_token`) instead of going to the bank's page: the
    #: label of that token, as the user knows it.
    setup_token_label: ClassVar[str | None] = None
    #: The aggregator pushes notifications (:meth:`parse_webhook`).
    has_webhooks: ClassVar[bool] = False
    #: Where the aggregator's API is when the configuration does not say.
    default_api_base_url: ClassVar[str | None] = None

    def __init__(self, config: ProviderConfig):
        self.config = config

    def now(self) -> dt.datetime:
        return self.config.now()

    def api_host(self) -> str | None:
        """The host Odoo must reach (what a firewall or proxy must let through)."""
        url = self.config.api_base_url or self.default_api_base_url
        return urlsplit(url).hostname if url else None

    @abc.abstractmethod
    def list_institutions(self, country: str | None = None) -> list[Institution]:
        """The banks this aggregator offers, optionally in one country (ISO code)."""

    @abc.abstractmethod
    def start_connect(
        self, institution_id: str, redirect_url: str, state: str, consent: Consent | None = None
    ) -> ConnectStep:
        """Ask for a consent. The user comes back to ``redirect_url`` with
        ``state`` among the query parameters (a connector whose aggregator
        does not carry it adds it to ``redirect_url`` itself). ``state`` is new
        for each attempt. ``consent``: the current one, when the user renews
        it (Reconnect, Update Credentials); aggregators with an update mode
        renew the login of that consent instead of making a new one."""

    def finish_connect(
        self, institution_id: str, callback_params: dict, consent: Consent | None = None
    ) -> Consent:
        """Turn what the bank sent back to ``redirect_url`` into a consent.

        ``callback_params``: the query parameters of the return to ``redirect_url``,
        plus ``"connect_data"``: the ``data`` of the :class:`ConnectStep` that
        ``start_connect`` returned (an empty dict when it had none).
        ``consent``: as given to ``start_connect``."""
        raise NotImplementedError(f"{self.name} does not use a redirect flow")

    def connect_with_token(self, institution_id: str, token: str) -> Consent:
        """Turn the token the user pasted into a consent (aggregators with a
        :attr:`setup_token_label`). A token is usually good for one claim:
        a second one raises :class:`ProviderError`."""
        raise NotImplementedError(f"{self.name} does not connect with a token")

    def parse_webhook(self, headers: dict, body: bytes) -> WebhookEvent | None:
        """Verify a notification pushed by the aggregator (``headers`` with
        lower-case names, the raw ``body``). Raises :class:`InvalidData` when
        it is not signed by the aggregator, or too old; None when it concerns
        nothing Odoo acts on."""
        raise NotImplementedError(f"{self.name} sends no notifications")

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

    def get_transactions(
        self, consent: Consent, account_id: str, date_from: dt.date, date_to: dt.date
    ) -> list[Transaction]:
        """Posted and pending transactions booked between both dates (included).
        Every connector without :attr:`uses_cursor` implements it or
        :meth:`iter_transaction_pages`."""
        if type(self).iter_transaction_pages is BankProvider.iter_transaction_pages:
            raise NotImplementedError(f"{self.name} reports changes since a cursor: use get_changes")
        transactions = []
        for page in self.iter_transaction_pages(consent, account_id, date_from, date_to):
            if page is LISTING_RESTARTED:
                transactions = []
            else:
                transactions += page
        return transactions

    def iter_transaction_pages(self, consent: Consent, account_id: str, date_from: dt.date, date_to: dt.date):
        """The transactions of :meth:`get_transactions`, a page at a time, as
        the aggregator sends them: only a page is held in memory. When the
        aggregator makes the listing start again, :data:`LISTING_RESTARTED`
        comes before its first page again."""
        yield self.get_transactions(consent, account_id, date_from, date_to)

    def get_changes(
        self, consent: Consent, account_id: str, cursor: str | None, date_from: dt.date, date_to: dt.date
    ) -> TransactionChanges:
        """What changed on the account: since ``cursor`` (None: from the start
        of the history) for :attr:`uses_cursor` connectors, else in the
        window from ``date_from`` to ``date_to``, where the bank tells
        nothing about modified or removed transactions (``added`` then
        streams the pages of :meth:`iter_transaction_pages`)."""
        pages = self.iter_transaction_pages(consent, account_id, date_from, date_to)
        return TransactionChanges(added=_page_by_page(pages))


def _page_by_page(pages):
    for page in pages:
        if page is LISTING_RESTARTED:
            yield page
        else:
            yield from page
