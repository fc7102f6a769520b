# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Money never goes missing nor counts twice without a word: the journal's
balance ends equal to the bank's, or the user is told."""
import datetime as dt
from collections import Counter
from unittest.mock import patch

from freezegun import freeze_time

from odoo.tests import tagged
from odoo.tools import mute_logger

from ..models import account_online_account
from .common import LOGGER, NOW, OnlineSyncCommon

# Booked on the day of the first synchronization (10:00 UTC), before and after it.
MORNING_25 = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.timezone.utc)
EVENING_25 = dt.datetime(2026, 11, 25, 19, 0, tzinfo=dt.timezone.utc)


@tagged("post_install", "-at_install")
@freeze_time(NOW)
class TestNothingLost(OnlineSyncCommon):

    def _identifiers(self, journal):
        return Counter(self._lines(journal).filtered("online_transaction_identifier")
                       .mapped("online_transaction_identifier"))

    def _assert_no_identifier_twice(self, journal):
        self.assertFalse([i for i, count in self._identifiers(journal).items() if count > 1])

    # -- one identifier, several transactions --------------------------------

    def test_one_identifier_twice_in_one_answer_with_different_amounts(self):
        link = self._connect()
        journal = self._journal(link)
        day = dt.date(2026, 11, 24)
        batch = [
            self._transaction("SAME-ID", "10.00", day, label="First"),
            self._transaction("SAME-ID", "25.00", day, label="Second"),
        ]
        with freeze_time("2026-11-25 12:00:00"), self._bank_shows(batch, balance_delta="35.00"):
            journal.manual_sync()
            journal.manual_sync()
        lines = self._lines(journal).filtered(lambda l: l.payment_ref in ("First", "Second"))
        self.assertEqual(sorted(lines.mapped("amount")), [10.0, 25.0], "both are imported, once each")
        self.assertIn("used one identifier for different transactions", self._messages(link)[0])
        self.assertIn("SAME-ID", self._messages(journal)[0])
        self.assertBooksMatchBank(journal)

    def test_one_identifier_in_batches_far_apart(self):
        """What the bank sends twice in one answer is found again in a later
        batch of it: sent again, once; reused for another amount, imported."""
        link = self._connect()
        journal = self._journal(link)
        repeated = [
            self._transaction("TWICE", "7.00", dt.date(2026, 11, 26), label="Sent twice"),
            self._transaction("REUSED", "3.00", dt.date(2026, 11, 26), label="Reused first"),
            self._transaction("REUSED", "5.00", dt.date(2026, 12, 2), label="Reused again"),
            self._transaction("TWICE", "7.00", dt.date(2026, 11, 27), label="Sent twice"),
        ]
        with freeze_time("2026-12-03 12:00:00"), self._bank_shows(repeated, balance_delta="15.00"), \
                patch.object(account_online_account, "IMPORT_BATCH_SIZE", 3):
            journal.manual_sync()
            journal.manual_sync()
            self.assertBooksMatchBank(journal)
        lines = self._lines(journal).filtered(lambda l: l.payment_ref.startswith(("Sent twice", "Reused")))
        self.assertEqual(sorted(lines.mapped("amount")), [3.0, 5.0, 7.0])
        self._assert_no_identifier_twice(journal)

    def test_identifier_reused_later_for_another_transaction(self):
        link = self._connect()
        journal = self._journal(link)
        first = self._transaction("REUSED", "-4.50", dt.date(2026, 11, 24), label="Fee November")
        with freeze_time("2026-11-25 12:00:00"), self._bank_shows([first], balance_delta="-4.50"):
            journal.manual_sync()
        second = self._transaction("REUSED", "-6.00", dt.date(2026, 12, 20), label="Fee December")
        with freeze_time("2026-12-21 12:00:00"), self._bank_shows([first, second], balance_delta="-10.50"):
            journal.manual_sync()
            self.assertBooksMatchBank(journal)
        fees = self._lines(journal).filtered(lambda l: l.payment_ref.startswith("Fee "))
        self.assertEqual(sorted(fees.mapped("payment_ref")), ["Fee December", "Fee November"])

    def test_transaction_sent_again_a_day_later_is_not_imported_twice(self):
        link = self._connect()
        journal = self._journal(link)
        booked = self._transaction("MOVED", "7.00", dt.date(2026, 11, 24))
        with freeze_time("2026-11-25 12:00:00"), self._bank_shows([booked], balance_delta="7.00"):
            journal.manual_sync()
        moved = self._transaction("MOVED", "7.00", dt.date(2026, 11, 25))
        with freeze_time("2026-11-26 12:00:00"), self._bank_shows([moved], balance_delta="7.00"):
            journal.manual_sync()
            self.assertBooksMatchBank(journal)
        self.assertEqual(self._identifiers(journal)["MOVED"], 1)

    # -- days the bank does not keep any more --------------------------------

    def test_reconnected_after_the_banks_history_says_what_cannot_be_fetched(self):
        link = self._connect()
        journal = self._journal(link)
        with freeze_time("2027-06-01 10:00:00"), mute_logger(LOGGER):
            with self.assertRaisesRegex(Exception, "consent given to the bank has expired"):
                link.action_fetch_transactions()
            link.action_reconnect()
        self.assertEqual(link.state, "connected")
        messages = self._messages(journal)
        out_of_reach = [m for m in messages if "cannot be fetched any more" in m]
        self.assertTrue(out_of_reach, "the journal says which days are lost")
        # Synchronized until 25 November; the Demo Bank keeps 90 days before 1 June.
        self.assertIn("11/26/2026", out_of_reach[0])
        self.assertIn("03/02/2027", out_of_reach[0])
        self.assertTrue([m for m in self._messages(link) if "cannot be fetched any more" in m])
        # And the balances differ: the user is told by how much.
        account = journal.account_online_account_id
        self.assertTrue(account.balance_difference)
        self.assertAlmostEqual(self._journal_balance(journal) - account.balance, account.balance_difference, places=2)
        self.assertTrue([m for m in messages if "a difference of" in m])
        self.assertEqual(journal.account_online_balance_difference, account.balance_difference)

    # -- a journal linked again ----------------------------------------------

    def test_journal_linked_again_overlaps_its_last_days(self):
        morning = self._transaction("MORNING-25", "20.00", MORNING_25, label="Morning")
        with self._bank_shows([morning], balance_delta="20.00"):
            link = self._connect()
        journal = self._journal(link)
        self.assertEqual(max(self._lines(journal).mapped("date")), dt.date(2026, 11, 25))
        count = len(self._lines(journal))
        link.unlink()  # the online account goes with it; the journal and its lines stay
        self.assertFalse(journal.account_online_account_id)
        # After the last sync, the bank booked a transaction of 23 November, and
        # one more on 25 November in the evening.
        late = self._transaction("LATE-23", "55.00", dt.date(2026, 11, 23), label="Booked late")
        evening = self._transaction("EVENING-25", "-30.00", EVENING_25, label="Evening")
        with freeze_time("2026-12-05 10:00:00"), \
                self._bank_shows([morning, late, evening], balance_delta="45.00"):
            link = self._connect()
            self.assertEqual(self._journal(link), journal, "the journal is linked again")
            lines = self._lines(journal)
            self.assertTrue(lines.filtered(lambda l: l.online_transaction_identifier == "LATE-23"))
            self.assertTrue(lines.filtered(lambda l: l.online_transaction_identifier == "EVENING-25"))
            self.assertGreater(len(lines), count)
            # The rest of 25 November, after the first sync at 10:00, is there too.
            posted = {t.identifier for t in self._demo_transactions(
                link, date_from=dt.date(2026, 11, 18), date_to=dt.date(2026, 12, 5)) if t.is_posted}
            self.assertLessEqual(posted, set(self._identifiers(journal)))
            self._assert_no_identifier_twice(journal)
            self.assertBooksMatchBank(journal)

    def test_journal_of_an_earlier_installation_is_continued(self):
        morning = self._transaction("MORNING-25", "20.00", MORNING_25, label="Morning")
        with self._bank_shows([morning], balance_delta="20.00"):
            link = self._connect()
        journal = self._journal(link)
        # Uninstalling the addon drops what it added to the lines.
        link.unlink()
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE account_bank_statement_line SET online_transaction_identifier = NULL, "
            "online_account_id = NULL WHERE journal_id = %s", [journal.id],
        )
        self.env.invalidate_all()
        before = Counter((l.date, l.amount) for l in self._lines(journal))
        evening = self._transaction("EVENING-25", "-30.00", EVENING_25, label="Evening")
        # The bank repeats the morning's transaction in its answer: still one line.
        with freeze_time("2026-12-05 10:00:00"), \
                self._bank_shows([morning, morning, evening], balance_delta="-10.00"):
            link = self._connect()
            self.assertEqual(self._journal(link), journal)
            after = Counter((l.date, l.amount) for l in self._lines(journal))
            self.assertFalse(before - after, "nothing lost")
            self.assertTrue(after - before, "the new days are imported")
            self.assertEqual(after[(dt.date(2026, 11, 25), -30.0)], before[(dt.date(2026, 11, 25), -30.0)] + 1,
                             "the rest of the last day too")
            self.assertBooksMatchBank(journal)

    # -- the same bank connected twice ---------------------------------------

    def test_same_bank_connected_twice_feeds_the_same_journals(self):
        first = self._connect()
        journals = first.journal_ids
        counts = {j: len(self._lines(j)) for j in journals}
        with freeze_time("2026-11-25 14:00:00"):
            second = self._connect()
        self.assertEqual(second.journal_ids, journals, "no second pair of journals")
        self.assertFalse(first.journal_ids)
        bank_journals = self.env["account.journal"].search([("type", "=", "bank"), ("name", "like", "Demo Bank")])
        self.assertEqual(bank_journals, journals)
        for journal in journals:
            self.assertLessEqual(len(self._lines(journal)) - counts[journal], 3, "only what was booked since")
            self._assert_no_identifier_twice(journal)
            self.assertBooksMatchBank(journal)
        self.assertTrue([m for m in self._messages(first) if "is now synchronized by the connection" in m])

    # -- statements ----------------------------------------------------------

    def test_every_synchronization_periodicity_never_overlaps(self):
        link = self._connect()
        journal = self._journal(link)
        journal.bank_statement_creation_groupby = "none"
        late = self._transaction("LATE-20", "12.00", dt.date(2026, 11, 20), label="Booked late")
        with freeze_time("2026-12-09 10:00:00"), self._bank_shows([late], balance_delta="12.00"):
            journal.manual_sync()
            self.assertBooksMatchBank(journal)
        november = self.env["account.bank.statement"].search(
            [("journal_id", "=", journal.id), ("name", "=", f"{journal.code} November 2026")])
        line = self._lines(journal).filtered(lambda l: l.online_transaction_identifier == "LATE-20")
        self.assertEqual(line.statement_id, november, "an old line joins the statement of its dates")
        statements = self.env["account.bank.statement"].search(
            [("journal_id", "=", journal.id)]).sorted("first_line_index")
        for previous, statement in zip(statements, statements[1:]):
            self.assertLess(max(previous.line_ids.mapped("date")), min(statement.line_ids.mapped("date")),
                            f"{previous.name} and {statement.name} do not overlap")
        self.assertRegex(statements[-1].name, rf"^{journal.code} 12/0\d/2026$")

    # -- the safety net ------------------------------------------------------

    def test_balance_difference_is_told_with_both_amounts(self):
        link = self._connect()
        journal = self._journal(link)
        with freeze_time("2026-11-25 12:00:00"), self._bank_shows([], balance_delta="12.34"):
            journal.manual_sync()
        account = journal.account_online_account_id
        self.assertAlmostEqual(account.balance_difference, -12.34, places=2)
        message = self._messages(journal)[0]
        self.assertIn("a difference of", message)
        self.assertIn(f"{account.balance:,.2f}", message)
        self.assertIn(f"{self._journal_balance(journal):,.2f}", message)
        self.assertIn("12.34", message)
        self.assertEqual(self._messages(link)[0], message)
        # Told once, not at every synchronization.
        with freeze_time("2026-11-25 13:00:00"), self._bank_shows([], balance_delta="12.34"):
            journal.manual_sync()
        self.assertEqual(self._messages(journal)[0], message)
        # The missing transaction arrives: the books match again, and the user hears it.
        missing = self._transaction("FOUND", "12.34", dt.date(2026, 11, 25))
        with freeze_time("2026-11-25 14:00:00"), self._bank_shows([missing], balance_delta="12.34"):
            journal.manual_sync()
            self.assertBooksMatchBank(journal)
        self.assertIn("matches the bank's again", self._messages(journal)[0])
