# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Taking over a journal fed by OCA's online import
(account_statement_import_online): the first synchronization after the
switch imports nothing twice and leaves no gap.

Runs where OCA's modules are installed, skipped elsewhere (the addon never
depends on them): the Demo Bank's Current Account was pulled by an OCA import
until five days ago; Take Over connects the Demo Bank instead."""
import datetime as dt
import unittest
import uuid
from collections import Counter
from decimal import Decimal
from zoneinfo import ZoneInfo

from freezegun import freeze_time

from odoo import Command
from odoo.tests import HttpCase, tagged

from ..providers import POSTED
from ..providers.base import Consent
from .common import NOW, OnlineSyncCommon

OCA_PROVIDER_MODEL = "online.bank.statement.provider"
BRUSSELS = ZoneInfo("Europe/Brussels")
DEMO_ACCOUNT = "DEMO_BANK-current"
DEMO_IBAN = "BE68539007547034"
# The OCA import pulled from OCA_START until its last successful pull, five days before NOW.
OCA_START = dt.date(2026, 10, 1)
OCA_LAST_PULL = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.timezone.utc)
NEXT_DAY = "2026-11-26 10:00:00"
# Beside what the Demo Bank makes up, two transactions at the edges of the switch:
# paid at 00:20 in Brussels, a day earlier in UTC (where OCA's import dated it) and
# in the 7 days asked for again; booked the day of OCA's last pull, after it.
LATE_NIGHT = ("BOOK-OCA-LATE-NIGHT", "1234.56", dt.datetime(2026, 11, 17, 0, 20, tzinfo=BRUSSELS))
AFTER_LAST_PULL = ("BOOK-OCA-AFTER-PULL", "-42.00", dt.datetime(2026, 11, 20, 15, 0, tzinfo=BRUSSELS))


class OcaTakeoverCommon(OnlineSyncCommon):
    """The Demo Bank, and a journal its Current Account fed through OCA's
    online import (no test of its own)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if OCA_PROVIDER_MODEL not in cls.env:
            raise unittest.SkipTest("OCA's account_statement_import_online is not installed in this database")
        # Registered at the company's first connection (tests/test_blocking.py); its
        # transactions are dated in Brussels time.
        cls.company.sudo().account_online_phone = "+32470123456"
        cls.company.partner_id.tz = "Europe/Brussels"
        # The journal OCA fed is in euros: a database that has it uses the currency.
        cls.env.ref("base.EUR").sudo().active = True
        cls.demo_bank = cls.env["account.online.institution"].search([("identifier", "=", "DEMO_BANK")])
        cls.extra = [cls._transaction(identifier, amount, when) for identifier, amount, when in
                     (LATE_NIGHT, AFTER_LAST_PULL)]
        cls.extra_total = sum((transaction.amount for transaction in cls.extra), Decimal(0))

    # ------------------------------------------------------------------
    # The bank, and the journal as OCA's import left it
    # ------------------------------------------------------------------

    def _bank(self):
        """The Demo Bank with the two transactions of the switch's edges."""
        return self._bank_shows(self.extra, balance_delta=self.extra_total)

    def _bank_transactions(self):
        """The posted transactions of the Current Account since OCA_START, as
        the bank has them now, and its balance."""
        client = self.env.ref("account_online_synchronization.provider_demo")._get_client()
        consent = Consent("outside-odoo", data={"institution": "DEMO_BANK"})
        with self._bank():
            now = client.now()
            transactions = [
                transaction for transaction in client.get_transactions(
                    consent, DEMO_ACCOUNT, OCA_START, now.date() + dt.timedelta(days=1))
                if transaction.status == POSTED and (transaction.booked_at is None or transaction.booked_at <= now)
            ]
            return transactions, client.get_balance(consent, DEMO_ACCOUNT).amount

    def _oca_journal(self, account_number, oca_id, oca_tz):
        """A EUR bank journal whose lines OCA's import made, as OCA makes them
        (account_statement_import_online, monthly statements): an opening
        line the accountant entered, then what the bank had at OCA's last
        pull, each line's unique_import_id of OCA's form with ``oca_id`` of
        the bank's transaction, dated in ``oca_tz``. Returns the journal, its
        OCA import, the opening line, and unique_import_id -> the bank's
        identifier."""
        journal = self.env["account.journal"].create({
            "name": "Bank (OCA)", "type": "bank", "code": "OCAB",
            "currency_id": self.env.ref("base.EUR").id, "bank_acc_number": account_number,
        })
        provider = self.env[OCA_PROVIDER_MODEL].create({
            "journal_id": journal.id, "service": "dummy", "tz": oca_tz, "statement_creation_mode": "monthly",
            "last_successful_run": OCA_LAST_PULL.replace(tzinfo=None),
            "next_run": (OCA_LAST_PULL + dt.timedelta(hours=1)).replace(tzinfo=None),
        })
        # A real database pulls through one of OCA's connectors, whose module
        # adds its service: Ponto's (account_statement_import_online_ponto),
        # not installed here, as OCA's modules left the rows.
        self.env.flush_all()
        self.env.cr.execute("UPDATE online_bank_statement_provider SET service = 'ponto', name = %s WHERE id = %s",
                            [f"{journal.name} ponto", provider.id])
        self.env.cr.execute("UPDATE account_journal SET online_bank_statement_provider = 'ponto' WHERE id = %s",
                            [journal.id])
        self.env.invalidate_all()

        with freeze_time(OCA_LAST_PULL):
            pulled, _balance = self._bank_transactions()
        now, balance = self._bank_transactions()
        prefix = f"{journal.bank_account_id.sanitized_acc_number}-" if account_number else ""
        Statement = self.env["account.bank.statement"]
        # What the account held before the transactions since OCA_START.
        running = balance - sum((transaction.amount for transaction in now), Decimal(0))
        opening = Statement.create({
            "name": "Opening balance", "journal_id": journal.id, "balance_start": 0.0,
            "balance_end_real": float(running),
            "line_ids": [Command.create({
                "journal_id": journal.id, "date": OCA_START - dt.timedelta(days=1), "payment_ref": "Opening balance",
                "amount": float(running),
            })],
        }).line_ids
        by_month, bank_identifier = {}, {}
        for transaction in pulled:
            # OCA's import dates a transaction in its provider's timezone.
            date = transaction.booked_at.astimezone(ZoneInfo(oca_tz)).date()
            unique_import_id = f"{prefix}{journal.id}-{oca_id(transaction.identifier)}"
            bank_identifier[unique_import_id] = transaction.identifier
            by_month.setdefault(date.replace(day=1), []).append({
                "journal_id": journal.id, "date": date, "amount": float(transaction.amount),
                "payment_ref": transaction.label, "partner_name": transaction.partner_name,
                "unique_import_id": unique_import_id,
            })
        for month, lines in sorted(by_month.items()):
            # Each statement starts where the previous one ends, as OCA's import chains them.
            start, running = running, running + sum((Decimal(str(vals["amount"])) for vals in lines), Decimal(0))
            Statement.create({
                "name": f"{journal.code}/{month:%Y-%m-%d}", "journal_id": journal.id,
                "balance_start": float(start), "balance_end_real": float(running),
                "line_ids": [Command.create(vals) for vals in sorted(lines, key=lambda vals: vals["date"])],
            })
        self.assertIn(
            LATE_NIGHT[0], bank_identifier.values(), "OCA's import had the transaction of 00:20 in Brussels",
        )
        self.assertNotIn(AFTER_LAST_PULL[0], bank_identifier.values(), "the bank booked it after OCA's last pull")
        return journal, provider, opening, bank_identifier

    # ------------------------------------------------------------------
    # Take over, connect, synchronize
    # ------------------------------------------------------------------

    def _take_over(self, provider, oca_line_count):
        """Take Over: returns the connection and the choice of its accounts,
        where the bank sends the user back."""
        wizard = self.env["account.online.oca.takeover"].create({"institution_id": self.demo_bank.id})
        self.assertEqual(wizard.oca_provider, str(provider.id), "the company's only OCA import is offered")
        self.assertEqual(wizard.journal_id, provider.journal_id)
        self.assertEqual(wizard.oca_service, "ponto")
        self.assertEqual(wizard.oca_last_successful_run, OCA_LAST_PULL.replace(tzinfo=None))
        self.assertEqual(wizard.oca_line_count, oca_line_count)
        with self._bank():
            action = wizard.action_take_over()
        self.assertEqual(action["res_model"], "account.online.account.choice")
        return wizard.link_id, action

    def _synchronize_journal_account(self, journal, action):
        """Back from the bank: synchronize the account offered for the journal
        (the others left out)."""
        choice = self.env[action["res_model"]].with_context(action["context"]).create({})
        offered = choice.line_ids.filtered(lambda line: line.name == "Current Account")
        self.assertEqual(offered.journal_id, journal, "the journal OCA fed is offered to its account")
        (choice.line_ids - offered).selected = False
        with self._bank():
            choice.action_synchronize()

    def _transactions_in(self, journal, opening, bank_identifier):
        """The bank transaction each line of the journal stands for (the
        opening line left out): the lines OCA imported by the
        unique_import_id OCA gave them, the others by their identifier."""
        lines = self._lines(journal) - opening
        return Counter(
            line.online_transaction_identifier if line.online_account_id else bank_identifier[line.unique_import_id]
            for line in lines
        )

    def assertEachTransactionOnce(self, journal, opening, bank_identifier):
        transactions, _balance = self._bank_transactions()
        self.assertEqual(
            self._transactions_in(journal, opening, bank_identifier),
            Counter(transaction.identifier for transaction in transactions),
            "every posted transaction of the bank is in the journal once",
        )
        self.assertBooksMatchBank(journal)

    def assertTakenOver(self, journal, provider, link):
        self.assertTrue(provider.exists(), "the OCA import is kept")
        self.assertFalse(provider.active, "the OCA import pulls no more")
        self.assertFalse(self.env[OCA_PROVIDER_MODEL].search([("journal_id", "=", journal.id)]))
        self.assertIn("Taken over by the bank connection Demo Bank", " ".join(self._messages(provider)))
        told = " ".join(self._messages(journal))
        self.assertIn("is fed by the bank connection Demo Bank from now on, instead of OCA's online import", told)
        self.assertEqual(journal.account_online_link_id, link)
        self.assertEqual(journal.account_online_account_id.name, "Current Account")
        self.assertEqual(journal.bank_statements_source, "online_sync")
        self.assertFalse(journal.online_bank_statement_provider_id)


@tagged("post_install", "-at_install")
@freeze_time(NOW)
class TestOcaTakeover(OcaTakeoverCommon):

    def test_same_identifiers_recognized_by_identifier(self):
        """OCA's connector named the transactions as ours does: the lines OCA
        imported carry the bank's identifier once taken over, and the first
        synchronization recognizes them by it, although OCA dated them
        otherwise (its import in UTC, the connection in Brussels time)."""
        journal, provider, opening, bank_identifier = self._oca_journal(DEMO_IBAN, lambda identifier: identifier, "UTC")
        oca_lines = self._lines(journal) - opening
        link, action = self._take_over(provider, len(oca_lines))
        self.assertEqual(
            {line.unique_import_id: line.online_transaction_identifier for line in oca_lines}, bank_identifier,
            "each line OCA imported carries the bank's identifier, its unique_import_id without OCA's prefix",
        )
        late_night = oca_lines.filtered(lambda line: line.online_transaction_identifier == LATE_NIGHT[0])
        self.assertEqual(late_night.date, dt.date(2026, 11, 16), "OCA dated it in UTC, a day before the bank")

        self._synchronize_journal_account(journal, action)
        imported = self._lines(journal).filtered("online_account_id")
        self.assertIn(AFTER_LAST_PULL[0], imported.mapped("online_transaction_identifier"))
        self.assertTrue(imported, "what the bank booked since OCA's last pull is imported")
        self.assertEachTransactionOnce(journal, opening, bank_identifier)
        self.assertTakenOver(journal, provider, link)

        with freeze_time(NEXT_DAY):
            with self._bank():
                journal.manual_sync()
            self.assertEachTransactionOnce(journal, opening, bank_identifier)

    def _take_over_other_identifiers(self):
        """OCA's connector named the transactions its own way (its
        aggregator's ids), in a journal without account number; its import
        dated them in Brussels time, as the connection does. Taken over and
        synchronized once."""
        journal, provider, opening, bank_identifier = self._oca_journal(
            False, lambda identifier: str(uuid.uuid5(uuid.NAMESPACE_URL, identifier)), "Europe/Brussels",
        )
        oca_lines = self._lines(journal) - opening
        link, action = self._take_over(provider, len(oca_lines))
        self.assertEqual(
            {line.unique_import_id: line.online_transaction_identifier for line in oca_lines},
            {unique_import_id: unique_import_id.split("-", 1)[1] for unique_import_id in bank_identifier},
            "each line OCA imported carries its id, its unique_import_id without the journal's id",
        )
        self._synchronize_journal_account(journal, action)
        return journal, provider, opening, bank_identifier, link

    def test_other_identifiers_recognized_by_date_and_amount(self):
        """The first synchronization recognizes the lines OCA imported under
        other identifiers by their date and amount."""
        journal, provider, opening, bank_identifier, link = self._take_over_other_identifiers()
        self.assertEachTransactionOnce(journal, opening, bank_identifier)
        self.assertTakenOver(journal, provider, link)

    def test_other_identifiers_not_imported_again_the_next_day(self):
        """The next synchronization asks again for the days before the first,
        where OCA's lines were recognized by date and amount: they carry the
        bank's identifiers since, and nothing comes twice."""
        journal, _provider, opening, bank_identifier, _link = self._take_over_other_identifiers()
        with freeze_time(NEXT_DAY):
            with self._bank():
                journal.manual_sync()
            self.assertEachTransactionOnce(journal, opening, bank_identifier)


@tagged("post_install", "-at_install")
@freeze_time(NOW)
class TestOcaTakeoverTour(HttpCase, OcaTakeoverCommon):
    """Take Over in the browser: the administrator opens Take Over OCA Online
    Imports, chooses the bank, and the account for the journal OCA fed."""

    def test_take_over_from_the_configuration_menu(self):
        journal, provider, opening, bank_identifier = self._oca_journal(DEMO_IBAN, lambda identifier: identifier, "UTC")
        with self._bank():
            self.start_tour("/odoo/accounting", "account_online_synchronization_oca_takeover", login="admin")

        self.env.invalidate_all()
        link = self.env["account.online.link"].search([("institution_id", "=", self.demo_bank.id)])
        self.assertEqual(len(link), 1, "Take Over made one connection")
        self.assertEqual(link.state, "connected")
        self.assertFalse(link.account_choice_pending)
        self.assertTakenOver(journal, provider, link)
        self.assertFalse(link.account_online_account_ids.filtered(lambda account: account.name != "Current Account")
                         .journal_ids, "the other accounts were left out in the account choice")
        imported = self._lines(journal).filtered("online_account_id")
        self.assertIn(AFTER_LAST_PULL[0], imported.mapped("online_transaction_identifier"),
                      "what the bank booked since OCA's last pull is imported")
        self.assertEachTransactionOnce(journal, opening, bank_identifier)
