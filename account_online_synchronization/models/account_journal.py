# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime as dt
from collections import defaultdict

from dateutil.relativedelta import relativedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools.misc import format_date

ONLINE_SYNC_READERS = "account.group_account_readonly,account.group_account_basic"


class AccountJournal(models.Model):
    _inherit = "account.journal"

    # Billing users read journals but nothing of the bank connections.
    account_online_account_id = fields.Many2one(
        "account.online.account",
        string="Online Bank Account",
        copy=False,
        index="btree_not_null",
        ondelete="set null",
        check_company=True,
        groups=ONLINE_SYNC_READERS,
    )
    account_online_link_id = fields.Many2one(
        related="account_online_account_id.account_online_link_id",
        string="Bank Connection",
        store=True,
        index="btree_not_null",
        groups=ONLINE_SYNC_READERS,
    )
    account_online_link_state = fields.Selection(
        related="account_online_link_id.state", string="Connection State", groups=ONLINE_SYNC_READERS,
    )
    account_online_blocked = fields.Selection(
        related="account_online_link_id.blocked_reason", string="Connection Blocked", groups=ONLINE_SYNC_READERS,
    )
    account_online_last_refresh = fields.Datetime(
        related="account_online_link_id.last_refresh", string="Last Synchronization", groups=ONLINE_SYNC_READERS,
    )
    account_online_expiring_date = fields.Date(
        related="account_online_link_id.expiring_synchronization_date", string="Connected Until",
        groups=ONLINE_SYNC_READERS,
    )
    account_online_expiry_days = fields.Integer(
        compute="_compute_account_online_expiry_days", groups=ONLINE_SYNC_READERS,
        help="Days left before the bank's consent ends (the dashboard warns from 7 days on).",
    )
    account_online_balance_difference = fields.Monetary(
        related="account_online_account_id.balance_difference",
        string="Difference with the Bank",
        currency_field="account_online_currency_id",
        groups=ONLINE_SYNC_READERS,
    )
    account_online_currency_id = fields.Many2one(
        related="account_online_account_id.currency_id", string="Online Account Currency",
        groups=ONLINE_SYNC_READERS,
    )
    bank_statement_creation_groupby = fields.Selection(
        [
            ("none", "Every Synchronization"),
            ("day", "Daily"),
            ("week", "Weekly"),
            ("bimonthly", "Twice a Month"),
            ("month", "Monthly"),
        ],
        string="Statement Periodicity",
        default="month",
        required=True,
        help="How synchronized transactions are grouped in bank statements. "
        "New transactions join the statement of their period.",
    )

    # The field's selection is account's own function, which calls this
    # private method: named so, it is the one overridden (both classes are
    # named AccountJournal, so the mangled names are the same).
    def __get_bank_statements_available_sources(self):
        return super().__get_bank_statements_available_sources() + [
            ("online_sync", _("Online Synchronization")),
        ]

    @api.depends("account_online_expiring_date")
    def _compute_account_online_expiry_days(self):
        for journal in self:
            end = journal.account_online_expiring_date
            link = journal.account_online_link_id
            journal.account_online_expiry_days = (end - link._local_today()).days if end and link else 0

    def manual_sync(self):
        """Synchronize Now: fetch the new transactions of this journal's bank
        connection (all of its accounts, as the bank refreshes them together)."""
        self.ensure_one()
        link = self.account_online_link_id
        if not link:
            raise UserError(_("%(journal)s is not connected to a bank.", journal=self.name))
        return link.action_fetch_transactions()

    def action_configure_bank_journal(self):
        """Bank Setup on an empty bank journal's card: connect the bank that
        feeds it (typing the account number by hand stays one click away).
        Users who may not connect banks get Odoo's own setup."""
        self.ensure_one()
        if self.type != "bank" or not self.env["account.online.link"].has_access("create"):
            return super().action_configure_bank_journal()
        return self.action_connect_online_bank()

    def _action_configure_bank_by_hand(self):
        return super().action_configure_bank_journal()

    def action_connect_online_bank(self):
        """Connect a bank from this journal's card: its account in the
        journal's currency feeds this journal."""
        self.ensure_one()
        if self.account_online_link_id:
            raise UserError(_("%(journal)s is synchronized with %(link)s already.",
                              journal=self.name, link=self.account_online_link_id.name))
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "account_online_synchronization.action_account_online_connect_wizard"
        )
        action["context"] = {"online_sync_journal_id": self.id}
        return action

    def action_reconnect_online_link(self):
        """Reconnect Bank on the card: a new consent at once."""
        self.ensure_one()
        return self.account_online_link_id.with_context(online_sync_choose_accounts=True).action_reconnect()

    def action_open_online_link(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "account.online.link",
            "res_id": self.account_online_link_id.id,
            "view_mode": "form",
        }

    def action_open_online_transactions(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "account_online_synchronization.action_online_bank_statement_lines"
        )
        action["domain"] = [("journal_id", "=", self.id)]
        action["context"] = {"search_default_group_statement": 0}
        return action

    # ------------------------------------------------------------------
    # Statements
    # ------------------------------------------------------------------

    def _online_sync_period(self, date):
        """First and last day of the statement period ``date`` belongs to."""
        groupby = self.bank_statement_creation_groupby
        if groupby == "day":
            return date, date
        if groupby == "week":
            start = date - dt.timedelta(days=date.weekday())
            return start, start + dt.timedelta(days=6)
        if groupby == "bimonthly":
            if date.day <= 15:
                return date.replace(day=1), date.replace(day=15)
            return date.replace(day=16), date + relativedelta(day=31)
        return date.replace(day=1), date + relativedelta(day=31)

    def _online_sync_statement_name(self, start, end):
        groupby = self.bank_statement_creation_groupby
        if groupby == "day":
            period = format_date(self.env, start)
        elif groupby == "week":
            year, week, _weekday = start.isocalendar()
            period = _("%(year)s, week %(week)s", year=year, week=week)
        elif groupby == "bimonthly":
            period = f"{format_date(self.env, start)} - {format_date(self.env, end)}"
        else:
            period = format_date(self.env, start, date_format="MMMM y")
        return f"{self.code} {period}"

    def _online_sync_group_in_statements(self, lines):
        """Put new ``lines`` in the statement of their period (creating it when
        there is none), then make every statement from the first one touched
        onwards start where the previous one ends."""
        self.ensure_one()
        if not lines:
            return
        Statement = self.env["account.bank.statement"]
        touched = Statement
        if self.bank_statement_creation_groupby == "none":
            # One statement for what this synchronization brings after the
            # last statement; older lines join the statement of their dates,
            # so that statements never overlap.
            statements = Statement.search([("journal_id", "=", self.id)], order="date, id")
            new_lines = self.env["account.bank.statement.line"]
            for line in lines:
                statement = next((s for s in statements if s.date and s.date >= line.date), None)
                if statement:
                    line.statement_id = statement
                    touched |= statement
                else:
                    new_lines |= line
            if new_lines:
                name = f"{self.code} {format_date(self.env, max(new_lines.mapped('date')))}"
                touched |= Statement.create({"name": name, "journal_id": self.id,
                                             "line_ids": [fields.Command.set(new_lines.ids)]})
        else:
            by_period = defaultdict(lambda: self.env["account.bank.statement.line"])
            for line in lines:
                by_period[self._online_sync_period(line.date)] |= line
            for (start, end), period_lines in sorted(by_period.items()):
                statement = Statement.search([
                    ("journal_id", "=", self.id), ("date", ">=", start), ("date", "<=", end),
                ], order="date desc, id desc", limit=1)
                if statement:
                    period_lines.statement_id = statement
                else:
                    statement = Statement.create({
                        "name": self._online_sync_statement_name(start, end),
                        "journal_id": self.id,
                        "line_ids": [fields.Command.set(period_lines.ids)],
                    })
                touched |= statement
        self._online_sync_chain_statement_balances(touched)

    def _online_sync_chain_statement_balances(self, touched):
        self.env.flush_all()
        first_index = min(touched.mapped("first_line_index"))
        statements = self.env["account.bank.statement"].search(
            [("journal_id", "=", self.id), ("first_line_index", ">=", first_index)],
        ).sorted("first_line_index")
        for statement in statements:
            # Odoo's own rule for where a statement starts, then its end is its lines' sum.
            statement._compute_balance_start()
            statement.balance_end_real = statement.balance_end
        self.env.flush_all()
