# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime as dt

from freezegun import freeze_time

from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import LOGGER, NOW, OnlineSyncCommon


@tagged("post_install", "-at_install")
@freeze_time(NOW)
class TestConsentExpiry(OnlineSyncCommon):
    """The responsible of a connection is reminded before its consent ends,
    and the connection asks for Reconnect once it has."""

    def _reminders(self, link):
        return link.activity_ids.filtered(lambda activity: activity.summary.startswith("Bank consent ends"))

    def _run_cron_on(self, day):
        with freeze_time(f"{day} 06:00:00"):
            self.env["account.online.link"].sudo()._cron_consent_expiry()
        self.env.invalidate_all()

    def test_reminders_at_15_3_and_1_days_then_disconnected(self):
        accountant = self._user("expiry_accountant", "account.group_account_manager")
        link = self._connect()
        link.user_id = accountant
        self.assertIn(accountant.partner_id, link.message_partner_ids, "the responsible follows the connection")
        end = link.expiring_synchronization_date
        self.assertEqual(end, dt.date(2027, 2, 23), "the Demo Bank's consent lasts 90 days")

        self._run_cron_on(end - dt.timedelta(days=20))
        self.assertFalse(self._reminders(link))
        self._run_cron_on(end - dt.timedelta(days=15))
        reminder = self._reminders(link)
        self.assertEqual((reminder.summary, reminder.user_id, reminder.date_deadline),
                         ("Bank consent ends in 15 day(s)", accountant, end))
        self._run_cron_on(end - dt.timedelta(days=14))
        self.assertEqual(self._reminders(link), reminder, "one reminder per step, not one a day")
        self._run_cron_on(end - dt.timedelta(days=3))
        self.assertEqual(self._reminders(link).summary, "Bank consent ends in 3 day(s)")
        self._run_cron_on(end - dt.timedelta(days=1))
        self.assertEqual(self._reminders(link).summary, "Bank consent ends in 1 day(s)")
        self.assertEqual(link.state, "connected")

        with mute_logger(LOGGER):
            self._run_cron_on(end + dt.timedelta(days=1))
        self.assertEqual(link.state, "disconnected")
        self.assertIn("click Reconnect", self._messages(link)[0])

        # A new consent answers the reminder.
        with freeze_time(f"{end + dt.timedelta(days=1)} 09:00:00"):
            link.action_reconnect()
        self.env.invalidate_all()
        self.assertEqual(link.state, "connected")
        self.assertFalse(self._reminders(link))
        self.assertEqual(link.expiring_synchronization_date, end + dt.timedelta(days=91))

    def test_synchronizing_with_the_same_consent_keeps_the_reminder(self):
        """A synchronization saves the consent it used; only a new consent
        answers the reminder, which is not sent again every day."""
        link = self._connect()
        end = link.expiring_synchronization_date
        self._run_cron_on(end - dt.timedelta(days=15))
        reminder = self._reminders(link)
        self.assertEqual(reminder.summary, "Bank consent ends in 15 day(s)")
        with freeze_time(f"{end - dt.timedelta(days=15)} 10:00:00"):
            link.action_fetch_transactions()
        self.env.invalidate_all()
        self.assertEqual(self._reminders(link), reminder, "still to do: the consent was not renewed")
        self._run_cron_on(end - dt.timedelta(days=14))
        self.assertEqual(self._reminders(link), reminder, "one reminder per step, not one a day")
        self.assertEqual(link.state, "connected")
