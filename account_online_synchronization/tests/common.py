# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime as dt
from decimal import Decimal
from unittest.mock import patch

from odoo.addons.account.tests.common import AccountTestInvoicingCommon

from ..providers import POSTED, Transaction
from ..providers.demo import DemoBankProvider

# A Wednesday: card payments of Monday and Tuesday are still pending.
NOW = "2026-11-25 10:00:00"


class OnlineSyncCommon(AccountTestInvoicingCommon):

    def _connect(self, identifier="DEMO_BANK", timezone="Europe/Brussels"):
        institution = self.env["account.online.institution"].search([("identifier", "=", identifier)])
        self.assertTrue(institution, "the Demo Bank directory is loaded at install")
        link = self.env["account.online.link"].create({"institution_id": institution.id, "timezone": timezone})
        link.action_connect()
        return link

    def _journal(self, link, account_name="Current Account"):
        return link.account_online_account_ids.filtered(lambda a: a.name == account_name).journal_ids

    def _lines(self, journal):
        return self.env["account.bank.statement.line"].search([("journal_id", "=", journal.id)])

    def _demo_transactions(self, link, account_name="Current Account", date_from=None, date_to=None):
        """What the Demo Bank itself says, to compare the books with."""
        account = link.account_online_account_ids.filtered(lambda a: a.name == account_name)
        client = link.provider_id._get_client()
        today = link._local_today()
        return client.get_transactions(
            link._get_consent(), account.online_identifier,
            date_from or today - dt.timedelta(days=90), date_to or today,
        )

    @staticmethod
    def _bank_shows(transactions):
        """The Current Account shows these transactions; the others what the Demo Bank says."""
        real_get_transactions = DemoBankProvider.get_transactions

        def get_transactions(provider, consent, account_id, date_from, date_to):
            if account_id.endswith("current"):
                return list(transactions)
            return real_get_transactions(provider, consent, account_id, date_from, date_to)

        return patch.object(DemoBankProvider, "get_transactions", get_transactions)

    @staticmethod
    def _transaction(identifier, amount, when, label="Test payment", **kwargs):
        if isinstance(when, dt.datetime):
            kwargs.setdefault("booked_at", when)
            booking_date = when.date()
        else:
            booking_date = when
        return Transaction(
            identifier=identifier, status=kwargs.pop("status", POSTED), amount=Decimal(amount),
            currency=kwargs.pop("currency", "EUR"), booking_date=booking_date, label=label, **kwargs,
        )


__all__ = ["NOW", "DemoBankProvider", "OnlineSyncCommon"]
