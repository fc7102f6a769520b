# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import base64
import datetime as dt
import json
import os
import tempfile
import threading
import time
from pathlib import Path
from collections import Counter
from decimal import Decimal
from unittest.mock import patch
from zoneinfo import ZoneInfo

from freezegun import freeze_time

from odoo import Command
from odoo.tests import HttpCase, tagged
from odoo.tests import common as odoo_tests
from odoo.tools import mute_logger

from ..hooks import _legacy_login_to_link
from ..providers import POSTED, ConnectionSuspended, ConsentExpired, ProviderUnreachable
from ..providers.base import Consent
from ..providers.demo import DemoBankProvider

from .common import NOW, OnlineSyncCommon, load_emulators

load_emulators()
from emulators.gocardless import DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY, GoCardlessEmulator  # noqa: E402

# Transactions of the last days that the tour's synchronization imports again.
RECENT_DAYS = 20
# The Demo Bank books the office rent on the 1st of every month: every such
# line is removed before the tour, so any the user sees afterwards was imported
# by the tour's Synchronize Now.
REIMPORTED_LABEL = "Office rent"
REIMPORTED_PARTNER = "Immobilière Lefèvre SA"


SCREENSHOT_PREFIX = "aos-screenshot:"


class ScreenshotTourCase(HttpCase):
    """Tours whose ``screenshot`` steps save what they show as PNGs: into
    ``$AOS_SCREENSHOTS_DIR`` when set (docs/screenshots for the README), else
    into a temporary directory."""

    def setUp(self):
        super().setUp()
        directory = os.environ.get("AOS_SCREENSHOTS_DIR")
        if not directory:
            directory = tempfile.mkdtemp(prefix="aos-screenshots-")
            self.addCleanup(lambda: [path.unlink() for path in Path(directory).glob("*.png")])
        self.screenshot_dir = Path(directory)
        self.screenshot_dir.mkdir(parents=True, exist_ok=True)

    def start_tour(self, *args, **kwargs):
        directory = self.screenshot_dir

        class ScreenshotBrowser(odoo_tests.ChromeBrowser):
            def _handle_console(self, type, args=None, stackTrace=None, **kw):  # noqa: A002 - Odoo's signature
                first = self._from_remoteobject(args[0]) if args else None
                if type == "log" and isinstance(first, str) and first.startswith(SCREENSHOT_PREFIX):
                    self._save_screenshot(json.loads(first[len(SCREENSHOT_PREFIX):]))
                    return
                super()._handle_console(type, args, stackTrace, **kw)

            def _save_screenshot(self, spec):
                margin = 8
                clip = {"x": max(spec["x"] - margin, 0), "y": max(spec["y"] - margin, 0),
                        "width": spec["width"] + 2 * margin, "height": spec["height"] + 2 * margin, "scale": 1}
                path = directory / f"{spec['name']}.png"

                def write(future):
                    path.write_bytes(base64.b64decode(future.result(timeout=0)["data"]))

                # Not waited for here: this runs on the thread that receives the answer.
                self._websocket_send("Page.captureScreenshot", with_future=True, params={
                    "format": "png", "clip": clip, "captureBeyondViewport": True,
                }).add_done_callback(write)

        with patch.object(odoo_tests, "ChromeBrowser", ScreenshotBrowser):
            return super().start_tour(*args, **kwargs)

    def assertScreenshots(self, *names):
        for name in names:
            path = self.screenshot_dir / f"{name}.png"
            self.assertTrue(path.is_file() and path.read_bytes().startswith(b"\x89PNG"), f"screenshot {name}")


class DemoBankTourCase(ScreenshotTourCase):
    """Tours start with the Demo Bank connected by the administrator of the
    fresh database: nothing granted here."""

    def setUp(self):
        super().setUp()
        self.env = self.env(user=self.env.ref("base.user_admin"))
        institution = self.env["account.online.institution"].search([("identifier", "=", "DEMO_BANK")])
        self.assertTrue(institution, "the Demo Bank directory is loaded at install")
        self.link = self.env["account.online.link"].create({"institution_id": institution.id})
        self.link.action_connect()
        self.online_account = self.link.account_online_account_ids.filtered(
            lambda account: account.name == "Current Account"
        )
        self.journal = self.online_account.journal_ids


@tagged("post_install", "-at_install")
class TestOnlineSyncTour(DemoBankTourCase):

    def setUp(self):
        super().setUp()
        self.assertEqual(self.journal.name, "Demo Bank Current Account")

        # Take back what the bank sent lately, and every office rent.
        lines = self._journal_lines()
        self.synced_count = len(lines)
        since = self.link._local_today() - dt.timedelta(days=RECENT_DAYS)
        to_delete = lines.filtered(lambda line: line.online_transaction_identifier and (
            line.date >= since or line.payment_ref.startswith(REIMPORTED_LABEL)
        ))
        self.assertTrue(
            to_delete.filtered(lambda line: line.partner_name == REIMPORTED_PARTNER),
            "the Demo Bank books an office rent every month",
        )
        self.deleted_identifiers = set(to_delete.mapped("online_transaction_identifier"))
        first_deleted = min(to_delete.mapped("date"))
        statements = to_delete.statement_id
        to_delete.unlink()
        statements.filtered(lambda statement: not statement.line_ids).unlink()
        # As if the last synchronization had stopped the day before.
        self.online_account.sudo().last_sync = first_deleted - dt.timedelta(days=1)

        lines = self._journal_lines()
        self.assertFalse(lines.filtered(lambda line: line.payment_ref.startswith(REIMPORTED_LABEL)))
        self.count_before_sync = len(lines)

    def _journal_lines(self):
        return self.env["account.bank.statement.line"].search([("journal_id", "=", self.journal.id)])

    def test_synchronize_now_from_dashboard(self):
        self.start_tour(
            "/odoo/action-account.open_account_journal_dashboard_kanban",
            "account_online_synchronization_sync_now",
            login="admin",
        )

        self.env.invalidate_all()
        lines = self._journal_lines()
        self.assertGreater(len(lines), self.count_before_sync, "Synchronize Now imported new lines")
        # Everything taken back came back (the bank may have booked more since).
        self.assertGreaterEqual(len(lines), self.synced_count)
        identifiers = Counter(lines.mapped("online_transaction_identifier"))
        self.assertLessEqual(self.deleted_identifiers, set(identifiers))
        self.assertFalse(
            [identifier for identifier, count in identifiers.items() if count > 1],
            "no transaction is imported twice",
        )
        reimported = lines.filtered(lambda line: line.online_transaction_identifier in self.deleted_identifiers)
        self.assertTrue(reimported.filtered(lambda line: line.payment_ref.startswith(REIMPORTED_LABEL)
                                            and line.partner_name == REIMPORTED_PARTNER))
        self.assertFalse(reimported.filtered(lambda line: not line.statement_id),
                         "the imported lines are grouped in statements")
        self.assertEqual(self.online_account.last_sync, self.link._local_today())
        self.assertEqual(self.link.state, "connected")


@tagged("post_install", "-at_install")
class TestConnectionScreensTour(DemoBankTourCase):

    def test_configuration_menu_to_a_connection(self):
        link = self.link
        before = self.env["account.bank.statement.line"].search_count([("journal_id", "in", link.journal_ids.ids)])
        self.start_tour("/odoo/accounting", "account_online_synchronization_connection_screens", login="admin")
        self.assertEqual(link.state, "connected")
        self.assertEqual(
            self.env["account.bank.statement.line"].search_count([("journal_id", "in", link.journal_ids.ids)]),
            before, "Fetch Transactions right after connecting finds nothing new",
        )


@tagged("post_install", "-at_install")
class TestBalanceDifferenceTour(DemoBankTourCase):

    def test_dashboard_card_tells_the_difference_and_leads_to_it(self):
        journal = self.journal
        # A line the bank will not send again (older than the days each sync re-reads) goes missing.
        missing = self.env["account.bank.statement.line"].search(
            [("journal_id", "=", journal.id), ("online_transaction_identifier", "!=", False)],
            order="date asc", offset=10, limit=1,
        )
        missing.unlink()
        journal.manual_sync()
        self.assertTrue(journal.account_online_balance_difference)
        self.start_tour("/odoo/accounting", "account_online_synchronization_balance_difference", login="admin")
        self.assertScreenshots("card-balance-difference")


@tagged("post_install", "-at_install")
class TestConnectThroughTheBankPageTour(HttpCase):
    """The whole trip in Chromium: Odoo, the bank's page (GoCardless's
    emulator), Odoo again."""

    def test_connect_a_bank_through_its_page(self):
        # Registered at the company's first connection (TestConnectFromBankCardTour).
        self.env.company.sudo().account_online_phone = "+32470123456"
        emulator = GoCardlessEmulator(sample_data=False).start()
        self.addCleanup(emulator.stop)
        today = dt.datetime.now(dt.timezone.utc).date()
        emulator.add_account("GL3343697694912188", "EUR", name="Compte Principal", opening_balance="1500.00")
        emulator.add_transaction("GL3343697694912188", "-12.80", booking_date=today - dt.timedelta(days=1),
                                 creditorName="Boulangerie Crème Brûlée")
        provider = self.env.ref("account_online_synchronization.provider_gocardless")
        provider.write({"api_base_url": emulator.api_url, "client_identifier": DEFAULT_SECRET_ID,
                        "client_secret": DEFAULT_SECRET_KEY})
        provider.action_sync_institutions()

        # The user's click on the bank's page: the tour's code does not run on
        # another site's page, so the test clicks Approve through Chromium.
        clicked = threading.Event()
        browsers = []

        class WatchedBrowser(odoo_tests.ChromeBrowser):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                browsers.append(self)

        def approve_at_the_bank():
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not clicked.is_set():
                if any(r.method == "GET" and r.path.startswith("/bank/") for r in list(emulator.requests)):
                    time.sleep(0.5)  # the page is being rendered
                    browsers[-1]._websocket_request("Runtime.evaluate", params={
                        "expression": "document.querySelector('form[action$=\"/approve\"] button').click()",
                    })
                    clicked.set()
                    return
                time.sleep(0.1)

        clicker = threading.Thread(target=approve_at_the_bank, daemon=True)
        clicker.start()
        with patch.object(odoo_tests, "ChromeBrowser", WatchedBrowser):
            self.start_tour("/odoo/accounting", "account_online_synchronization_connect_gocardless", login="admin")
        clicker.join(5)
        self.assertTrue(clicked.is_set(), "the browser went to the bank's page")
        self.assertTrue(any(r.method == "POST" and r.path.endswith("/approve") for r in emulator.requests),
                        "Approve was clicked on the bank's page")
        link = self.env["account.online.link"].search([("provider_id", "=", provider.id)])
        self.assertEqual(link.state, "connected")
        journal = link.account_online_account_ids.journal_ids
        self.assertEqual(self.env["account.bank.statement.line"].search(
            [("journal_id", "=", journal.id), ("online_transaction_identifier", "!=", False)]).mapped("amount"),
            [-12.80])


@tagged("post_install", "-at_install")
class TestCardHealthTour(DemoBankTourCase):

    def test_card_shows_an_error_and_the_consent_end_then_reconnect_mends_it(self):
        def unreachable(*args, **kwargs):
            raise ProviderUnreachable("Demo Bank could not be reached.")

        with patch.object(DemoBankProvider, "get_balance", unreachable), \
                mute_logger("odoo.addons.account_online_synchronization.models.account_online_link"):
            self.link._fetch_transactions(automatic=True)
        self.link.sudo().expiring_synchronization_date = self.link._local_today() + dt.timedelta(days=2)
        self.assertEqual(self.link.state, "error")
        self.start_tour("/odoo/accounting", "account_online_synchronization_card_health", login="admin")
        self.assertScreenshots("card-error-consent-ending")
        self.assertEqual(self.link.state, "connected")
        self.assertGreater(self.link.expiring_synchronization_date, self.link._local_today() + dt.timedelta(days=80),
                           "a new consent")


@tagged("post_install", "-at_install")
class TestConnectFromBankCardTour(ScreenshotTourCase):
    """A fresh database, a Belgian company, nothing connected: the
    administrator connects the Demo Bank from the empty Bank journal's card."""

    def test_connect_into_the_empty_bank_journal_then_add_the_third_account(self):
        env = self.env(user=self.env.ref("base.user_admin"))
        env.company.country_id = env.ref("base.be")  # as set in Settings
        bank_journal = env["account.journal"].search([("company_id", "=", env.company.id), ("type", "=", "bank")])
        self.assertEqual(bank_journal.mapped("name"), ["Bank"], "a new database has one empty Bank journal")

        self.start_tour("/odoo/action-account.open_account_journal_dashboard_kanban",
                        "account_online_synchronization_connect_from_bank_card", login="admin")

        self.assertScreenshots("card-connected")
        link = env["account.online.link"].search([])
        self.assertEqual(env.company.sudo().account_online_phone, "+32470123456")
        accounts = {account.name: account for account in link.account_online_account_ids}
        self.assertEqual(accounts["Dollar Account"].journal_ids, bank_journal, "the empty Bank journal is fed")
        self.assertEqual(accounts["Current Account"].journal_ids.name, "Demo Bank Current Account")
        self.assertEqual(accounts["Deposit Account"].journal_ids.name, "Demo Bank Deposit Account")
        for account in accounts.values():
            lines = env["account.bank.statement.line"].search([("journal_id", "=", account.journal_ids.id)])
            self.assertTrue(lines)
            self.assertAlmostEqual(sum(lines.mapped("amount")), account.balance, places=2)
            self.assertFalse(account.balance_difference)


@tagged("post_install", "-at_install")
class TestReconnectFromCardTour(DemoBankTourCase):

    def test_an_ended_consent_is_told_in_a_dialog_and_mended_from_the_card(self):
        data = dict(self.link.sudo().provider_data)
        data["consent"] = dict(data["consent"], valid_until=(dt.datetime.now(dt.timezone.utc)
                                                             - dt.timedelta(hours=1)).isoformat())
        self.link.sudo().provider_data = data
        with mute_logger("odoo.addons.account_online_synchronization.models.account_online_link"):
            self.start_tour("/odoo/action-account.open_account_journal_dashboard_kanban",
                            "account_online_synchronization_reconnect_from_card", login="admin")
        self.assertScreenshots("error-dialog")
        self.assertEqual(self.link.state, "connected")
        self.assertGreater(self.link._get_consent().valid_until, dt.datetime.now(dt.timezone.utc),
                           "a new consent")

    def test_a_disconnected_bank_is_reconnected_from_its_card(self):
        # What the daily check of consents does once one has ended.
        self.link._handle_error(ConsentExpired("The consent given to the bank has expired."), automatic=True)
        self.assertEqual(self.link.state, "disconnected")
        self.start_tour("/odoo/action-account.open_account_journal_dashboard_kanban",
                        "account_online_synchronization_reconnect_card", login="admin")
        self.assertScreenshots("card-disconnected")
        self.assertEqual(self.link.state, "connected")


@tagged("post_install", "-at_install")
class TestReactivateTour(DemoBankTourCase):

    def test_a_blocked_connection_is_reactivated_by_confirming_the_phone(self):
        self.env.company.sudo().account_online_phone = "+32470123456"

        def suspended(*args, **kwargs):
            raise ConnectionSuspended("The bank suspended the access after repeated failures.")

        with patch.object(DemoBankProvider, "refresh", suspended), \
                mute_logger("odoo.addons.account_online_synchronization.models.account_online_link"):
            self.link._fetch_transactions(automatic=True)
        self.assertEqual(self.link.blocked_reason, "suspended")
        self.start_tour("/odoo/action-account.open_account_journal_dashboard_kanban",
                        "account_online_synchronization_reactivate", login="admin")
        self.assertScreenshots("card-blocked")
        self.assertFalse(self.link.blocked_reason)


# The legacy module (account_online_sync) synchronized the Demo Bank's
# Current Account from LEGACY_FROM until LEGACY_UNTIL, five days before NOW.
LEGACY_FROM = dt.date(2026, 10, 1)
LEGACY_UNTIL = dt.date(2026, 11, 20)
DEMO_IBAN = "BE68539007547034"
BRUSSELS = ZoneInfo("Europe/Brussels")


@tagged("post_install", "-at_install")
@freeze_time(NOW)
class TestReconnectLegacyConnectionTour(HttpCase, OnlineSyncCommon):
    """A connection taken over from the legacy module at install, as the
    install hook leaves it (disconnected, no bank, no aggregator, its account
    linked to the journal the legacy module fed): the administrator chooses
    the bank and reconnects it in the browser."""

    def setUp(self):
        super().setUp()
        self.company.partner_id.tz = "Europe/Brussels"
        self.env.ref("base.EUR").sudo().active = True
        self.demo_bank = self.env["account.online.institution"].search([("identifier", "=", "DEMO_BANK")])
        self.assertTrue(self.demo_bank, "the Demo Bank directory is loaded at install")

        # The Demo Bank's posted transactions of the Current Account since
        # LEGACY_FROM (dated in Brussels, as the connection dates them).
        client = self.env.ref("account_online_synchronization.provider_demo")._get_client()
        consent = Consent("outside-odoo", data={"institution": "DEMO_BANK"})
        now = client.now()
        self.bank_transactions = [
            transaction for transaction in client.get_transactions(
                consent, "DEMO_BANK-current", LEGACY_FROM - dt.timedelta(days=5), now.date() + dt.timedelta(days=1))
            if transaction.status == POSTED and transaction.booked_at <= now and self._date(transaction) >= LEGACY_FROM
        ]
        balance = client.get_balance(consent, "DEMO_BANK-current").amount
        legacy = [transaction for transaction in self.bank_transactions if self._date(transaction) <= LEGACY_UNTIL]
        self.assertLess(len(legacy), len(self.bank_transactions), "the bank booked more since the legacy module")

        # The journal the legacy module fed: an opening line, then its lines
        # in monthly statements, under the legacy service's own ids (the
        # install copies them), and the legacy account's balance.
        self.journal = self.env["account.journal"].create({
            "name": "Bank Legacy", "code": "BLEG", "type": "bank",
            "currency_id": self.env.ref("base.EUR").id, "bank_acc_number": DEMO_IBAN,
        })
        running = balance - sum((transaction.amount for transaction in self.bank_transactions), Decimal(0))
        Statement = self.env["account.bank.statement"]
        self.opening = Statement.create({
            "name": "Opening balance", "journal_id": self.journal.id, "balance_start": 0.0,
            "balance_end_real": float(running),
            "line_ids": [Command.create({
                "journal_id": self.journal.id, "date": LEGACY_FROM - dt.timedelta(days=1),
                "payment_ref": "Opening balance", "amount": float(running),
            })],
        }).line_ids
        # The legacy id of each line -> the Demo Bank's identifier of the transaction.
        legacy_ids = {}
        by_month = {}
        for index, transaction in enumerate(legacy):
            legacy_ids[f"yodlee-{index}"] = transaction.identifier
            date = self._date(transaction)
            by_month.setdefault(date.replace(day=1), []).append({
                "journal_id": self.journal.id, "date": date, "amount": float(transaction.amount),
                "payment_ref": transaction.label, "partner_name": transaction.partner_name,
                "online_transaction_identifier": f"yodlee-{index}",
            })
        for month, vals_list in sorted(by_month.items()):
            start = running
            running += sum((transaction.amount for transaction in legacy if self._date(transaction).replace(day=1)
                            == month), Decimal(0))
            Statement.create({
                "name": f"BLEG/{month:%Y-%m}", "journal_id": self.journal.id,
                "balance_start": float(start), "balance_end_real": float(running),
                "line_ids": [Command.create(vals) for vals in vals_list],
            })
        self.legacy_lines = self._lines(self.journal) - self.opening
        # Each legacy line -> (its legacy id, the Demo Bank's identifier of its transaction).
        self.stands_for = {line: (line.online_transaction_identifier, legacy_ids[line.online_transaction_identifier])
                           for line in self.legacy_lines}

        # What the install hook makes of the legacy login and its account.
        self.link = _legacy_login_to_link(self.env(su=True), {
            "id": 1, "name": "Demo Bank", "provider_type": "yodlee", "last_refresh": dt.datetime(2026, 11, 20, 6, 0),
            "company_id": self.company.id, "user_id": self.admin.id,
        }, [{
            "id": 1, "name": "Current Account", "account_number": DEMO_IBAN, "online_identifier": "y-acc-1",
            "balance": float(running), "last_sync": LEGACY_UNTIL, "journal_id": self.journal.id,
        }]).sudo(False)
        self.env.invalidate_all()
        self.online_account = self.link.account_online_account_ids
        self.assertRecordValues(self.link, [{
            "name": "Demo Bank (previous synchronization)", "state": "disconnected", "auto_sync": False,
            "institution_id": False, "provider_id": False, "timezone": "Europe/Brussels",
        }])
        self.assertRecordValues(self.online_account, [{
            "name": "Current Account", "account_number": DEMO_IBAN, "currency_id": self.env.ref("base.EUR").id,
            "last_sync": LEGACY_UNTIL, "balance": float(running),
        }])
        self.assertEqual(self.journal.account_online_account_id, self.online_account)
        self.assertAlmostEqual(self._journal_balance(self.journal), float(running), places=2)

    @staticmethod
    def _date(transaction):
        return transaction.booked_at.astimezone(BRUSSELS).date()

    def test_choose_the_bank_and_reconnect(self):
        self.start_tour("/odoo/accounting", "account_online_synchronization_reconnect_legacy", login="admin")

        self.env.invalidate_all()
        link, account = self.link, self.online_account
        self.assertEqual(link.state, "connected")
        self.assertEqual(link.institution_id, self.demo_bank)
        self.assertEqual(link.provider_id, self.demo_bank.provider_id)
        self.assertFalse(link.account_choice_pending)
        accounts = {online_account.name: online_account for online_account in link.account_online_account_ids}
        self.assertEqual(accounts["Current Account"], account, "the account taken over is found again by its number")
        self.assertEqual(account.online_identifier, "DEMO_BANK-current")
        self.assertEqual(account.journal_ids, self.journal)
        self.assertEqual(self.journal.account_online_account_id, account)
        self.assertEqual(account.last_sync, dt.date(2026, 11, 25))
        self.assertFalse(accounts["Dollar Account"].journal_ids, "left out in the account choice")
        self.assertTrue(accounts["Deposit Account"].journal_ids, "ticked in the account choice")

        lines = self._lines(self.journal)
        self.assertLessEqual(self.opening | self.legacy_lines, lines, "the legacy module's lines are kept")
        new = lines - self.opening - self.legacy_lines
        self.assertTrue(new, "what the bank booked since the legacy module is imported")
        self.assertEqual(new.online_account_id, account)
        # A legacy line stands for the transaction of its legacy id: those the
        # first synchronization recognized by date and amount now carry the
        # bank's identifier, the next ones know them by it.
        standing_for = Counter(new.mapped("online_transaction_identifier"))
        for line, (legacy_id, identifier) in self.stands_for.items():
            self.assertIn(line.online_transaction_identifier, (legacy_id, identifier))
            standing_for[identifier] += 1
        self.assertTrue(self.legacy_lines.filtered(lambda line: line.online_transaction_identifier.startswith("BOOK-")),
                        "the legacy lines of the days fetched again are recognized")
        self.assertEqual(
            standing_for, Counter(transaction.identifier for transaction in self.bank_transactions),
            "every posted transaction of the bank is in the journal once",
        )
        self.assertBooksMatchBank(self.journal)
