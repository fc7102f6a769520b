# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models
from odoo.addons.account.models.account_bank_statement_line import (
    AccountBankStatementLine as AccountStatementLine,
)
from odoo.tools import SQL

# Context of a synchronization's writes: nothing in them is tracked in a
# chatter (the connection posts one summary instead).
NO_TRACKING = {"tracking_disable": True, "mail_create_nolog": True, "mail_notrack": True}


class AccountBankStatementLine(models.Model):
    _inherit = "account.bank.statement.line"

    online_transaction_identifier = fields.Char(
        string="Online Transaction ID",
        readonly=True,
        copy=False,
        help="The bank's identifier of this transaction: it is imported once per journal.",
    )
    online_partner_information = fields.Char(
        readonly=True,
        copy=False,
        help="The bank's key for the counterparty.",
    )
    online_account_id = fields.Many2one(
        "account.online.account",
        string="Online Bank Account",
        readonly=True,
        copy=False,
        index="btree_not_null",
        ondelete="set null",
        # Billing users read statement lines, not the bank connections.
        groups="account.group_account_readonly,account.group_account_basic",
    )

    # The database refuses a second import of a transaction into a journal,
    # whatever path the import takes.
    _online_transaction_identifier_uniq = models.UniqueIndex(
        "(journal_id, online_transaction_identifier) WHERE online_transaction_identifier IS NOT NULL",
        "This bank transaction is already imported in this journal.",
    )

    @api.model
    def _online_sync_create(self, journal, vals_list):
        """Create posted statement lines in ``journal`` from ``vals_list``
        (sorted by date), as account's create() makes them, in a few queries
        for the whole batch instead of several per line.

        account's create() writes each move once more after creating it and
        numbers the moves one by one (a query and a savepoint each). Here each
        move is created with its number, then the journal items of the batch
        at once: the numbering is Odoo's (its format, its reset per period,
        the last number used), counted on for the lines of the batch. A
        number another transaction takes meanwhile is refused by the
        journal's unique index, so numbers stay unique and without gaps."""
        if not vals_list:
            return self
        names = self._online_sync_move_names(journal, [vals["date"] for vals in vals_list])
        # The journal's currency is given as Odoo computes it: computed during
        # the create, it would be read by the constraint of a line not computed yet.
        currency = journal.currency_id or journal.company_id.currency_id
        # Past account's create(): what it does line by line is done below for the batch.
        lines = super(AccountStatementLine, self.with_context(**NO_TRACKING, is_statement_line=True)).create([
            {**vals, "journal_id": journal.id, "currency_id": currency.id, "move_type": "entry", "name": name}
            for vals, name in zip(vals_list, names, strict=True)
        ])
        # Odoo's journal items of each line (it refuses a journal without suspense account).
        # Their analytic distribution is Odoo's; only its sync with analytic
        # items is skipped, a no-op for draft entries that costs a write per
        # item (posting creates the analytic items).
        self.env["account.move.line"].with_context(**NO_TRACKING, skip_analytic_sync=True).create([
            line_vals for line in lines for line_vals in line._prepare_move_line_default_vals()
        ])
        moves = lines.move_id
        # The move's link back to its line, for all of them in one query.
        self.env.flush_all()
        self.env.cr.execute(SQL(
            "UPDATE account_move SET statement_line_id = line.id FROM (VALUES %s) AS line(id, move_id) "
            "WHERE account_move.id = line.move_id",
            SQL(", ").join(SQL("(%s, %s)", line.id, line.move_id.id) for line in lines),
        ))
        moves.invalidate_recordset(["statement_line_id"])
        moves.modified(["statement_line_id"])
        moves.action_post()
        return lines.with_env(self.env)

    @api.model
    def _online_sync_move_names(self, journal, dates):
        """The numbers of new moves of ``journal`` on ``dates`` (sorted), in
        Odoo's sequence of the journal's entries."""
        Move = self.env["account.move"]
        formats = {}  # (year, month) -> Odoo's format and values of the next number
        last_numbers = {}  # sequence prefix -> last number given
        names = []
        for date in dates:
            period = (date.year, date.month)
            if period not in formats:
                move = Move.new({"journal_id": journal.id, "date": date, "move_type": "entry"})
                formats[period] = move._get_next_sequence_format()
            format_string, format_values = formats[period]
            prefix = format_string.format(**{**format_values, "seq": 0})
            number = last_numbers.get(prefix, format_values["seq"]) + 1
            last_numbers[prefix] = number
            names.append(format_string.format(**{**format_values, "seq": number}))
        return names
