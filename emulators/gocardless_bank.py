# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The GoCardless emulator's world, without HTTP: institutions, the bank
customers' accounts, end-user agreements, requisitions, tokens and the
per-account daily quotas. ``emulators/gocardless.py`` serves it.

A customer account is known by its IBAN, which stays; each linked
requisition mints new API account ids for it, as the real API does.
"""
from __future__ import annotations

import datetime as dt
import itertools
import secrets
import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Callable
from urllib.parse import quote

SANDBOX_INSTITUTION_ID = "SANDBOXFINANCE_SFIN0000"
ACCESS_TOKEN_SECONDS = 24 * 3600
REFRESH_TOKEN_SECONDS = 30 * 24 * 3600
DAILY_QUOTA = 4  # successful calls per account and scope in 24 hours
SCOPES = ("balances", "details", "transactions")
CURRENCY_DECIMALS = {"JPY": 0, "KRW": 0, "ISK": 0, "KWD": 3, "BHD": 3, "JOD": 3, "OMR": 3, "TND": 3}
AUTO = object()  # "make one up", where None means "leave it out"

EEA_SAMPLE = ["BE", "DE", "ES", "FI", "FR", "GB", "IT", "NL", "PT", "SE"]


def _institution(ident, name, bic, history, access, countries):
    return {
        "id": ident, "name": name, "bic": bic, "transaction_total_days": history,
        "max_access_valid_for_days": access, "countries": countries,
        "logo": f"https://cdn-logos.gocardless.com/ais/{ident}.png",
    }


INSTITUTIONS = [
    _institution(SANDBOX_INSTITUTION_ID, "Sandbox Finance", "SFIN0000", "90", "90", EEA_SAMPLE),
    _institution("SPARKASSE_KOELNBONN_COLSDE33", "Sparkasse KölnBonn", "COLSDE33", "730", "180", ["DE"]),
    _institution("SOCIETE_GENERALE_SOGEFRPP", "Société Générale", "SOGEFRPP", "540", "180", ["FR"]),
    _institution("CAIXA_GERAL_DEPOSITOS_CGDIPTPL", "Caixa Geral de Depósitos", "CGDIPTPL", "730", "180", ["PT"]),
    _institution("ALANDSBANKEN_AABAFI22", "Ålandsbanken Abp", "AABAFI22", "730", "180", ["FI", "SE"]),
    # UK banks grant 90 days of access.
    _institution("MONZO_MONZGB2L", "Monzo Bank – Personal", "MONZGB2L", "730", "90", ["GB"]),
    _institution("REVOLUT_REVOLT21", "Revolut", "REVOLT21", "730", "180", EEA_SAMPLE),
]


def money(amount, currency: str) -> str:
    """An amount as the API writes it: a string with the currency's decimals.
    A string given as it is stays as it is (tests send odd ones on purpose)."""
    if isinstance(amount, str):
        return amount
    return f"{Decimal(amount):.{CURRENCY_DECIMALS.get(currency, 2)}f}"


def _iso_day(value) -> str | None:
    return value.isoformat() if isinstance(value, dt.date) else value


@dataclass
class CustomerAccount:
    iban: str
    currency: str
    institution_id: str
    name: str
    owner_name: str
    opening_balance: Decimal
    details: dict = field(default_factory=dict)  # overrides of the details' fields; None drops one
    booked: list[dict] = field(default_factory=list)
    pending: list[dict] = field(default_factory=list)
    balances: list[dict] | None = None  # None: computed from the transactions


class GoCardlessBank:
    def __init__(self, now: Callable[[], dt.datetime], secret_id: str, secret_key: str):
        self.now = now
        self.secret_id, self.secret_key = secret_id, secret_key
        self.institutions = [dict(inst) for inst in INSTITUTIONS]
        self.customer_accounts: dict[str, CustomerAccount] = {}  # by IBAN
        self.agreements: dict[str, dict] = {}
        self.requisitions: dict[str, dict] = {}
        self.api_accounts: dict[str, dict] = {}  # API account id -> {iban, requisition_id, created}
        self.revoked: set[str] = set()  # requisitions whose access the bank withdrew
        self.closed: set[str] = set()  # IBANs of the accounts the bank closed or deactivated
        self.access_tokens: dict[str, dt.datetime] = {}
        self.refresh_tokens: dict[str, dt.datetime] = {}
        self.successful_calls: dict[tuple[str, str], list[dt.datetime]] = {}
        self._numbers = itertools.count(1)

    def _stamp(self) -> str:
        return self.now().astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")

    # -- tokens ---------------------------------------------------------------

    def new_tokens(self, secret_id, secret_key) -> dict | None:
        if not (secrets.compare_digest(str(secret_id), self.secret_id)
                and secrets.compare_digest(str(secret_key), self.secret_key)):
            return None
        refresh = secrets.token_urlsafe(24)
        self.refresh_tokens[refresh] = self.now() + dt.timedelta(seconds=REFRESH_TOKEN_SECONDS)
        return dict(self._new_access(), refresh=refresh, refresh_expires=REFRESH_TOKEN_SECONDS)

    def refresh_access(self, refresh) -> dict | None:
        expires_at = self.refresh_tokens.get(refresh)
        if expires_at is None or expires_at <= self.now():
            return None
        return self._new_access()

    def _new_access(self) -> dict:
        access = secrets.token_urlsafe(24)
        self.access_tokens[access] = self.now() + dt.timedelta(seconds=ACCESS_TOKEN_SECONDS)
        return {"access": access, "access_expires": ACCESS_TOKEN_SECONDS}

    def access_valid(self, access) -> bool:
        expires_at = self.access_tokens.get(access)
        return expires_at is not None and expires_at > self.now()

    def expire_access_tokens(self, refresh_too: bool = False) -> None:
        """As if the tokens had lived their time (clients keep believing them)."""
        self.access_tokens.clear()
        if refresh_too:
            self.refresh_tokens.clear()

    # -- institutions, agreements, requisitions ---------------------------------

    def institution(self, institution_id) -> dict | None:
        return next((inst for inst in self.institutions if inst["id"] == institution_id), None)

    def create_agreement(self, institution_id, history_days, access_days, scope) -> dict:
        agreement = {
            "id": str(uuid.uuid4()), "created": self._stamp(), "institution_id": institution_id,
            "max_historical_days": history_days, "access_valid_for_days": access_days,
            "access_scope": list(scope), "accepted": None, "reconfirmation": False,
        }
        self.agreements[agreement["id"]] = agreement
        return agreement

    def agreement_expires_at(self, agreement: dict) -> dt.datetime | None:
        if not agreement.get("accepted"):
            return None
        accepted = dt.datetime.fromisoformat(agreement["accepted"].replace("Z", "+00:00"))
        return accepted + dt.timedelta(days=agreement["access_valid_for_days"])

    def agreement_expired(self, agreement: dict) -> bool:
        expires_at = self.agreement_expires_at(agreement)
        return expires_at is not None and expires_at <= self.now()

    def reference_used(self, reference) -> bool:
        return any(req["reference"] == reference for req in self.requisitions.values())

    def create_requisition(self, redirect, institution_id, agreement_id, reference, link_base) -> dict:
        requisition_id = str(uuid.uuid4())
        requisition = {
            "id": requisition_id, "created": self._stamp(), "redirect": redirect, "status": "CR",
            "institution_id": institution_id, "agreement": agreement_id, "reference": reference,
            "accounts": [], "user_language": "EN", "link": f"{link_base}/bank/{requisition_id}/",
            "ssn": None, "account_selection": False, "redirect_immediate": False,
        }
        self.requisitions[requisition_id] = requisition
        return requisition

    def requisition_view(self, requisition: dict) -> dict:
        """The requisition as the API shows it: expired once its agreement is."""
        view = dict(requisition, accounts=list(requisition["accounts"]))
        if view["status"] == "LN" and self.agreement_expired(self.agreements[view["agreement"]]):
            view["status"] = "EX"
        return view

    def approve(self, requisition_id: str) -> str:
        """The user accepts at the bank: the requisition is linked, its
        accounts get new ids. Returns where the user goes back to."""
        requisition = self.requisitions[requisition_id]
        if requisition["status"] != "CR":
            return self._back_url(requisition)  # answered already (a second click)
        requisition["status"] = "LN"
        self.agreements[requisition["agreement"]]["accepted"] = self._stamp()
        for account in self.customer_accounts.values():
            if account.institution_id == requisition["institution_id"]:
                api_id = str(uuid.uuid4())
                self.api_accounts[api_id] = {"iban": account.iban, "requisition_id": requisition_id,
                                             "created": self._stamp()}
                requisition["accounts"].append(api_id)
        return self._back_url(requisition)

    def reject(self, requisition_id: str) -> str:
        requisition = self.requisitions[requisition_id]
        if requisition["status"] == "CR":
            requisition["status"] = "RJ"
        return self._back_url(requisition, error="UserCancelledSession", details="User cancelled the session.")

    @staticmethod
    def _back_url(requisition: dict, **extra) -> str:
        query = "&".join(f"{key}={quote(str(value), safe='')}"
                         for key, value in {"ref": requisition["reference"], **extra}.items())
        redirect = requisition["redirect"]
        return f"{redirect}{'&' if '?' in redirect else '?'}{query}"

    # -- quotas ------------------------------------------------------------------

    def _recent_calls(self, api_id: str, scope: str) -> list[dt.datetime]:
        day_ago = self.now() - dt.timedelta(days=1)
        calls = [moment for moment in self.successful_calls.get((api_id, scope), []) if moment > day_ago]
        self.successful_calls[(api_id, scope)] = calls
        return calls

    def quota(self, api_id: str, scope: str) -> tuple[int, int]:
        """(calls left, seconds until one more is possible)."""
        calls = self._recent_calls(api_id, scope)
        left = max(DAILY_QUOTA - len(calls), 0)
        if not calls:
            return left, 0
        reset = calls[0] + dt.timedelta(days=1) - self.now()
        return left, max(int(reset.total_seconds()), 1)

    def spend(self, api_id: str, scope: str) -> None:
        self._recent_calls(api_id, scope).append(self.now())

    # -- customer data -------------------------------------------------------------

    def add_account(self, iban: str, currency: str = "EUR", *, institution_id: str = SANDBOX_INSTITUTION_ID,
                    name: str = "Current Account", owner_name: str = "Zoë Dupont-Élise",
                    opening_balance="0", details: dict | None = None) -> str:
        """A customer account at the bank; the next approved requisition of
        its institution links it. Returns its IBAN, which names it here."""
        self.customer_accounts[iban] = CustomerAccount(
            iban=iban, currency=currency, institution_id=institution_id, name=name, owner_name=owner_name,
            opening_balance=Decimal(opening_balance), details=dict(details or {}),
        )
        return iban

    def customer_account(self, account: str) -> CustomerAccount:
        """By IBAN or by any of its API ids."""
        if account in self.api_accounts:
            account = self.api_accounts[account]["iban"]
        return self.customer_accounts[account]

    def add_transaction(self, account: str, amount, *, booking_date=None, pending: bool = False,
                        transaction_id=AUTO, currency: str | None = None, **fields) -> dict:
        """A transaction as the API gives it. ``fields`` are the API's own
        (``bookingDateTime``, ``creditorName``...); None leaves one out."""
        customer = self.customer_account(account)
        currency = currency or customer.currency
        day = _iso_day(booking_date) or self.now().date().isoformat()
        txn = {"transactionAmount": {"amount": money(amount, currency), "currency": currency}}
        if transaction_id is AUTO:
            transaction_id = f"{customer.iban[-6:]}-{next(self._numbers):06d}"
        if transaction_id is not None:
            txn["transactionId"] = transaction_id
        if not pending:
            txn["bookingDate"] = day
        txn["valueDate"] = day
        txn.update({key: _iso_day(value) for key, value in fields.items()})
        txn = {key: value for key, value in txn.items() if value is not None}
        (customer.pending if pending else customer.booked).append(txn)
        return txn

    def settle(self, account: str, pending_txn: dict, *, transaction_id=AUTO, booking_date=None) -> dict:
        """A pending transaction posts, under a new id as most banks do."""
        customer = self.customer_account(account)
        customer.pending.remove(pending_txn)
        fields = {key: value for key, value in pending_txn.items()
                  if key not in ("transactionAmount", "transactionId", "valueDate", "bookingDate")}
        pending_amount = pending_txn["transactionAmount"]
        return self.add_transaction(
            account, pending_amount["amount"], currency=pending_amount["currency"], transaction_id=transaction_id,
            booking_date=booking_date or pending_txn.get("valueDate"), **fields,
        )

    def details(self, customer: CustomerAccount) -> dict:
        details = {
            "resourceId": customer.iban[-10:], "iban": customer.iban, "currency": customer.currency,
            "ownerName": customer.owner_name, "name": customer.name, "product": "Girokonto",
            "cashAccountType": "CACC",
        }
        details.update(customer.details)
        return {key: value for key, value in details.items() if value is not None}

    def balances(self, customer: CustomerAccount) -> list[dict]:
        if customer.balances is not None:
            return customer.balances
        booked = customer.opening_balance + sum((_decimal(t) for t in customer.booked), Decimal(0))
        expected = booked + sum((_decimal(t) for t in customer.pending), Decimal(0))
        today = self.now().date().isoformat()

        def balance(amount, kind):
            return {"balanceAmount": {"amount": money(amount, customer.currency), "currency": customer.currency},
                    "balanceType": kind, "referenceDate": today}

        return [balance(booked, "closingBooked"), balance(expected, "expected"),
                balance(expected, "interimAvailable")]

    def transactions(self, customer: CustomerAccount, date_from: dt.date, date_to: dt.date) -> dict:
        def within(txn):
            day = txn.get("bookingDate") or txn.get("valueDate") or (txn.get("bookingDateTime") or "")[:10]
            try:
                return date_from <= dt.date.fromisoformat(day) <= date_to
            except (TypeError, ValueError):
                return True  # a broken date is the client's to find
        return {
            "booked": [dict(t) for t in customer.booked if within(t)],
            "pending": [dict(t) for t in customer.pending if within(t)],
        }

    def add_sample_data(self) -> None:
        """The Sandbox Finance customer, for running the emulator by hand."""
        today = self.now().date()
        main = self.add_account("GL3343697694912188", "EUR", name="Main Account", opening_balance="1500.00")
        self.add_account("GL0865354374424724", "EUR", name="Savings Account", opening_balance="8000.00")
        samples = [
            ("-12.80", 1, {"creditorName": "Boulangerie Crème Brûlée",
                           "remittanceInformationUnstructured": "Card payment Crème Brûlée"}),
            ("1250.00", 3, {"debtorName": "Müller & Söhne GmbH",
                            "debtorAccount": {"iban": "DE89370400440532013000"},
                            "remittanceInformationUnstructured": "Invoice 2026/0042"}),
            ("-45.00", 5, {"creditorName": "Telefónica Møbil", "remittanceInformationUnstructuredArray":
                           ["Monthly plan", "Ref 7781"]}),
        ]
        for amount, days_ago, fields in samples:
            self.add_transaction(main, amount, booking_date=today - dt.timedelta(days=days_ago), **fields)
        self.add_transaction(main, "-9.99", pending=True, transaction_id=None, creditorName="Café Łódź")


def _decimal(txn: dict) -> Decimal:
    try:
        return Decimal(txn["transactionAmount"]["amount"])
    except (InvalidOperation, KeyError, TypeError):
        return Decimal(0)  # a broken amount is the client's to find
