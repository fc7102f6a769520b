# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Two cron threads of a real Odoo server share the 12-hour synchronization
(see bench/run.sh cron-workers): CONNECTIONS connections of the busy Demo
Bank, each with a journal of its own, synchronized once; then NEW new
transactions for each at the bank, the scheduled action made due, and an
Odoo server started with --max-cron-threads=2. When every connection is
done, Odoo's own progress records tell which scheduled action took how many.
Results in bench/results/cron_workers.md."""
import argparse
import contextlib
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg2

from import_speed import machine

ROOT = Path(__file__).resolve().parent.parent
SETUP = """
import sys
sys.path.insert(0, "bench")
from busy_bank import BusyDemoBank
from odoo.addons.account_online_synchronization import providers
BusyDemoBank.count = {transactions}
providers.PROVIDERS["demo"] = BusyDemoBank
env = env(user=env.ref("base.user_admin"))
institution = env["account.online.institution"].search([("identifier", "=", "DEMO_BANK")], limit=1)
for index in range({connections}):
    BusyDemoBank.account_index = index
    env["account.online.link"].create({{"institution_id": institution.id}}).action_connect()
    if index % 20 == 19:
        env.cr.commit()
env.cr.commit()
"""


def query(database, sql, params=None):
    with contextlib.closing(psycopg2.connect(dbname=database)) as connection, connection, connection.cursor() as cr:
        cr.execute(sql, params)
        return cr.fetchall() if cr.description else None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--odoo-bin", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--template", required=True)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--transactions", type=int, default=10, help="per connection, at the first sync")
    parser.add_argument("--new", type=int, default=20, help="new transactions per connection for the cron")
    parser.add_argument("--port", type=int, default=8169)
    parser.add_argument("--timeout", type=int, default=1800)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--log", required=True, help="the server's log")
    args = parser.parse_args()
    database = "online_sync_bench_cron_workers"
    subprocess.run(["dropdb", "--if-exists", database], check=True)
    subprocess.run(["createdb", "-T", args.template, database], check=True)
    print(f"Connecting {args.connections} Demo Bank connections ...", flush=True)
    subprocess.run(
        [sys.executable, args.odoo_bin, "shell", "-c", args.config, "-d", database, "--no-http", "--log-level=warn"],
        input=SETUP.format(connections=args.connections, transactions=args.transactions), text=True, cwd=ROOT,
        check=True, capture_output=True,
    )
    before = dict(query(database, """
        SELECT j.id, count(l.id) FROM account_journal j JOIN account_online_account a ON a.id = j.account_online_account_id
        LEFT JOIN account_bank_statement_line l ON l.journal_id = j.id GROUP BY j.id"""))
    # Due now, as at 22:00; the second action waits for its hour, unless woken.
    query(database, """UPDATE ir_cron SET nextcall = now() AT TIME ZONE 'UTC' - interval '1 minute'
                        WHERE id = (SELECT res_id FROM ir_model_data WHERE module = 'account_online_synchronization'
                                    AND name = 'online_sync_cron')""")
    query(database, """UPDATE ir_cron SET nextcall = now() AT TIME ZONE 'UTC' + interval '1 hour'
                        WHERE id IN (SELECT res_id FROM ir_model_data WHERE module = 'account_online_synchronization'
                                     AND name IN ('online_sync_requested_cron', 'online_sync_consent_expiry_cron'))""")
    query(database, "DELETE FROM ir_cron_progress")
    started = query(database, "SELECT now() AT TIME ZONE 'UTC'")[0][0]
    log = Path(args.log)
    print(f"Odoo server with 2 cron threads, {args.new} new transactions per connection ...", flush=True)
    server = subprocess.Popen(
        [sys.executable, args.odoo_bin, "-c", args.config, "-d", database, "--db-filter", f"^{database}$",
         "--http-port", str(args.port), "--max-cron-threads=2", "--load=base,web,bench_busy_bank",
         "--log-level=info", "--logfile", str(log)],
        cwd=ROOT, env={**os.environ, "BENCH_TRANSACTIONS": str(args.transactions), "BENCH_EXTRA": str(args.new)},
    )
    try:
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            time.sleep(2)
            waiting = query(database, """SELECT count(*) FROM account_online_link
                                         WHERE last_refresh IS NULL OR last_refresh < %s""", [started])[0][0]
            due = query(database, "SELECT count(*) FROM ir_cron_trigger WHERE call_at <= now() AT TIME ZONE 'UTC'")[0][0]
            # A job that runs holds its scheduled action's row.
            free = query(database, """SELECT id FROM ir_cron WHERE id IN (SELECT res_id FROM ir_model_data
                                      WHERE module = 'account_online_synchronization' AND model = 'ir.cron')
                                      FOR NO KEY UPDATE SKIP LOCKED""")
            if not waiting and not due and len(free) == 3:
                break
        else:
            sys.exit(f"the cron did not finish within {args.timeout} s: see {log}")
    finally:
        server.terminate()
        server.wait(60)
    seconds, first_taken = query(database, """
        SELECT extract(epoch FROM max(last_refresh) - min(scheduled_sync_started)), min(scheduled_sync_started)
        FROM account_online_link""")[0]
    waited = (first_taken - started).total_seconds()
    by_cron = query(database, """
        SELECT d.name, sum(p.done), count(p.id) FROM ir_cron_progress p
        JOIN ir_model_data d ON d.model = 'ir.cron' AND d.res_id = p.cron_id
        WHERE d.module = 'account_online_synchronization' GROUP BY d.name ORDER BY d.name""")
    synchronized = query(database, "SELECT count(*) FROM account_online_link WHERE last_refresh >= %s", [started])[0][0]
    after = dict(query(database, """
        SELECT j.id, count(l.id) FROM account_journal j JOIN account_online_account a ON a.id = j.account_online_account_id
        LEFT JOIN account_bank_statement_line l ON l.journal_id = j.id GROUP BY j.id"""))
    duplicates = query(database, """
        SELECT count(*) FROM (SELECT journal_id, online_transaction_identifier FROM account_bank_statement_line
        WHERE online_transaction_identifier IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1) AS twice""")[0][0]
    differences = query(database, """
        SELECT count(*) FROM account_online_account a JOIN account_journal j ON j.account_online_account_id = a.id
        WHERE round(a.balance::numeric, 2) <> (SELECT round(coalesce(sum(amount), 0)::numeric, 2)
                                                FROM account_bank_statement_line WHERE journal_id = j.id)""")[0][0]
    errors = query(database, "SELECT count(*) FROM account_online_link WHERE state <> 'connected'")[0][0]
    new_lines = {journal: after[journal] - before.get(journal, 0) for journal in after}
    names = {"online_sync_cron": "Online synchronization (12-hour run)",
             "online_sync_requested_cron": "Online synchronization: updates announced by the bank (woken by it)"}
    lines = [
        f"# Two cron threads share the scheduled synchronization, {dt.date.today().isoformat()}", "",
        f"Machine: {machine()}", "",
        f"{args.connections} connections of the Demo Bank, each with a journal of its own and {args.transactions} "
        f"transactions synchronized once; then {args.new} new transactions each at the bank, the 12-hour scheduled "
        "action due, and one Odoo server started with `--max-cron-threads=2`.", "",
        "| scheduled action | connections it synchronized | runs of the job's callback |", "|---|---:|---:|",
        *(f"| {names.get(name, name)} | {done} | {runs} |" for name, done, runs in by_cron), "",
        f"- connections synchronized: {synchronized} of {args.connections}, in {seconds:.1f} s from the first "
        f"taken to the last done ({waited:.0f} s after the server started: the cron threads' first wake-up)",
        f"- new lines per journal: {min(new_lines.values())} to {max(new_lines.values())} "
        f"(expected {args.new}); transactions imported twice: {duplicates}",
        f"- journals whose balance differs from the bank's: {differences}; connections not connected: {errors}",
    ]
    (Path(args.out) / "cron_workers.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    subprocess.run(["dropdb", "--if-exists", database], check=True)
    if synchronized != args.connections or duplicates or differences or set(new_lines.values()) != {args.new}:
        sys.exit("the cron run was not right: see above")


if __name__ == "__main__":
    main()
