# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import Decimal

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.addons.base.models.res_bank import sanitize_account_number
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL
from odoo.tools.misc import format_date, formatLang

from .. import providers
from ..tools.transaction_spool import TransactionSpool

# Banks sometimes book a transaction days after the date it carries: each
# sync fetches this many days before the last one again (duplicates are
# skipped by identifier).
OVERLAP_DAYS = 7
DEFAULT_HISTORY_DAYS = 90
# Statement lines created at once: memory and a batch's queries stay bounded
# whatever the number of transactions.
IMPORT_BATCH_SIZE = 500
# What a statement line is made of, as the spool gives it back.
IMPORT_COLUMNS = ("import_identifier", "date", "amount", "label", "partner_name", "partner_account_number",
                  "partner_information", "foreign_currency", "foreign_amount")
# A transaction sent again under its identifier with the same amount is the
# same one if its date moved by at most this much (time zone, booking date
# corrected); further apart, the bank reused the identifier.
SAME_TRANSACTION_MAX_DAYS = 3
# Written by the synchronization only (with sudo), never by a user.
SYSTEM_FIELDS = frozenset({
    "online_identifier", "account_online_link_id", "balance", "last_sync", "balance_difference",
    "stable_identifier", "sync_cursor", "unavailable_since",
})


class AccountOnlineAccount(models.Model):
    _name = "account.online.account"
    _description = "Bank Account at an Online Connection"
    _order = "account_online_link_id, name, id"

    name = fields.Char(required=True)
    account_online_link_id = fields.Many2one(
        "account.online.link", string="Connection", required=True, ondelete="cascade", index=True,
    )
    company_id = fields.Many2one(related="account_online_link_id.company_id", store=True, index=True)
    online_identifier = fields.Char(
        required=True, readonly=True, help="How the aggregator names this account.",
    )
    account_number = fields.Char()
    stable_identifier = fields.Char(
        readonly=True, help="The aggregator's id of this account that a new consent keeps.",
    )
    sync_cursor = fields.Char(
        readonly=True, copy=False,
        help="Where the aggregator resumes its list of changes (aggregators that report changes since a cursor).",
    )
    currency_id = fields.Many2one("res.currency", required=True)
    balance = fields.Monetary(readonly=True, help="Booked balance at the bank, at the last synchronization.")
    balance_difference = fields.Monetary(
        readonly=True,
        help="The journal's balance minus the bank's, at the last synchronization: "
        "anything but zero means transactions are missing or counted twice.",
    )
    last_sync = fields.Date(
        string="Synchronized Until",
        readonly=True,
        help="Transactions up to this date are imported. Only a successful import moves it.",
    )
    unavailable_since = fields.Date(
        string="Unavailable Since",
        readonly=True, copy=False,
        help="The bank stopped giving this account (closed, deactivated or no longer shared) on this day. "
        "The other accounts of the connection go on; this one is asked for again at each synchronization.",
    )
    journal_ids = fields.One2many("account.journal", "account_online_account_id", string="Journal")

    _online_identifier_uniq = models.UniqueIndex(
        "(account_online_link_id, online_identifier)",
        "A connection lists each bank account once.",
    )

    @api.constrains("journal_ids")
    def _check_single_journal(self):
        for account in self:
            if len(account.journal_ids) > 1:
                raise ValidationError(_("A bank account can only be synchronized into one journal."))

    def write(self, vals):
        if not self.env.su and SYSTEM_FIELDS.intersection(vals):
            raise AccessError(_("Only the synchronization itself changes what the bank says of an account."))
        return super().write(vals)

    # ------------------------------------------------------------------
    # Setup
    # ------------------------------------------------------------------

    @api.model
    def _get_currency(self, code):
        if not (isinstance(code, str) and code):
            raise providers.InvalidData(_("The bank sent no currency."))
        currency = self.env["res.currency"].with_context(active_test=False).search(
            [("name", "=", code.upper())], limit=1,
        )
        if not currency:
            raise providers.InvalidData(_("The bank sent an unknown currency: %s", code))
        return currency

    def _link_journal(self, journal=None):
        """Synchronize into ``journal`` (the user's choice), else into the
        journal this bank account already feeds through another connection of
        the company (the same bank connected again), else into the unlinked
        bank journal with the same account number and currency, else into a
        new bank journal. Returns the journal."""
        self.ensure_one()
        journal = journal or self._find_journal_of_same_account() or self._find_unlinked_journal()
        previous = journal.account_online_account_id if journal else self.browse()
        if previous and previous != self:
            # The same account through another connection (the same bank
            # connected again): continue where it stopped, nothing twice, no gap.
            self.sudo().write({"last_sync": previous.last_sync, "balance": previous.balance})
            previous.account_online_link_id._post(
                _("%(account)s is now synchronized by the connection %(link)s.",
                  account=previous.name, link=self.account_online_link_id.display_name),
                journals=journal,
            )
        if not journal:
            journal = self._create_journal()
        vals = {"account_online_account_id": self.id, "bank_statements_source": "online_sync"}
        if not journal.bank_account_id and self.account_number:
            # The journal now knows its account: Odoo's Bank Setup is done.
            vals["bank_account_id"] = self._company_bank_account().id
        journal.write(vals)
        return journal

    def _suggest_journal(self, preferred=None, taken=None):
        """The journal offered for this bank account in the account choice:
        the one it already feeds through another connection of the company,
        else a bank journal without feed with the same number and currency,
        else ``preferred`` (the journal the user started from), else the
        company's empty bank journal in its currency (the "Bank" journal of a
        new database). None: a new journal. ``taken``: journals already
        offered to other accounts."""
        self.ensure_one()
        taken = taken or self.env["account.journal"]
        same_account = self._find_journal_of_same_account()
        if same_account and same_account not in taken:
            return same_account
        unlinked = self._unlinked_bank_journals() - taken
        same_number = unlinked.filtered(self._journal_matches)[:1]
        if same_number:
            return same_number
        if preferred and preferred in unlinked and self._currency_fits(preferred):
            return preferred
        empty = unlinked.filtered(
            lambda journal: not journal.bank_account_id and not journal.has_entries and self._currency_fits(journal)
        )
        return empty[:1] or None

    @staticmethod
    def _journal_currency(journal):
        return journal.currency_id or journal.company_id.currency_id

    def _currency_fits(self, journal):
        return self._journal_currency(journal) == self.currency_id

    def _check_journal_choice(self, journal):
        """A journal the user chose for this account: refused when it keeps its
        books in another currency, or another bank account feeds it."""
        self.ensure_one()
        if not self._currency_fits(journal):
            raise UserError(_(
                "%(journal)s keeps its books in %(journal_currency)s, %(account)s is in %(currency)s: "
                "choose a journal in %(currency)s, or leave the journal empty to create one.",
                journal=journal.name, journal_currency=self._journal_currency(journal).name,
                account=self.name, currency=self.currency_id.name,
            ))
        other = journal.account_online_account_id
        # Allowed: the journal of the same account, connected again, and the
        # journal of a connection that is not connected any more (one taken
        # over from the legacy module, a consent that ended).
        if (other and other != self and journal != self._find_journal_of_same_account()
                and other.account_online_link_id.state != "disconnected"):
            raise UserError(_(
                "%(journal)s is already synchronized with %(account)s (%(link)s): choose another journal.",
                journal=journal.name, account=other.name, link=other.account_online_link_id.display_name,
            ))

    def _journal_matches(self, journal):
        number = sanitize_account_number(self.account_number or "")
        return number and journal.bank_account_id.sanitized_acc_number == number and self._currency_fits(journal)

    def _find_journal_of_same_account(self):
        link = self.account_online_link_id
        others = self.sudo().search([
            ("company_id", "=", self.company_id.id),
            ("account_online_link_id", "!=", link.id),
            ("journal_ids", "!=", False),
        ])
        same = others.filtered(
            lambda other: (other.account_online_link_id.institution_id == link.institution_id
                           and other.online_identifier == self.online_identifier)
            or self._journal_matches(other.journal_ids)
        )
        return same[:1].journal_ids.sudo(False)

    def _unlinked_bank_journals(self):
        return self.env["account.journal"].search([
            *self.env["account.journal"]._check_company_domain(self.company_id),
            ("type", "=", "bank"),
            ("account_online_account_id", "=", False),
        ], order="sequence, id")

    def _find_unlinked_journal(self):
        return self._unlinked_bank_journals().filtered(self._journal_matches)[:1]

    def _company_bank_account(self):
        """The company's own bank account with this account's number."""
        # Contacts rights are not the accountant's business.
        Bank = self.env["res.partner.bank"].sudo()
        partner = self.company_id.partner_id
        return Bank.search([
            ("sanitized_acc_number", "=", sanitize_account_number(self.account_number)),
            ("partner_id", "=", partner.id),
        ], limit=1) or Bank.create({"acc_number": self.account_number, "partner_id": partner.id})

    def _create_journal(self):
        company = self.company_id
        name = f"{self.account_online_link_id.name} {self.name}"
        taken = set(self.env["account.journal"].search(
            [("company_id", "=", company.id), ("name", "=like", f"{name}%")]
        ).mapped("name"))
        suffix = 2
        unique_name = name
        while unique_name in taken:
            unique_name = f"{name} ({suffix})"
            suffix += 1
        bank_account = self._company_bank_account() if self.account_number else False
        Journal = self.env["account.journal"]
        vals = {
            "name": unique_name,
            "type": "bank",
            "company_id": company.id,
            "currency_id": self.currency_id.id if self.currency_id != company.currency_id else False,
            "bank_account_id": bank_account and bank_account.id,
        }
        if not Journal._get_next_journal_default_code("bank", company):
            # Odoo names bank journals BNK1 to BNK99: a firm with more gets B100 and on.
            taken = set(Journal.with_context(active_test=False).search(
                [*Journal._check_company_domain(company), ("code", "=like", "B%")]
            ).mapped("code"))
            vals["code"] = next(code for code in (f"B{number}" for number in range(100, 10_000)) if code not in taken)
        return Journal.create(vals)

    # ------------------------------------------------------------------
    # Import
    # ------------------------------------------------------------------

    def _get_fetch_date_from(self, journal, today):
        """The first day to ask the bank for, whatever it still has."""
        if self.last_sync:
            start = self.last_sync - dt.timedelta(days=OVERLAP_DAYS)
        else:
            history = self.account_online_link_id.institution_id.history_days or DEFAULT_HISTORY_DAYS
            start = today - dt.timedelta(days=history)
            last_line = self.env["account.bank.statement.line"].sudo().search(
                [("journal_id", "=", journal.id)], order="date desc", limit=1,
            )
            if last_line:
                # Lines already there (an earlier connection, a file import):
                # go on from them, overlapping as every sync does.
                start = max(start, last_line.date - dt.timedelta(days=OVERLAP_DAYS))
        first_open_day = self._lock_date_limit(journal)
        return max(start, first_open_day) if first_open_day else start

    def _import_transactions(self, client, consent, commit_batch=None):
        """Fetch and import this account's posted transactions, and apply what
        the bank changed or withdrew. Raises a provider error, without writing
        anything, when the data is unusable. ``commit_batch``, when given, is
        called after each imported batch (in date order, so that what a crash
        leaves is the oldest part, which the next run finds and skips)."""
        self.ensure_one()
        journal = self.journal_ids
        link = self.account_online_link_id
        today = link._local_today()
        date_from = self._get_fetch_date_from(journal, today)
        self._warn_if_out_of_history(journal, date_from, today)
        balance = client.get_balance(consent, self.online_identifier)
        self._check_balance_data(balance)
        # A bank ahead of our timezone already books tomorrow's date.
        date_to = today + dt.timedelta(days=1)
        changes = client.get_changes(consent, self.online_identifier, self.sync_cursor or None, date_from, date_to)
        self._check_changes(changes)
        if self.sync_cursor:
            # Changes since the cursor are all new to us, whatever their date:
            # only what Odoo cannot book any more is left out (and told).
            date_from, date_to = self._lock_date_limit(journal), None
        StatementLine = self.env["account.bank.statement.line"]
        spool = TransactionSpool(self.env.cr)
        self._spool_transactions(spool, changes.added, journal, date_from, date_to)
        if changes.modified or changes.removed:
            corrected = self._apply_bank_corrections(journal, changes.modified, changes.removed)
            self._spool_transactions(spool, corrected, journal, date_from, date_to)
        new = self._select_new_transactions(spool, journal, date_from)
        # Each foreign currency looked up once; an unknown one refused now,
        # not in a later batch once earlier ones are imported.
        currency = journal.currency_id or journal.company_id.currency_id
        foreign_currencies = {
            code: foreign if foreign != currency else None
            for code, foreign in ((code, self._get_currency(code)) for code in new.foreign_currencies)
        }
        opening = None
        if not self.last_sync:
            opening = self._prepare_opening_balance_vals(journal, balance, new.total, new.first_date or date_from)
        counted_items = None
        imported_ids = []
        batches = spool.batches(IMPORT_BATCH_SIZE, IMPORT_COLUMNS, to_import=True) if new.count else []
        if opening and not new.count:
            batches = [[]]  # the opening line alone
        # Statement line values are made a batch at a time: memory follows the batch, not the import.
        for batch in batches:
            vals_list = [self._prepare_statement_line_vals(row, journal, foreign_currencies) for row in batch]
            if opening:
                vals_list.insert(0, opening)
                opening = None
            # Two journal items a line: again once the import created as many as were counted.
            if new.count > IMPORT_BATCH_SIZE and (counted_items is None or 2 * len(imported_ids) > counted_items):
                counted_items = self._refresh_table_statistics()
            batch_lines = StatementLine._online_sync_create(journal, vals_list)
            journal._online_sync_group_in_statements(batch_lines)
            imported_ids += batch_lines.ids
            if commit_batch:
                commit_batch()
            # What a batch leaves in memory is not needed by the next one: the cache,
            # and what Odoo's create() keeps of the draft records it made (per line, until
            # the transaction ends, which invalidate_all() leaves).
            self.env.flush_all()
            self.env.cache.clear()
        spool.drop()
        vals = {"balance": float(balance.amount), "last_sync": today}
        if client.uses_cursor:
            vals["sync_cursor"] = changes.cursor or False
        if any(self[name] != value for name, value in vals.items()):
            self.sudo().write(vals)
        return StatementLine.browse(imported_ids)

    def _refresh_table_statistics(self):
        """Before a large import: PostgreSQL's statistics of the tables it
        fills, taken now (again each time the import doubled what they count).
        Counted on a smaller table, Odoo's checks on a batch of moves are
        planned as scans of every journal item, a cost that grows with each
        batch. Returns the journal items counted."""
        self.env.flush_all()
        self.env.cr.execute("ANALYZE account_move, account_move_line, account_bank_statement_line")
        self.env.cr.execute("SELECT reltuples FROM pg_class WHERE oid = 'account_move_line'::regclass")
        return max(self.env.cr.fetchone()[0], 0)

    def _check_changes(self, changes):
        if not isinstance(changes, providers.TransactionChanges) or not all(
            isinstance(part, list | tuple) for part in (changes.modified, changes.removed)
        ) or not isinstance(changes.added, Iterable) or isinstance(changes.added, str | bytes | Mapping):
            raise providers.InvalidData(_("The bank sent no list of transactions for %s.", self.name))
        if changes.cursor is not None and not isinstance(changes.cursor, str):
            raise providers.InvalidData(_("The bank sent an invalid position in its list of transactions."))
        if not all(isinstance(identifier, str) and identifier for identifier in changes.removed):
            raise providers.InvalidData(_("The bank withdrew a transaction without naming it."))

    @staticmethod
    def _lock_date_limit(journal):
        """The first day Odoo still books lines on (None: no lock date)."""
        lock_date = max(filter(None, (journal.company_id.fiscalyear_lock_date,
                                      journal.company_id.hard_lock_date)), default=None)
        return lock_date and lock_date + dt.timedelta(days=1)

    def _apply_bank_corrections(self, journal, modified, removed):
        """The bank changed or withdrew transactions it sent before. A line not
        reconciled yet follows the bank; a reconciled one is never changed
        behind the accountant's back: the difference is told on the journal.
        Returns the modified transactions the journal does not have (to import
        as new)."""
        link = self.account_online_link_id
        currency = journal.currency_id or journal.company_id.currency_id
        posted = [t for t in modified if getattr(t, "is_posted", False) and t.identifier]
        for transaction in posted:
            self._check_transaction(transaction, currency)
        StatementLine = self.env["account.bank.statement.line"].sudo()
        wanted = {t.identifier for t in posted} | set(removed)
        lines = {
            line.online_transaction_identifier: line
            for line in StatementLine.search([
                ("journal_id", "=", journal.id), ("online_transaction_identifier", "in", list(wanted)),
            ])
        }
        new, notes, touched = [], [], self.env["account.bank.statement"]
        from_index = None  # the first line that moved or went
        for transaction in posted:
            line = lines.get(transaction.identifier)
            if not line:
                new.append(transaction)
                continue
            vals = {
                "date": self._transaction_date(transaction, link),
                "amount": float(transaction.amount),
                "payment_ref": transaction.label or transaction.partner_name or "/",
                "partner_name": transaction.partner_name or False,
            }
            changed = {
                key: value for key, value in vals.items()
                if (currency.compare_amounts(line.amount, value) != 0 if key == "amount"
                    else (line[key] or False) != value)
            }
            if not changed:
                continue
            if line.is_reconciled:
                notes.append(_(
                    "%(ref)s (%(label)s) is reconciled and was left as it is: the bank now says "
                    "%(amount)s on %(date)s instead of %(old_amount)s on %(old_date)s.",
                    ref=transaction.identifier, label=line.payment_ref,
                    amount=formatLang(self.env, vals["amount"], currency_obj=currency),
                    date=format_date(self.env, vals["date"]),
                    old_amount=formatLang(self.env, line.amount, currency_obj=currency),
                    old_date=format_date(self.env, line.date),
                ))
                continue
            notes.append(_(
                "%(ref)s updated as the bank changed it: %(amount)s on %(date)s (was %(old_amount)s on %(old_date)s).",
                ref=transaction.identifier,
                amount=formatLang(self.env, vals["amount"], currency_obj=currency),
                date=format_date(self.env, vals["date"]),
                old_amount=formatLang(self.env, line.amount, currency_obj=currency),
                old_date=format_date(self.env, line.date),
            ))
            touched |= line.statement_id
            from_index = min(filter(None, (from_index, line.internal_index)))
            line.write(changed)
            if "date" in changed:
                # The line may now belong to another period's statement.
                line.statement_id = False
                journal._online_sync_group_in_statements(line)
        for identifier in removed:
            line = lines.get(identifier)
            if not line:
                continue  # a pending transaction: never imported
            if line.is_reconciled:
                notes.append(_(
                    "%(ref)s (%(label)s, %(amount)s on %(date)s) was withdrawn by the bank but is "
                    "reconciled: it was left as it is.",
                    ref=identifier, label=line.payment_ref,
                    amount=formatLang(self.env, line.amount, currency_obj=currency), date=format_date(self.env, line.date),
                ))
                continue
            notes.append(_(
                "%(ref)s (%(label)s, %(amount)s on %(date)s) removed: the bank withdrew it.",
                ref=identifier, label=line.payment_ref,
                amount=formatLang(self.env, line.amount, currency_obj=currency), date=format_date(self.env, line.date),
            ))
            touched |= line.statement_id
            from_index = min(filter(None, (from_index, line.internal_index)))
            line.unlink()
        if touched:
            journal._online_sync_chain_statement_balances(touched.exists(), from_index=from_index)
        if notes:
            link._post(
                Markup("<p>%s</p><ul>%s</ul>") % (
                    _("The bank corrected transactions of %(account)s it had sent before:", account=self.name),
                    Markup().join(Markup("<li>%s</li>") % note for note in notes),
                ),
                journals=journal,
                subject=_("Transactions corrected by the bank"),
            )
        return new

    def _warn_if_out_of_history(self, journal, date_from, today):
        """Say so when the days to fetch are older than what the bank keeps:
        those transactions can only come from a statement file now."""
        history = self.account_online_link_id.institution_id.history_days or DEFAULT_HISTORY_DAYS
        oldest = today - dt.timedelta(days=history)
        first_missing = self.last_sync and self.last_sync + dt.timedelta(days=1)
        if not first_missing or first_missing >= oldest:
            return
        self.account_online_link_id._post(
            _("%(bank)s keeps %(days)s days of history: the transactions of %(account)s from %(start)s "
              "to %(end)s cannot be fetched any more. Import them from a bank statement file.",
              bank=self.account_online_link_id.name, days=history, account=self.name,
              start=format_date(self.env, first_missing),
              end=format_date(self.env, oldest - dt.timedelta(days=1))),
            journals=journal,
            subject=_("Transactions out of reach"),
        )

    def _check_balance_data(self, balance):
        if not isinstance(balance, providers.Balance) or not self._is_amount(balance.amount):
            raise providers.InvalidData(_("The bank sent no valid balance for %s.", self.name),
                                        detail=repr(getattr(balance, "amount", balance)))
        if not isinstance(balance.currency, str) or balance.currency.upper() != self.currency_id.name:
            raise providers.InvalidData(_(
                "The bank gave the balance of %(account)s in %(currency)s instead of %(expected)s.",
                account=self.name, currency=balance.currency, expected=self.currency_id.name,
            ))

    @staticmethod
    def _is_amount(value):
        # Floats are refused: a bank amount is exact, a binary float is not.
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, Decimal) and value.is_finite()
        )

    def _spool_transactions(self, spool, transactions, journal, date_from, date_to):
        """Check each transaction and keep the posted ones of the window in
        ``spool``, a page at a time. Pending ones never become lines: they
        come back posted, under their own identifier."""
        link = self.account_online_link_id
        currency = journal.currency_id or journal.company_id.currency_id
        page, left_out = [], 0
        for transaction in transactions:
            if transaction is providers.LISTING_RESTARTED:
                spool.clear()
                page, left_out = [], 0
                continue
            if not getattr(transaction, "is_posted", False):
                continue
            self._check_transaction(transaction, currency)
            # Whatever the bank sends outside the window asked for is not ours to import now.
            if (date_from is not None and transaction.booking_date < date_from) or (
                date_to is not None and transaction.booking_date > date_to
            ):
                left_out += 1
                continue
            page.append(self._spool_row(transaction, link))
            if len(page) == IMPORT_BATCH_SIZE:
                spool.add(page)
                page = []
        spool.add(page)
        if self.sync_cursor and left_out:
            # Sent once, as changes since the cursor: left out, they would be lost without a word.
            link._post(_(
                "%(count)s transaction(s) of %(account)s are dated in a locked period and were not "
                "imported: import them from a bank statement file if they belong in the books.",
                count=left_out, account=self.name,
            ), journals=journal, subject=_("Transactions out of reach"))

    def _spool_row(self, transaction, link):
        date = self._transaction_date(transaction, link)
        generated_key = None
        if not transaction.identifier:
            # Named from what it says, so that fetching the same days again finds it again.
            generated_key = "|".join(str(part) for part in (
                date, transaction.amount, transaction.currency, transaction.label, transaction.partner_name or "",
            ))
        return (
            transaction.identifier or None, generated_key, date, transaction.amount, transaction.label,
            transaction.partner_name, transaction.partner_account_number, transaction.partner_information,
            transaction.foreign_currency, transaction.foreign_amount if transaction.foreign_currency else None,
        )

    def _select_new_transactions(self, spool, journal, date_from):
        """Mark in ``spool`` the transactions not imported yet, with the
        identifier each is imported under. Returns what they are: count,
        total, first date and foreign currencies."""
        new = _NewTransactions()
        if not spool.count:
            return new
        spool.seal()
        known = self._known_transactions(journal, date_from, spool)
        for batch in spool.batches(IMPORT_BATCH_SIZE, ("identifier", "date", "amount", "foreign_currency", "recurs")):
            transactions = [(identifier, date, float(amount)) for _seq, identifier, date, amount, *_rest in batch]
            known.load(transactions)
            marked = {}
            for (seq, _identifier, date, amount, foreign_code, _recurs), transaction in zip(batch, transactions):
                identifier = known.place(*transaction)
                if identifier is not None:
                    marked[seq] = identifier
                    new.add(date, amount, foreign_code)
            spool.mark_to_import(marked)
            known.save_adopted()
            # Memory follows the batch: only an identifier the fetch has again is remembered.
            known.forget(transaction for row, transaction in zip(batch, transactions) if not row[-1])
        if known.reused:
            self.account_online_link_id._post(
                Markup("<p>%s</p><ul>%s</ul>") % (
                    _("The bank used one identifier for different transactions of %(account)s: "
                      "each is imported. Check them against the bank statement.", account=self.name),
                    Markup().join(Markup("<li>%s</li>") % line for line in known.reused),
                ),
                journals=journal,
            )
        return new

    def _prepare_statement_line_vals(self, row, journal, foreign_currencies):
        """The statement line of a transaction ``_select_new_transactions``
        marked: a row of ``IMPORT_COLUMNS``."""
        (_seq, identifier, date, amount, label, partner_name, partner_account_number, partner_information,
         foreign_code, foreign_amount) = row
        vals = {
            "journal_id": journal.id,
            "date": date,
            "payment_ref": label or partner_name or "/",
            "amount": float(amount),
            "partner_name": partner_name or False,
            "account_number": partner_account_number or False,
            "online_transaction_identifier": identifier,
            "online_partner_information": partner_information or False,
            "online_account_id": self.id,
        }
        foreign = foreign_code and foreign_currencies[foreign_code]
        if foreign:
            if foreign.active:
                vals["foreign_currency_id"] = foreign.id
                vals["amount_currency"] = float(foreign_amount)
            else:
                # Turning a currency on is the administrator's choice, not the bank's.
                vals["payment_ref"] += f" ({foreign.name} {foreign_amount})"
        return vals

    def _check_transaction(self, transaction, currency):
        ref = getattr(transaction, "identifier", None) or "?"
        if not self._is_amount(transaction.amount):
            raise providers.InvalidData(_("Transaction %s has no valid amount.", ref),
                                        detail=repr(transaction.amount))
        if not (isinstance(transaction.currency, str) and transaction.currency):
            raise providers.InvalidData(_("Transaction %s has no currency.", ref))
        if transaction.currency.upper() != currency.name:
            raise providers.InvalidData(_(
                "Transaction %(ref)s of %(account)s is in %(currency)s, the account in %(expected)s.",
                ref=ref, account=self.name, currency=transaction.currency, expected=currency.name,
            ))
        if Decimal(transaction.amount) != round(Decimal(transaction.amount), currency.decimal_places):
            raise providers.InvalidData(_(
                "Transaction %(ref)s has an amount of %(amount)s, more decimals than %(currency)s has.",
                ref=ref, amount=transaction.amount, currency=currency.name,
            ))
        if not isinstance(transaction.booking_date, dt.date):
            raise providers.InvalidData(_("Transaction %s has no date.", ref))
        if transaction.booked_at is not None and (
            not isinstance(transaction.booked_at, dt.datetime) or transaction.booked_at.tzinfo is None
        ):
            raise providers.InvalidData(_("Transaction %s has a time without timezone.", ref))
        if transaction.foreign_currency and not self._is_amount(transaction.foreign_amount):
            raise providers.InvalidData(_("Transaction %s has a foreign currency but no foreign amount.", ref))

    @staticmethod
    def _transaction_date(transaction, link):
        if transaction.booked_at is not None:
            return link._to_local(transaction.booked_at).date()
        return transaction.booking_date

    def _known_transactions(self, journal, date_from, spool):
        # Read in SQL: what the bank corrected must be written first.
        self.env.flush_all()
        unidentified = defaultdict(list)
        if self._first_sync_into(journal):
            # The journal has lines this account did not import (a file import,
            # the legacy module, OCA's online import, an earlier connection):
            # one whose identifier this fetch does not have stands for a
            # transaction of the same date and amount.
            self.env.cr.execute(SQL("""
                SELECT line.id, move.date, line.amount
                  FROM account_bank_statement_line line
                  JOIN account_move move ON move.id = line.move_id
                 WHERE line.journal_id = %s AND move.date >= %s
                   -- Our own opening line, kept by an interrupted first sync, stands for no transaction.
                   AND line.online_account_id IS DISTINCT FROM %s
                   AND (line.online_transaction_identifier IS NULL OR NOT EXISTS (
                        SELECT 1 FROM %s spool
                         WHERE spool.identifier = split_part(line.online_transaction_identifier, '#', 1)))
                 ORDER BY move.date, line.id
            """, journal.id, date_from - dt.timedelta(days=1), self.id, spool.table))
            for line_id, date, amount in self.env.cr.fetchall():
                unidentified[(date, float(amount))].append(line_id)
        currency = journal.currency_id or journal.company_id.currency_id
        return _KnownTransactions(self.env.cr, journal, unidentified, currency)

    def _first_sync_into(self, journal):
        """Whether this account has imported nothing into ``journal`` yet: its
        first synchronization, or the first after taking over a journal whose
        lines came another way (the legacy module, OCA), which goes on from
        the date the old synchronization reached."""
        return not self.last_sync or not self.env["account.bank.statement.line"].sudo().search_count(
            [("journal_id", "=", journal.id), ("online_account_id", "=", self.id)], limit=1,
        )

    def _prepare_opening_balance_vals(self, journal, balance, imported, date):
        """On the first sync of a journal that had no line yet, a line that
        makes the journal's balance the bank's: ``imported`` is what the new
        transactions add up to, ``date`` the first one's."""
        if self.env["account.bank.statement.line"].sudo().search_count(
            [("journal_id", "=", journal.id)], limit=1,
        ):
            return None
        currency = journal.currency_id or journal.company_id.currency_id
        opening = currency.round(float(balance.amount - imported))
        if currency.is_zero(opening):
            return None
        return {
            "journal_id": journal.id,
            "date": date,
            "payment_ref": _("Opening balance"),
            "amount": opening,
            "online_account_id": self.id,
        }

    # ------------------------------------------------------------------
    # Balance check
    # ------------------------------------------------------------------

    def _journal_balance(self):
        self.ensure_one()
        self.env.flush_all()
        rows = self.env["account.bank.statement.line"].sudo()._read_group(
            [("journal_id", "=", self.journal_ids.id)], aggregates=["amount:sum"],
        )
        return rows[0][0] if rows else 0.0

    def _check_balance(self):
        """After a synchronization, the journal must say what the bank says.
        When it does not, tell it on the connection and the journal, once per
        new difference."""
        self.ensure_one()
        journal = self.journal_ids
        currency = journal.currency_id or journal.company_id.currency_id
        journal_balance = self._journal_balance()
        difference = currency.round(journal_balance - self.balance)
        if currency.compare_amounts(difference, self.balance_difference) == 0:
            return
        self.sudo().balance_difference = difference
        link = self.account_online_link_id
        if currency.is_zero(difference):
            link._post(_("The balance of %(journal)s matches the bank's again: %(balance)s.",
                         journal=journal.name, balance=formatLang(self.env, self.balance, currency_obj=currency)),
                       journals=journal)
            return
        link._post(
            _("The balance of %(journal)s is %(journal_balance)s, the bank's is %(bank_balance)s: "
              "a difference of %(difference)s. Transactions are missing or counted twice: compare the "
              "journal's lines with the bank statement.",
              journal=journal.name,
              journal_balance=formatLang(self.env, journal_balance, currency_obj=currency),
              bank_balance=formatLang(self.env, self.balance, currency_obj=currency),
              difference=formatLang(self.env, difference, currency_obj=currency)),
            journals=journal,
            subject=_("Balance differs from the bank"),
        )


class _NewTransactions:
    """What the transactions to import add up to."""

    def __init__(self):
        self.count = 0
        self.total = Decimal(0)
        self.first_date = None
        self.foreign_currencies = set()

    def add(self, date, amount, foreign_currency):
        self.count += 1
        self.total += amount
        # Booking order: the first is the earliest.
        self.first_date = self.first_date or date
        if foreign_currency:
            self.foreign_currencies.add(foreign_currency)


class _KnownTransactions:
    """Which transactions of a fetch the journal already has, and under
    which identifier a new one is imported."""

    def __init__(self, cr, journal, unidentified, currency):
        self.cr = cr
        self.journal = journal
        self.by_identifier = {}  # identifier -> (date, amount), of the journal and of the fetch
        self.unidentified = unidentified  # (date, amount) -> ids of the lines that stand for such transactions
        self.adopted = {}  # line id -> identifier of the transaction it stands for
        self.currency = currency
        self.reused = []

    def load(self, transactions):
        """Read what the journal has of ``transactions`` ((identifier, date,
        amount) about to be placed), under their own identifier or a qualified one."""
        candidates = set()
        for identifier, date, amount in transactions:
            candidates.add(identifier)
            candidates.add(self.qualified(identifier, date, amount))
        candidates.difference_update(self.by_identifier)
        if not candidates:
            return
        self.cr.execute(SQL(
            "SELECT line.online_transaction_identifier, move.date, line.amount FROM account_bank_statement_line line"
            " JOIN account_move move ON move.id = line.move_id"
            " WHERE line.journal_id = %s AND line.online_transaction_identifier = ANY(%s)",
            self.journal.id, list(candidates),
        ))
        self.by_identifier.update((identifier, (date, float(amount))) for identifier, date, amount in self.cr.fetchall())

    def forget(self, transactions):
        """``transactions`` (identifier, date, amount) are placed, and their
        identifiers come no more in this fetch."""
        for identifier, date, amount in transactions:
            self.by_identifier.pop(identifier, None)
            self.by_identifier.pop(self.qualified(identifier, date, amount), None)

    def save_adopted(self):
        """Write on the journal's lines the identifiers of the transactions they stand for."""
        if not self.adopted:
            return
        self.cr.execute(SQL(
            "UPDATE account_bank_statement_line line SET online_transaction_identifier = adopted.identifier"
            "  FROM unnest(%s::int[], %s::varchar[]) AS adopted(id, identifier) WHERE line.id = adopted.id",
            list(self.adopted), list(self.adopted.values()),
        ))
        self.journal.env["account.bank.statement.line"].invalidate_model(["online_transaction_identifier"])
        self.adopted = {}

    @staticmethod
    def qualified(identifier, date, amount):
        return f"{identifier}#{date:%Y%m%d}:{amount:.6f}"

    def _same(self, known, date, amount):
        known_date, known_amount = known
        return (self.currency.compare_amounts(known_amount, amount) == 0
                and abs((known_date - date).days) <= SAME_TRANSACTION_MAX_DAYS)

    def place(self, identifier, date, amount):
        """The identifier to import the transaction under, or None when the
        journal has it already."""
        lines = self.unidentified.get((date, amount))
        if lines and identifier not in self.by_identifier:
            # The journal's line stands for it, and takes its identifier: the
            # next synchronizations, which fetch its days again, know it by it.
            # A repeat in the same answer is a duplicate.
            self.adopted[lines.pop(0)] = identifier
            self.by_identifier[identifier] = (date, amount)
            return None
        known = self.by_identifier.get(identifier)
        if known is None:
            self.by_identifier[identifier] = (date, amount)
            return identifier
        if self._same(known, date, amount):
            return None
        qualified = self.qualified(identifier, date, amount)
        if qualified in self.by_identifier:
            return None
        self.by_identifier[qualified] = (date, amount)
        self.reused.append(_KnownTransactions._describe(identifier, known, date, amount))
        return qualified

    @staticmethod
    def _describe(identifier, known, date, amount):
        return f"{identifier}: {known[0]} {known[1]:.2f} / {date} {amount:.2f}"
