# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
# Run inside `odoo-bin shell` (see bench/run.sh), from the repository's root:
# load a directory of 20,000 banks from the Plaid emulator, refresh it
# unchanged, refresh it with 100 banks renamed and 100 gone, search it; then
# roll everything back.
import sys
import time

import odoo.sql_db

sys.path.insert(0, ".")
from emulators.plaid import DEFAULT_CLIENT_ID, DEFAULT_SECRET, PlaidEmulator  # noqa: E402

BANKS = 20_000
env = env(user=env.ref("base.user_admin"))  # noqa: F821 - provided by odoo-bin shell
provider = env.ref("account_online_synchronization.provider_plaid")


def measure(label, work):
    env.invalidate_all()
    queries = odoo.sql_db.sql_counter
    start = time.perf_counter()
    result = work()
    env.flush_all()
    print(f"{label}: {time.perf_counter() - start:.2f} s, {odoo.sql_db.sql_counter - queries} queries")
    return result


with PlaidEmulator(sample_data=False) as emulator, env.cr.savepoint(flush=False) as savepoint:
    emulator.add_generated_institutions(BANKS)
    provider.sudo().write({"api_base_url": emulator.api_url, "environment": "sandbox",
                           "client_identifier": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_SECRET})
    count = len(emulator.bank.institutions)
    measure(f"first load of {count} banks", provider._sync_institutions)
    measure("refresh, nothing changed", provider._sync_institutions)
    generated = sorted(key for key in emulator.bank.institutions if key.startswith("ins_gen_"))
    for key in generated[:100]:
        emulator.bank.institutions[key]["name"] += " (renamed)"
    for key in generated[100:200]:
        del emulator.bank.institutions[key]
    measure("refresh, 100 renamed and 100 no longer listed", provider._sync_institutions)
    Institution = env["account.online.institution"]
    found = measure("search by name among them", lambda: Institution.name_search("Generated Bank 01234", limit=8))
    print(f"  found {len(found)}: {found[0][1]}")
    measure("search by country (US)", lambda: Institution.search([("country_ids.code", "=", "US")], limit=80))
    savepoint.rollback()
