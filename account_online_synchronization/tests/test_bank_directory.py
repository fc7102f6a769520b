# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The directory of banks at the scale of real aggregators: loaded and
refreshed in batches, searched by name, BIC or country at once, and a bank
the aggregator stops listing is archived, never deleted."""
from odoo.tests import TransactionCase, tagged

from .common import load_emulators

load_emulators()
from emulators.plaid import DEFAULT_CLIENT_ID, DEFAULT_SECRET, PlaidEmulator  # noqa: E402


@tagged("post_install", "-at_install")
class TestBankDirectory(TransactionCase):

    def setUp(self):
        super().setUp()
        self.env = self.env(user=self.env.ref("base.user_admin"))
        self.emulator = PlaidEmulator(sample_data=False).start()
        self.addCleanup(self.emulator.stop)
        self.provider = self.env.ref("account_online_synchronization.provider_plaid")
        self.provider.write({"api_base_url": self.emulator.api_url, "environment": "sandbox",
                             "client_identifier": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_SECRET})

    def _banks(self, **domain):
        return self.env["account.online.institution"].with_context(active_test=False).search(
            [("provider_id", "=", self.provider.id), *domain.get("extra", [])],
        )

    def _refresh_queries(self):
        self.env.invalidate_all()
        before = self.env.cr.sql_log_count
        self.provider._sync_institutions()
        self.env.flush_all()
        return self.env.cr.sql_log_count - before

    def test_thousands_of_banks_cost_the_same_few_queries(self):
        self.emulator.add_generated_institutions(500, prefix="ins_a_")
        small = self._refresh_queries()
        self.assertEqual(len(self._banks()), len(self.emulator.bank.institutions))

        self.emulator.add_generated_institutions(2500, prefix="ins_b_")
        large = self._refresh_queries()
        total = len(self.emulator.bank.institutions)
        self.assertEqual(len(self._banks()), total)
        # Six times more new banks: the cost grows with the batches (Odoo's
        # INSERTs of 1,000 rows), not with each bank.
        self.assertLess(large, small * 3, f"{small} queries for 500 banks, {large} for 2,500 more")

        unchanged = self._refresh_queries()
        self.assertLess(unchanged, 40, "nothing changed: nothing written")

    def test_a_bank_no_longer_listed_is_archived_and_a_renamed_one_updated(self):
        self.emulator.add_institution("ins_closing", "Closing Savings Bank")
        self.emulator.add_institution("ins_renamed", "Old Name Bank")
        self.provider._sync_institutions()
        closing = self._banks(extra=[("identifier", "=", "ins_closing")])
        link = self.env["account.online.link"].create({"institution_id": closing.id})

        del self.emulator.bank.institutions["ins_closing"]
        self.emulator.bank.institutions["ins_renamed"]["name"] = "Nouveau Nom Banque Œ"
        self.provider._sync_institutions()
        self.assertTrue(closing.exists())
        self.assertFalse(closing.active, "archived: connections still point to it")
        self.assertEqual(link.institution_id, closing)
        self.assertEqual(self._banks(extra=[("identifier", "=", "ins_renamed")]).name, "Nouveau Nom Banque Œ")

        self.emulator.add_institution("ins_closing", "Closing Savings Bank")
        self.provider._sync_institutions()
        self.assertTrue(closing.active, "listed again: active again")

    def test_search_by_name_bic_or_country_uses_indexes(self):
        self.emulator.add_generated_institutions(300)
        self.provider._sync_institutions()
        Institution = self.env["account.online.institution"]
        self.assertEqual(Institution.name_search("Generated Bank 000042", limit=5)[0][1], "Generated Bank 000042")
        self.assertEqual(Institution.search_count([("country_ids.code", "=", "US"),
                                                   ("provider_id", "=", self.provider.id)]),
                         len([i for i in self.emulator.bank.institutions.values() if "US" in i["country_codes"]]))
        self.env.cr.execute("""
            SELECT indexdef FROM pg_indexes WHERE tablename = 'account_online_institution'
        """)
        indexes = " ".join(row[0] for row in self.env.cr.fetchall())
        self.assertIn("gin_trgm_ops", indexes, "names are searched with a trigram index")
        self.assertIn("(bic)", indexes)

    def test_the_bank_picker_finds_by_bic_and_names_the_aggregator_and_beta(self):
        Institution = self.env["account.online.institution"].with_context(online_sync_bank_picker=True)
        found = Institution.name_search("DEMODEFF")
        self.assertEqual([name for _id, name in found], ["Demo Neobank (Demo Bank, Beta)"])
        belgium = self.env.ref("base.be")
        wizard = self.env["account.online.connect.wizard"].create({
            "country_id": belgium.id,
            "institution_id": Institution.search([("bic", "=", "DEMODEFF")]).id,
        })
        self.assertTrue(wizard.is_beta, "the wizard warns of a beta bank")
        self.assertEqual(wizard.institution_provider_id, self.env.ref("account_online_synchronization.provider_demo"))
        self.assertEqual(wizard.country_id, belgium)
        fresh = self.env["account.online.connect.wizard"].new({})
        self.assertEqual(fresh.country_id, self.env.company.country_id or self.env.company.account_fiscal_country_id,
                         "banks of the company's country are offered first")
