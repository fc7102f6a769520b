# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from freezegun import freeze_time

from odoo.exceptions import UserError
from odoo.tests import Form, tagged

from .common import NOW, OnlineSyncCommon


@tagged("post_install", "-at_install")
@freeze_time(NOW)
class TestAccountChoice(OnlineSyncCommon):
    """After the consent, the administrator ticks the accounts to synchronize
    and the journal of each: the screens' way (the scripts' way links them all)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.bank_journal = cls.env["account.journal"].search(
            [("company_id", "=", cls.company.id), ("type", "=", "bank"), ("name", "=", "Bank")])
        assert cls.bank_journal and not cls.bank_journal.has_entries, "a new database has an empty Bank journal"
        cls.company.sudo().account_online_phone = "+32470123456"
        cls.institution = cls.env["account.online.institution"].search([("identifier", "=", "DEMO_BANK")])

    def _connect_from_screen(self, journal=None):
        """Add a Bank Account (from ``journal``'s card, or from Configuration):
        returns the connection and the account choice it opens."""
        context = {"online_sync_journal_id": journal.id} if journal else {}
        wizard = Form(self.env["account.online.connect.wizard"].with_context(context))
        wizard.institution_id = self.institution
        wizard = wizard.save()
        action = wizard.action_connect()
        self.assertEqual(action["res_model"], "account.online.account.choice", "the user chooses the accounts")
        return wizard.link_id, self._choice(action)

    def _choice(self, action):
        return Form(self.env[action["res_model"]].with_context(action["context"]))

    @staticmethod
    def _row(choice, name):
        for index in range(len(choice.line_ids)):
            with choice.line_ids.edit(index) as line:
                if line.name == name:
                    return index
        raise AssertionError(f"{name} is not offered")

    def _set(self, choice, name, **values):
        with choice.line_ids.edit(self._row(choice, name)) as line:
            for field, value in values.items():
                setattr(line, field, value)

    def _get(self, choice, name, field):
        with choice.line_ids.edit(self._row(choice, name)) as line:
            return getattr(line, field)

    def test_the_bank_accounts_are_offered_the_empty_bank_journal_first(self):
        link, choice = self._connect_from_screen()
        self.assertTrue(link.account_choice_pending)
        self.assertEqual(len(choice.line_ids), 3)
        self.assertFalse(link.journal_ids, "nothing is linked before the user chooses")
        self.assertEqual(self.company.currency_id.name, "USD")
        self.assertEqual(self._get(choice, "Dollar Account", "journal_id"), self.bank_journal,
                         "the empty Bank journal of a new database, in the account's currency")
        self.assertFalse(self._get(choice, "Current Account", "journal_id"), "EUR: a new journal")
        self.assertFalse(self._get(choice, "Deposit Account", "journal_id"))

        self._set(choice, "Deposit Account", selected=False)
        action = choice.save().action_synchronize()

        self.assertEqual(action["params"]["type"], "success")
        self.assertRegex(action["params"]["message"],
                         r"^Demo Bank: [1-9]\d* new transaction\(s\) \(Current Account: [1-9]\d*, "
                         r"Dollar Account: [1-9]\d*\)\.$")
        self.assertFalse(link.account_choice_pending)
        dollars = self._journal(link, "Dollar Account")
        self.assertEqual(dollars, self.bank_journal)
        self.assertEqual(dollars.bank_statements_source, "online_sync")
        self.assertBooksMatchBank(dollars)
        self.assertEqual(self._journal(link, "Current Account").name, "Demo Bank Current Account")
        self.assertBooksMatchBank(self._journal(link, "Current Account"))
        self.assertFalse(self._journal(link, "Deposit Account"), "left at the bank")

        # Fetch Accounts offers the account left out, and only it.
        action = link.with_context(online_sync_choose_accounts=True).action_fetch_accounts()
        choice = self._choice(action)
        self.assertEqual([self._get(choice, "Deposit Account", "name")], ["Deposit Account"])
        self.assertEqual(len(choice.line_ids), 1)
        action = choice.save().action_synchronize()
        self.assertRegex(action["params"]["message"], r"Deposit Account: [1-9]\d*, Dollar Account: 0\)\.$")
        # The dialog closes and the connection's form reloads its record: a
        # soft reload would redraw it from its cache first, and Odoo's status
        # bar could stay on the state before (the reconnect tour shows it).
        self.assertEqual(action["params"]["next"], {"type": "ir.actions.act_window_close"})
        deposit = self._journal(link, "Deposit Account")
        self.assertEqual(deposit.name, "Demo Bank Deposit Account")
        self.assertBooksMatchBank(deposit)

        action = link.with_context(online_sync_choose_accounts=True).action_fetch_accounts()
        self.assertEqual(action["params"]["message"], "Demo Bank has no other account to synchronize.")

    def test_started_from_a_journal_card_feeds_that_journal(self):
        savings = self.env["account.journal"].create({"name": "Savings", "type": "bank", "code": "SAV"})
        link, choice = self._connect_from_screen(journal=savings)
        self.assertEqual(link.requested_journal_id, savings)
        self.assertEqual(self._get(choice, "Dollar Account", "journal_id"), savings)
        self.assertFalse(self._get(choice, "Current Account", "journal_id"))
        choice.save().action_synchronize()
        self.assertEqual(self._journal(link, "Dollar Account"), savings)
        self.assertBooksMatchBank(savings)
        self.assertFalse(link.requested_journal_id)

    def test_a_journal_in_another_currency_is_refused(self):
        link, choice = self._connect_from_screen()
        self._set(choice, "Dollar Account", journal_id=self.env["account.journal"])
        self._set(choice, "Current Account", journal_id=self.bank_journal)
        wizard = choice.save()
        with self.assertRaisesRegex(UserError, "Bank keeps its books in USD, Current Account is in EUR: "
                                               "choose a journal in EUR"):
            wizard.action_synchronize()
        self.assertFalse(link.journal_ids, "nothing linked")
        self.assertFalse(self.env["account.bank.statement.line"].search([("journal_id", "=", self.bank_journal.id)]))

    def test_one_journal_for_two_accounts_is_refused(self):
        link, choice = self._connect_from_screen()
        self._set(choice, "Current Account", journal_id=self.bank_journal)
        self._set(choice, "Deposit Account", journal_id=self.bank_journal)
        wizard = choice.save()
        with self.assertRaisesRegex(UserError, "choose a journal once only"):
            wizard.action_synchronize()
        self.assertFalse(link.journal_ids)

    def test_nothing_ticked_is_refused(self):
        _link, choice = self._connect_from_screen()
        for name in ("Current Account", "Dollar Account", "Deposit Account"):
            self._set(choice, name, selected=False)
        with self.assertRaisesRegex(UserError, "Tick the bank accounts to synchronize"):
            choice.save().action_synchronize()

    def test_bank_setup_on_the_empty_bank_card_connects_a_bank(self):
        action = self.bank_journal.action_configure_bank_journal()
        self.assertEqual(action["res_model"], "account.online.connect.wizard")
        wizard = self.env["account.online.connect.wizard"].with_context(action["context"]).new({})
        self.assertEqual(wizard.journal_id, self.bank_journal)
        # Typing the account number by hand stays one click away.
        manual = wizard.action_enter_account_number()
        self.assertEqual(manual["res_model"], "account.setup.bank.manual.config")
        self.assertEqual(manual["context"]["default_linked_journal_id"], self.bank_journal.id)

    def test_a_bookkeeper_gets_odoos_own_bank_setup(self):
        bookkeeper = self._user("bookkeeper", "account.group_account_user")
        action = self.bank_journal.with_user(bookkeeper).action_configure_bank_journal()
        self.assertEqual(action["res_model"], "account.setup.bank.manual.config")
