# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""GoCardless Bank Account Data: the API's JSON turned into typed records.

Pure functions, no HTTP. Whatever the rest of the code relies on (ids,
amounts, currencies, dates) is checked, and :class:`InvalidData` says what
is wrong; free texts (labels, names) of an unexpected type are left out.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from .base import Balance, Institution, InvalidData, Transaction
from .base import first_text as base_first_text

DEFAULT_DAYS = 90  # the API's own default for history and access
# Balances that add up posted transactions, best first.
BOOKED_BALANCE_TYPES = ("closingBooked", "interimBooked", "expected")
AMOUNT_RE = re.compile(r"^[+-]?\d+(\.\d+)?$")
RETRY_IN_RE = re.compile(r"try again in (\d+) seconds", re.IGNORECASE)


def _not(value, expected: str) -> str:
    return f"{expected} expected, not {type(value).__name__}"


def obj(value, what: str) -> dict:
    if not isinstance(value, dict):
        raise InvalidData(f"GoCardless sent no valid {what}.", detail=_not(value, "an object"))
    return value


def array(value, what: str) -> list:
    if not isinstance(value, list):
        raise InvalidData(f"GoCardless sent no valid {what}.", detail=_not(value, "a list"))
    return value


def text(value, what: str, required: bool = True) -> str | None:
    if value is None or value == "":
        if required:
            raise InvalidData(f"GoCardless sent no {what}.")
        return None
    if not isinstance(value, str):
        raise InvalidData(f"GoCardless sent an invalid {what}.", detail=_not(value, "a text"))
    return value


def days(value, what: str, default: int | None) -> int | None:
    """Institutions give their day counts as strings ("540")."""
    if value is None or value == "":
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise InvalidData(f"GoCardless sent an invalid {what}.", detail=repr(value)[:50])


def amount(value, what: str) -> Decimal:
    """Amounts are strings: a JSON number would already have lost cents."""
    if not isinstance(value, str) or not AMOUNT_RE.match(value.strip()):
        raise InvalidData(f"GoCardless sent an invalid {what}.", detail=repr(value)[:50])
    result = Decimal(value.strip())
    return abs(result) if result == 0 else result  # "-0.00" is 0


def date(value, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text(value, what))
    except ValueError:
        raise InvalidData(f"GoCardless sent an invalid {what}.", detail=repr(value)[:40]) from None


def aware_datetime(value, what: str) -> dt.datetime | None:
    """A date-time with its offset; one without offset tells no moment: None."""
    if value is None or value == "":
        return None
    try:
        moment = dt.datetime.fromisoformat(text(value, what))
    except ValueError:
        raise InvalidData(f"GoCardless sent an invalid {what}.", detail=repr(value)[:40]) from None
    return moment if moment.tzinfo is not None else None


def first_text(*values) -> str | None:
    """The first non-blank text; a list of texts (the API's ``...Array``
    fields) counts as their join."""
    return base_first_text(*(
        " ".join(filter(None, (base_first_text(part) for part in value))) if isinstance(value, list) else value
        for value in values
    ))


def institution(raw, daily_refresh_limit: int) -> Institution:
    raw = obj(raw, "bank")
    return Institution(
        identifier=text(raw.get("id"), "bank id"),
        name=text(raw.get("name"), "bank name"),
        countries=tuple(c.upper() for c in array(raw.get("countries") or [], "countries") if isinstance(c, str)),
        bic=text(raw.get("bic"), "BIC", required=False),
        logo_url=text(raw.get("logo"), "logo", required=False),
        history_days=days(raw.get("transaction_total_days"), "history depth", DEFAULT_DAYS),
        daily_refresh_limit=daily_refresh_limit,
        max_consent_days=days(raw.get("max_access_valid_for_days"), "access length", None),
    )


def booked_balance(body, account_id: str) -> Balance:
    """The balance of posted transactions: closingBooked, else interimBooked,
    else expected; the latest of its kind."""
    best = None
    for raw in array(obj(body, "balances").get("balances"), "balances"):
        raw = obj(raw, "balance")
        kind = raw.get("balanceType")
        if kind not in BOOKED_BALANCE_TYPES:
            continue
        money = obj(raw.get("balanceAmount"), "balance amount")
        day = date(raw["referenceDate"], "balance date") if raw.get("referenceDate") else None
        rank = (-BOOKED_BALANCE_TYPES.index(kind), day or dt.date.min)
        candidate = Balance(
            amount=amount(money.get("amount"), "balance amount"),
            currency=text(money.get("currency"), "balance currency").upper(),
            reference_date=day,
        )
        if best is None or rank > best[0]:
            best = (rank, candidate)
    if best is None:
        raise InvalidData("GoCardless sent no booked balance for this account.", detail=account_id)
    return best[1]


def transaction_identifier(raw: dict) -> str | None:
    """The bank's id, else GoCardless's, else the entry reference; None when
    none is given (the Odoo layer then derives one from the content)."""
    for key in ("transactionId", "internalTransactionId", "entryReference"):
        value = raw.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        value = text(value, "transaction id", required=False)
        if value and value.strip():
            return value.strip()
    return None


def transaction(raw, status: str) -> Transaction:
    raw = obj(raw, "transaction")
    money = obj(raw.get("transactionAmount"), "transaction amount")
    signed = amount(money.get("amount"), "transaction amount")
    currency = text(money.get("currency"), "transaction currency").upper()
    identifier = transaction_identifier(raw)
    booked_at = aware_datetime(raw.get("bookingDateTime"), "booking time")
    # Pending items often have only a value date.
    day_text = raw.get("bookingDate") or (None if booked_at else raw.get("valueDate"))
    if day_text:
        booking_date = date(day_text, "booking date")
    elif booked_at:
        booking_date = booked_at.date()
    else:
        raise InvalidData("GoCardless sent a transaction without date.", detail=identifier)
    money_out = signed < 0
    creditor = raw.get("creditorAccount") if isinstance(raw.get("creditorAccount"), dict) else {}
    debtor = raw.get("debtorAccount") if isinstance(raw.get("debtorAccount"), dict) else {}
    partner = creditor if money_out else debtor
    names = (raw.get("creditorName"), raw.get("debtorName"))
    foreign_currency, foreign_amount = foreign(raw.get("currencyExchange"), currency, signed)
    return Transaction(
        identifier=identifier,
        status=status,
        amount=signed,
        currency=currency,
        booking_date=booking_date,
        booked_at=booked_at,
        label=first_text(
            raw.get("remittanceInformationUnstructured"),
            raw.get("remittanceInformationUnstructuredArray"),
            raw.get("remittanceInformationStructured"),
            raw.get("remittanceInformationStructuredArray"),
            raw.get("additionalInformation"),
        ) or "",
        partner_name=first_text(*names) if money_out else first_text(*reversed(names)),
        # No fallback to the other side: on money out it is often our own account.
        partner_account_number=first_text(partner.get("iban"), partner.get("bban")),
        foreign_currency=foreign_currency,
        foreign_amount=foreign_amount,
    )


def foreign(exchange, currency: str, signed: Decimal) -> tuple[str | None, Decimal | None]:
    """The amount in the currency of a payment abroad, when the bank tells it
    (``currencyExchange.instructedAmount``); a rate alone is not converted
    here: its direction (``unitCurrency``) varies between banks."""
    if isinstance(exchange, list):  # an object or a list of them, depending on the bank
        exchange = exchange[0] if exchange else None
    if not isinstance(exchange, dict) or not isinstance(exchange.get("instructedAmount"), dict):
        return None, None
    instructed = exchange["instructedAmount"]
    foreign_currency = text(instructed.get("currency") or exchange.get("sourceCurrency"), "foreign currency",
                            required=False)
    if not foreign_currency or foreign_currency.upper() == currency:
        return None, None
    foreign_amount = abs(amount(instructed.get("amount"), "foreign amount"))
    return foreign_currency.upper(), -foreign_amount if signed < 0 else foreign_amount


def rate_limit_reset(headers, detail: str, now: dt.datetime) -> dt.datetime | None:
    """When the quota comes back: the reset headers (documented as
    ``HTTP_X_RATELIMIT_ACCOUNT_SUCCESS_RESET``, also met as
    ``X-RateLimit-Account-Success-Reset``), else the detail's "N seconds"."""
    normalized = {key.lower().replace("-", "_").removeprefix("http_"): value for key, value in headers.items()}
    resets = []
    for prefix in ("x_ratelimit_account_success", "x_ratelimit"):
        reset = str(normalized.get(f"{prefix}_reset", "")).strip()
        if reset.isdigit():
            # The quota that ran out decides; else the account's.
            exhausted = str(normalized.get(f"{prefix}_remaining", "")).strip() == "0"
            resets.insert(0 if exhausted else len(resets), int(reset))
    if not resets:
        match = RETRY_IN_RE.search(detail or "")
        resets = [int(match.group(1))] if match else []
    if not resets:
        return None
    if resets[0] > 10 ** 9:  # an epoch, not a delay
        return dt.datetime.fromtimestamp(resets[0], dt.timezone.utc)
    return now + dt.timedelta(seconds=resets[0])
