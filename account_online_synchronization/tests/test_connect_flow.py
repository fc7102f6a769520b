# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Connecting real aggregators, through their emulators on 127.0.0.1: the
administrator goes to the bank's page in the same tab, comes back to Odoo's
callback route, and finds the connection with its journals synchronized."""
import datetime as dt
from decimal import Decimal
from urllib.parse import urlsplit

import requests

from odoo.exceptions import UserError
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from .common import LOGGER, REQUESTED_CRON_XMLID, load_emulators, run_scheduled_action

load_emulators()
from emulators.base import Fault  # noqa: E402
from emulators.enablebanking import EnableBankingEmulator, make_test_key  # noqa: E402
from emulators.plaid import DEFAULT_CLIENT_ID, DEFAULT_SECRET, PlaidEmulator  # noqa: E402
from emulators.simplefin import SimpleFINEmulator  # noqa: E402
from emulators.gocardless import (  # noqa: E402
    DEFAULT_SECRET_ID,
    DEFAULT_SECRET_KEY,
    SANDBOX_INSTITUTION_ID,
    GoCardlessEmulator,
)

CALLBACK = "/account_online_synchronization/callback"
MAIN_IBAN = "GL3343697694912188"
SAVINGS_IBAN = "GL0865354374424724"
EB_APPLICATION = "3f1c0c7e-0000-4000-8000-00000000e4b1"


class ConnectFlowCase(HttpCase):
    """The administrator of a fresh database, in the browser's place."""

    def setUp(self):
        super().setUp()
        self.admin = self.env.ref("base.user_admin")
        self.env = self.env(user=self.admin)
        # Registered at the company's first connection (tests/test_blocking.py).
        self.env.company.sudo().account_online_phone = "+32470123456"
        self.authenticate("admin", "admin")
        self.today = dt.datetime.now(dt.timezone.utc).date()

    def _start(self, institution):
        """Add a Bank Account: returns the connection and the bank's page."""
        wizard = self.env["account.online.connect.wizard"].create({
            "provider_id": institution.provider_id.id, "institution_id": institution.id,
        })
        action = wizard.action_connect()
        self.assertEqual((action["type"], action["target"]), ("ir.actions.act_url", "self"),
                         "the bank's page opens in the same tab, not in a pop-up")
        link = self.env["account.online.link"].search([("institution_id", "=", institution.id)],
                                                       order="id desc", limit=1)
        return link, action["url"]

    def _come_back(self, location, follow=False):
        """The browser follows the bank's redirect to Odoo's callback."""
        parts = urlsplit(location)
        self.assertEqual(parts.path, CALLBACK)
        response = self.url_open(f"{parts.path}?{parts.query}", allow_redirects=follow)
        self.env.invalidate_all()
        self._choose_accounts()
        return response

    def _choose_accounts(self):
        """Back on the connection, the user synchronizes the accounts offered
        (each into the journal offered)."""
        for link in self.env["account.online.link"].search([("account_choice_pending", "=", True)]):
            action = link.with_context(online_sync_choose_accounts=True).action_choose_accounts()
            choice = self.env[action["res_model"]].with_context(action["context"]).create({})
            result = choice.action_synchronize()
            self.env.invalidate_all()
            return result
        return None

    def _lines(self, journal):
        return self.env["account.bank.statement.line"].search([("journal_id", "=", journal.id)])

    def assertBooksMatchBank(self, journal, bank_balance):
        account = journal.account_online_account_id
        self.assertAlmostEqual(sum(self._lines(journal).mapped("amount")), float(bank_balance), places=2)
        self.assertAlmostEqual(account.balance, float(bank_balance), places=2)
        self.assertFalse(account.balance_difference)
        for statement in self.env["account.bank.statement"].search([("journal_id", "=", journal.id)]):
            self.assertTrue(statement.is_complete and statement.is_valid, statement.name)

    def assertRefusedPage(self, response, text):
        self.assertEqual(response.status_code, 400)
        self.assertIn("Bank connection not completed", response.text)
        self.assertIn(text, response.text)


@tagged("post_install", "-at_install")
class TestGoCardlessConnection(ConnectFlowCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.emulator = GoCardlessEmulator(sample_data=False).start()
        cls.addClassCleanup(cls.emulator.stop)

    def setUp(self):
        super().setUp()
        self.emulator.requests.clear()
        self.emulator.bank.customer_accounts.clear()
        today = self.today
        self.emulator.add_account(MAIN_IBAN, "EUR", name="Compte Principal", opening_balance="1500.00")
        self.emulator.add_account(SAVINGS_IBAN, "EUR", name="Épargne", opening_balance="8000.00")
        self.emulator.add_transaction(MAIN_IBAN, "-12.80", booking_date=today - dt.timedelta(days=3),
                                      creditorName="Boulangerie Crème Brûlée")
        self.emulator.add_transaction(MAIN_IBAN, "1250.00", booking_date=today - dt.timedelta(days=2),
                                      debtorName="Müller & Söhne GmbH",
                                      remittanceInformationUnstructured="Invoice 2026/0042")
        self.pending = self.emulator.add_transaction(MAIN_IBAN, "-9.99", pending=True, transaction_id=None,
                                                     creditorName="Café Łódź")
        self.provider = self.env.ref("account_online_synchronization.provider_gocardless")
        # What the administrator fills in on the aggregator (Settings administrators only).
        self.provider.write({
            "api_base_url": self.emulator.api_url,
            "client_identifier": DEFAULT_SECRET_ID,
            "client_secret": DEFAULT_SECRET_KEY,
        })
        self.provider.action_sync_institutions()
        self.institution = self.env["account.online.institution"].search([
            ("provider_id", "=", self.provider.id), ("identifier", "=", SANDBOX_INSTITUTION_ID),
        ])
        self.assertTrue(self.institution, "the bank list comes from the aggregator")

    def _connect(self):
        link, bank_page = self._start(self.institution)
        page = requests.get(bank_page, timeout=10)
        self.assertIn("Approve", page.text)
        answer = requests.post(bank_page.rstrip("/") + "/approve", allow_redirects=False, timeout=10)
        return link, answer.headers["Location"]

    def _main_journal(self, link):
        return link.account_online_account_ids.filtered(lambda a: a.account_number == MAIN_IBAN).journal_ids

    def test_connect_sync_again_fail_and_recover(self):
        link, back = self._connect()
        self.assertEqual(link.state, "disconnected", "nothing is connected before the user comes back")
        response = self._come_back(back)
        self.assertEqual(response.status_code, 303)
        self.assertTrue(response.headers["Location"].endswith(
            f"/odoo/action-account_online_synchronization.action_account_online_link/{link.id}"),
            "the user lands on the connection")
        self.assertEqual(link.state, "connected")
        self.assertEqual(sorted(link.account_online_account_ids.mapped("name")), ["Compte Principal", "Épargne"])
        self.assertTrue(link.expiring_synchronization_date, "the consent's end is known")
        journal = self._main_journal(link)
        lines = self._lines(journal)
        self.assertEqual(
            sorted((line.payment_ref, line.amount) for line in lines if line.online_transaction_identifier),
            [("Boulangerie Crème Brûlée", -12.80), ("Invoice 2026/0042", 1250.00)],
            "posted transactions only: the pending one waits",
        )
        self.assertBooksMatchBank(journal, "2737.20")

        # The card payment posts; a new transaction arrives.
        self.emulator.settle(MAIN_IBAN, self.pending, booking_date=self.today)
        self.emulator.add_transaction(MAIN_IBAN, "-45.00", booking_date=self.today, creditorName="Telefónica Møbil")
        link.action_fetch_transactions()
        self.assertEqual(len(self._lines(journal)), len(lines) + 2)
        self.assertBooksMatchBank(journal, "2682.21")

        # The aggregator fails: nothing half-imported, the error is told, the next sync catches up.
        self.emulator.add_transaction(MAIN_IBAN, "100.00", booking_date=self.today, debtorName="Ærø ApS")
        self.emulator.fail_next(Fault(status=500, body={"summary": "Service error", "status_code": 500}), times=10)
        with mute_logger(LOGGER), self.assertRaisesRegex(UserError, "(?s)must let Odoo connect to 127.0.0.1.*Reference"):
            link.action_fetch_transactions()
        self.env.invalidate_all()
        self.assertEqual(link.state, "error")
        self.assertEqual(len(self._lines(journal)), len(lines) + 2)
        self.emulator._faults.clear()
        link.action_fetch_transactions()
        self.assertEqual(link.state, "connected")
        self.assertBooksMatchBank(journal, "2782.21")

    def test_reconnect_finds_accounts_under_new_ids_and_imports_nothing_twice(self):
        link, back = self._connect()
        self._come_back(back)
        journal = self._main_journal(link)
        account = journal.account_online_account_id
        first_id, count = account.online_identifier, len(self._lines(journal))

        action = link.action_reconnect()
        answer = requests.post(action["url"].rstrip("/") + "/approve", allow_redirects=False, timeout=10)
        self._come_back(answer.headers["Location"])
        self.assertNotEqual(account.online_identifier, first_id, "GoCardless gives new account ids per consent")
        self.assertEqual(len(link.account_online_account_ids), 2, "the same two accounts, found by IBAN")
        self.assertEqual(self._main_journal(link), journal)
        self.assertEqual(len(self._lines(journal)), count, "nothing imported twice")
        self.assertBooksMatchBank(journal, "2737.20")

    def test_a_return_that_is_not_the_users_own_request_changes_nothing(self):
        link, back = self._connect()
        query = urlsplit(back).query

        forged = self.url_open(f"{CALLBACK}?state=forged-{'x' * 40}&ref=whatever")
        self.assertRefusedPage(forged, "unknown")
        missing = self.url_open(CALLBACK)
        self.assertRefusedPage(missing, "carries no connection request")

        # Another accountant of the company opens the link.
        accountant = self.env["res.users"].create({
            "name": "Other Accountant", "login": "other_accountant", "password": "other_accountant",
            "group_ids": [(6, 0, [self.env.ref("account.group_account_manager").id,
                                   self.env.ref("base.group_user").id])],
        })
        self.authenticate(accountant.login, accountant.login)
        foreign = self.url_open(f"{CALLBACK}?{query}")
        self.assertRefusedPage(foreign, "started by another user")
        self.env.invalidate_all()
        self.assertEqual(link.state, "disconnected")
        self.assertFalse(link.account_online_account_ids)

        # The one who started it still can, once.
        self.authenticate("admin", "admin")
        self.assertEqual(self._come_back(back).status_code, 303)
        self.assertEqual(link.state, "connected")
        count = len(self.env["account.bank.statement.line"].search([]))
        replayed = self._come_back(back)
        self.assertRefusedPage(replayed, "already used")
        self.assertEqual(len(self.env["account.bank.statement.line"].search([])), count)

    def test_an_expired_request_changes_nothing(self):
        link, back = self._connect()
        request = self.env["account.online.consent.request"].sudo().search([("link_id", "=", link.id)])
        request.expires_at = dt.datetime.now() - dt.timedelta(minutes=1)
        self.assertRefusedPage(self._come_back(back), "expired")
        self.assertEqual(link.state, "disconnected")
        self.assertFalse(link.account_online_account_ids)

    def test_consent_refused_at_the_bank_is_told(self):
        link, bank_page = self._start(self.institution)
        answer = requests.post(bank_page.rstrip("/") + "/reject", allow_redirects=False, timeout=10)
        with mute_logger(LOGGER):
            response = self._come_back(answer.headers["Location"])
        self.assertEqual(response.status_code, 200)
        self.assertIn("Bank connection not completed", response.text)
        self.assertIn("Reference", response.text)
        self.assertEqual(link.state, "disconnected")
        self.assertFalse(link.account_online_account_ids)
        self.assertTrue(link.last_error_reference)


@tagged("post_install", "-at_install")
class TestEnableBankingConnection(ConnectFlowCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.private_key, public_key = make_test_key()
        cls.emulator = EnableBankingEmulator(EB_APPLICATION, public_key).start()
        cls.addClassCleanup(cls.emulator.stop)

    def setUp(self):
        super().setUp()
        self.emulator.accounts.clear()
        self.account = self.emulator.add_account("Yritystili", "EUR", iban="FI2112345600000785",
                                                 opening_balance="500.00")
        self.emulator.add_transaction(self.account, "120.50", "CRDT", booking_date=self.today - dt.timedelta(days=4),
                                      debtor_name="Ålandsbanken Oy", remittance=["Lasku 17"])
        self.emulator.add_transaction(self.account, "20.00", "DBIT", booking_date=self.today - dt.timedelta(days=1),
                                      creditor_name="Kahvila Äijä")
        self.provider = self.env.ref("account_online_synchronization.provider_enablebanking")
        self.provider.write({
            "api_base_url": self.emulator.url,
            "client_identifier": EB_APPLICATION,
            "private_key": self.private_key,
        })
        self.provider.action_sync_institutions()
        self.institution = self.env["account.online.institution"].search([
            ("provider_id", "=", self.provider.id), ("name", "=", "Nordea"),
        ])
        self.assertTrue(self.institution)

    def _approve(self, bank_page):
        response = requests.post(bank_page, data={"decision": "approve"}, allow_redirects=False, timeout=10)
        return response.headers["Location"]

    def test_connect_sync_again_and_reconnect(self):
        link, bank_page = self._start(self.institution)
        self.assertEqual(self._come_back(self._approve(bank_page)).status_code, 303)
        self.assertEqual(link.state, "connected")
        self.assertTrue(link.expiring_synchronization_date)
        journal = link.account_online_account_ids.journal_ids
        self.assertEqual(sorted(self._lines(journal).filtered("online_transaction_identifier").mapped("amount")),
                         [-20.00, 120.50], "unsigned amounts signed by their indicator")
        self.assertBooksMatchBank(journal, Decimal("600.50"))

        self.emulator.add_transaction(self.account, "3.20", "DBIT", booking_date=self.today, creditor_name="Ärrä")
        # The bank is down for a while: nothing imported, the error told; then the sync catches up.
        self.emulator.fail_next(Fault(status=503, body={"message": "Service unavailable", "code": 503,
                                                        "error": "ASPSP_ERROR", "detail": None}), times=10)
        with mute_logger(LOGGER), self.assertRaisesRegex(UserError, "Reference"):
            link.action_fetch_transactions()
        self.env.invalidate_all()
        self.assertEqual(link.state, "error")
        self.assertBooksMatchBank(journal, Decimal("600.50"))
        self.emulator._faults.clear()
        link.action_fetch_transactions()
        self.assertEqual(link.state, "connected")
        self.assertBooksMatchBank(journal, Decimal("597.30"))

        # A new session: new uids, the same account by its identification hash.
        action = link.action_reconnect()
        count = len(self._lines(journal))
        self._come_back(self._approve(action["url"]))
        self.assertEqual(len(link.account_online_account_ids), 1)
        self.assertEqual(link.account_online_account_ids.journal_ids, journal)
        self.assertEqual(len(self._lines(journal)), count, "nothing imported twice")
        self.assertBooksMatchBank(journal, Decimal("597.30"))


@tagged("post_install", "-at_install")
class TestSimpleFINConnection(ConnectFlowCase):
    """No bank page: the user pastes the setup token made at the bridge."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.emulator = SimpleFINEmulator().start()
        cls.addClassCleanup(cls.emulator.stop)

    def setUp(self):
        super().setUp()
        self.emulator.accounts.clear()
        self.checking = self.emulator.add_account("Checking ••1234", "USD", org="Crédit Union of Zoë",
                                                  opening_balance="300.00")
        noon = dt.datetime.combine(self.today, dt.time(12), tzinfo=dt.timezone.utc)
        self.emulator.add_transaction(self.checking, "-42.10", posted=noon - dt.timedelta(days=2), payee="Café Łódź")
        self.emulator.add_transaction(self.checking, "1000.00", posted=noon - dt.timedelta(days=1),
                                      description="Payroll")
        self.emulator.add_transaction(self.checking, "-5.00", pending=True, posted=0, payee="Pending Store")
        self.provider = self.env.ref("account_online_synchronization.provider_simplefin")
        self.institution = self.provider.institution_ids
        self.assertEqual(self.institution.name, "SimpleFIN Bridge", "its one entry is there from the install")

    def _connect_with(self, token):
        wizard = self.env["account.online.connect.wizard"].create({
            "provider_id": self.provider.id, "institution_id": self.institution.id, "setup_token": token,
        })
        self.assertEqual(wizard.setup_token_label, "SimpleFIN Setup Token")
        action = wizard.action_connect()
        if action.get("res_model") == "account.online.account.choice":
            # The user synchronizes the accounts offered.
            action = self.env[action["res_model"]].with_context(action["context"]).create({}).action_synchronize()
            self.env.invalidate_all()
        return action

    def test_connect_with_a_setup_token_once(self):
        token = self.emulator.issue_setup_token()
        action = self._connect_with(f"  {token}\n")
        # Then on the new connection.
        link = self.env["account.online.link"].browse(action["params"]["next"]["res_id"])
        self.assertEqual(link.state, "connected")
        journal = link.account_online_account_ids.journal_ids
        self.assertEqual(sorted(self._lines(journal).filtered("online_transaction_identifier").mapped("amount")),
                         [-42.10, 1000.00])
        self.assertBooksMatchBank(journal, "1257.90")

        # The same token again: refused, nothing more created.
        links = self.env["account.online.link"].search_count([])
        with mute_logger(LOGGER), self.assertRaisesRegex(Exception, "already claimed"):
            self._connect_with(token)
        self.env.invalidate_all()
        self.assertEqual(self.env["account.online.link"].search_count([]), links + 1,
                         "the failed attempt's connection stays disconnected, with its error")
        self.assertEqual(link.account_online_account_ids.journal_ids, journal)

        # Access revoked at the bridge: the connection says to connect again.
        self.emulator.revoke(link.sudo().provider_data["consent"]["data"]["access_url"])
        with mute_logger(LOGGER), self.assertRaisesRegex(UserError, "new setup token"):
            link.action_fetch_transactions()
        self.env.invalidate_all()
        self.assertEqual(link.state, "disconnected")
        self.assertBooksMatchBank(journal, "1257.90")
        reconnect = link.action_reconnect()
        self.assertEqual((reconnect["res_model"], reconnect["context"]["default_link_id"]),
                         ("account.online.connect.wizard", link.id), "Reconnect asks for a new setup token")

        # A new setup token on the same connection: the same account, the new transaction only.
        self.emulator.add_transaction(self.checking, "-7.25", posted=dt.datetime.combine(
            self.today, dt.time(15), tzinfo=dt.timezone.utc), payee="Hardware Store")
        wizard = self.env["account.online.connect.wizard"].with_context(reconnect["context"]).create({
            "setup_token": self.emulator.issue_setup_token(),
        })
        wizard.action_connect()
        self.assertEqual(link.state, "connected")
        self.assertEqual(link.account_online_account_ids.journal_ids, journal)
        self.assertBooksMatchBank(journal, "1250.65")


@tagged("post_install", "-at_install")
class TestPlaidConnection(ConnectFlowCase):
    """Hosted Link, changes since a cursor, corrections of transactions
    already imported, signed webhooks, update mode."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.emulator = PlaidEmulator(sample_data=False).start()
        cls.addClassCleanup(cls.emulator.stop)

    def setUp(self):
        super().setUp()
        self.checking = self.emulator.add_account("Plaid Checking", mask="0000", current="500.00")
        self.coffee = self.emulator.add_transaction(self.checking, "4.50", date=self.today - dt.timedelta(days=3),
                                                    name="Café Ñandú", merchant_name="Café Ñandú")
        self.rent = self.emulator.add_transaction(self.checking, "1200.00", date=self.today - dt.timedelta(days=2),
                                                  name="Rent")
        self.payroll = self.emulator.add_transaction(self.checking, "-2500.00", date=self.today - dt.timedelta(days=1),
                                                     name="Payroll")
        self.card = self.emulator.add_transaction(self.checking, "20.00", date=self.today, pending=True,
                                                  name="Pending card")
        self.provider = self.env.ref("account_online_synchronization.provider_plaid")
        self.provider.write({
            "api_base_url": self.emulator.api_url, "environment": "sandbox",
            "client_identifier": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_SECRET,
        })
        self.provider.action_sync_institutions()
        self.institution = self.env["account.online.institution"].search([
            ("provider_id", "=", self.provider.id), ("identifier", "=", "ins_109508"),
        ])
        self.assertTrue(self.institution)

    def _through_hosted_link(self, url):
        page = requests.get(url, timeout=10)
        self.assertIn("user_good", page.text)
        answer = requests.post(url, data={"username": "user_good", "password": "pass_good", "action": "continue"},
                               allow_redirects=False, timeout=10)
        self.assertEqual(answer.status_code, 302)
        return answer.headers["Location"]

    def _connect(self):
        link, url = self._start(self.institution)
        self.assertEqual(self._come_back(self._through_hosted_link(url)).status_code, 303)
        self.assertEqual(link.state, "connected")
        return link, link.account_online_account_ids.journal_ids

    def _webhook(self, link, code="SYNC_UPDATES_AVAILABLE", webhook_type="TRANSACTIONS", headers=None, body=None):
        signed_headers, signed_body = self.emulator.signed_webhook(link.consent_identifier, webhook_type, code)
        return self.url_open(
            f"/account_online_synchronization/webhook/{self.provider.id}",
            data=signed_body if body is None else body,
            headers=signed_headers if headers is None else headers,
        )

    def test_cursor_corrections_webhooks_and_update_mode(self):
        link, journal = self._connect()
        self.assertEqual(
            sorted(self._lines(journal).filtered("online_transaction_identifier").mapped("amount")),
            [-1200.00, -4.50, 2500.00], "Plaid's positive amounts are money out",
        )
        self.assertBooksMatchBank(journal, "500.00")
        cursor = journal.account_online_account_id.sync_cursor
        self.assertTrue(cursor, "the next sync resumes from where this one ended")

        # The bank corrects the rent (not reconciled: the line follows), withdraws the coffee,
        # posts the card payment under a new id, and tells Odoo by a signed webhook.
        rent_line = self._lines(journal).filtered(lambda line: line.online_transaction_identifier
                                                  == self.rent["transaction_id"])
        self.emulator.modify_transaction(self.rent["transaction_id"], amount="1150.00")
        self.emulator.remove_transaction(self.coffee["transaction_id"])
        self.emulator.post_pending(self.card["transaction_id"], date=self.today)
        self.emulator.set_balance(self.checking, current="534.50")
        link.action_fetch_transactions()
        self.assertEqual(rent_line.amount, -1150.00)
        self.assertFalse(self._lines(journal).filtered(
            lambda line: line.online_transaction_identifier == self.coffee["transaction_id"]))
        self.assertIn(-20.00, self._lines(journal).mapped("amount"))
        self.assertTrue(any("removed: the bank withdrew it" in body for body in
                            link.journal_ids.sudo().message_ids.mapped("body")))
        self.assertBooksMatchBank(journal, "534.50")
        self.assertNotEqual(journal.account_online_account_id.sync_cursor, cursor)

        # A webhook: refused unsigned or tampered, accepted signed; the cron then fetches.
        new = self.emulator.add_transaction(self.checking, "4.00", date=self.today, name="Bagel")
        self.emulator.set_balance(self.checking, current="530.50")
        self.assertEqual(self._webhook(link, headers={"Content-Type": "application/json"}).status_code, 400)
        self.assertEqual(self._webhook(link, body=b'{"webhook_type": "TRANSACTIONS"}').status_code, 400)
        self.env.invalidate_all()
        self.assertFalse(link.sync_requested)
        self.assertEqual(self._webhook(link).status_code, 200)
        self.env.invalidate_all()
        self.assertTrue(link.sync_requested)
        run_scheduled_action(self, REQUESTED_CRON_XMLID)
        self.env.invalidate_all()
        self.assertFalse(link.sync_requested)
        self.assertTrue(self._lines(journal).filtered(
            lambda line: line.online_transaction_identifier == new["transaction_id"]))
        self.assertBooksMatchBank(journal, "530.50")

        # Reconciled lines are the accountant's: a correction is told, not applied.
        payroll_line = self._lines(journal).filtered(
            lambda line: line.online_transaction_identifier == self.payroll["transaction_id"])
        payroll_line.sudo().move_id.line_ids.filtered(
            lambda line: line.account_id == journal.suspense_account_id
        ).account_id = self.env["account.account"].search([("account_type", "=", "income")], limit=1)
        self.env.invalidate_all()
        self.assertTrue(payroll_line.is_reconciled)
        self.emulator.modify_transaction(self.payroll["transaction_id"], amount="-2400.00")
        self.emulator.set_balance(self.checking, current="430.50")
        with mute_logger(LOGGER):
            link.action_fetch_transactions()
        self.assertEqual(payroll_line.amount, 2500.00)
        self.assertTrue(any("is reconciled and was left as it is" in body
                            for body in journal.sudo().message_ids.mapped("body")))

        # The bank wants the user to log in again: Update Credentials renews the same Item.
        self.emulator.require_login(link.consent_identifier)
        item = link.consent_identifier
        with mute_logger(LOGGER), self.assertRaisesRegex(UserError, "Update Credentials"):
            link.action_fetch_transactions()
        self.env.invalidate_all()
        self.assertEqual(link.state, "disconnected")
        action = link.action_update_credentials()
        self._come_back(self._through_hosted_link(action["url"]))
        self.assertEqual((link.state, link.consent_identifier), ("connected", item), "the same Item, renewed")

    def test_webhook_login_required_and_unknown_aggregator(self):
        link, _journal = self._connect()
        headers, body = self.emulator.signed_webhook(
            link.consent_identifier, "ITEM", "ERROR",
            error={"error_type": "ITEM_ERROR", "error_code": "ITEM_LOGIN_REQUIRED",
                   "error_message": "the login details of this item have changed"},
        )
        with mute_logger(LOGGER):
            response = self.url_open(f"/account_online_synchronization/webhook/{self.provider.id}",
                                     data=body, headers=headers)
        self.assertEqual(response.status_code, 200)
        self.env.invalidate_all()
        self.assertEqual(link.state, "disconnected")
        self.assertTrue(any("Update Credentials" in message for message in link.sudo().message_ids.mapped("body")))
        demo = self.env.ref("account_online_synchronization.provider_demo")
        self.assertEqual(self.url_open(f"/account_online_synchronization/webhook/{demo.id}",
                                       data=body, headers=headers).status_code, 404,
                         "an aggregator without notifications has no webhook")
