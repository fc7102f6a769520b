# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime as dt
import weakref
from decimal import Decimal
from unittest.mock import patch

from freezegun import freeze_time

from odoo.tests import tagged

from ..models import account_online_account
from .common import NOW, DemoBankProvider, OnlineSyncCommon

TODAY = dt.date(2026, 11, 25)


@tagged("post_install", "-at_install")
@freeze_time(NOW)
class TestLargeImport(OnlineSyncCommon):
    """Lines imported in batches, numbered and posted for the whole batch at
    once, are the entries Odoo's own create() makes, and keep the books'
    invariants: posted and balanced moves, numbers without gap in the order
    of the dates, running balances and statements that add up to the bank's."""

    def _busy_transactions(self, count):
        return [self._busy_transaction(index, count) for index in range(count)]

    def _busy_transaction(self, index, count):
        day = TODAY - dt.timedelta(days=80 - index * 80 // count)
        amount = Decimal((index * 7919) % 180000 - 90000 or 1) / 100
        return self._transaction(f"BUSY-{index:05d}", amount, day, label=f"Payment {index:05d}",
                                 partner_name=f"Customer {index % 40}")

    def test_pages_are_imported_without_holding_the_window(self):
        """The bank's pages are kept in the database as they come: the
        transactions of a page are gone from memory before the next is read."""
        count, page_size = 1000, 50
        alive = weakref.WeakSet()
        alive_at_each_page = []
        real_pages = DemoBankProvider.iter_transaction_pages

        def iter_transaction_pages(provider, consent, account_id, date_from, date_to):
            if not account_id.endswith("current"):
                yield from real_pages(provider, consent, account_id, date_from, date_to)
                return
            for start in range(0, count, page_size):
                alive_at_each_page.append(len(alive))
                page = [self._busy_transaction(index, count) for index in range(start, start + page_size)]
                alive.update(page)
                yield page

        with patch.object(DemoBankProvider, "iter_transaction_pages", iter_transaction_pages), \
                patch.object(account_online_account, "IMPORT_BATCH_SIZE", 200):
            link = self._connect()
        self.assertEqual(len(alive_at_each_page), count // page_size)
        self.assertLessEqual(max(alive_at_each_page), 2 * page_size, "at most the page before is still held")
        journal = self._journal(link)
        lines = self._lines(journal)
        imported = sum(t.amount for t in self._busy_transactions(count))
        opening = lines.filtered(lambda line: not line.online_transaction_identifier)
        self.assertEqual(len(lines), count + 1)
        self.assertAlmostEqual(opening.amount, float(Decimal(str(journal.account_online_account_id.balance)) - imported))
        self.assertEqual(opening.date, TODAY - dt.timedelta(days=80), "the opening line comes first")
        self.assertBooksMatchBank(journal)

    def test_first_sync_in_batches_keeps_the_books_right(self):
        extra = self._busy_transactions(1100)
        with self._bank_shows(extra, balance_delta=str(sum(t.amount for t in extra))), \
                patch.object(account_online_account, "IMPORT_BATCH_SIZE", 200):
            link = self._connect()
        journal = self._journal(link)
        lines = self._lines(journal)
        bank_posted = self._demo_transactions(link, date_from=TODAY - dt.timedelta(days=90), date_to=TODAY)
        # The Demo Bank's own transactions, the 1,100 more, and the opening balance.
        self.assertEqual(len(lines), len([t for t in bank_posted if t.is_posted]) + 1100 + 1)
        moves = lines.move_id
        self.assertEqual(set(moves.mapped("state")), {"posted"})
        self.assertEqual(moves.statement_line_id, lines)
        for move in moves:
            self.assertEqual(move.currency_id.round(sum(move.line_ids.mapped("balance"))), 0, move.name)
            self.assertEqual(move.line_ids.statement_line_id, move.statement_line_id)
        # Numbers: one sequence, without gap, in the order of the dates.
        ordered = moves.sorted(lambda move: (move.sequence_number, move.id))
        self.assertEqual(len(set(moves.mapped("sequence_prefix"))), 1)
        self.assertEqual(ordered.mapped("sequence_number"), list(range(1, len(moves) + 1)))
        self.assertEqual(ordered.mapped("date"), sorted(moves.mapped("date")))
        # The running balance of the last line and the statements say what the bank says.
        last = lines.sorted(lambda line: (line.date, line.sequence, line.id))[-1]
        account = journal.account_online_account_id
        self.assertAlmostEqual(last.running_balance, account.balance, places=2)
        self.assertBooksMatchBank(journal)
        self.assertEqual(len(lines.statement_id), 4, "August to November")

    def test_same_entries_as_odoo_create(self):
        """The same values through Odoo's create() and through the import's
        batches give the same statement lines, entries and numbers, across a
        new year, in a journal in a foreign currency, with amounts in a third."""
        company_currency = self.company.currency_id
        eur = self.env.ref("base.EUR")
        journal_currency = eur if company_currency != eur else self.env.ref("base.USD")
        foreign = self.env.ref("base.GBP")
        foreign.sudo().active = journal_currency.sudo().active = True
        journals = self.env["account.journal"].create([
            {"name": f"Bank {code}", "code": code, "type": "bank", "currency_id": journal_currency.id}
            for code in ("ODOO", "SYNC")
        ])
        # Odoo's distribution models apply to the journal items of both.
        plan = self.env["account.analytic.plan"].sudo().create({"name": "Bank fees"})
        analytic = self.env["account.analytic.account"].sudo().create({"name": "Bank", "plan_id": plan.id})
        self.env["account.analytic.distribution.model"].sudo().create({
            "account_prefix": journals[0].suspense_account_id.code,
            "analytic_distribution": {str(analytic.id): 100},
        })
        day = dt.date(2025, 12, 20)
        vals_list = []
        for index in range(60):
            vals = {
                "date": day + dt.timedelta(days=index // 2),
                "payment_ref": f"Payment {index}",
                "amount": (index * 3137 % 20000 - 10000) / 100 or 1.0,
                "partner_name": f"Customer {index % 7}",
                "online_transaction_identifier": f"T{index}",
            }
            if index % 5 == 0:
                vals.update(foreign_currency_id=foreign.id, amount_currency=vals["amount"] * 0.8)
            if index % 9 == 0:
                vals.update(foreign_currency_id=company_currency.id, amount_currency=vals["amount"] * 1.1)
            vals_list.append(vals)
        StatementLine = self.env["account.bank.statement.line"]
        by_odoo = StatementLine.create([{**vals, "journal_id": journals[0].id} for vals in vals_list])
        by_sync = StatementLine
        for start in range(0, 60, 25):
            by_sync |= StatementLine._online_sync_create(journals[1], vals_list[start:start + 25])
        self.env.flush_all()

        def entry(line):
            journal = line.journal_id
            roles = {journal.default_account_id: "liquidity", journal.suspense_account_id: "suspense"}
            return (
                line.date, line.amount, line.amount_currency, line.foreign_currency_id, line.payment_ref,
                line.partner_name, line.running_balance, line.is_reconciled,
                line.move_id.state, line.move_id.move_type, line.move_id.currency_id, line.move_id.date,
                line.move_id.name.split("/", 1)[1], line.move_id.statement_line_id == line,
                sorted((roles[item.account_id], item.debit, item.credit, item.balance, item.amount_currency,
                        item.currency_id.name, item.name, item.partner_id.id, item.statement_line_id == line,
                        item.analytic_distribution or {}, item.analytic_line_ids.mapped("amount"))
                       for item in line.move_id.line_ids),
            )

        self.assertEqual(len(by_sync), 60)
        self.assertEqual(len(by_sync.move_id.line_ids.analytic_line_ids), 60, "one analytic item a suspense item")
        self.assertEqual([entry(line) for line in by_sync], [entry(line) for line in by_odoo])
        # December 20 to 31, then January 1 to 18: two lines a day.
        self.assertEqual(by_sync.move_id.mapped("name")[:1] + by_sync.move_id.mapped("name")[23:25],
                         ["SYNC/2025/00001", "SYNC/2025/00024", "SYNC/2026/00001"])
        self.assertEqual(by_sync[-1].move_id.name, "SYNC/2026/00036")
