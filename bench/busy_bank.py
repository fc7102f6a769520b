# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A busy account for the import benchmark: the Demo Bank with one account
that books ``count`` posted transactions over the 85 days before today,
the same ones for every importer measured (ours, the naive create(), OCA)."""
import datetime as dt
import random
from decimal import Decimal

from odoo.addons.account_online_synchronization.providers import (
    POSTED, Balance, BankAccount, BankProvider, Transaction,
)
from odoo.addons.account_online_synchronization.providers.demo import DemoBankProvider

ACCOUNT_ID = "DEMO_BANK-busy"
ACCOUNT_NUMBER = "BE62510007547061"
OPENING_BALANCE = Decimal("50000.00")
DAYS = 85
# Transactions a page of the bank's listing holds (Enable Banking sends pages of about this size).
PAGE_SIZE = 200
PARTNERS = ("Boulangerie Crème Brûlée", "Müller & Söhne GmbH", "Café Łódź", "Ærø Shipping ApS", "Zoë Dupont-Élise",
            "Nordisk Ståhl AB", "Telefónica Møbil", "Supermercado Ñandú")


def busy_transactions(count, today, extra=0):
    """``count`` posted transactions spread over the days before ``today``,
    then ``extra`` more on ``today`` (new ones for a later synchronization)."""
    return list(iter_busy_transactions(count, today, extra))


def iter_busy_transactions(count, today, extra=0):
    rng = random.Random(f"busy|{count}")
    first_day = today - dt.timedelta(days=DAYS)
    for index in range(count + extra):
        day = first_day + dt.timedelta(days=index * DAYS // count) if index < count else today
        partner = PARTNERS[rng.randrange(len(PARTNERS))]
        amount = Decimal(rng.randint(-90000, 110000) or 1) / 100
        yield Transaction(
            identifier=f"BUSY-{index:06d}", status=POSTED, amount=amount, currency="EUR", booking_date=day,
            label=f"Payment {index:06d} {partner}", partner_name=partner,
            partner_information=f"busy-partner-{partner.lower()}",
        )


class BusyDemoBank(DemoBankProvider):
    """The Demo Bank, showing only the busy account. With ``account_index``,
    each connection made meanwhile gets an account (and so a journal) of its
    own, with the same transactions."""

    count = 1000
    extra = 0
    account_index = None

    def _busy_today(self):
        return self.now().date()

    def list_accounts(self, consent):
        self._check_consent(consent)
        if self.account_index is None:
            identifier, number = ACCOUNT_ID, ACCOUNT_NUMBER
        else:
            identifier, number = f"{ACCOUNT_ID}-{self.account_index}", f"{ACCOUNT_NUMBER[:-4]}{self.account_index:04d}"
        return [BankAccount(identifier=identifier, name="Busy Account", currency="EUR", account_number=number)]

    def get_balance(self, consent, account_id):
        # Summed as they come: a bank's balance costs it no list of its transactions.
        total = OPENING_BALANCE + sum(t.amount for t in iter_busy_transactions(self.count, self._busy_today(), self.extra))
        return Balance(amount=total, currency="EUR", reference_date=self._busy_today())

    def iter_transaction_pages(self, consent, account_id, date_from, date_to):
        # Pages of PAGE_SIZE, as a paging API sends them: the bank holds no list of the window either.
        page = []
        for transaction in iter_busy_transactions(self.count, self._busy_today(), self.extra):
            if date_from <= transaction.booking_date <= date_to:
                page.append(transaction)
                if len(page) == PAGE_SIZE:
                    yield page
                    page = []
        yield page

    get_transactions = BankProvider.get_transactions
