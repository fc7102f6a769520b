# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""GoCardless Bank Account Data (formerly Nordigen), API v2.

A connection is an end-user agreement (what may be read, for how long) and a
requisition (the user's trip to the bank, which links the accounts):

- ``start_connect`` creates both and sends the user to the requisition's
  link. Their ids come back through ``ConnectStep.data``, which the Odoo layer
  keeps and hands back as ``callback_params["connect_data"]``: the API cannot
  find a requisition by its reference. ``state`` is the requisition's
  reference (GoCardless wants it unique) and returns as ``?ref=``; it is
  also added to the redirect address, where the Odoo layer looks for it.
- ``finish_connect`` reads the requisition: linked (LN), it is the consent.
- Access tokens last a day, refresh tokens a month; both are kept in
  ``consent.data["tokens"]`` with a fingerprint of the secrets that made
  them, so that the next synchronization reuses them.
- Each account allows 4 successful calls a day per scope (details, balances,
  transactions): a synchronization makes one balances and one transactions
  call per account, ``list_accounts`` one details call. A 429 is never
  retried: asking again before the reset only earns another refusal.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from urllib.parse import quote

import requests

from . import gocardless_records as records
from .base import (
    PENDING,
    POSTED,
    AccountUnavailable,
    BankProvider,
    BankAccount,
    ConnectStep,
    Consent,
    ConnectionSuspended,
    ConsentExpired,
    InvalidCredentials,
    InvalidData,
    ProviderError,
    ProviderUnreachable,
    RateLimited,
)
from .http import retrying_session, with_query

_logger = logging.getLogger(__name__)

DEFAULT_API_BASE_URL = "https://bankaccountdata.gocardless.com/api/v2/"
ACCESS_SCOPE = ("balances", "details", "transactions")
# Requisition statuses of a user still on the way (created, giving consent,
# authenticating, selecting accounts, granting access).
UNFINISHED_STATUSES = {"CR", "GC", "UA", "SA", "GA"}
# Renew a token this long before it expires: a request must not outlive it.
TOKEN_MARGIN = dt.timedelta(seconds=60)
EUA_EXPIRED_RE = re.compile(r"(end user agreement|\bEUA\b).*expired", re.IGNORECASE | re.DOTALL)
CONSENT_OVER_TYPES = {"AccessExpiredError"}
# The bank says the account is closed or no longer exists: that account only.
ACCOUNT_GONE_TYPES = {"AccountInactiveError"}
MAX_RETRY_AFTER = 10.0  # seconds: a worker never sleeps longer on a 503


class GoCardlessProvider(BankProvider):
    code = "gocardless"
    name = "GoCardless Bank Account Data"
    default_api_base_url = DEFAULT_API_BASE_URL
    needs_credentials = True

    RETRY_ATTEMPTS = 3
    RETRY_BACKOFF = 0.5  # seconds, doubled at each attempt (tests make it tiny)
    DAILY_ACCOUNT_QUOTA = 4  # successful calls per account, scope and day

    def __init__(self, config):
        super().__init__(config)
        self._session: requests.Session | None = None
        self._tokens: dict = {}

    # ------------------------------------------------------------------
    # HTTP
    # ------------------------------------------------------------------

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            session = retrying_session(self.RETRY_ATTEMPTS, self.RETRY_BACKOFF, MAX_RETRY_AFTER)
            session.headers.update({"Accept": "application/json"})
            self._session = session
        return self._session

    def _url(self, path: str) -> str:
        return (self.config.api_base_url or DEFAULT_API_BASE_URL).rstrip("/") + "/" + path

    def _secrets(self) -> tuple[str, str]:
        credentials = self.config.credentials or {}
        secret_id, secret_key = credentials.get("client_identifier"), credentials.get("client_secret")
        if not (isinstance(secret_id, str) and secret_id and isinstance(secret_key, str) and secret_key):
            raise InvalidCredentials(
                "GoCardless needs the secret id and secret key of your GoCardless account: "
                "an administrator enters them on the aggregator."
            )
        return secret_id, secret_key

    def _mask(self, text: str) -> str:
        """``text`` without any secret or token, and short."""
        credentials = self.config.credentials or {}
        for secret in (credentials.get("client_identifier"), credentials.get("client_secret"),
                       self._tokens.get("access"), self._tokens.get("refresh")):
            if isinstance(secret, str) and len(secret) >= 4:
                text = text.replace(secret, "***")
        return text[:500]

    def _send(self, method: str, path: str, *, params=None, payload=None, token=None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = self.session.request(
                method, self._url(path), params=params, json=payload, headers=headers,
                timeout=self.config.timeout,
            )
        except requests.Timeout:
            raise ProviderUnreachable(
                f"GoCardless did not answer within {self.config.timeout:g} seconds.", detail=f"{method} {path}",
            ) from None
        except requests.RequestException as error:
            # The exception may carry the request (and its secrets): only its type is told.
            raise ProviderUnreachable(
                "GoCardless could not be reached.", detail=f"{method} {path}: {type(error).__name__}",
            ) from None
        _logger.debug("GoCardless %s %s: HTTP %s", method, path, response.status_code)
        return response

    def _json(self, response: requests.Response, path: str):
        try:
            return response.json()
        except ValueError:
            # An HTML page, a proxy's answer, a body cut short.
            raise ProviderUnreachable(
                "GoCardless answered with something that is not its API's.",
                detail=f"HTTP {response.status_code} on {path}, {response.headers.get('Content-Type', '?')}",
            ) from None

    def _error_texts(self, body) -> tuple[str, str, str]:
        """(summary, detail, type) of an error body, masked."""
        if not isinstance(body, dict):
            return "", "", ""
        summary, detail = body.get("summary"), body.get("detail")
        if summary is None and detail is None:
            # Field errors: {"field": {"summary": ..., "detail": ...}, "status_code": 400}
            summary = "; ".join(f"{key}: {value.get('summary') or value.get('detail')}"
                                for key, value in body.items() if isinstance(value, dict))
        return self._mask(str(summary or "")), self._mask(str(detail or "")), str(body.get("type") or "")

    def _raise_error(self, response: requests.Response, path: str):
        status = response.status_code
        if status >= 500:
            raise ProviderUnreachable(f"GoCardless is not available (HTTP {status}).", detail=f"on {path}")
        summary, detail, kind = self._error_texts(self._json(response, path))
        told = " ".join(filter(None, (summary, detail))) or f"HTTP {status}"
        if status == 429:
            raise RateLimited(
                "GoCardless allows only a few requests a day for each account: the next one is possible later.",
                reset_at=records.rate_limit_reset(response.headers, detail, self.now()),
                detail=f"{told} ({path})",
            )
        if status == 409 and "suspend" in told.lower():
            # GoCardless suspends an account after repeated failed accesses.
            raise ConnectionSuspended(
                "GoCardless suspended the access to this account after repeated failures.", detail=told,
            )
        if kind in ACCOUNT_GONE_TYPES:
            raise AccountUnavailable(
                "GoCardless says the bank deactivated this account or it no longer exists.", detail=told,
            )
        if kind in CONSENT_OVER_TYPES or EUA_EXPIRED_RE.search(told):
            raise ConsentExpired(
                "The access given to GoCardless has expired or was withdrawn: connect the bank again.",
                detail=told,
            )
        if status == 401 and "authentication failed" in summary.lower():
            raise InvalidCredentials(
                "GoCardless refused the secret id and secret key: an administrator must check them.",
                detail=told,
            )
        raise ProviderError(f"GoCardless refused the request (HTTP {status}): {summary or told}",
                            detail=f"{told} ({path})")

    # ------------------------------------------------------------------
    # Tokens
    # ------------------------------------------------------------------

    def _owner(self) -> str:
        """Which secrets the tokens belong to, without telling them."""
        secret_id, secret_key = self._secrets()
        return hashlib.sha256(f"{secret_id}\0{secret_key}".encode()).hexdigest()[:16]

    @staticmethod
    def _expiry(expires_at) -> dt.datetime:
        try:
            moment = dt.datetime.fromisoformat(expires_at)
        except (TypeError, ValueError):
            return dt.datetime.min.replace(tzinfo=dt.timezone.utc)
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)

    def _valid(self, expires_at) -> bool:
        return self._expiry(expires_at) > self.now() + TOKEN_MARGIN

    def _store_tokens(self, body, keys: tuple[str, ...]) -> None:
        body = records.obj(body, "token")
        now = self.now()
        for key in keys:
            token, lifetime = body.get(key), body.get(f"{key}_expires")
            if not (isinstance(token, str) and token and type(lifetime) is int):
                raise InvalidData("GoCardless sent no valid token.", detail=f"{key} or {key}_expires missing")
            self._tokens[key] = token
            self._tokens[f"{key}_expires_at"] = (now + dt.timedelta(seconds=lifetime)).isoformat()
        self._tokens["owner"] = self._owner()

    def _new_tokens(self) -> None:
        secret_id, secret_key = self._secrets()
        response = self._send("POST", "token/new/", payload={"secret_id": secret_id, "secret_key": secret_key})
        if response.status_code >= 300:
            self._raise_error(response, "token/new/")
        self._tokens = {}
        self._store_tokens(self._json(response, "token/new/"), ("access", "refresh"))

    def _refresh_tokens(self) -> bool:
        """A new access token from the refresh one; False when it is refused."""
        response = self._send("POST", "token/refresh/", payload={"refresh": self._tokens["refresh"]})
        if response.status_code == 401:
            return False
        if response.status_code >= 300:
            self._raise_error(response, "token/refresh/")
        self._store_tokens(self._json(response, "token/refresh/"), ("access",))
        return True

    def _access_token(self) -> str:
        if self._tokens.get("owner") != self._owner():
            self._tokens = {}  # made with other secrets
        if self._tokens.get("access") and self._valid(self._tokens.get("access_expires_at")):
            return self._tokens["access"]
        if not (self._tokens.get("refresh") and self._valid(self._tokens.get("refresh_expires_at"))
                and self._refresh_tokens()):
            self._new_tokens()
        return self._tokens["access"]

    def _adopt_tokens(self, consent: Consent) -> None:
        """Take the consent's tokens when they outlive ours."""
        stored = consent.data.get("tokens")
        if not (isinstance(stored, dict) and stored.get("owner") == self._owner()):
            return
        if self._expiry(stored.get("access_expires_at")) > self._expiry(self._tokens.get("access_expires_at")):
            self._tokens = dict(stored)

    def _is_invalid_token(self, response: requests.Response) -> bool:
        try:
            summary, detail, _kind = self._error_texts(response.json())
        except ValueError:
            return False
        if EUA_EXPIRED_RE.search(f"{summary} {detail}"):
            return False
        return "invalid token" in summary.lower() or "token is invalid" in detail.lower()

    def _call(self, method: str, path: str, *, params=None, payload=None, consent: Consent | None = None):
        """An authenticated call: the JSON of a 2xx answer, or a typed error.
        An access token the API refuses is renewed once."""
        if consent is not None:
            self._adopt_tokens(consent)
        response = self._send(method, path, params=params, payload=payload, token=self._access_token())
        if response.status_code == 401 and self._is_invalid_token(response):
            self._tokens.pop("access", None)
            response = self._send(method, path, params=params, payload=payload, token=self._access_token())
        if consent is not None:
            consent.data["tokens"] = dict(self._tokens)
        if response.status_code >= 300:
            self._raise_error(response, path)
        return self._json(response, path)

    # ------------------------------------------------------------------
    # Directory and consent
    # ------------------------------------------------------------------

    def list_institutions(self, country=None):
        """Without a country, one call lists every bank: the API's ``country``
        parameter is optional."""
        params = {"country": country.lower()} if country else None
        listed = {}
        for raw in records.array(self._call("GET", "institutions/", params=params), "list of banks"):
            try:
                inst = records.institution(raw, self.DAILY_ACCOUNT_QUOTA)
            except InvalidData as error:
                # One broken entry must not hide thousands of banks.
                _logger.warning("GoCardless: a bank of the list is skipped: %s", error.message)
                continue
            listed.setdefault(inst.identifier, inst)
        return list(listed.values())

    def start_connect(self, institution_id, redirect_url, state, consent=None):
        inst = records.institution(self._call("GET", f"institutions/{quote(institution_id, safe='')}/"),
                                   self.DAILY_ACCOUNT_QUOTA)
        agreement = records.obj(self._call("POST", "agreements/enduser/", payload={
            "institution_id": inst.identifier,
            "max_historical_days": inst.history_days,
            "access_valid_for_days": inst.max_consent_days or records.DEFAULT_DAYS,
            "access_scope": list(ACCESS_SCOPE),
        }), "agreement")
        agreement_id = records.text(agreement.get("id"), "agreement id")
        requisition = records.obj(self._call("POST", "requisitions/", payload={
            # GoCardless sends the reference back as ``ref``: the state rides along by name.
            "redirect": with_query(redirect_url, state=state),
            "institution_id": inst.identifier,
            "agreement": agreement_id,
            "reference": state,
        }), "requisition")
        return ConnectStep(
            redirect_url=records.text(requisition.get("link"), "link to the bank"),
            data={
                "requisition_id": records.text(requisition.get("id"), "requisition id"),
                "agreement_id": agreement_id,
                "institution_id": inst.identifier,
            },
        )

    def _requisition(self, requisition_id: str, consent: Consent | None = None) -> dict:
        requisition = records.obj(
            self._call("GET", f"requisitions/{quote(requisition_id, safe='')}/", consent=consent), "requisition")
        records.text(requisition.get("status"), "requisition status")
        return requisition

    def finish_connect(self, institution_id, callback_params, consent=None):
        connect_data = callback_params.get("connect_data") or {}
        requisition_id = connect_data.get("requisition_id")
        if not (isinstance(requisition_id, str) and requisition_id):
            raise ProviderError("This return from the bank matches no connection request: connect again.")
        requisition = self._requisition(requisition_id)
        status = requisition["status"]
        ref = callback_params.get("ref")
        if ref and requisition.get("reference") != ref:
            raise ProviderError("The bank sent back another connection than the one started: connect again.")
        if status == "LN":
            return self._consent(requisition, institution_id)
        if status == "RJ" or callback_params.get("error"):
            raise ProviderError(
                "Access was refused at the bank (cancelled or rejected): connect again and accept "
                "to share your accounts.",
                detail=self._mask(f"status {status} {callback_params.get('error') or ''} "
                                  f"{callback_params.get('details') or ''}".strip()),
            )
        if status in ("EX", "SU"):
            raise ConsentExpired("This connection request has expired or was suspended: connect again.",
                                 detail=f"requisition status {status}")
        if status in UNFINISHED_STATUSES:
            raise ProviderError("The connection was not completed at the bank: connect again and follow it "
                                "to the end.", detail=f"requisition status {status}")
        raise InvalidData("GoCardless sent an unknown requisition status.", detail=status[:20])

    def _consent(self, requisition: dict, institution_id: str) -> Consent:
        accounts = [records.text(a, "account id") for a in records.array(requisition.get("accounts"), "accounts")]
        agreement_id = records.text(requisition.get("agreement"), "agreement id")
        agreement = records.obj(self._call("GET", f"agreements/enduser/{quote(agreement_id, safe='')}/"),
                                "agreement")
        # The access runs from the user's acceptance at the bank.
        since = (records.aware_datetime(agreement.get("accepted"), "agreement date")
                 or records.aware_datetime(agreement.get("created"), "agreement date"))
        if since is None:
            raise InvalidData("GoCardless sent no date for the agreement.", detail=agreement_id)
        access_days = records.days(agreement.get("access_valid_for_days"), "access length", records.DEFAULT_DAYS)
        return Consent(
            identifier=records.text(requisition.get("id"), "requisition id"),
            valid_until=since + dt.timedelta(days=access_days),
            data={
                "requisition_id": requisition["id"],
                "agreement_id": agreement_id,
                "institution_id": requisition.get("institution_id") or institution_id,
                "accounts": accounts,
                "tokens": dict(self._tokens),
            },
        )

    def _check_consent(self, consent: Consent) -> None:
        if consent.valid_until and self.now() >= consent.valid_until:
            raise ConsentExpired(
                "The access given to GoCardless has expired: connect the bank again.",
                valid_until=consent.valid_until,
            )

    def refresh(self, consent, automatic):
        # GoCardless reads the bank at each call: there is nothing to trigger.
        self._check_consent(consent)

    # ------------------------------------------------------------------
    # Accounts, balances, transactions
    # ------------------------------------------------------------------

    @staticmethod
    def _account_path(account_id: str, scope: str = "") -> str:
        return f"accounts/{quote(account_id, safe='')}/" + (f"{scope}/" if scope else "")

    def list_accounts(self, consent):
        self._check_consent(consent)
        requisition = self._requisition(consent.data.get("requisition_id") or consent.identifier, consent)
        if requisition["status"] in ("EX", "SU"):
            raise ConsentExpired("The access given to GoCardless has expired: connect the bank again.",
                                 detail=f"requisition status {requisition['status']}")
        account_ids = [records.text(a, "account id") for a in records.array(requisition.get("accounts"), "accounts")]
        consent.data["accounts"] = account_ids
        accounts = []
        for account_id in account_ids:
            try:
                accounts.append(self._bank_account(consent, account_id))
            except AccountUnavailable as error:
                # A requisition may still name an account the bank closed: the others are shared all the same.
                _logger.info("GoCardless: account %s left out: %s", account_id, error.detail)
        return accounts

    def _bank_account(self, consent: Consent, account_id: str) -> BankAccount:
        body = records.obj(self._call("GET", self._account_path(account_id, "details"), consent=consent), "account")
        details = records.obj(body.get("account"), "account details")
        iban = records.text(details.get("iban"), "IBAN", required=False)
        owner = records.text(details.get("ownerName"), "account owner", required=False)
        if not iban:
            # Some banks leave it out of the details; the account's metadata has it.
            meta = records.obj(self._call("GET", self._account_path(account_id), consent=consent), "account")
            iban = records.text(meta.get("iban"), "IBAN", required=False)
            owner = owner or records.text(meta.get("owner_name"), "account owner", required=False)
        number = iban or records.text(details.get("bban"), "BBAN", required=False)
        return BankAccount(
            identifier=account_id,
            name=records.first_text(details.get("name"), details.get("displayName"), details.get("product"))
            or number or account_id,
            currency=records.text(details.get("currency"), "account currency").upper(),
            account_number=number,
            holder_name=owner,
        )

    def get_balance(self, consent, account_id):
        self._check_consent(consent)
        body = self._call("GET", self._account_path(account_id, "balances"), consent=consent)
        return records.booked_balance(body, account_id)

    def get_transactions(self, consent, account_id, date_from, date_to):
        self._check_consent(consent)
        # The API refuses a date_from in the future; its "today" is UTC's.
        date_to = min(date_to, self.now().astimezone(dt.timezone.utc).date())
        if date_from > date_to:
            return []
        body = records.obj(self._call(
            "GET", self._account_path(account_id, "transactions"), consent=consent,
            params={"date_from": date_from.isoformat(), "date_to": date_to.isoformat()},
        ), "transactions")
        lists = records.obj(body.get("transactions"), "transactions")
        booked = records.array(lists.get("booked"), "booked transactions")
        pending = records.array(lists.get("pending") or [], "pending transactions")
        return ([records.transaction(raw, POSTED) for raw in booked]
                + [records.transaction(raw, PENDING) for raw in pending])
