# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Every menu and window of the addon opens for each role that should see it,
and for no other."""
from freezegun import freeze_time

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .common import NOW, ConnectedCommon

MODULE = "account_online_synchronization"
# Who opens which window: the Accounting Administrator everything; users with
# full accounting features and read-only users what they synchronize or see;
# Billing users none of it.
ROLES = {
    "admin": None,
    "manager": "account.group_account_manager",
    "accountant": "account.group_account_user",
    "auditor": "account.group_account_readonly",
    "clerk": "account.group_account_invoice",
}
SEES = {
    "action_account_online_link": {"admin", "manager", "accountant", "auditor"},
    "action_account_online_connect_wizard": {"admin", "manager"},
    "action_account_online_oca_takeover": {"admin", "manager"},
    "action_account_online_account": {"admin", "manager", "accountant", "auditor"},
    "action_account_online_institution": {"admin", "manager", "accountant", "auditor"},
    "action_account_online_provider": {"admin", "manager", "accountant", "auditor"},
    # Billing users read bank statement lines in Community: they get the list,
    # not what the addon adds to it.
    "action_online_bank_statement_lines": {"admin", "manager", "accountant", "auditor", "clerk"},
}
CONFIGURES = {"admin", "manager"}


@tagged("post_install", "-at_install")
@freeze_time(NOW)
class TestViews(ConnectedCommon):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.users = {
            role: cls.admin if groups is None else cls._user(role, groups)
            for role, groups in ROLES.items()
        }

    def _records(self, model):
        return self.env["ir.model.data"].search([("module", "=", MODULE), ("model", "=", model)])

    def test_every_window_action_is_covered(self):
        self.assertEqual(set(self._records("ir.actions.act_window").mapped("name")), set(SEES))

    def test_menus_show_to_who_configures(self):
        menus = self.env["ir.ui.menu"].browse(self._records("ir.ui.menu").mapped("res_id"))
        self.assertEqual(len(menus), 7)
        for role, user in self.users.items():
            visible = self._reachable_menu_ids(user)
            shown = menus.filtered(lambda m, visible=visible: m.id in visible)
            self.assertEqual(shown, menus if role in CONFIGURES else menus.browse(), role)

    def _reachable_menu_ids(self, user):
        """The menus the web client shows the user: the tree from the root."""
        tree = self.env["ir.ui.menu"].with_user(user).load_menus(debug=False)
        reachable, todo = set(), ["root"]
        while todo:
            menu = tree[todo.pop()]
            reachable.add(menu["id"])
            todo.extend(menu["children"])
        return reachable

    def _open(self, user, action):
        """Open the action as the web client does: its views, then its records."""
        Model = self.env[action.res_model].with_user(user).with_context(allowed_company_ids=self.company.ids)
        modes = action.view_mode.split(",")
        views = [(action.view_id.id if mode == modes[0] else False, mode) for mode in modes]
        result = Model.get_views(views + [(action.search_view_id.id, "search")])
        fields_of = result["models"][action.res_model]["fields"]
        self.assertTrue(fields_of)
        if "list" in modes:
            list_fields = {name: {} for name in fields_of if name in result["views"]["list"]["arch"]}
            rows = Model.web_search_read([], specification=list_fields, limit=10)
            if "form" in modes and rows["records"]:
                form_fields = {name: {} for name in fields_of if f'name="{name}"' in result["views"]["form"]["arch"]}
                Model.browse(rows["records"][0]["id"]).web_read(form_fields)
        return result

    def test_every_window_opens_for_each_role_that_sees_it(self):
        for xmlid, roles in SEES.items():
            action = self.env.ref(f"{MODULE}.{xmlid}")
            for role, user in self.users.items():
                with self.subTest(action=xmlid, role=role):
                    if role in roles:
                        self._open(user, action)
                    else:
                        with self.assertRaises(AccessError):
                            self._open(user, action)

    def test_billing_users_get_no_bank_connection_field(self):
        Line = self.env["account.bank.statement.line"].with_user(self.users["clerk"])
        arch = Line.get_views([(self.env.ref(f"{MODULE}.account_bank_statement_line_view_list_online_sync").id,
                                "list")])["views"]["list"]["arch"]
        self.assertNotIn("online_account_id", arch)
        self.assertNotIn("online_account_id", Line.fields_get())

    def test_connection_form_shows_its_buttons_to_who_may_use_them(self):
        for role, user in self.users.items():
            if role == "clerk":
                continue
            with self.subTest(role=role):
                arch = self.env["account.online.link"].with_user(user).get_views([(False, "form")])["views"]["form"]["arch"]
                self.assertIn("account_online_account_ids", arch)
                self.assertEqual("action_fetch_transactions" in arch, role in ("admin", "manager", "accountant"))
                self.assertEqual("action_reconnect" in arch, role in CONFIGURES)
                self.link.with_user(user).web_read({"name": {}, "state": {}, "journal_ids": {"fields": {"display_name": {}}},
                                                     "timezone": {}, "next_refresh": {}})

    def test_journal_dashboard_and_form_open_for_each_role(self):
        dashboard = self.env.ref("account.account_journal_dashboard_kanban_view")
        journal = self.journal
        for role, user in self.users.items():
            with self.subTest(role=role):
                Journal = self.env["account.journal"].with_user(user)
                kanban = Journal.get_views([(dashboard.id, "kanban")])["views"]["kanban"]["arch"]
                form = Journal.get_views([(False, "form")])["views"]["form"]["arch"]
                sees_sync = role != "clerk"
                self.assertEqual("account_online_balance_difference" in kanban, sees_sync)
                self.assertEqual("manual_sync" in form, role in ("admin", "manager", "accountant"))
                fields_spec = {"name": {}, "kanban_dashboard": {}}
                if sees_sync:
                    fields_spec.update(account_online_link_id={}, account_online_link_state={},
                                       account_online_balance_difference={})
                Journal.browse(journal.id).web_read(fields_spec)

    def test_the_wizards_open_for_administrators_only(self):
        """The account choice, the reactivation and Add a Bank Account with
        the phone number: Accounting administrators."""
        self.company.sudo().account_online_phone = "+32470123456"
        contexts = {
            "account.online.account.choice": {"online_sync_link_id": self.link.id,
                                              "online_sync_account_ids": self.link.account_online_account_ids.ids},
            "account.online.link.reactivate": {"online_sync_link_id": self.link.id},
            "account.online.connect.wizard": {"online_sync_journal_id": self.journal.id},
            "account.online.oca.takeover": {},
        }
        for model, context in contexts.items():
            for role, user in self.users.items():
                with self.subTest(model=model, role=role):
                    Wizard = self.env[model].with_user(user).with_context(context)
                    if role in CONFIGURES:
                        arch = Wizard.get_views([(False, "form")])["views"]["form"]["arch"]
                        self.assertIn("<footer", arch)
                        Wizard.onchange({}, [], {name: {} for name in Wizard.fields_get()
                                                 if f'name="{name}"' in arch})
                    else:
                        with self.assertRaises(AccessError):
                            Wizard.get_views([(False, "form")])
        arch = self.env["account.online.connect.wizard"].get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertIn('name="phone"', arch)
        self.assertIn('name="action_enter_account_number"', arch)

    def test_oca_takeover_says_what_is_missing_without_oca(self):
        """Where OCA's online import is not installed, Take Over OCA Online
        Imports says so, and takes nothing over."""
        if "online.bank.statement.provider" in self.env:
            self.skipTest("OCA's account_statement_import_online is installed: tests/test_oca_takeover.py")
        Wizard = self.env["account.online.oca.takeover"]
        arch = Wizard.get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertIn("account_statement_import_online) is not installed", arch)
        wizard = Wizard.create({"institution_id": self.link.institution_id.id})
        self.assertFalse(wizard.oca_installed, "the form shows the warning, not the Take Over button")
        self.assertFalse(Wizard.fields_get(["oca_provider"])["oca_provider"]["selection"])
        links = self.env["account.online.link"].search([])
        with self.assertRaisesRegex(UserError, "account_statement_import_online.* is not installed"):
            wizard.action_take_over()
        self.assertEqual(self.env["account.online.link"].search([]), links, "no connection is made")
