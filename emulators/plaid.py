# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A local emulator of Plaid's API (https://plaid.com/docs/api/), Sandbox flavour.

Every endpoint is a POST of JSON carrying ``client_id`` and ``secret`` (or the
``PLAID-CLIENT-ID`` and ``PLAID-SECRET`` headers); errors come as Plaid's body
(``error_type``, ``error_code``, ``error_message``, ``display_message``,
``request_id``) with its status; every answer has a ``request_id``. Amounts
are JSON numbers written from Decimals, digit for digit. Hosted Link is a
small HTML login page at ``/hl/<id>`` (Sandbox credentials ``user_good`` /
``pass_good``) that sends the user to ``completion_redirect_uri``.
Notifications are not sent: :meth:`PlaidEmulator.signed_webhook` makes one,
signed as Plaid signs them, for the test to post where it wants.

    python -m emulators.plaid [--port N]

prints its URL (the API base URL), a client id and a secret. Time comes from
``emulator.now``. Wordings of errors that our sources did not confirm are
marked so in ``plaid_bank.py``.

Endpoints: /institutions/get, /institutions/get_by_id, /link/token/create
(update mode with ``access_token``), /link/token/get,
/item/public_token/exchange, /item/get, /accounts/get, /transactions/sync,
/webhook_verification_key/get, /sandbox/item/reset_login,
/sandbox/public_token/create.

From a test, without a browser::

    with PlaidEmulator(now=clock, sample_data=False) as emulator:
        checking = emulator.add_account("Plaid Checking", current="110.50")
        step = provider.start_connect(SANDBOX_INSTITUTION_ID, redirect_url, state)
        back_to = emulator.complete_link(step.data["link_token"])  # the Hosted Link page, passed
        consent = provider.finish_connect(SANDBOX_INSTITUTION_ID, {..., "connect_data": step.data})
        emulator.add_transaction(checking, "12.80", name="Coffee")  # Plaid's sign: + is money out
        headers, body = emulator.signed_webhook(consent.identifier, "TRANSACTIONS", "SYNC_UPDATES_AVAILABLE")
"""
from __future__ import annotations

import argparse
import copy
import datetime as dt
import hashlib
import html
import json
import re
import secrets
import uuid
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from .base import EmulatorServer, Fault, Request, Response
from .plaid_bank import (
    AUTO,
    LINK_TOKEN_LIFETIME,
    SANDBOX_INSTITUTION_ID,
    SANDBOX_PASSWORD,
    SANDBOX_USERNAME,
    UPDATE_LINK_TOKEN_LIFETIME,
    Item,
    LinkOver,
    LinkToken,
    PlaidApiError,
    PlaidBank,
    WrongLogin,
    invalid_field,
    invalid_input,
    item_error,
    missing_fields,
    plaid_id,
    stamp,
)

DEFAULT_CLIENT_ID = "5f0c1e2d3b4a596877665544"
DEFAULT_SECRET = "emulated0secret0a1b2c3d4e5f6a7b"
COUNTRY_CODES = frozenset({"US", "CA", "GB", "ES", "FR", "IE", "NL", "DE", "IT", "PL", "DK", "NO", "SE", "EE", "LT",
                           "LV", "PT", "BE", "AT", "FI"})
LANGUAGES = frozenset({"da", "de", "en", "es", "et", "fr", "hi", "it", "ja", "lt", "lv", "nl", "no", "pl", "pt", "ro",
                       "sv", "vi", "zh"})
PRODUCTS = frozenset({"assets", "auth", "balance", "employment", "identity", "income_verification", "investments",
                      "liabilities", "payment_initiation", "signal", "statements", "transactions", "transfer"})
# error_code of a 429 by endpoint (ACCOUNTS_LIMIT is confirmed; the others are believed).
RATE_LIMIT_CODES = {"/accounts/get": "ACCOUNTS_LIMIT", "/transactions/sync": "TRANSACTIONS_SYNC_LIMIT",
                    "/institutions/get": "INSTITUTIONS_GET_LIMIT"}
_NUMBER = "\u0000number:"
_NUMBER_RE = re.compile(r'"\\u0000number:(-?[0-9]+(?:\.[0-9]+)?)"')

__all__ = ["AUTO", "DEFAULT_CLIENT_ID", "DEFAULT_SECRET", "SANDBOX_INSTITUTION_ID", "SANDBOX_PASSWORD",
           "SANDBOX_USERNAME", "PlaidEmulator", "encode_json", "plaid_error"]


def encode_json(body) -> bytes:
    """JSON where a Decimal is written as the number it is (``0.3``, ``1500``,
    ``12.345``), not through a binary float."""
    def number(value):
        if isinstance(value, Decimal):
            return f"{_NUMBER}{value:f}"
        raise TypeError(f"{type(value).__name__} is not JSON")
    return _NUMBER_RE.sub(r"\1", json.dumps(body, default=number, ensure_ascii=False)).encode()


def plaid_error(error_type: str, error_code: str, error_message: str = "", display_message: str | None = None
                ) -> dict:
    """An error body as Plaid sends it, for ``fail_next``."""
    return {"error_type": error_type, "error_code": error_code, "error_message": error_message,
            "display_message": display_message, "request_id": plaid_id(15)}


def _page(title: str, content: str, status: int = 200) -> Response:
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>
<body><h1>{html.escape(title)}</h1>
{content}
</body></html>"""
    return Response(status, page, content_type="text/html; charset=utf-8")


class PlaidEmulator(EmulatorServer):
    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, now=None, client_id: str = DEFAULT_CLIENT_ID,
                 secret: str = DEFAULT_SECRET, sample_data: bool = True):
        super().__init__(host, port)
        self.now = now or (lambda: dt.datetime.now(dt.timezone.utc))
        self.bank = PlaidBank(lambda: self.now(), client_id, secret)
        self.webhook_keys: dict[str, dict] = {}  # kid -> {"private_key", "jwk"}
        self.webhook_kid: str | None = None
        self.rotate_webhook_key()
        routes = {
            "/institutions/get": self._institutions_get,
            "/institutions/get_by_id": self._institutions_get_by_id,
            "/link/token/create": self._link_token_create,
            "/link/token/get": self._link_token_get,
            "/item/public_token/exchange": self._public_token_exchange,
            "/item/get": self._item_get,
            "/accounts/get": self._accounts_get,
            "/transactions/sync": self._transactions_sync,
            "/webhook_verification_key/get": self._webhook_verification_key_get,
            "/sandbox/item/reset_login": self._sandbox_reset_login,
            "/sandbox/public_token/create": self._sandbox_public_token_create,
        }
        for path, handler in routes.items():
            self.route("POST", path, self._api(handler))
        self.route("GET", "/hl/{hosted_id}", self._hosted_link_page)
        self.route("POST", "/hl/{hosted_id}", self._hosted_link_answer)
        if sample_data:
            self.bank.add_sample_data()

    @property
    def api_url(self) -> str:
        """Plaid's paths sit at the root: the API base URL is the server's."""
        return self.url

    # -- for tests: the bank's side ------------------------------------------------

    def add_institution(self, institution_id: str, name: str, country_codes=("US",), **kwargs) -> dict:
        with self._lock:
            return self.bank.add_institution(institution_id, name, country_codes, **kwargs)

    def add_generated_institutions(self, count: int, country: str = "US", prefix: str = "ins_gen_") -> None:
        with self._lock:
            self.bank.add_generated_institutions(count, country, prefix)

    def add_account(self, name: str = "Plaid Checking", **kwargs) -> str:
        """A customer account (see :meth:`PlaidBank.add_account`); returns its key."""
        with self._lock:
            return self.bank.add_account(name, **kwargs)

    def account_id(self, item_id: str, key: str) -> str:
        """The ``account_id`` an Item gives the customer account ``key``."""
        with self._lock:
            return self.bank.items[item_id].account_id_of(key)

    def set_balance(self, account: str, **balances) -> None:
        with self._lock:
            self.bank.set_balance(account, **balances)

    def add_transaction(self, account: str, amount, **kwargs) -> dict:
        """Plaid's sign: a positive ``amount`` is money out. See :meth:`PlaidBank.add_transaction`."""
        with self._lock:
            return self.bank.add_transaction(account, amount, **kwargs)

    def modify_transaction(self, transaction_id: str, **fields) -> dict:
        with self._lock:
            return self.bank.modify_transaction(transaction_id, **fields)

    def remove_transaction(self, transaction_id: str) -> None:
        with self._lock:
            self.bank.remove_transaction(transaction_id)

    def post_pending(self, transaction_id: str, **kwargs) -> dict:
        """The pending transaction posts under a new id (see :meth:`PlaidBank.post_pending`)."""
        with self._lock:
            return self.bank.post_pending(transaction_id, **kwargs)

    def create_item(self, institution_id: str = SANDBOX_INSTITUTION_ID, **kwargs) -> Item:
        """An Item as if the user had gone through Link."""
        with self._lock:
            return self.bank.create_item(institution_id, **kwargs)

    def item(self, item_id: str) -> Item:
        return self.bank.items[item_id]

    def link(self, link_token: str) -> LinkToken:
        return self.bank.link_tokens[link_token]

    def require_login(self, item_id: str) -> None:
        """The bank wants the user again: ITEM_LOGIN_REQUIRED until Link's update mode."""
        with self._lock:
            self.bank.require_login(item_id)

    def revoke(self, item_id: str, error_code: str = "USER_PERMISSION_REVOKED") -> None:
        """The user withdrew the access (or did not grant it: ACCESS_NOT_GRANTED)."""
        with self._lock:
            self.bank.revoke(item_id, error_code)

    def remove_item(self, item_id: str) -> None:
        """The Item is deleted: its access token is unknown from now on."""
        with self._lock:
            self.bank.remove_item(item_id)

    def rate_limit(self, path: str | None = None, times: int = 1) -> None:
        """The next ``times`` calls (to ``path``, or any) get Plaid's 429."""
        code = RATE_LIMIT_CODES.get(path, "RATE_LIMIT")
        body = plaid_error("RATE_LIMIT_EXCEEDED", code,
                           "rate limit exceeded for attempts to access this item. please try again later")
        self.fail_next(Fault(status=429, body=body, path=f"^{re.escape(path)}$" if path else None), times=times)

    def interrupt_pagination(self, change=None, times: int = 1) -> None:
        """The next ``times`` requests for a page after a listing's first find
        the data changed (TRANSACTIONS_SYNC_MUTATION_DURING_PAGINATION);
        ``change`` (a callable) changes it for real first."""
        with self._lock:
            self.bank.pagination_interruptions.extend([change] * times)

    def complete_link(self, link: str, username: str = SANDBOX_USERNAME, password: str = SANDBOX_PASSWORD
                      ) -> str | None:
        """What the user does on the Hosted Link page, without HTTP. ``link``:
        the link token or the ``hosted_link_url``. Returns where the user is
        sent (``completion_redirect_uri``); raises WrongLogin on a wrong
        password, LinkOver once the link expired or was used."""
        with self._lock:
            return self.bank.complete_link(self._link_of(link), username, password)

    def cancel_link(self, link: str) -> str | None:
        with self._lock:
            return self.bank.exit_link(self._link_of(link))

    def _link_of(self, link: str) -> LinkToken:
        if link.startswith(("http://", "https://")):
            found = self.bank.link_by_hosted_id(urlsplit(link).path.rsplit("/", 1)[-1])
        else:
            found = self.bank.link_tokens.get(link)
        if found is None:
            raise KeyError(f"no Link token or Hosted Link page {link}")
        return found

    # -- for tests: webhooks ---------------------------------------------------------

    def rotate_webhook_key(self, expire_current: bool = False) -> str:
        """A new signing key (P-256), used from now on; returns its kid. The
        current one stays known, and is marked expired if asked."""
        with self._lock:
            now = int(self.now().timestamp())
            current = self.webhook_keys.get(self.webhook_kid)
            if expire_current and current:
                current["jwk"]["expired_at"] = now
            private_key = ec.generate_private_key(ec.SECP256R1())
            kid = str(uuid.uuid4())
            jwk = ECAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
            jwk.update({"alg": "ES256", "kid": kid, "use": "sig", "created_at": now, "expired_at": None})
            self.webhook_keys[kid] = {"private_key": private_key, "jwk": jwk}
            self.webhook_kid = kid
            return kid

    def sign_webhook_body(self, body: bytes, *, iat: int | None = None, private_key=None, kid: str | None = None
                          ) -> str:
        """The ``Plaid-Verification`` JWT of ``body``: ES256, ``kid`` in its
        header, ``iat`` and ``request_body_sha256`` in its claims. The other
        arguments make wrong ones for tests."""
        claims = {"iat": int(self.now().timestamp()) if iat is None else iat,
                  "request_body_sha256": hashlib.sha256(body).hexdigest()}
        key = private_key or self.webhook_keys[self.webhook_kid]["private_key"]
        return jwt.encode(claims, key, algorithm="ES256", headers={"kid": kid or self.webhook_kid})

    def signed_webhook(self, item_id: str, webhook_type: str, webhook_code: str, **extra) -> tuple[dict, bytes]:
        """(headers with lower-case names, raw body) of a notification as Plaid
        sends it; ``extra`` adds or replaces body fields."""
        payload = {"environment": "sandbox", "item_id": item_id, "webhook_code": webhook_code,
                   "webhook_type": webhook_type}
        if (webhook_type, webhook_code) == ("TRANSACTIONS", "SYNC_UPDATES_AVAILABLE"):
            payload.update(initial_update_complete=True, historical_update_complete=True)
        elif (webhook_type, webhook_code) == ("ITEM", "ERROR"):
            payload["error"] = {**item_error("ITEM_LOGIN_REQUIRED"), "status": 400}
        payload.update(extra)
        body = json.dumps(payload, indent=2, ensure_ascii=False).encode()  # Plaid's bodies are indented
        return {"content-type": "application/json", "plaid-verification": self.sign_webhook_body(body)}, body

    # -- plumbing --------------------------------------------------------------------

    def _api(self, handler):
        def handle(request: Request) -> Response:
            try:
                try:
                    body = request.json()
                except (ValueError, UnicodeDecodeError):
                    body = None
                if not isinstance(body, dict):
                    raise PlaidApiError(400, "INVALID_REQUEST", "INVALID_BODY", "body could not be parsed as JSON")
                self._authenticate(request, body)
                status, reply = 200, handler(body)
            except PlaidApiError as error:
                status, reply = error.status, dict(error.body)
            reply["request_id"] = plaid_id(15)
            return Response(status, encode_json(reply))
        return handle

    def _authenticate(self, request: Request, body: dict) -> None:
        client_id = body.get("client_id") or request.headers.get("plaid-client-id")
        secret = body.get("secret") or request.headers.get("plaid-secret")
        missing = [name for name, value in (("client_id", client_id), ("secret", secret)) if not value]
        if missing:
            raise missing_fields(*missing)
        if not (isinstance(client_id, str) and isinstance(secret, str)
                and secrets.compare_digest(client_id.encode(), self.bank.client_id.encode())
                and secrets.compare_digest(secret.encode(), self.bank.secret.encode())):
            raise invalid_input("INVALID_API_KEYS", "invalid client_id or secret provided")

    def not_found(self, request: Request) -> Response:
        return Response(404, encode_json(plaid_error("INVALID_REQUEST", "NOT_FOUND", "not found")))

    @staticmethod
    def _require(body: dict, *names: str) -> None:
        missing = [name for name in names if body.get(name) in (None, "", [])]
        if missing:
            raise missing_fields(*missing)

    @staticmethod
    def _integer(body: dict, name: str, low: int, high: int | None, default: int | None = None) -> int:
        value = body.get(name, default)
        if type(value) is not int or value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise invalid_field(f"{name} must be an integer {bound}")
        return value

    @staticmethod
    def _country_codes(value) -> set[str]:
        if not isinstance(value, list) or not value or not all(code in COUNTRY_CODES for code in value):
            raise invalid_field("country_codes must be a non-empty list of supported country codes")
        return set(value)

    def _item_view(self, item: Item) -> dict:
        institution = self.bank.institutions.get(item.institution_id, {})
        return {
            "item_id": item.item_id, "institution_id": item.institution_id,
            "institution_name": institution.get("name"), "webhook": item.webhook or "", "auth_method": None,
            "error": item.error, "available_products": ["balance", "identity"], "billed_products": ["transactions"],
            "products": ["transactions"], "consented_products": ["transactions"],
            "consent_expiration_time": stamp(item.consent_expiration_time) if item.consent_expiration_time else None,
            "update_type": "background", "created_at": stamp(item.created),
        }

    @staticmethod
    def _institution_view(institution: dict, with_metadata: bool) -> dict:
        if with_metadata:
            return dict(institution)
        return {key: value for key, value in institution.items() if key not in ("url", "primary_color", "logo")}

    # -- institutions --------------------------------------------------------------------

    def _institutions_get(self, body: dict) -> dict:
        self._require(body, "count", "offset", "country_codes")
        count = self._integer(body, "count", 1, 500)
        offset = self._integer(body, "offset", 0, None)
        countries = self._country_codes(body["country_codes"])
        options = body.get("options") if isinstance(body.get("options"), dict) else {}
        products = set(options.get("products") or ())
        matching = [inst for inst in self.bank.institutions.values()
                    if countries.intersection(inst["country_codes"]) and products.issubset(inst["products"])]
        with_metadata = options.get("include_optional_metadata") is True
        return {"institutions": [self._institution_view(inst, with_metadata)
                                 for inst in matching[offset:offset + count]],
                "total": len(matching)}

    def _institutions_get_by_id(self, body: dict) -> dict:
        self._require(body, "institution_id", "country_codes")
        countries = self._country_codes(body["country_codes"])
        institution = self.bank.institution(body["institution_id"])
        if not countries.intersection(institution["country_codes"]):
            raise invalid_input("INVALID_INSTITUTION", "invalid institution_id provided")
        options = body.get("options") if isinstance(body.get("options"), dict) else {}
        return {"institution": self._institution_view(institution, options.get("include_optional_metadata") is True)}

    # -- Link and Items ------------------------------------------------------------------

    def _link_token_create(self, body: dict) -> dict:
        update_mode = bool(body.get("access_token"))
        missing = [name for name in ("client_name", "language", "country_codes") if not body.get(name)]
        user = body.get("user")
        if not (isinstance(user, dict) and isinstance(user.get("client_user_id"), str) and user["client_user_id"]):
            missing.append("user.client_user_id")
        if not update_mode and not body.get("products"):
            missing.append("products")
        if missing:
            raise missing_fields(*missing)
        if body["language"] not in LANGUAGES:
            raise invalid_field("language must be a supported language code")
        self._country_codes(body["country_codes"])
        products = body.get("products") or []
        if not isinstance(products, list) or not set(products) <= PRODUCTS:
            raise invalid_field("products must be a list of Plaid products")
        update_item = self.bank.item_of(body["access_token"], for_data=False) if update_mode else None
        if body.get("institution_id") is not None:
            self.bank.institution(body["institution_id"])
        transactions = body.get("transactions", {})
        if not isinstance(transactions, dict):
            raise invalid_field("transactions must be an object")
        if "days_requested" in transactions:
            self._integer(transactions, "days_requested", 1, 730)
        webhook = body.get("webhook")
        if webhook is not None and not (isinstance(webhook, str) and webhook.startswith(("http://", "https://"))):
            raise invalid_field("webhook must be a URL")
        hosted_link = body.get("hosted_link")
        if hosted_link is not None and not (
                isinstance(hosted_link, dict)
                and isinstance(hosted_link.get("completion_redirect_uri", ""), str)):
            raise invalid_field("hosted_link must be an object; completion_redirect_uri a URI")
        request = {key: value for key, value in body.items() if key not in ("client_id", "secret", "access_token")}
        link = self.bank.create_link_token(request, update_item, hosted=hosted_link is not None,
                                           lifetime=UPDATE_LINK_TOKEN_LIFETIME if update_mode else LINK_TOKEN_LIFETIME)
        reply = {"link_token": link.link_token, "expiration": stamp(link.expiration)}
        if link.hosted_id:
            reply["hosted_link_url"] = f"{self.url}/hl/{link.hosted_id}"
        return reply

    def _link_token_get(self, body: dict) -> dict:
        self._require(body, "link_token")
        link = self.bank.link_tokens.get(body["link_token"]) if isinstance(body["link_token"], str) else None
        if link is None:
            raise invalid_input("INVALID_LINK_TOKEN", "invalid link_token provided")
        request = link.request
        return {
            "link_token": link.link_token, "created_at": stamp(link.created), "expiration": stamp(link.expiration),
            "metadata": {"initial_products": request.get("products") or [], "webhook": request.get("webhook"),
                         "country_codes": request.get("country_codes"), "language": request.get("language"),
                         "institution_data": None, "account_filters": None, "redirect_uri": None,
                         "client_name": request.get("client_name")},
            "link_sessions": copy.deepcopy(link.sessions),
        }

    def _public_token_exchange(self, body: dict) -> dict:
        self._require(body, "public_token")
        item = self.bank.exchange(body["public_token"])
        return {"access_token": item.access_token, "item_id": item.item_id}

    def _item_get(self, body: dict) -> dict:
        self._require(body, "access_token")
        item = self.bank.item_of(body["access_token"], for_data=False)
        return {"item": self._item_view(item),
                "status": {"transactions": {"last_successful_update": stamp(self.now()), "last_failed_update": None},
                           "last_webhook": None}}

    def _accounts_get(self, body: dict) -> dict:
        self._require(body, "access_token")
        item = self.bank.item_of(body["access_token"])
        options = body.get("options") if isinstance(body.get("options"), dict) else {}
        wanted = options.get("account_ids")
        if wanted is not None and not (isinstance(wanted, list) and set(wanted) <= set(item.accounts)):
            raise invalid_input("INVALID_ACCOUNT_ID", "one or more of the account IDs is invalid")
        return {"accounts": [self.bank.account_resource(item, account_id) for account_id in item.accounts
                             if wanted is None or account_id in wanted],
                "item": self._item_view(item)}

    def _transactions_sync(self, body: dict) -> dict:
        self._require(body, "access_token")
        count = self._integer(body, "count", 1, 500, default=100)
        cursor = body.get("cursor")
        if cursor is not None and not isinstance(cursor, str):
            raise invalid_field("cursor must be a string")
        options = body.get("options", {})
        if not isinstance(options, dict):
            raise invalid_field("options must be an object")
        account_id = options.get("account_id")
        if account_id is not None and not isinstance(account_id, str):
            raise invalid_field("options.account_id must be a string")
        item = self.bank.item_of(body["access_token"])
        return self.bank.sync(item, account_id, cursor, count)

    def _webhook_verification_key_get(self, body: dict) -> dict:
        self._require(body, "key_id")
        key = self.webhook_keys.get(body["key_id"]) if isinstance(body["key_id"], str) else None
        if key is None:
            raise invalid_input("INVALID_WEBHOOK_VERIFICATION_KEY_ID", "invalid key_id provided")
        return {"key": dict(key["jwk"])}

    def _sandbox_reset_login(self, body: dict) -> dict:
        self._require(body, "access_token")
        self.bank.require_login(self.bank.item_of(body["access_token"], for_data=False).item_id)
        return {"reset_login": True}

    def _sandbox_public_token_create(self, body: dict) -> dict:
        self._require(body, "institution_id", "initial_products")
        institution = self.bank.institution(body["institution_id"])
        options = body.get("options") if isinstance(body.get("options"), dict) else {}
        item = self.bank.create_item(institution["institution_id"], webhook=options.get("webhook"))
        return {"public_token": self.bank.new_public_token(item)}

    # -- Hosted Link ---------------------------------------------------------------------

    def _hosted_link_page(self, request: Request, error: str | None = None) -> Response:
        link = self.bank.link_by_hosted_id(request.params["hosted_id"])
        if link is None:
            return _page("Unknown link", "<p>This link does not exist.</p>", 404)
        if link.completed or self.now() >= link.expiration:
            return _page("Link expired", "<p>This link has expired or was already used.</p>", 400)
        institution = self.bank.institutions.get(link.institution_id or SANDBOX_INSTITUTION_ID, {})
        bank = html.escape(institution.get("name") or "your bank")
        purpose = "Log in again to keep your accounts connected." if link.update_item_id else \
            f"Log in to {bank} to share your accounts' balances and transactions."
        alert = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
        return _page(institution.get("name") or "Plaid", f"""<p>{purpose}</p>{alert}
<form method="post" action="/hl/{html.escape(request.params['hosted_id'])}">
<label>Username <input name="username" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit" name="action" value="continue">Continue</button>
<button type="submit" name="action" value="cancel" formnovalidate>Cancel</button>
</form>
<p>Sandbox: {SANDBOX_USERNAME} / {SANDBOX_PASSWORD}</p>""")

    def _hosted_link_answer(self, request: Request) -> Response:
        link = self.bank.link_by_hosted_id(request.params["hosted_id"])
        if link is None:
            return _page("Unknown link", "<p>This link does not exist.</p>", 404)
        form = dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
        try:
            if form.get("action") == "cancel":
                location = self.bank.exit_link(link)
            else:
                location = self.bank.complete_link(link, form.get("username", ""), form.get("password", ""))
        except WrongLogin as error:
            return self._hosted_link_page(request, error=str(error))
        except LinkOver as error:
            return _page("Link expired", f"<p>{html.escape(str(error))}</p>", 400)
        if not location:
            return _page("Done", "<p>You can close this window.</p>")
        return Response(302, "", {"Location": location}, content_type="text/html")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="A local Plaid (Sandbox) emulator, on 127.0.0.1 only.")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free one)")
    args = parser.parse_args(argv)
    emulator = PlaidEmulator(port=args.port)
    print(f"API base URL: {emulator.api_url}  client_id: {DEFAULT_CLIENT_ID}  secret: {DEFAULT_SECRET}", flush=True)
    print(f"Bank login on the Link page: {SANDBOX_USERNAME} / {SANDBOX_PASSWORD}", flush=True)
    emulator.serve_forever()


if __name__ == "__main__":
    main()
