# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A bank for the fault tests, and the gates that stop an Odoo process where
a test wants to kill it or to overlap it with another.

The bank is the Demo Bank (its consent, its institution) showing one
account whose transactions have fixed dates: the first ``count`` of an
endless list, so that a test says how many the bank has at each step, and
every process, whatever its clock, sees the same transactions.

``transactions`` and ``balance`` are plain Python, for the test process;
``install`` and the gates run inside ``odoo-bin shell``."""
import datetime as dt
import os
import time
from decimal import Decimal

ACCOUNT_ID = "DEMO_BANK-fault"
ACCOUNT_NAME = "Fault Account"
ACCOUNT_NUMBER = "BE43068999999501"
OPENING_BALANCE = Decimal("10000.00")
# What the bank has when the connection is made: two a day from HISTORY_FROM.
HISTORY = 40
HISTORY_FROM = dt.date(2026, 10, 16)
# Those that come after, spread over five days from NEW_FROM, out of date
# order as a bank's pages may be (the import sorts them).
NEW_FROM = dt.date(2026, 11, 21)
NEW_DAYS = 5
# Transactions in a page of the bank's listing.
PAGE_SIZE = 200
# How long a gate waits for its release before giving up (a test that died):
# counted in sleeps, the process's clock being frozen.
GATE_TIMEOUT = 600
POLL = 0.05


def transaction_values(index):
    """(identifier, date, amount) of the bank's ``index``-th transaction."""
    if index < HISTORY:
        day = HISTORY_FROM + dt.timedelta(days=index // 2)
    else:
        day = NEW_FROM + dt.timedelta(days=(index - HISTORY) % NEW_DAYS)
    cents = (index * 7919) % 40001 - 20000
    return f"FAULT-{index:05d}", day, Decimal(cents or 1) / 100


def transactions(count):
    return [transaction_values(index) for index in range(count)]


def balance(count):
    """The bank's booked balance when it has ``count`` transactions."""
    return OPENING_BALANCE + sum((amount for _identifier, _day, amount in transactions(count)), Decimal(0))


# ----------------------------------------------------------------------
# Inside odoo-bin shell
# ----------------------------------------------------------------------

def install(count):
    """The Demo Bank replaced by the fault bank with ``count`` transactions
    in this process. Returns its class: ``calls`` lists every request the
    connector was asked to send."""
    from odoo.addons.account_online_synchronization import providers
    from odoo.addons.account_online_synchronization.providers import (
        POSTED, Balance, BankAccount, BankProvider, Transaction,
    )
    from odoo.addons.account_online_synchronization.providers.demo import DemoBankProvider

    class FaultBank(DemoBankProvider):
        calls = []

        def list_accounts(self, consent):
            self._check_consent(consent)
            return [BankAccount(identifier=ACCOUNT_ID, name=ACCOUNT_NAME, currency="EUR",
                                account_number=ACCOUNT_NUMBER)]

        def get_balance(self, consent, account_id):
            self._check_consent(consent)
            return Balance(amount=balance(count), currency="EUR")

        def iter_transaction_pages(self, consent, account_id, date_from, date_to):
            self._check_consent(consent)
            page = []
            for identifier, day, amount in transactions(count):
                if date_from <= day <= date_to:
                    page.append(Transaction(identifier=identifier, status=POSTED, amount=amount, currency="EUR",
                                            booking_date=day, label=f"Payment {identifier}"))
                    if len(page) == PAGE_SIZE:
                        yield page
                        page = []
            yield page

        get_transactions = BankProvider.get_transactions

    # Every call that would be a request to a real aggregator, counted.
    for name in ("list_institutions", "start_connect", "finish_connect", "connect_with_token", "refresh",
                 "list_accounts", "get_balance", "get_transactions", "get_changes"):
        def counted(self, *args, _name=name, _method=getattr(FaultBank, name), **kwargs):
            FaultBank.calls.append(_name)
            return _method(self, *args, **kwargs)
        setattr(FaultBank, name, counted)
    providers.PROVIDERS["demo"] = FaultBank
    return FaultBank


def wait_for(path):
    """Wait until the test creates ``path``."""
    for _poll in range(int(GATE_TIMEOUT / POLL)):
        if os.path.exists(path):
            return
        time.sleep(POLL)
    raise TimeoutError(f"not released: {path}")


def gate(marker, release=None):
    """Tell the test (a line on stdout) and wait for ``release``; without it,
    wait to be killed."""
    print(marker, flush=True)
    if release:
        wait_for(release)
        return
    time.sleep(GATE_TIMEOUT)
    raise TimeoutError(f"not killed after {marker}")
