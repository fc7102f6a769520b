# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The GoCardless connector against its emulator: real HTTP on 127.0.0.1,
no Odoo, time moved by a clock both sides share."""
import datetime as dt
import json
import logging
import socket
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from emulators.base import Fault
from emulators.gocardless import DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY, GoCardlessEmulator
from emulators.gocardless_bank import SANDBOX_INSTITUTION_ID
from providers import (
    PENDING,
    POSTED,
    AccountUnavailable,
    ConsentExpired,
    InvalidCredentials,
    InvalidData,
    ProviderConfig,
    ProviderError,
    ProviderUnreachable,
    RateLimited,
)
from providers.gocardless import GoCardlessProvider
from shared_clock import Clock

UTC = dt.timezone.utc
START = dt.datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
TODAY = START.date()
REVOLUT = "REVOLUT_REVOLT21"
IBAN = "DE89370400440532013000"
REDIRECT = "https://odoo.example.com/account_online_synchronization/callback"
ROOT = Path(__file__).resolve().parents[2]



class FastGoCardless(GoCardlessProvider):
    RETRY_BACKOFF = 0.001  # keep the retries' waits out of the test time


@pytest.fixture
def clock():
    return Clock(START)


@pytest.fixture
def emulator(clock):
    with GoCardlessEmulator(now=clock, sample_data=False) as server:
        yield server


def make_client(emulator, clock, **config):
    settings = {
        "api_base_url": emulator.api_url,
        "credentials": {"client_identifier": DEFAULT_SECRET_ID, "client_secret": DEFAULT_SECRET_KEY},
        "timeout": 5,
        "now": clock,
    }
    settings.update(config)
    return FastGoCardless(ProviderConfig(**settings))


@pytest.fixture
def client(emulator, clock):
    return make_client(emulator, clock)


def back_params(url):
    return dict(parse_qsl(urlsplit(url).query))


def connect(client, emulator, state="state-1", institution_id=REVOLUT):
    step = client.start_connect(institution_id, REDIRECT, state)
    back = emulator.approve(step.data["requisition_id"])
    return client.finish_connect(institution_id, {**back_params(back), "connect_data": step.data})


@pytest.fixture
def linked(client, emulator):
    """A consent on one EUR account, and the account's API id."""
    emulator.add_account(IBAN, "EUR", institution_id=REVOLUT, name="Compte courant")
    consent = connect(client, emulator)
    (account,) = client.list_accounts(consent)
    return consent, account.identifier


def calls(emulator, fragment, method=None):
    return [r for r in emulator.requests if fragment in r.path and (method is None or r.method == method)]


def fetch(client, linked, date_from=TODAY - dt.timedelta(days=30), date_to=TODAY):
    consent, account_id = linked
    return client.get_transactions(consent, account_id, date_from, date_to)


# --------------------------------------------------------------------------
# Directory and connection
# --------------------------------------------------------------------------

def test_institutions_all_in_one_call_or_per_country(client, emulator):
    banks = {inst.identifier: inst for inst in client.list_institutions()}
    assert SANDBOX_INSTITUTION_ID in banks
    societe = banks["SOCIETE_GENERALE_SOGEFRPP"]
    assert societe.name == "Société Générale"
    assert (societe.countries, societe.bic, societe.history_days, societe.max_consent_days) == (
        ("FR",), "SOGEFRPP", 540, 180)
    assert societe.logo_url.endswith(".png") and societe.daily_refresh_limit == 4
    assert banks["MONZO_MONZGB2L"].max_consent_days == 90
    assert len(calls(emulator, "/institutions/")) == 1
    french = client.list_institutions("FR")
    assert {inst.identifier for inst in french} == {SANDBOX_INSTITUTION_ID, "SOCIETE_GENERALE_SOGEFRPP", REVOLUT}
    assert emulator.requests[-1].query == {"country": "fr"}


def test_a_broken_bank_in_the_list_is_skipped(client, emulator):
    emulator.bank.institutions.append({"id": "BROKEN", "name": None, "countries": ["FR"]})
    assert "BROKEN" not in {inst.identifier for inst in client.list_institutions("FR")}


def test_full_flow_through_the_bank_page(client, emulator, clock):
    emulator.add_account(IBAN, "EUR", institution_id=REVOLUT, name="Compte courant", owner_name="Zoë Åberg",
                         opening_balance="100.00")
    emulator.add_account("FR7630006000011234567890189", "USD", institution_id=REVOLUT, name="Dollar")
    emulator.add_transaction(IBAN, "-12.80", booking_date=TODAY - dt.timedelta(days=2),
                             creditorName="Boulangerie Crème Brûlée")
    emulator.add_transaction(IBAN, "-3.50", pending=True, transaction_id=None, creditorName="Café Łódź")

    step = client.start_connect(REVOLUT, REDIRECT, "state-1")
    agreement = json.loads(calls(emulator, "/agreements/enduser/", "POST")[0].body)
    assert agreement == {"institution_id": REVOLUT, "max_historical_days": 730, "access_valid_for_days": 180,
                         "access_scope": ["balances", "details", "transactions"]}
    requisition = json.loads(calls(emulator, "/requisitions/", "POST")[0].body)
    assert requisition == {"redirect": REDIRECT + "?state=state-1", "institution_id": REVOLUT, "agreement": step.data["agreement_id"],
                           "reference": "state-1"}
    assert step.consent is None and step.data["requisition_id"]

    # The user at the bank.
    page = requests.get(step.redirect_url, timeout=5)
    assert page.status_code == 200 and "Revolut" in page.text and "Approve" in page.text
    clock.advance(minutes=3)
    answer = requests.post(step.redirect_url + "approve", allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    assert answer.headers["Location"] == REDIRECT + "?state=state-1&ref=state-1"

    consent = client.finish_connect(REVOLUT, {**back_params(answer.headers["Location"]), "connect_data": step.data})
    assert consent.identifier == step.data["requisition_id"]
    assert consent.valid_until == START + dt.timedelta(minutes=3, days=180)
    assert len(consent.data["accounts"]) == 2 and consent.data["tokens"]["access"]

    accounts = client.list_accounts(consent)
    assert [(a.name, a.currency, a.account_number) for a in accounts] == [
        ("Compte courant", "EUR", IBAN), ("Dollar", "USD", "FR7630006000011234567890189")]
    assert accounts[0].holder_name == "Zoë Åberg"
    balance = client.get_balance(consent, accounts[0].identifier)
    assert (balance.amount, balance.currency, balance.reference_date) == (Decimal("87.20"), "EUR", TODAY)
    posted, pending = client.get_transactions(consent, accounts[0].identifier, TODAY - dt.timedelta(days=90), TODAY)
    assert (posted.status, posted.amount) == (POSTED, Decimal("-12.80"))
    assert posted.booking_date == TODAY - dt.timedelta(days=2)
    assert posted.partner_name == "Boulangerie Crème Brûlée" and posted.identifier
    assert (pending.status, pending.identifier, pending.partner_name) == (PENDING, None, "Café Łódź")
    # One token for the whole flow.
    assert len(calls(emulator, "/token/new/")) == 1


def test_refused_at_the_bank_says_so(client, emulator):
    step = client.start_connect(REVOLUT, REDIRECT, "state-1")
    back = emulator.reject(step.data["requisition_id"])
    assert back_params(back)["error"] == "UserCancelledSession"
    with pytest.raises(ProviderError) as error:
        client.finish_connect(REVOLUT, {**back_params(back), "connect_data": step.data})
    assert "refused at the bank" in error.value.message and not isinstance(error.value, ConsentExpired)


def test_unfinished_or_unknown_returns_are_refused(client, emulator):
    step = client.start_connect(REVOLUT, REDIRECT, "state-1")
    with pytest.raises(ProviderError, match="not completed"):
        client.finish_connect(REVOLUT, {"ref": "state-1", "connect_data": step.data})
    with pytest.raises(ProviderError, match="matches no connection"):
        client.finish_connect(REVOLUT, {"ref": "state-1"})
    emulator.approve(step.data["requisition_id"])
    with pytest.raises(ProviderError, match="another connection"):
        client.finish_connect(REVOLUT, {"ref": "someone-else", "connect_data": step.data})


def test_reconsent_mints_new_account_ids_for_the_same_iban(client, emulator, linked):
    first_consent, first_id = linked
    with pytest.raises(ProviderError, match="reference must be unique"):
        connect(client, emulator, state="state-1")
    second = client.list_accounts(connect(client, emulator, state="state-2"))
    assert [a.account_number for a in second] == [IBAN]
    assert second[0].identifier != first_id
    # The first consent still reads until its agreement ends.
    assert client.get_balance(first_consent, first_id).currency == "EUR"


# --------------------------------------------------------------------------
# Tokens and secrets
# --------------------------------------------------------------------------

def test_tokens_are_reused_refreshed_then_renewed(emulator, clock, linked):
    consent, account_id = linked
    # Another client (another Odoo request) takes the tokens the consent keeps.
    client = make_client(emulator, clock)
    client.get_balance(consent, account_id)
    assert (len(calls(emulator, "/token/new/")), len(calls(emulator, "/token/refresh/"))) == (1, 0)
    clock.advance(hours=25)  # the access token is over, the refresh one is not
    client.get_balance(consent, account_id)
    assert (len(calls(emulator, "/token/new/")), len(calls(emulator, "/token/refresh/"))) == (1, 1)
    clock.advance(days=31)  # both are over
    make_client(emulator, clock).get_balance(consent, account_id)
    assert (len(calls(emulator, "/token/new/")), len(calls(emulator, "/token/refresh/"))) == (2, 1)
    assert dt.datetime.fromisoformat(consent.data["tokens"]["refresh_expires_at"]) == clock() + dt.timedelta(days=30)


def test_a_refused_access_token_is_refreshed_once(client, emulator, linked):
    consent, account_id = linked
    emulator.expire_access_tokens()
    client.get_balance(consent, account_id)
    assert len(calls(emulator, "/token/refresh/")) == 1
    emulator.expire_access_tokens(refresh_too=True)
    client.get_balance(consent, account_id)
    assert (len(calls(emulator, "/token/refresh/")), len(calls(emulator, "/token/new/"))) == (2, 2)


def test_tokens_of_other_secrets_are_not_used(emulator, clock, linked):
    consent, account_id = linked
    other = make_client(emulator, clock, credentials={"client_identifier": "other-id", "client_secret": "other-key"})
    with pytest.raises(InvalidCredentials):
        other.get_balance(consent, account_id)
    assert len(calls(emulator, "/balances/")) == 0


def test_bad_or_missing_secrets_are_invalid_credentials_never_told(emulator, clock, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = make_client(emulator, clock, credentials={"client_identifier": DEFAULT_SECRET_ID,
                                                       "client_secret": "wrong-key-do-not-leak"})
    with pytest.raises(InvalidCredentials) as error:
        wrong.list_institutions()
    told = f"{error.value} {error.value.detail} {error.value.args}"
    assert "Authentication failed" in told
    assert "wrong-key-do-not-leak" not in told and DEFAULT_SECRET_ID not in told
    assert "wrong-key-do-not-leak" not in caplog.text
    emulator.requests.clear()
    with pytest.raises(InvalidCredentials):
        make_client(emulator, clock, credentials={}).list_institutions()
    assert emulator.requests == []


def test_secrets_and_tokens_are_masked_in_errors_and_logs(client, emulator, linked, caplog):
    caplog.set_level(logging.DEBUG)
    consent, account_id = linked
    token = consent.data["tokens"]["access"]
    emulator.fail_next(status=400, path="/balances/", body={
        "summary": f"Bad request from {DEFAULT_SECRET_ID}",
        "detail": f"secret_key={DEFAULT_SECRET_KEY} token={token}", "status_code": 400})
    with pytest.raises(ProviderError) as error:
        client.get_balance(consent, account_id)
    told = f"{error.value} {error.value.detail} {error.value.args}"
    assert "***" in told
    for secret in (DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY, token, consent.data["tokens"]["refresh"]):
        assert secret not in told and secret not in caplog.text


# --------------------------------------------------------------------------
# Quotas and consent expiry
# --------------------------------------------------------------------------

def test_daily_quota_answers_429_with_its_reset_and_is_not_retried(client, emulator, clock, linked):
    first_call = clock()
    for _i in range(4):
        fetch(client, linked)
        clock.advance(minutes=10)
    with pytest.raises(RateLimited) as error:
        fetch(client, linked)
    assert error.value.reset_at == first_call + dt.timedelta(days=1)
    assert "4/day" in error.value.detail
    assert len(calls(emulator, "/transactions/")) == 5
    # Another scope has its own quota.
    assert client.get_balance(*linked).currency == "EUR"
    clock.advance(days=1)
    assert fetch(client, linked) == []


def test_429_with_retry_after_is_not_retried_and_reset_read_from_headers(client, emulator, clock, linked):
    emulator.fail_next(status=429, path="/balances/", headers={"Retry-After": "1",
                                                              "X-RateLimit-Account-Success-Reset": "120"},
                       body={"summary": "Rate limit exceeded", "detail": "Please try again in 999 seconds",
                             "status_code": 429})
    with pytest.raises(RateLimited) as error:
        client.get_balance(*linked)
    assert error.value.reset_at == clock() + dt.timedelta(seconds=120)
    assert len(calls(emulator, "/balances/")) == 1
    # Without headers, the detail tells it.
    emulator.fail_next(status=429, path="/balances/", body={
        "summary": "Rate limit exceeded", "detail": "The rate limit for this resource is 4/day. "
        "Please try again in 85092 seconds", "status_code": 429})
    with pytest.raises(RateLimited) as error:
        client.get_balance(*linked)
    assert error.value.reset_at == clock() + dt.timedelta(seconds=85092)


def test_consent_past_its_end_is_refused_before_any_call(client, emulator, clock, linked):
    consent, _account_id = linked
    clock.advance(days=181)
    emulator.requests.clear()
    with pytest.raises(ConsentExpired):
        client.refresh(consent, automatic=True)
    assert emulator.requests == []


@pytest.mark.parametrize("status", [400, 401])
def test_agreement_expired_at_the_api_is_consent_expired(client, emulator, clock, linked, status):
    consent, account_id = linked
    consent.valid_until += dt.timedelta(days=365)  # what we believed; the API knows better
    emulator.eua_expired_status = status
    clock.advance(days=181)
    with pytest.raises(ConsentExpired) as error:
        client.get_balance(consent, account_id)
    assert "has expired" in error.value.detail
    assert len(calls(emulator, "/balances/")) == 1  # an agreement over is no token to renew
    with pytest.raises(ConsentExpired):
        client.list_accounts(consent)  # the requisition says EX


def test_access_withdrawn_by_the_bank_is_consent_expired(client, emulator, linked):
    consent, account_id = linked
    emulator.revoke(consent.identifier)
    with pytest.raises(ConsentExpired):
        fetch(client, linked)


def test_account_closed_at_the_bank_is_that_account_unavailable(client, emulator, linked):
    consent, account_id = linked
    emulator.add_account("DE02120300000000202051", "EUR", institution_id=REVOLUT, name="Épargne")
    other = connect(client, emulator, state="state-2")
    emulator.close_account(IBAN)
    # The API's own answer, for each scope.
    headers = {"Authorization": f"Bearer {client._access_token()}"}
    for scope in ("details", "balances", "transactions"):
        answer = requests.get(f"{emulator.api_url}accounts/{account_id}/{scope}/", headers=headers, timeout=5)
        assert answer.status_code == 401
        assert answer.json() == {"summary": f"Couldn't update account {scope}",
                                 "detail": "Account has been deactivated or it no longer exists.",
                                 "status_code": 401, "type": "AccountInactiveError"}
    with pytest.raises(AccountUnavailable, match="deactivated this account") as error:
        client.get_balance(consent, account_id)
    assert "no longer exists" in error.value.detail
    with pytest.raises(AccountUnavailable):
        fetch(client, linked)
    # The consent holds: the closed account is left out of its list, the other one is read as before.
    (savings,) = client.list_accounts(other)
    assert savings.account_number == "DE02120300000000202051"
    assert client.get_balance(other, savings.identifier).amount == Decimal("0.00")
    emulator.reopen_account(IBAN)
    assert fetch(client, linked) == []


# --------------------------------------------------------------------------
# Network and malformed answers
# --------------------------------------------------------------------------

def test_html_pages_are_unreachable(client, emulator, linked):
    emulator.fail_next(status=200, body="<html><body>Captive portal</body></html>", content_type="text/html")
    with pytest.raises(ProviderUnreachable):
        client.get_balance(*linked)
    for _i in range(client.RETRY_ATTEMPTS + 1):
        emulator.html_error_next(502)
    emulator.requests.clear()
    with pytest.raises(ProviderUnreachable):
        client.get_balance(*linked)
    assert len(calls(emulator, "/balances/")) == client.RETRY_ATTEMPTS + 1


def test_5xx_on_get_is_retried_then_answers(client, emulator, linked):
    emulator.fail_next(status=503, body={"summary": "Service error"}, path="/transactions/", times=2)
    assert fetch(client, linked) == []
    assert len(calls(emulator, "/transactions/")) == 3


def test_5xx_retries_exhausted_are_unreachable(client, emulator, linked):
    emulator.fail_next(status=500, body={"summary": "Internal"}, path="/transactions/",
                       times=client.RETRY_ATTEMPTS + 1)
    with pytest.raises(ProviderUnreachable, match="not available"):
        fetch(client, linked)
    assert len(calls(emulator, "/transactions/")) == client.RETRY_ATTEMPTS + 1


def test_5xx_on_post_is_not_retried(client, emulator):
    emulator.fail_next(status=500, body={"summary": "Internal"}, path="/agreements/enduser/")
    with pytest.raises(ProviderUnreachable):
        client.start_connect(REVOLUT, REDIRECT, "state-1")
    assert len(calls(emulator, "/agreements/enduser/", "POST")) == 1


def test_timeout_is_unreachable_and_not_retried(emulator, clock, linked):
    client = make_client(emulator, clock, timeout=0.5)
    emulator.fail_next(Fault(status=200, body={"balances": []}, delay=1.0, path="/balances/"))
    with pytest.raises(ProviderUnreachable, match="did not answer within 0.5 seconds"):
        client.get_balance(*linked)
    assert len(calls(emulator, "/balances/")) == 1


def test_nobody_listening_is_unreachable(clock):
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = FastGoCardless(ProviderConfig(api_base_url=f"http://127.0.0.1:{port}/api/v2/", now=clock, timeout=1,
                                           credentials={"client_identifier": "a-id", "client_secret": "a-key"}))
    with pytest.raises(ProviderUnreachable, match="could not be reached"):
        client.list_institutions()


def test_truncated_json_is_unreachable(client, emulator, linked):
    emulator.fail_next(status=200, path="/transactions/", body='{"transactions": {"booked": [{"transactionId": ')
    with pytest.raises(ProviderUnreachable):
        fetch(client, linked)


def booked(**fields):
    """A transactions answer with one booked item: a valid one, changed by ``fields`` (None drops one)."""
    item = {"transactionId": "A1", "bookingDate": "2026-03-09",
            "transactionAmount": {"amount": "-5.00", "currency": "EUR"}, **fields}
    return {"transactions": {"booked": [{k: v for k, v in item.items() if v is not None}], "pending": []}}


def closing(amount, kind="closingBooked"):
    return {"balances": [{"balanceType": kind, "balanceAmount": {"amount": amount, "currency": "EUR"}}]}


@pytest.mark.parametrize("path, body", [
    ("/balances/", closing(12.5)),  # a float
    ("/balances/", closing("12.50", kind="interimAvailable")),  # no booked balance
    ("/balances/", {"balances": {"closingBooked": "12.50"}}),
    ("/transactions/", {"transactions": {"booked": {"A1": {}}}}),
    ("/transactions/", {"transactions": {"pending": []}}),
    ("/transactions/", booked(transactionAmount={"amount": "1e3", "currency": "EUR"})),
    ("/transactions/", booked(transactionAmount={"amount": "NaN", "currency": "EUR"})),
    ("/transactions/", booked(transactionAmount={"amount": "-5.00"})),
    ("/transactions/", booked(bookingDate="09/03/2026")),
    ("/transactions/", booked(transactionId=["A1"])),
    ("/transactions/", booked(bookingDate=None)),
])
def test_wrong_types_or_missing_fields_are_invalid_data(client, emulator, linked, path, body):
    emulator.fail_next(status=200, body=body, path=path)
    with pytest.raises(InvalidData):
        if path == "/balances/":
            client.get_balance(*linked)
        else:
            fetch(client, linked)


def test_account_details_without_currency_are_invalid_data(client, emulator):
    emulator.add_account(IBAN, "EUR", institution_id=REVOLUT, details={"currency": None})
    with pytest.raises(InvalidData, match="account currency"):
        client.list_accounts(connect(client, emulator))


def test_details_without_iban_take_it_from_the_account(client, emulator):
    emulator.add_account(IBAN, "EUR", institution_id=REVOLUT, details={"iban": None, "name": None})
    (account,) = client.list_accounts(connect(client, emulator))
    assert (account.account_number, account.name) == (IBAN, "Girokonto")
    assert len(calls(emulator, f"/accounts/{account.identifier}/", "GET")) == 2  # details, then the account


# --------------------------------------------------------------------------
# Transactions as banks send them
# --------------------------------------------------------------------------

def test_identifiers_fall_back_and_may_be_missing(client, emulator, linked):
    day = TODAY - dt.timedelta(days=1)
    emulator.add_transaction(IBAN, "-1.00", booking_date=day, transaction_id="BANK-1", internalTransactionId="gc1")
    emulator.add_transaction(IBAN, "-2.00", booking_date=day, transaction_id=None, internalTransactionId="gc2")
    emulator.add_transaction(IBAN, "-3.00", booking_date=day, transaction_id=" ", entryReference="ENTRY-3")
    emulator.add_transaction(IBAN, "-4.00", booking_date=day, transaction_id=None)
    emulator.add_transaction(IBAN, "-5.00", booking_date=day, transaction_id=42)
    assert [t.identifier for t in fetch(client, linked)] == ["BANK-1", "gc2", "ENTRY-3", None, "42"]


def test_two_identical_transactions_the_same_day_are_both_given(client, emulator, linked):
    for _i in range(2):
        emulator.add_transaction(IBAN, "-4.20", booking_date=TODAY, transaction_id=None, creditorName="Kiosk")
    first, second = fetch(client, linked)
    assert first == second and first.identifier is None


def test_pending_then_posted_under_a_new_id(client, emulator, clock, linked):
    pending = emulator.add_transaction(IBAN, "-30.00", pending=True, transaction_id=None, creditorName="Hôtel")
    (seen,) = fetch(client, linked)
    assert (seen.status, seen.identifier, seen.booking_date) == (PENDING, None, TODAY)
    clock.advance(days=2)
    emulator.settle(IBAN, pending, booking_date=TODAY + dt.timedelta(days=1))
    (posted,) = fetch(client, linked, date_to=TODAY + dt.timedelta(days=2))
    assert (posted.status, posted.amount, posted.partner_name) == (POSTED, Decimal("-30.00"), "Hôtel")
    assert posted.identifier and posted.booking_date == TODAY + dt.timedelta(days=1)


def test_a_transaction_booked_late_with_an_older_date_comes_with_the_next_fetch(client, emulator, clock, linked):
    emulator.add_transaction(IBAN, "10.00", booking_date=TODAY)
    assert len(fetch(client, linked)) == 1
    clock.advance(days=1)
    emulator.add_transaction(IBAN, "20.00", booking_date=TODAY - dt.timedelta(days=3))
    assert sorted(t.amount for t in fetch(client, linked)) == [Decimal("10.00"), Decimal("20.00")]


def test_times_with_offsets_near_midnight(client, emulator, linked):
    emulator.add_transaction(IBAN, "-1.00", booking_date="2026-03-09", bookingDateTime="2026-03-09T23:30:00-05:00")
    emulator.add_transaction(IBAN, "-2.00", booking_date="2026-03-10", bookingDateTime="2026-03-10T00:15:00+01:00")
    emulator.add_transaction(IBAN, "-3.00", booking_date=None, bookingDate=None,
                             bookingDateTime="2026-03-08T23:59:59Z", valueDate=None)
    emulator.add_transaction(IBAN, "-4.00", booking_date="2026-03-09", bookingDateTime="2026-03-09T23:50:00")
    late, early, zulu, naive = fetch(client, linked)
    assert late.booked_at == dt.datetime(2026, 3, 10, 4, 30, tzinfo=UTC)
    assert late.booked_at.utcoffset() == dt.timedelta(hours=-5) and late.booking_date == dt.date(2026, 3, 9)
    assert early.booked_at == dt.datetime(2026, 3, 9, 23, 15, tzinfo=UTC) and early.booking_date == TODAY
    assert (zulu.booking_date, zulu.booked_at.utcoffset()) == (dt.date(2026, 3, 8), dt.timedelta(0))
    assert (naive.booked_at, naive.booking_date) == (None, dt.date(2026, 3, 9))  # no offset: no moment


def test_jpy_kwd_and_negative_zero_amounts(client, emulator):
    emulator.add_account("JP00YEN", "JPY", institution_id=REVOLUT, opening_balance="100000")
    emulator.add_account("KW00DINAR", "KWD", institution_id=REVOLUT, opening_balance="10.5")
    emulator.add_transaction("JP00YEN", Decimal("-1500"), booking_date=TODAY)
    emulator.add_transaction("KW00DINAR", Decimal("12.345"), booking_date=TODAY)
    emulator.add_transaction("KW00DINAR", "-0.000", booking_date=TODAY)
    consent = connect(client, emulator)
    yen, dinar = client.list_accounts(consent)
    (payment,) = client.get_transactions(consent, yen.identifier, TODAY, TODAY)
    assert (str(payment.amount), payment.currency) == ("-1500", "JPY")
    assert str(client.get_balance(consent, yen.identifier).amount) == "98500"
    received, nothing = client.get_transactions(consent, dinar.identifier, TODAY, TODAY)
    assert str(received.amount) == "12.345" and received.currency == "KWD"
    assert nothing.amount == 0 and not nothing.amount.is_signed()
    assert str(client.get_balance(consent, dinar.identifier).amount) == "22.845"


def test_labels_partners_and_non_ascii(client, emulator, linked):
    emulator.add_transaction(IBAN, "-99.90", creditorName="Bürobedarf Señor Çelik SàRL", debtorName="Zoë",
                             creditorAccount={"iban": "ES9121000418450200051332"}, debtorAccount={"iban": IBAN},
                             remittanceInformationUnstructured="Facture n° 2026-ß")
    emulator.add_transaction(IBAN, "250.00", debtorName="Ærø Shipping ApS", creditorName="Zoë Åberg",
                             debtorAccount={"iban": "DK5000400440116243"},
                             remittanceInformationUnstructuredArray=["Rechnung", "Nr. 7 – Dank"])
    emulator.add_transaction(IBAN, "-5.00", debtorName="Only The Other Side",
                             remittanceInformationStructured="RF18539007547034")
    emulator.add_transaction(IBAN, "-6.00", additionalInformation="Frais de tenue de compte")
    out, into, structured, additional = fetch(client, linked)
    assert (out.partner_name, out.partner_account_number, out.label) == (
        "Bürobedarf Señor Çelik SàRL", "ES9121000418450200051332", "Facture n° 2026-ß")
    assert (into.partner_name, into.partner_account_number, into.label) == (
        "Ærø Shipping ApS", "DK5000400440116243", "Rechnung Nr. 7 – Dank")
    assert (structured.partner_name, structured.partner_account_number, structured.label) == (
        "Only The Other Side", None, "RF18539007547034")
    assert (additional.label, additional.partner_name) == ("Frais de tenue de compte", None)


def test_foreign_currency_from_currency_exchange(client, emulator, linked):
    exchange = {"instructedAmount": {"amount": "10.00", "currency": "USD"}, "sourceCurrency": "USD",
                "exchangeRate": "1.0870", "unitCurrency": "USD", "targetCurrency": "EUR"}
    emulator.add_transaction(IBAN, "-9.20", currencyExchange=exchange)
    emulator.add_transaction(IBAN, "9.20", currencyExchange=[exchange])
    emulator.add_transaction(IBAN, "-9.20", currencyExchange={"sourceCurrency": "USD", "exchangeRate": "1.087"})
    paid, refunded, rate_only = fetch(client, linked)
    assert (paid.foreign_currency, paid.foreign_amount) == ("USD", Decimal("-10.00"))
    assert (refunded.foreign_currency, refunded.foreign_amount) == ("USD", Decimal("10.00"))
    assert (rate_only.foreign_currency, rate_only.foreign_amount) == (None, None)


def test_never_asks_for_future_dates(client, emulator, linked):
    emulator.requests.clear()
    assert fetch(client, linked, date_from=TODAY + dt.timedelta(days=1), date_to=TODAY + dt.timedelta(days=2)) == []
    assert calls(emulator, "/transactions/") == []
    fetch(client, linked, date_from=TODAY - dt.timedelta(days=7), date_to=TODAY + dt.timedelta(days=1))
    assert calls(emulator, "/transactions/")[-1].query == {"date_from": "2026-03-03", "date_to": "2026-03-10"}


def test_booked_balance_preferred_over_the_others(client, emulator, linked):
    def balance(kind, amount, day="2026-03-10"):
        return {"balanceType": kind, "balanceAmount": {"amount": amount, "currency": "EUR"}, "referenceDate": day}

    emulator.set_balances(IBAN, [balance("expected", "3.00"), balance("interimBooked", "2.00"),
                                 balance("closingBooked", "1.00", "2026-03-08"),
                                 balance("closingBooked", "1.50", "2026-03-09"), balance("interimAvailable", "9")])
    assert client.get_balance(*linked).amount == Decimal("1.50")
    emulator.set_balances(IBAN, [balance("expected", "3.00"), balance("interimBooked", "2.00")])
    assert client.get_balance(*linked).amount == Decimal("2.00")
    emulator.set_balances(IBAN, [balance("expected", "3.00")])
    assert client.get_balance(*linked).amount == Decimal("3.00")


def test_runs_by_hand_and_prints_its_url():
    process = subprocess.Popen([sys.executable, "-m", "emulators.gocardless"], cwd=ROOT, text=True,
                               stdout=subprocess.PIPE)
    try:
        first_line = process.stdout.readline()
        assert "API base URL: http://127.0.0.1:" in first_line and "/api/v2/" in first_line
        url = first_line.split()[3]
        assert requests.get(url + "institutions/", timeout=5).status_code == 401  # a token is needed
    finally:
        process.terminate()
        process.wait(timeout=5)
