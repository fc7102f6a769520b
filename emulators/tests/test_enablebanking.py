# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The Enable Banking connector against its emulator, without Odoo."""
import ast
import datetime as dt
import logging
import re
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl, urljoin, urlsplit

import jwt
import pytest
import requests

from emulators.base import Fault
from emulators.enablebanking import EnableBankingEmulator, make_test_key
from providers import (
    LISTING_RESTARTED,
    PENDING,
    POSTED,
    AccountUnavailable,
    Consent,
    ConsentExpired,
    InvalidCredentials,
    InvalidData,
    ProviderConfig,
    ProviderError,
    ProviderUnreachable,
    RateLimited,
)
from providers.enablebanking import EnableBankingProvider
from shared_clock import Clock

APP_ID = "0f3a9c2e-app"
BANK = "FI:Nordea"
CALLBACK = "https://odoo.example.com/online_sync/callback?link=7"
START = dt.datetime(2026, 3, 10, 9, 30, tzinfo=dt.timezone.utc)
TODAY = START.date()



@pytest.fixture(scope="module")
def keys():
    return make_test_key()


@pytest.fixture(autouse=True)
def instant_retries(monkeypatch):
    monkeypatch.setattr(EnableBankingProvider, "RETRY_BACKOFF", 0.0)


@pytest.fixture
def clock():
    return Clock(START)


@pytest.fixture
def emulator(keys, clock):
    with EnableBankingEmulator(APP_ID, keys[1], now=clock, page_size=2) as server:
        server.current = server.add_account("Compte courant Crème", "EUR", iban="FI2112345600000785")
        server.yen = server.add_account("円口座", "JPY", iban="FI5540000000000123")
        yield server


def make_provider(emulator, clock, private_pem, timeout=5.0, app_id=APP_ID):
    return EnableBankingProvider(ProviderConfig(
        api_base_url=emulator.url, timeout=timeout, now=clock,
        credentials={"client_identifier": app_id, "private_key": private_pem},
    ))


@pytest.fixture
def provider(emulator, clock, keys):
    return make_provider(emulator, clock, keys[0])


def visit_bank(step, decision="approve"):
    """What the user's browser does: open the bank's page, press a button, follow to the callback."""
    page = requests.get(step.redirect_url, timeout=5)
    assert page.status_code == 200 and "Approve" in page.text and "Refuse" in page.text
    action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
    answer = requests.post(urljoin(page.url, action), data={"decision": decision}, allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert location.netloc == "odoo.example.com"
    return dict(parse_qsl(location.query))


def connect(provider):
    params = visit_bank(provider.start_connect(BANK, CALLBACK, "state-42"))
    assert params["state"] == "state-42" and params["link"] == "7"
    return provider.finish_connect(BANK, params)


def api_get(provider, emulator, path, params):
    """A raw call with the application's valid JWT, to see the API's own answer."""
    return requests.get(emulator.url + path, params=params, timeout=5,
                        headers={"Authorization": f"Bearer {provider._jwt()}"})


def fetch(provider, consent, account_id, days=30):
    return provider.get_transactions(consent, account_id, TODAY - dt.timedelta(days=days), TODAY)


def test_connector_imports_no_odoo():
    source = Path(__file__).resolve().parents[2] / "account_online_synchronization/providers/enablebanking.py"
    modules = {alias.name for node in ast.walk(ast.parse(source.read_text())) if isinstance(node, ast.Import)
               for alias in node.names}
    modules |= {node.module for node in ast.walk(ast.parse(source.read_text()))
                if isinstance(node, ast.ImportFrom) and node.module}
    assert not any(name.split(".")[0] == "odoo" for name in modules)


def test_institutions_by_name_and_country(provider, emulator, keys):
    everything = provider.list_institutions()
    assert {inst.countries for inst in everything} == {("FI",), ("DE",), ("FR",)}
    finnish = {inst.identifier: inst for inst in provider.list_institutions("fi")}
    assert set(finnish) == {"FI:Nordea", "FI:Ålandsbanken"}
    assert finnish["FI:Nordea"].max_consent_days == 180 and finnish["FI:Nordea"].bic == "NDEAFIHH"
    assert finnish["FI:Nordea"].history_days == 90 and not finnish["FI:Nordea"].is_beta
    assert [inst.name for inst in everything if inst.is_beta] == ["Banque Néo Société"]
    assert emulator.requests[-1].query == {"country": "FI"}
    # The application JWT, as the API wants it.
    token = emulator.requests[-1].headers["authorization"].split(" ", 1)[1]
    assert jwt.get_unverified_header(token) == {"typ": "JWT", "alg": "RS256", "kid": APP_ID}
    claims = jwt.decode(token, keys[1], algorithms=["RS256"], audience="api.enablebanking.com",
                        options={"verify_exp": False, "verify_iat": False})
    assert claims["iss"] == "enablebanking.com"
    assert claims["iat"] == int(START.timestamp()) and claims["exp"] - claims["iat"] == 3600


def test_full_flow_across_pages(provider, emulator, clock):
    older = [emulator.add_transaction(emulator.current, f"{n}.00", "CRDT", debtor_name="Zoë Dupont-Élise",
                                      booking_date=TODAY - dt.timedelta(days=n), remittance=[f"Facture {n}"])
             for n in range(1, 6)]
    emulator.empty_pages_first = 1  # a first page with no transaction, but a key
    consent = connect(provider)
    auth = emulator.requests[[r.path for r in emulator.requests].index("/auth")].json()
    assert auth["psu_type"] == "business" and auth["state"] == "state-42" and auth["redirect_url"] == CALLBACK
    assert auth["aspsp"] == {"name": "Nordea", "country": "FI"}
    asked_until = dt.datetime.fromisoformat(auth["access"]["valid_until"])
    assert START + dt.timedelta(days=179) < asked_until <= START + dt.timedelta(days=180)
    assert consent.valid_until == asked_until and consent.identifier == consent.data["session_id"]
    assert {a["identification_hash"] for a in consent.data["accounts"]} == {
        emulator.current.identification_hash, emulator.yen.identification_hash}

    provider.refresh(consent, automatic=True)
    accounts = {account.account_number: account for account in provider.list_accounts(consent)}
    current = accounts["FI2112345600000785"]
    assert (current.name, current.currency) == ("Compte courant Crème", "EUR")
    assert provider.get_balance(consent, current.identifier).amount == Decimal("15.00")

    transactions = fetch(provider, consent, current.identifier)
    assert sorted(t.identifier for t in transactions) == sorted(t["entry_reference"] for t in older)
    first = next(t for t in transactions if t.identifier == older[0]["entry_reference"])
    assert (first.amount, first.status, first.booking_date) == (Decimal("1.00"), POSTED, TODAY - dt.timedelta(days=1))
    assert (first.label, first.partner_name) == ("Facture 1", "Zoë Dupont-Élise")
    pages = [r for r in emulator.requests if r.path.endswith("/transactions")]
    assert len(pages) == 4  # the empty page, then 2 + 2 + 1
    assert all(p.query["date_from"] == str(TODAY - dt.timedelta(days=30)) for p in pages)
    assert all(p.query["date_to"] == str(TODAY) for p in pages)
    assert "continuation_key" not in pages[0].query and all(p.query["continuation_key"] for p in pages[1:])


def test_pages_come_one_request_at_a_time(provider, emulator):
    for n in range(5):
        emulator.add_transaction(emulator.current, f"2.0{n}", "DBIT")
    consent = connect(provider)
    uid = next(a["uid"] for a in consent.data["accounts"] if a["currency"] == "EUR")
    before = len(emulator.requests)
    pages = provider.iter_transaction_pages(consent, uid, TODAY - dt.timedelta(days=30), TODAY)
    first = next(pages)
    assert len(emulator.requests) == before + 1, "the next page is asked for only when this one is taken"
    rest = list(pages)
    assert [len(page) for page in [first, *rest]] == [2, 2, 1]
    assert all(t.amount < 0 for page in [first, *rest] for t in page)
    # A listing started again says so before its first page: what came before is to be forgotten.
    emulator.reject_continuation_keys = 1
    pages = list(provider.iter_transaction_pages(consent, uid, TODAY - dt.timedelta(days=30), TODAY))
    assert [page if page is LISTING_RESTARTED else len(page) for page in pages] == [2, LISTING_RESTARTED, 2, 2, 1]


def test_reconnecting_mints_new_uids_but_keeps_the_hash(provider, emulator):
    first, second = connect(provider), connect(provider)
    assert first.identifier != second.identifier
    by_hash = {a["identification_hash"]: a for a in first.data["accounts"]}
    for account in second.data["accounts"]:
        assert account["uid"] != by_hash[account["identification_hash"]]["uid"]
        assert account["iban"] == by_hash[account["identification_hash"]]["iban"]


def test_accounts_unknown_to_the_consent_are_read_from_the_bank(provider, emulator):
    consent = connect(provider)
    bare = Consent(identifier=consent.identifier, valid_until=consent.valid_until, data={})
    accounts = provider.list_accounts(bare)
    assert {a.account_number for a in accounts} == {"FI2112345600000785", "FI5540000000000123"}
    assert sum(r.path.endswith("/details") for r in emulator.requests) == 2
    assert all(record["identification_hash"] for record in bare.data["accounts"])


def test_refused_at_the_bank(provider):
    params = visit_bank(provider.start_connect(BANK, CALLBACK, "state-42"), decision="refuse")
    assert params["error"] == "access_denied" and "code" not in params
    with pytest.raises(ProviderError, match="refused at the bank") as error:
        provider.finish_connect(BANK, params)
    assert type(error.value) is ProviderError


def test_authorization_code_is_single_use(provider):
    params = visit_bank(provider.start_connect(BANK, CALLBACK, "s"))
    provider.finish_connect(BANK, params)
    with pytest.raises(ProviderError) as error:
        provider.finish_connect(BANK, params)
    assert type(error.value) is ProviderError and "ALREADY_AUTHORIZED" in error.value.detail


def test_expired_and_revoked_sessions(provider, emulator, clock):
    consent = connect(provider)
    uid = consent.data["accounts"][0]["uid"]
    clock.moment = consent.valid_until + dt.timedelta(seconds=1)
    with pytest.raises(ConsentExpired):
        provider.refresh(consent, automatic=False)
    with pytest.raises(ConsentExpired):
        provider.list_accounts(consent)  # the session says EXPIRED
    with pytest.raises(ConsentExpired, match="connect the bank again") as error:
        fetch(provider, consent, uid)  # the API's EXPIRED_SESSION
    assert "EXPIRED_SESSION" in error.value.detail
    clock.moment = START
    other = connect(provider)
    emulator.revoke_session(other.identifier)
    with pytest.raises(ConsentExpired):
        provider.get_balance(other, other.data["accounts"][0]["uid"])


def test_wrong_application_key_is_a_credentials_error_and_leaks_nothing(emulator, clock, keys):
    other_private, _other_public = make_test_key()
    bad = make_provider(emulator, clock, other_private)
    with pytest.raises(InvalidCredentials, match="application") as refused:
        bad.list_institutions()
    token = emulator.requests[-1].headers["authorization"].split(" ", 1)[1]
    consent = connect(make_provider(emulator, clock, keys[0]))
    with pytest.raises(InvalidCredentials) as on_session:  # not mistaken for an ended consent
        fetch(bad, consent, consent.data["accounts"][0]["uid"])
    with pytest.raises(InvalidCredentials):
        make_provider(emulator, clock, keys[0], app_id="someone-else").list_institutions()
    unreadable = []
    garbage = "-----BEGIN PRIVATE KEY-----\nnot a key at all, secret123456789\n-----END PRIVATE KEY-----"
    for key in (keys[1], garbage, ""):  # a public key, garbage, nothing
        with pytest.raises(InvalidCredentials) as error:
            make_provider(emulator, clock, key).list_institutions()
        unreadable.append(error.value)
    for error in [refused.value, on_session.value, *unreadable]:
        assert error.__cause__ is None
        text = f"{error} {error.detail}"
        assert token not in text and "secret123456789" not in text and "PRIVATE KEY" not in text
        assert not any(line in text for line in other_private.splitlines()[1:-1])


def test_expired_jwt_is_refused_by_the_emulator(emulator, keys):
    now = int(START.timestamp())
    for claims in ({"iat": now - 7200, "exp": now - 3600}, {"iat": now, "exp": now + 2 * 86400}):
        token = jwt.encode(dict(claims, iss="enablebanking.com", aud="api.enablebanking.com"), keys[0],
                           algorithm="RS256", headers={"kid": APP_ID})
        answer = requests.get(emulator.url + "/aspsps", headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert answer.status_code == 401 and answer.json()["error"] == "UNAUTHORIZED_ACCESS"
    assert requests.get(emulator.url + "/aspsps", timeout=5).status_code == 401


def test_rate_limited_is_not_retried(provider, emulator, clock):
    consent = connect(provider)
    uid = consent.data["accounts"][0]["uid"]
    body = {"message": "ASPSP rate limit exceeded", "code": 429, "error": "ASPSP_RATE_LIMIT_EXCEEDED", "detail": None}
    emulator.fail_next(status=429, body=body, headers={"Retry-After": "3600"}, path="/transactions")
    before = len(emulator.requests)
    with pytest.raises(RateLimited) as limited:
        fetch(provider, consent, uid)
    assert limited.value.reset_at == START + dt.timedelta(hours=1)
    assert len(emulator.requests) == before + 1
    emulator.fail_next(status=429, body=body, path="/balances")
    with pytest.raises(RateLimited) as without_header:
        provider.get_balance(consent, uid)
    assert without_header.value.reset_at is None


def test_html_and_broken_json_are_unreachable(provider, emulator):
    consent = connect(provider)
    uid = consent.data["accounts"][0]["uid"]
    emulator.fail_next(status=200, body="<html><body>Hotel Wi-Fi: log in</body></html>", content_type="text/html")
    with pytest.raises(ProviderUnreachable):
        provider.get_balance(consent, uid)
    emulator.fail_next(status=200, body='{"balances": [{"balance_type": "CLBD", "bala')
    with pytest.raises(ProviderUnreachable):
        provider.get_balance(consent, uid)
    for _attempt in range(EnableBankingProvider.RETRY_TOTAL + 1):
        emulator.html_error_next(502)
    with pytest.raises(ProviderUnreachable):
        provider.list_institutions()
    emulator.fail_next(status=400, body="<html>Bad Request</html>", content_type="text/html", path="/auth")
    with pytest.raises(ProviderUnreachable):
        provider.start_connect(BANK, CALLBACK, "s")


def test_5xx_on_get_is_retried_then_ok_or_exhausted(provider, emulator):
    consent = connect(provider)
    uid = consent.data["accounts"][0]["uid"]
    emulator.fail_next(status=503, body={"message": "down", "code": 503, "error": "ASPSP_ERROR"}, times=2)
    before = len(emulator.requests)
    assert provider.get_balance(consent, uid).currency == "EUR"
    assert len(emulator.requests) == before + 3
    emulator.fail_next(status=500, body={"message": "boom"}, times=EnableBankingProvider.RETRY_TOTAL + 1)
    with pytest.raises(ProviderUnreachable):
        provider.get_balance(consent, uid)
    # A POST is never repeated: the consent could be asked for twice.
    emulator.fail_next(status=503, body={"message": "down"}, path="/auth")
    before = len(emulator.requests)
    with pytest.raises(ProviderUnreachable):
        provider.start_connect(BANK, CALLBACK, "s")
    assert [r.path for r in emulator.requests[before:]] == ["/aspsps", "/auth"]


def test_timeout_is_unreachable(emulator, clock, keys):
    slow = make_provider(emulator, clock, keys[0], timeout=0.5)
    emulator.fail_next(Fault(status=200, body={"aspsps": []}, delay=1.0))
    with pytest.raises(ProviderUnreachable, match="could not be reached") as error:
        slow.list_institutions()
    assert "Timeout" in error.value.detail


def test_wrong_types_are_invalid_data(provider, emulator):
    consent = connect(provider)
    uid = consent.data["accounts"][0]["uid"]
    bad_answers = [
        ("/balances", {"balances": [{"balance_type": "CLBD", "balance_amount": {"currency": "EUR", "amount": 12.5}}]}),
        ("/balances", {"balances": [{"balance_type": "OTHR", "balance_amount": {"currency": "EUR", "amount": "1"}}]}),
        ("/balances", {"balances": "none"}),
        ("/transactions", {"transactions": {"booked": []}}),
        ("/transactions", {"transactions": [{"status": "BOOK", "credit_debit_indicator": "CRDT",
                                             "transaction_amount": {"currency": "EUR", "amount": "1,50"},
                                             "booking_date": str(TODAY)}]}),
        ("/transactions", {"transactions": [{"status": "BOOK", "transaction_amount": {"currency": "EUR", "amount": "1"},
                                             "booking_date": str(TODAY)}]}),
        ("/transactions", {"transactions": [{"status": "BOOK", "credit_debit_indicator": "DBIT",
                                             "transaction_amount": {"currency": "EUR", "amount": "1"}}]}),
    ]
    for path, body in bad_answers:
        emulator.fail_next(status=200, body=body, path=path)
        with pytest.raises(InvalidData):
            if path == "/balances":
                provider.get_balance(consent, uid)
            else:
                fetch(provider, consent, uid)
    emulator.fail_next(status=200, body={"aspsps": [{"name": "Nordea", "country": None}]})
    with pytest.raises(InvalidData):
        provider.list_institutions()


def test_balance_prefers_booked_and_keeps_decimals(provider, emulator):
    emulator.add_transaction(emulator.yen, "15000", "DBIT")
    kwd = emulator.add_account("Dinar account", "KWD", opening_balance="100.000")
    emulator.add_transaction(kwd, "12.345", "DBIT")
    consent = connect(provider)
    uids = {a["currency"]: a["uid"] for a in consent.data["accounts"]}
    emulator.add_transaction(emulator.current, "80.00", "DBIT", status="PDNG")  # expected, not booked
    emulator.current.opening_balance = Decimal("100.00")
    assert provider.get_balance(consent, uids["EUR"]).amount == Decimal("100.00")
    assert provider.get_balance(consent, uids["JPY"]).amount == Decimal("-15000")
    balance = provider.get_balance(consent, uids["KWD"])
    assert (balance.amount, balance.currency, balance.reference_date) == (Decimal("87.655"), "KWD", TODAY)
    emulator.current.balances = [
        {"name": "Available", "balance_type": "ITAV", "balance_amount": {"currency": "EUR", "amount": "-5.10"}},
        {"name": "Expected", "balance_type": "XPCD", "balance_amount": {"currency": "EUR", "amount": "20.00"}},
    ]
    assert provider.get_balance(consent, uids["EUR"]).amount == Decimal("20.00")


def test_signs_currencies_and_statuses(provider, emulator):
    acc, yen = emulator.current, emulator.yen
    refs = {
        "credit": emulator.add_transaction(acc, "25.00", "CRDT", debtor_name="Ærø Shipping ApS",
                                           debtor_iban="DK5000400440116243", remittance=["Inv 7", " ", "paid"]),
        "debit": emulator.add_transaction(acc, "10.50", "DBIT", creditor_name="Müller & Söhne GmbH",
                                          creditor_iban="DE89370400440532013000"),
        "signed_debit": emulator.add_transaction(acc, "-7.25", "DBIT", creditor_name="Café Łódź"),
        "abroad": emulator.add_transaction(acc, "10.49", "DBIT", exchange_rate={
            "unit_currency": "USD", "exchange_rate": "0.92",
            "instructed_amount": {"currency": "USD", "amount": "11.40"}}),
        "zero": emulator.add_transaction(acc, "-0.00", "DBIT"),
        "pending": emulator.add_transaction(acc, "3.10", "DBIT", status="PDNG"),
        "yen": emulator.add_transaction(yen, "1500", "DBIT", remittance=["請求書 42"]),
    }
    emulator.add_transaction(acc, "99.00", "DBIT", status="RJCT")
    emulator.add_transaction(acc, "98.00", "CRDT", status="CNCL")
    kwd = emulator.add_account("Dinar", "KWD")
    refs["kwd"] = emulator.add_transaction(kwd, "1.005", "CRDT")
    consent = connect(provider)
    uids = {a["currency"]: a["uid"] for a in consent.data["accounts"]}
    found = {t.identifier: t for c in ("EUR", "JPY", "KWD") for t in fetch(provider, consent, uids[c])}
    assert len(found) == len(refs)
    got = {name: found[raw["entry_reference"]] for name, raw in refs.items()}
    assert got["credit"].amount == Decimal("25.00") and got["credit"].label == "Inv 7 paid"
    assert got["credit"].partner_name == "Ærø Shipping ApS"
    assert got["credit"].partner_account_number == "DK5000400440116243"
    assert got["debit"].amount == Decimal("-10.50") and got["debit"].partner_name == "Müller & Söhne GmbH"
    assert got["debit"].partner_account_number == "DE89370400440532013000"
    assert got["signed_debit"].amount == Decimal("-7.25")  # never negated twice
    assert (got["abroad"].amount, got["abroad"].foreign_amount, got["abroad"].foreign_currency) == (
        Decimal("-10.49"), Decimal("-11.40"), "USD")
    assert str(got["zero"].amount) == "0.00"
    assert (got["pending"].status, got["pending"].amount) == (PENDING, Decimal("-3.10"))
    assert (got["yen"].amount, got["yen"].currency, got["yen"].label) == (Decimal("-1500"), "JPY", "請求書 42")
    assert str(got["kwd"].amount) == "1.005"


def test_identifiers_duplicates_and_late_bookings(provider, emulator):
    acc = emulator.current
    fallback = emulator.add_transaction(acc, "4.00", "DBIT", entry_reference=None)
    emulator.add_transaction(acc, "5.00", "DBIT", entry_reference=None, transaction_id=None)
    twins = [emulator.add_transaction(acc, "9.99", "DBIT", creditor_name="Boulangerie") for _i in range(2)]
    consent = connect(provider)
    uid = next(a["uid"] for a in consent.data["accounts"] if a["currency"] == "EUR")
    first = fetch(provider, consent, uid)
    by_amount = {t.amount: t for t in first}
    assert by_amount[Decimal("-4.00")].identifier == fallback["transaction_id"]
    assert by_amount[Decimal("-5.00")].identifier is None
    assert {t.identifier for t in first if t.amount == Decimal("-9.99")} == {t["entry_reference"] for t in twins}
    late = emulator.add_transaction(acc, "60.00", "CRDT", booking_date=TODAY - dt.timedelta(days=6))
    again = fetch(provider, consent, uid, days=7)
    assert late["entry_reference"] in {t.identifier for t in again}


def test_future_dates_are_never_asked(provider, emulator):
    consent = connect(provider)
    uid = consent.data["accounts"][0]["uid"]
    assert provider.get_transactions(consent, uid, TODAY - dt.timedelta(days=3), TODAY + dt.timedelta(days=5)) == []
    assert provider.get_transactions(consent, uid, TODAY + dt.timedelta(days=2), TODAY + dt.timedelta(days=5)) == []
    asked = [r.query for r in emulator.requests if r.path.endswith("/transactions")]
    assert [q["date_to"] for q in asked] == [str(TODAY), str(TODAY)]
    assert asked[1]["date_from"] == str(TODAY)
    # What the clamp avoids: the API refuses a date_from in the future.
    tomorrow = {"date_from": str(TODAY + dt.timedelta(days=1))}
    answer = api_get(provider, emulator, f"/accounts/{uid}/transactions", tomorrow)
    assert (answer.status_code, answer.json()["error"]) == (422, "DATE_FROM_IN_FUTURE")


def test_wrong_continuation_key_restarts_once(provider, emulator):
    for n in range(5):
        emulator.add_transaction(emulator.current, f"1.0{n}", "CRDT")
    consent = connect(provider)
    uid = next(a["uid"] for a in consent.data["accounts"] if a["currency"] == "EUR")
    emulator.reject_continuation_keys = 1
    before = len(emulator.requests)
    transactions = fetch(provider, consent, uid)
    assert len(transactions) == len({t.identifier for t in transactions}) == 5
    first_pages = [r for r in emulator.requests[before:] if "continuation_key" not in r.query]
    assert len(first_pages) == 2  # started again from the first page, once
    emulator.reject_continuation_keys = 2
    with pytest.raises(ProviderError, match="kept refusing") as error:
        fetch(provider, consent, uid)
    assert type(error.value) is ProviderError
    # A forged key is refused as the API does.
    forged = {"date_from": str(TODAY - dt.timedelta(days=30)), "date_to": str(TODAY), "continuation_key": "forged"}
    answer = api_get(provider, emulator, f"/accounts/{uid}/transactions", forged)
    assert (answer.status_code, answer.json()["error"]) == (422, "WRONG_CONTINUATION_KEY")
    emulator.reject_continuation_keys = 0
    emulator.repeat_continuation_key = True
    with pytest.raises(InvalidData, match="same page key"):
        fetch(provider, consent, uid)


def test_account_closed_at_the_bank_is_that_account_unavailable(provider, emulator):
    consent = connect(provider)
    uids = {a["currency"]: a["uid"] for a in consent.data["accounts"]}
    emulator.close_account(emulator.current)
    # The API's own answer, for each call about the account.
    for call in ("details", "balances", "transactions"):
        answer = api_get(provider, emulator, f"/accounts/{uids['EUR']}/{call}", {})
        assert answer.status_code == 403
        assert answer.json() == {"message": "PSU does not have access to the requested account or it doesn't exist",
                                 "code": 403, "error": "ASPSP_ACCOUNT_NOT_ACCESSIBLE", "detail": None}
    with pytest.raises(AccountUnavailable, match="may be closed") as error:
        provider.get_balance(consent, uids["EUR"])
    assert "ASPSP_ACCOUNT_NOT_ACCESSIBLE" in error.value.detail
    with pytest.raises(AccountUnavailable):
        fetch(provider, consent, uids["EUR"])
    # The session holds: the other account is read as before, the closed one once it opens again.
    assert provider.get_balance(consent, uids["JPY"]).currency == "JPY"
    emulator.close_account(emulator.current, closed=False)
    assert provider.get_balance(consent, uids["EUR"]).amount == Decimal("0")


def test_a_page_served_twice_and_pages_newest_first(provider, emulator):
    days = (3, 1, 5, 2, 4)
    for n in days:
        emulator.add_transaction(emulator.current, f"{n}.00", "CRDT", booking_date=TODAY - dt.timedelta(days=n))
    emulator.add_transaction(emulator.current, "0.50", "DBIT", booking_date=TODAY - dt.timedelta(days=5),
                             entry_reference=None, transaction_id=None)  # no identifier at all
    consent = connect(provider)
    uid = next(a["uid"] for a in consent.data["accounts"] if a["currency"] == "EUR")
    window = {"date_from": str(TODAY - dt.timedelta(days=30)), "date_to": str(TODAY)}

    def listing(**controls):
        """The API's own pages: their transactions' dates, and their keys."""
        for name, value in controls.items():
            setattr(emulator, name, value)
        pages, key = [], None
        while True:
            answer = api_get(provider, emulator, f"/accounts/{uid}/transactions",
                             dict(window, continuation_key=key) if key else window).json()
            pages.append(([t["booking_date"] for t in answer["transactions"]], answer["continuation_key"]))
            key = answer["continuation_key"]
            if not key:
                return pages

    def day(n):
        return str(TODAY - dt.timedelta(days=n))

    assert [dates for dates, _key in listing()] == [[day(5), day(5)], [day(4), day(3)], [day(2), day(1)]]
    assert [dates for dates, _key in listing(transaction_order="newest_first")] == [
        [day(1), day(2)], [day(3), day(4)], [day(5), day(5)]]
    assert [dates for dates, _key in listing(transaction_order="as_added")] == [
        [day(3), day(1)], [day(5), day(2)], [day(4), day(5)]]
    twice = listing(transaction_order="newest_first", pages_served_twice=1)
    assert [dates for dates, _key in twice] == [[day(1), day(2)], [day(1), day(2)], [day(3), day(4)], [day(5), day(5)]]
    assert twice[0][1] != twice[1][1], "the same page, under another key"
    assert emulator.pages_served_twice == 0
    # The connector gives each transaction once, the one without identifier included.
    emulator.pages_served_twice = 2
    transactions = fetch(provider, consent, uid)
    assert sorted(t.amount for t in transactions) == sorted(
        [Decimal(f"{n}.00") for n in days] + [Decimal("-0.50")])


def test_secrets_echoed_by_a_server_are_scrubbed(provider, emulator, keys, caplog):
    caplog.set_level(logging.DEBUG)
    token = provider._jwt()
    key_line = keys[0].splitlines()[3]
    emulator.fail_next(status=400, body={"message": f"bad header Bearer {token} {key_line}", "code": 400,
                                         "error": "WRONG_REQUEST_PARAMETERS"})
    with pytest.raises(ProviderError) as error:
        provider.list_institutions()
    text = f"{error.value} {error.value.detail}"
    assert "[secret]" in text and token not in text and key_line not in text
    assert caplog.records and token not in caplog.text and key_line not in caplog.text


def test_bare_401_means_the_consent_on_session_calls_only(provider, emulator):
    consent = connect(provider)
    bare = {"message": "Unauthorized", "code": 401, "error": None, "detail": None}
    emulator.fail_next(status=401, body=bare, path="/balances")
    with pytest.raises(ConsentExpired):
        provider.get_balance(consent, consent.data["accounts"][0]["uid"])
    emulator.fail_next(status=401, body=bare, path="/aspsps")
    with pytest.raises(InvalidCredentials):
        provider.list_institutions()


def test_retry_after_of_a_503_is_obeyed_but_bounded(provider, emulator, monkeypatch):
    monkeypatch.setattr("providers.enablebanking.MAX_RETRY_AFTER", 0.05)
    emulator.fail_next(status=503, body={"message": "maintenance"}, headers={"Retry-After": "3600"}, path="/aspsps")
    started = dt.datetime.now()
    assert provider.list_institutions()
    assert (dt.datetime.now() - started).total_seconds() < 2
    assert [r.path for r in emulator.requests] == ["/aspsps", "/aspsps"]
