# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime as dt
import hashlib
from collections import Counter

from odoo import _, api, fields, models
from odoo.addons.base.models.res_bank import sanitize_account_number
from odoo.exceptions import ValidationError

from .. import providers

# Banks sometimes book a transaction days after the date it carries: each
# sync fetches this many days before the last one again (duplicates are
# skipped by identifier).
OVERLAP_DAYS = 7
DEFAULT_HISTORY_DAYS = 90


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
    currency_id = fields.Many2one("res.currency", required=True)
    balance = fields.Monetary(readonly=True, help="Booked balance at the bank, at the last synchronization.")
    last_sync = fields.Date(
        string="Synchronized Until",
        readonly=True,
        help="Transactions up to this date are imported. Only a successful import moves it.",
    )
    journal_ids = fields.One2many("account.journal", "account_online_account_id", string="Journal")

    @api.constrains("journal_ids")
    def _check_single_journal(self):
        for account in self:
            if len(account.journal_ids) > 1:
                raise ValidationError(_("A bank account can only be synchronized into one journal."))

    # ------------------------------------------------------------------
    # Setup
    # ------------------------------------------------------------------

    @api.model
    def _get_currency(self, code):
        currency = self.env["res.currency"].with_context(active_test=False).search(
            [("name", "=", (code or "").upper())], limit=1,
        )
        if not currency:
            raise providers.InvalidData(_("The bank sent an unknown currency: %s", code))
        if not currency.active:
            currency.sudo().active = True
        return currency

    def _link_journal(self):
        """Synchronize into the unlinked bank journal with the same account
        number and currency, else into a new bank journal."""
        self.ensure_one()
        company = self.company_id
        journals = self.env["account.journal"].search([
            *self.env["account.journal"]._check_company_domain(company),
            ("type", "=", "bank"),
            ("account_online_account_id", "=", False),
        ])
        number = sanitize_account_number(self.account_number or "")
        journal = journals.filtered(
            lambda j: number
            and j.bank_account_id.sanitized_acc_number == number
            and (j.currency_id or j.company_id.currency_id) == self.currency_id
        )[:1]
        if not journal:
            journal = self.env["account.journal"].create(self._prepare_journal_vals())
        journal.write({"account_online_account_id": self.id, "bank_statements_source": "online_sync"})
        return journal

    def _prepare_journal_vals(self):
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
        return {
            "name": unique_name,
            "type": "bank",
            "company_id": company.id,
            "currency_id": self.currency_id.id if self.currency_id != company.currency_id else False,
            "bank_acc_number": self.account_number or False,
        }

    # ------------------------------------------------------------------
    # Import
    # ------------------------------------------------------------------

    def _get_fetch_date_from(self, journal, today):
        if self.last_sync:
            return self.last_sync - dt.timedelta(days=OVERLAP_DAYS)
        history = self.account_online_link_id.institution_id.history_days or DEFAULT_HISTORY_DAYS
        start = today - dt.timedelta(days=history)
        last_line = self.env["account.bank.statement.line"].sudo().search(
            [("journal_id", "=", journal.id)], order="date desc", limit=1,
        )
        if last_line:
            # Lines already there (file imports): continue after them.
            start = max(start, last_line.date + dt.timedelta(days=1))
        lock_date = max(filter(None, (journal.company_id.fiscalyear_lock_date,
                                      journal.company_id.hard_lock_date)), default=None)
        if lock_date:
            start = max(start, lock_date + dt.timedelta(days=1))
        return start

    def _import_transactions(self, client, consent):
        """Fetch and import this account's posted transactions. Raises a
        provider error, without writing anything, when the data is unusable."""
        self.ensure_one()
        journal = self.journal_ids
        link = self.account_online_link_id
        today = link._local_today()
        date_from = self._get_fetch_date_from(journal, today)
        balance = client.get_balance(consent, self.online_identifier)
        if balance.currency.upper() != self.currency_id.name:
            raise providers.InvalidData(_(
                "The bank gave the balance of %(account)s in %(currency)s instead of %(expected)s.",
                account=self.name, currency=balance.currency, expected=self.currency_id.name,
            ))
        transactions = client.get_transactions(consent, self.online_identifier, date_from, today)
        vals_list = self._prepare_statement_line_vals(transactions, journal)
        if not self.last_sync:
            opening = self._prepare_opening_balance_vals(journal, balance, vals_list, date_from)
            if opening:
                vals_list.insert(0, opening)
        lines = self.env["account.bank.statement.line"].create(vals_list)
        journal._online_sync_group_in_statements(lines)
        self.write({"balance": float(balance.amount), "last_sync": today})
        return lines

    def _prepare_statement_line_vals(self, transactions, journal):
        """Statement line values of the posted transactions not imported yet,
        in booking order. Pending ones never become lines: they come back
        posted, under their own identifier."""
        link = self.account_online_link_id
        currency = journal.currency_id or journal.company_id.currency_id
        posted = [t for t in transactions if t.is_posted]
        for transaction in posted:
            self._check_transaction(transaction, currency)
        dated = [(self._transaction_date(t, link), t) for t in posted]
        dated.sort(key=lambda pair: pair[0])
        identified = self._with_identifiers(dated)
        already = set(self.env["account.bank.statement.line"].sudo().search([
            ("journal_id", "=", journal.id),
            ("online_transaction_identifier", "in", [ident for ident, _date, _t in identified]),
        ]).mapped("online_transaction_identifier"))
        vals_list = []
        for identifier, date, transaction in identified:
            if identifier in already:
                continue
            already.add(identifier)  # repeats inside one batch
            vals = {
                "journal_id": journal.id,
                "date": date,
                "payment_ref": transaction.label or transaction.partner_name or "/",
                "amount": currency.round(float(transaction.amount)),
                "partner_name": transaction.partner_name or False,
                "account_number": transaction.partner_account_number or False,
                "online_transaction_identifier": identifier,
                "online_partner_information": transaction.partner_information or False,
                "online_account_id": self.id,
            }
            if transaction.foreign_currency and transaction.foreign_currency.upper() != currency.name:
                foreign = self._get_currency(transaction.foreign_currency)
                vals["foreign_currency_id"] = foreign.id
                vals["amount_currency"] = foreign.round(float(transaction.foreign_amount))
            vals_list.append(vals)
        return vals_list

    def _check_transaction(self, transaction, currency):
        if transaction.currency.upper() != currency.name:
            raise providers.InvalidData(_(
                "Transaction %(ref)s of %(account)s is in %(currency)s, the account in %(expected)s.",
                ref=transaction.identifier, account=self.name,
                currency=transaction.currency, expected=currency.name,
            ))
        if not transaction.amount.is_finite():
            raise providers.InvalidData(_("Transaction %s has no valid amount.", transaction.identifier))
        if transaction.foreign_currency and transaction.foreign_amount is None:
            raise providers.InvalidData(_("Transaction %s has a foreign currency but no foreign amount.",
                                          transaction.identifier))

    @staticmethod
    def _transaction_date(transaction, link):
        if transaction.booked_at is not None:
            if transaction.booked_at.tzinfo is None:
                raise providers.InvalidData(_("Transaction %s has a time without timezone.",
                                              transaction.identifier))
            return link._to_local(transaction.booked_at).date()
        return transaction.booking_date

    @staticmethod
    def _with_identifiers(dated):
        """(identifier, date, transaction) for each; transactions the bank
        gave no identifier get one from what they say, numbered when two are
        alike, so that fetching the same days again finds them again."""
        seen = Counter()
        result = []
        for date, transaction in dated:
            identifier = transaction.identifier
            if not identifier:
                key = "|".join(str(part) for part in (
                    date, transaction.amount, transaction.currency, transaction.label,
                    transaction.partner_name or "",
                ))
                seen[key] += 1
                digest = hashlib.sha256(f"{key}|{seen[key]}".encode()).hexdigest()[:32]
                identifier = f"generated-{digest}"
            result.append((identifier, date, transaction))
        return result

    def _prepare_opening_balance_vals(self, journal, balance, vals_list, date_from):
        """On the first sync of a journal that had no line yet, a line that
        makes the journal's balance the bank's."""
        if self.env["account.bank.statement.line"].sudo().search_count(
            [("journal_id", "=", journal.id)], limit=1,
        ):
            return None
        currency = journal.currency_id or journal.company_id.currency_id
        imported = sum(vals["amount"] for vals in vals_list)
        opening = currency.round(float(balance.amount) - imported)
        if currency.is_zero(opening):
            return None
        return {
            "journal_id": journal.id,
            "date": min((vals["date"] for vals in vals_list), default=date_from),
            "payment_ref": _("Opening balance"),
            "amount": opening,
            "online_account_id": self.id,
        }
