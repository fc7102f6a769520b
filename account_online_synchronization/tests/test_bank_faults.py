# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Faults on the bank's side, each played by an aggregator's emulator on
127.0.0.1 as its published API answers them: an account closed at the bank,
a consent revoked at the bank, pages of transactions served twice and out
of date order. After each: every transaction the bank has is in the journal
once, the journal's balance is the bank's, the connection says what happened
and what to do, and the next normal synchronization catches up."""
import datetime as dt
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import requests
from freezegun import freeze_time

from odoo.tests import tagged
from odoo.tools import mute_logger

from ..models.account_online_link import BankSyncError
from .common import LOGGER, NOW, OnlineSyncCommon, load_emulators, run_scheduled_action

load_emulators()
from emulators.enablebanking import EnableBankingEmulator, make_test_key  # noqa: E402
from emulators.gocardless import (  # noqa: E402
    DEFAULT_SECRET_ID,
    DEFAULT_SECRET_KEY,
    SANDBOX_INSTITUTION_ID,
    GoCardlessEmulator,
)

TODAY = dt.date(2026, 11, 25)
MAIN_IBAN = "GL3343697694912188"
SAVINGS_IBAN = "GL0865354374424724"
EB_APPLICATION = "3f1c0c7e-0000-4000-8000-00000000e4b1"


def day(offset):
    return TODAY + dt.timedelta(days=offset)


def at(offset, hour=10):
    """A moment of the test, ``offset`` days after the first one."""
    return f"{day(offset)} {hour:02d}:00:00"


@tagged("post_install", "-at_install")
@freeze_time(NOW)
class BankFaultsCase(OnlineSyncCommon):
    """The administrator connects an aggregator's bank; its emulator is the bank."""

    def _come_back(self, location):
        """The user is back from the bank: what Odoo's callback route does
        with the request the bank sends back (scripts link every account)."""
        params = dict(parse_qsl(urlsplit(location).query))
        request, refusal = self.env["account.online.consent.request"]._find_for_return(params.get("state"))
        self.assertFalse(refusal)
        request.link_id.with_user(self.env.user)._complete_consent_request(request, params)
        self.env.invalidate_all()

    def _bank_lines(self, journal):
        return self._lines(journal).filtered("online_transaction_identifier")

    def assertJournalIsTheBank(self, journal, identifiers, balance):
        """Each transaction the bank has (``identifiers``), once, none other,
        and the bank's ``balance``."""
        self.assertEqual(sorted(self._bank_lines(journal).mapped("online_transaction_identifier")),
                         sorted(identifiers), f"{journal.name}: every transaction of the bank, each once")
        self.assertAlmostEqual(self._journal_balance(journal), float(balance), places=2)
        self.assertBooksMatchBank(journal)

    def _chatter_of(self, record, text):
        return [body for body in self._messages(record) if text in body]


class TestGoCardlessFaults(BankFaultsCase):

    def setUp(self):
        super().setUp()
        self.bank = GoCardlessEmulator(sample_data=False).start()
        self.addCleanup(self.bank.stop)
        self.bank.add_account(MAIN_IBAN, "EUR", name="Compte Principal", opening_balance="1500.00")
        self.bank.add_account(SAVINGS_IBAN, "EUR", name="Épargne", opening_balance="8000.00")
        self.bank.add_transaction(MAIN_IBAN, "-12.80", booking_date=day(-3), creditorName="Boulangerie")
        self.bank.add_transaction(MAIN_IBAN, "1250.00", booking_date=day(-2), debtorName="Müller & Söhne GmbH")
        self.bank.add_transaction(SAVINGS_IBAN, "20.00", booking_date=day(-10),
                                  remittanceInformationUnstructured="Interest")
        provider = self.env.ref("account_online_synchronization.provider_gocardless")
        provider.write({"api_base_url": self.bank.api_url, "client_identifier": DEFAULT_SECRET_ID,
                        "client_secret": DEFAULT_SECRET_KEY})
        provider.action_sync_institutions()
        self.institution = self.env["account.online.institution"].search([
            ("provider_id", "=", provider.id), ("identifier", "=", SANDBOX_INSTITUTION_ID)])

    def _approve(self, action):
        answer = requests.post(action["url"].rstrip("/") + "/approve", allow_redirects=False, timeout=10)
        self._come_back(answer.headers["Location"])

    def _connect_bank(self):
        link = self.env["account.online.link"].create({"institution_id": self.institution.id,
                                                       "timezone": "Europe/Brussels"})
        self._approve(link.action_connect())
        self.assertEqual(link.state, "connected")
        return link, {account.account_number: account.journal_ids for account in link.account_online_account_ids}

    def _at_bank(self, iban):
        """The bank's own books of an account: its transactions' ids and its booked balance."""
        customer = self.bank.bank.customer_accounts[iban]
        return ([t["transactionId"] for t in customer.booked],
                customer.opening_balance + sum(Decimal(t["transactionAmount"]["amount"]) for t in customer.booked))

    def test_account_closed_at_the_bank_leaves_the_others_synchronized(self):
        link, journals = self._connect_bank()
        main, savings = journals[MAIN_IBAN], journals[SAVINGS_IBAN]
        self.assertJournalIsTheBank(main, *self._at_bank(MAIN_IBAN))
        savings_at_closing = self._at_bank(SAVINGS_IBAN)
        self.assertJournalIsTheBank(savings, *savings_at_closing)

        # The bank closes the savings account: GoCardless answers AccountInactiveError for it.
        with freeze_time(at(1)), mute_logger(LOGGER):
            self.bank.add_transaction(MAIN_IBAN, "-45.00", booking_date=day(1), creditorName="Telefónica Møbil")
            self.bank.close_account(SAVINGS_IBAN)
            action = link.action_fetch_transactions()
        self.assertEqual(action["params"]["type"], "warning")
        self.assertIn("Compte Principal: 1, Épargne: unavailable at the bank", action["params"]["message"])
        self.assertEqual(link.state, "connected", "the consent and the other account are fine")
        self.assertFalse(link.last_error_reference)
        self.assertJournalIsTheBank(main, *self._at_bank(MAIN_IBAN))
        self.assertJournalIsTheBank(savings, *savings_at_closing)
        savings_account = savings.account_online_account_id
        self.assertEqual(savings_account.unavailable_since, day(1))
        self.assertFalse(main.account_online_account_id.unavailable_since)
        told = self._chatter_of(link, "no longer gives access to Épargne")
        self.assertEqual(len(told), 1)
        for words in ("closed, deactivated or no longer shared", "keeps its transactions up to 11/25/2026",
                      "other accounts of the connection are synchronized", "click Reconnect",
                      "Account has been deactivated or it no longer exists"):
            self.assertIn(words, told[0])
        self.assertEqual(len(self._chatter_of(savings, "no longer gives access to Épargne")), 1)
        self.assertFalse(self._chatter_of(main, "no longer gives access"))

        # Still closed the next day: told once, not at every synchronization.
        with freeze_time(at(2)), mute_logger(LOGGER):
            self.bank.add_transaction(SAVINGS_IBAN, "12.50", booking_date=day(2),
                                      remittanceInformationUnstructured="Closing interest")
            link.action_fetch_transactions()
        self.assertEqual(len(self._chatter_of(link, "no longer gives access to Épargne")), 1)
        self.assertJournalIsTheBank(savings, *savings_at_closing)

        # The bank opens it again: the next synchronization catches up, nothing twice.
        with freeze_time(at(3)):
            self.bank.reopen_account(SAVINGS_IBAN)
            action = link.action_fetch_transactions()
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn("Épargne: 1", action["params"]["message"])
        self.assertFalse(savings_account.unavailable_since)
        self.assertEqual(len(self._chatter_of(savings, "gives access to Épargne again")), 1)
        self.assertJournalIsTheBank(savings, *self._at_bank(SAVINGS_IBAN))
        self.assertJournalIsTheBank(main, *self._at_bank(MAIN_IBAN))

    def test_requisition_revoked_at_the_bank_then_reconnected_without_gap(self):
        link, journals = self._connect_bank()
        main = journals[MAIN_IBAN]
        before = self._bank_lines(main)

        with freeze_time(at(2)), mute_logger(LOGGER):
            self.bank.add_transaction(MAIN_IBAN, "-7.50", booking_date=day(1), creditorName="Café Łódź")
            self.bank.revoke(link.consent_identifier)
            # Odoo's assertRaises would undo what the error leaves: the state and the messages.
            with self.assertRaisesRegex(BankSyncError, "connect the bank again") as refused:
                link.action_fetch_transactions()
        self.env.invalidate_all()
        next_step = refused.exception.args[3]
        self.assertEqual(next_step, "reconnect", "the dialog offers Reconnect")
        self.assertEqual(link.state, "disconnected")
        self.assertIn("connect the bank again", self._messages(link)[0])
        self.assertIn("connect the bank again", self._messages(main)[0])
        self.assertEqual(self._bank_lines(main), before, "nothing imported")
        self.assertBooksMatchBank(main)

        # Days go by, more than the overlap of a synchronization: the bank books on.
        for offset, amount in ((5, "-60.00"), (11, "310.00")):
            self.bank.add_transaction(MAIN_IBAN, amount, booking_date=day(offset), debtorName="Ærø ApS")
        with freeze_time(at(12)):
            self._approve(link.action_reconnect())
        self.assertEqual(link.state, "connected")
        self.assertEqual(link.account_online_account_ids.journal_ids, journals[MAIN_IBAN] | journals[SAVINGS_IBAN],
                         "the same accounts, found again by their IBAN under the new consent's ids")
        self.assertJournalIsTheBank(main, *self._at_bank(MAIN_IBAN))
        self.assertJournalIsTheBank(journals[SAVINGS_IBAN], *self._at_bank(SAVINGS_IBAN))
        self.assertEqual(main.account_online_account_id.last_sync, day(12))


class EnableBankingFaultsCase(BankFaultsCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.private_key, cls.public_key = make_test_key()

    def setUp(self):
        super().setUp()
        self.bank = EnableBankingEmulator(EB_APPLICATION, self.public_key, page_size=2).start()
        self.addCleanup(self.bank.stop)
        self.current = self.bank.add_account("Yritystili", "EUR", iban="FI2112345600000785", opening_balance="500.00")
        self.savings = self.bank.add_account("Säästötili", "EUR", iban="FI5540000000000123", opening_balance="2000.00")
        self.bank.add_transaction(self.current, "120.50", "CRDT", booking_date=day(-4), debtor_name="Ålandsbanken Oy",
                                  remittance=["Lasku 17"])
        self.bank.add_transaction(self.current, "20.00", "DBIT", booking_date=day(-1), creditor_name="Kahvila Äijä")
        self.bank.add_transaction(self.savings, "5.00", "CRDT", booking_date=day(-6), remittance=["Korko"])
        provider = self.env.ref("account_online_synchronization.provider_enablebanking")
        provider.write({"api_base_url": self.bank.url, "client_identifier": EB_APPLICATION,
                        "private_key": self.private_key})
        provider.action_sync_institutions()
        self.institution = self.env["account.online.institution"].search([
            ("provider_id", "=", provider.id), ("name", "=", "Nordea")])

    def _approve(self, action):
        answer = requests.post(action["url"], data={"decision": "approve"}, allow_redirects=False, timeout=10)
        self._come_back(answer.headers["Location"])

    def _connect_bank(self):
        link = self.env["account.online.link"].create({"institution_id": self.institution.id,
                                                       "timezone": "Europe/Helsinki"})
        self._approve(link.action_connect())
        self.assertEqual(link.state, "connected")
        return link, {account.account_number: account.journal_ids for account in link.account_online_account_ids}

    @staticmethod
    def _at_bank(account):
        """The bank's own books of an account: its booked transactions' references and its booked balance."""
        booked = [t for t in account.transactions if t["status"] == "BOOK"]
        signed = (Decimal(t["transaction_amount"]["amount"]) * (-1 if t["credit_debit_indicator"] == "DBIT" else 1)
                  for t in booked)
        return [t["entry_reference"] for t in booked if t.get("entry_reference")], account.opening_balance + sum(signed)


class TestEnableBankingFaults(EnableBankingFaultsCase):

    def test_closed_accounts_leave_the_others_synchronized_and_come_back_once(self):
        link, journals = self._connect_bank()
        current, savings = journals[self.current.iban], journals[self.savings.iban]
        savings_at_closing = self._at_bank(self.savings)

        # The bank closes the savings account, found by the scheduled action.
        self.bank.close_account(self.savings)
        self.bank.add_transaction(self.current, "3.20", "DBIT", booking_date=day(1), creditor_name="Ärrä")
        with freeze_time(at(1, 18)), mute_logger(LOGGER):
            run_scheduled_action(self)
        self.assertEqual(link.state, "connected")
        self.assertJournalIsTheBank(current, *self._at_bank(self.current))
        self.assertJournalIsTheBank(savings, *savings_at_closing)
        self.assertEqual(savings.account_online_account_id.unavailable_since, day(1))
        told = self._chatter_of(savings, "no longer gives access to Säästötili")
        self.assertEqual(len(told), 1)
        self.assertIn("ASPSP_ACCOUNT_NOT_ACCESSIBLE", told[0])
        self.assertIn("click Reconnect", told[0])

        # Then the other one too: nothing can be read, the connection is in error and says so.
        self.bank.close_account(self.current)
        self.bank.add_transaction(self.savings, "1.10", "CRDT", booking_date=day(2), remittance=["Korko"])
        self.bank.add_transaction(self.current, "9.90", "DBIT", booking_date=day(2), creditor_name="Ärrä")
        with freeze_time(at(2)), mute_logger(LOGGER), \
                self.assertRaisesRegex(BankSyncError, "no longer gives access to any account of this connection") \
                as refused:
            link.action_fetch_transactions()
        self.env.invalidate_all()
        self.assertEqual(refused.exception.args[3], "reconnect", "the dialog offers Reconnect")
        self.assertEqual(link.state, "error")
        self.assertIn("no longer gives access to any account", self._messages(link)[0])
        self.assertEqual(len(self._bank_lines(current)), len(self._at_bank(self.current)[0]) - 1, "nothing imported")

        # The bank opens both again: the next synchronization catches up, each transaction once.
        self.bank.close_account(self.current, closed=False)
        self.bank.close_account(self.savings, closed=False)
        with freeze_time(at(3)):
            link.action_fetch_transactions()
        self.assertEqual(link.state, "connected")
        self.assertFalse(link.account_online_account_ids.filtered("unavailable_since"))
        self.assertEqual(len(self._chatter_of(savings, "gives access to Säästötili again")), 1)
        self.assertFalse(self._chatter_of(current, "gives access to Yritystili again"),
                         "never told unavailable on its own: nothing to take back")
        self.assertJournalIsTheBank(current, *self._at_bank(self.current))
        self.assertJournalIsTheBank(savings, *self._at_bank(self.savings))

    def test_session_revoked_at_the_bank_then_reconnected_without_gap(self):
        link, journals = self._connect_bank()
        current = journals[self.current.iban]
        before = self._bank_lines(current)

        # The user revokes the consent at the bank; the scheduled action finds it.
        self.bank.revoke_session(link.consent_identifier)
        self.bank.add_transaction(self.current, "42.00", "CRDT", booking_date=day(1), debtor_name="Oy Asiakas Ab")
        with freeze_time(at(1, 22)), mute_logger(LOGGER):
            run_scheduled_action(self)
        self.assertEqual(link.state, "disconnected")
        self.assertIn("connect the bank again", self._messages(link)[0])
        self.assertIn("connect the bank again", self._messages(current)[0])
        self.assertEqual(self._bank_lines(current), before, "nothing imported")
        with freeze_time(at(2, 10)), mute_logger(LOGGER), \
                self.assertRaisesRegex(BankSyncError, "not connected: click Reconnect") as refused:
            link.action_fetch_transactions()
        self.assertEqual(refused.exception.args[3], "reconnect", "Synchronize Now says to reconnect first")

        for offset, amount in ((6, "15.00"), (10, "250.00")):
            self.bank.add_transaction(self.current, amount, "DBIT", booking_date=day(offset), creditor_name="Ärrä")
        with freeze_time(at(11)):
            self._approve(link.action_reconnect())
        self.assertEqual(link.state, "connected")
        self.assertEqual(link.account_online_account_ids.journal_ids, current | journals[self.savings.iban],
                         "the same accounts, found again by their identification hash under the new session")
        self.assertJournalIsTheBank(current, *self._at_bank(self.current))
        self.assertJournalIsTheBank(journals[self.savings.iban], *self._at_bank(self.savings))


class TestEnableBankingPages(EnableBankingFaultsCase):

    def test_pages_served_twice_and_out_of_date_order_import_each_transaction_once_in_date_order(self):
        link, journals = self._connect_bank()
        current = journals[self.current.iban]
        # The bank's own order, not the dates': a listing newest first, then one as booked late.
        for offset, amount, who in ((3, "11.00", "Kesko"), (1, "7.40", "Alko"), (4, "18.00", "Kesko"),
                                    (2, "3.20", "Ärrä"), (1, "64.00", "Alko")):
            self.bank.add_transaction(self.current, amount, "DBIT", booking_date=day(offset), creditor_name=who)
        # Without any identifier: only its page can say it is the same one.
        self.bank.add_transaction(self.current, "2.50", "DBIT", booking_date=day(2), creditor_name="Kioski",
                                  entry_reference=None, transaction_id=None)
        self.bank.transaction_order = "as_added"
        # Every page: the savings account's one, then the current account's 8 transactions, 2 a page.
        self.bank.pages_served_twice = 5
        with freeze_time(at(5)):
            link.action_fetch_transactions()
        self.assertEqual(self.bank.pages_served_twice, 0, "the pages were served twice indeed")
        self.assertEqual(len(self._lines(current).filtered(lambda line: line.partner_name == "Kioski")), 1)
        identifiers, balance = self._at_bank(self.current)
        self.assertJournalIsTheBank(current, identifiers + self._lines(current).filtered(
            lambda line: line.partner_name == "Kioski").mapped("online_transaction_identifier"), balance)
        # Odoo numbers the lines in the order of their dates, and each statement follows the one before.
        lines = self._lines(current).sorted("internal_index")
        numbers = [line.move_id.sequence_number for line in lines]
        self.assertEqual(numbers, sorted(numbers), "numbered in date order")
        statements = lines.statement_id.sorted("first_line_index")
        for earlier, later in zip(statements, statements[1:]):
            self.assertLessEqual(max(earlier.line_ids.mapped("date")), min(later.line_ids.mapped("date")))

        # The next synchronization, newest first and each page twice again, brings the new one only.
        self.bank.add_transaction(self.current, "1.00", "CRDT", booking_date=day(6), debtor_name="Asiakas")
        self.bank.transaction_order = "newest_first"
        self.bank.pages_served_twice = 10
        count = len(self._lines(current))
        with freeze_time(at(6)):
            action = link.action_fetch_transactions()
        self.assertIn("Yritystili: 1", action["params"]["message"])
        self.assertEqual(len(self._lines(current)), count + 1)
        identifiers, balance = self._at_bank(self.current)
        self.assertJournalIsTheBank(current, identifiers + self._lines(current).filtered(
            lambda line: line.partner_name == "Kioski").mapped("online_transaction_identifier"), balance)
