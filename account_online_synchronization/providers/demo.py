# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Demo Bank: a built-in provider with no network and no credentials.

Everything is derived from the date and a fixed seed, so two calls at the
same instant give the same answer, and time moving on behaves like a real
bank: card payments stay pending two days, then post under a new identifier;
history only goes back 90 days; the balance is what posted transactions add
up to since the account was opened.
"""
from __future__ import annotations

import datetime as dt
import functools
import random
from dataclasses import dataclass
from decimal import Decimal

from dateutil.relativedelta import relativedelta

from .base import (
    PENDING,
    POSTED,
    AutoSyncNotAllowed,
    Balance,
    BankAccount,
    BankProvider,
    ConnectStep,
    Consent,
    ConsentExpired,
    Institution,
    InvalidData,
    RateLimited,
    Transaction,
)

SEED = "odoo-demo-bank-v1"
ACCOUNTS_OPENED_ON = dt.date(2025, 1, 1)
CONSENT_DAYS = 90
CARD_SETTLEMENT_DAYS = 2
# The days of the month the balance is brought back near its start (see _balancing_transfer).
BALANCING_DAYS = (7, 14, 21, 28)
CENT = Decimal("0.01")
# Fixed rates between the demo currencies, for card payments abroad.
DEMO_RATES = {("USD", "EUR"): Decimal("0.92"), ("EUR", "USD"): Decimal("1.08")}

INSTITUTIONS = (
    Institution(
        identifier="DEMO_BANK",
        name="Demo Bank",
        countries=("BE", "FR", "US"),
        bic="DEMOBE22",
        history_days=90,
    ),
    Institution(
        identifier="DEMO_MANUAL",
        name="Demo Savings Bank",
        countries=("BE", "FR"),
        bic="DEMOFRPP",
        history_days=90,
        auto_sync_allowed=False,
    ),
    Institution(
        identifier="DEMO_BETA",
        name="Demo Neobank",
        countries=("DE", "BE"),
        bic="DEMODEFF",
        is_beta=True,
        history_days=90,
        daily_refresh_limit=1,
    ),
)


@dataclass(frozen=True)
class _DemoAccount:
    key: str
    name: str
    currency: str
    number: str
    utc_offset_hours: int
    opening_balance: Decimal


DEMO_ACCOUNTS = {
    "DEMO_BANK": (
        _DemoAccount("current", "Current Account", "EUR", "BE68539007547034", 1, Decimal("9500.00")),
        _DemoAccount("dollar", "Dollar Account", "USD", "021000021-4481516", -5, Decimal("12000.00")),
        _DemoAccount("deposit", "Deposit Account", "EUR", "BE71096123456769", 1, Decimal("25000.00")),
    ),
    "DEMO_MANUAL": (
        _DemoAccount("savings", "Savings Account", "EUR", "FR7630006000011234567890189", 1, Decimal("15000.00")),
    ),
    "DEMO_BETA": (
        _DemoAccount("spending", "Spending Account", "EUR", "DE89370400440532013000", 1, Decimal("12000.00")),
    ),
}

# (label, counterparty, low, high): negative amounts are money out.
CARD_PAYMENTS = (
    ("Card payment", "Boulangerie Crème Brûlée", "-3.10", "-14.80"),
    ("Card payment", "Müller & Söhne GmbH", "-12.00", "-89.99"),
    ("Card payment", "Café Łódź", "-2.50", "-9.40"),
    ("Card payment", "Supermercado Ñandú", "-18.20", "-145.60"),
    ("Card payment abroad", "Amazon.com Services LLC", "-9.99", "-120.00"),
)
TRANSFERS = (
    ("Invoice payment", "Zoë Dupont-Élise", "120.00", "1800.00"),
    ("Invoice payment", "Ærø Shipping ApS", "300.00", "4200.00"),
    ("Energy bill", "Société Générale d'Énergie", "-60.00", "-210.00"),
    ("Telephone", "Telefónica Møbil", "-19.99", "-49.99"),
    ("Supplier payment", "Bürobedarf Señor Çelik SàRL", "-150.00", "-2200.00"),
    ("Supplier payment", "Nordisk Ståhl AB", "-400.00", "-2600.00"),
)


def _amount(rng: random.Random, low: str, high: str) -> Decimal:
    low_cents, high_cents = sorted((int(Decimal(low) * 100), int(Decimal(high) * 100)))
    return Decimal(rng.randint(low_cents, high_cents)) / 100


@functools.lru_cache(maxsize=65536)
def _events_of_day(account_id: str, day: dt.date) -> tuple:
    """(kind, label, partner, amount, hour, minute) of what happens on the
    account that day, at the bank's local time: the same every time, so
    computed once (a balance adds up every day since the account opened)."""
    rng = random.Random(f"{SEED}|{account_id}|{day.isoformat()}")
    events = _daily_events(rng, day)
    if day.day in BALANCING_DAYS:
        events += _balancing_transfer(account_id, day)
    # Times spread over the whole day, midnight included, in the bank's zone.
    return tuple((*event, rng.choice((0, 7, 9, 12, 16, 23)), rng.randrange(60)) for event in events)


def _daily_events(rng: random.Random, day: dt.date) -> list:
    events = []  # (kind, label, partner, amount)
    if day.day == 1:
        events.append(("transfer", "Office rent", "Immobilière Lefèvre SA", Decimal("-950.00")))
    if day.day == 25:
        events.append(("transfer", "Monthly fee", "Demo Bank", Decimal("-4.50")))
    for _i in range(rng.choice((0, 1, 1, 2, 3))):
        if rng.random() < 0.6:
            label, partner, low, high = rng.choice(CARD_PAYMENTS)
            events.append(("card", label, partner, _amount(rng, low, high)))
        else:
            label, partner, low, high = rng.choice(TRANSFERS)
            events.append(("transfer", label, partner, _amount(rng, low, high)))
    return events


def _balancing_transfer(account_id: str, day: dt.date) -> list:
    """Every week, what a going concern does: customers pay in about what went
    out since the last time, or the surplus goes to savings. The balance then
    stays near the opening one year after year (a random walk would sink
    below zero, or grow without end)."""
    index = BALANCING_DAYS.index(day.day)
    if index:
        since = day.replace(day=BALANCING_DAYS[index - 1])
    else:
        since = (day - relativedelta(months=1)).replace(day=BALANCING_DAYS[-1])
    net = Decimal(0)
    while since < day:
        rng = random.Random(f"{SEED}|{account_id}|{since.isoformat()}")
        net += sum((event[3] for event in _daily_events(rng, since)), Decimal(0))
        since += dt.timedelta(days=1)
    rng = random.Random(f"{SEED}|{account_id}|{day.isoformat()}|balancing")
    amount = (-net * Decimal(rng.randint(97, 103)) / 100).quantize(CENT)
    if amount > 0:
        return [("transfer", "Customer receipts", "Lumière & Fils SARL", amount)]
    if amount < 0:
        return [("transfer", "Transfer to savings", "Demo Bank Savings", amount)]
    return []


class DemoBankProvider(BankProvider):
    code = "demo"
    name = "Demo Bank"
    needs_credentials = False

    # ------------------------------------------------------------------
    # Directory and consent
    # ------------------------------------------------------------------

    def list_institutions(self, country=None):
        if not country:
            return list(INSTITUTIONS)
        return [inst for inst in INSTITUTIONS if country.upper() in inst.countries]

    def _institution(self, institution_id: str) -> Institution:
        for inst in INSTITUTIONS:
            if inst.identifier == institution_id:
                return inst
        raise InvalidData(f"Demo Bank has no institution {institution_id!r}.")

    def start_connect(self, institution_id, redirect_url, state, consent=None):
        inst = self._institution(institution_id)
        now = self.now()
        consent = Consent(
            identifier=f"demo-consent-{state}",
            valid_until=now + dt.timedelta(days=CONSENT_DAYS),
            data={"institution": inst.identifier, "refreshes": []},
        )
        return ConnectStep(consent=consent)

    def _check_consent(self, consent: Consent) -> Institution:
        if consent.valid_until and self.now() >= consent.valid_until:
            raise ConsentExpired(
                "The consent given to the bank has expired.", valid_until=consent.valid_until,
                detail=f"Consent {consent.identifier}.",
            )
        return self._institution(consent.data.get("institution", ""))

    def refresh(self, consent, automatic):
        inst = self._check_consent(consent)
        if automatic and not inst.auto_sync_allowed:
            raise AutoSyncNotAllowed(f"{inst.name} only allows synchronizations started by a user.")
        if not inst.daily_refresh_limit:
            return
        now = self.now()
        day_ago = now - dt.timedelta(days=1)
        recent = sorted(
            stamp for stamp in (dt.datetime.fromisoformat(s) for s in consent.data.get("refreshes", []))
            if stamp > day_ago
        )
        if len(recent) >= inst.daily_refresh_limit:
            raise RateLimited(
                f"{inst.name} allows {inst.daily_refresh_limit} refresh(es) a day.",
                reset_at=recent[0] + dt.timedelta(days=1),
            )
        consent.data["refreshes"] = [s.isoformat() for s in recent] + [now.isoformat()]

    # ------------------------------------------------------------------
    # Accounts, balances, transactions
    # ------------------------------------------------------------------

    def _accounts(self, consent: Consent):
        inst = self._check_consent(consent)
        return inst, {f"{inst.identifier}-{acc.key}": acc for acc in DEMO_ACCOUNTS[inst.identifier]}

    def _account(self, consent: Consent, account_id: str):
        inst, accounts = self._accounts(consent)
        if account_id not in accounts:
            raise InvalidData(f"Demo Bank has no account {account_id!r}.")
        return inst, accounts[account_id]

    def list_accounts(self, consent):
        _inst, accounts = self._accounts(consent)
        return [
            BankAccount(identifier=ident, name=acc.name, currency=acc.currency, account_number=acc.number)
            for ident, acc in accounts.items()
        ]

    def get_balance(self, consent, account_id):
        _inst, acc = self._account(consent, account_id)
        now = self.now()
        total = acc.opening_balance + sum(
            (t.amount for t in self._generate(account_id, acc, ACCOUNTS_OPENED_ON, self._today(acc), now)
             if t.status == POSTED),
            Decimal(0),
        )
        return Balance(amount=total, currency=acc.currency, reference_date=self._today(acc))

    def get_transactions(self, consent, account_id, date_from, date_to):
        inst, acc = self._account(consent, account_id)
        # The bank keeps a limited history.
        date_from = max(date_from, self._today(acc) - dt.timedelta(days=inst.history_days))
        return [
            t for t in self._generate(account_id, acc, date_from, date_to, self.now())
            if date_from <= t.booking_date <= date_to
        ]

    def _today(self, acc: _DemoAccount) -> dt.date:
        return self.now().astimezone(dt.timezone(dt.timedelta(hours=acc.utc_offset_hours))).date()

    def _generate(self, account_id, acc, date_from, date_to, now):
        """Every transaction of the account that is known at ``now`` and may be
        booked between both dates."""
        bank_tz = dt.timezone(dt.timedelta(hours=acc.utc_offset_hours))
        day = max(ACCOUNTS_OPENED_ON, date_from - dt.timedelta(days=CARD_SETTLEMENT_DAYS))
        while day <= date_to:
            for txn in self._transactions_of_day(account_id, acc, day, bank_tz, now):
                yield txn
            day += dt.timedelta(days=1)

    def _transactions_of_day(self, account_id, acc, day, bank_tz, now):
        events = _events_of_day(account_id, day)
        for index, (kind, label, partner, amount, hour, minute) in enumerate(events):
            at = dt.datetime.combine(day, dt.time(hour, minute), bank_tz)
            if at > now:
                continue
            reference = f"{account_id}-{day:%Y%m%d}-{index}"
            foreign_currency = foreign_amount = None
            if label == "Card payment abroad":
                foreign_currency = "USD" if acc.currency != "USD" else "EUR"
                foreign_amount = amount
                amount = (amount * DEMO_RATES[(foreign_currency, acc.currency)]).quantize(CENT)
            common = dict(
                amount=amount,
                currency=acc.currency,
                label=f"{label} {partner}" if kind == "card" else f"{label} {day:%d/%m/%Y}",
                partner_name=partner,
                partner_information=f"demo-partner-{partner.lower()}",
                foreign_currency=foreign_currency,
                foreign_amount=foreign_amount,
            )
            if kind == "card":
                posted_at = (at + dt.timedelta(days=CARD_SETTLEMENT_DAYS)).replace(hour=6, minute=0)
                if posted_at > now:
                    yield Transaction(
                        identifier=f"PDNG-{reference}", status=PENDING,
                        booking_date=day, booked_at=at, **common,
                    )
                    continue
                yield Transaction(
                    identifier=f"BOOK-{reference}", status=POSTED,
                    booking_date=posted_at.date(), booked_at=posted_at,
                    pending_identifier=f"PDNG-{reference}", **common,
                )
            else:
                yield Transaction(
                    identifier=f"BOOK-{reference}", status=POSTED,
                    booking_date=day, booked_at=at, **common,
                )
