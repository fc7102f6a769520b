# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime as dt
from collections import defaultdict

from dateutil.relativedelta import relativedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL
from odoo.tools.misc import format_date

ONLINE_SYNC_READERS = "account.group_account_readonly,account.group_account_basic"
# The stored fields of a bank statement that Odoo computes from its lines.
STATEMENT_FIELDS_FROM_LINES = (
    "first_line_index", "date", "balance_start", "balance_end", "balance_end_real", "is_complete", "journal_id",
)


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
        return self._action_connect_wizard()

    def _action_connect_wizard(self):
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "account_online_synchronization.action_account_online_connect_wizard"
        )
        action["context"] = {"online_sync_journal_id": self.id}
        return action

    def action_reconnect_online_link(self):
        """Reconnect Bank on the card: a new consent at once. A connection
        taken over from the legacy module has no bank here yet: the bank is
        chosen as for a new connection, which feeds this journal and goes on
        from where the old one stopped."""
        self.ensure_one()
        link = self.account_online_link_id
        if not link.institution_id:
            return self._action_connect_wizard()
        return link.with_context(online_sync_choose_accounts=True).action_reconnect()

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
            by_statement = defaultdict(lambda: self.env["account.bank.statement.line"])
            for line in lines:
                statement = next((s for s in statements if s.date and s.date >= line.date), None)
                if statement:
                    by_statement[statement] |= line
                else:
                    new_lines |= line
            for statement, statement_lines in by_statement.items():
                self._online_sync_add_to_statement(statement, statement_lines)
                touched |= statement
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
                    self._online_sync_add_to_statement(statement, period_lines)
                else:
                    statement = Statement.create({
                        "name": self._online_sync_statement_name(start, end),
                        "journal_id": self.id,
                        "line_ids": [fields.Command.set(period_lines.ids)],
                    })
                touched |= statement
        self._online_sync_chain_statement_balances(touched)

    def _online_sync_statement_fields(self):
        """The statement's stored fields Odoo computes from its lines, which
        ``_online_sync_chain_statement_balances`` sets."""
        Statement = self.env["account.bank.statement"]
        return [Statement._fields[name] for name in STATEMENT_FIELDS_FROM_LINES]

    def _online_sync_add_to_statement(self, statement, lines):
        """``lines`` join ``statement``. Odoo would recompute the statement
        from all its lines at each batch (its cost grows with the statement);
        ``_online_sync_chain_statement_balances`` sets what it would compute."""
        with self.env.protecting(self._online_sync_statement_fields(), statement):
            lines.statement_id = statement

    def _online_sync_chain_statement_balances(self, touched, from_index=None):
        """Make every statement of the journal from the first one ``touched``
        on say what Odoo computes from its lines: its first line and date,
        its starting balance (the ending balance of the statement of the last
        posted line before it, plus the posted lines in between), its ending
        balance (the start plus its posted lines, which is also the balance
        the bank ends it at) and whether it is complete.

        One query for all of them, whatever they hold: Odoo's computes read
        every line of each statement and of the one before it, a cost that
        grows with the statement at each batch of a large import.
        ``from_index``: where lines moved or went from (bank corrections)."""
        self.ensure_one()
        self.env.flush_all()
        cr = self.env.cr
        touched_ids = tuple(touched.ids) or (None,)
        cr.execute(SQL(
            "SELECT MIN(internal_index) FROM account_bank_statement_line WHERE statement_id IN %s", touched_ids,
        ))
        first_index = min(filter(None, (cr.fetchone()[0], from_index)), default=None)
        if first_index is None:
            return
        # Each statement of the chain: its own lines' figures, the statement
        # of the last posted line before it and the posted lines in between
        # (lines without statement, or all before it for the first one). The
        # company is there for Odoo's index of lines (journal, company, order).
        cr.execute(SQL("""
            WITH chain AS (
                SELECT st.id,
                       MIN(line.internal_index) AS first_index,
                       (ARRAY_AGG(move.date ORDER BY line.internal_index DESC)
                            FILTER (WHERE move.state = 'posted'))[1] AS last_date,
                       COALESCE(SUM(line.amount) FILTER (WHERE move.state = 'posted'), 0) AS posted_amount,
                       COUNT(*) FILTER (WHERE move.state = 'posted') AS posted_count
                  FROM account_bank_statement st
                  JOIN account_bank_statement_line line ON line.statement_id = st.id
                  JOIN account_move move ON move.id = line.move_id
                 WHERE st.journal_id = %(journal)s
                   AND (st.first_line_index >= %(first_index)s OR st.id IN %(touched)s)
              GROUP BY st.id
            )
            SELECT chain.id, chain.first_index, chain.last_date, chain.posted_amount, chain.posted_count,
                   previous.statement_id,
                   (SELECT COALESCE(SUM(between_line.amount), 0)
                      FROM account_bank_statement_line between_line
                      JOIN account_move between_move ON between_move.id = between_line.move_id
                     WHERE between_line.journal_id = %(journal)s
                       AND between_line.company_id = %(company)s
                       AND between_move.state = 'posted'
                       AND between_line.internal_index < chain.first_index
                       AND (previous.internal_index IS NULL OR between_line.internal_index > previous.internal_index))
              FROM chain
         LEFT JOIN LATERAL (
                    SELECT previous_line.statement_id, previous_line.internal_index
                      FROM account_bank_statement_line previous_line
                      JOIN account_move previous_move ON previous_move.id = previous_line.move_id
                     WHERE previous_line.journal_id = %(journal)s
                       AND previous_line.company_id = %(company)s
                       AND previous_line.internal_index < chain.first_index
                       AND previous_move.state = 'posted'
                       AND previous_line.statement_id IS NOT NULL
                  ORDER BY previous_line.internal_index DESC
                     LIMIT 1
                   ) previous ON TRUE
          ORDER BY chain.first_index
        """, journal=self.id, company=self.company_id.id, first_index=first_index,
             touched=touched_ids))
        rows = cr.fetchall()
        Statement = self.env["account.bank.statement"]
        statements = Statement.browse([row[0] for row in rows])
        currency = self.currency_id or self.company_id.currency_id
        ends = {}  # statement id -> its new ending balance
        with self.env.protecting(self._online_sync_statement_fields(), statements):
            for (statement_id, first_line_index, date, posted_amount, posted_count,
                 previous_id, between_amount) in rows:
                statement = Statement.browse(statement_id)
                previous_end = ends[previous_id] if previous_id in ends else (
                    Statement.browse(previous_id).balance_end_real if previous_id else 0.0)
                balance_start = currency.round(previous_end + float(between_amount))
                balance_end = currency.round(balance_start + float(posted_amount))
                ends[statement_id] = balance_end
                statement.first_line_index = first_line_index
                statement.date = date
                statement.balance_start = balance_start
                statement.balance_end = balance_end
                statement.balance_end_real = balance_end
                statement.is_complete = bool(posted_count)
        # Computed from what was set above, not stored.
        statements.invalidate_recordset(["is_valid", "problem_description"])
        self.env.flush_all()
