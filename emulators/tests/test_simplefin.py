# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The SimpleFIN Bridge connector against its emulator: real HTTP on
127.0.0.1, no Odoo, time moved by a clock both sides share."""
import ast
import base64
import datetime as dt
import logging
import socket
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from emulators.base import HTML_ERROR_PAGE, Fault
from emulators.simplefin import CAP_WARNING, SimpleFINEmulator
from providers import (
    PENDING,
    POSTED,
    AuthenticationExpired,
    Consent,
    ConsentExpired,
    InvalidData,
    ProviderConfig,
    ProviderError,
    ProviderUnreachable,
    RateLimited,
)
from providers.simplefin import SimpleFINProvider
from shared_clock import Clock

UTC = dt.timezone.utc
START = dt.datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
TODAY = START.date()
ROOT = Path(__file__).resolve().parents[2]
DAY = 86400



class FastSimpleFIN(SimpleFINProvider):
    RETRY_BACKOFF = 0.001  # keep the retries' waits out of the test time


@pytest.fixture
def clock():
    return Clock(START)


@pytest.fixture
def emulator(clock):
    with SimpleFINEmulator(now=clock) as server:
        yield server


def make_client(clock, **config):
    return FastSimpleFIN(ProviderConfig(**{"timeout": 5, "now": clock, **config}))


@pytest.fixture
def client(clock):
    return make_client(clock)


@pytest.fixture
def checking(emulator):
    return emulator.add_account("Checking", "USD", org="First Platypus Bank", opening_balance="100.00")


@pytest.fixture
def consent(client, emulator, checking):
    return client.connect_with_token("simplefin", emulator.issue_setup_token())


def epoch(*args):
    return int(dt.datetime(*args, tzinfo=UTC).timestamp())


def fetch(client, consent, account, date_from=TODAY - dt.timedelta(days=30), date_to=TODAY):
    return client.get_transactions(consent, account.id, date_from, date_to)


def told(error):
    return f"{error} {error.detail or ''}"


def secrets_of(consent, token):
    access = urlsplit(consent.data["access_url"])
    claim_code = base64.b64decode(token).decode().rsplit("/", 1)[1]
    return [consent.data["access_url"], access.password, access.username, token, claim_code]


def token_for(url):
    return base64.b64encode(url.encode()).decode()


# --------------------------------------------------------------------------
# Directory and connection
# --------------------------------------------------------------------------

def test_connector_and_emulator_import_no_odoo():
    for source in (ROOT / "account_online_synchronization/providers/simplefin.py", ROOT / "emulators/simplefin.py"):
        tree = ast.parse(source.read_text())
        modules = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        modules |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        assert not any(name.split(".")[0] == "odoo" for name in modules)


def test_the_bridge_is_the_only_institution(client):
    assert (client.needs_credentials, client.uses_cursor, client.setup_token_label) == (
        False, False, "SimpleFIN Setup Token")
    (bridge,) = client.list_institutions()
    assert (bridge.identifier, bridge.name, bridge.countries, bridge.history_days, bridge.logo_url) == (
        "simplefin", "SimpleFIN Bridge", ("US",), 90, None)
    assert client.list_institutions("us") == [bridge]
    assert client.list_institutions("FR") == []
    with pytest.raises(ProviderError, match="setup token"):
        client.start_connect("simplefin", "https://odoo.example.com/callback", "state")


def test_setup_token_is_claimed_once(client, emulator, checking):
    token = emulator.issue_setup_token()
    consent = client.connect_with_token("simplefin", token)
    access = urlsplit(consent.data["access_url"])
    assert (access.scheme, access.hostname, access.path) == ("http", "127.0.0.1", "/simplefin")
    assert access.username and access.password and consent.valid_until is None
    assert len(consent.identifier) == 24 and access.username not in consent.identifier
    (claim,) = emulator.claim_requests()
    assert (claim.method, claim.body, claim.headers["content-length"]) == ("POST", b"", "0")
    with pytest.raises(ProviderError, match="already claimed or is not valid: create a new one") as again:
        make_client(emulator.now).connect_with_token("simplefin", token)
    assert type(again.value) is ProviderError
    assert len(emulator.claim_requests()) == 2  # the refused claim was not retried
    assert [a.name for a in client.list_accounts(consent)] == ["First Platypus Bank - Checking"]


def test_token_with_surrounding_whitespace_and_no_padding(client, emulator, checking):
    token = emulator.issue_setup_token()
    while token.endswith("="):
        token = token[:-1]
    consent = client.connect_with_token("simplefin", f"\n  {token[:20]}\n{token[20:]}  \t")
    assert consent.data["access_url"].startswith("http://")


@pytest.mark.parametrize("token", [
    "", "   ", None, "not base64 at all!", "aGVsbG8gd29ybGQ=",  # "hello world"
    token_for("ftp://bridge.simplefin.org/claim/x"), token_for("https:///claim/x"),
    base64.b64encode(b"\xff\xfe\x00").decode(), token_for("https://bridge.simplefin.org/claim/a b"),
])
def test_malformed_tokens_are_refused_clearly(client, emulator, token):
    with pytest.raises(ProviderError, match="This is not a SimpleFIN setup token: copy it again from the bridge"):
        client.connect_with_token("simplefin", token)
    assert emulator.requests == []


def test_a_claim_url_in_plain_http_elsewhere_is_refused_without_a_request(client, emulator):
    with pytest.raises(ProviderError, match="without encryption") as error:
        client.connect_with_token("simplefin", token_for("http://bridge.example.com/simplefin/claim/0123456789"))
    assert "0123456789" not in told(error.value)
    assert emulator.requests == []


def test_a_claim_url_on_another_server_than_the_configured_one_is_refused(clock, emulator, checking):
    token = emulator.issue_setup_token()
    port = urlsplit(emulator.url).port
    for configured in ("https://bridge.simplefin.org", f"http://127.0.0.1:{port + 1}", f"https://127.0.0.1:{port}"):
        with pytest.raises(ProviderError, match="not from the SimpleFIN server Odoo is set to use"):
            make_client(clock, api_base_url=configured).connect_with_token("simplefin", token)
    assert emulator.requests == []
    # The same scheme, host and port: any path.
    consent = make_client(clock, api_base_url=emulator.root_url + "/").connect_with_token("simplefin", token)
    assert consent.data["access_url"]


def test_a_claim_is_never_retried(client, emulator):
    emulator.fail_next(status=503, body="Service Unavailable", content_type="text/plain", path="/claim/")
    with pytest.raises(ProviderUnreachable, match="may be used up now"):
        client.connect_with_token("simplefin", emulator.issue_setup_token())
    assert len(emulator.claim_requests()) == 1


def test_a_claim_without_answer_is_unreachable_and_says_the_token_may_be_spent(clock, emulator):
    slow = make_client(clock, timeout=0.3)
    emulator.fail_next(Fault(status=200, body="http://u:p@127.0.0.1:1/simplefin", delay=0.6, path="/claim/"))
    with pytest.raises(ProviderUnreachable, match="did not answer within 0.3 seconds.*may be used up"):
        slow.connect_with_token("simplefin", emulator.issue_setup_token())
    assert len(emulator.claim_requests()) == 1


@pytest.mark.parametrize("answer, content_type, error", [
    ("https://bridge.example.com/simplefin", "text/plain", InvalidData),  # no credentials
    ("http://user:secret-pass@bridge.example.com/simplefin", "text/plain", InvalidData),  # no encryption
    ("Forbidden-ish secret-pass", "text/plain", InvalidData),
    (HTML_ERROR_PAGE, "text/html", ProviderUnreachable),
])
def test_a_claim_answered_with_no_access_url(client, emulator, answer, content_type, error):
    emulator.fail_next(status=200, body=answer, content_type=content_type, path="/claim/")
    with pytest.raises(error) as refused:
        client.connect_with_token("simplefin", emulator.issue_setup_token())
    assert "secret-pass" not in told(refused.value)


# --------------------------------------------------------------------------
# Accounts, balances, transactions
# --------------------------------------------------------------------------

def test_accounts_are_listed_with_their_bank_and_custom_currencies_left_out(client, emulator, consent, caplog):
    emulator.add_account("円口座", "JPY", org="みずほ銀行")
    emulator.add_account("Dinar", "KWD", org="Bank of Kuwait")
    emulator.add_account("First Platypus Bank Savings", "USD", org="First Platypus Bank")
    miles = emulator.add_account("Flyer", "https://www.example.com/flight-miles", org="Example Airline")
    caplog.set_level(logging.WARNING)
    accounts = {a.name: a for a in client.list_accounts(consent)}
    assert set(accounts) == {"First Platypus Bank - Checking", "みずほ銀行 - 円口座", "Bank of Kuwait - Dinar",
                             "First Platypus Bank Savings"}
    assert (accounts["みずほ銀行 - 円口座"].currency, accounts["Bank of Kuwait - Dinar"].currency) == ("JPY", "KWD")
    assert all(a.account_number is None for a in accounts.values())
    assert miles.id in caplog.text and "custom currency" in caplog.text
    (request,) = emulator.account_requests()
    assert request.query == {"balances-only": "1"}
    assert request.headers["authorization"].startswith("Basic ")


def test_protocol_2_names_accounts_after_their_connection(client, emulator, consent, checking):
    emulator.default_version = 2
    (account,) = client.list_accounts(consent)
    assert account.name == "First Platypus Bank - Checking"


def test_balances_and_amounts_are_exact(client, emulator, consent, checking):
    yen = emulator.add_account("円口座", "JPY", org="みずほ銀行", opening_balance="250000")
    dinar = emulator.add_account("Dinar", "KWD", org="Bank of Kuwait", opening_balance="100.000")
    day = START - dt.timedelta(days=1)
    emulator.add_transaction(checking, "25.10", posted=day, payee="Zoë Åberg", description="Facture F-2026-001")
    emulator.add_transaction(checking, "-0.00", posted=day, description="Card check")
    emulator.add_transaction(yen, "-1500", posted=day, description="請求書 42")
    emulator.add_transaction(dinar, "-12.345", posted=day)
    emulator.set_balance(checking, "125.10", balance_date=START - dt.timedelta(hours=2))
    balance = client.get_balance(consent, checking.id)
    assert (balance.amount, balance.currency, balance.reference_date) == (Decimal("125.10"), "USD", TODAY)
    assert client.get_balance(consent, yen.id).amount == Decimal("248500")
    kwd = client.get_balance(consent, dinar.id)
    assert (str(kwd.amount), kwd.currency) == ("87.655", "KWD")
    got = {t.label: t for t in fetch(client, consent, checking)}
    assert (got["Facture F-2026-001"].amount, got["Facture F-2026-001"].partner_name) == (Decimal("25.10"),
                                                                                           "Zoë Åberg")
    assert str(got["Card check"].amount) == "0.00" and got["Card check"].partner_name is None
    (yen_line,) = fetch(client, consent, yen)
    assert (str(yen_line.amount), yen_line.currency, yen_line.label) == ("-1500", "JPY", "請求書 42")
    assert str(fetch(client, consent, dinar)[0].amount) == "-12.345"


def test_posted_and_pending(client, emulator, consent, checking):
    posted = emulator.add_transaction(checking, "-9.99", posted=START - dt.timedelta(days=2))
    waiting = emulator.add_transaction(checking, "-4.50", pending=True, transacted_at=START - dt.timedelta(days=1),
                                       payee="Crème Brûlée Bakery")
    undated = emulator.add_transaction(checking, "-3.00", pending=True)
    flagged = emulator.add_transaction(checking, "-2.00", pending=True, posted=START - dt.timedelta(hours=1),
                                       transacted_at=START - dt.timedelta(hours=3))
    nulled = emulator.add_transaction(checking, "-1.00", pending=True, posted=None)
    got = {t.identifier: t for t in fetch(client, consent, checking)}
    assert (got[posted["id"]].status, got[posted["id"]].booking_date) == (POSTED, TODAY - dt.timedelta(days=2))
    assert got[posted["id"]].is_posted
    for raw, day in ((waiting, TODAY - dt.timedelta(days=1)), (undated, TODAY), (flagged, TODAY), (nulled, TODAY)):
        assert (got[raw["id"]].status, got[raw["id"]].booking_date, got[raw["id"]].booked_at) == (PENDING, day, None)
    assert got[waiting["id"]].partner_name == "Crème Brûlée Bakery"
    assert emulator.account_requests()[-1].query["pending"] == "1"


def test_a_pending_transaction_posts_later_under_a_new_id(clock, emulator, consent, checking):
    waiting = emulator.add_transaction(checking, "-4.50", pending=True, transacted_at=START, payee="Bakery")
    assert [t.status for t in fetch(make_client(clock), consent, checking)] == [PENDING]
    clock.moment = START + dt.timedelta(days=2)
    settled = emulator.post_pending(checking, waiting, posted=START + dt.timedelta(days=1))
    (again,) = fetch(make_client(clock), consent, checking, date_to=TODAY + dt.timedelta(days=2))
    assert (again.identifier, again.status, again.amount, again.partner_name) == (
        settled["id"], POSTED, Decimal("-4.50"), "Bakery")
    assert again.identifier != waiting["id"]


def test_dates_come_from_epochs_near_midnight_utc(client, emulator, consent, checking):
    late = emulator.add_transaction(checking, "-1.00", posted=dt.datetime(2026, 3, 8, 23, 59, 59, tzinfo=UTC))
    early = emulator.add_transaction(checking, "-2.00", posted=dt.datetime(2026, 3, 9, 0, 0, 1, tzinfo=UTC))
    day_only = emulator.add_transaction(checking, "-3.00", posted=dt.datetime(2026, 3, 9, 0, 0, tzinfo=UTC))
    got = {t.identifier: t for t in fetch(client, consent, checking)}
    assert got[late["id"]].booking_date == dt.date(2026, 3, 8)
    assert got[late["id"]].booked_at == dt.datetime(2026, 3, 8, 23, 59, 59, tzinfo=UTC)
    assert got[early["id"]].booking_date == dt.date(2026, 3, 9)
    assert got[early["id"]].booked_at.utcoffset() == dt.timedelta(0)
    # Midnight UTC sharp: a bank that gives only the day. A date, that no timezone moves.
    assert (got[day_only["id"]].booking_date, got[day_only["id"]].booked_at) == (dt.date(2026, 3, 9), None)


def test_end_date_is_exclusive_and_start_date_inclusive(client, emulator, consent, checking):
    first = emulator.add_transaction(checking, "-1.00", posted=epoch(2026, 3, 1))
    last = emulator.add_transaction(checking, "-2.00", posted=epoch(2026, 3, 5) - 1)
    emulator.add_transaction(checking, "-3.00", posted=epoch(2026, 3, 5))  # the day after date_to
    emulator.add_transaction(checking, "-4.00", posted=epoch(2026, 3, 1) - 1)  # the day before date_from
    got = fetch(client, consent, checking, dt.date(2026, 3, 1), dt.date(2026, 3, 4))
    assert [t.identifier for t in got] == [first["id"], last["id"]]
    (request,) = emulator.account_requests()
    assert (request.query["start-date"], request.query["end-date"]) == (str(epoch(2026, 3, 1)), str(epoch(2026, 3, 5)))
    assert request.query["account"] == checking.id


def test_a_long_window_is_asked_in_chunks_of_90_days_at_most(client, emulator, consent, checking):
    date_from, date_to = TODAY - dt.timedelta(days=199), TODAY  # 200 days
    boundary = epoch(*date_from.timetuple()[:3]) + 90 * DAY  # where the second chunk starts
    on_each_side = [emulator.add_transaction(checking, amount, posted=moment) for amount, moment in (
        ("-1.00", boundary - 1), ("-2.00", boundary), ("-3.00", epoch(*date_from.timetuple()[:3])))]
    got = fetch(client, consent, checking, date_from, date_to)
    assert sorted(t.identifier for t in got) == sorted(t["id"] for t in on_each_side)  # each once
    ranges = [(int(r.query["start-date"]), int(r.query["end-date"])) for r in emulator.account_requests()]
    assert ranges == [(boundary - 90 * DAY, boundary), (boundary, boundary + 90 * DAY),
                      (boundary + 90 * DAY, epoch(*(TODAY + dt.timedelta(days=1)).timetuple()[:3]))]
    assert all(r.query["pending"] == "1" and r.query["account"] == checking.id for r in emulator.account_requests())
    assert all(not e.endswith(CAP_WARNING) for e in emulator.errors)


def test_a_bridge_ignoring_the_range_gives_each_transaction_once(client, emulator, consent, checking):
    """Each chunk keeps only what falls in its own range: a bridge that
    answers every chunk with everything repeats nothing."""
    everything = {"errors": [], "accounts": [{
        "org": {"name": "First Platypus Bank"}, "id": checking.id, "name": "Checking", "currency": "USD",
        "balance": "1.00", "balance-date": epoch(2026, 3, 10),
        "transactions": [{"id": "OLD", "posted": epoch(2025, 12, 15), "amount": "-1.00", "description": "old"},
                         {"id": "NEW", "posted": epoch(2026, 3, 9), "amount": "-2.00", "description": "new"}]}]}
    emulator.fail_next(status=200, body=everything, path="/accounts", times=2)
    got = client.get_transactions(consent, checking.id, dt.date(2025, 12, 1), dt.date(2026, 3, 10))  # 100 days
    assert [t.identifier for t in got] == ["OLD", "NEW"]
    assert len(emulator.account_requests()) == 2


def test_balance_and_transactions_cost_one_request_per_account(client, emulator, consent, checking):
    savings = emulator.add_account("Savings", "USD", org="First Platypus Bank", opening_balance="5.00")
    emulator.add_transaction(checking, "-1.00", posted=START - dt.timedelta(days=3))
    # As the Odoo layer does: balance first, then the window since the last synchronization.
    for account in (checking, savings):
        client.get_balance(consent, account.id)
        client.get_transactions(consent, account.id, TODAY - dt.timedelta(days=7), TODAY + dt.timedelta(days=1))
    assert [r.query["account"] for r in emulator.account_requests()] == [checking.id, savings.id]
    first = emulator.account_requests()[0].query
    assert int(first["end-date"]) - int(first["start-date"]) == 90 * DAY
    assert first["end-date"] == str(epoch(*(TODAY + dt.timedelta(days=2)).timetuple()[:3]))
    # Transactions first, then the balance: one request too.
    other = make_client(client.config.now)
    assert len(fetch(other, consent, checking)) == 1
    assert other.get_balance(consent, checking.id).amount == Decimal("99.00")
    assert len(emulator.account_requests()) == 3
    # A window older than the latest 90 days: only the missing days are asked.
    client.get_transactions(consent, checking.id, TODAY - dt.timedelta(days=100), TODAY)
    start, end = (int(emulator.account_requests()[-1].query[k]) for k in ("start-date", "end-date"))
    assert (start, end) == (epoch(*(TODAY - dt.timedelta(days=100)).timetuple()[:3]),
                            epoch(*(TODAY - dt.timedelta(days=88)).timetuple()[:3]))


def test_identifiers_duplicates_and_late_bookings(clock, emulator, consent, checking):
    day = START - dt.timedelta(days=1)
    blank = emulator.add_transaction(checking, "-5.00", posted=day, transaction_id="  ")
    emulator.add_transaction(checking, "-6.00", posted=day, transaction_id=None)
    twins = [emulator.add_transaction(checking, "-9.99", posted=day, payee="Boulangerie") for _i in range(2)]
    first = fetch(make_client(clock), consent, checking)
    by_amount = {t.amount: t for t in first}
    assert by_amount[Decimal("-5.00")].identifier is None and blank["id"] == "  "
    assert by_amount[Decimal("-6.00")].identifier is None
    assert sorted(t.identifier for t in first if t.amount == Decimal("-9.99")) == sorted(t["id"] for t in twins)
    late = emulator.add_transaction(checking, "60.00", posted=START - dt.timedelta(days=6))
    again = fetch(make_client(clock), consent, checking, date_from=TODAY - dt.timedelta(days=7))
    assert late["id"] in {t.identifier for t in again}


# --------------------------------------------------------------------------
# The bridge's messages
# --------------------------------------------------------------------------

@pytest.mark.parametrize("version", [1, 2])
def test_messages_about_other_banks_are_ignored(client, emulator, consent, checking, version, caplog):
    emulator.default_version = version
    emulator.add_account("Other", "USD", org="Second Bank")
    emulator.connection_error("Second Bank", withhold_accounts=True)
    emulator.add_transaction(checking, "-1.00", posted=START)
    caplog.set_level(logging.DEBUG)
    assert len(fetch(client, consent, checking)) == 1
    assert client.get_balance(consent, checking.id).amount == Decimal("99.00")
    assert "Second Bank may need attention" in caplog.text


@pytest.mark.parametrize("version", [1, 2])
def test_a_connection_needing_attention_for_the_asked_account_is_raised(clock, emulator, consent, checking,
                                                                        version):
    emulator.default_version = version
    make_client(clock).list_accounts(consent)  # the bank of each account is known from now on
    emulator.connection_error("Second Bank")
    emulator.connection_error("First Platypus Bank", withhold_accounts=True)
    with pytest.raises(AuthenticationExpired, match="needs attention.*sign in at the bridge") as error:
        make_client(clock).get_balance(consent, checking.id)
    assert "Connection to First Platypus Bank may need attention" in error.value.message
    assert "Second Bank" not in error.value.message


def test_messages_of_a_missing_account_whose_bank_is_unknown_all_count(client, emulator, consent, checking):
    # Nothing told the consent which bank the account is at: every text may be about it.
    emulator.general_error("Scheduled maintenance tonight")
    emulator.connection_error("First Platypus Bank", withhold_accounts=True)
    with pytest.raises(AuthenticationExpired) as error:
        fetch(client, consent, checking)
    assert "Scheduled maintenance tonight; Connection to First Platypus Bank" in error.value.message


def test_other_messages_for_a_missing_account(clock, emulator, consent, checking):
    emulator.default_version = 2
    emulator.remove_account(checking)
    emulator.account_error(checking)
    with pytest.raises(ProviderUnreachable, match="could not read this account just now"):
        fetch(make_client(clock), consent, checking)
    emulator.clear_errors()
    emulator.general_error("Something <b>odd</b>\x07 happened")
    with pytest.raises(ProviderError, match="did not send this account: Something odd happened") as error:
        fetch(make_client(clock), consent, checking)
    assert type(error.value) is ProviderError
    emulator.clear_errors()
    with pytest.raises(ConsentExpired, match="no longer shares this account"):
        fetch(make_client(clock), consent, checking)


def test_every_bank_failing_is_not_an_empty_list(client, emulator, consent):
    emulator.connection_error("First Platypus Bank", withhold_accounts=True)
    with pytest.raises(AuthenticationExpired):
        client.list_accounts(consent)


# --------------------------------------------------------------------------
# HTTP errors
# --------------------------------------------------------------------------

def test_revoked_access_is_consent_expired(client, emulator, consent, checking):
    other = make_client(client.config.now).connect_with_token("simplefin", emulator.issue_setup_token())
    emulator.revoke(consent.data["access_url"])
    with pytest.raises(ConsentExpired, match="new setup token"):
        client.get_balance(consent, checking.id)
    assert len(emulator.account_requests()) == 1
    assert make_client(client.config.now).get_balance(other, checking.id).amount == Decimal("100.00")


def test_payment_required(client, emulator, consent):
    emulator.require_payment()
    with pytest.raises(ProviderError, match="renew the SimpleFIN subscription") as error:
        client.list_accounts(consent)
    assert type(error.value) is ProviderError


def test_429_is_rate_limited_and_not_retried(client, emulator, consent, checking):
    emulator.fail_next(status=429, body="Too Many Requests", content_type="text/plain",
                       headers={"Retry-After": "3600"}, path="/accounts")
    with pytest.raises(RateLimited) as limited:
        client.get_balance(consent, checking.id)
    assert limited.value.reset_at == START + dt.timedelta(hours=1)
    assert len(emulator.account_requests()) == 1


def test_5xx_on_get_is_retried_then_answers_or_is_unreachable(client, emulator, consent, checking):
    emulator.fail_next(status=503, body="down", content_type="text/plain", times=2)
    assert client.get_balance(consent, checking.id).amount == Decimal("100.00")
    assert len(emulator.account_requests()) == 3
    emulator.fail_next(status=500, body="boom", content_type="text/plain", times=FastSimpleFIN.RETRY_ATTEMPTS + 1)
    with pytest.raises(ProviderUnreachable, match="not available"):
        client.list_accounts(consent)
    assert len(emulator.account_requests()) == 3 + FastSimpleFIN.RETRY_ATTEMPTS + 1


def test_timeout_is_unreachable_and_not_retried(clock, emulator, consent, checking):
    slow = make_client(clock, timeout=0.3)
    emulator.fail_next(Fault(status=200, body={"errors": [], "accounts": []}, delay=0.6, path="/accounts"))
    with pytest.raises(ProviderUnreachable, match="did not answer within 0.3 seconds"):
        slow.get_balance(consent, checking.id)
    assert len(emulator.account_requests()) == 1


def test_nobody_listening_is_unreachable(clock):
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    consent = Consent("gone", data={"access_url": f"http://user:password@127.0.0.1:{port}/simplefin"})
    with pytest.raises(ProviderUnreachable, match="could not be reached") as error:
        make_client(clock).list_accounts(consent)
    assert "password" not in told(error.value)


def test_html_and_truncated_json_are_unreachable(client, emulator, consent, checking):
    emulator.fail_next(status=200, body="<html><body>Hotel Wi-Fi: log in</body></html>", content_type="text/html")
    with pytest.raises(ProviderUnreachable):
        client.list_accounts(consent)
    emulator.fail_next(status=200, body='{"errors": [], "accounts": [{"id": "ACT-1", "bala')
    with pytest.raises(ProviderUnreachable):
        client.get_balance(consent, checking.id)
    for _attempt in range(FastSimpleFIN.RETRY_ATTEMPTS + 1):
        emulator.html_error_next(502)
    with pytest.raises(ProviderUnreachable):
        client.list_accounts(consent)


def account_set(**fields):
    """A reply with one valid account ACT-1, changed by ``fields`` (None drops one)."""
    account = {"org": {"name": "Bank", "sfin-url": "https://x"}, "id": "ACT-1", "name": "Checking",
               "currency": "USD", "balance": "1.00", "balance-date": epoch(2026, 3, 10),
               "transactions": [{"id": "T1", "posted": epoch(2026, 3, 9), "amount": "-1.00", "description": "x"}]}
    account.update(fields)
    return {"errors": [], "accounts": [{k: v for k, v in account.items() if v is not None}]}


@pytest.mark.parametrize("body", [
    [], {"errors": []}, {"errors": [], "accounts": {"ACT-1": {}}}, {"errors": "none", "accounts": []},
    {"errlist": {}, "accounts": []},
    account_set(balance=1.0), account_set(balance=None), account_set(balance="1,00"),
    account_set(**{"balance-date": "2026-03-10"}), account_set(currency="US Dollar"), account_set(currency=None),
    account_set(transactions={"T1": {}}),
    account_set(transactions=[{"id": "T1", "posted": epoch(2026, 3, 9), "amount": -1.0}]),
    account_set(transactions=[{"id": "T1", "posted": epoch(2026, 3, 9), "amount": "1e3"}]),
    account_set(transactions=[{"id": "T1", "posted": "yesterday", "amount": "-1.00"}]),
    account_set(transactions=[{"id": "T1", "amount": "-1.00"}]),
    account_set(transactions=[{"id": ["T1"], "posted": epoch(2026, 3, 9), "amount": "-1.00"}]),
    account_set(transactions=[{"id": "T1", "posted": epoch(2026, 3, 9), "amount": "-1", "pending": "no"}]),
    account_set(transactions=["T1"]),
    {"errors": [], "accounts": [{"name": "no id", "currency": "USD"}]},
])
def test_wrong_shapes_or_types_are_invalid_data(clock, emulator, consent, body):
    emulator.fail_next(status=200, body=body, path="/accounts")
    with pytest.raises(InvalidData):
        make_client(clock).get_balance(consent, "ACT-1")


# --------------------------------------------------------------------------
# Secrets
# --------------------------------------------------------------------------

def test_secrets_are_never_told_in_errors_nor_logs(clock, emulator, checking, caplog):
    caplog.set_level(logging.DEBUG)
    token = emulator.issue_setup_token()
    client = make_client(clock)
    consent = client.connect_with_token("simplefin", token)
    hidden = secrets_of(consent, token)
    errors = []
    client.list_accounts(consent)
    with pytest.raises(ProviderError) as again:
        make_client(clock).connect_with_token("simplefin", token)
    errors.append(again.value)
    # A bridge echoing the credentials in its messages.
    emulator.connection_error("First Platypus Bank", f"Login failed for {consent.data['access_url']} "
                              f"({hidden[2]}:{hidden[1]})", withhold_accounts=True)
    for fault in (None, Fault(status=403, body=consent.data["access_url"], content_type="text/plain"),
                  Fault(status=418, body=f"teapot {hidden[1]}", content_type="text/plain"),
                  Fault(status=200, body=f"<html>{hidden[0]}</html>", content_type="text/html"),
                  Fault(status=500, body=hidden[1], content_type="text/plain")):
        for _attempt in range(FastSimpleFIN.RETRY_ATTEMPTS + 1 if fault and fault.status == 500 else 1):
            if fault:
                emulator.fail_next(fault)
        with pytest.raises(ProviderError) as error:
            make_client(clock).get_balance(consent, checking.id)
        errors.append(error.value)
    emulator.fail_next(Fault(status=200, body="never", delay=0.6, path="/accounts"))
    with pytest.raises(ProviderUnreachable) as slow:
        make_client(clock, timeout=0.3).list_accounts(consent)
    errors.append(slow.value)
    assert any("***" in told(error) for error in errors)
    for error in errors:
        assert error.__cause__ is None
        for secret in hidden:
            assert secret not in told(error), (type(error).__name__, told(error))
    for secret in hidden:
        assert secret not in caplog.text
    # urllib3's own debug lines were captured too, the claim's path without its code.
    assert "/simplefin/accounts" in caplog.text and "/simplefin/claim/***" in caplog.text


# --------------------------------------------------------------------------
# The emulator itself
# --------------------------------------------------------------------------

def raw_accounts(emulator, consent, params):
    access = urlsplit(consent.data["access_url"])
    return requests.get(emulator.root_url + "/accounts", params=params, auth=(access.username, access.password),
                        timeout=5)


def test_emulator_caps_ranges_at_90_days_with_a_warning(emulator, consent, checking):
    inside = emulator.add_transaction(checking, "-1.00", posted=epoch(2025, 12, 1))
    emulator.add_transaction(checking, "-2.00", posted=epoch(2026, 3, 1))  # beyond 90 days from the start
    start = epoch(2025, 11, 20)
    answer = raw_accounts(emulator, consent, {"start-date": start, "end-date": start + 120 * DAY})
    body = answer.json()
    assert answer.status_code == 200 and body["errors"] == [CAP_WARNING]
    assert [t["id"] for t in body["accounts"][0]["transactions"]] == [inside["id"]]
    body = raw_accounts(emulator, consent, {"start-date": start, "end-date": start + 120 * DAY, "version": "2"}).json()
    assert body["errlist"] == [{"code": "gen.api", "msg": CAP_WARNING}] and "errors" not in body
    assert body["accounts"][0]["conn_id"] == body["connections"][0]["conn_id"]


def test_emulator_filters_repeated_accounts_and_balances_only(emulator, consent, checking):
    savings = emulator.add_account("Savings", "USD")
    emulator.add_account("Third", "USD")
    body = raw_accounts(emulator, consent, [("account", checking.id), ("account", savings.id),
                                            ("balances-only", "1")]).json()
    assert [a["id"] for a in body["accounts"]] == [checking.id, savings.id]
    assert all("transactions" not in a for a in body["accounts"])


def test_emulator_daily_quota_warns_then_disables_the_access(clock, emulator, consent, checking):
    client = make_client(clock)
    for _request in range(emulator.daily_quota):
        assert raw_accounts(emulator, consent, {"balances-only": "1"}).json()["errors"] == []
    warned = raw_accounts(emulator, consent, {"balances-only": "1"}).json()["errors"]
    assert len(warned) == 1 and "more requests" in warned[0]
    assert client.get_balance(consent, checking.id)  # a quota of its own for each account
    for _request in range(emulator.quota_leeway - 1):
        raw_accounts(emulator, consent, {"balances-only": "1"})
    with pytest.raises(ConsentExpired):
        client.list_accounts(consent)
    clock.moment += dt.timedelta(days=2)
    with pytest.raises(ConsentExpired):  # disabled for good
        make_client(clock).list_accounts(consent)


def test_emulator_quota_refused_with_429_when_asked(clock, emulator, consent):
    emulator.quota_refusal = "429"
    emulator.daily_quota, emulator.quota_leeway = 2, 0
    client = make_client(clock)
    client.list_accounts(consent)
    clock.moment += dt.timedelta(hours=1)
    client.list_accounts(consent)
    with pytest.raises(RateLimited) as limited:
        client.list_accounts(consent)
    assert limited.value.reset_at == START + dt.timedelta(days=1)
    clock.moment = START + dt.timedelta(days=1, seconds=1)  # the oldest request left the last 24 hours
    assert make_client(clock).list_accounts(consent)


def test_emulator_refuses_wrong_credentials_and_unknown_claims(emulator, consent):
    assert requests.get(emulator.root_url + "/accounts", auth=("nobody", "wrong"), timeout=5).status_code == 403
    assert requests.get(emulator.root_url + "/accounts", timeout=5).status_code == 403
    assert requests.post(emulator.root_url + "/claim/unknown", timeout=5).status_code == 403
    assert requests.get(emulator.root_url + "/info", timeout=5).json()["versions"]


def test_emulator_runs_by_hand_and_its_create_page_gives_tokens(clock):
    process = subprocess.Popen([sys.executable, "-m", "emulators.simplefin"], cwd=ROOT, text=True,
                               stdout=subprocess.PIPE)
    try:
        first_line = process.stdout.readline()
        assert first_line.startswith("SimpleFIN Bridge emulator: http://127.0.0.1:")
        root_url, printed_token = first_line.split()[3], first_line.split()[6]
        page = requests.get(root_url + "/create", timeout=5)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        token = page.text.split('id="setup-token" readonly rows="3" cols="90">')[1].split("</textarea>")[0]
        client = make_client(Clock(dt.datetime.now(UTC)), api_base_url=root_url)
        for setup_token in (printed_token, token):
            consent = client.connect_with_token("simplefin", setup_token)
            names = {a.name for a in client.list_accounts(consent)}
            assert names == {"First Platypus Bank - Checking ····1234", "みずほ銀行 - 円口座"}
    finally:
        process.terminate()
        process.wait(timeout=5)
