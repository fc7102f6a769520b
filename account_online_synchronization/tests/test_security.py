# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Roles as Community has them: the Accounting Administrator connects,
configures and synchronizes; a user with full accounting features
synchronizes; read-only users see; Billing users see nothing of it."""
import datetime as dt
import re
from unittest.mock import patch

from freezegun import freeze_time

from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from ..providers import ProviderUnreachable
from .common import LOGGER, NOW, ConnectedCommon, DemoBankProvider


@tagged("post_install", "-at_install")
@freeze_time(NOW)
class TestSecurity(ConnectedCommon):

    def test_the_administrator_of_a_fresh_database_connects_and_synchronizes(self):
        # Nothing granted by the tests: admin is what a fresh Community database makes of it.
        self.assertEqual(self.env.user, self.env.ref("base.user_admin"))
        self.assertTrue(self.env.user.has_group("account.group_account_manager"))
        self.assertFalse(self.env.user.has_group("account.group_account_user"))
        self.assertEqual(self.link.state, "connected")
        self.assertTrue(self._lines(self.journal))
        with freeze_time("2026-12-01 10:00:00"):
            action = self.journal.manual_sync()
        self.assertEqual(action["params"]["type"], "success")
        self.assertGreater(int(re.match(r"Demo Bank: (\d+) new transaction", action["params"]["message"])[1]), 0)

    def test_credentials_and_their_address_are_for_settings_administrators_only(self):
        provider = self.env.ref("account_online_synchronization.provider_demo")
        provider.sudo().client_secret = "s3cr3t"
        accountant = self._user("accountant", "account.group_account_manager")
        as_accountant = provider.with_user(accountant)
        self.assertEqual(as_accountant.name, "Demo Bank")
        with self.assertRaises(AccessError):
            as_accountant.read(["client_secret"])
        self.assertNotIn("client_secret", as_accountant.fields_get())
        # Where the secrets are sent is theirs too.
        self.assertNotIn("api_base_url", as_accountant.fields_get())
        with self.assertRaises(AccessError):
            as_accountant.write({"api_base_url": "https://collector.example"})
        with self.assertRaises(AccessError):
            as_accountant.write({"code": "demo"})
        self.assertFalse(provider.sudo().api_base_url)
        as_accountant.write({"name": "Demo Bank (sandbox)"})  # the rest is theirs to configure
        self.assertEqual(provider.with_user(self.env.ref("base.user_admin")).client_secret, "s3cr3t")

    def test_a_company_never_sees_another_companys_connections(self):
        other_company = self.env["res.company"].sudo().create({"name": "Other Company"})
        other_user = new_test_user(
            self.env(context={}), login="other", groups="base.group_user,account.group_account_manager",
            company_id=other_company.id, company_ids=[other_company.id],
        )
        as_other = self.env(user=other_user, context={"allowed_company_ids": other_company.ids})
        self.assertFalse(as_other["account.online.link"].search([]))
        self.assertFalse(as_other["account.online.account"].search([]))
        with self.assertRaises(AccessError):
            self.link.with_env(as_other).read(["name"])

    def test_nobody_writes_what_only_the_synchronization_writes(self):
        bookkeeper = self._user("bookkeeper", "account.group_account_user")
        account = self.journal.account_online_account_id
        for user in (bookkeeper, self.env.user):
            for vals in ({"state": "connected"}, {"last_error_reference": "x"},
                         {"expiring_synchronization_date": dt.date(2030, 1, 1)}):
                with self.assertRaises(AccessError):
                    self.link.with_user(user).write(vals)
            for vals in ({"last_sync": dt.date(2030, 1, 1)}, {"balance": 1.0}, {"online_identifier": "other"}):
                with self.assertRaises(AccessError):
                    account.with_user(user).write(vals)
        other_company = self.env["res.company"].sudo().create({"name": "Other Company"})
        with self.assertRaises(AccessError):
            self.link.with_user(bookkeeper).write({"company_id": other_company.id})
        with self.assertRaisesRegex(UserError, "cannot change"):
            self.link.write({"company_id": other_company.id})
        self.assertEqual(self.link.company_id, self.company)
        self.assertEqual(account.last_sync, dt.date(2026, 11, 25))

    def test_a_user_with_full_accounting_features_synchronizes(self):
        bookkeeper = self._user("bookkeeper", "account.group_account_user")
        with freeze_time("2026-12-01 10:00:00"):
            action = self.journal.with_user(bookkeeper).manual_sync()
            self.assertEqual(action["params"]["type"], "success")
            self.assertGreater(int(re.match(r"Demo Bank: (\d+) new transaction", action["params"]["message"])[1]), 0)
            self.assertBooksMatchBank(self.journal)
        with self.assertRaises(AccessError):
            self.link.with_user(bookkeeper).action_reconnect()
        with self.assertRaises(AccessError):
            self.env["account.online.link"].with_user(bookkeeper).create(
                {"institution_id": self.link.institution_id.id})

    def test_a_user_with_full_accounting_features_sees_a_failed_sync_explained(self):
        bookkeeper = self._user("bookkeeper2", "account.group_account_user")
        with freeze_time("2026-12-01 10:00:00"), \
                patch.object(DemoBankProvider, "get_balance", side_effect=ProviderUnreachable("Bank down.")), \
                mute_logger(LOGGER), self.assertRaisesRegex(UserError, "(?s)Bank down.*Reference"):
            self.journal.with_user(bookkeeper).manual_sync()
        self.assertEqual(self.link.state, "error")
        self.assertIn(self.link.last_error_reference, self._messages(self.journal)[0])

    def test_read_only_users_see_and_do_not_synchronize(self):
        auditor = self._user("auditor", "account.group_account_readonly")
        link = self.link.with_user(auditor)
        self.assertEqual(link.state, "connected")
        self.assertEqual(link.account_online_account_ids.journal_ids, self.link.journal_ids)
        self.assertEqual(self.journal.with_user(auditor).account_online_link_id, self.link)
        with self.assertRaises(AccessError):
            link.action_fetch_transactions()
        with self.assertRaises(AccessError):
            self.journal.with_user(auditor).manual_sync()

    def test_billing_users_see_nothing_of_it(self):
        clerk = self._user("clerk", "account.group_account_invoice")
        with self.assertRaises(AccessError):
            self.link.with_user(clerk).read(["name"])
        with self.assertRaises(AccessError):
            self.env["account.online.account"].with_user(clerk).search([])
        journal = self.journal.with_user(clerk)
        self.assertEqual(journal.name, self.journal.name, "they still use the journal")
        self.assertNotIn("account_online_link_id", journal.fields_get())
        form = journal.get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertNotIn("account_online", form)
        self.assertNotIn("manual_sync", form)
