# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The scheduled actions, run as Odoo's cron worker runs them: connections
marked due and shared between the two actions, each taken once, and the
batches of a long import kept as they are committed."""
import datetime as dt
from unittest.mock import patch

from freezegun import freeze_time

from odoo.tests import tagged
from odoo.tools import mute_logger

from ..models import account_journal, account_online_account
from .common import LOGGER, NOW, REQUESTED_CRON_XMLID, CountingDemoBank, OnlineSyncCommon


@tagged("post_install", "-at_install")
@freeze_time(NOW)
class TestScheduledSync(OnlineSyncCommon):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.bank, cls.neobank, cls.manual = cls._connect(), cls._connect("DEMO_BETA"), cls._connect("DEMO_MANUAL")
        cls.automatic = cls.bank | cls.neobank
        cls.requested_cron = cls.env.ref(REQUESTED_CRON_XMLID)

    def _triggers(self, cron):
        return self.env["ir.cron.trigger"].sudo().search([("cron_id", "=", cron.id)])

    def test_due_connections_are_synchronized_once_and_shared(self):
        Link = self.env["account.online.link"]
        with freeze_time("2026-11-27 22:00:00"), CountingDemoBank() as bank:
            self._triggers(self.requested_cron).unlink()
            self._run_cron()
            self.assertEqual(bank.calls, 2, "each connection with automatic synchronization, once")
            for link in self.automatic:
                self.assertEqual(link.last_refresh, dt.datetime(2026, 11, 27, 22, 0), link.name)
                self.assertEqual(link.scheduled_sync_started, dt.datetime(2026, 11, 27, 22, 0))
                self.assertFalse(link.sync_requested)
                for journal in link.journal_ids:
                    self.assertEqual(journal.account_online_account_id.last_sync, dt.date(2026, 11, 27))
                    self.assertBooksMatchBank(journal)
            self.assertFalse(self.manual.scheduled_sync_started, "a bank that wants users to start syncs")
            self.assertTrue(self._triggers(self.requested_cron), "the second scheduled action was woken to help")

            # The second action, woken, finds nothing left; neither does a second run of the first.
            self._run_cron(REQUESTED_CRON_XMLID)
            self._run_cron()
            self.assertEqual(bank.calls, 2, "no connection synchronized twice")

        with freeze_time("2026-11-28 04:00:00"), CountingDemoBank() as bank:
            self._run_cron()
            self.assertEqual(bank.calls, 0, "taken six hours ago: not due in the middle of the interval")
        with freeze_time("2026-11-28 10:00:00"), CountingDemoBank() as bank:
            self._run_cron()
            self.assertEqual(bank.calls, 2, "both due again twelve hours later")
            self.assertEqual(self.bank.last_refresh, dt.datetime(2026, 11, 28, 10, 0))
            self.assertEqual(self.neobank.rate_limit_reset, dt.datetime(2026, 11, 28, 22, 0),
                             "its one refresh a day was spent: the bank said until when")

        # What one worker took, another does not take again.
        with freeze_time("2026-11-28 23:00:00"):
            self.automatic.sudo().sync_requested = True
            requested = [*Link._cron_domain(), ("sync_requested", "=", True)]
            taken = Link._claim(requested) | Link._claim(requested)
            self.assertEqual(taken, self.automatic.sorted("id"))
            self.assertFalse(Link._claim(requested))
            self.assertFalse(any(self.automatic.mapped("sync_requested")))

    def test_announced_updates_wait_for_no_12_hour_run(self):
        with freeze_time("2026-11-26 11:00:00"), CountingDemoBank() as bank:
            self.bank.sudo().sync_requested = True  # what a notification of the aggregator does
            self._run_cron(REQUESTED_CRON_XMLID)
            self.assertEqual(bank.calls, 1, "only the connection that was announced")
            self.assertEqual(self.bank.last_refresh, dt.datetime(2026, 11, 26, 11, 0))
            self.assertFalse(self.bank.sync_requested)

    def test_interrupted_import_keeps_committed_batches_and_resumes(self):
        link = self.bank
        journal = self._journal(link)
        before = len(self._lines(journal))
        real_group = account_journal.AccountJournal._online_sync_group_in_statements
        calls = []

        def crash_in_third_batch(batch_journal, lines):
            calls.append(batch_journal)
            if calls.count(journal) == 3 and batch_journal == journal:
                raise RuntimeError("worker lost its database connection")
            return real_group(batch_journal, lines)

        # Six weeks without synchronization: more than two batches of new lines.
        with freeze_time("2027-01-06 22:00:00"), patch.object(account_online_account, "IMPORT_BATCH_SIZE", 10):
            expected = [t for t in self._demo_transactions(link, date_from=dt.date(2026, 11, 18),
                                                              date_to=dt.date(2027, 1, 7))
                        if t.is_posted]
            with patch.object(account_journal.AccountJournal, "_online_sync_group_in_statements",
                              crash_in_third_batch), mute_logger(LOGGER):
                self._run_cron()
            self.assertEqual(calls.count(journal), 3)
            self.assertEqual(len(self._lines(journal)), before + 20, "the two committed batches are kept")
            self.assertEqual(link.state, "error")
            self.assertEqual(self.neobank.last_refresh, dt.datetime(2027, 1, 6, 22, 0), "the others went on")
            self.assertIn("Unexpected error during the synchronization.", self._messages(journal)[0])
            self.assertEqual(journal.account_online_account_id.last_sync, dt.date(2026, 11, 25),
                             "the window is fetched again")

        with freeze_time("2027-01-07 10:00:00"), patch.object(account_online_account, "IMPORT_BATCH_SIZE", 10):
            self._run_cron()
        self.assertEqual(link.state, "connected")
        lines = self._lines(journal)
        identifiers = lines.filtered("online_transaction_identifier").mapped("online_transaction_identifier")
        self.assertEqual(len(identifiers), len(set(identifiers)), "nothing imported twice")
        self.assertTrue({t.identifier for t in expected} <= set(identifiers), "nothing missing")
        self.assertBooksMatchBank(journal)
        moves = lines.move_id.sorted(lambda move: (move.sequence_prefix, move.sequence_number))
        self.assertEqual(set(moves.mapped("state")), {"posted"})
        for prefix in set(moves.mapped("sequence_prefix")):
            numbers = moves.filtered(lambda move: move.sequence_prefix == prefix).mapped("sequence_number")
            self.assertEqual(numbers, list(range(1, len(numbers) + 1)), f"{prefix}: no gap")
