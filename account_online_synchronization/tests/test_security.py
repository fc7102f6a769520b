# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from unittest.mock import patch

from freezegun import freeze_time

from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from ..providers import ProviderUnreachable
from .common import NOW, DemoBankProvider, OnlineSyncCommon


@tagged("post_install", "-at_install")
@freeze_time(NOW)
class TestSecurity(OnlineSyncCommon):

    def test_credentials_are_for_settings_administrators_only(self):
        provider = self.env.ref("account_online_synchronization.provider_demo")
        provider.sudo().client_secret = "s3cr3t"
        accountant = new_test_user(
            self.env, login="accountant", groups="account.group_account_manager",
            company_id=self.env.company.id, company_ids=[self.env.company.id],
        )
        as_accountant = provider.with_user(accountant)
        self.assertEqual(as_accountant.name, "Demo Bank")
        with self.assertRaises(AccessError):
            as_accountant.read(["client_secret"])
        self.assertNotIn("client_secret", as_accountant.fields_get())
        self.assertEqual(provider.with_user(self.env.ref("base.user_admin")).client_secret, "s3cr3t")

    def test_a_company_never_sees_another_companys_connections(self):
        link = self._connect()
        other_company = self.setup_other_company()["company"]
        other_user = new_test_user(
            self.env, login="other", groups="account.group_account_manager",
            company_id=other_company.id, company_ids=[other_company.id],
        )
        Link = self.env["account.online.link"].with_user(other_user)
        self.assertFalse(Link.search([]))
        self.assertFalse(self.env["account.online.account"].with_user(other_user).search([]))
        self.assertFalse(self.env["account.bank.statement.line"].with_user(other_user).search(
            [("journal_id", "in", link.journal_ids.ids)]))
        with self.assertRaises(AccessError):
            link.with_user(other_user).read(["name"])

    def test_a_bookkeeper_can_synchronize(self):
        link = self._connect()
        bookkeeper = new_test_user(
            self.env, login="bookkeeper", groups="account.group_account_user",
            company_id=self.env.company.id, company_ids=[self.env.company.id],
        )
        with freeze_time("2026-12-01 10:00:00"):
            action = link.journal_ids[0].with_user(bookkeeper).manual_sync()
        self.assertEqual(action["params"]["type"], "success")
        self.assertGreater(int(action["params"]["message"].split()[0]), 0)

    def test_a_bookkeeper_sees_a_failed_sync_explained(self):
        link = self._connect()
        bookkeeper = new_test_user(
            self.env, login="bookkeeper2", groups="account.group_account_user",
            company_id=self.env.company.id, company_ids=[self.env.company.id],
        )
        journal = link.journal_ids[0]
        with freeze_time("2026-12-01 10:00:00"), \
                patch.object(DemoBankProvider, "get_balance", side_effect=ProviderUnreachable("Bank down.")), \
                mute_logger("odoo.addons.account_online_synchronization.models.account_online_link"), \
                self.assertRaisesRegex(UserError, "(?s)Bank down.*Reference"):
            journal.with_user(bookkeeper).manual_sync()
        self.assertEqual(link.state, "error")
        self.assertIn(link.last_error_reference, journal.message_ids[0].body)
