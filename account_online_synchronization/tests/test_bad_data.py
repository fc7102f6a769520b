# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What a bank sends that cannot be trusted is refused with a clear error and
a reference, and the books stay exactly as they were."""
import contextlib
import datetime as dt
from decimal import Decimal
from unittest.mock import patch

from freezegun import freeze_time

from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..providers import Balance
from .common import LOGGER, NOW, ConnectedCommon, DemoBankProvider

DAY = dt.date(2026, 12, 1)
SYNC_AT = "2026-12-02 10:00:00"


@tagged("post_install", "-at_install")
@freeze_time(NOW)
class TestBadData(ConnectedCommon):

    def _assert_refused(self, message, transactions=(), balance=None):
        """A synchronization that meets this data says ``message`` with a
        reference, and changes nothing in the books."""
        count = len(self._lines(self.journal))
        last_syncs = self.link.account_online_account_ids.mapped("last_sync")
        with contextlib.ExitStack() as stack:
            stack.enter_context(freeze_time(SYNC_AT))
            stack.enter_context(mute_logger(LOGGER))
            stack.enter_context(self._bank_shows(transactions))
            if balance is not None:
                stack.enter_context(patch.object(DemoBankProvider, "get_balance", return_value=balance))
            caught = stack.enter_context(self.assertRaisesRegex(UserError, rf"(?s){message}.*Reference: "))
            self.link.action_fetch_transactions()
        self.assertEqual(len(self._lines(self.journal)), count, "nothing imported")
        self.assertEqual(self.link.account_online_account_ids.mapped("last_sync"), last_syncs)
        self.assertEqual(self.link.state, "error")
        self.assertIn(self.link.last_error_reference, str(caught.exception))
        self.assertIn(self.link.last_error_reference, self._messages(self.link)[0])

    def test_amount_none(self):
        self._assert_refused("has no valid amount", [self._transaction("BAD", None, DAY)])

    def test_amount_float(self):
        self._assert_refused("has no valid amount", [self._transaction("BAD", 10.1, DAY)])

    def test_amount_not_a_number(self):
        self._assert_refused("has no valid amount", [self._transaction("BAD", Decimal("NaN"), DAY)])

    def test_currency_missing(self):
        self._assert_refused("has no currency", [self._transaction("BAD", "1.00", DAY, currency=None)])

    def test_date_missing(self):
        self._assert_refused("has no date", [self._transaction("BAD", "1.00", DAY, booking_date=None)])

    def test_unknown_foreign_currency(self):
        # Refused before the first batch: the lines before it in the window are not imported either.
        self._assert_refused("unknown currency: XTS", [
            self._transaction("GOOD", "1.00", DAY - dt.timedelta(days=1)),
            self._transaction("BAD", "-20.00", DAY, foreign_currency="XTS", foreign_amount=Decimal("-17.10")),
        ])

    def test_more_decimals_than_the_currency(self):
        self._assert_refused("more decimals than EUR", [self._transaction("BAD", "10.005", DAY)])

    def test_balance_not_a_number(self):
        self._assert_refused("no valid balance", balance=Balance(amount=Decimal("NaN"), currency="EUR"))

    def test_balance_missing(self):
        self._assert_refused("no valid balance", balance=Balance(amount=None, currency="EUR"))

    def test_balance_float(self):
        self._assert_refused("no valid balance", balance=Balance(amount=1234.5, currency="EUR"))

    def test_transaction_after_the_window_is_left_for_later(self):
        future = self._transaction("FUTURE", "99.00", dt.date(2026, 12, 20), label="Dated later")
        # This bank sends more than the days it is asked for.
        with freeze_time(SYNC_AT), self._bank_shows([future], window=False):
            self.link.action_fetch_transactions()
        self.assertFalse(self._lines(self.journal).filtered(lambda l: l.online_transaction_identifier == "FUTURE"))
        self.assertBooksMatchBank(self.journal)
        # Its day comes: it is imported then.
        with freeze_time("2026-12-20 20:00:00"), self._bank_shows([future], balance_delta="99.00", window=False):
            self.link.action_fetch_transactions()
            self.assertTrue(self._lines(self.journal).filtered(lambda l: l.online_transaction_identifier == "FUTURE"))
            self.assertBooksMatchBank(self.journal)

    def test_inactive_foreign_currency_is_not_activated(self):
        gbp = self.env.ref("base.GBP")
        self.assertFalse(gbp.active)
        abroad = self._transaction("ABROAD", "-20.00", DAY, label="Card payment London",
                                   foreign_currency="GBP", foreign_amount=Decimal("-17.10"))
        with freeze_time(SYNC_AT), self._bank_shows([abroad], balance_delta="-20.00"):
            self.link.action_fetch_transactions()
            self.assertBooksMatchBank(self.journal)
        line = self._lines(self.journal).filtered(lambda l: l.online_transaction_identifier == "ABROAD")
        self.assertEqual(line.amount, -20.0)
        self.assertFalse(line.foreign_currency_id)
        self.assertIn("GBP -17.10", line.payment_ref, "the foreign amount is kept in the label")
        self.assertFalse(gbp.active, "only an administrator turns a currency on")

    def test_account_currency_is_activated_when_connecting_and_said(self):
        self.assertTrue(self.env.ref("base.EUR").active)
        self.assertTrue([m for m in self._messages(self.link) if "EUR was activated" in m])
