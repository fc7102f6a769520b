# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Enable Banking connector (https://enablebanking.com/docs/api/reference/).

The application signs a short-lived JWT (RS256, ``kid`` = its application id)
for every call. A consent is an Enable Banking *session*: its account ``uid``
values are valid only within that session, so accounts are matched across
consents by IBAN (``account_number``) and by ``identification_hash``, kept in
the consent's data.

Needs PyJWT (with cryptography): the addon lists it in its manifest's
``external_dependencies`` when this connector is registered.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import re
from decimal import Decimal
from urllib.parse import quote

import jwt
import requests
from cryptography.exceptions import UnsupportedAlgorithm

from .base import (
    LISTING_RESTARTED,
    PENDING,
    POSTED,
    AccountUnavailable,
    Balance,
    BankAccount,
    BankProvider,
    ConnectStep,
    Consent,
    ConsentExpired,
    Institution,
    InvalidCredentials,
    InvalidData,
    ProviderError,
    ProviderUnreachable,
    RateLimited,
    Transaction,
)
from .http import retry_after, retrying_session

_logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.enablebanking.com"
JWT_ISSUER = "enablebanking.com"
JWT_AUDIENCE = "api.enablebanking.com"
JWT_LIFETIME = dt.timedelta(hours=1)
JWT_RENEW_BEFORE = dt.timedelta(minutes=5)
DEFAULT_CONSENT = dt.timedelta(days=90)  # when the bank does not say how long it grants
# Asking for the bank's exact maximum could exceed it by the request's transit time.
CONSENT_MARGIN = dt.timedelta(minutes=5)
PSU_TYPE = "business"
# Booked balances first (what posted transactions add up to), then the closest the bank gives.
BALANCE_TYPES = ("CLBD", "ITBD", "XPCD", "ITAV", "CLAV")
STATUSES = {"BOOK": POSTED, "PDNG": PENDING}  # others (RJCT, CNCL, HOLD, SCHD, OTHR, INFO) are skipped
SESSION_ERRORS = frozenset({"EXPIRED_SESSION", "REVOKED_SESSION", "CLOSED_SESSION", "SESSION_DOES_NOT_EXIST"})
APPLICATION_ERRORS = frozenset({"UNAUTHORIZED_ACCESS", "UNAUTHORIZED_IP"})
BANK_DOWN_ERRORS = frozenset({"ASPSP_ERROR", "ASPSP_TIMEOUT"})
# "The PSU does not have access to the requested account or it doesn't exist": that account only.
ACCOUNT_GONE_ERRORS = frozenset({"ASPSP_ACCOUNT_NOT_ACCESSIBLE"})
MAX_PAGES = 500
MAX_RETRY_AFTER = 30  # seconds a retried 503 may make us wait: a synchronization must not hang
AMOUNT = re.compile(r"^-?\d+(\.\d+)?$")
_NOT_JSON = object()


class _WrongContinuationKey(ProviderError):
    """The API no longer knows the key of the next page: start the listing again."""


def _untrusted(detail: str) -> InvalidData:
    return InvalidData("Enable Banking sent data that cannot be trusted.", detail=detail)


def _where(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _required(obj, key: str, kind, path: str = ""):
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _untrusted(f"{_where(path, key)} is missing or not a {kind.__name__}.")
    return value


def _optional(obj, key: str, kind, path: str = ""):
    """None when absent or null (banks send both), else the value, of the right type."""
    if not isinstance(obj, dict) or obj.get(key) is None:
        return None
    return _required(obj, key, kind, path)


def _amount(obj, path: str) -> Decimal:
    text = _required(obj, "amount", str, path)
    if not AMOUNT.match(text.strip()):
        raise _untrusted(f"{path}.amount is not a number: {text[:40]!r}")
    return Decimal(text.strip())


def _date(obj, key: str, path: str) -> dt.date | None:
    text = _optional(obj, key, str, path)
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        raise _untrusted(f"{_where(path, key)} is not a date: {text[:40]!r}") from None


def _datetime(obj, key: str, path: str) -> dt.datetime | None:
    text = _optional(obj, key, str, path)
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _untrusted(f"{_where(path, key)} is not a date-time: {text[:40]!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _account_number(obj, key: str, path: str) -> str | None:
    account = _optional(obj, key, dict, path)
    if account is None:
        return None
    other = _optional(account, "other", dict, path)
    return _optional(account, "iban", str, path) or _optional(other, "identification", str, path)


class EnableBankingProvider(BankProvider):
    code = "enablebanking"
    name = "Enable Banking"
    default_api_base_url = DEFAULT_BASE_URL
    needs_credentials = True

    # Class attributes so that tests can make retries instant.
    RETRY_TOTAL = 3
    RETRY_BACKOFF = 0.5  # seconds, doubled at each retry

    def __init__(self, config):
        super().__init__(config)
        self._base_url = (config.api_base_url or DEFAULT_BASE_URL).rstrip("/")
        self._http: requests.Session | None = None
        self._token: str | None = None
        self._token_span: tuple[dt.datetime, dt.datetime] | None = None  # issued at, expires at

    # -- HTTP --------------------------------------------------------

    def _session(self) -> requests.Session:
        if self._http is None:
            self._http = retrying_session(self.RETRY_TOTAL, self.RETRY_BACKOFF, MAX_RETRY_AFTER)
        return self._http

    def _jwt(self) -> str:
        now = self.now()
        if self._token and self._token_span[0] <= now < self._token_span[1] - JWT_RENEW_BEFORE:
            return self._token
        credentials = self.config.credentials or {}
        application_id, private_key = credentials.get("client_identifier"), credentials.get("private_key")
        if not (isinstance(application_id, str) and application_id.strip()
                and isinstance(private_key, str) and private_key.strip()):
            raise InvalidCredentials("Enable Banking needs the application id and the application's private key.")
        issued = int(now.timestamp())
        try:
            token = jwt.encode(
                {"iss": JWT_ISSUER, "aud": JWT_AUDIENCE, "iat": issued,
                 "exp": issued + int(JWT_LIFETIME.total_seconds())},
                private_key.strip(), algorithm="RS256", headers={"typ": "JWT", "kid": application_id.strip()},
            )
        except (ValueError, TypeError, AttributeError, UnsupportedAlgorithm, jwt.PyJWTError):
            # The original error may quote the key: it is dropped, not chained.
            raise InvalidCredentials("The Enable Banking private key cannot be used: it must be the "
                                     "application's RSA private key in PEM format.") from None
        self._token, self._token_span = token, (now, now + JWT_LIFETIME)
        return token

    def _scrub(self, text: str) -> str:
        """The API's own texts, without any secret a misbehaving server could echo."""
        private_key = str((self.config.credentials or {}).get("private_key") or "")
        hidden = [self._token] + [line for line in private_key.splitlines() if len(line) > 16]
        for secret in filter(None, hidden):
            text = text.replace(secret, "[secret]")
        return text[:500]

    def _request(self, method: str, path: str, *, params=None, body=None, session_bound=False) -> dict:
        """The API's JSON object, or a typed error. ``session_bound``: the call reads a consent's data."""
        headers = {"Authorization": f"Bearer {self._jwt()}", "Accept": "application/json"}
        try:
            response = self._session().request(
                method, self._base_url + path, params=params, json=body, headers=headers,
                timeout=self.config.timeout, allow_redirects=False,
            )
        except requests.RequestException as error:
            # The exception's text names the URL: only its type (and urllib3's reason's) is kept.
            reason = getattr(error.args[0] if error.args else None, "reason", None)
            kind = type(reason).__name__ if isinstance(reason, Exception) else type(error).__name__
            raise ProviderUnreachable("Enable Banking could not be reached.",
                                      detail=f"{method} {path}: {kind}") from None
        _logger.debug("Enable Banking %s %s: HTTP %s", method, path, response.status_code)
        try:
            payload = json.loads(response.content.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            payload = _NOT_JSON
        if 200 <= response.status_code < 300:
            if payload is _NOT_JSON:
                raise ProviderUnreachable("Enable Banking answered with something that is not its API's JSON.",
                                          detail=f"{method} {path}: HTTP {response.status_code}")
            if not isinstance(payload, dict):
                raise _untrusted(f"{method} {path}: the answer is not a JSON object.")
            return payload
        self._raise_for_error(method, path, response, payload, session_bound)

    def _raise_for_error(self, method, path, response, payload, session_bound):
        status = response.status_code
        error = message = None
        if isinstance(payload, dict):
            error = payload.get("error") if isinstance(payload.get("error"), str) else None
            message = payload.get("message") if isinstance(payload.get("message"), str) else None
        detail = self._scrub(f"{method} {path}: HTTP {status} {error or ''} {message or ''}".strip())
        if status == 429 or error == "ASPSP_RATE_LIMIT_EXCEEDED":
            raise RateLimited("The bank limits how often its data can be read: the synchronization will be "
                              "retried later.", reset_at=retry_after(response, self.now()), detail=detail)
        if payload is _NOT_JSON or status >= 500 or error in BANK_DOWN_ERRORS:
            raise ProviderUnreachable("Enable Banking or the bank is unavailable.", detail=detail)
        if error in SESSION_ERRORS:
            raise ConsentExpired("The consent given at the bank has ended: connect the bank again.", detail=detail)
        if error in ACCOUNT_GONE_ERRORS:
            raise AccountUnavailable("The bank no longer gives access to this account: it may be closed.",
                                     detail=detail)
        if error == "WRONG_CONTINUATION_KEY":
            raise _WrongContinuationKey("Enable Banking refused the key of the next page.", detail=detail)
        if error in APPLICATION_ERRORS or (status == 401 and not session_bound):
            raise InvalidCredentials(
                "Enable Banking refuses the application's credentials: check the application id and its private key.",
                detail=detail,
            )
        if status == 401:
            raise ConsentExpired("The consent given at the bank is no longer accepted: connect the bank again.",
                                 detail=detail)
        raise ProviderError(self._scrub(f"Enable Banking refused the request: {message or error or f'HTTP {status}'}"),
                            detail=detail)


    # -- Banks and consent -------------------------------------------

    def _aspsps(self, country: str | None) -> list[dict]:
        payload = self._request("GET", "/aspsps", params={"country": country.upper()} if country else None)
        aspsps = _required(payload, "aspsps", list)
        for index, aspsp in enumerate(aspsps):
            where = f"aspsps[{index}]"
            _required(aspsp, "name", str, where)
            _required(aspsp, "country", str, where)
            validity = _optional(aspsp, "maximum_consent_validity", int, where)
            if validity is not None and validity <= 0:
                raise _untrusted(f"{where}.maximum_consent_validity is not positive.")
        return aspsps

    def list_institutions(self, country=None):
        institutions = []
        for aspsp in self._aspsps(country):
            validity = aspsp.get("maximum_consent_validity")
            institutions.append(Institution(
                # A bank is named by its name and country: both make its identifier.
                identifier=f"{aspsp['country']}:{aspsp['name']}",
                name=aspsp["name"],
                countries=(aspsp["country"],),
                bic=_optional(aspsp, "bic", str, "aspsp"),
                logo_url=_optional(aspsp, "logo", str, "aspsp"),
                is_beta=bool(aspsp.get("beta")),
                max_consent_days=max(1, validity // 86400) if validity else None,
            ))
        return institutions

    def start_connect(self, institution_id, redirect_url, state, consent=None):
        country, _sep, bank_name = institution_id.partition(":")
        if not (country and bank_name):
            raise ProviderError(f"{institution_id!r} is not an Enable Banking bank (COUNTRY:Name).")
        aspsp = next((a for a in self._aspsps(country) if a["name"] == bank_name), None)
        if aspsp is None:
            raise ProviderError(f"Enable Banking no longer lists the bank {bank_name} ({country}).")
        validity = aspsp.get("maximum_consent_validity")
        longest = dt.timedelta(seconds=validity) if validity else DEFAULT_CONSENT
        psu_types = aspsp.get("psu_types") if isinstance(aspsp.get("psu_types"), list) else []
        psu_type = PSU_TYPE if PSU_TYPE in psu_types or not psu_types else psu_types[0]
        valid_until = (self.now() + longest - CONSENT_MARGIN).astimezone(dt.timezone.utc).replace(microsecond=0)
        payload = self._request("POST", "/auth", body={
            "access": {"valid_until": valid_until.isoformat()},
            "aspsp": {"name": aspsp["name"], "country": aspsp["country"]},
            "state": state,
            "redirect_url": redirect_url,
            "psu_type": psu_type,
        })
        url = _required(payload, "url", str)
        if not url.startswith(("https://", "http://")):
            raise InvalidData("Enable Banking sent a bank address that is not a web address.")
        return ConnectStep(redirect_url=url)

    def finish_connect(self, institution_id, callback_params, consent=None):
        if callback_params.get("error"):
            reason = self._scrub(str(callback_params.get("error_description") or callback_params["error"]))[:200]
            raise ProviderError("The connection was refused at the bank: no consent was given.",
                                detail=f"{callback_params['error']}: {reason}"[:250])
        code = callback_params.get("code")
        if not (isinstance(code, str) and code):
            raise ProviderError("The bank sent the user back without an authorization code.")
        payload = self._request("POST", "/sessions", body={"code": code})
        session_id = _required(payload, "session_id", str)
        accounts = [record for index, raw in enumerate(_required(payload, "accounts", list))
                    if (record := self._account_record(raw, f"accounts[{index}]"))]
        aspsp = _optional(payload, "aspsp", dict) or {}
        return Consent(
            identifier=session_id,
            valid_until=_datetime(_optional(payload, "access", dict), "valid_until", "access"),
            data={"session_id": session_id, "aspsp": {k: aspsp.get(k) for k in ("name", "country")},
                  "accounts": accounts},
        )

    def refresh(self, consent, automatic):
        if consent.valid_until and self.now() >= consent.valid_until:
            raise ConsentExpired(
                "The consent given at the bank has expired: connect the bank again.",
                valid_until=consent.valid_until,
            )

    # -- Accounts, balances, transactions ----------------------------

    @staticmethod
    def _account_record(raw, where: str) -> dict | None:
        """What the consent keeps of an account; None for an account the bank cannot give (no uid)."""
        uid = _optional(raw, "uid", str, where)
        if not uid:
            return None
        return {
            "uid": uid,
            "identification_hash": _optional(raw, "identification_hash", str, where),
            "iban": _account_number(raw, "account_id", where),
            "name": _optional(raw, "name", str, where),
            "currency": _required(raw, "currency", str, where),
        }

    def list_accounts(self, consent):
        session_id = consent.data.get("session_id") or consent.identifier
        session = self._request("GET", f"/sessions/{quote(session_id, safe='')}", session_bound=True)
        status = _required(session, "status", str, "session")
        if status != "AUTHORIZED":
            raise ConsentExpired("The consent given at the bank is no longer active: connect the bank again.",
                                 detail=f"Session status {status}.")
        known = {record["uid"]: record for record in consent.data.get("accounts") or []}
        hashes = {
            entry.get("uid"): entry.get("identification_hash")
            for entry in _optional(session, "accounts_data", list, "session") or [] if isinstance(entry, dict)
        }
        records = []
        for index, uid in enumerate(_required(session, "accounts", list, "session")):
            if not isinstance(uid, str):
                raise _untrusted(f"session.accounts[{index}] is not an account uid.")
            record = known.get(uid) or self._account_record(
                dict(self._request("GET", f"/accounts/{quote(uid, safe='')}/details", session_bound=True), uid=uid),
                f"accounts/{index}/details",
            )
            if isinstance(hashes.get(uid), str):
                record["identification_hash"] = hashes[uid]
            records.append(record)
        consent.data["accounts"] = records
        return [
            BankAccount(identifier=record["uid"], name=record["name"] or record["iban"] or record["uid"],
                        currency=record["currency"], account_number=record["iban"],
                        stable_identifier=record.get("identification_hash"))
            for record in records
        ]

    def get_balance(self, consent, account_id):
        payload = self._request("GET", f"/accounts/{quote(account_id, safe='')}/balances", session_bound=True)
        by_type = {}
        for index, balance in enumerate(_required(payload, "balances", list)):
            by_type.setdefault(_required(balance, "balance_type", str, f"balances[{index}]"), (index, balance))
        kind = next((kind for kind in BALANCE_TYPES if kind in by_type), None)
        if kind is None:
            raise InvalidData("Enable Banking gave no booked balance for the account.",
                              detail=f"Balance types given: {', '.join(sorted(by_type)) or 'none'}.")
        index, balance = by_type[kind]
        where = f"balances[{index}]"
        amount = _required(balance, "balance_amount", dict, where)
        return Balance(
            amount=_amount(amount, f"{where}.balance_amount"),
            currency=_required(amount, "currency", str, f"{where}.balance_amount"),
            reference_date=_date(balance, "reference_date", where),
        )

    def iter_transaction_pages(self, consent, account_id, date_from, date_to):
        # The API assumes UTC dates and refuses a date_from in the future: ask only up to today.
        today = self.now().astimezone(dt.timezone.utc).date()
        date_from, date_to = min(date_from, today), min(date_to, today)
        if date_from > date_to:
            return
        params = {"date_from": date_from.isoformat(), "date_to": date_to.isoformat()}
        try:
            yield from self._pages(account_id, params)
        except _WrongContinuationKey:
            # A key is valid only for a while: one fresh listing from the first page.
            _logger.info("Enable Banking refused a continuation key: reading the transactions again")
            yield LISTING_RESTARTED
            try:
                yield from self._pages(account_id, params)
            except _WrongContinuationKey as error:
                raise ProviderError("Enable Banking kept refusing the keys of its own pages of transactions.",
                                    detail=error.detail) from None

    def _pages(self, account_id: str, params: dict):
        path = f"/accounts/{quote(account_id, safe='')}/transactions"
        seen, key, count = set(), None, 0
        given = set()  # the hash of each page given: a page holds its transactions, not the listing
        for _page in range(MAX_PAGES):
            # Every page repeats the first request's parameters: the key alone is refused.
            payload = self._request("GET", path, params=dict(params, continuation_key=key) if key else params,
                                    session_bound=True)
            page = []
            for raw in _required(payload, "transactions", list):
                if txn := self._transaction(raw, f"transactions[{count}]"):
                    page.append(txn)
                count += 1
            fingerprint = hash(tuple(page))
            if page and fingerprint in given:
                # The bank served a page again under a new key: a transaction without identifier
                # on it could not be told from a second one.
                _logger.info("Enable Banking sent a page of transactions again: it is skipped")
            else:
                given.add(fingerprint)
                yield page
            key = _optional(payload, "continuation_key", str)
            if not key:  # an empty page may still carry a key: only its absence ends the listing
                return
            if key in seen:
                raise InvalidData("Enable Banking sent the same page key twice: its transactions would never end.")
            seen.add(key)
        raise InvalidData(f"Enable Banking sent more than {MAX_PAGES} pages of transactions.")

    def _transaction(self, raw, where: str) -> Transaction | None:
        status = STATUSES.get(_required(raw, "status", str, where))
        if status is None:
            return None
        money = _required(raw, "transaction_amount", dict, where)
        amount = abs(_amount(money, f"{where}.transaction_amount"))
        # Unsigned amount + indicator; a signed string with DBIT is not negated twice.
        indicator = _required(raw, "credit_debit_indicator", str, where)
        if indicator not in ("CRDT", "DBIT"):
            raise InvalidData("Enable Banking sent a transaction that is neither a credit nor a debit.",
                              detail=f"{where}.credit_debit_indicator: {indicator[:10]!r}")
        is_debit = indicator == "DBIT"
        if is_debit and amount:
            amount = -amount
        booking_date = (_date(raw, "booking_date", where) or _date(raw, "value_date", where)
                        or _date(raw, "transaction_date", where))
        if booking_date is None:
            raise InvalidData("Enable Banking sent a transaction without a date.", detail=where)
        # entry_reference is stable; transaction_id may change between two readings.
        identifier = next((text.strip() for text in (_optional(raw, "entry_reference", str, where),
                                                      _optional(raw, "transaction_id", str, where))
                           if text and text.strip()), None)
        remittance = _optional(raw, "remittance_information", list, where) or []
        if not all(isinstance(line, str) for line in remittance):
            raise _untrusted(f"{where}.remittance_information holds something else than texts.")
        # The other party: who was paid on a debit, who paid on a credit.
        party = "creditor" if is_debit else "debtor"
        foreign_currency = foreign_amount = None
        instructed = _optional(_optional(raw, "exchange_rate", dict, where), "instructed_amount", dict, where)
        currency = _required(money, "currency", str, f"{where}.transaction_amount")
        if instructed and instructed.get("currency") != currency:
            foreign_currency = _required(instructed, "currency", str, f"{where}.exchange_rate.instructed_amount")
            foreign_amount = abs(_amount(instructed, f"{where}.exchange_rate.instructed_amount"))
            foreign_amount = -foreign_amount if is_debit else foreign_amount
        return Transaction(
            identifier=identifier,
            status=status,
            amount=amount,
            currency=currency,
            booking_date=booking_date,
            label=" ".join(line.strip() for line in remittance if line.strip()),
            partner_name=_optional(_optional(raw, party, dict, where), "name", str, f"{where}.{party}"),
            partner_account_number=_account_number(raw, f"{party}_account", where),
            foreign_currency=foreign_currency,
            foreign_amount=foreign_amount,
        )
