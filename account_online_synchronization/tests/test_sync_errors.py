# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime as dt
from unittest.mock import patch

import psycopg2.errors
from freezegun import freeze_time

from odoo import sql_db
from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .. import providers
from ..models.account_online_link import SYNC_LOCK_KEY
from .common import LOGGER, NOW, DemoBankProvider, OnlineSyncCommon


@tagged("post_install", "-at_install")
@freeze_time(NOW)
class TestSyncErrors(OnlineSyncCommon):

    def test_rate_limit_says_when_and_is_not_an_error(self):
        link = self._connect("DEMO_BETA")  # one refresh a day, used by the first sync
        journal = link.journal_ids
        count = len(self._lines(journal))
        with freeze_time("2026-11-25 18:00:00"):
            action = journal.manual_sync()
            self.assertEqual(action["params"]["type"], "warning")
            self.assertIn("Next refresh possible from 11/26/2026 11:00:00", action["params"]["message"])
            self.assertEqual(link.state, "connected")
            self.assertEqual(link.rate_limit_reset, dt.datetime(2026, 11, 26, 10, 0))
            # The scheduled action runs at 22:00 and every 12 hours: the first
            # run the bank accepts is the one of 10:00 the next day.
            self.assertEqual(link.next_refresh, dt.datetime(2026, 11, 26, 10, 0))
            self.assertIn("does not accept a new refresh yet", self._messages(link)[0])
            self.assertEqual(len(self._lines(journal)), count)
        with freeze_time("2026-11-26 10:30:00"):
            journal.manual_sync()
            self.assertFalse(link.rate_limit_reset)
            self.assertEqual(journal.account_online_account_id.last_sync, dt.date(2026, 11, 26))

    def test_rate_limited_connection_waits_for_the_reset(self):
        link = self._connect("DEMO_BETA")
        with freeze_time("2026-11-25 18:00:00"):
            journal = link.journal_ids
            journal.manual_sync()
        messages = len(link.message_ids)
        with patch.object(DemoBankProvider, "refresh", side_effect=AssertionError("the bank is not asked")):
            for when in ("2026-11-25 22:00:00", "2026-11-26 06:00:00"):
                with freeze_time(when):
                    self._run_cron()
                    action = journal.manual_sync()
                    self.assertEqual(action["params"]["type"], "warning")
        self.assertEqual(len(link.message_ids), messages, "no new message while waiting")
        self.assertEqual(link.state, "connected")

    def test_rate_limit_without_reset_time(self):
        link = self._connect()
        refusal = providers.RateLimited("Too many requests.")
        with freeze_time("2026-11-25 18:00:00"), patch.object(DemoBankProvider, "refresh", side_effect=refusal):
            action = link.action_fetch_transactions()
        message = action["params"]["message"]
        self.assertNotIn("from .", message)
        self.assertRegex(message, r"Next refresh possible from 11/25/2026 \d\d:\d\d:\d\d")
        self.assertIn("Too many requests.", self._messages(link)[0])
        self.assertEqual(link.state, "connected")

    def test_rate_limit_on_any_call_is_not_an_error(self):
        link = self._connect()
        journals = link.journal_ids
        counts = {journal: len(self._lines(journal)) for journal in journals}
        real_get_transactions = DemoBankProvider.get_transactions
        reset = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.timezone.utc)

        def quota_spent_on_dollars(provider, consent, account_id, date_from, date_to):
            if account_id.endswith("dollar"):
                raise providers.RateLimited("4 calls a day.", reset_at=reset)
            return real_get_transactions(provider, consent, account_id, date_from, date_to)

        with freeze_time("2026-12-01 10:00:00"), \
                patch.object(DemoBankProvider, "get_transactions", quota_spent_on_dollars):
            action = link.action_fetch_transactions()
            self.assertEqual(action["params"]["type"], "warning")
            self.assertEqual(link.state, "connected")
            self.assertEqual(link.rate_limit_reset, dt.datetime(2026, 12, 2, 9, 0))
            self.assertEqual({journal: len(self._lines(journal)) for journal in journals}, counts,
                             "all or nothing: the EUR account's import waits too")
            self.assertIn("4 calls a day.", self._messages(link)[0])
        with freeze_time("2026-12-02 09:30:00"):
            link.action_fetch_transactions()
            for journal in journals:
                self.assertGreater(len(self._lines(journal)), counts[journal])
                self.assertBooksMatchBank(journal)

    def test_cron_tells_an_odoo_error_inside_an_import(self):
        link = self._connect()
        journal = self._journal(link)
        journal.suspense_account_id = False
        with freeze_time("2026-12-05 10:00:00"), mute_logger(LOGGER):
            self._run_cron()
        self.assertEqual(link.state, "error")
        reference = link.last_error_reference
        self.assertTrue(reference)
        self.assertIn(reference, self._messages(link)[0])
        self.assertIn("suspense account", self._messages(link)[0])
        self.assertIn(reference, self._messages(journal)[0])
        self.assertEqual(journal.account_online_account_id.last_sync, dt.date(2026, 11, 25))

    def test_cron_goes_on_after_a_serialization_failure(self):
        busy = self._connect()
        healthy = self._connect("DEMO_BETA")
        real_get_balance = DemoBankProvider.get_balance

        def get_balance(provider, consent, account_id):
            if account_id.startswith("DEMO_BANK"):
                raise psycopg2.errors.SerializationFailure("could not serialize access due to concurrent update")
            return real_get_balance(provider, consent, account_id)

        with freeze_time("2026-12-05 10:00:00"), patch.object(DemoBankProvider, "get_balance", get_balance), \
                patch.object(DemoBankProvider, "refresh"), mute_logger(LOGGER):
            self._run_cron()
        self.assertEqual(busy.state, "connected", "a concurrent transaction is not the bank's fault")
        self.assertFalse(busy.last_error_reference)
        self.assertEqual(busy.account_online_account_ids.mapped("last_sync"), [dt.date(2026, 11, 25)] * 3)
        self.assertEqual(healthy.account_online_account_ids.last_sync, dt.date(2026, 12, 5))

    def test_manual_sync_tells_an_unexpected_error_with_a_reference(self):
        link = self._connect()
        with freeze_time("2026-12-05 10:00:00"), mute_logger(LOGGER), \
                patch.object(DemoBankProvider, "get_balance", side_effect=KeyError("balances")), \
                self.assertRaisesRegex(UserError, "(?s)Unexpected error.*Reference: ") as caught:
            link.journal_ids[0].manual_sync()
        self.assertEqual(link.state, "error")
        self.assertIn(link.last_error_reference, str(caught.exception))
        self.assertIn(link.last_error_reference, self._messages(link)[0])
        self.assertIn("KeyError", self._messages(link)[0])

    def test_simultaneous_fetch_accounts_is_refused_clearly(self):
        institution = self.env["account.online.institution"].search([("identifier", "=", "DEMO_BANK")])
        link = self.env["account.online.link"].create({"institution_id": institution.id})
        # Consent given, accounts not fetched yet.
        step = link.provider_id._get_client().start_connect("DEMO_BANK", "", link.client_reference)
        link._save_consent(step.consent)
        link.sudo().state = "connected"
        # A connection of its own, as another worker has (the registry's
        # cursors share the test's connection in tests).
        with sql_db.db_connect(self.env.cr.dbname).cursor() as other_cr:
            # Another worker fetching the accounts of this connection right now.
            other_cr.execute("SELECT pg_advisory_lock(%s, %s)", [SYNC_LOCK_KEY, link.id])
            try:
                with self.assertRaisesRegex(UserError, "being synchronized right now"):
                    link.action_fetch_accounts()
                with self.assertRaisesRegex(UserError, "being synchronized right now"):
                    link.action_fetch_transactions()
            finally:
                other_cr.execute("SELECT pg_advisory_unlock(%s, %s)", [SYNC_LOCK_KEY, link.id])
        self.assertEqual(link.state, "connected")
        self.assertFalse(link.account_online_account_ids)
        link.action_fetch_accounts()
        self.assertEqual(len(link.account_online_account_ids), 3)

    def test_manual_only_bank_is_left_to_manual_syncs(self):
        link = self._connect("DEMO_MANUAL")
        self.assertFalse(link.auto_sync, "a bank that forbids automatic sync starts without it")
        journal = link.journal_ids
        self.assertTrue(self._lines(journal), "the first sync, started by the user, is allowed")
        with self.assertRaisesRegex(UserError, "Please disable automatic synchronization"):
            link.auto_sync = True
        with freeze_time("2026-12-05 10:00:00"):
            self._run_cron()
            self.assertEqual(journal.account_online_account_id.last_sync, dt.date(2026, 11, 25))
            journal.manual_sync()
            self.assertEqual(journal.account_online_account_id.last_sync, dt.date(2026, 12, 5))

    def test_cron_on_a_bank_that_forbids_it_asks_to_disable_auto_sync(self):
        link = self._connect("DEMO_MANUAL")
        # As if set before the bank changed its rules.
        self.env.cr.execute("UPDATE account_online_link SET auto_sync = TRUE WHERE id = %s", [link.id])
        link.invalidate_recordset()
        with freeze_time("2026-12-05 10:00:00"), mute_logger(LOGGER):
            self._run_cron()
        self.assertFalse(link.auto_sync)
        self.assertEqual(link.state, "connected")
        self.assertIn("Please disable automatic synchronization", self._messages(link)[0])
        self.assertEqual(link.journal_ids.account_online_account_id.last_sync, dt.date(2026, 11, 25))

    def test_expired_consent_disconnects(self):
        link = self._connect()
        self.assertEqual(link.expiring_synchronization_date, dt.date(2027, 2, 23))
        with freeze_time("2027-03-01 10:00:00"), mute_logger(LOGGER):
            with self.assertRaisesRegex(UserError, "consent given to the bank has expired"):
                link.action_fetch_transactions()
            self.assertEqual(link.state, "disconnected")
            self.assertIn(link.last_error_reference, self._messages(link)[0])
            with self.assertRaisesRegex(UserError, "Reconnect"):
                link.journal_ids[0].manual_sync()
            # Reconnecting gives a new consent; the accounts and journals stay.
            journals = link.journal_ids
            link.action_reconnect()
            self.assertEqual(link.state, "connected")
            self.assertEqual(link.journal_ids, journals)
            self.assertEqual(link.account_online_account_ids.mapped("last_sync"), [dt.date(2027, 3, 1)] * 3)

    def test_cron_isolates_links(self):
        broken = self._connect()
        healthy = self._connect("DEMO_BETA")
        real_refresh = DemoBankProvider.refresh

        def refresh(provider, consent, automatic):
            if consent.data["institution"] == "DEMO_BANK":
                raise RuntimeError("bug in a connector")
            return real_refresh(provider, consent, automatic)

        with freeze_time("2026-12-05 10:00:00"), patch.object(DemoBankProvider, "refresh", refresh), \
                mute_logger(LOGGER):
            self._run_cron()
        self.assertEqual(broken.state, "error")
        self.assertIn("Unexpected error", self._messages(broken)[0])
        self.assertEqual(broken.account_online_account_ids.mapped("last_sync"), [dt.date(2026, 11, 25)] * 3)
        self.assertEqual(healthy.state, "connected")
        self.assertEqual(healthy.account_online_account_ids.last_sync, dt.date(2026, 12, 5))

        # Errors are retried by the cron; once the bank answers, the link heals.
        with freeze_time("2026-12-06 10:00:00"):
            self._run_cron()
        self.assertEqual(broken.state, "connected")
        self.assertEqual(broken.account_online_account_ids.mapped("last_sync"), [dt.date(2026, 12, 6)] * 3)

    def test_fetch_accounts_finds_nothing_new(self):
        link = self._connect()
        action = link.action_fetch_accounts()
        self.assertEqual(action["params"]["message"], "0 new bank account(s) found.")
        self.assertEqual(len(link.account_online_account_ids), 3)

    def test_add_a_bank_account_wizard_and_cron(self):
        wizard = self.env["account.online.connect.wizard"].create({
            "institution_id": self.env["account.online.institution"].search([("identifier", "=", "DEMO_BANK")]).id,
            "phone": "+32 470 12 34 56",
        })
        self.assertEqual(wizard.institution_provider_id, self.env.ref("account_online_synchronization.provider_demo"))
        choice = wizard.action_connect()
        action = self.env[choice["res_model"]].with_context(choice["context"]).create({}).action_synchronize()
        link = self.env["account.online.link"].browse(action["params"]["next"]["res_id"])
        self.assertEqual(link.state, "connected")
        self.assertEqual(len(link.journal_ids), 3)
        self.assertTrue(all(self._lines(journal) for journal in link.journal_ids))
        cron = self.env.ref("account_online_synchronization.online_sync_cron")
        self.assertEqual((cron.interval_number, cron.interval_type), (12, "hours"))
        self.assertEqual(link.next_refresh, dt.datetime(2026, 11, 25, 22, 0), "the next run of the scheduled action")
