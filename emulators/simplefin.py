# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A local emulator of SimpleFIN Bridge (https://www.simplefin.org/protocol.html).

The bridge's root is ``<url>/simplefin``; its four endpoints follow the protocol:

- ``GET /simplefin/create``: a small HTML page with a new setup token, for
  integrators trying a connection by hand (the real page needs a login).
- ``POST /simplefin/claim/{code}``: once per setup token, answers the access
  URL ``http://<user>:<password>@127.0.0.1:<port>/simplefin`` as plain
  text; a second claim, or an unknown code, is refused with 403.
- ``GET /simplefin/accounts`` with HTTP Basic auth: the account set, with
  ``start-date`` (included) and ``end-date`` (excluded) as epochs,
  ``pending=1``, ``account`` (repeatable), ``balances-only=1`` and
  ``version`` (``2``: ``errlist`` and ``connections``; otherwise
  :attr:`SimpleFINEmulator.default_version`). 403 once the access is
  revoked, 402 while the user's subscription is unpaid.
- ``GET /simplefin/info``: the protocol versions served.

The user behind the bridge is programmed by the tests: banks (connections),
accounts, transactions, balances, errors (``add_account``,
``add_transaction``, ``connection_error``...). Time is ``emulator.now``.

Behaviours the protocol leaves open, as emulated here (marked *unconfirmed*
where no public source tells them):

- A range longer than 90 days is cut to its first 90 days, with the warning
  the Bridge is reported to send ("Requested date range exceeds limit of 90
  days and was capped.", code ``gen.api``). Which end is kept: unconfirmed.
- About 24 requests a day are expected, "with a little leeway", counted
  apart for all accounts and for each account asked with ``account=``, and
  replenished over the day (here: a sliding 24 hours). Past the quota the
  replies carry a warning; past the leeway the Bridge is documented to
  disable the access (here: it is revoked, so 403 from then on). The
  warning's text, the leeway (6) and the alternative refusal
  ``quota_refusal = "429"`` (HTTP 429 with Retry-After) are unconfirmed.
- Errors concern the whole user: every reply carries all of them, whatever
  accounts were asked (unconfirmed; Actual Budget's client looks for its
  bank's "Connection to <bank> may need attention" among all of them).
- A pending transaction is filtered on ``transacted_at`` when it has one,
  else always given (unconfirmed); ``balances-only`` leaves the key
  ``transactions`` out (unconfirmed).

    python -m emulators.simplefin [--port N]

prints the bridge's URL and a first setup token.
"""
from __future__ import annotations

import argparse
import base64
import binascii
import datetime as dt
import html
import secrets
import threading
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qs, urlsplit

from .base import EmulatorServer, Request, Response

ROOT = "/simplefin"
DAY = 86400
MAX_RANGE = 90 * DAY
DAILY_QUOTA = 24
QUOTA_LEEWAY = 6
AUTO = object()  # "make one up" for identifiers and dates
CAP_WARNING = "Requested date range exceeds limit of 90 days and was capped."
QUOTA_WARNING = ("You have made more requests today than expected: SimpleFIN Bridge is meant for daily "
                 "updates. Further requests may disable this access.")  # unconfirmed text


def _epoch(moment) -> int:
    """Epoch seconds of an aware datetime, or of noon UTC on a date (a bank
    date carries no time of day; noon keeps it the same day in American
    time zones)."""
    if isinstance(moment, dt.datetime):
        return int(moment.timestamp())
    if isinstance(moment, dt.date):
        return int(dt.datetime(moment.year, moment.month, moment.day, 12, tzinfo=dt.timezone.utc).timestamp())
    return int(moment)


def _is_pending(transaction: dict) -> bool:
    return transaction.get("pending") is True or transaction.get("posted") == 0


def _decimal(value) -> Decimal | None:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None  # a test's deliberately broken amount: left out of computed balances


def _text(status: int, text: str) -> Response:
    return Response(status, text, content_type="text/plain; charset=utf-8")


@dataclass
class EmulatedConnection:
    """One login of the user at one bank, as the bridge keeps it."""

    conn_id: str
    org_name: str
    org_domain: str
    org_id: str
    withheld: bool = False  # its accounts are left out of the replies (the bank refuses the login)


@dataclass
class EmulatedAccount:
    id: str
    name: str
    currency: str
    connection: EmulatedConnection
    opening_balance: Decimal = Decimal(0)
    transactions: list[dict] = field(default_factory=list)  # as the API sends them; tests may edit them
    balance: str | None = None  # None: the opening balance plus the posted transactions
    balance_date: int | None = None  # None: now
    removed: bool = False  # no longer shared with applications


@dataclass
class EmulatedAccess:
    """What one claimed setup token gives an application."""

    username: str
    password: str
    revoked: str | None = None  # why: "user" or "quota"
    served: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))  # quota key -> epochs


@dataclass
class _Error:
    code: str
    msg: str
    conn_id: str | None = None
    account_id: str | None = None


class SimpleFINEmulator(EmulatorServer):
    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, now=None):
        # The base Request keeps one value per query parameter; ``account``
        # repeats: each handler thread keeps its raw query string here.
        self._raw_query = threading.local()
        super().__init__(host, port)
        self.now = now or (lambda: dt.datetime.now(dt.timezone.utc))
        self.default_version = 1  # the shape served when the request does not ask for one
        self.daily_quota = DAILY_QUOTA
        self.quota_leeway = QUOTA_LEEWAY
        self.quota_refusal = "disable"  # or "429"
        self.payment_required = False
        self.setup_tokens: dict[str, str | None] = {}  # claim code -> username once claimed
        self.accesses: dict[str, EmulatedAccess] = {}  # username -> access
        self.connections: list[EmulatedConnection] = []
        self.accounts: list[EmulatedAccount] = []
        self.errors: list[_Error] = []
        self.route("GET", ROOT + "/info", lambda request: Response(200, {"versions": ["1.0", "2"]}))
        self.route("GET", ROOT + "/create", self._create_page)
        self.route("POST", ROOT + "/claim/{code}", self._claim)
        self.route("GET", ROOT + "/accounts", self._accounts)

    @property
    def root_url(self) -> str:
        return self.url + ROOT

    # -- for tests: the user's side at the bridge ---------------------------------------

    def issue_setup_token(self) -> str:
        """A new setup token, as the user copies it from the bridge: the base64 of a claim URL."""
        with self._lock:
            code = secrets.token_urlsafe(24)
            self.setup_tokens[code] = None
        return base64.b64encode(f"{self.root_url}/claim/{code}".encode()).decode()

    def add_connection(self, org_name: str, domain: str | None = None) -> EmulatedConnection:
        with self._lock:
            connection = EmulatedConnection(
                conn_id=f"CON-{uuid.uuid4()}", org_name=org_name, org_id=f"ORG-{uuid.uuid4()}",
                org_domain=domain or "".join(c for c in org_name.lower() if c.isascii() and c.isalnum()) + ".com",
            )
            self.connections.append(connection)
            return connection

    def connection(self, org_name: str) -> EmulatedConnection:
        """The user's login at ``org_name``, made on first use."""
        found = next((c for c in self.connections if c.org_name == org_name), None)
        return found or self.add_connection(org_name)

    def add_account(self, name: str = "Checking", currency: str = "USD", *, org: str = "SimpleFIN Demo Bank",
                    opening_balance="0", account_id: str | None = None) -> EmulatedAccount:
        """``currency`` may be a URL: a custom currency (points, miles)."""
        with self._lock:
            account = EmulatedAccount(id=account_id or f"ACT-{uuid.uuid4()}", name=name, currency=currency,
                                      connection=self.connection(org), opening_balance=Decimal(opening_balance))
            self.accounts.append(account)
            return account

    def add_transaction(self, account: EmulatedAccount, amount: str, *, posted=AUTO, pending: bool = False,
                        transacted_at=None, description: str = "", payee: str | None = None,
                        memo: str | None = None, transaction_id=AUTO, **extra) -> dict:
        """One transaction as the API sends it: ``amount`` is a string, sent as given
        (+ = deposit). ``posted``, ``transacted_at``: aware datetimes, dates (noon UTC)
        or epochs (None: sent as null); ``posted`` defaults to now, or 0 for a pending one.
        ``transaction_id=None`` leaves the id out; ``extra`` adds or overrides raw fields."""
        with self._lock:
            if posted is AUTO:
                posted = 0 if pending else self.now()
            transaction = {
                "id": f"TRN-{uuid.uuid4()}" if transaction_id is AUTO else transaction_id,
                "posted": None if posted is None else _epoch(posted),
                "amount": amount,
                "description": description,
                "payee": payee,
                "memo": memo,
            }
            if transaction_id is None:
                del transaction["id"]
            if transacted_at is not None:
                transaction["transacted_at"] = _epoch(transacted_at)
            if pending:
                transaction["pending"] = True
            transaction.update(extra)
            account.transactions.append(transaction)
            return transaction

    def post_pending(self, account: EmulatedAccount, pending: dict, *, posted=AUTO, amount: str | None = None,
                     transaction_id=AUTO) -> dict:
        """The bank posts a pending transaction: it goes, and a posted one comes
        under a new id (the protocol links neither to the other)."""
        with self._lock:
            account.transactions.remove(pending)
            return self.add_transaction(
                account, amount or pending["amount"], posted=posted, transaction_id=transaction_id,
                transacted_at=pending.get("transacted_at"), description=pending.get("description", ""),
                payee=pending.get("payee"), memo=pending.get("memo"),
            )

    def set_balance(self, account: EmulatedAccount, balance: str | None, balance_date=None) -> None:
        """``balance`` is sent as given (None: computed again); ``balance_date`` as ``posted``."""
        with self._lock:
            account.balance = balance
            account.balance_date = None if balance_date is None else _epoch(balance_date)

    def remove_account(self, account: EmulatedAccount) -> None:
        """The user stops sharing the account (or deletes it at the bridge)."""
        with self._lock:
            account.removed = True

    def connection_error(self, org: str, message: str | None = None, *, code: str = "con.auth",
                         withhold_accounts: bool = False) -> None:
        """The bank login at ``org`` fails; by default with the Bridge's own words.
        ``withhold_accounts``: its accounts are left out of the replies."""
        with self._lock:
            connection = self.connection(org)
            connection.withheld = connection.withheld or withhold_accounts
            self.errors.append(_Error(code, message or f"Connection to {org} may need attention",
                                      conn_id=connection.conn_id))

    def account_error(self, account: EmulatedAccount, message: str = "Failed to get all transactions. Try again later.",
                      *, code: str = "act.failed") -> None:
        with self._lock:
            self.errors.append(_Error(code, message, account_id=account.id))

    def general_error(self, message: str, *, code: str = "gen.") -> None:
        with self._lock:
            self.errors.append(_Error(code, message))

    def clear_errors(self) -> None:
        with self._lock:
            self.errors.clear()
            for connection in self.connections:
                connection.withheld = False

    def revoke(self, access: str | None = None) -> None:
        """The user disables an application's access, given by its access URL
        (``consent.data["access_url"]``) or its user name; all of them without one."""
        username = urlsplit(access).username if access and "://" in access else access
        with self._lock:
            for candidate in self.accesses.values():
                if username is None or candidate.username == username:
                    candidate.revoked = "user"

    def require_payment(self, required: bool = True) -> None:
        with self._lock:
            self.payment_required = required

    def claim_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path.startswith(ROOT + "/claim/")]

    def account_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path == ROOT + "/accounts"]

    def seed_demo_data(self) -> None:
        """A few accounts for trying the emulator by hand."""
        now = self.now()
        checking = self.add_account("Checking ····1234", "USD", org="First Platypus Bank", opening_balance="1500.00")
        for days, amount, payee, text in ((20, "2500.00", "ACME Payroll", "DIRECT DEP ACME"),
                                          (12, "-89.90", "Staples", "STAPLES #0042"),
                                          (5, "-42.10", "Café Ñandú", "POS CAFE NANDU"),
                                          (1, "-310.00", "Zoë's Garage", "CHECK 1042")):
            self.add_transaction(checking, amount, posted=now - dt.timedelta(days=days), payee=payee,
                                 description=text)
        self.add_transaction(checking, "-12.00", pending=True, transacted_at=now, payee="Crème Brûlée Bakery",
                             description="PENDING POS CREME BRULEE")
        yen = self.add_account("円口座", "JPY", org="みずほ銀行", opening_balance="250000")
        self.add_transaction(yen, "-15000", posted=now - dt.timedelta(days=3), description="請求書 42")
        self.add_account("Frequent flyer", "https://www.example.com/flight-miles", org="Example Airline",
                         opening_balance="12000")

    # -- plumbing --------------------------------------------------------------------------

    def _handler_class(self):
        handler = super()._handler_class()
        raw_query = self._raw_query

        class QueryKeepingHandler(handler):
            def _keep_query_then_handle(self):
                raw_query.value = urlsplit(self.path).query
                handler._handle(self)

            do_GET = do_POST = do_PUT = do_DELETE = _keep_query_then_handle

        return QueryKeepingHandler

    def _query_lists(self) -> dict[str, list[str]]:
        return parse_qs(getattr(self._raw_query, "value", ""), keep_blank_values=True)

    def not_found(self, request: Request) -> Response:
        return _text(404, "Not Found")

    def _epoch_now(self) -> int:
        return int(self.now().timestamp())

    def _authenticate(self, request: Request) -> EmulatedAccess | None:
        scheme, _sep, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            username, _sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        access = self.accesses.get(username)
        if access is None or not secrets.compare_digest(access.password, password) or access.revoked:
            return None
        return access

    # -- the bridge's pages and API ------------------------------------------------------------

    def _create_page(self, request: Request) -> Response:
        token = self.issue_setup_token()
        page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>SimpleFIN Bridge (emulator): setup token</title></head>
<body>
<h1>SimpleFIN Bridge (emulator)</h1>
<p>Paste this setup token in the application. It can be claimed once; reload the page for another one.</p>
<textarea id="setup-token" readonly rows="3" cols="90">{html.escape(token)}</textarea>
</body></html>"""
        return Response(200, page, headers={"Cache-Control": "no-store"}, content_type="text/html; charset=utf-8")

    def _claim(self, request: Request) -> Response:
        code = request.params["code"]
        if code not in self.setup_tokens or self.setup_tokens[code] is not None:
            # The protocol: "does not exist or has already been claimed".
            return _text(403, "Forbidden")
        access = EmulatedAccess(username=secrets.token_hex(16), password=secrets.token_urlsafe(32))
        self.accesses[access.username] = access
        self.setup_tokens[code] = access.username
        return _text(200, self.url.replace("://", f"://{access.username}:{access.password}@", 1) + ROOT)

    def _accounts(self, request: Request) -> Response:
        access = self._authenticate(request)
        if access is None:
            return _text(403, "Forbidden")
        if self.payment_required:
            return _text(402, "Payment Required")
        query = self._query_lists()
        try:
            start = int(query["start-date"][-1]) if query.get("start-date") else None
            end = int(query["end-date"][-1]) if query.get("end-date") else None
        except ValueError:
            return _text(400, "start-date and end-date must be Unix timestamps")
        wanted = [value for value in query.get("account", []) if value]
        refusal, over_quota = self._spend_quota(access, wanted)
        if refusal:
            return refusal
        warnings = [_Error("gen.api", QUOTA_WARNING)] if over_quota else []
        end = end if end is not None else self._epoch_now() + DAY
        start = start if start is not None else end - MAX_RANGE
        if end - start > MAX_RANGE:
            end = start + MAX_RANGE
            warnings.append(_Error("gen.api", CAP_WARNING))
        with_pending = query.get("pending", [""])[-1] == "1"
        balances_only = query.get("balances-only", [""])[-1] == "1"
        version = query.get("version", [str(self.default_version)])[-1]
        accounts = [a for a in self.accounts if not a.removed and not a.connection.withheld
                    and (not wanted or a.id in wanted)]
        serialized = [self._account(a, version, None if balances_only else (start, end, with_pending))
                      for a in accounts]
        errors = self.errors + warnings
        if version == "2":
            shown = {a.connection.conn_id: a.connection for a in accounts}
            return Response(200, {
                "errlist": [{key: value for key, value in vars(e).items() if value is not None} for e in errors],
                "connections": [{"conn_id": c.conn_id, "name": c.org_name, "org_id": c.org_id,
                                 "org_url": f"https://{c.org_domain}", "sfin_url": self.root_url}
                                for c in shown.values()],
                "accounts": serialized,
            })
        return Response(200, {"errors": [e.msg for e in errors], "accounts": serialized})

    def _spend_quota(self, access: EmulatedAccess, wanted: list[str]) -> tuple[Response | None, bool]:
        """(a refusal, or None; whether the reply must warn). A request counts once
        for all accounts, or once for each account it names."""
        now = self._epoch_now()
        keys = [f"account:{account_id}" for account_id in wanted] or ["all"]
        for key in keys:
            access.served[key] = [moment for moment in access.served[key] if moment > now - DAY]
        busiest = max(keys, key=lambda k: len(access.served[k]))
        if len(access.served[busiest]) >= self.daily_quota + self.quota_leeway:
            if self.quota_refusal == "429":
                # Back when the oldest request of the last 24 hours leaves the window.
                retry_after = access.served[busiest][0] + DAY - now
                return Response(429, "Too Many Requests", {"Retry-After": str(retry_after)},
                                "text/plain; charset=utf-8"), False
            access.revoked = "quota"
            return _text(403, "Forbidden"), False
        for key in keys:
            access.served[key].append(now)
        return None, len(access.served[busiest]) > self.daily_quota

    def _account(self, account: EmulatedAccount, version: str, window) -> dict:
        posted = [t for t in account.transactions if not _is_pending(t)]
        balance = account.balance
        if balance is None:
            balance = str(account.opening_balance + sum(
                (amount for t in posted if (amount := _decimal(t.get("amount"))) is not None), Decimal(0)))
        available = _decimal(balance)
        if available is not None:
            available += sum((amount for t in account.transactions if _is_pending(t)
                              and (amount := _decimal(t.get("amount"))) is not None), Decimal(0))
        connection = account.connection
        body = {"id": account.id, "name": account.name, "currency": account.currency, "balance": balance,
                "available-balance": str(available if available is not None else balance),
                "balance-date": account.balance_date if account.balance_date is not None else self._epoch_now(),
                "holdings": []}
        if version == "2":
            body.update({"conn_id": connection.conn_id, "conn_name": connection.org_name})
        else:
            body["org"] = {"domain": connection.org_domain, "name": connection.org_name,
                           "sfin-url": self.root_url, "url": f"https://{connection.org_domain}",
                           "id": connection.org_id}
        if window is not None:
            start, end, with_pending = window
            body["transactions"] = sorted(
                (t for t in account.transactions if self._in_window(t, start, end, with_pending)),
                key=lambda t: t.get("posted") or t.get("transacted_at") or 0,
            )
        return body

    @staticmethod
    def _in_window(transaction: dict, start: int, end: int, with_pending: bool) -> bool:
        if _is_pending(transaction):
            moment = transaction.get("transacted_at")
            return with_pending and (moment is None or start <= moment < end)
        return start <= (transaction.get("posted") or 0) < end


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="A local SimpleFIN Bridge emulator (127.0.0.1 only).")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: any free port)")
    args = parser.parse_args(argv)
    emulator = SimpleFINEmulator(port=args.port)
    emulator.seed_demo_data()
    print(f"SimpleFIN Bridge emulator: {emulator.root_url}  setup token: {emulator.issue_setup_token()}", flush=True)
    print(f"Another setup token: open {emulator.root_url}/create", flush=True)
    emulator.serve_forever()


if __name__ == "__main__":
    main()
