# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime as dt
import os
import sys

from odoo import api, models

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", ".."))
from busy_bank import busy_transactions  # noqa: E402


class OnlineBankStatementProvider(models.Model):
    _inherit = "online.bank.statement.provider"

    @api.model
    def _get_available_services(self):
        return super()._get_available_services() + [("bench_busy_bank", "Benchmark: busy Demo Bank account")]

    def _obtain_statement_data(self, date_since, date_until):
        """The busy account's transactions in the window, as OCA providers
        give them: line values and the statement's values."""
        if self.service != "bench_busy_bank":
            return super()._obtain_statement_data(date_since, date_until)
        count = int(os.environ["BENCH_TRANSACTIONS"])
        today = dt.date.fromisoformat(os.environ["BENCH_TODAY"])
        lines = [{
            "date": dt.datetime.combine(t.booking_date, dt.time(12)),
            "amount": float(t.amount),
            "payment_ref": t.label,
            "partner_name": t.partner_name,
            "unique_import_id": t.identifier,
        } for t in busy_transactions(count, today)
            if date_since.date() <= t.booking_date < date_until.date()]
        return lines, {}
