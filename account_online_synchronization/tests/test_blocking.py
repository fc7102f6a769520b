# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from unittest.mock import patch

from freezegun import freeze_time

from odoo.exceptions import ValidationError
from odoo.tests import Form, tagged
from odoo.tools import mute_logger

from ..models.account_online_link import BankSyncError, SyncBlocked
from ..providers import AuthenticationExpired, ConnectionSuspended, ConsentExpired
from .common import LOGGER, NOW, ConnectedCommon, CountingDemoBank, DemoBankProvider, OnlineSyncCommon


@tagged("post_install", "-at_install")
@freeze_time(NOW)
class TestBlockedConnections(ConnectedCommon):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.sudo().write({"account_online_phone": "+32470123456", "country_id": cls.env.ref("base.be").id})

    def _suspend(self):
        def suspended(*args, **kwargs):
            raise ConnectionSuspended("The bank suspended the access after repeated failures.")

        with patch.object(DemoBankProvider, "refresh", suspended), mute_logger(LOGGER), \
                self.assertRaisesRegex(BankSyncError, "suspended the access") as caught:
            self.link.action_fetch_transactions()
        return caught.exception

    def _reactivate(self, phone):
        action = self.link.action_reactivate()
        wizard = Form(self.env[action["res_model"]].with_context(action["context"]))
        wizard.phone = phone
        return wizard.save().action_reactivate()

    def test_a_suspended_connection_sends_nothing_until_reactivated(self):
        error = self._suspend()
        self.assertEqual(self.link.blocked_reason, "suspended")
        self.assertEqual(error.args[3], "reactivate", "the dialog offers Reactivate")
        self.assertEqual(error.args[4], "Bank Connection Blocked")
        activity = self.link.activity_ids.filtered(lambda a: a.summary == "Bank connection blocked")
        self.assertEqual(activity.user_id, self.admin, "the responsible is told")
        self.assertIn("Bank connection blocked", self.journal.message_ids.mapped("subject"))

        with CountingDemoBank() as bank:
            with self.assertRaisesRegex(SyncBlocked, "an administrator reactivates it"):
                self.link.action_fetch_transactions()
            self._run_cron()
            with self.assertRaisesRegex(SyncBlocked, "blocked"):
                self.link.action_fetch_accounts()
            with self.assertRaisesRegex(SyncBlocked, "blocked"):
                self.link.action_reconnect()
            self.assertEqual(bank.calls, 0, "no request left for the blocked connection")

        self.assertEqual(self.link.company_id._online_sync_masked_phone(), "+32•••••••56")
        with self.assertRaisesRegex(Exception, "is not the phone number My Company registered"):
            self._reactivate("+32 470 99 99 99")
        self.assertEqual(self.link.blocked_reason, "suspended")

        action = self._reactivate("0470 12 34 56")  # as written in Belgium
        self.assertEqual(action["params"]["message"], "Demo Bank is reactivated: synchronize it again.")
        self.assertFalse(self.link.blocked_reason)
        self.assertFalse(activity.exists() and activity.active, "the activity is done")
        self.assertIn("confirmed the company's phone number", self._messages(self.link)[0])
        with CountingDemoBank() as bank:
            self.link.action_fetch_transactions()
            self.assertEqual(bank.calls, 1)
        self.assertEqual(self.link.state, "connected")

    def test_repeated_authentication_failures_block(self):
        def login_expired(*args, **kwargs):
            raise AuthenticationExpired("The login at the bank must be renewed.")

        with patch.object(DemoBankProvider, "start_connect", login_expired), mute_logger(LOGGER):
            for attempt in range(1, 4):
                with self.assertRaisesRegex(BankSyncError, "must be renewed") as caught:
                    self.link.action_reconnect()
                self.assertEqual(self.link.auth_failure_count, attempt)
        self.assertEqual(self.link.blocked_reason, "authentication")
        self.assertIn("failed 3 times in a row", str(caught.exception))
        with CountingDemoBank() as bank, self.assertRaises(SyncBlocked):
            self.link.action_reconnect()
        self.assertEqual(bank.calls, 0)

    def test_a_copied_database_is_blocked_before_any_request(self):
        # What a copy of the database has: another uuid than the consent's.
        self.env["ir.config_parameter"].sudo().set_param("database.uuid", "copied-database-uuid")
        with CountingDemoBank() as bank:
            self._run_cron()
            self.assertEqual(bank.calls, 0, "the copy sends nothing")
            self.assertEqual(self.link.blocked_reason, "copied")
            with self.assertRaisesRegex(SyncBlocked, "This database is a copy of the one Demo Bank gave its consent to"):
                self.link.action_fetch_transactions()
            self.assertEqual(bank.calls, 0)
        self._reactivate("+32470123456")
        self.assertEqual(self.link.database_uuid, "copied-database-uuid", "the consent now belongs to this database")
        with CountingDemoBank() as bank:
            self.link.action_fetch_transactions()
            self.assertEqual(bank.calls, 1)

    def test_consent_error_offers_reconnect_with_its_reference(self):
        def expired(*args, **kwargs):
            raise ConsentExpired("The consent given to the bank has expired.")

        with patch.object(DemoBankProvider, "refresh", expired), mute_logger(LOGGER), \
                self.assertRaisesRegex(BankSyncError, "expired") as caught:
            self.link.action_fetch_transactions()
        message, reference, link_id, next_step, title = caught.exception.args
        self.assertEqual(message, "The consent given to the bank has expired.")
        self.assertEqual(reference, self.link.last_error_reference)
        self.assertEqual((link_id, next_step, title), (self.link.id, "reconnect", "Demo Bank Needs a New Consent"))


@tagged("post_install", "-at_install")
@freeze_time(NOW)
class TestRegistration(OnlineSyncCommon):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.write({"country_id": cls.env.ref("base.be").id})
        cls.institution = cls.env["account.online.institution"].search([("identifier", "=", "DEMO_BANK")])

    def _wizard(self, phone):
        wizard = Form(self.env["account.online.connect.wizard"])
        wizard.institution_id = self.institution
        self.assertTrue(wizard.phone_required, "asked at the company's first connection")
        wizard.phone = phone
        return wizard.save()

    def test_an_invalid_phone_number_is_refused_and_nothing_created(self):
        for phone in ("12", "+32 12", "hello"):
            wizard = self._wizard(phone)
            with self.assertRaisesRegex(ValidationError, "is not a valid phone number.*country code, e.g. \\+32"):
                wizard.action_connect()
            self.assertFalse(self.env["account.online.link"].search([]))
            self.assertFalse(self.company.sudo().account_online_phone)

    def test_the_phone_number_is_kept_in_international_format_and_asked_once(self):
        self._wizard("0470 12 34 56").action_connect()
        self.assertEqual(self.company.sudo().account_online_phone, "+32470123456")
        wizard = Form(self.env["account.online.connect.wizard"])
        self.assertFalse(wizard.phone_required)

    def test_a_trial_database_cannot_synchronize(self):
        link = self._connect()
        self.env["ir.config_parameter"].sudo().set_param("database.expiration_reason", "trial")
        with self.assertRaisesRegex(BankSyncError, "not available on a trial database"):
            self._wizard("+32470123456").action_connect()
        self.assertEqual(self.env["account.online.link"].search([]), link, "nothing created")
        with CountingDemoBank() as bank:
            with self.assertRaisesRegex(BankSyncError, "Register the database"):
                link.action_fetch_transactions()
            self.assertEqual(bank.calls, 0)
