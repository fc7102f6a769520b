# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
# Run inside `odoo-bin shell` (see bench/run.sh): time a first synchronization
# of the Demo Bank (about 250 posted transactions over 90 days) and a second,
# empty one, then roll everything back.
import time
import tracemalloc

import odoo.sql_db

# As the administrator of the database, not as the superuser of the shell.
env = env(user=env.ref("base.user_admin"))  # noqa: F821 - provided by odoo-bin shell
if env["account.online.link"].search_count([]):
    raise SystemExit("this database has bank connections: the benchmark needs one without")
institution = env["account.online.institution"].search([("identifier", "=", "DEMO_BANK")], limit=1)
runs = []
for run in range(3):
    # tracemalloc slows Python down a lot: only the last run measures memory.
    traced = run == 2
    with env.cr.savepoint(flush=False) as savepoint:
        if traced:
            tracemalloc.start()
        queries = odoo.sql_db.sql_counter
        start = time.perf_counter()
        link = env["account.online.link"].create({"institution_id": institution.id})
        link.action_connect()
        env.flush_all()
        first = time.perf_counter() - start
        lines = env["account.bank.statement.line"].search_count([("journal_id", "in", link.journal_ids.ids)])
        start = time.perf_counter()
        link.action_fetch_transactions()
        env.flush_all()
        second = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] if traced else None
        tracemalloc.stop()
        runs.append((first, lines, second, odoo.sql_db.sql_counter - queries, peak))
        savepoint.rollback()
    env.invalidate_all()

for first, lines, second, queries, peak in runs:
    memory = f", peak Python memory {peak / 2**20:.1f} MiB (traced, slower)" if peak else ""
    print(f"first sync: {lines} lines in {first:.2f} s ({lines / first:.0f} lines/s), "
          f"second sync (nothing new): {second:.2f} s, {queries} queries for both{memory}")
