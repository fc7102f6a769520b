# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A local emulator of GoCardless Bank Account Data, API v2.

Paths, field names, string amounts, error bodies, the 4-a-day quotas per
account and scope, token lifetimes and agreement expiry follow the published
API; the bank's consent page is a small HTML form at ``/bank/<requisition>/``.

    python -m emulators.gocardless [--port N]

prints its URL; a client's base URL is ``<url>/api/v2/``. Time comes from
``emulator.now`` (a callable returning an aware datetime), so that tests
move it on. Unconfirmed details of the real API are marked so below.
"""
from __future__ import annotations

import argparse
import datetime as dt
import html

from .base import EmulatorServer, Request, Response
from .gocardless_bank import (
    AUTO,
    DAILY_QUOTA,
    SANDBOX_INSTITUTION_ID,
    SCOPES,
    GoCardlessBank,
)

API = "/api/v2"
DEFAULT_SECRET_ID = "emulator-secret-id"
DEFAULT_SECRET_KEY = "emulator-secret-key-0123456789abcdef"
INVALID_TOKEN = {"summary": "Invalid token", "detail": "Token is invalid or expired", "status_code": 401}

__all__ = ["AUTO", "DEFAULT_SECRET_ID", "DEFAULT_SECRET_KEY", "SANDBOX_INSTITUTION_ID", "GoCardlessEmulator"]


class ApiError(Exception):
    """Raised by a handler: the API's error answer."""

    def __init__(self, status: int, body: dict, headers: dict | None = None):
        super().__init__(status)
        self.response = Response(status, body, headers or {})


def _error(status: int, summary: str, detail: str, **extra) -> ApiError:
    return ApiError(status, {"summary": summary, "detail": detail, "status_code": status, **extra})


def _field_error(field: str, summary: str, detail: str) -> ApiError:
    return ApiError(400, {field: {"summary": summary, "detail": detail}, "status_code": 400})


class GoCardlessEmulator(EmulatorServer):
    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, now=None,
                 secret_id: str = DEFAULT_SECRET_ID, secret_key: str = DEFAULT_SECRET_KEY,
                 sample_data: bool = True):
        super().__init__(host, port)
        self.now = now or (lambda: dt.datetime.now(dt.timezone.utc))
        self.bank = GoCardlessBank(lambda: self.now(), secret_id, secret_key)
        # Agreement expiry is met as 400 and as 401.
        self.eua_expired_status = 401
        routes = [
            ("POST", "/token/new/", self._token_new, False),
            ("POST", "/token/refresh/", self._token_refresh, False),
            ("GET", "/institutions/", self._institutions, True),
            ("GET", "/institutions/{institution_id}/", self._institution, True),
            ("POST", "/agreements/enduser/", self._create_agreement, True),
            ("GET", "/agreements/enduser/{agreement_id}/", self._agreement, True),
            ("POST", "/requisitions/", self._create_requisition, True),
            ("GET", "/requisitions/{requisition_id}/", self._requisition, True),
            ("GET", "/accounts/{account_id}/", self._account, True),
            ("GET", "/accounts/{account_id}/details/", self._details, True),
            ("GET", "/accounts/{account_id}/balances/", self._balances, True),
            ("GET", "/accounts/{account_id}/transactions/", self._transactions, True),
        ]
        for method, path, handler, authenticated in routes:
            self.route(method, API + path, self._api(handler, authenticated))
        self.route("GET", "/bank/{requisition_id}/", self._bank_page)
        self.route("POST", "/bank/{requisition_id}/approve", self._bank_answer)
        self.route("POST", "/bank/{requisition_id}/reject", self._bank_answer)
        if sample_data:
            self.bank.add_sample_data()

    @property
    def api_url(self) -> str:
        return self.url + API + "/"

    # -- for tests: the bank's side ------------------------------------------------

    def add_account(self, iban: str, currency: str = "EUR", **kwargs) -> str:
        with self._lock:
            return self.bank.add_account(iban, currency, **kwargs)

    def add_transaction(self, account: str, amount, **kwargs) -> dict:
        with self._lock:
            return self.bank.add_transaction(account, amount, **kwargs)

    def settle(self, account: str, pending_txn: dict, **kwargs) -> dict:
        with self._lock:
            return self.bank.settle(account, pending_txn, **kwargs)

    def set_balances(self, account: str, balances: list[dict] | None) -> None:
        with self._lock:
            self.bank.customer_account(account).balances = balances

    def approve(self, requisition_id: str) -> str:
        """The user accepts at the bank; returns the URL they go back to."""
        with self._lock:
            return self.bank.approve(requisition_id)

    def reject(self, requisition_id: str) -> str:
        with self._lock:
            return self.bank.reject(requisition_id)

    def revoke(self, requisition_id: str) -> None:
        """The bank withdraws the access before the agreement's end."""
        with self._lock:
            self.bank.revoked.add(requisition_id)

    def close_account(self, iban: str) -> None:
        """The bank closes or deactivates the account: its details, balances
        and transactions get the API's AccountInactiveError; the consent and
        the customer's other accounts are untouched."""
        with self._lock:
            self.bank.closed.add(self.bank.customer_account(iban).iban)

    def reopen_account(self, iban: str) -> None:
        with self._lock:
            self.bank.closed.discard(self.bank.customer_account(iban).iban)

    def expire_access_tokens(self, refresh_too: bool = False) -> None:
        with self._lock:
            self.bank.expire_access_tokens(refresh_too)

    # -- plumbing --------------------------------------------------------------------

    def _api(self, handler, authenticated: bool):
        def handle(request: Request) -> Response:
            try:
                if authenticated:
                    self._authenticate(request)
                return handler(request)
            except ApiError as error:
                return error.response
        return handle

    def _authenticate(self, request: Request) -> None:
        scheme, _sep, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise _error(401, "Authentication credentials were not provided.",
                         "Authentication credentials were not provided.")
        if not self.bank.access_valid(token):
            raise ApiError(401, dict(INVALID_TOKEN))

    @staticmethod
    def _body(request: Request) -> dict:
        try:
            body = request.json()
        except ValueError:
            raise _error(400, "Invalid JSON", "The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise _error(400, "Invalid JSON", "The request body must be an object.")
        return body

    def not_found(self, request: Request) -> Response:
        return Response(404, {"summary": "Not found.", "detail": "Not found.", "status_code": 404})

    # -- tokens ------------------------------------------------------------------------

    def _token_new(self, request: Request) -> Response:
        body = self._body(request)
        for key in ("secret_id", "secret_key"):
            if not body.get(key):
                raise _field_error(key, "This field is required.", "This field is required.")
        tokens = self.bank.new_tokens(body["secret_id"], body["secret_key"])
        if tokens is None:
            raise _error(401, "Authentication failed", "No active account found with the given credentials")
        return Response(200, tokens)

    def _token_refresh(self, request: Request) -> Response:
        tokens = self.bank.refresh_access(self._body(request).get("refresh"))
        if tokens is None:
            raise ApiError(401, dict(INVALID_TOKEN))
        return Response(200, tokens)

    # -- institutions, agreements, requisitions -------------------------------------------

    def _institutions(self, request: Request) -> Response:
        country = request.query.get("country", "").upper()
        return Response(200, [inst for inst in self.bank.institutions
                              if not country or country in inst["countries"]])

    def _known_institution(self, institution_id) -> dict:
        inst = self.bank.institution(institution_id)
        if inst is None:
            raise _error(404, "Not found.", f"Institution {institution_id} not found")
        return inst

    def _institution(self, request: Request) -> Response:
        return Response(200, self._known_institution(request.params["institution_id"]))

    def _create_agreement(self, request: Request) -> Response:
        body = self._body(request)
        inst = self.bank.institution(body.get("institution_id"))
        if inst is None:
            raise _field_error("institution_id", f"Unknown Institution ID {body.get('institution_id')}",
                               "Get Institution IDs from /institutions/?country={$COUNTRY_CODE}")
        limits = {"max_historical_days": int(inst["transaction_total_days"]),
                  "access_valid_for_days": int(inst["max_access_valid_for_days"])}
        values = {}
        for key, limit in limits.items():
            value = body.get(key, 90)
            if type(value) is not int or not 1 <= value <= limit:
                raise _field_error(key, "Incorrect value",
                                   f"{key} must be > 0 and <= {limit} for {inst['id']}")
            values[key] = value
        scope = body.get("access_scope", list(SCOPES))
        if not isinstance(scope, list) or not set(scope) <= set(SCOPES):
            raise _field_error("access_scope", "Unknown value", f"Choose from {', '.join(SCOPES)}")
        agreement = self.bank.create_agreement(inst["id"], values["max_historical_days"],
                                               values["access_valid_for_days"], scope)
        return Response(201, agreement)

    def _agreement(self, request: Request) -> Response:
        agreement = self.bank.agreements.get(request.params["agreement_id"])
        if agreement is None:
            raise _error(404, "Not found.", "Not found.")
        return Response(200, agreement)

    def _create_requisition(self, request: Request) -> Response:
        body = self._body(request)
        if not isinstance(body.get("redirect"), str) or not body["redirect"].startswith(("http://", "https://")):
            raise _field_error("redirect", "Enter a valid URL.", "Enter a valid URL.")
        inst = self._known_institution(body.get("institution_id"))
        agreement = self.bank.agreements.get(body.get("agreement"))
        if agreement is None or agreement["institution_id"] != inst["id"]:
            raise _field_error("agreement", "Incorrect Institution ID",
                               "Provided Institution ID does not match the agreement's")
        reference = body.get("reference")
        if not reference:
            raise _field_error("reference", "This field is required.", "This field is required.")
        # Believed from clients that always send a fresh UUID; the exact text is unconfirmed.
        if self.bank.reference_used(reference):
            raise _field_error("reference", "Client reference must be unique",
                               f"Client reference '{reference}' already exists")
        requisition = self.bank.create_requisition(body["redirect"], inst["id"], agreement["id"], reference,
                                                   self.url)
        return Response(201, requisition)

    def _known_requisition(self, requisition_id) -> dict:
        requisition = self.bank.requisitions.get(requisition_id)
        if requisition is None:
            raise _error(404, "Not found.", f"Requisition {requisition_id} not found")
        return requisition

    def _requisition(self, request: Request) -> Response:
        return Response(200, self.bank.requisition_view(self._known_requisition(request.params["requisition_id"])))

    # -- accounts --------------------------------------------------------------------------

    def _linked_account(self, account_id: str, scope: str):
        """(customer account, agreement) of an API account id the consent still covers."""
        link = self.bank.api_accounts.get(account_id)
        if link is None:
            raise _error(404, f"Account ID {account_id} not found",
                         "Please check whether you specified a valid Account ID")
        requisition = self.bank.requisitions[link["requisition_id"]]
        agreement = self.bank.agreements[requisition["agreement"]]
        if requisition["id"] in self.bank.revoked:
            raise _error(401, "Access has expired or it has been revoked.",
                         "To restore access reconnect the account.", type="AccessExpiredError")
        if self.bank.agreement_expired(agreement):
            expired_at = self.bank.agreement_expires_at(agreement).isoformat()
            raise _error(
                self.eua_expired_status, f"End User Agreement (EUA) {agreement['id']} has expired",
                f"EUA was valid for {agreement['access_valid_for_days']} days and it expired at {expired_at}. "
                "The end user must connect the account once again with new EUA and Requisition",
            )
        customer = self.bank.customer_account(account_id)
        if customer.iban in self.bank.closed:
            # The body a closed account gets, as GoCardless sends it for each scope.
            raise _error(401, f"Couldn't update account {scope}",
                         "Account has been deactivated or it no longer exists.", type="AccountInactiveError")
        return customer, agreement

    def _rate_limit_headers(self, account_id: str, scope: str) -> dict:
        left, reset = self.bank.quota(account_id, scope)
        # The general limit is not enforced here; its headers are told as the API does.
        return {
            "HTTP_X_RATELIMIT_LIMIT": "100", "HTTP_X_RATELIMIT_REMAINING": "99", "HTTP_X_RATELIMIT_RESET": "60",
            "HTTP_X_RATELIMIT_ACCOUNT_SUCCESS_LIMIT": str(DAILY_QUOTA),
            "HTTP_X_RATELIMIT_ACCOUNT_SUCCESS_REMAINING": str(left),
            "HTTP_X_RATELIMIT_ACCOUNT_SUCCESS_RESET": str(reset),
        }

    def _within_quota(self, account_id: str, scope: str, answer) -> Response:
        """``answer()`` if the day's quota allows it; a success spends one call."""
        left, reset = self.bank.quota(account_id, scope)
        if not left:
            raise ApiError(429, {
                "summary": "Rate limit exceeded",
                "detail": f"The rate limit for this resource is {DAILY_QUOTA}/day. "
                          f"Please try again in {reset} seconds",
                "status_code": 429,
            }, self._rate_limit_headers(account_id, scope))
        body = answer()
        self.bank.spend(account_id, scope)
        return Response(200, body, self._rate_limit_headers(account_id, scope))

    def _account(self, request: Request) -> Response:
        account_id = request.params["account_id"]
        link = self.bank.api_accounts.get(account_id)
        if link is None:
            raise _error(404, f"Account ID {account_id} not found",
                         "Please check whether you specified a valid Account ID")
        customer = self.bank.customer_account(account_id)
        requisition = self.bank.requisitions[link["requisition_id"]]
        expired = (requisition["id"] in self.bank.revoked
                   or self.bank.agreement_expired(self.bank.agreements[requisition["agreement"]]))
        return Response(200, {
            "id": account_id, "created": link["created"], "last_accessed": link["created"],
            "iban": customer.iban, "institution_id": customer.institution_id,
            "status": "EXPIRED" if expired else "READY", "owner_name": customer.owner_name,
        })

    def _details(self, request: Request) -> Response:
        account_id = request.params["account_id"]
        customer, _agreement = self._linked_account(account_id, "details")
        return self._within_quota(account_id, "details",
                                  lambda: {"account": self.bank.details(customer)})

    def _balances(self, request: Request) -> Response:
        account_id = request.params["account_id"]
        customer, _agreement = self._linked_account(account_id, "balances")
        return self._within_quota(account_id, "balances", lambda: {"balances": self.bank.balances(customer)})

    def _transactions(self, request: Request) -> Response:
        account_id = request.params["account_id"]
        customer, agreement = self._linked_account(account_id, "transactions")
        today = self.now().astimezone(dt.timezone.utc).date()
        oldest = today - dt.timedelta(days=agreement["max_historical_days"])
        bounds = {}
        for key, default in (("date_from", oldest), ("date_to", today)):
            try:
                bounds[key] = dt.date.fromisoformat(request.query[key]) if request.query.get(key) else default
            except ValueError:
                raise _field_error(key, "Invalid date format", f"'{key}' must be in YYYY-MM-DD format") from None
        # The exact texts of these two refusals are unconfirmed.
        if bounds["date_from"] > today:
            raise _field_error("date_from", "Date can't be in future", "'date_from' can't be greater than today")
        if bounds["date_from"] > bounds["date_to"]:
            raise _error(400, "Incorrect date range",
                         f"Starting date '{bounds['date_from']}' is greater than end date '{bounds['date_to']}'")
        # Older than the agreement allows: the API silently gives what it may.
        date_from = max(bounds["date_from"], oldest)
        return self._within_quota(account_id, "transactions", lambda: {
            "transactions": self.bank.transactions(customer, date_from, bounds["date_to"]),
            "last_updated": self.now().astimezone(dt.timezone.utc).isoformat(),
        })

    # -- the bank's consent page -------------------------------------------------------------

    def _bank_page(self, request: Request) -> Response:
        requisition = self.bank.requisitions.get(request.params["requisition_id"])
        if requisition is None:
            return Response(404, "<html><body><h1>Unknown link</h1></body></html>", content_type="text/html")
        inst = self.bank.institution(requisition["institution_id"])
        action = f"/bank/{requisition['id']}"
        page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(inst['name'])}</title></head>
<body>
<h1>{html.escape(inst['name'])}</h1>
<p>Share your accounts' details, balances and transactions for
{self.bank.agreements[requisition['agreement']]['access_valid_for_days']} days?</p>
<form method="post" action="{action}/approve"><button type="submit">Approve</button></form>
<form method="post" action="{action}/reject"><button type="submit">Cancel</button></form>
</body></html>"""
        return Response(200, page, content_type="text/html; charset=utf-8")

    def _bank_answer(self, request: Request) -> Response:
        requisition_id = request.params["requisition_id"]
        if requisition_id not in self.bank.requisitions:
            return Response(404, "<html><body><h1>Unknown link</h1></body></html>", content_type="text/html")
        if request.path.endswith("/approve"):
            location = self.bank.approve(requisition_id)
        else:
            location = self.bank.reject(requisition_id)
        return Response(302, "", {"Location": location}, content_type="text/html")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="A local GoCardless Bank Account Data emulator.")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free one)")
    args = parser.parse_args(argv)
    emulator = GoCardlessEmulator(port=args.port)
    print(f"API base URL: {emulator.api_url}  secret id: {DEFAULT_SECRET_ID}  secret key: {DEFAULT_SECRET_KEY}",
          flush=True)
    emulator.serve_forever()


if __name__ == "__main__":
    main()
