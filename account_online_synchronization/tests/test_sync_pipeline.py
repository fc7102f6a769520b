# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime as dt
import hashlib
from unittest.mock import patch

import psycopg2.errors
from freezegun import freeze_time

from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..models import account_online_account
from ..providers import LISTING_RESTARTED, PENDING, ProviderUnreachable
from .common import LOGGER, NOW, DemoBankProvider, OnlineSyncCommon


@tagged("post_install", "-at_install")
@freeze_time(NOW)
class TestSyncPipeline(OnlineSyncCommon):

    def test_connect_imports_posted_transactions_in_monthly_statements(self):
        link = self._connect()
        self.assertEqual(link.state, "connected")
        self.assertEqual(
            sorted(link.account_online_account_ids.mapped("name")),
            ["Current Account", "Deposit Account", "Dollar Account"],
        )
        journal = self._journal(link)
        self.assertEqual(journal.type, "bank")
        self.assertEqual(journal.currency_id.name, "EUR")
        self.assertEqual(journal.bank_statements_source, "online_sync")
        # What the journal form's Bank Feeds radio offers: the value set must be among them.
        self.assertIn(("online_sync", "Online Synchronization"),
                      journal.fields_get(["bank_statements_source"])["bank_statements_source"]["selection"])
        self.assertEqual(journal.bank_acc_number, "BE68539007547034")
        self.assertEqual(self.env.company.currency_id.name, "USD")
        self.assertFalse(self._journal(link, "Dollar Account").currency_id,
                         "a USD account of a USD company syncs into a journal in the company currency")

        demo = self._demo_transactions(link)
        posted = {t.identifier for t in demo if t.status != PENDING}
        pending = {t.identifier for t in demo if t.status == PENDING}
        self.assertTrue(pending, "the Demo Bank has pending card payments on a Wednesday")
        lines = self._lines(journal)
        identifiers = set(lines.mapped("online_transaction_identifier"))
        self.assertEqual(identifiers - {False}, posted, "every posted transaction, nothing else")
        self.assertFalse(identifiers & pending, "pending transactions never become lines")

        # The journal's balance is the bank's, thanks to the opening balance line.
        account = journal.account_online_account_id
        opening = lines.filtered(lambda l: not l.online_transaction_identifier)
        self.assertEqual(opening.payment_ref, "Opening balance")
        self.assertAlmostEqual(sum(lines.mapped("amount")), account.balance, places=2)
        self.assertEqual(account.last_sync, dt.date(2026, 11, 25))

        statements = self.env["account.bank.statement"].search([("journal_id", "=", journal.id)])
        self.assertEqual(
            statements.sorted("first_line_index").mapped("name"),
            [f"{journal.code} {month} 2026" for month in ("August", "September", "October", "November")],
        )
        for statement in statements:
            self.assertEqual(len({(d.year, d.month) for d in statement.line_ids.mapped("date")}), 1)
            self.assertTrue(statement.is_complete and statement.is_valid, statement.name)
        self.assertEqual(lines.statement_id, statements, "every line is in a statement")
        last = statements.sorted("first_line_index")[-1]
        self.assertAlmostEqual(last.balance_end_real, account.balance, places=2)

        foreign = lines.filtered("foreign_currency_id")
        self.assertTrue(foreign, "card payments abroad keep their amount in the foreign currency")
        self.assertEqual(foreign.foreign_currency_id.mapped("name"), ["USD"])
        self.assertIn("Café Łódź", lines.mapped("partner_name"))

    def test_sync_twice_imports_nothing(self):
        link = self._connect()
        journal = self._journal(link)
        count = len(self._lines(journal))
        action = journal.manual_sync()
        self.assertEqual(action["params"]["message"],
                         "Demo Bank: 0 new transaction(s) (Current Account: 0, Deposit Account: 0, Dollar Account: 0).")
        self.assertEqual(action["params"]["type"], "info")
        self.assertEqual(len(self._lines(journal)), count)

    def test_pending_transaction_posts_later_once(self):
        link = self._connect()
        journal = self._journal(link)
        pending = [t for t in self._demo_transactions(link) if t.status == PENDING]
        with freeze_time("2026-11-29 10:00:00"):
            journal.manual_sync()
            settled = {t.pending_identifier: t for t in self._demo_transactions(link) if t.pending_identifier}
            lines = self._lines(journal)
            for transaction in pending:
                posted = settled[transaction.identifier]
                self.assertEqual(
                    lines.filtered(lambda l, p=posted: l.online_transaction_identifier == p.identifier).mapped("amount"),
                    [float(transaction.amount)],
                )
            self.assertFalse(set(lines.mapped("online_transaction_identifier")) & {t.identifier for t in pending})
            self.assertEqual(journal.account_online_account_id.last_sync, dt.date(2026, 11, 29))
            self.assertAlmostEqual(sum(lines.mapped("amount")), journal.account_online_account_id.balance, places=2)
            for statement in lines.statement_id:
                self.assertTrue(statement.is_complete and statement.is_valid, statement.name)

    def test_existing_journal_with_same_number_and_currency_is_used(self):
        journal = self.env["account.journal"].create({
            "name": "My EUR bank", "type": "bank", "code": "MYEUR",
            "currency_id": self.env.ref("base.EUR").id, "bank_acc_number": "BE68 5390 0754 7034",
        })
        link = self._connect()
        self.assertEqual(self._journal(link), journal)
        self.assertTrue(self._lines(journal))

    def test_company_with_99_bank_journal_codes_taken_still_gets_journals(self):
        # Odoo's default bank journal codes, BNK1 to BNK99, all taken.
        taken = set(self.env["account.journal"].search([]).mapped("code"))
        self.env["account.journal"].create([
            {"name": f"Journal {number}", "type": "general", "code": f"BNK{number}"}
            for number in range(1, 100) if f"BNK{number}" not in taken
        ])
        link = self._connect()
        self.assertEqual(sorted(link.journal_ids.mapped("code")), ["B100", "B101", "B102"])
        journal = self._journal(link)
        self.assertTrue(self._lines(journal))
        self.assertBooksMatchBank(journal)

    def test_failure_halfway_leaves_the_books_unchanged(self):
        link = self._connect()
        journals = link.journal_ids
        before = {j: len(self._lines(j)) for j in journals}
        last_syncs = link.account_online_account_ids.mapped("last_sync")
        real_get_transactions = DemoBankProvider.get_transactions

        def fail_on_dollars(provider, consent, account_id, date_from, date_to):
            if account_id.endswith("dollar"):
                raise ProviderUnreachable("The Demo Bank did not answer.")
            return real_get_transactions(provider, consent, account_id, date_from, date_to)

        with freeze_time("2026-12-10 10:00:00"), patch.object(DemoBankProvider, "get_transactions", fail_on_dollars):
            # assertRaisesRegex, unlike Odoo's assertRaises, keeps what the error handler wrote.
            with self.assertRaisesRegex(UserError, "did not answer") as caught:
                link.action_fetch_transactions()
        message = str(caught.exception)
        self.assertEqual({j: len(self._lines(j)) for j in journals}, before, "the EUR account's import is undone")
        self.assertEqual(link.account_online_account_ids.mapped("last_sync"), last_syncs)
        self.assertEqual(link.state, "error")
        reference = link.last_error_reference
        self.assertTrue(reference)
        self.assertIn(reference, message)
        self.assertIn(reference, self._messages(link)[0])
        self.assertIn("did not answer", self._messages(link)[0])
        self.assertIn(reference, self._messages(journals[0])[0], "the journals' chatter says it too")

        # The next sync fetches the same window again: no gap.
        with freeze_time("2026-12-10 11:00:00"):
            link.action_fetch_transactions()
            self.assertEqual(link.state, "connected")
            for journal in journals:
                self.assertGreater(len(self._lines(journal)), before[journal])
                account = journal.account_online_account_id
                self.assertAlmostEqual(sum(self._lines(journal).mapped("amount")), account.balance, places=2)

    def test_invalid_data_halfway_leaves_the_books_unchanged(self):
        link = self._connect()
        journal = self._journal(link)
        before = len(self._lines(journal))
        good = self._transaction("X-1", "10.00", dt.date(2026, 12, 1))
        bad = self._transaction("X-2", "12.00", dt.date(2026, 12, 2), currency="GBP")
        with freeze_time("2026-12-03 10:00:00"), self._bank_shows([good, bad]):
            with self.assertRaisesRegex(UserError, "GBP"):
                link.action_fetch_transactions()
        self.assertEqual(len(self._lines(journal)), before)

    def test_duplicates_inside_one_batch_and_transactions_without_identifier(self):
        link = self._connect()
        journal = self._journal(link)
        before = len(self._lines(journal))
        day = dt.date(2026, 11, 25)
        batch = [
            self._transaction("DUP-1", "5.00", day),
            self._transaction("DUP-1", "5.00", day),
            # Two genuinely identical coffees the same day, no identifier from the bank.
            self._transaction(None, "-2.40", day, label="Coffee"),
            self._transaction(None, "-2.40", day, label="Coffee"),
        ]
        with self._bank_shows(batch, balance_delta="0.20"):
            journal.manual_sync()
            self.assertEqual(len(self._lines(journal)), before + 3)
            journal.manual_sync()
            self.assertEqual(len(self._lines(journal)), before + 3, "fetching the same day again adds nothing")
            self.assertBooksMatchBank(journal)

    def test_transactions_without_identifier_keep_the_names_given_before(self):
        """A transaction the bank does not name is named from its date, amount,
        currency, label and counterpart, numbered when alike: lines imported by
        earlier versions are found again under the same name."""
        link = self._connect()
        journal = self._journal(link)
        day = dt.date(2026, 11, 25)
        coffees = [self._transaction(None, "-2.40", day, label="Coffee", partner_name="Café Łódź")] * 2
        with self._bank_shows(coffees, balance_delta="-4.80"):
            journal.manual_sync()
        expected = {
            "generated-" + hashlib.sha256(f"2026-11-25|-2.40|EUR|Coffee|Café Łódź|{rank}".encode()).hexdigest()[:32]
            for rank in (1, 2)
        }
        generated = self._lines(journal).filtered(lambda line: line.payment_ref == "Coffee")
        self.assertEqual(set(generated.mapped("online_transaction_identifier")), expected)
        self.assertBooksMatchBank(journal)

    def _in_pages(self, pages_of):
        """The Current Account's transactions come in the pages ``pages_of``
        makes of them (a list of what the bank shows), the others in one."""
        real_pages = DemoBankProvider.iter_transaction_pages

        def iter_transaction_pages(provider, consent, account_id, date_from, date_to):
            if not account_id.endswith("current"):
                yield from real_pages(provider, consent, account_id, date_from, date_to)
                return
            yield from pages_of(provider.get_transactions(consent, account_id, date_from, date_to))

        return patch.object(DemoBankProvider, "iter_transaction_pages", iter_transaction_pages)

    def test_listing_started_again_by_the_bank_imports_each_transaction_once(self):
        link = self._connect()
        journal = self._journal(link)
        before = len(self._lines(journal))
        day = dt.date(2026, 12, 2)
        new = [self._transaction(f"PAGE-{n}", f"1.0{n}", day) for n in range(4)]
        new.append(self._transaction(None, "-2.40", day, label="Coffee"))

        def restarted_after_two_pages(transactions):
            half = len(transactions) // 2
            yield transactions[:half]
            yield transactions[half:]
            yield LISTING_RESTARTED  # the bank refused its own page key: its listing starts again
            yield from (transactions[index:index + 4] for index in range(0, len(transactions), 4))

        with freeze_time("2026-12-03 10:00:00"), self._bank_shows(new, balance_delta="1.66"), \
                self._in_pages(restarted_after_two_pages), patch.object(account_online_account, "IMPORT_BATCH_SIZE", 4):
            journal.manual_sync()
        lines = self._lines(journal)
        identifiers = lines.filtered("online_transaction_identifier").mapped("online_transaction_identifier")
        self.assertEqual(len(identifiers), len(set(identifiers)))
        self.assertEqual(len(lines.filtered(lambda line: line.payment_ref == "Coffee")), 1, "the coffee once")
        self.assertTrue({t.identifier for t in new[:4]} <= set(identifiers))
        self.assertGreater(len(lines), before + 5, "the days since the last sync, and the five new ones")
        self.assertBooksMatchBank(journal)

    def test_bank_failing_on_a_later_page_leaves_the_books_unchanged(self):
        link = self._connect()
        journal = self._journal(link)
        before = len(self._lines(journal))
        last_sync = journal.account_online_account_id.last_sync

        def fails_on_third_page(transactions):
            yield transactions[:2]
            yield transactions[2:4]
            raise ProviderUnreachable("The Demo Bank did not answer.")

        with freeze_time("2026-12-10 10:00:00"), self._in_pages(fails_on_third_page), \
                patch.object(account_online_account, "IMPORT_BATCH_SIZE", 2), mute_logger(LOGGER):
            with self.assertRaisesRegex(UserError, "did not answer"):
                journal.manual_sync()
            self.assertEqual(len(self._lines(journal)), before)
            self.assertEqual(journal.account_online_account_id.last_sync, last_sync)
            self.assertEqual(link.state, "error")
        # The next synchronization fetches the same days, whole.
        with freeze_time("2026-12-10 11:00:00"):
            journal.manual_sync()
        self.assertEqual(link.state, "connected")
        self.assertGreater(len(self._lines(journal)), before + 4)
        self.assertBooksMatchBank(journal)

    def test_database_refuses_a_second_import_of_a_transaction(self):
        link = self._connect()
        journal = self._journal(link)
        line = self._lines(journal).filtered("online_transaction_identifier")[0]
        with mute_logger("odoo.sql_db"), self.assertRaises(psycopg2.errors.UniqueViolation):
            self.env["account.bank.statement.line"].create({
                "journal_id": journal.id, "date": line.date, "amount": 1.0, "payment_ref": "copy",
                "online_transaction_identifier": line.online_transaction_identifier,
            })

    def _check_dates_in_timezone(self, timezone, expected):
        late_evening_utc = dt.datetime(2026, 11, 24, 23, 30, tzinfo=dt.timezone.utc)
        batch = [
            self._transaction("TZ-1", "7.00", late_evening_utc),
            # A date without a time is never shifted.
            self._transaction("TZ-2", "8.00", dt.date(2026, 11, 24)),
        ]
        with self._bank_shows(batch, balance_delta="15.00"):
            link = self._connect(timezone=timezone)
        journal = self._journal(link)
        lines = self._lines(journal)
        self.assertEqual(lines.filtered(lambda l: l.online_transaction_identifier == "TZ-1").date, expected)
        self.assertEqual(lines.filtered(lambda l: l.online_transaction_identifier == "TZ-2").date,
                         dt.date(2026, 11, 24))
        self.assertBooksMatchBank(journal)

    def test_dates_are_in_the_connection_timezone_east(self):
        self._check_dates_in_timezone("Europe/Brussels", dt.date(2026, 11, 25))

    def test_dates_are_in_the_connection_timezone_west(self):
        self._check_dates_in_timezone("America/New_York", dt.date(2026, 11, 24))

    def test_statement_periodicity(self):
        link = self._connect()
        journal = self._journal(link)
        lines = self._lines(journal)
        november = lines.statement_id.filtered(lambda s: s.name == f"{journal.code} November 2026")
        self.assertEqual(len(lines.statement_id), 4)
        journal.bank_statement_creation_groupby = "week"
        with freeze_time("2026-12-09 10:00:00"):
            action = journal.manual_sync()
        self.assertRegex(action["params"]["message"],
                         r"^Demo Bank: [1-9]\d* new transaction\(s\) \(Current Account: [1-9]\d*, "
                         r"Deposit Account: \d+, Dollar Account: \d+\)\.$")
        new_lines = self._lines(journal) - lines
        # Lines of the week the monthly November statement ends in join it;
        # the following ones are grouped by week.
        last_week = dt.date(2026, 11, 25).isocalendar()[:2]
        joined = new_lines.filtered(lambda l: l.date.isocalendar()[:2] == last_week)
        self.assertTrue(joined)
        self.assertEqual(joined.statement_id, november)
        weekly = new_lines - joined
        self.assertTrue(weekly.filtered(lambda l: l.date.month == 12))
        for statement in weekly.statement_id:
            self.assertEqual(len({d.isocalendar()[:2] for d in statement.line_ids.mapped("date")}), 1)
            self.assertRegex(statement.name, rf"^{journal.code} 2026, week \d+$")
        self.assertEqual(len(weekly.statement_id), len({d.isocalendar()[:2] for d in weekly.mapped("date")}))
        statements = self.env["account.bank.statement"].search([("journal_id", "=", journal.id)])
        for statement in statements:
            self.assertTrue(statement.is_complete and statement.is_valid, statement.name)
        last = statements.sorted("first_line_index")[-1]
        self.assertAlmostEqual(last.balance_end_real, journal.account_online_account_id.balance, places=2)

    def _sync_late_booking(self, journal):
        """The bank booked 100.00 on 30 October but only shows it on 26
        November; the overlap of that day's sync reaches back to it."""
        late = self._transaction("LATE-1", "100.00", dt.date(2026, 10, 30), label="Late booking")
        journal.account_online_account_id.sudo().last_sync = dt.date(2026, 11, 5)
        with freeze_time("2026-11-26 10:00:00"), self._bank_shows([late], balance_delta="100.00"):
            journal.manual_sync()

    def test_statements_say_what_odoo_computes_around_a_line_without_statement(self):
        """A line entered by hand between two monthly statements, then a late
        booking into the earlier one: each statement's first line, date,
        balances and completeness are what Odoo's own computes make of the
        lines, and the next statement starts after the hand-made line."""
        link = self._connect()
        journal = self._journal(link)
        account = journal.account_online_account_id
        statements = self._lines(journal).statement_id
        october, november = (statements.filtered(lambda s, month=month: s.name == f"{journal.code} {month} 2026")
                             for month in ("October", "November"))
        cash = self.env["account.bank.statement.line"].create({
            "journal_id": journal.id, "date": dt.date(2026, 10, 31), "payment_ref": "Cash deposit", "amount": 50.0,
        })
        self._sync_late_booking(journal)
        line = self._lines(journal).filtered(lambda l: l.online_transaction_identifier == "LATE-1")
        self.assertEqual(line.statement_id, october)
        self.assertFalse(cash.statement_id)
        self.assertAlmostEqual(november.balance_start, october.balance_end_real + 50.0, places=2)
        self.assertStatementsAsOdooComputes(self.env["account.bank.statement"].search([("journal_id", "=", journal.id)]))
        # The hand-made line is not the bank's: the journal says 50.00 more, and the user is told.
        self.assertAlmostEqual(account.balance_difference, 50.0, places=2)

    def test_late_transaction_joins_its_month_and_later_statements_follow(self):
        link = self._connect()
        journal = self._journal(link)
        account = journal.account_online_account_id
        self._sync_late_booking(journal)
        line = self._lines(journal).filtered(lambda l: l.online_transaction_identifier == "LATE-1")
        self.assertEqual(line.statement_id.name, f"{journal.code} October 2026")
        statements = self.env["account.bank.statement"].search([("journal_id", "=", journal.id)])
        for statement in statements:
            self.assertTrue(statement.is_complete and statement.is_valid, statement.name)
        self.assertAlmostEqual(statements.sorted("first_line_index")[-1].balance_end_real, account.balance, places=2)
        self.assertAlmostEqual(sum(self._lines(journal).mapped("amount")), account.balance, places=2)
