# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
# One case of the import benchmark, run by bench/import_speed.py inside
# `odoo-bin shell` on a fresh database: BENCH_CASE is ours, naive, oca or
# cron; BENCH_TRANSACTIONS the number of transactions. Prints one line
# "BENCH_RESULT {json}" per measure.
import datetime as dt
import json
import os
import resource
import sys
import time

import psutil

import odoo.sql_db
from odoo import fields

sys.path.insert(0, os.path.join(os.getcwd(), "bench"))
from busy_bank import BusyDemoBank, busy_transactions  # noqa: E402

from odoo.addons.account_online_synchronization import providers  # noqa: E402

CASE = os.environ["BENCH_CASE"]
COUNT = int(os.environ["BENCH_TRANSACTIONS"])
env = env(user=env.ref("base.user_admin"))  # noqa: F821 - provided by odoo-bin shell
StatementLine = env["account.bank.statement.line"]
today = dt.date.fromisoformat(os.environ["BENCH_TODAY"])


def report(measure, lines, work):
    """Run ``work``, then print what it cost."""
    env.flush_all()
    env.cr.execute("ANALYZE")
    env.invalidate_all()
    rss_before = psutil.Process().memory_info().rss
    queries = odoo.sql_db.sql_counter
    start = time.perf_counter()
    work()
    env.flush_all()
    seconds = time.perf_counter() - start
    queries = odoo.sql_db.sql_counter - queries
    # ru_maxrss: the process's peak, in KiB on Linux.
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss_before, 0)
    lines_done = lines() if callable(lines) else lines
    print("BENCH_RESULT " + json.dumps({
        "case": CASE, "measure": measure, "transactions": COUNT, "lines": lines_done, "seconds": round(seconds, 3),
        "lines_per_second": round(lines_done / seconds, 1) if lines_done else None,
        "queries": queries, "queries_per_line": round(queries / lines_done, 2) if lines_done else None,
        "peak_memory_mib": round(peak / 2**20, 1),
    }), flush=True)


def busy_link(count):
    BusyDemoBank.count = count
    providers.PROVIDERS["demo"] = BusyDemoBank
    institution = env["account.online.institution"].search([("identifier", "=", "DEMO_BANK")], limit=1)
    return env["account.online.link"].create({"institution_id": institution.id})


def count_lines(journals):
    return StatementLine.search_count([("journal_id", "in", journals.ids), ("online_transaction_identifier", "!=", False)])


if CASE == "ours":
    link = busy_link(COUNT)
    report("first sync", lambda: count_lines(link.journal_ids), link.action_connect)
    if os.environ.get("BENCH_RESYNC"):
        report("re-sync, nothing new", 0, link.action_fetch_transactions)
    if os.environ.get("BENCH_ADD"):
        BusyDemoBank.extra = int(os.environ["BENCH_ADD"])
        before = count_lines(link.journal_ids)
        report(f"sync adding {BusyDemoBank.extra} to {before}", lambda: count_lines(link.journal_ids) - before,
               link.action_fetch_transactions)
elif CASE == "naive":
    journal = env["account.journal"].create({"name": "Naive", "type": "bank", "code": "NAIVE"})
    vals_list = [{
        "journal_id": journal.id, "date": t.booking_date, "payment_ref": t.label, "amount": float(t.amount),
        "partner_name": t.partner_name, "online_transaction_identifier": t.identifier,
        "online_partner_information": t.partner_information,
    } for t in busy_transactions(COUNT, today)]
    report("first sync", COUNT, lambda: StatementLine.create(vals_list))
elif CASE == "oca":
    journal = env["account.journal"].create({"name": "OCA", "type": "bank", "code": "OCA"})
    provider = env["online.bank.statement.provider"].create({
        "journal_id": journal.id, "service": "bench_busy_bank", "statement_creation_mode": "monthly",
    })
    start = dt.datetime.combine(today - dt.timedelta(days=90), dt.time())
    report("first sync", lambda: StatementLine.search_count([("journal_id", "=", journal.id)]),
           lambda: provider._pull(start, dt.datetime.combine(today + dt.timedelta(days=1), dt.time())))
elif CASE == "cron":
    # COUNT connections of the Demo Bank, each with an account and a journal
    # of its own (a few transactions), synchronized once; then one run of
    # the scheduled action with nothing new.
    links = env["account.online.link"]
    for index in range(COUNT):
        link = busy_link(10)
        BusyDemoBank.account_index = index
        link.action_connect()
        links |= link
    assert len(links.journal_ids) == COUNT
    # Committed: Odoo runs the job in cursors of its own, as its cron worker does.
    env.cr.commit()
    cron = env.ref("account_online_synchronization.online_sync_cron").sudo()
    report(f"cron run over {COUNT} connections, nothing new", 0, cron.method_direct_trigger)
    env.invalidate_all()
    last = links.mapped("last_refresh")
    print(f"connections refreshed by the cron: {sum(1 for d in last if d and d >= fields.Datetime.now() - dt.timedelta(minutes=30))}")
env.cr.rollback()
