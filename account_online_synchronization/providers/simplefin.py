# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""SimpleFIN Bridge (https://www.simplefin.org/protocol.html).

No application keys and no bank page: the user picks banks and accounts at
the bridge, which gives a *setup token* to paste in Odoo.

- The setup token is the base64 of a one-time *claim URL*.
  ``connect_with_token`` POSTs it once, never retried (a second claim is
  refused, and a claim that nobody receives may have used the token up),
  and gets the *access URL* ``https://user:password@host/simplefin``: the
  connection's only secret, kept in ``consent.data["access_url"]``, never
  told in a message or a log line. Its user and password go as HTTP Basic
  auth, so that no URL sent or logged carries them.
- ``GET <access URL>/accounts`` answers everything in one reply: accounts,
  balances, transactions (``start-date`` included, ``end-date`` excluded,
  both epochs; ``pending=1``; ``account=<id>``; ``balances-only=1``), and
  the bridge's messages: ``errors`` (texts) or, in protocol 2, ``errlist``
  (``{code, msg, conn_id, account_id}``). No ``version`` is asked: both
  shapes are read.
- The bridge expects about 24 requests a day and caps a range at 90 days: a
  longer window is asked in chunks of 90 days at most. One client instance
  serves one synchronization and keeps what each request told about an
  account, so an account's balance and transactions cost one request
  together, whichever comes first: ``get_balance`` asked first fetches the
  latest 90 days (the most one request gives, ending the day after
  tomorrow in UTC so that a time zone ahead of UTC is covered);
  ``get_transactions`` then only asks for the days not fetched yet.

Choices where the protocol says nothing:

- Messages of other banks or accounts are ignored (logged at debug level).
  Each account's bank and connection are kept in ``consent.data["accounts"]``
  (nothing secret), so that when the asked account is missing from the
  reply, the messages about it (its connection's and account's ones in
  ``errlist``; in ``errors``, those that name its bank, or all when its
  bank is unknown) decide the error: a login to fix at the bridge ("may
  need attention", ``con.auth``) is :class:`AuthenticationExpired`; ``act.*`` ("try again later") is
  :class:`ProviderUnreachable`; ``gen.auth`` is :class:`ConsentExpired`;
  others are :class:`ProviderError`. Missing without any message, the
  account is no longer shared with Odoo: :class:`ConsentExpired` (a new
  setup token lets the user choose the accounts again). When the account is
  there, its messages are logged as warnings and its data is imported.
- 403 on ``/accounts`` is :class:`ConsentExpired` (access revoked at the
  bridge, or disabled after too many requests); 402 asks for the SimpleFIN
  subscription to be renewed; 429 is :class:`RateLimited`, never retried.
- An account in a custom currency (a URL: points, miles) is left out.
- A posted transaction is dated by ``posted`` (``booked_at``, in UTC; the
  Odoo layer turns it into the company's date), except a ``posted`` at
  midnight UTC, which is a day (``booking_date`` only); a pending one (``pending``
  true, or ``posted`` 0) by ``transacted_at``, else today (UTC).
"""
from __future__ import annotations

import base64
import calendar
import datetime as dt
import hashlib
import ipaddress
import logging
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import unquote, urlsplit, urlunsplit

import requests

from .base import (
    PENDING,
    POSTED,
    AuthenticationExpired,
    Balance,
    BankAccount,
    BankProvider,
    Consent,
    ConsentExpired,
    Institution,
    InvalidData,
    ProviderError,
    ProviderUnreachable,
    RateLimited,
    Transaction,
    first_text,
)
from .http import non_retrying_adapter, retry_after, retrying_session

_logger = logging.getLogger(__name__)

MAX_RANGE = dt.timedelta(days=90)  # the longest range the bridge gives in one request
MAX_RETRY_AFTER = 10.0  # seconds a retried 503 may make a synchronization wait
AMOUNT_RE = re.compile(r"^[+-]?\d+(\.\d+)?$")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
NEEDS_LOGIN_RE = re.compile(r"attention|re-?auth|authenticat|credential|log ?in|sign ?in|password", re.IGNORECASE)
# Any credentials a URL in a message could carry, and the one-time code of a claim URL.
USERINFO_RE = re.compile(r"([a-z][a-z0-9+.-]*://)[^/\s@]+@", re.IGNORECASE)
CLAIM_PATH_RE = re.compile(r"(/claim/)[^\s\"'?#)]+")
NOT_A_TOKEN = "This is not a SimpleFIN setup token: copy it again from the bridge."
MAY_BE_USED_UP = ("The setup token may be used up now: if connecting again is refused, create a new setup token "
                  "at the bridge.")


class _HideClaimCodes(logging.Filter):
    """urllib3 logs the path of each request at debug level: a claim URL's
    path carries the one-time code, worth the setup token until claimed."""

    def filter(self, record):
        if isinstance(record.args, tuple):
            record.args = tuple(CLAIM_PATH_RE.sub(r"\1***", arg) if isinstance(arg, str) else arg
                                for arg in record.args)
        if isinstance(record.msg, str):
            record.msg = CLAIM_PATH_RE.sub(r"\1***", record.msg)
        return True


_HIDE_CLAIM_CODES = _HideClaimCodes()


def _hide_claim_codes_from_urllib3() -> None:
    for name in ("urllib3.connectionpool", "urllib3.util.retry"):
        logger = logging.getLogger(name)
        if _HIDE_CLAIM_CODES not in logger.filters:
            logger.addFilter(_HIDE_CLAIM_CODES)


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _origin(parts) -> tuple:
    """Scheme, host and port: what must match between two addresses of one server."""
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port or {"http": 80, "https": 443}.get(
        parts.scheme.lower())


def _encrypted_or_local(parts) -> bool:
    """The protocol wants https; plain http only reaches this machine (the emulator)."""
    return parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(parts.hostname))


def _access_parts(access_url) -> tuple[str, str, str] | None:
    """(address without credentials, user, password) of an access URL; None when it is not one."""
    if not isinstance(access_url, str) or any(c.isspace() for c in access_url):
        return None
    try:
        parts = urlsplit(access_url)
        user, password = parts.username, parts.password
        _origin(parts)  # a port that is not a number raises ValueError
    except ValueError:
        return None
    if not (_encrypted_or_local(parts) and parts.hostname and user and password):
        return None
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", "")), unquote(user), unquote(password)


def _day_start(day: dt.date) -> int:
    return calendar.timegm(day.timetuple())


def _uncovered(start: int, end: int, covered: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of [start, end) outside every covered range."""
    gaps = []
    for covered_start, covered_end in sorted(covered):
        if covered_end <= start or covered_start >= end:
            continue
        if covered_start > start:
            gaps.append((start, covered_start))
        start = max(start, covered_end)
    if start < end:
        gaps.append((start, end))
    return gaps


def _chunks(start: int, end: int) -> list[tuple[int, int]]:
    step = int(MAX_RANGE.total_seconds())
    return [(chunk, min(chunk + step, end)) for chunk in range(start, end, step)]


def _clean(text: str) -> str:
    """A bridge message as it may be shown: no markup, no control characters, short."""
    text = re.sub(r"<[^>]*>", " ", text)
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())[:200]


def _untrusted(what: str, detail: str | None = None) -> InvalidData:
    return InvalidData(f"SimpleFIN Bridge sent {what} that cannot be trusted.", detail=detail)


def _amount(value, what: str) -> Decimal:
    """Amounts are numeric strings: a JSON number would already have lost cents."""
    if not isinstance(value, str) or not AMOUNT_RE.match(value.strip()):
        raise _untrusted(f"a {what}", f"{what}: a numeric string expected, not {repr(value)[:40]}")
    amount = Decimal(value.strip())
    return abs(amount) if amount == 0 else amount  # "-0.00" is 0.00


def _moment(value, what: str, required: bool = True) -> dt.datetime | None:
    """An epoch as an aware UTC datetime; 0 or absent: None (when allowed)."""
    if isinstance(value, bool) or (value is not None and not isinstance(value, int | float)):
        raise _untrusted(f"a {what}", f"{what}: an epoch expected, not {repr(value)[:40]}")
    if value is None or value == 0:
        if required and value is None:
            raise _untrusted(f"a {what}", f"{what} is missing")
        return None
    if not math.isfinite(value) or value < 0:
        raise _untrusted(f"a {what}", f"{what}: an epoch expected, not {value!r}")
    try:
        return dt.datetime.fromtimestamp(value, dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise _untrusted(f"a {what}", f"{what} out of range: {value!r}") from None


@dataclass(frozen=True)
class _Message:
    """One message of the bridge: ``code`` is empty for the texts of protocol 1."""

    code: str
    text: str
    conn_id: str | None = None
    account_id: str | None = None


@dataclass
class _Reply:
    accounts: dict[str, dict]
    messages: list[_Message]
    connections: dict[str, str]  # conn_id -> name (protocol 2)


@dataclass
class _KnownAccount:
    """What this synchronization learnt about one account."""

    raw: dict  # the account as last sent, for its balance
    currency: str | None  # None: a custom currency
    covered: list[tuple[int, int]] = field(default_factory=list)  # epoch ranges whose transactions are here
    dated: list[tuple[float, Transaction]] = field(default_factory=list)
    undated: list[Transaction] = field(default_factory=list)  # pending without date: in every reply


class SimpleFINProvider(BankProvider):
    code = "simplefin"
    name = "SimpleFIN Bridge"
    # Each user's access URL names its bridge; this is the public one.
    default_api_base_url = "https://beta-bridge.simplefin.org/simplefin"
    needs_credentials = False
    uses_cursor = False
    setup_token_label = "SimpleFIN Setup Token"

    RETRY_ATTEMPTS = 3
    RETRY_BACKOFF = 0.5  # seconds, doubled at each attempt (tests make it tiny)

    def __init__(self, config):
        super().__init__(config)
        self._http: requests.Session | None = None
        self._secrets: set[str] = set()
        self._known: dict[tuple[str, str], _KnownAccount] = {}  # (access fingerprint, account id) -> data

    # ------------------------------------------------------------------
    # HTTP
    # ------------------------------------------------------------------

    def _session(self) -> requests.Session:
        if self._http is None:
            self._http = retrying_session(self.RETRY_ATTEMPTS, self.RETRY_BACKOFF, MAX_RETRY_AFTER)
        return self._http

    def _keep_secret(self, *values) -> None:
        self._secrets.update(value for value in values if isinstance(value, str) and len(value) >= 4)

    def _mask(self, text: str) -> str:
        """``text`` without any secret of this client, and short."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return CLAIM_PATH_RE.sub(r"\1***", USERINFO_RE.sub(r"\1***@", text))[:500]

    def _send(self, method: str, url: str, what: str, **kwargs) -> requests.Response:
        """``what`` names the call in messages: never the URL, which may carry a secret."""
        try:
            response = self._session().request(method, url, timeout=self.config.timeout, allow_redirects=False,
                                               **kwargs)
        except requests.Timeout:
            raise ProviderUnreachable(f"SimpleFIN Bridge did not answer within {self.config.timeout:g} seconds.",
                                      detail=f"{what}: Timeout") from None
        except requests.RequestException as error:
            # The exception's text names the URL: only its type is told.
            raise ProviderUnreachable("SimpleFIN Bridge could not be reached.",
                                      detail=f"{what}: {type(error).__name__}") from None
        _logger.debug("SimpleFIN Bridge %s: HTTP %s", what, response.status_code)
        return response


    def _raise_for_status(self, response, what: str) -> None:
        status = response.status_code
        detail = f"{what}: HTTP {status}"
        if status == 429:
            raise RateLimited("SimpleFIN Bridge refuses more requests for now (it expects about 24 a day): "
                              "the synchronization will be done later.", reset_at=retry_after(response, self.now()),
                              detail=detail)
        if status >= 500:
            raise ProviderUnreachable(f"SimpleFIN Bridge is not available (HTTP {status}).", detail=detail)
        if status == 402:
            raise ProviderError("SimpleFIN Bridge asks for payment: renew the SimpleFIN subscription at the bridge, "
                                "then synchronize again.", detail=detail)
        if 300 <= status < 400:
            raise ProviderError("SimpleFIN Bridge sent Odoo to another address: the bridge may have moved. "
                                "Connect again with a new setup token.", detail=detail)
        told = self._mask(_clean(response.text)) if "html" not in response.headers.get("Content-Type", "") else ""
        raise ProviderError(f"SimpleFIN Bridge refused the request (HTTP {status}).",
                            detail=f"{detail} {told}".strip())

    # ------------------------------------------------------------------
    # Directory and connection
    # ------------------------------------------------------------------

    def list_institutions(self, country=None):
        """The bridge is the only "bank": the user picks theirs at the bridge."""
        if country and country.upper() != "US":
            return []
        return [Institution(identifier="simplefin", name="SimpleFIN Bridge", countries=("US",), history_days=90)]

    def start_connect(self, institution_id, redirect_url, state, consent=None):
        raise ProviderError("SimpleFIN connects with a setup token, not through a bank's page: create a setup "
                            "token at SimpleFIN Bridge and paste it in Odoo.")

    def connect_with_token(self, institution_id, token):
        claim_url = self._claim_url(token)
        response = self._claim(claim_url)
        if response.status_code == 403:
            raise ProviderError(
                "SimpleFIN Bridge refused the setup token: this setup token was already claimed or is not valid: "
                "create a new one at the bridge. If you did not use it yourself, disable it at the bridge: "
                "someone else may have claimed it.", detail="claim: HTTP 403")
        if response.status_code != 200:
            try:
                self._raise_for_status(response, "claim")
            except ProviderUnreachable as error:  # the bridge may have taken the claim before failing
                raise ProviderUnreachable(f"{error.message} {MAY_BE_USED_UP}", detail=error.detail) from None
        content_type = response.headers.get("Content-Type", "")
        access_url = response.content.decode("utf-8", "replace").strip()
        self._keep_secret(access_url)
        if "html" in content_type or access_url.startswith("<"):
            raise ProviderUnreachable(f"SimpleFIN Bridge answered the claim with a web page. {MAY_BE_USED_UP}",
                                      detail=f"claim: HTTP 200, {content_type or '?'}")
        access = _access_parts(access_url)
        if access is None:
            raise InvalidData("SimpleFIN Bridge answered the claim with something that is not a valid access "
                              "(an https address with credentials).", detail=f"claim: HTTP 200, {content_type or '?'}")
        self._keep_secret(access[1], access[2])
        consent = Consent(identifier=self._fingerprint(access[1]), data={"access_url": access_url})
        _logger.info("SimpleFIN Bridge: setup token claimed, access %s", consent.identifier)
        return consent

    def _claim_url(self, token) -> str:
        """The claim URL a setup token encodes, once checked: https (http only
        to this machine), and on the configured server when there is one."""
        if not isinstance(token, str) or not token.strip():
            raise ProviderError(NOT_A_TOKEN)
        compact = "".join(token.split())
        self._keep_secret(token.strip(), compact)
        try:
            url_safe = "-" in compact or "_" in compact
            decoded = base64.b64decode(compact + "=" * (-len(compact) % 4), altchars=b"-_" if url_safe else None,
                                       validate=True).decode("utf-8").strip()
            parts = urlsplit(decoded)
            origin = _origin(parts)  # a port that is not a number raises ValueError
        except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
            raise ProviderError(NOT_A_TOKEN) from None
        if parts.scheme not in ("http", "https") or not parts.hostname or any(
                not c.isprintable() or c.isspace() for c in decoded):
            raise ProviderError(NOT_A_TOKEN)
        self._keep_secret(decoded, parts.path.rstrip("/").rpartition("/")[2])
        if not _encrypted_or_local(parts):
            raise ProviderError(f"This setup token leads to {parts.hostname} without encryption (http): SimpleFIN "
                                "is only used over https. Create a new setup token at the bridge.")
        if self.config.api_base_url:
            configured = urlsplit(self.config.api_base_url)
            try:
                expected = _origin(configured)
            except ValueError:
                raise ProviderError("The SimpleFIN server address set on the aggregator is not valid: an "
                                    "administrator must correct it.") from None
            if expected != origin:
                raise ProviderError(
                    f"This setup token comes from {parts.hostname}, not from the SimpleFIN server Odoo is set "
                    f"to use ({configured.hostname}): create the setup token there, or ask an administrator to "
                    "change the server's address.")
        return decoded

    def _claim(self, claim_url: str) -> requests.Response:
        """POST once: a claim is single-use, so it is never retried, and a
        redirection is not followed (it would lead the token elsewhere)."""
        _hide_claim_codes_from_urllib3()
        session = self._session()
        session.mount(claim_url, non_retrying_adapter())
        try:
            return self._send("POST", claim_url, "claim", data=b"")
        except ProviderUnreachable as error:
            raise ProviderUnreachable(f"{error.message} {MAY_BE_USED_UP}", detail=error.detail) from None
        finally:
            session.adapters.pop(claim_url, None)

    @staticmethod
    def _fingerprint(user: str) -> str:
        """Names an access without telling its credentials."""
        return hashlib.sha256(user.encode()).hexdigest()[:24]

    def _access(self, consent: Consent) -> tuple[str, tuple[str, str]]:
        access = _access_parts((consent.data or {}).get("access_url"))
        if access is None:
            raise ConsentExpired("This connection has no valid SimpleFIN access: connect again with a new setup "
                                 "token from the bridge.")
        base_url, user, password = access
        self._keep_secret(consent.data["access_url"], user, password)
        return base_url, (user, password)

    def refresh(self, consent, automatic):
        # The bridge reads the banks on its own, about once a day: nothing to trigger.
        self._access(consent)

    # ------------------------------------------------------------------
    # The account set
    # ------------------------------------------------------------------

    def _account_set(self, consent: Consent, params: dict) -> _Reply:
        base_url, auth = self._access(consent)
        what = "GET /accounts?" + "&".join(f"{key}={value}" for key, value in params.items())
        response = self._send("GET", base_url + "/accounts", what, params=params, auth=auth,
                              headers={"Accept": "application/json"})
        if response.status_code in (401, 403):
            raise ConsentExpired("SimpleFIN Bridge no longer accepts this connection's access (revoked at the "
                                 "bridge, or disabled after too many requests): connect again with a new setup "
                                 "token.", detail=f"{what}: HTTP {response.status_code}")
        if response.status_code != 200:
            self._raise_for_status(response, what)
        try:
            body = response.json()
        except ValueError:
            # An HTML page, a proxy's answer, a body cut short.
            raise ProviderUnreachable("SimpleFIN Bridge answered with something that is not its API's.",
                                      detail=f"{what}: HTTP 200, {response.headers.get('Content-Type', '?')}") from None
        return self._reply(body)

    def _reply(self, body) -> _Reply:
        if not isinstance(body, dict) or not isinstance(body.get("accounts"), list):
            raise _untrusted("an account set", "accounts: a list expected")
        accounts = {}
        for index, raw in enumerate(body["accounts"]):
            if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not raw["id"].strip():
                raise _untrusted("an account", f"accounts[{index}]: an object with an id expected")
            accounts[raw["id"]] = raw
        connections = {c["conn_id"]: c["name"] for c in body.get("connections") or []
                       if isinstance(c, dict) and isinstance(c.get("conn_id"), str) and isinstance(c.get("name"), str)}
        structured = body.get("errlist")
        if structured is not None:  # protocol 2: ``errors`` is deprecated, and may repeat the same messages
            if not isinstance(structured, list):
                raise _untrusted("a list of messages", "errlist: a list expected")
            messages = [
                _Message(code=m["code"] if isinstance(m.get("code"), str) else "", text=text,
                         conn_id=m.get("conn_id") if isinstance(m.get("conn_id"), str) else None,
                         account_id=m.get("account_id") if isinstance(m.get("account_id"), str) else None)
                for m in structured if isinstance(m, dict)
                and isinstance(text := m.get("msg", m.get("message")), str)
            ]
        else:
            texts = body.get("errors") or []
            if not isinstance(texts, list):
                raise _untrusted("a list of messages", "errors: a list expected")
            messages = [_Message("", text) for text in texts if isinstance(text, str)]
        return _Reply(accounts, messages, connections)

    @staticmethod
    def _bank_of(raw: dict, connections: dict) -> tuple[str | None, str | None]:
        """(bank name, connection id) of an account: ``org`` in protocol 1, its connection in 2."""
        org = raw.get("org") if isinstance(raw.get("org"), dict) else {}
        conn_id = raw.get("conn_id") if isinstance(raw.get("conn_id"), str) else None
        name = first_text(org.get("name"), org.get("domain"), raw.get("conn_name"), connections.get(conn_id))
        return name, conn_id

    @staticmethod
    def _currency(raw: dict) -> str | None:
        """The ISO code; None for a custom currency (a URL)."""
        currency = raw.get("currency")
        if not isinstance(currency, str):
            raise _untrusted("an account currency", f"account {raw['id']}: currency missing")
        if "://" in currency:
            return None
        if not CURRENCY_RE.match(currency.strip().upper()):
            raise _untrusted("an account currency", f"account {raw['id']}: {currency[:20]!r}")
        return currency.strip().upper()

    def _learn(self, consent: Consent, reply: _Reply, account_id: str) -> _KnownAccount:
        """Keep what the reply tells about the account, for the rest of this
        synchronization, and its bank in the consent, to tell its messages
        from other banks' when it goes missing."""
        raw = reply.accounts[account_id]
        bank, conn_id = self._bank_of(raw, reply.connections)
        consent.data.setdefault("accounts", {})[account_id] = {"bank": bank, "conn_id": conn_id}
        key = (self._fingerprint(self._access(consent)[1][0]), account_id)
        known = self._known.setdefault(key, _KnownAccount(raw=raw, currency=None))
        known.raw, known.currency = raw, self._currency(raw)
        return known

    def _concerns(self, message: _Message, consent: Consent, account_id: str) -> bool:
        bank = (consent.data.get("accounts") or {}).get(account_id) or {}
        if message.account_id:
            return message.account_id == account_id
        if message.conn_id:
            return not bank.get("conn_id") or message.conn_id == bank["conn_id"]
        if message.code:
            return not message.code.startswith("gen.api")  # the developer's business, not the user's
        return not bank.get("bank") or bank["bank"].casefold() in message.text.casefold()

    def _told(self, messages: list[_Message]) -> str:
        return self._mask("; ".join(dict.fromkeys(_clean(m.text) for m in messages)))[:300]

    def _log_messages(self, reply: _Reply, consent: Consent, account_id: str) -> None:
        for message in reply.messages:
            concerned = self._concerns(message, consent, account_id)
            _logger.log(logging.WARNING if concerned else logging.DEBUG, "SimpleFIN Bridge says about %s: %s",
                        account_id if concerned else "another account", self._told([message]))

    def _raise_missing(self, reply: _Reply, consent: Consent, account_id: str):
        concerned = [m for m in reply.messages if self._concerns(m, consent, account_id)]
        detail = f"account {account_id} missing from the reply"
        if not concerned:
            raise ConsentExpired("SimpleFIN Bridge no longer shares this account with Odoo (removed at the bridge, "
                                 "or left out of this connection's access): connect again with a new setup token "
                                 "to choose the accounts again.", detail=detail)
        self._raise_for_messages(concerned, detail, "SimpleFIN Bridge did not send this account")

    def _raise_for_messages(self, messages: list[_Message], detail: str, fallback: str):
        """The error the bridge's messages mean, with their (masked) words."""
        told = self._told(messages)
        codes = {m.code for m in messages}
        if "gen.auth" in codes:
            raise ConsentExpired(f"SimpleFIN Bridge no longer accepts this connection's access ({told}): connect "
                                 "again with a new setup token.", detail=detail)
        if any(m.code.startswith("con.auth") or (m.code in ("", "con.") and NEEDS_LOGIN_RE.search(m.text))
               for m in messages):
            raise AuthenticationExpired(f"The bank's connection at SimpleFIN Bridge needs attention ({told}): sign "
                                        "in at the bridge to fix it, then synchronize again.", detail=detail)
        if all(code.startswith("act.") for code in codes):
            raise ProviderUnreachable(f"SimpleFIN Bridge could not read this account just now ({told}): the "
                                      "synchronization will be tried again later.", detail=detail)
        raise ProviderError(f"{fallback}: {told}", detail=detail)

    # ------------------------------------------------------------------
    # Accounts, balances, transactions
    # ------------------------------------------------------------------

    def list_accounts(self, consent):
        reply = self._account_set(consent, {"balances-only": "1"})
        accounts = []
        for account_id, raw in reply.accounts.items():
            known = self._learn(consent, reply, account_id)
            if known.currency is None:
                _logger.warning("SimpleFIN Bridge: account %s counts in a custom currency (points, miles...): "
                                "it is left out.", account_id)
                continue
            name = first_text(raw.get("name")) or account_id
            bank = consent.data["accounts"][account_id]["bank"]
            if bank and bank.casefold() not in name.casefold():
                name = f"{bank} - {name}"  # two banks often both have a "Checking"
            accounts.append(BankAccount(identifier=account_id, name=name, currency=known.currency))
        for message in reply.messages:
            _logger.warning("SimpleFIN Bridge says: %s", self._told([message]))
        if not reply.accounts and reply.messages:
            # Every bank failing is no reason to show an empty list.
            self._raise_for_messages(reply.messages, "no account in the reply", "SimpleFIN Bridge sent no account")
        return accounts

    def _fetch(self, consent: Consent, account_id: str, start: int, end: int) -> _KnownAccount:
        """One request: the account's balance and its transactions in [start, end)."""
        reply = self._account_set(consent, {"start-date": str(start), "end-date": str(end), "pending": "1",
                                            "account": account_id})
        if account_id not in reply.accounts:
            self._raise_missing(reply, consent, account_id)
        self._log_messages(reply, consent, account_id)
        known = self._learn(consent, reply, account_id)
        if known.currency is None:
            raise ProviderError("This SimpleFIN account counts in a custom currency (points, miles...): it cannot "
                                "be synchronized.", detail=account_id)
        raw_transactions = known.raw.get("transactions") or []
        if not isinstance(raw_transactions, list):
            raise _untrusted("a list of transactions", f"account {account_id}: transactions is not a list")
        undated = []
        for index, raw in enumerate(raw_transactions):
            moment, transaction = self._transaction(raw, known.currency, f"account {account_id}, transaction {index}")
            if moment is None:
                undated.append(transaction)
            elif start <= moment < end:  # each range keeps its own: chunks never repeat a transaction
                known.dated.append((moment, transaction))
        known.undated = undated
        known.covered.append((start, end))
        return known

    def _known_account(self, consent: Consent, account_id: str) -> _KnownAccount | None:
        return self._known.get((self._fingerprint(self._access(consent)[1][0]), account_id))

    def get_balance(self, consent, account_id):
        known = self._known_account(consent, account_id)
        if known is None:
            # The latest 90 days come along: get_transactions will most likely ask no more.
            end = _day_start(self.now().astimezone(dt.timezone.utc).date() + dt.timedelta(days=2))
            known = self._fetch(consent, account_id, end - int(MAX_RANGE.total_seconds()), end)
        if known.currency is None:
            raise ProviderError("This SimpleFIN account counts in a custom currency (points, miles...): it cannot "
                                "be synchronized.", detail=account_id)
        balance_date = _moment(known.raw.get("balance-date"), "balance date")
        return Balance(amount=_amount(known.raw.get("balance"), "balance"), currency=known.currency,
                       reference_date=balance_date.date() if balance_date else None)

    def get_transactions(self, consent, account_id, date_from, date_to):
        if date_from > date_to:
            return []
        start, end = _day_start(date_from), _day_start(date_to + dt.timedelta(days=1))
        known = self._known_account(consent, account_id)
        for gap in _uncovered(start, end, known.covered if known else []):
            for chunk_start, chunk_end in _chunks(*gap):
                known = self._fetch(consent, account_id, chunk_start, chunk_end)
        dated = sorted((item for item in known.dated if start <= item[0] < end), key=lambda item: item[0])
        return [transaction for _moment_, transaction in dated] + list(known.undated)

    def _transaction(self, raw, currency: str, where: str) -> tuple[float | None, Transaction]:
        """(the moment the bridge filters it on, the transaction)."""
        if not isinstance(raw, dict):
            raise _untrusted("a transaction", f"{where}: an object expected")
        identifier = raw.get("id")
        if isinstance(identifier, int) and not isinstance(identifier, bool):
            identifier = str(identifier)
        if identifier is not None and not isinstance(identifier, str):
            raise _untrusted("a transaction id", f"{where}: id {repr(identifier)[:40]}")
        amount = _amount(raw.get("amount"), "transaction amount")
        pending = raw.get("pending")
        if pending is not None and not isinstance(pending, bool):
            raise _untrusted("a transaction status", f"{where}: pending {repr(pending)[:20]}")
        posted = raw.get("posted")
        posted = _moment(0 if posted is None and pending else posted, "posting time")
        transacted = _moment(raw.get("transacted_at"), "transaction time", required=False)
        if pending or posted is None:
            status, booked_at, moment = PENDING, None, transacted
            booking_date = (transacted or self.now().astimezone(dt.timezone.utc)).date()
        else:
            # Many banks only give the bridge a day, sent as its midnight UTC: that
            # is a date, which the company's timezone must not move to the day before.
            is_day_only = posted.time() == dt.time(0, 0) and posted.utcoffset() == dt.timedelta(0)
            status, booked_at, moment = POSTED, None if is_day_only else posted, posted
            booking_date = posted.date()
        return (moment.timestamp() if moment else None), Transaction(
            identifier=(identifier or "").strip() or None,
            status=status,
            amount=amount,
            currency=currency,
            booking_date=booking_date,
            booked_at=booked_at,
            label=first_text(raw.get("description"), raw.get("memo")) or "",
            partner_name=first_text(raw.get("payee")),
        )
