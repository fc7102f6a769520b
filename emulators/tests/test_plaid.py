# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The Plaid connector against its emulator: real HTTP on 127.0.0.1, no Odoo,
time moved by a clock both sides share."""
import ast
import datetime as dt
import json
import logging
import math
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl, urljoin, urlsplit

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec

from emulators.base import Fault
from emulators.plaid import DEFAULT_CLIENT_ID, DEFAULT_SECRET, PlaidEmulator, plaid_error
from emulators.plaid_bank import SANDBOX_INSTITUTION_ID
from providers import (
    PENDING,
    POSTED,
    AccountUnavailable,
    AuthenticationExpired,
    Consent,
    ConsentExpired,
    InvalidCredentials,
    InvalidData,
    ProviderConfig,
    ProviderError,
    ProviderUnreachable,
    RateLimited,
    WebhookEvent,
)
from providers.plaid import PlaidProvider
from shared_clock import Clock

UTC = dt.timezone.utc
START = dt.datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
TODAY = START.date()
BANK = SANDBOX_INSTITUTION_ID
REDIRECT = "https://odoo.example.com/online_sync/callback?link=7"
WEBHOOK = "https://odoo.example.com/online_sync/webhook/plaid"
ROOT = Path(__file__).resolve().parents[2]
KEYS = {"client_identifier": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_SECRET}



class FastPlaid(PlaidProvider):
    RETRY_BACKOFF = 0.001  # keep the retries' waits out of the test time


@pytest.fixture
def clock():
    return Clock(START)


@pytest.fixture
def emulator(clock):
    with PlaidEmulator(now=clock, sample_data=False) as server:
        yield server


def make_client(emulator, clock, page_size=None, **config):
    settings = {"api_base_url": emulator.api_url, "credentials": dict(KEYS), "timeout": 5, "now": clock}
    settings.update(config)
    client = FastPlaid(ProviderConfig(**settings))
    if page_size:
        client.SYNC_PAGE_SIZE = page_size
    return client


@pytest.fixture
def client(emulator, clock):
    return make_client(emulator, clock)


def calls(emulator, path):
    return [request for request in emulator.requests if request.path == path]


def back_params(url):
    return dict(parse_qsl(urlsplit(url).query))


def connect(client, emulator, state="state-1", institution_id=BANK):
    """Through Link without the browser: the emulator's test-control method."""
    step = client.start_connect(institution_id, REDIRECT, state)
    location = emulator.complete_link(step.data["link_token"])
    return client.finish_connect(institution_id, {**back_params(location), "connect_data": step.data})


def visit_link(step, action="continue", username="user_good", password="pass_good"):
    """What the user's browser does on the Hosted Link page: open it, fill the form, press a button."""
    page = requests.get(step.redirect_url, timeout=5)
    assert page.status_code == 200
    form_action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
    return page, requests.post(urljoin(page.url, form_action), allow_redirects=False, timeout=5,
                               data={"username": username, "password": password, "action": action})


@dataclass
class Linked:
    consent: Consent
    checking: str  # the Item's account ids
    card: str


@pytest.fixture
def linked(client, emulator):
    """One Item on a checking account and a credit card."""
    emulator.add_account("Plaid Checking", mask="0000", current="110.50", available="100")
    emulator.add_account("Plaid Credit Card", type="credit", subtype="credit card", mask="3333", current="410.25",
                         limit="2000")
    consent = connect(client, emulator)
    checking, card = client.list_accounts(consent)
    return Linked(consent, checking.identifier, card.identifier)


def changes(client, linked, cursor=None, account=None):
    return client.get_changes(linked.consent, account or linked.checking, cursor, TODAY, TODAY)


def ids(transactions):
    return [t.identifier for t in transactions]


# --------------------------------------------------------------------------
# Directory
# --------------------------------------------------------------------------

def test_connector_imports_no_odoo():
    tree = ast.parse((ROOT / "account_online_synchronization/providers/plaid.py").read_text())
    modules = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    modules |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert not any(name.split(".")[0] == "odoo" for name in modules)
    assert (PlaidProvider.code, PlaidProvider.uses_cursor, PlaidProvider.has_webhooks) == ("plaid", True, True)
    assert PlaidProvider(ProviderConfig(environment="sandbox")).base_url == "https://sandbox.plaid.com"
    assert PlaidProvider(ProviderConfig()).base_url == "https://production.plaid.com"
    assert PlaidProvider(ProviderConfig(api_base_url="http://127.0.0.1:9/")).base_url == "http://127.0.0.1:9"


def test_institutions_with_their_countries_logo_and_history(client, emulator):
    banks = {inst.identifier: inst for inst in client.list_institutions()}
    platypus = banks[BANK]
    assert (platypus.name, platypus.countries, platypus.bic, platypus.history_days) == (
        "First Platypus Bank", ("US",), None, 730)
    assert platypus.logo_url.startswith("data:image/png;base64,iVBOR")
    assert banks["ins_emu_desjardins"].name == "Caisse Desjardins de l'Érable"
    assert banks["ins_emu_border"].countries == ("US", "CA")
    asked = calls(emulator, "/institutions/get")[0].json()
    assert (asked["count"], asked["offset"], asked["country_codes"]) == (500, 0, ["US", "CA"])
    assert asked["options"] == {"products": ["transactions"], "include_optional_metadata": True}
    canadian = client.list_institutions("ca")
    assert {inst.identifier for inst in canadian} == {"ins_emu_border", "ins_emu_desjardins",
                                                      "ins_emu_banque_nationale"}
    assert calls(emulator, "/institutions/get")[-1].json()["country_codes"] == ["CA"]


def test_a_broken_bank_in_the_list_is_skipped(client, emulator, caplog):
    emulator.add_institution("ins_broken", None, ["US"])
    emulator.add_institution("ins_no_countries", "Nowhere Bank", ["US", 7])
    listed = {inst.identifier for inst in client.list_institutions("US")}
    assert BANK in listed and not listed & {"ins_broken", "ins_no_countries"}
    assert caplog.text.count("is skipped") == 2


def test_twenty_thousand_institutions_one_request_per_500(client, emulator):
    emulator.add_generated_institutions(20_000)
    started = time.monotonic()
    banks = client.list_institutions("US")
    elapsed = time.monotonic() - started
    american = [inst for inst in emulator.bank.institutions.values() if "US" in inst["country_codes"]]
    assert len(banks) == len(american) > 20_000 and len({b.identifier for b in banks}) == len(banks)
    pages = calls(emulator, "/institutions/get")
    assert len(pages) == math.ceil(len(banks) / 500)
    assert [page.json()["offset"] for page in pages] == list(range(0, len(banks), 500))
    assert elapsed < 10


# --------------------------------------------------------------------------
# Connection
# --------------------------------------------------------------------------

def test_full_flow_through_the_hosted_link_page(emulator, clock):
    client = make_client(emulator, clock, webhook_url=WEBHOOK)
    saving = emulator.add_account("Plaid Saving", official_name="Plaid Silver Standard 0.1% Interest Saving",
                                  subtype="savings", mask="1111", current="210.00", persistent_account_id="pers-sav")
    card = emulator.add_account("Plaid Credit Card", type="credit", subtype="credit card", mask="3333",
                                current="410.25", limit="2000", persistent_account_id=None)
    emulator.add_transaction(saving, "-1250.00", date=TODAY - dt.timedelta(days=3), name="Müller & Söhne payroll")
    emulator.add_transaction(card, "89.40", date=TODAY - dt.timedelta(days=1), merchant_name="Café Łódź",
                             name="CAFE LODZ 0042")

    step = client.start_connect(BANK, REDIRECT, "state-1")
    sent = calls(emulator, "/link/token/create")[0].json()
    assert sent["hosted_link"] == {"completion_redirect_uri": REDIRECT + "&state=state-1"}
    assert (sent["client_name"], sent["language"], sent["country_codes"], sent["institution_id"]) == (
        "Odoo", "en", ["US"], BANK)
    assert (sent["products"], sent["transactions"], sent["webhook"]) == (["transactions"], {"days_requested": 730},
                                                                         WEBHOOK)
    assert "state-1" not in sent["user"]["client_user_id"] and "access_token" not in sent
    assert step.redirect_url.startswith(emulator.url + "/hl/") and step.data["link_token"].startswith("link-")

    page, wrong = visit_link(step, password="pass_bad")
    assert "First Platypus Bank" in page.text and 'name="password"' in page.text
    assert "Continue" in page.text and "Cancel" in page.text
    assert wrong.status_code == 200 and "incorrect" in wrong.text
    clock.advance(minutes=2)
    _page, answer = visit_link(step)
    assert answer.status_code == 302 and answer.headers["Location"] == REDIRECT + "&state=state-1"

    consent = client.finish_connect(BANK, {**back_params(answer.headers["Location"]), "connect_data": step.data})
    item = emulator.item(consent.identifier)
    assert consent.data["access_token"] == item.access_token and consent.valid_until is None
    assert item.webhook == WEBHOOK and item.days_requested == 730
    saving_account, card_account = client.list_accounts(consent)
    assert (saving_account.name, saving_account.currency, saving_account.stable_identifier) == (
        "Plaid Silver Standard 0.1% Interest Saving ••1111", "USD", "pers-sav")
    assert (card_account.name, card_account.stable_identifier, card_account.account_number) == (
        "Plaid Credit Card ••3333", None, None)
    assert client.get_balance(consent, saving_account.identifier).amount == Decimal("210.00")
    owed = client.get_balance(consent, card_account.identifier)
    assert (owed.amount, owed.currency) == (Decimal("-410.25"), "USD")  # a card's current is what is owed
    assert len(calls(emulator, "/accounts/get")) == 1  # the balances come from the accounts read

    first = client.get_changes(consent, saving_account.identifier, None, TODAY, TODAY)
    (payroll,) = first.added
    assert (payroll.amount, payroll.status, payroll.booking_date, payroll.label) == (
        Decimal("1250.00"), POSTED, TODAY - dt.timedelta(days=3), "Müller & Söhne payroll")
    assert first.cursor and first.modified == first.removed == []
    (coffee,) = client.get_changes(consent, card_account.identifier, None, TODAY, TODAY).added
    assert (coffee.amount, coffee.partner_name, coffee.label) == (Decimal("-89.40"), "Café Łódź", "CAFE LODZ 0042")


def test_consent_expiration_time_is_the_consents_end(client, emulator):
    step = client.start_connect(BANK, REDIRECT, "state-1")
    emulator.complete_link(step.redirect_url)
    (item,) = emulator.bank.items.values()
    item.consent_expiration_time = START + dt.timedelta(days=365)
    consent = client.finish_connect(BANK, {"state": "state-1", "connect_data": step.data})
    assert consent.valid_until == START + dt.timedelta(days=365)


def test_cancelled_or_unfinished_link_is_not_completed(client, emulator):
    step = client.start_connect(BANK, REDIRECT, "state-1")
    with pytest.raises(ProviderError, match="not completed"):
        client.finish_connect(BANK, {"state": "state-1", "connect_data": step.data})
    _page, answer = visit_link(step, action="cancel")
    assert answer.status_code == 302 and answer.headers["Location"] == REDIRECT + "&state=state-1"
    with pytest.raises(ProviderError, match="not completed") as error:
        client.finish_connect(BANK, {"state": "state-1", "connect_data": step.data})
    assert type(error.value) is ProviderError
    with pytest.raises(ProviderError, match="matches no connection"):
        client.finish_connect(BANK, {"state": "state-1"})
    assert calls(emulator, "/item/public_token/exchange") == []


def test_the_deprecated_on_success_is_read_too(client, emulator):
    emulator.bank.link_results_style = "on_success"
    assert connect(client, emulator).identifier in emulator.bank.items


def test_public_token_is_single_use_and_short_lived(client, emulator, clock):
    step = client.start_connect(BANK, REDIRECT, "state-1")
    emulator.complete_link(step.data["link_token"])
    params = {"state": "state-1", "connect_data": step.data}
    client.finish_connect(BANK, params)
    with pytest.raises(ProviderError) as replay:
        client.finish_connect(BANK, params)
    assert type(replay.value) is ProviderError and "INVALID_PUBLIC_TOKEN" in replay.value.detail
    step = client.start_connect(BANK, REDIRECT, "state-2")
    emulator.complete_link(step.data["link_token"])
    clock.advance(minutes=31)
    with pytest.raises(ProviderError, match="INVALID_PUBLIC_TOKEN") as late:
        client.finish_connect(BANK, {"state": "state-2", "connect_data": step.data})
    assert "expired" in late.value.detail
    assert len(emulator.bank.items) == 2 and len(calls(emulator, "/item/public_token/exchange")) == 3


def test_item_login_required_then_update_mode_renews_the_same_item(client, emulator, linked):
    token = linked.consent.data["access_token"]
    emulator.require_login(linked.consent.identifier)
    with pytest.raises(AuthenticationExpired, match="Update Credentials") as error:
        changes(client, linked)
    assert "ITEM_LOGIN_REQUIRED" in error.value.detail
    with pytest.raises(AuthenticationExpired):
        client.list_accounts(linked.consent)

    step = client.start_connect(BANK, REDIRECT, "state-2", consent=linked.consent)
    sent = calls(emulator, "/link/token/create")[-1].json()
    assert sent["access_token"] == token and "products" not in sent and "transactions" not in sent
    assert "webhook" not in sent  # none configured
    page, answer = visit_link(step)
    assert "Log in again" in page.text and answer.status_code == 302
    exchanges = len(calls(emulator, "/item/public_token/exchange"))
    renewed = client.finish_connect(BANK, {**back_params(answer.headers["Location"]), "connect_data": step.data},
                                    consent=linked.consent)
    assert renewed is linked.consent and renewed.identifier == linked.consent.identifier
    assert renewed.data["access_token"] == token and len(emulator.bank.items) == 1
    assert len(calls(emulator, "/item/public_token/exchange")) == exchanges  # nothing to exchange
    assert changes(client, linked).cursor


def test_update_mode_cancelled_leaves_the_login_to_renew(client, emulator, linked):
    emulator.require_login(linked.consent.identifier)
    step = client.start_connect(BANK, REDIRECT, "state-2", consent=linked.consent)
    emulator.cancel_link(step.data["link_token"])
    with pytest.raises(ProviderError, match="not completed"):
        client.finish_connect(BANK, {"state": "state-2", "connect_data": step.data}, consent=linked.consent)
    with pytest.raises(AuthenticationExpired):
        changes(client, linked)


# --------------------------------------------------------------------------
# Accounts and balances
# --------------------------------------------------------------------------

def test_balances_signs_and_one_accounts_call(client, emulator, linked):
    assert client.get_balance(linked.consent, linked.checking).amount == Decimal("110.50")
    assert client.get_balance(linked.consent, linked.card).amount == Decimal("-410.25")
    assert len(calls(emulator, "/accounts/get")) == 1
    emulator.set_balance(linked.card, current="-15.00")  # the bank owes the customer
    fresh = make_client(emulator, Clock(START))
    assert fresh.get_balance(linked.consent, linked.card).amount == Decimal("15.00")
    emulator.set_balance(linked.checking, current=None)
    with pytest.raises(InvalidData, match="no current balance"):
        make_client(emulator, Clock(START)).get_balance(linked.consent, linked.checking)


def test_investment_accounts_are_not_bank_accounts(client, emulator):
    emulator.add_account("Plaid Checking")
    emulator.add_account("Plaid IRA", type="investment", subtype="ira", mask="5555")
    emulator.add_account("Bitcoin wallet", currency=None, unofficial_currency="BTC", mask=None)
    consent = connect(client, emulator)
    assert [(a.name, a.currency) for a in client.list_accounts(consent)] == [
        ("Plaid Checking ••0000", "USD"), ("Bitcoin wallet", "BTC")]


# --------------------------------------------------------------------------
# Transactions
# --------------------------------------------------------------------------

def test_first_sync_pages_through_the_whole_history(emulator, clock, linked):
    client = make_client(emulator, clock, page_size=2)
    added = [emulator.add_transaction(linked.checking, f"{n}.00", date=TODAY - dt.timedelta(days=n),
                                      name=f"Payment {n}") for n in range(1, 6)]
    emulator.add_transaction(linked.card, "7.00", name="Not this account")
    result = changes(client, linked)
    assert ids(result.added) == [t["transaction_id"] for t in added]
    assert [t.amount for t in result.added] == [Decimal(f"-{n}.00") for n in range(1, 6)]
    pages = [request.json() for request in calls(emulator, "/transactions/sync")]
    assert len(pages) == 3 and "cursor" not in pages[0]
    assert all(p["count"] == 2 and p["options"] == {"account_id": linked.checking} for p in pages)
    assert pages[1]["cursor"] and pages[2]["cursor"] != pages[1]["cursor"]
    assert (ids(changes(client, linked, account=linked.card).added), result.removed) == (
        [emulator.bank.log[-1][1]], [])


def test_second_sync_returns_only_what_changed(client, emulator, linked):
    kept = emulator.add_transaction(linked.checking, "10.00", name="Kept")
    changed = emulator.add_transaction(linked.checking, "20.00", name="Will change")
    gone = emulator.add_transaction(linked.checking, "30.00", name="Will go")
    first = changes(client, linked)
    assert len(first.added) == 3
    new = emulator.add_transaction(linked.checking, "40.00", name="New")
    emulator.modify_transaction(changed["transaction_id"], amount="21.50", name="Changed")
    emulator.remove_transaction(gone["transaction_id"])
    second = changes(client, linked, first.cursor)
    assert ids(second.added) == [new["transaction_id"]]
    (modified,) = second.modified
    assert (modified.identifier, modified.amount, modified.label) == (changed["transaction_id"], Decimal("-21.50"),
                                                                      "Changed")
    assert second.removed == [gone["transaction_id"]] and kept["transaction_id"] not in ids(second.added)
    third = changes(client, linked, second.cursor)
    assert (third.added, third.modified, third.removed) == ([], [], [])
    assert third.cursor  # a fresh one, as Plaid gives at each call


def test_pending_posts_under_a_new_id_with_or_without_the_link(client, emulator, linked):
    linked_pending = emulator.add_transaction(linked.checking, "30.00", pending=True, name="Hôtel Ibis")
    lone_pending = emulator.add_transaction(linked.checking, "5.00", pending=True, name="Kiosk")
    first = changes(client, linked)
    assert [t.status for t in first.added] == [PENDING, PENDING]
    posted = emulator.post_pending(linked_pending["transaction_id"], date=TODAY + dt.timedelta(days=1))
    reposted = emulator.post_pending(lone_pending["transaction_id"], link=False)
    second = changes(client, linked, first.cursor)
    assert second.removed == [linked_pending["transaction_id"], lone_pending["transaction_id"]]
    settled, alone = second.added
    assert (settled.identifier, settled.status, settled.pending_identifier, settled.amount, settled.label) == (
        posted["transaction_id"], POSTED, linked_pending["transaction_id"], Decimal("-30.00"), "Hôtel Ibis")
    assert settled.booking_date == TODAY + dt.timedelta(days=1)
    assert (alone.identifier, alone.pending_identifier) == (reposted["transaction_id"], None)


def test_pending_to_posted_across_pages(emulator, clock, linked):
    client = make_client(emulator, clock, page_size=1)
    pending = emulator.add_transaction(linked.checking, "12.00", pending=True, name="Pending")
    first = changes(client, linked)
    emulator.add_transaction(linked.checking, "1.00", name="Between")
    posted = emulator.post_pending(pending["transaction_id"])
    second = changes(client, linked, first.cursor)
    assert len(calls(emulator, "/transactions/sync")) == 1 + 3  # one change a page
    assert second.removed == [pending["transaction_id"]]
    assert ids(second.added)[-1] == posted["transaction_id"]
    assert second.added[-1].pending_identifier == pending["transaction_id"]
    # Posted before the first reading: the pending one is never told.
    early = emulator.add_transaction(linked.card, "3.00", pending=True)
    early_posted = emulator.post_pending(early["transaction_id"])
    on_card = changes(client, linked, account=linked.card)
    assert (ids(on_card.added), on_card.removed) == ([early_posted["transaction_id"]], [])


def test_changes_of_one_reading_are_merged_by_transaction(emulator, clock, linked):
    """Read page by page, a transaction seen twice is told once, in its last state."""
    client = make_client(emulator, clock, page_size=1)
    response_pages = [
        {"added": [plaid_txn("A", "1.00")], "modified": [], "removed": []},
        {"added": [], "modified": [plaid_txn("A", "1.50")], "removed": []},
        {"added": [plaid_txn("B", "2.00")], "modified": [plaid_txn("OLD", "3.00")], "removed": []},
        {"added": [], "modified": [], "removed": [{"transaction_id": "B", "account_id": linked.checking},
                                                  {"transaction_id": "X", "account_id": "another-account"}]},
    ]
    for number, page in enumerate(response_pages, 1):
        body = dict(page, accounts=[], next_cursor=f"c{number}", has_more=number < len(response_pages),
                    transactions_update_status="HISTORICAL_UPDATE_COMPLETE", request_id="r")
        emulator.fail_next(status=200, body=_with_account(body, linked.checking), path="^/transactions/sync$")
    result = changes(client, linked, "c0")
    assert [(t.identifier, t.amount) for t in result.added] == [("A", Decimal("-1.50"))]
    assert ids(result.modified) == ["OLD"] and result.removed == ["B"] and result.cursor == "c4"


def plaid_txn(transaction_id, amount, **fields):
    """A transaction as /transactions/sync sends it, amount as the JSON number Decimal parsing keeps."""
    return {"transaction_id": transaction_id, "account_id": None, "amount": float(amount), "pending": False,
            "iso_currency_code": "USD", "unofficial_currency_code": None, "date": str(TODAY), "name": "Shop",
            "datetime": None, "pending_transaction_id": None, **fields}


def _with_account(body, account_id):
    for key in ("added", "modified"):
        body[key] = [dict(t, account_id=t["account_id"] or account_id) for t in body[key]]
    return body


def test_two_identical_transactions_the_same_day_are_both_kept(client, emulator, linked):
    for _i in range(2):
        emulator.add_transaction(linked.checking, "4.20", date=TODAY, name="Kiosk", merchant_name="Kiosk")
    first, second = changes(client, linked).added
    assert first.identifier != second.identifier
    assert (first.amount, first.booking_date, first.label) == (second.amount, second.booking_date, second.label)


def test_a_late_transaction_with_an_older_date_comes_with_the_next_sync(client, emulator, clock, linked):
    emulator.add_transaction(linked.checking, "10.00", date=TODAY)
    first = changes(client, linked)
    clock.advance(days=1)
    late = emulator.add_transaction(linked.checking, "20.00", date=TODAY - dt.timedelta(days=5))
    (added,) = changes(client, linked, first.cursor).added
    assert (added.identifier, added.booking_date) == (late["transaction_id"], TODAY - dt.timedelta(days=5))


def test_history_older_than_asked_is_not_given(client, emulator, linked):
    emulator.add_transaction(linked.checking, "1.00", date=TODAY - dt.timedelta(days=729))
    emulator.add_transaction(linked.checking, "2.00", date=TODAY - dt.timedelta(days=731))
    assert [t.amount for t in changes(client, linked).added] == [Decimal("-1.00")]


def test_times_with_offsets_near_midnight(client, emulator, linked):
    new_york = emulator.add_transaction(linked.checking, "1.00", date="2026-03-09",
                                        datetime="2026-03-09T23:30:00-05:00")
    paris = emulator.add_transaction(linked.checking, "2.00", date="2026-03-10",
                                     datetime="2026-03-10T00:15:00+01:00")
    zulu = emulator.add_transaction(linked.checking, "3.00", date="2026-03-08", datetime="2026-03-08T23:59:59Z")
    naive = emulator.add_transaction(linked.checking, "4.00", date="2026-03-09", datetime="2026-03-09T23:50:00")
    midnight = emulator.add_transaction(linked.checking, "5.00", date="2026-03-09",
                                        datetime="2026-03-09T00:00:00Z")
    got = {t.identifier: t for t in changes(client, linked).added}
    late = got[new_york["transaction_id"]]
    assert late.booked_at == dt.datetime(2026, 3, 10, 4, 30, tzinfo=UTC)
    assert late.booked_at.utcoffset() == dt.timedelta(hours=-5) and late.booking_date == dt.date(2026, 3, 9)
    early = got[paris["transaction_id"]]
    assert early.booked_at == dt.datetime(2026, 3, 9, 23, 15, tzinfo=UTC) and early.booking_date == TODAY
    assert got[zulu["transaction_id"]].booked_at.utcoffset() == dt.timedelta(0)
    assert got[naive["transaction_id"]].booked_at is None  # no offset: no moment
    # A midnight that only repeats the date is no time: it must not move the date.
    assert (got[midnight["transaction_id"]].booked_at, got[midnight["transaction_id"]].booking_date) == (
        None, dt.date(2026, 3, 9))


def test_amounts_are_exact_decimals(client, emulator):
    dollars = emulator.add_account("Checking", current="0.3")
    yen = emulator.add_account("円口座", currency="JPY", current="98500")
    dinar = emulator.add_account("حساب", currency="KWD", current="22.845")
    for amount in ("0.1", "0.2", "-0.3", "12345678901234.57", "-0.00"):
        emulator.add_transaction(dollars, amount)
    emulator.add_transaction(yen, "1500", name="請求書 42")
    emulator.add_transaction(dinar, "-12.345")
    consent = connect(client, emulator)
    usd, jpy, kwd = client.list_accounts(consent)
    got = client.get_changes(consent, usd.identifier, None, TODAY, TODAY).added
    assert all(type(t.amount) is Decimal for t in got)
    assert [str(t.amount) for t in got] == ["-0.1", "-0.2", "0.3", "-12345678901234.57", "0.00"]
    assert sum(t.amount for t in got[:3]) == 0 and not got[4].amount.is_signed()
    (payment,) = client.get_changes(consent, jpy.identifier, None, TODAY, TODAY).added
    assert (str(payment.amount), payment.currency, payment.label) == ("-1500", "JPY", "請求書 42")
    (refund,) = client.get_changes(consent, kwd.identifier, None, TODAY, TODAY).added
    assert (str(refund.amount), refund.currency) == ("12.345", "KWD")
    assert [str(client.get_balance(consent, a.identifier).amount) for a in (usd, jpy, kwd)] == [
        "0.3", "98500", "22.845"]
    # On the wire: JSON numbers, written digit for digit.
    raw = requests.post(emulator.url + "/transactions/sync", timeout=5, json={
        "client_id": DEFAULT_CLIENT_ID, "secret": DEFAULT_SECRET, "access_token": consent.data["access_token"],
        "options": {"account_id": usd.identifier}}).text
    assert '"amount": 0.1,' in raw and '"amount": 12345678901234.57,' in raw and "0.30000000000000004" not in raw


def test_labels_and_partners_with_non_ascii_texts(client, emulator, linked):
    merchant = emulator.add_transaction(linked.checking, "99.90", name="BÜROBEDARF SEÑOR ÇELIK",
                                        merchant_name="Bürobedarf Señor Çelik SàRL")
    counterparty = emulator.add_transaction(linked.checking, "-250.00", name="Ærø Shipping ApS refund",
                                            counterparties=[{"name": "Ærø Shipping ApS", "type": "merchant"}])
    original = emulator.add_transaction(linked.checking, "6.00", name=None, original_description="Frais de tenue",
                                        merchant_name=None)
    by_id = {t.identifier: t for t in changes(client, linked).added}
    assert (by_id[merchant["transaction_id"]].label, by_id[merchant["transaction_id"]].partner_name) == (
        "BÜROBEDARF SEÑOR ÇELIK", "Bürobedarf Señor Çelik SàRL")
    assert by_id[counterparty["transaction_id"]].partner_name == "Ærø Shipping ApS"
    assert by_id[counterparty["transaction_id"]].amount == Decimal("250.00")
    assert (by_id[original["transaction_id"]].label, by_id[original["transaction_id"]].partner_name) == (
        "Frais de tenue", None)


def test_mutation_during_pagination_restarts_from_the_first_cursor(emulator, clock, linked):
    client = make_client(emulator, clock, page_size=2)
    for n in range(5):
        emulator.add_transaction(linked.checking, f"{n}.00")
    late = {}
    emulator.interrupt_pagination(change=lambda: late.update(emulator.add_transaction(linked.checking, "9.00")))
    first = changes(client, linked)
    assert len(first.added) == len(set(ids(first.added))) == 6 and late["transaction_id"] in ids(first.added)
    readings = [r.json().get("cursor") for r in calls(emulator, "/transactions/sync")]
    assert readings[0] is None and readings[2] is None  # the refused page, then from the start again
    # From a stored cursor, the restart uses that cursor again.
    for n in range(4):
        emulator.add_transaction(linked.checking, f"1{n}.00")
    emulator.interrupt_pagination()
    emulator.requests.clear()
    second = changes(client, linked, first.cursor)
    readings = [r.json().get("cursor") for r in calls(emulator, "/transactions/sync")]
    assert readings[0] == readings[2] == first.cursor and len(second.added) == 4


def test_endless_mutations_are_unreachable_after_a_few_restarts(emulator, clock, linked):
    client = make_client(emulator, clock, page_size=1)
    emulator.add_transaction(linked.checking, "1.00")
    emulator.add_transaction(linked.checking, "2.00")
    emulator.interrupt_pagination(times=10)
    with pytest.raises(ProviderUnreachable, match="kept changing") as error:
        changes(client, linked)
    assert "TRANSACTIONS_SYNC_MUTATION_DURING_PAGINATION" in error.value.detail
    assert len(calls(emulator, "/transactions/sync")) == 2 * (client.MAX_SYNC_RESTARTS + 1)


def test_the_emulator_refuses_a_page_after_a_change(emulator, linked):
    """Plaid's own behaviour, seen on the wire: the data changed between two pages."""
    for n in range(3):
        emulator.add_transaction(linked.checking, f"{n}.00")
    ask = {"client_id": DEFAULT_CLIENT_ID, "secret": DEFAULT_SECRET, "count": 1,
           "access_token": linked.consent.data["access_token"], "options": {"account_id": linked.checking}}
    first = requests.post(emulator.url + "/transactions/sync", json=ask, timeout=5).json()
    assert first["has_more"] is True and len(first["added"]) == 1 and first["request_id"]
    emulator.add_transaction(linked.card, "5.00")  # another account's stream: no matter
    assert requests.post(emulator.url + "/transactions/sync", json=dict(ask, cursor=first["next_cursor"]),
                         timeout=5).status_code == 200
    emulator.add_transaction(linked.checking, "5.00")
    refused = requests.post(emulator.url + "/transactions/sync", json=dict(ask, cursor=first["next_cursor"]),
                            timeout=5)
    assert refused.status_code == 400
    assert (refused.json()["error_type"], refused.json()["error_code"]) == (
        "TRANSACTIONS_ERROR", "TRANSACTIONS_SYNC_MUTATION_DURING_PAGINATION")
    other_stream = requests.post(emulator.url + "/transactions/sync", timeout=5,
                                 json=dict(ask, cursor=first["next_cursor"], options={"account_id": linked.card}))
    assert other_stream.json()["error_code"] == "INVALID_FIELD"


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------

def test_invalid_or_missing_keys_are_invalid_credentials(emulator, clock):
    wrong = make_client(emulator, clock, credentials={"client_identifier": DEFAULT_CLIENT_ID,
                                                      "client_secret": "wrong-secret-do-not-leak"})
    with pytest.raises(InvalidCredentials) as error:
        wrong.list_institutions()
    told = f"{error.value} {error.value.detail} {error.value.args}"
    assert "INVALID_API_KEYS" in told and "wrong-secret-do-not-leak" not in told and DEFAULT_CLIENT_ID not in told
    emulator.requests.clear()
    with pytest.raises(InvalidCredentials, match="client id and the secret"):
        make_client(emulator, clock, credentials={"client_identifier": DEFAULT_CLIENT_ID}).list_institutions()
    assert emulator.requests == []
    emulator.fail_next(status=400, body=plaid_error("INVALID_INPUT", "UNAUTHORIZED_ENVIRONMENT", "not enabled"))
    with pytest.raises(InvalidCredentials):
        make_client(emulator, clock).list_institutions()


@pytest.mark.parametrize("how", ["revoke", "not_granted", "remove"])
def test_revoked_or_removed_item_is_consent_expired(client, emulator, linked, how):
    item_id = linked.consent.identifier
    if how == "remove":
        emulator.remove_item(item_id)
    else:
        emulator.revoke(item_id, "ACCESS_NOT_GRANTED" if how == "not_granted" else "USER_PERMISSION_REVOKED")
    with pytest.raises(ConsentExpired, match="connect the bank again"):
        changes(client, linked)
    with pytest.raises(ConsentExpired):
        make_client(emulator, Clock(START)).list_accounts(linked.consent)
    with pytest.raises(ConsentExpired):
        client.get_changes(Consent(identifier=item_id, data={}), linked.checking, None, TODAY, TODAY)


def test_an_account_no_longer_listed_is_that_account_unavailable(client, emulator, clock, linked):
    # A closed account leaves the Item's accounts; the Item and its other accounts stay.
    emulator.item(linked.consent.identifier).accounts.pop(linked.card)
    fresh = make_client(emulator, clock)
    with pytest.raises(AccountUnavailable, match="may be closed"):
        fresh.get_balance(linked.consent, linked.card)
    assert fresh.get_balance(linked.consent, linked.checking).amount == Decimal("110.50")


def test_429_is_rate_limited_and_never_retried(client, emulator, clock, linked):
    emulator.rate_limit("/transactions/sync")
    with pytest.raises(RateLimited) as limited:
        changes(client, linked)
    assert limited.value.reset_at is None and "TRANSACTIONS_SYNC_LIMIT" in limited.value.detail
    assert len(calls(emulator, "/transactions/sync")) == 1
    emulator.fail_next(status=429, headers={"Retry-After": "120"}, path="^/accounts/get$",
                       body=plaid_error("RATE_LIMIT_EXCEEDED", "ACCOUNTS_LIMIT", "rate limit exceeded"))
    with pytest.raises(RateLimited) as with_header:
        make_client(emulator, clock).get_balance(linked.consent, linked.checking)
    assert with_header.value.reset_at == START + dt.timedelta(seconds=120)
    assert len(calls(emulator, "/accounts/get")) == 2  # the fixture's, then this one


def test_5xx_is_retried_for_reads(client, emulator, linked):
    down = plaid_error("API_ERROR", "INTERNAL_SERVER_ERROR", "an unexpected error occurred")
    emulator.fail_next(status=500, body=down, path="^/transactions/sync$", times=2)
    assert changes(client, linked).cursor
    assert len(calls(emulator, "/transactions/sync")) == 3
    emulator.fail_next(status=503, body=down, path="^/transactions/sync$", times=client.RETRY_ATTEMPTS + 1)
    with pytest.raises(ProviderUnreachable, match="not available"):
        changes(client, linked)
    assert len(calls(emulator, "/transactions/sync")) == 3 + client.RETRY_ATTEMPTS + 1


def test_5xx_is_never_retried_for_calls_that_create(client, emulator):
    down = plaid_error("API_ERROR", "INTERNAL_SERVER_ERROR", "an unexpected error occurred")
    emulator.fail_next(status=500, body=down, path="^/link/token/create$")
    with pytest.raises(ProviderUnreachable):
        client.start_connect(BANK, REDIRECT, "state-1")
    assert len(calls(emulator, "/link/token/create")) == 1
    step = client.start_connect(BANK, REDIRECT, "state-1")
    emulator.complete_link(step.data["link_token"])
    emulator.fail_next(status=503, body=down, path="^/item/public_token/exchange$")
    params = {"state": "state-1", "connect_data": step.data}
    with pytest.raises(ProviderUnreachable):
        client.finish_connect(BANK, params)
    assert len(calls(emulator, "/item/public_token/exchange")) == 1
    assert client.finish_connect(BANK, params).identifier  # the token was not spent: the user need not go again


@pytest.mark.parametrize("code", ["INSTITUTION_DOWN", "INSTITUTION_NOT_RESPONDING", "PRODUCT_NOT_READY"])
def test_bank_side_outages_are_unreachable(client, emulator, linked, code):
    error_type = "ITEM_ERROR" if code == "PRODUCT_NOT_READY" else "INSTITUTION_ERROR"
    emulator.fail_next(status=400, body=plaid_error(error_type, code, "try later"), path="^/transactions/sync$")
    with pytest.raises(ProviderUnreachable) as error:
        changes(client, linked)
    assert code in error.value.detail and len(calls(emulator, "/transactions/sync")) == 1


def test_other_refusals_are_provider_errors_with_a_safe_detail(client, emulator, linked):
    emulator.fail_next(status=400, path="^/transactions/sync$", body=dict(
        plaid_error("INVALID_REQUEST", "INVALID_FIELD", "cursor is invalid"), request_id="req-42"))
    with pytest.raises(ProviderError) as error:
        changes(client, linked)
    assert type(error.value) is ProviderError and "INVALID_FIELD" in error.value.message
    assert "INVALID_FIELD" in error.value.detail and "req-42" in error.value.detail


def test_timeout_is_unreachable_and_not_retried(emulator, clock, linked):
    client = make_client(emulator, clock, timeout=0.5)
    emulator.fail_next(Fault(status=200, body={"accounts": []}, delay=1.0, path="^/accounts/get$"))
    before = len(calls(emulator, "/accounts/get"))
    with pytest.raises(ProviderUnreachable, match="did not answer within 0.5 seconds"):
        client.list_accounts(linked.consent)
    assert len(calls(emulator, "/accounts/get")) == before + 1


def test_nobody_listening_is_unreachable(clock):
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = FastPlaid(ProviderConfig(api_base_url=f"http://127.0.0.1:{port}", credentials=dict(KEYS), now=clock,
                                      timeout=1))
    with pytest.raises(ProviderUnreachable, match="could not be reached"):
        client.list_institutions()


def test_html_pages_and_truncated_json_are_unreachable(client, emulator, linked):
    emulator.fail_next(status=200, body="<html><body>Hotel Wi-Fi: log in</body></html>", content_type="text/html")
    with pytest.raises(ProviderUnreachable):
        changes(client, linked)
    for _attempt in range(client.RETRY_ATTEMPTS + 1):
        emulator.html_error_next(502)
    with pytest.raises(ProviderUnreachable):
        changes(client, linked)
    emulator.fail_next(status=200, body='{"added": [{"transaction_id": "A1", "amount": 12.')
    with pytest.raises(ProviderUnreachable):
        changes(client, linked)
    emulator.fail_next(status=400, body="<html>Bad Request</html>", content_type="text/html",
                       path="^/link/token/create$")
    with pytest.raises(ProviderUnreachable):
        client.start_connect(BANK, REDIRECT, "state-2")


def sync_answer(*added, **fields):
    body = {"added": list(added), "modified": [], "removed": [], "next_cursor": "c1", "has_more": False,
            "accounts": [], "transactions_update_status": "HISTORICAL_UPDATE_COMPLETE", "request_id": "r"}
    body.update(fields)
    return json.dumps(body)


GOOD = {"transaction_id": "T1", "amount": 5, "pending": False, "iso_currency_code": "USD",
        "unofficial_currency_code": None, "date": "2026-03-09", "name": "Shop"}


@pytest.mark.parametrize("body", [
    sync_answer(dict(GOOD, amount="12.50")),  # a string
    sync_answer(dict(GOOD, amount=None)),
    sync_answer(dict(GOOD, amount=True)),
    sync_answer(dict(GOOD, transaction_id=None)),
    sync_answer(dict(GOOD, transaction_id=" ")),
    sync_answer(dict(GOOD, pending="false")),
    sync_answer(dict(GOOD, date="09/03/2026")),
    sync_answer(dict(GOOD, iso_currency_code=None)),
    sync_answer(dict(GOOD, datetime="yesterday")),
    sync_answer(GOOD, added={"T1": GOOD}),
    sync_answer(GOOD, has_more=None),
    sync_answer(GOOD, has_more=True, next_cursor=""),
    sync_answer(GOOD, removed=[{"transaction_id": 7}]),
    sync_answer(GOOD).replace('"amount": 5', '"amount": NaN'),
    '["not", "an", "object"]',
])
def test_wrong_types_are_invalid_data(client, emulator, linked, body):
    emulator.fail_next(status=200, body=body, path="^/transactions/sync$")
    with pytest.raises(InvalidData):
        client.get_changes(linked.consent, linked.checking, "c0", TODAY, TODAY)


def test_the_same_cursor_twice_is_invalid_data(client, emulator, linked):
    emulator.fail_next(status=200, body=sync_answer(GOOD, has_more=True, next_cursor="c0"), path="^/transactions/sync$")
    with pytest.raises(InvalidData, match="cannot be trusted"):
        client.get_changes(linked.consent, linked.checking, "c0", TODAY, TODAY)


@pytest.mark.parametrize("body", [
    {"accounts": {"a": 1}},
    {"accounts": [{"account_id": "a", "type": "depository"}]},  # no balances
    {"accounts": [{"account_id": None, "type": "depository", "balances": {}}]},
    {"accounts": [{"account_id": "a", "type": "depository", "balances": {"current": 1, "iso_currency_code": None}}]},
])
def test_accounts_of_the_wrong_shape_are_invalid_data(client, emulator, linked, body):
    emulator.fail_next(status=200, body=body, path="^/accounts/get$")
    with pytest.raises(InvalidData):
        client.list_accounts(linked.consent)


def test_secrets_and_tokens_never_reach_errors_or_logs(emulator, clock, caplog):
    caplog.set_level(logging.DEBUG)
    client = make_client(emulator, clock)
    emulator.add_account("Plaid Checking")
    step = client.start_connect(BANK, REDIRECT, "state-1")
    emulator.complete_link(step.data["link_token"])
    public_token = emulator.link(step.data["link_token"]).sessions[-1]["results"]["item_add_results"][0][
        "public_token"]
    consent = client.finish_connect(BANK, {"state": "state-1", "connect_data": step.data})
    (account,) = client.list_accounts(consent)
    secrets_told = [DEFAULT_CLIENT_ID, DEFAULT_SECRET, consent.data["access_token"], step.data["link_token"],
                    public_token]
    echo = " ".join(secrets_told)
    emulator.fail_next(status=400, path="^/transactions/sync$", body=plaid_error(
        "INVALID_REQUEST", "INVALID_FIELD", f"bad request: {echo}", f"Oops {echo}"))
    with pytest.raises(ProviderError) as error:
        client.get_changes(consent, account.identifier, None, TODAY, TODAY)
    told = f"{error.value} {error.value.message} {error.value.detail} {error.value.args}"
    assert "***" in told
    for secret in secrets_told:
        assert secret not in told and secret not in caplog.text
    # A token the client never saw is hidden by its shape.
    stranger = "access-production-0f3e8a55-1b2c-4d5e-8f90-123456789abc"
    emulator.fail_next(status=400, path="^/accounts/get$", body=plaid_error("X", "Y", stranger))
    with pytest.raises(ProviderError) as error:
        client.list_accounts(consent)
    assert stranger not in error.value.detail


# --------------------------------------------------------------------------
# Webhooks
# --------------------------------------------------------------------------

def test_a_signed_webhook_is_verified_and_read(client, emulator, linked):
    item_id = linked.consent.identifier
    headers, body = emulator.signed_webhook(item_id, "TRANSACTIONS", "SYNC_UPDATES_AVAILABLE")
    assert client.parse_webhook(headers, body) == WebhookEvent(item_id, "transactions")
    assert client.parse_webhook(*emulator.signed_webhook(item_id, "ITEM", "ERROR")) == WebhookEvent(
        item_id, "login_required")
    for code in ("PENDING_EXPIRATION", "PENDING_DISCONNECT"):
        assert client.parse_webhook(*emulator.signed_webhook(item_id, "ITEM", code)).kind == "login_required"
    other_error = emulator.signed_webhook(item_id, "ITEM", "ERROR", error={"error_code": "INSTITUTION_DOWN"})
    assert client.parse_webhook(*other_error).kind == "other"
    assert client.parse_webhook(*emulator.signed_webhook(item_id, "ITEM", "NEW_ACCOUNTS_AVAILABLE")).kind == "other"
    assert client.parse_webhook(*emulator.signed_webhook(None, "TRANSACTIONS", "SYNC_UPDATES_AVAILABLE")) is None
    # The key is asked once per client.
    assert len(calls(emulator, "/webhook_verification_key/get")) == 1


def test_a_webhook_must_be_signed_by_plaid_and_recent(client, emulator, clock, linked):
    item_id = linked.consent.identifier
    headers, body = emulator.signed_webhook(item_id, "TRANSACTIONS", "SYNC_UPDATES_AVAILABLE")
    tampered = body.replace(item_id.encode(), b"another-item-id-0000000000000000000")
    other_key = ec.generate_private_key(ec.SECP256R1())
    now = int(clock().timestamp())
    forged = {
        "tampered body": (headers, tampered),
        "no header": ({}, body),
        "empty header": ({"plaid-verification": ""}, body),
        "garbage": ({"plaid-verification": "not.a.jwt"}, body),
        "another key": ({"plaid-verification": emulator.sign_webhook_body(body, private_key=other_key)}, body),
        "alg none": ({"plaid-verification": jwt.encode(
            {"iat": now, "request_body_sha256": "0" * 64}, None, algorithm="none",
            headers={"kid": emulator.webhook_kid})}, body),
        "HS256": ({"plaid-verification": jwt.encode(
            {"iat": now, "request_body_sha256": "0" * 64}, "a-shared-secret-of-32-bytes-long!",
            algorithm="HS256", headers={"kid": emulator.webhook_kid})}, body),
        "no kid": ({"plaid-verification": jwt.encode({"iat": now}, other_key, algorithm="ES256")}, body),
        "unknown kid": ({"plaid-verification": emulator.sign_webhook_body(body, kid="kid-nobody-knows")}, body),
        "stale": ({"plaid-verification": emulator.sign_webhook_body(body, iat=now - 6 * 60)}, body),
        "from the future": ({"plaid-verification": emulator.sign_webhook_body(body, iat=now + 6 * 60)}, body),
    }
    for name, (forged_headers, forged_body) in forged.items():
        with pytest.raises(InvalidData):
            client.parse_webhook(forged_headers, forged_body)
            pytest.fail(f"{name} was taken")
    assert client.parse_webhook({"plaid-verification": emulator.sign_webhook_body(body, iat=now - 4 * 60)}, body)


def test_a_webhook_signed_with_a_retired_key_is_refused(client, emulator, clock, linked):
    old_kid = emulator.webhook_kid
    headers, body = emulator.signed_webhook(linked.consent.identifier, "TRANSACTIONS", "SYNC_UPDATES_AVAILABLE")
    emulator.rotate_webhook_key(expire_current=True)
    clock.advance(seconds=1)
    with pytest.raises(InvalidData, match="retired"):
        client.parse_webhook(headers, body)
    assert jwt.get_unverified_header(headers["plaid-verification"])["kid"] == old_kid
    fresh = emulator.signed_webhook(linked.consent.identifier, "TRANSACTIONS", "SYNC_UPDATES_AVAILABLE")
    assert client.parse_webhook(*fresh).kind == "transactions"


# --------------------------------------------------------------------------
# The emulator itself
# --------------------------------------------------------------------------

def test_the_emulator_answers_as_plaid_does(emulator):
    url = emulator.url
    keys = {"client_id": DEFAULT_CLIENT_ID, "secret": DEFAULT_SECRET}
    missing = requests.post(url + "/link/token/create", json=dict(keys, language="en"), timeout=5)
    assert missing.status_code == 400
    assert (missing.json()["error_type"], missing.json()["error_code"]) == ("INVALID_REQUEST", "MISSING_FIELDS")
    assert "client_name" in missing.json()["error_message"] and "user.client_user_id" in missing.json()["error_message"]
    not_json = requests.post(url + "/item/get", data="{", headers={"Content-Type": "application/json"}, timeout=5)
    assert not_json.json()["error_code"] == "INVALID_BODY"
    no_keys = requests.post(url + "/institutions/get", json={}, timeout=5).json()
    assert no_keys["error_code"] == "MISSING_FIELDS" and no_keys["request_id"]
    by_header = requests.post(url + "/institutions/get_by_id", timeout=5,
                              headers={"PLAID-CLIENT-ID": DEFAULT_CLIENT_ID, "PLAID-SECRET": DEFAULT_SECRET},
                              json={"institution_id": BANK, "country_codes": ["US"]})
    assert by_header.json()["institution"]["name"] == "First Platypus Bank" and by_header.json()["request_id"]
    # The Sandbox's helpers: an Item without Link, then its login reset.
    public = requests.post(url + "/sandbox/public_token/create", timeout=5,
                           json=dict(keys, institution_id=BANK, initial_products=["transactions"])).json()
    access = requests.post(url + "/item/public_token/exchange", json=dict(keys, public_token=public["public_token"]),
                           timeout=5).json()["access_token"]
    assert requests.post(url + "/sandbox/item/reset_login", json=dict(keys, access_token=access),
                         timeout=5).json()["reset_login"] is True
    refused = requests.post(url + "/accounts/get", json=dict(keys, access_token=access), timeout=5)
    assert refused.status_code == 400 and refused.json()["error_code"] == "ITEM_LOGIN_REQUIRED"
    item = requests.post(url + "/item/get", json=dict(keys, access_token=access), timeout=5).json()["item"]
    assert item["error"]["error_code"] == "ITEM_LOGIN_REQUIRED"
    key = requests.post(url + "/webhook_verification_key/get", json=dict(keys, key_id=emulator.webhook_kid),
                        timeout=5).json()["key"]
    assert (key["alg"], key["crv"], key["kty"], key["kid"], key["expired_at"]) == (
        "ES256", "P-256", "EC", emulator.webhook_kid, None)
    assert requests.post(url + "/nowhere", json=keys, timeout=5).status_code == 404


def test_runs_by_hand_and_prints_its_url():
    process = subprocess.Popen([sys.executable, "-m", "emulators.plaid"], cwd=ROOT, text=True,
                               stdout=subprocess.PIPE)
    try:
        first_line = process.stdout.readline()
        assert "API base URL: http://127.0.0.1:" in first_line and DEFAULT_SECRET in first_line
        url = first_line.split()[3]
        answer = requests.post(url + "/institutions/get", timeout=5, json={
            "client_id": DEFAULT_CLIENT_ID, "secret": DEFAULT_SECRET, "count": 10, "offset": 0,
            "country_codes": ["US"]})
        assert answer.status_code == 200 and answer.json()["total"] >= 1
    finally:
        process.terminate()
        process.wait(timeout=5)
