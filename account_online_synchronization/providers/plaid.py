# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Plaid (https://plaid.com/docs/api/), for banks in the United States and Canada.

Every call is a POST of JSON that carries the application's ``client_id`` and
``secret``. An *Item* is one login at one bank; it is read with its
``access_token``, which does not expire but may need the user again.

- ``start_connect`` creates a Link token for Hosted Link: Plaid's own page, at
  ``hosted_link_url``, where the user logs in at the bank chosen in Odoo; no
  Plaid script runs in Odoo's pages. Plaid sends the user back to
  ``completion_redirect_uri``: the redirect URL with ``state`` added (Plaid
  carries no state of its own). The Link token comes back to
  ``finish_connect`` through ``ConnectStep.data``.
- ``finish_connect`` reads the Link token's sessions (``/link/token/get``): a
  finished one holds a ``public_token``, exchanged once for the Item's
  ``access_token``. Given a consent (Update Credentials), Link runs in update
  mode on that Item: its login is renewed, there is nothing to exchange, and
  the consent stays the same.
- Transactions come from ``/transactions/sync``: what was added, modified or
  removed since a cursor. Asked per account (``options.account_id``), each
  account is its own stream with its own cursor. Pages are read until
  ``has_more`` is false; if the data changes meanwhile, Plaid refuses the next
  page and the whole reading starts again from the first cursor.
- Amounts are JSON numbers, positive when money leaves the account: they are
  read as Decimal straight from the JSON text (never a binary float), then
  negated. A pending transaction that posts is removed and its posted one added
  under a new id, naming the pending one in ``pending_transaction_id`` when
  Plaid can tell.
- Notifications are signed: a JWT (ES256) in the ``Plaid-Verification``
  header, whose public key ``/webhook_verification_key/get`` gives, holds the
  SHA-256 of the body and the time it was issued.

The calls that only read are retried on 5xx and connection errors (they are
POSTs, but change nothing); ``/link/token/create`` and
``/item/public_token/exchange`` are sent once. A 4xx or a 429 is never retried.

Needs PyJWT with cryptography (webhook signatures).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import re
from decimal import Decimal
from urllib.parse import urlsplit

import jwt
import requests
from jwt.algorithms import ECAlgorithm

from .base import (
    PENDING,
    POSTED,
    AccountUnavailable,
    AuthenticationExpired,
    Balance,
    BankAccount,
    BankProvider,
    ConnectStep,
    ConnectionSuspended,
    Consent,
    ConsentExpired,
    Institution,
    InvalidCredentials,
    InvalidData,
    ProviderError,
    ProviderUnreachable,
    RateLimited,
    Transaction,
    TransactionChanges,
    WebhookEvent,
    first_text,
)
from .http import non_retrying_adapter, retry_after, retrying_session, with_query

_logger = logging.getLogger(__name__)

BASE_URLS = {"sandbox": "https://sandbox.plaid.com"}
PRODUCTION_BASE_URL = "https://production.plaid.com"
DEFAULT_COUNTRIES = ("US", "CA")
PRODUCTS = ("transactions",)
HISTORY_DAYS = 730  # the most Plaid asks the bank for
CLIENT_NAME = "Odoo"  # shown to the user in Link
LANGUAGE = "en"
# The calls that create something: never sent twice.
WRITE_PATHS = ("/link/token/create", "/item/public_token/exchange")
MAX_RETRY_AFTER = 10.0  # seconds a retried 503 may make us wait: a synchronization must not hang
MAX_PAGES = 1000
WEBHOOK_MAX_AGE = dt.timedelta(minutes=5)  # Plaid's own advice
WEBHOOK_MAX_AHEAD = dt.timedelta(minutes=5)  # clocks drift, but not by more
# Errors the user fixes by logging in again through Link's update mode.
LOGIN_REQUIRED_CODES = frozenset({
    "ITEM_LOGIN_REQUIRED", "INVALID_CREDENTIALS", "INVALID_MFA", "INVALID_UPDATED_USERNAME",
    "USER_SETUP_REQUIRED", "INSUFFICIENT_CREDENTIALS",
})
# The Item is gone or its access withdrawn: only a new connection helps.
CONSENT_OVER_CODES = frozenset({
    "INVALID_ACCESS_TOKEN", "ITEM_NOT_FOUND", "ACCESS_NOT_GRANTED", "USER_PERMISSION_REVOKED",
    "USER_ACCOUNT_REVOKED",
})
APPLICATION_CODES = frozenset({"INVALID_API_KEYS", "UNAUTHORIZED_ENVIRONMENT"})
UNAVAILABLE_CODES = frozenset({
    "INSTITUTION_DOWN", "INSTITUTION_NOT_RESPONDING", "INSTITUTION_NOT_AVAILABLE", "PRODUCT_NOT_READY",
    "PLANNED_MAINTENANCE", "INTERNAL_SERVER_ERROR",
})
MUTATION_DURING_PAGINATION = "TRANSACTIONS_SYNC_MUTATION_DURING_PAGINATION"
LOGIN_REQUIRED_WEBHOOK_CODES = frozenset({"PENDING_EXPIRATION", "PENDING_DISCONNECT"})
# Plaid's ``current`` of these is what is owed: positive when the customer owes.
OWED_BALANCE_TYPES = frozenset({"credit", "loan"})
# Holdings, not bank accounts: /transactions/sync reports nothing for them.
SKIPPED_ACCOUNT_TYPES = frozenset({"investment", "brokerage"})
# Plaid's tokens are ``<kind>-<environment>-<uuid>``: hidden wherever a server echoes one.
TOKEN_RE = re.compile(r"\b(?:access|public|link)-(?:sandbox|development|production)-[0-9A-Za-z-]+")
_NOT_JSON = object()


class _MutationDuringPagination(ProviderError):
    """The transactions changed between two pages: read them again from the first cursor."""


def _untrusted(detail: str) -> InvalidData:
    return InvalidData("Plaid sent data that cannot be trusted.", detail=detail[:300])


def _refuse_constant(name: str):
    """NaN and Infinity are no JSON, and no amount."""
    raise _untrusted(f"the answer holds {name}, which is not a number")


def _required(obj, key: str, kind, where: str):
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise _untrusted(f"{where}.{key} is missing or not of the expected type")
    return value


def _optional(obj, key: str, kind, where: str):
    """None when absent or null, else the value, of the right type."""
    if not isinstance(obj, dict) or obj.get(key) is None:
        return None
    return _required(obj, key, kind, where)


def _identifier(obj, key: str, where: str) -> str:
    value = _required(obj, key, str, where).strip()
    if not value:
        raise _untrusted(f"{where}.{key} is blank")
    return value


def _decimal(obj, key: str, where: str, required: bool = True) -> Decimal | None:
    """A JSON number as parsed with ``parse_float=Decimal`` (integers come as int)."""
    value = obj.get(key) if isinstance(obj, dict) else None
    if value is None and not required:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, Decimal) and value.is_finite():
        return value
    raise _untrusted(f"{where}.{key} is missing or not a number")


def _negated(value: Decimal) -> Decimal:
    """``-value`` without the context's rounding, and never "-0"."""
    result = value.copy_negate()
    return result.copy_abs() if result == 0 else result


def _date(obj, key: str, where: str) -> dt.date:
    text = _required(obj, key, str, where)
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise _untrusted(f"{where}.{key} is not a date: {text[:40]!r}") from None


def _moment(obj, key: str, where: str) -> dt.datetime | None:
    """An aware date-time, or None: one without offset tells no moment."""
    text = _optional(obj, key, str, where)
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _untrusted(f"{where}.{key} is not a date-time: {text[:40]!r}") from None
    return moment if moment.tzinfo is not None else None


def _currency(obj, where: str) -> str:
    """The ISO code, else Plaid's unofficial one (crypto, some currencies without ISO code)."""
    code = (_optional(obj, "iso_currency_code", str, where)
            or _optional(obj, "unofficial_currency_code", str, where))
    if not code or not code.strip():
        raise _untrusted(f"{where} has no currency")
    return code.strip().upper()



class PlaidProvider(BankProvider):
    code = "plaid"
    name = "Plaid"
    needs_credentials = True
    uses_cursor = True
    has_webhooks = True

    # Class attributes so that tests can make retries instant and pages small.
    RETRY_ATTEMPTS = 3
    RETRY_BACKOFF = 0.5  # seconds, doubled at each attempt
    SYNC_PAGE_SIZE = 500  # Plaid's maximum
    INSTITUTIONS_PAGE_SIZE = 500  # Plaid's maximum
    MAX_SYNC_RESTARTS = 3

    def __init__(self, config):
        super().__init__(config)
        self._session: requests.Session | None = None
        # One client is one synchronization: the accounts read once serve the balances.
        self._accounts: dict[str, dict[str, dict]] = {}  # access token -> account id -> Plaid's account
        self._webhook_keys: dict[str, tuple] = {}  # kid -> (public key, expired_at or None)
        self._tokens: set[str] = set()  # every token seen, hidden from messages and logs

    # ------------------------------------------------------------------
    # HTTP
    # ------------------------------------------------------------------

    def api_host(self) -> str | None:
        return urlsplit(self.base_url).hostname

    @property
    def base_url(self) -> str:
        default = BASE_URLS.get(self.config.environment, PRODUCTION_BASE_URL)
        return (self.config.api_base_url or default).rstrip("/")

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            session = retrying_session(self.RETRY_ATTEMPTS, self.RETRY_BACKOFF, MAX_RETRY_AFTER,
                                       methods=frozenset({"POST"}))
            for path in WRITE_PATHS:
                session.mount(self.base_url + path, non_retrying_adapter())
            self._session = session
        return self._session

    def _keys(self) -> tuple[str, str]:
        credentials = self.config.credentials or {}
        client_id, secret = credentials.get("client_identifier"), credentials.get("client_secret")
        if not (isinstance(client_id, str) and client_id.strip() and isinstance(secret, str) and secret.strip()):
            raise InvalidCredentials(
                "Plaid needs the client id and the secret of your Plaid account (Dashboard, Keys): "
                "an administrator enters them on the aggregator."
            )
        return client_id.strip(), secret.strip()

    def _mask(self, text: str) -> str:
        """``text`` without the keys or any token, and short."""
        credentials = self.config.credentials or {}
        hidden = {credentials.get("client_identifier"), credentials.get("client_secret"), *self._tokens}
        for secret in sorted((s.strip() for s in hidden if isinstance(s, str) and len(s.strip()) >= 4),
                             key=len, reverse=True):
            text = text.replace(secret, "***")
        return TOKEN_RE.sub("***", text)[:500]

    def _remember(self, *tokens) -> None:
        self._tokens.update(token for token in tokens if isinstance(token, str) and token)

    def _call(self, path: str, payload: dict) -> dict:
        """The JSON object of a 2xx answer, or a typed error."""
        client_id, secret = self._keys()
        try:
            response = self.session.post(
                self.base_url + path, json={"client_id": client_id, "secret": secret, **payload},
                timeout=self.config.timeout, allow_redirects=False,
            )
        except requests.Timeout:
            raise ProviderUnreachable(f"Plaid did not answer within {self.config.timeout:g} seconds.",
                                      detail=path) from None
        except requests.RequestException as error:
            # The exception may quote the request: only its type is told.
            raise ProviderUnreachable("Plaid could not be reached.", detail=f"{path}: {type(error).__name__}") from None
        try:
            reply = json.loads(response.content.decode("utf-8"), parse_float=Decimal,
                               parse_constant=_refuse_constant)
        except (ValueError, UnicodeDecodeError):
            reply = _NOT_JSON  # an HTML page, a proxy's answer, a body cut short
        request_id = reply.get("request_id") if isinstance(reply, dict) else None
        _logger.debug("Plaid %s: HTTP %s, request %s", path, response.status_code,
                      self._mask(str(request_id)) if request_id else "-")
        if 200 <= response.status_code < 300:
            if reply is _NOT_JSON:
                raise ProviderUnreachable("Plaid answered with something that is not its API's JSON.",
                                          detail=f"{path}: HTTP {response.status_code}, "
                                                 f"{response.headers.get('Content-Type', '?')}")
            if not isinstance(reply, dict):
                raise _untrusted(f"{path}: the answer is not a JSON object")
            return reply
        self._raise_for_error(path, response, reply)

    def _raise_for_error(self, path: str, response: requests.Response, reply) -> None:
        status = response.status_code
        error = reply if isinstance(reply, dict) else {}

        def told(key: str) -> str | None:
            return error[key] if isinstance(error.get(key), str) else None

        error_type, error_code, request_id = told("error_type"), told("error_code"), told("request_id")
        message, display = told("error_message"), told("display_message")
        detail = self._mask(f"{path}: HTTP {status} {error_type or '-'}/{error_code or '-'}, "
                            f"request {request_id or '-'}: {(message or '')[:200]}".strip())
        if reply is _NOT_JSON:
            raise ProviderUnreachable("Plaid answered with something that is not its API's JSON.", detail=detail)
        if status == 429 or error_type == "RATE_LIMIT_EXCEEDED":
            raise RateLimited("Plaid refuses more requests for now: the synchronization will be retried later.",
                              reset_at=retry_after(response, self.now()), detail=detail)
        if error_code == "ITEM_LOCKED":
            raise ConnectionSuspended(
                "The bank locked the account after too many failed logins: unlock it with the bank first.",
                detail=detail)
        if error_code in LOGIN_REQUIRED_CODES:
            raise AuthenticationExpired(
                "The login at the bank must be renewed: use Update Credentials to log in again through Plaid.",
                detail=detail)
        if error_code in CONSENT_OVER_CODES:
            raise ConsentExpired("The access given to Plaid has ended or was withdrawn: connect the bank again.",
                                 detail=detail)
        if error_code in APPLICATION_CODES:
            raise InvalidCredentials(
                "Plaid refused the client id and secret: an administrator must check them, and that they are "
                "the keys of this environment (sandbox or production).", detail=detail)
        if status >= 500 or error_type == "API_ERROR" or error_code in UNAVAILABLE_CODES:
            raise ProviderUnreachable("Plaid or the bank is not available right now: try again later.",
                                      detail=detail)
        if error_code == MUTATION_DURING_PAGINATION:
            raise _MutationDuringPagination("Plaid's transactions changed while they were read.", detail=detail)
        reason = display or error_code or f"HTTP {status}"
        raise ProviderError(self._mask(f"Plaid refused the request: {reason}")[:300], detail=detail)


    # ------------------------------------------------------------------
    # Institutions and connection
    # ------------------------------------------------------------------

    @staticmethod
    def _institution(raw, where: str) -> Institution:
        countries = _required(raw, "country_codes", list, where)
        if not all(isinstance(code, str) for code in countries):
            raise _untrusted(f"{where}.country_codes holds something else than texts")
        logo = _optional(raw, "logo", str, where)
        return Institution(
            identifier=_identifier(raw, "institution_id", where),
            name=_identifier(raw, "name", where),
            countries=tuple(code.upper() for code in countries),
            bic=None,
            logo_url=f"data:image/png;base64,{logo.strip()}" if logo and logo.strip() else None,
            history_days=HISTORY_DAYS,
        )

    def list_institutions(self, country=None):
        """Every bank offering transactions, ``INSTITUTIONS_PAGE_SIZE`` a call
        (Plaid lists thousands)."""
        countries = [country.upper()] if country else list(DEFAULT_COUNTRIES)
        listed: dict[str, Institution] = {}
        offset = 0
        for _page in range(MAX_PAGES):
            body = self._call("/institutions/get", {
                "count": self.INSTITUTIONS_PAGE_SIZE, "offset": offset, "country_codes": countries,
                "options": {"products": list(PRODUCTS), "include_optional_metadata": True},
            })
            entries = _required(body, "institutions", list, "institutions/get")
            total = _required(body, "total", int, "institutions/get")
            for index, raw in enumerate(entries):
                try:
                    inst = self._institution(raw, f"institutions[{offset + index}]")
                except InvalidData as error:
                    # One broken entry must not hide thousands of banks.
                    _logger.warning("Plaid: a bank of the list is skipped: %s", error.detail)
                    continue
                listed.setdefault(inst.identifier, inst)
            offset += len(entries)
            if not entries or offset >= total:
                return list(listed.values())
        raise _untrusted(f"more than {MAX_PAGES} pages of banks")

    def start_connect(self, institution_id, redirect_url, state, consent=None):
        body = self._call("/institutions/get_by_id", {
            "institution_id": institution_id, "country_codes": list(DEFAULT_COUNTRIES)})
        inst = self._institution(_required(body, "institution", dict, "institutions/get_by_id"), "institution")
        payload = {
            "client_name": CLIENT_NAME,
            "language": LANGUAGE,
            "country_codes": list(inst.countries) or list(DEFAULT_COUNTRIES),
            # Plaid wants a stable id of the end user but nothing that identifies them:
            # a digest of this attempt's state is enough.
            "user": {"client_user_id": "odoo-" + hashlib.sha256(state.encode()).hexdigest()[:32]},
            "institution_id": inst.identifier,
            "hosted_link": {"completion_redirect_uri": with_query(redirect_url, state=state)},
        }
        if consent is not None:
            # Update mode: the same Item logs in again; products are those it has.
            payload["access_token"] = self._access_token(consent)
        else:
            payload["products"] = list(PRODUCTS)
            payload["transactions"] = {"days_requested": HISTORY_DAYS}
        if self.config.webhook_url:
            payload["webhook"] = self.config.webhook_url
        body = self._call("/link/token/create", payload)
        link_token = _identifier(body, "link_token", "link/token/create")
        self._remember(link_token)
        url = _required(body, "hosted_link_url", str, "link/token/create")
        if not url.startswith(("https://", "http://")):
            raise _untrusted("link/token/create: hosted_link_url is not a web address")
        return ConnectStep(redirect_url=url, data={"link_token": link_token})

    def finish_connect(self, institution_id, callback_params, consent=None):
        link_token = (callback_params.get("connect_data") or {}).get("link_token")
        if not (isinstance(link_token, str) and link_token):
            raise ProviderError("This return from Plaid matches no connection request: connect again.")
        self._remember(link_token)
        public_token = self._public_token(self._call("/link/token/get", {"link_token": link_token}))
        if public_token is None:
            raise ProviderError("The connection was not completed at the bank: connect again and follow it "
                                "to the end.", detail="no finished Link session")
        self._remember(public_token)
        if consent is not None:
            # Update mode: the Item keeps its access token; its login is renewed.
            consent.valid_until = self._consent_expiration(self._access_token(consent)) or consent.valid_until
            return consent
        body = self._call("/item/public_token/exchange", {"public_token": public_token})
        access_token = _identifier(body, "access_token", "item/public_token/exchange")
        self._remember(access_token)
        return Consent(
            identifier=_identifier(body, "item_id", "item/public_token/exchange"),
            valid_until=self._consent_expiration(access_token),
            data={"access_token": access_token, "institution_id": institution_id},
        )

    @staticmethod
    def _public_token(body) -> str | None:
        """The public token of the last finished Link session, if any."""
        sessions = _optional(body, "link_sessions", list, "link/token/get") or []
        found = None
        for index, session in enumerate(sessions):
            where = f"link_sessions[{index}]"
            results = _optional(session, "results", dict, where) or {}
            for n, result in enumerate(_optional(results, "item_add_results", list, where) or []):
                found = _optional(result, "public_token", str, f"{where}.item_add_results[{n}]") or found
            # Older integrations get the deprecated ``on_success`` instead.
            on_success = _optional(session, "on_success", dict, where)
            found = _optional(on_success, "public_token", str, f"{where}.on_success") or found
        return found

    def _consent_expiration(self, access_token: str) -> dt.datetime | None:
        """When the bank's consent ends (European and some OAuth banks); None: not told."""
        item = _required(self._call("/item/get", {"access_token": access_token}), "item", dict, "item/get")
        return _moment(item, "consent_expiration_time", "item")

    def _access_token(self, consent: Consent) -> str:
        token = (consent.data or {}).get("access_token")
        if not (isinstance(token, str) and token):
            raise ConsentExpired("This connection holds no Plaid access: connect the bank again.")
        self._remember(token)
        return token

    # ------------------------------------------------------------------
    # Accounts and balances
    # ------------------------------------------------------------------

    def _read_accounts(self, consent: Consent) -> dict[str, dict]:
        token = self._access_token(consent)
        body = self._call("/accounts/get", {"access_token": token})
        accounts = {}
        for index, raw in enumerate(_required(body, "accounts", list, "accounts/get")):
            where = f"accounts[{index}]"
            _required(raw, "balances", dict, where)
            if _required(raw, "type", str, where) in SKIPPED_ACCOUNT_TYPES:
                continue
            accounts[_identifier(raw, "account_id", where)] = raw
        self._accounts[token] = accounts
        return accounts

    def list_accounts(self, consent):
        accounts = []
        for account_id, raw in self._read_accounts(consent).items():
            where = f"account {account_id}"
            base = first_text(raw.get("official_name"), raw.get("name")) or account_id
            mask = first_text(raw.get("mask"))
            accounts.append(BankAccount(
                identifier=account_id,
                name=f"{base} ••{mask}" if mask else base,
                currency=_currency(raw["balances"], f"{where}.balances"),
                account_number=None,  # Plaid gives only the mask (the full number needs Auth)
                # Plaid keeps it across Items, at banks with tokenized account numbers.
                stable_identifier=first_text(_optional(raw, "persistent_account_id", str, where)),
            ))
        return accounts

    def get_balance(self, consent, account_id):
        accounts = self._accounts.get(self._access_token(consent))
        if accounts is None or account_id not in accounts:
            accounts = self._read_accounts(consent)
        raw = accounts.get(account_id)
        if raw is None:
            raise AccountUnavailable("Plaid no longer gives this account: it may be closed at the bank.",
                                     detail=self._mask(account_id))
        where = f"account {account_id}.balances"
        current = _decimal(raw["balances"], "current", where, required=False)
        if current is None:
            raise InvalidData("Plaid gave no current balance for this account.", detail=self._mask(account_id))
        if raw.get("type") in OWED_BALANCE_TYPES:
            current = _negated(current)  # what is owed is money the account lacks
        updated = _moment(raw["balances"], "last_updated_datetime", where)
        return Balance(amount=current, currency=_currency(raw["balances"], where),
                       reference_date=updated.date() if updated else None)

    # ------------------------------------------------------------------
    # Transactions
    # ------------------------------------------------------------------

    def get_changes(self, consent, account_id, cursor, date_from, date_to):
        """``date_from`` and ``date_to`` do not apply: Plaid tells what changed
        since ``cursor``; without one, the whole history Link asked for (up to
        730 days)."""
        token = self._access_token(consent)
        refused = None
        for _attempt in range(self.MAX_SYNC_RESTARTS + 1):
            try:
                return self._sync(token, account_id, cursor)
            except _MutationDuringPagination as error:
                refused = error
                _logger.info("Plaid: transactions changed between two pages; reading them again")
        raise ProviderUnreachable(
            "Plaid's transactions kept changing while they were read: the next synchronization will try again.",
            detail=refused.detail)

    def _sync(self, token: str, account_id: str, cursor: str | None) -> TransactionChanges:
        # Keyed by transaction id: a transaction added then changed within one
        # reading is one addition, in its last state; one added then removed is
        # no addition (its removal is still told).
        added: dict[str, Transaction] = {}
        modified: dict[str, Transaction] = {}
        removed: dict[str, None] = {}
        page_cursor, seen = cursor or "", set()
        for page in range(MAX_PAGES):
            payload = {"access_token": token, "count": self.SYNC_PAGE_SIZE, "options": {"account_id": account_id}}
            if page_cursor:
                payload["cursor"] = page_cursor
            body = self._call("/transactions/sync", payload)
            where = f"transactions/sync page {page + 1}"
            for key in ("added", "modified"):
                for index, raw in enumerate(_required(body, key, list, where)):
                    if _optional(raw, "account_id", str, f"{where}.{key}[{index}]") not in (None, account_id):
                        continue  # asked for one account: another's is none of ours
                    txn = self._transaction(raw, f"{where}.{key}[{index}]")
                    if key == "added" or txn.identifier in added:
                        added[txn.identifier] = txn
                    else:
                        modified[txn.identifier] = txn
            for index, raw in enumerate(_required(body, "removed", list, where)):
                if _optional(raw, "account_id", str, f"{where}.removed[{index}]") not in (None, account_id):
                    continue
                identifier = _identifier(raw, "transaction_id", f"{where}.removed[{index}]")
                added.pop(identifier, None)
                modified.pop(identifier, None)
                removed[identifier] = None
            next_cursor = _required(body, "next_cursor", str, where)
            if not _required(body, "has_more", bool, where):
                # An empty cursor: Plaid has nothing yet; the old one still holds.
                return TransactionChanges(added=list(added.values()), modified=list(modified.values()),
                                          removed=list(removed), cursor=next_cursor or cursor)
            if not next_cursor or next_cursor == page_cursor or next_cursor in seen:
                raise _untrusted(f"{where}: more pages announced, but no new cursor to read them")
            seen.add(next_cursor)
            page_cursor = next_cursor
        raise _untrusted(f"more than {MAX_PAGES} pages of transactions")

    @staticmethod
    def _transaction(raw, where: str) -> Transaction:
        booking_date = _date(raw, "date", where)
        booked_at = _moment(raw, "datetime", where)
        if booked_at and booked_at.time() == dt.time(0) and booked_at.date() == booking_date:
            # Banks without a time send midnight: a moment that is only the date
            # would move it to the day before in a timezone west of the offset.
            booked_at = None
        counterparties = _optional(raw, "counterparties", list, where) or []
        return Transaction(
            identifier=_identifier(raw, "transaction_id", where),
            status=PENDING if _required(raw, "pending", bool, where) else POSTED,
            amount=_negated(_decimal(raw, "amount", where)),  # Plaid: positive is money out
            currency=_currency(raw, where),
            booking_date=booking_date,
            booked_at=booked_at,
            label=first_text(raw.get("name"), raw.get("original_description"), raw.get("merchant_name")) or "",
            partner_name=first_text(raw.get("merchant_name"),
                                     *(party.get("name") for party in counterparties if isinstance(party, dict))),
            pending_identifier=first_text(_optional(raw, "pending_transaction_id", str, where)),
        )

    # ------------------------------------------------------------------
    # Notifications
    # ------------------------------------------------------------------

    def parse_webhook(self, headers, body):
        token = (headers or {}).get("plaid-verification")
        if not (isinstance(token, str) and token.strip()):
            raise InvalidData("This notification is not signed by Plaid.", detail="no Plaid-Verification header")
        try:
            header = jwt.get_unverified_header(token.strip())
        except jwt.PyJWTError:
            raise InvalidData("This notification's signature is unreadable.") from None
        if header.get("alg") != "ES256":
            raise InvalidData("This notification is not signed as Plaid signs.",
                              detail=f"alg {str(header.get('alg'))[:20]!r}")
        kid = header.get("kid")
        if not (isinstance(kid, str) and kid):
            raise InvalidData("This notification's signature names no key.")
        try:
            claims = jwt.decode(token.strip(), key=self._webhook_key(kid), algorithms=["ES256"], options={
                "verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_aud": False,
                "verify_iss": False, "require": ["iat", "request_body_sha256"]})
        except jwt.PyJWTError as error:
            raise InvalidData("This notification's signature is wrong.", detail=type(error).__name__) from None
        issued = claims["iat"]
        if not isinstance(issued, (int, float)) or isinstance(issued, bool):
            raise InvalidData("This notification's signature tells no time.")
        age = self.now() - dt.datetime.fromtimestamp(issued, dt.timezone.utc)
        if age > WEBHOOK_MAX_AGE or -age > WEBHOOK_MAX_AHEAD:
            raise InvalidData("This notification is too old (or from the future): it is not taken.",
                              detail=f"issued {int(age.total_seconds())} seconds ago")
        raw_body = body.encode() if isinstance(body, str) else bytes(body or b"")
        claimed = claims["request_body_sha256"]
        if not (isinstance(claimed, str) and hmac.compare_digest(
                hashlib.sha256(raw_body).hexdigest().encode(), claimed.encode("utf-8", "replace"))):
            raise InvalidData("This notification's content is not the one Plaid signed.")
        try:
            event = json.loads(raw_body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise InvalidData("This notification is not JSON.") from None
        if not isinstance(event, dict):
            raise InvalidData("This notification is not a JSON object.")
        item_id = first_text(event.get("item_id"))
        if item_id is None:
            return None
        kind, code = event.get("webhook_type"), event.get("webhook_code")
        error = event.get("error") if isinstance(event.get("error"), dict) else {}
        if kind == "TRANSACTIONS" and code == "SYNC_UPDATES_AVAILABLE":
            return WebhookEvent(item_id, "transactions")
        if kind == "ITEM" and (code in LOGIN_REQUIRED_WEBHOOK_CODES
                               or (code == "ERROR" and error.get("error_code") == "ITEM_LOGIN_REQUIRED")):
            return WebhookEvent(item_id, "login_required")
        return WebhookEvent(item_id, "other")

    def _webhook_key(self, kid: str):
        """The public key ``kid`` names, asked once per client; an expired one is refused."""
        if kid not in self._webhook_keys:
            try:
                body = self._call("/webhook_verification_key/get", {"key_id": kid})
            except (ProviderUnreachable, InvalidCredentials, RateLimited):
                raise
            except ProviderError as error:
                raise InvalidData("This notification is signed with a key Plaid does not know.",
                                  detail=error.detail) from None
            jwk = _required(body, "key", dict, "webhook_verification_key/get")
            if jwk.get("alg") != "ES256" or jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
                raise _untrusted("webhook_verification_key/get: the key is not an ES256 key")
            try:
                public_key = ECAlgorithm.from_jwk({k: jwk[k] for k in ("kty", "crv", "x", "y")})
            except (jwt.PyJWTError, KeyError, TypeError, ValueError):
                raise _untrusted("webhook_verification_key/get: the key cannot be read") from None
            expired_at = _optional(jwk, "expired_at", int, "key")
            self._webhook_keys[kid] = (public_key, expired_at)
        public_key, expired_at = self._webhook_keys[kid]
        if expired_at is not None and dt.datetime.fromtimestamp(expired_at, dt.timezone.utc) <= self.now():
            raise InvalidData("This notification is signed with a key Plaid has retired.")
        return public_key
