# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import contextlib
import datetime as dt
import sys
from pathlib import Path
from dataclasses import replace
from decimal import Decimal
from unittest.mock import patch

from odoo import SUPERUSER_ID, api
from odoo.tests import TransactionCase, new_test_user

from ..providers import POSTED, Transaction
from ..providers.demo import DemoBankProvider

# A Wednesday: card payments of Monday and Tuesday are still pending.
NOW = "2026-11-25 10:00:00"
# When the scheduled action runs next in the tests (never the real clock).
CRON_NEXTCALL = dt.datetime(2026, 11, 25, 22, 0)
LOGGER = "odoo.addons.account_online_synchronization.models.account_online_link"
CRON_XMLID = "account_online_synchronization.online_sync_cron"
REQUESTED_CRON_XMLID = "account_online_synchronization.online_sync_requested_cron"
# The aggregators' emulators live in the repository, beside the addon (they are not shipped with it).
REPOSITORY = Path(__file__).resolve().parents[2]


def load_emulators():
    """Make the repository's ``emulators`` package importable."""
    if not (REPOSITORY / "emulators" / "__init__.py").is_file():
        raise ImportError(f"The emulators are not beside the addon ({REPOSITORY}): run the tests from a clone "
                          "of the repository.")
    if str(REPOSITORY) not in sys.path:
        sys.path.append(str(REPOSITORY))


class CountingDemoBank:
    """Counts what the Demo Bank is asked, to prove nothing leaves."""

    def __enter__(self):
        self.calls = 0
        real_refresh = DemoBankProvider.refresh

        def refresh(provider, consent, automatic):
            self.calls += 1
            return real_refresh(provider, consent, automatic)

        self._patch = patch.object(DemoBankProvider, "refresh", refresh)
        self._patch.start()
        return self

    def __exit__(self, *exc):
        self._patch.stop()


def run_scheduled_action(test, xmlid=CRON_XMLID):
    """Run a scheduled action as Odoo's cron worker does: Odoo takes the job
    and runs it in cursors of its own, committing as it goes (in a test, these
    cursors only pretend to commit, and their clock is the frozen one)."""
    test.env.flush_all()
    test_mode = contextlib.nullcontext() if type(test)._registry_patched else test.enter_registry_test_mode()
    with test_mode, test.registry.cursor() as cr:
        api.Environment(cr, SUPERUSER_ID, {}).ref(xmlid).method_direct_trigger()
    test.env.invalidate_all()


class OnlineSyncCommon(TransactionCase):
    """Tests run as the administrator of a fresh Community database (Accounting
    Administrator, nothing more), in its main company, under a frozen clock."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = cls.env.ref("base.user_admin")
        cls.env = cls.env(user=cls.admin, context=dict(cls.env.context, allowed_company_ids=cls.admin.company_id.ids))
        cls.company = cls.env.company
        cls.cron = cls.env.ref("account_online_synchronization.online_sync_cron")
        cls.cron.sudo().nextcall = CRON_NEXTCALL

    @classmethod
    def _user(cls, login, groups):
        """A user made as the user form makes them: its groups are those the
        form offers (Invoicing, Administrator, and the extra rights
        "Show Full Accounting Features" and "- Readonly")."""
        return new_test_user(
            cls.env, login=login, groups=f"base.group_user,{groups}",
            company_id=cls.company.id, company_ids=[cls.company.id],
        )

    @classmethod
    def _connect(cls, identifier="DEMO_BANK", timezone="Europe/Brussels"):
        """Connect a bank of the Demo Bank as the administrator does."""
        institution = cls.env["account.online.institution"].search([("identifier", "=", identifier)])
        assert institution, "the Demo Bank directory is loaded at install"
        link = cls.env["account.online.link"].create({"institution_id": institution.id, "timezone": timezone})
        link.action_connect()
        return link

    @staticmethod
    def _journal(link, account_name="Current Account"):
        return link.account_online_account_ids.filtered(lambda a: a.name == account_name).journal_ids

    def _run_cron(self, xmlid=CRON_XMLID):
        run_scheduled_action(self, xmlid)

    def _lines(self, journal):
        return self.env["account.bank.statement.line"].search([("journal_id", "=", journal.id)])

    def _journal_balance(self, journal):
        return round(sum(self._lines(journal).mapped("amount")), 2)

    def assertBooksMatchBank(self, journal):
        """The journal says what the bank says, and nobody was told otherwise."""
        account = journal.account_online_account_id
        self.assertAlmostEqual(self._journal_balance(journal), account.balance, places=2)
        self.assertFalse(account.balance_difference)
        statements = self.env["account.bank.statement"].search([("journal_id", "=", journal.id)])
        for statement in statements:
            self.assertTrue(statement.is_complete and statement.is_valid, statement.name)
        if statements:
            last = statements.sorted("first_line_index")[-1]
            self.assertAlmostEqual(last.balance_end_real, account.balance, places=2)
        self.assertStatementsAsOdooComputes(statements)

    def assertStatementsAsOdooComputes(self, statements):
        """What the synchronization wrote on the statements is what Odoo's own
        computes make of their lines (first line, date, balances, complete)."""
        names = ("first_line_index", "date", "balance_start", "balance_end", "balance_end_real", "is_complete")

        def values():
            return [
                tuple(round(value, 6) if isinstance(value, float) else value for value in statement.read(names)[0].values())
                for statement in statements.sorted("first_line_index")
            ]

        self.env.flush_all()
        written = values()
        Statement = self.env["account.bank.statement"]
        for name in names:
            self.env.add_to_compute(Statement._fields[name], statements)
        statements.invalidate_recordset(names)
        self.env.flush_all()
        self.assertEqual(written, values())

    def _messages(self, record):
        """What the chatter says, newest first (tracked changes left out)."""
        return [body for body in record.sudo().message_ids.mapped("body") if body]

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
    @contextlib.contextmanager
    def _bank_shows(extra, balance_delta="0", only=False, window=True):
        """The Current Account shows what the Demo Bank says plus ``extra``
        transactions (``only``: nothing but them), and a booked balance
        ``balance_delta`` above the Demo Bank's. The others are left alone.
        Like a bank, it sends only the days asked for, unless ``window`` is
        False."""
        real_get_transactions = DemoBankProvider.get_transactions
        real_get_balance = DemoBankProvider.get_balance

        def get_transactions(provider, consent, account_id, date_from, date_to):
            real = real_get_transactions(provider, consent, account_id, date_from, date_to)
            if not account_id.endswith("current"):
                return real
            shown = [t for t in extra if not (window and isinstance(t.booking_date, dt.date))
                     or date_from <= t.booking_date <= date_to]
            return shown if only else real + shown

        def get_balance(provider, consent, account_id):
            balance = real_get_balance(provider, consent, account_id)
            if account_id.endswith("current"):
                return replace(balance, amount=balance.amount + Decimal(balance_delta))
            return balance

        with patch.object(DemoBankProvider, "get_transactions", get_transactions), \
                patch.object(DemoBankProvider, "get_balance", get_balance):
            yield

    @staticmethod
    def _transaction(identifier, amount, when, label="Test payment", **kwargs):
        if isinstance(when, dt.datetime):
            kwargs.setdefault("booked_at", when)
            booking_date = when.date()
        else:
            booking_date = when
        return Transaction(
            identifier=identifier, status=kwargs.pop("status", POSTED),
            amount=amount if not isinstance(amount, str) else Decimal(amount),
            currency=kwargs.pop("currency", "EUR"), booking_date=kwargs.pop("booking_date", booking_date),
            label=label, **kwargs,
        )


class ConnectedCommon(OnlineSyncCommon):
    """The Demo Bank connected once for the whole class: ``link``, and the
    Current Account's ``journal``."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.link = cls._connect()
        cls.journal = cls._journal(cls.link)


__all__ = ["CRON_XMLID", "CountingDemoBank", "LOGGER", "NOW", "REQUESTED_CRON_XMLID", "load_emulators", "run_scheduled_action",
           "ConnectedCommon", "DemoBankProvider", "OnlineSyncCommon"]
