# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Enable Banking API emulator (https://enablebanking.com/docs/api/reference/).

Every API call must carry the application's JWT (RS256, ``kid`` = the
application id), checked against the public key the emulator is given.
``/auth`` sends the user to the emulator's own bank page, where Approve or
Refuse redirects back with ``code`` or ``error``. Accounts, balances and
transactions are programmed by the tests (``add_account``,
``add_transaction``); time is ``emulator.now``, so sessions expire when the
test says so.

    private_pem, public_pem = make_test_key()
    with EnableBankingEmulator("my-app-id", public_pem) as emulator:
        provider = EnableBankingProvider(ProviderConfig(api_base_url=emulator.url, credentials={
            "client_identifier": "my-app-id", "private_key": private_pem}))

By hand: ``python -m emulators.enablebanking [--port N]`` prints its URL, the
application id and where the application's private key was written.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import html
import itertools
import os
import secrets
import tempfile
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .base import EmulatorServer, Request, Response

JWT_ISSUER = "enablebanking.com"
JWT_AUDIENCE = "api.enablebanking.com"
JWT_MAX_LIFETIME = 86400  # seconds: the API refuses longer-lived application tokens
CODE_LIFETIME = dt.timedelta(minutes=10)

# name, country, bic, maximum_consent_validity (days), beta, psu_types
DEFAULT_ASPSPS = (
    ("Nordea", "FI", "NDEAFIHH", 180, False, ("business", "personal")),
    ("Ålandsbanken", "FI", "AABAFI22", 90, False, ("business", "personal")),
    ("Sparkasse KölnBonn", "DE", "COLSDE33", 180, False, ("business", "personal")),
    ("Crédit Agricole Île-de-France", "FR", "AGRIFRPP882", 180, False, ("business", "personal")),
    ("Banque Néo Société", "FR", "NEOSFRP2", 90, True, ("personal",)),
)


def make_test_key() -> tuple[str, str]:
    """A fresh RSA key pair for an emulated application: (private PEM, public PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return private_pem, public_pem


def api_error(status: int, error: str | None, message: str, detail=None) -> Response:
    """The API's error body."""
    return Response(status, {"message": message, "code": status, "error": error, "detail": detail})


def _signed(transaction: dict) -> Decimal:
    """The bank's own reading of an amount: unsigned + indicator, whatever sign the string has."""
    amount = abs(Decimal(transaction["transaction_amount"]["amount"]))
    return -amount if transaction.get("credit_debit_indicator") == "DBIT" else amount


def _json_object(request: Request) -> dict:
    try:
        body = request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _day(transaction: dict) -> str | None:
    return transaction.get("booking_date") or transaction.get("value_date") or transaction.get("transaction_date")


@dataclass
class EmulatedAccount:
    iban: str
    name: str
    currency: str
    identification_hash: str
    opening_balance: Decimal = Decimal(0)
    transactions: list[dict] = field(default_factory=list)  # as the API sends them; tests may edit them
    balances: list[dict] | None = None  # None: CLBD, XPCD and ITAV computed from the transactions
    closed: bool = False  # closed at the bank: its data is refused with ASPSP_ACCOUNT_NOT_ACCESSIBLE

    def resource(self, uid: str) -> dict:
        return {
            "uid": uid, "account_id": {"iban": self.iban}, "identification_hash": self.identification_hash,
            "identification_hashes": [self.identification_hash], "name": self.name, "currency": self.currency,
            "cash_account_type": "CACC", "usage": "ORGA", "details": None, "product": None,
        }


@dataclass
class EmulatedSession:
    session_id: str
    aspsp: dict
    psu_type: str
    valid_until: dt.datetime
    created: dt.datetime
    accounts: dict[str, EmulatedAccount]  # uid -> account: uids are minted per session
    ended: str | None = None  # REVOKED or CLOSED, when ended before valid_until


class EnableBankingEmulator(EmulatorServer):
    def __init__(self, application_id: str, public_key_pem: str, host: str = "127.0.0.1", port: int = 0,
                 now=None, page_size: int = 10):
        super().__init__(host, port)
        self.application_id = application_id
        self.public_key_pem = public_key_pem
        self.now = now or (lambda: dt.datetime.now(dt.timezone.utc))
        self.page_size = page_size
        # Pagination pitfalls, set by the tests:
        self.empty_pages_first = 0  # the first pages of a listing are empty, each with a key
        self.reject_continuation_keys = 0  # the next N requests carrying a valid key get WRONG_CONTINUATION_KEY
        self.repeat_continuation_key = False  # a broken bank: the key it is given comes back again
        # A broken bank: the next N pages are each sent twice, under two keys (the same page served again).
        self.pages_served_twice = 0
        # The API promises no order: "booking_date" (oldest first), "newest_first", or "as_added".
        self.transaction_order = "booking_date"
        self.aspsps = [
            {"name": name, "country": country, "logo": f"https://enablebanking.com/brands/{country}/{name}/",
             "psu_types": list(psu_types), "maximum_consent_validity": days * 86400, "beta": beta, "bic": bic,
             "auth_methods": [], "required_psu_headers": []}
            for name, country, bic, days, beta, psu_types in DEFAULT_ASPSPS
        ]
        self.accounts: list[EmulatedAccount] = []
        self.authorizations: dict[str, dict] = {}
        self.codes: dict[str, dict] = {}
        self.sessions: dict[str, EmulatedSession] = {}
        self._continuation_keys: dict[str, dict] = {}
        self._counter = itertools.count(1)
        api = [
            ("GET", "/aspsps", self._aspsps), ("POST", "/auth", self._auth),
            ("POST", "/sessions", self._create_session), ("GET", "/sessions/{session_id}", self._get_session),
            ("DELETE", "/sessions/{session_id}", self._close_session),
            ("GET", "/accounts/{uid}/details", self._details), ("GET", "/accounts/{uid}/balances", self._balances),
            ("GET", "/accounts/{uid}/transactions", self._transactions),
        ]
        for method, pattern, handler in api:
            self.route(method, pattern, self._authenticated(handler))
        # The bank's own pages are for the user's browser: no application JWT there.
        self.route("GET", "/bank/{authorization_id}", self._bank_page)
        self.route("POST", "/bank/{authorization_id}", self._bank_decision)

    # -- programmable data ------------------------------------------------------

    def add_account(self, name: str = "Business Account", currency: str = "EUR", iban: str | None = None,
                    opening_balance="0") -> EmulatedAccount:
        iban = iban or f"FI2140{next(self._counter):012d}"  # the shape of a Finnish IBAN, no valid checksum
        account = EmulatedAccount(
            iban=iban, name=name, currency=currency, opening_balance=Decimal(opening_balance),
            # Stable across sessions, unlike uids: what clients match accounts on.
            identification_hash=hashlib.sha256(f"{iban}|{currency}".encode()).hexdigest(),
        )
        self.accounts.append(account)
        return account

    def add_transaction(self, account: EmulatedAccount, amount: str, indicator: str = "CRDT", *,
                        status: str = "BOOK", booking_date=None, value_date=None,
                        entry_reference: str | None = "auto", transaction_id: str | None = "auto",
                        creditor_name=None, creditor_iban=None, debtor_name=None, debtor_iban=None,
                        remittance=(), currency: str | None = None, **extra) -> dict:
        """One transaction as the API sends it. ``amount`` is sent exactly as given (unsigned or
        signed); ``entry_reference=None`` leaves it out; ``extra`` adds or overrides raw fields."""
        number = next(self._counter)
        booking_date = booking_date or self._today()
        transaction = {
            "entry_reference": f"ER{number:08d}" if entry_reference == "auto" else entry_reference,
            "transaction_id": f"tx-{uuid.uuid4()}" if transaction_id == "auto" else transaction_id,
            "transaction_amount": {"currency": currency or account.currency, "amount": amount},
            "credit_debit_indicator": indicator,
            "status": status,
            "booking_date": str(booking_date), "value_date": str(value_date or booking_date), "transaction_date": None,
            # Absent optional values come as null, as many banks send them.
            "creditor": {"name": creditor_name} if creditor_name else None,
            "creditor_account": {"iban": creditor_iban} if creditor_iban else None,
            "debtor": {"name": debtor_name} if debtor_name else None,
            "debtor_account": {"iban": debtor_iban} if debtor_iban else None,
            "remittance_information": list(remittance),
            "bank_transaction_code": None, "reference_number": None,
        }
        transaction = {key: value for key, value in transaction.items() if value is not None or key not in (
            "entry_reference", "transaction_id")}  # None for these: left out, a missing identifier
        transaction.update(extra)
        account.transactions.append(transaction)
        return transaction

    def seed_demo_data(self) -> None:
        """A few accounts for trying the emulator by hand."""
        today = self._today()
        current = self.add_account("Compte courant Société Générale d'Énergie", "EUR", opening_balance="1500.00")
        for days, amount, indicator, name, text in (
            (20, "1250.00", "CRDT", "Zoë Dupont-Élise", "Facture F-2026-001"),
            (12, "89.90", "DBIT", "Müller & Söhne GmbH", "Büromaterial"),
            (5, "-42.10", "DBIT", "Café Łódź", "Carte 1234"),
            (1, "310.00", "CRDT", "Ærø Shipping ApS", "Invoice 77"),
        ):
            party = {"debtor_name": name} if indicator == "CRDT" else {"creditor_name": name}
            self.add_transaction(current, amount, indicator, booking_date=today - dt.timedelta(days=days),
                                 remittance=[text], **party)
        self.add_transaction(current, "12.00", "DBIT", status="PDNG", creditor_name="Boulangerie Crème Brûlée",
                             entry_reference=None)
        yen = self.add_account("円口座", "JPY", opening_balance="250000")
        self.add_transaction(yen, "15000", "DBIT", booking_date=today - dt.timedelta(days=3),
                             creditor_name="株式会社テスト", remittance=["請求書 42"])

    def revoke_session(self, session_id: str) -> None:
        self.sessions[session_id].ended = "REVOKED"

    def close_account(self, account: EmulatedAccount, closed: bool = True) -> None:
        """The bank closes the account (``closed`` False: opens it again): its
        details, balances and transactions are refused, in every session; the
        sessions and the other accounts are untouched."""
        with self._lock:
            account.closed = closed

    # -- helpers -------------------------------------------------------------------

    def _today(self) -> dt.date:
        return self.now().astimezone(dt.timezone.utc).date()

    def _authenticated(self, handler):
        def check_then_handle(request: Request) -> Response:
            refusal = self._check_jwt(request.headers.get("authorization", ""))
            return refusal or handler(request)
        return check_then_handle

    def _check_jwt(self, authorization: str) -> Response | None:
        """None when the application's JWT is valid, else the API's 401. Its ``error`` value is
        not confirmed by our reference: UNAUTHORIZED_ACCESS is assumed."""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return api_error(401, "UNAUTHORIZED_ACCESS", "Authorization header is missing")
        try:
            header = jwt.get_unverified_header(token)
            if header.get("kid") != self.application_id:
                return api_error(401, "UNAUTHORIZED_ACCESS", "Unknown application", "kid")
            # Time is checked below against the emulator's clock, not the machine's.
            claims = jwt.decode(token, self.public_key_pem, algorithms=["RS256"], audience=JWT_AUDIENCE,
                                issuer=JWT_ISSUER, options={"require": ["iat", "exp", "iss", "aud"],
                                                            "verify_exp": False, "verify_iat": False})
        except jwt.PyJWTError as error:
            return api_error(401, "UNAUTHORIZED_ACCESS", "Invalid JWT", type(error).__name__)
        now = self.now().timestamp()
        if not claims["iat"] - 60 <= now < claims["exp"]:
            return api_error(401, "UNAUTHORIZED_ACCESS", "JWT is expired or not yet valid", "exp")
        if claims["exp"] - claims["iat"] > JWT_MAX_LIFETIME:
            return api_error(401, "UNAUTHORIZED_ACCESS", "JWT lifetime is too long", "exp")
        return None

    def _find_aspsp(self, aspsp) -> dict | None:
        if not isinstance(aspsp, dict):
            return None
        return next((a for a in self.aspsps if a["name"] == aspsp.get("name")
                     and a["country"] == aspsp.get("country")), None)

    def _session_of(self, uid: str) -> tuple[EmulatedSession | None, Response | None]:
        for session in self.sessions.values():
            if uid in session.accounts:
                status = self._status(session)
                if status != "AUTHORIZED":
                    return None, api_error(401, f"{status}_SESSION", f"Session is {status.lower()}")
                if session.accounts[uid].closed:
                    # The code and its meaning are the API's; its HTTP status is not confirmed by our reference.
                    return None, api_error(403, "ASPSP_ACCOUNT_NOT_ACCESSIBLE",
                                           "PSU does not have access to the requested account or it doesn't exist")
                return session, None
        return None, api_error(404, "ACCOUNT_DOES_NOT_EXIST", "Account does not exist")

    def _status(self, session: EmulatedSession) -> str:
        if session.ended:
            return session.ended
        return "EXPIRED" if self.now() >= session.valid_until else "AUTHORIZED"

    def not_found(self, request: Request) -> Response:
        return api_error(404, None, "Not Found")

    # -- API ---------------------------------------------------------------------------

    def _aspsps(self, request: Request) -> Response:
        country = request.query.get("country")
        return Response(200, {"aspsps": [a for a in self.aspsps if not country or a["country"] == country.upper()]})

    def _auth(self, request: Request) -> Response:
        body = _json_object(request)
        aspsp = self._find_aspsp(body.get("aspsp"))
        if aspsp is None:
            return api_error(400, "WRONG_ASPSP_PROVIDED", "Wrong ASPSP name provided")
        if not body.get("redirect_url") or body.get("psu_type") not in aspsp["psu_types"]:
            return api_error(422, "WRONG_REQUEST_PARAMETERS",
                             "redirect_url and a psu_type the ASPSP supports are required")
        try:
            valid_until = dt.datetime.fromisoformat((body.get("access") or {}).get("valid_until"))
        except (TypeError, ValueError):
            return api_error(422, "WRONG_REQUEST_PARAMETERS", "access.valid_until must be an ISO date-time")
        now = self.now()
        if valid_until.tzinfo is None or not now < valid_until <= now + dt.timedelta(
                seconds=aspsp["maximum_consent_validity"]):
            return api_error(422, "WRONG_REQUEST_PARAMETERS", "access.valid_until is out of the ASPSP's range")
        authorization_id = str(uuid.uuid4())
        self.authorizations[authorization_id] = {
            "aspsp": {"name": aspsp["name"], "country": aspsp["country"]}, "psu_type": body["psu_type"],
            "valid_until": valid_until, "state": body.get("state"), "redirect_url": body["redirect_url"],
            "decided": False,
        }
        return Response(200, {"url": f"{self.url}/bank/{authorization_id}", "authorization_id": authorization_id,
                              "psu_id_hash": hashlib.sha256(authorization_id.encode()).hexdigest()})

    def _create_session(self, request: Request) -> Response:
        code = _json_object(request).get("code")
        grant = self.codes.get(code) if isinstance(code, str) else None
        if grant is None:
            return api_error(400, "WRONG_AUTHORIZATION_CODE", "Wrong authorization code provided")
        if grant["used"]:
            return api_error(400, "ALREADY_AUTHORIZED", "Authorization code was already used")
        if self.now() > grant["issued"] + CODE_LIFETIME:
            return api_error(400, "EXPIRED_AUTHORIZATION_CODE", "Authorization code has expired")
        grant["used"] = True
        authorization = self.authorizations[grant["authorization_id"]]
        session = EmulatedSession(
            session_id=str(uuid.uuid4()), aspsp=authorization["aspsp"], psu_type=authorization["psu_type"],
            valid_until=authorization["valid_until"], created=self.now(),
            accounts={str(uuid.uuid4()): account for account in self.accounts},
        )
        self.sessions[session.session_id] = session
        return Response(200, {
            "session_id": session.session_id,
            "accounts": [account.resource(uid) for uid, account in session.accounts.items()],
            "aspsp": session.aspsp, "psu_type": session.psu_type,
            "access": {"valid_until": session.valid_until.isoformat()},
        })

    def _get_session(self, request: Request) -> Response:
        session = self.sessions.get(request.params["session_id"])
        if session is None:
            return api_error(404, "SESSION_DOES_NOT_EXIST", "Session does not exist")
        return Response(200, {
            "status": self._status(session),
            "accounts": list(session.accounts),
            "accounts_data": [{"uid": uid, "identification_hash": account.identification_hash}
                              for uid, account in session.accounts.items()],
            "aspsp": session.aspsp, "psu_type": session.psu_type,
            "access": {"valid_until": session.valid_until.isoformat()},
            "created": session.created.isoformat(), "authorized": session.created.isoformat(), "closed": None,
        })

    def _close_session(self, request: Request) -> Response:
        session = self.sessions.get(request.params["session_id"])
        if session is None:
            return api_error(404, "SESSION_DOES_NOT_EXIST", "Session does not exist")
        session.ended = session.ended or "CLOSED"
        return Response(200, {"message": "OK"})

    def _details(self, request: Request) -> Response:
        session, refusal = self._session_of(request.params["uid"])
        return refusal or Response(200, session.accounts[request.params["uid"]].resource(request.params["uid"]))

    def _balances(self, request: Request) -> Response:
        session, refusal = self._session_of(request.params["uid"])
        if refusal:
            return refusal
        account = session.accounts[request.params["uid"]]
        if account.balances is not None:
            return Response(200, {"balances": account.balances})
        booked = account.opening_balance + sum(
            (_signed(t) for t in account.transactions if t.get("status") == "BOOK"), Decimal(0))
        expected = booked + sum((_signed(t) for t in account.transactions if t.get("status") == "PDNG"), Decimal(0))
        today = str(self._today())
        return Response(200, {"balances": [
            {"name": name, "balance_amount": {"currency": account.currency, "amount": str(amount)},
             "balance_type": kind, "reference_date": today, "last_change_date_time": None}
            for name, kind, amount in (("Expected", "XPCD", expected), ("Available", "ITAV", expected),
                                       ("Closing booked", "CLBD", booked))
        ]})

    def _transactions(self, request: Request) -> Response:
        uid = request.params["uid"]
        session, refusal = self._session_of(uid)
        if refusal:
            return refusal
        query = request.query
        try:
            date_from = dt.date.fromisoformat(query["date_from"]) if query.get("date_from") else None
            date_to = dt.date.fromisoformat(query["date_to"]) if query.get("date_to") else self._today()
        except ValueError:
            return api_error(422, "WRONG_REQUEST_PARAMETERS", "Dates must be YYYY-MM-DD")
        if date_from and date_from > self._today():
            return api_error(422, "DATE_FROM_IN_FUTURE", "date_from is in the future")
        if date_from and date_from > date_to:
            return api_error(422, "WRONG_DATE_INTERVAL", "date_from should be less than or equal date_to")
        listing = (session.session_id, uid, query.get("date_from"), query.get("date_to"),
                   query.get("transaction_status"))
        key = query.get("continuation_key")
        if key:
            position = self._continuation_keys.get(key)
            if position is None or position["listing"] != listing:
                return api_error(422, "WRONG_CONTINUATION_KEY", "Wrong continuation key provided")
            if self.reject_continuation_keys:
                self.reject_continuation_keys -= 1
                return api_error(422, "WRONG_CONTINUATION_KEY", "Wrong continuation key provided")
            offset, empty_left = position["offset"], position["empty_left"]
            served_twice = position.get("served_twice", False)
        else:
            offset, empty_left, served_twice = 0, self.empty_pages_first, False
        if empty_left:
            return Response(200, {"transactions": [], "continuation_key": self._key(listing, offset, empty_left - 1)})
        status = query.get("transaction_status")
        matching = [
            t for t in session.accounts[uid].transactions
            if (not status or t.get("status") == status)
            and (_day(t) is None or ((not date_from or date_from <= dt.date.fromisoformat(_day(t)))
                                     and dt.date.fromisoformat(_day(t)) <= date_to))
        ]
        if self.transaction_order != "as_added":
            matching.sort(key=lambda t: _day(t) or "", reverse=self.transaction_order == "newest_first")
        page = matching[offset:offset + self.page_size]
        if page and not served_twice and self.pages_served_twice:
            # The key that follows leads to this very page again, then the listing goes on.
            self.pages_served_twice -= 1
            return Response(200, {"transactions": page,
                                  "continuation_key": self._key(listing, offset, 0, served_twice=True)})
        more = offset + self.page_size < len(matching)
        next_key = None
        if more:
            next_key = key if (key and self.repeat_continuation_key) else self._key(listing, offset + self.page_size, 0)
        return Response(200, {"transactions": page, "continuation_key": next_key})

    def _key(self, listing: tuple, offset: int, empty_left: int, served_twice: bool = False) -> str:
        key = secrets.token_urlsafe(16)
        self._continuation_keys[key] = {"listing": listing, "offset": offset, "empty_left": empty_left,
                                        "served_twice": served_twice}
        return key

    # -- the bank's pages ------------------------------------------------------------

    def _bank_page(self, request: Request) -> Response:
        authorization = self.authorizations.get(request.params["authorization_id"])
        if authorization is None:
            return Response(404, "<html><body><h1>Unknown authorization</h1></body></html>", content_type="text/html")
        accounts = "".join(f"<li>{html.escape(a.name)} ({html.escape(a.iban)}, {a.currency})</li>"
                           for a in self.accounts)
        bank = html.escape(authorization["aspsp"]["name"])
        page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{bank}</title></head>
<body><h1>{bank}</h1><p>Share these accounts with the application?</p><ul>{accounts}</ul>
<form method="post" action="/bank/{request.params['authorization_id']}">
<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="refuse">Refuse</button>
</form></body></html>"""
        return Response(200, page, content_type="text/html; charset=utf-8")

    def _bank_decision(self, request: Request) -> Response:
        authorization = self.authorizations.get(request.params["authorization_id"])
        if authorization is None or authorization["decided"]:
            return Response(400, "<html><body><h1>This authorization is over</h1></body></html>",
                            content_type="text/html")
        authorization["decided"] = True
        decision = dict(parse_qsl(request.body.decode())).get("decision")
        if decision == "approve":
            code = secrets.token_urlsafe(24)
            self.codes[code] = {"authorization_id": request.params["authorization_id"], "used": False,
                                "issued": self.now()}
            answer = {"code": code, "state": authorization["state"]}
        else:
            answer = {"error": "access_denied", "error_description": "The user refused the consent",
                      "state": authorization["state"]}
        parts = urlsplit(authorization["redirect_url"])
        query = urlencode(parse_qsl(parts.query) + [(k, v) for k, v in answer.items() if v is not None])
        return Response(302, "", headers={"Location": urlunsplit(parts._replace(query=query))},
                        content_type="text/plain")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Enable Banking API emulator (127.0.0.1 only).")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: any free port)")
    parser.add_argument("--app-id", default="emulated-application", help="the application id (JWT kid)")
    args = parser.parse_args(argv)
    private_pem, public_pem = make_test_key()
    descriptor, key_path = tempfile.mkstemp(prefix="enablebanking-app-", suffix=".pem")
    with os.fdopen(descriptor, "w") as key_file:  # mkstemp: readable by this user only
        key_file.write(private_pem)
    emulator = EnableBankingEmulator(args.app_id, public_pem, port=args.port)
    emulator.seed_demo_data()
    print(f"Application id (client_identifier): {args.app_id}\nApplication private key (private_key): {key_path}")
    print(f"API base URL: {emulator.url}")
    emulator.serve_forever()


if __name__ == "__main__":
    main()
