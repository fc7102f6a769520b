# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Faults met by real Odoo processes: a process killed in the middle of an
import (the scheduled action between two committed batches, the scheduled
action inside a batch, Synchronize Now), the scheduled action and
Synchronize Now on one connection at once, and the scheduled action of a
copied and neutralized database.

Each test works on a copy of one database where the fault bank (see
fault_bank.py) was connected on CONNECTED_AT with its HISTORY transactions.
The processes' clocks are frozen: the scheduled action meets the fault on
DUE_AT and runs next on NEXT_RUN_AT, 12 hours later, its interval. A process
is stopped where a test wants it by one of the addon's own methods, wrapped
in the process to print a line and wait (a gate): kills and overlaps happen
at a known point, not after some time. Afterwards the journal is compared
with the bank: every transaction once, the bank's balance, statements that
chain, moves numbered without gap, and what the chatter says."""
import contextlib
import datetime as dt
import json
import os
import signal
import textwrap
import threading
import time
from decimal import Decimal

import pytest

import fault_bank
from conftest import RESULT_MARK, Odoo, query

CONNECTED_AT = "2026-11-20 10:00:00"
DUE_AT = "2026-11-25 22:00:00"
NEXT_RUN_AT = "2026-11-26 10:00:00"
# A run in between (a server restarted, a second cron worker): less than half
# an interval after the claim, it leaves the connection.
MEANWHILE_AT = "2026-11-26 01:00:00"
# Days (Europe/Brussels) the synchronizations reach.
CONNECTED_DAY = dt.date(2026, 11, 20)
DUE_DAY = dt.date(2026, 11, 25)
NEXT_RUN_DAY = dt.date(2026, 11, 26)
BATCH = 500  # the import's batch size (account_online_account.IMPORT_BATCH_SIZE)
# New transactions at the bank on DUE_AT: three batches (500, 500, 200).
NEW = 2 * BATCH + 200
# Fewer for the tests where batches do not matter.
FEW = 60
BANK = "Demo Bank"
# The first key of the advisory lock of a connection's synchronization (account_online_link.SYNC_LOCK_KEY).
SYNC_LOCK_KEY = 0x41_4F_53
# How long a process may take to reach a gate or to end.
PROCESS_TIMEOUT = 600

PRELUDE = textwrap.dedent(f"""
    import json
    import sys
    from unittest.mock import patch

    from freezegun import freeze_time

    sys.path.insert(0, "system_tests")
    import fault_bank
    from odoo.addons.account_online_synchronization.models.account_journal import AccountJournal
    from odoo.addons.account_online_synchronization.models.account_online_link import (
        CRON_XMLID, REQUESTED_CRON_XMLID, AccountOnlineLink, BankSyncError,
    )

    def result(value):
        print({RESULT_MARK!r} + json.dumps(value, default=str), flush=True)

    def journal_line_count(cr):
        cr.execute("SELECT count(*) FROM account_bank_statement_line WHERE journal_id = %s", [journal.id])
        return cr.fetchone()[0]

    def run_scheduled_action(xmlid=CRON_XMLID):
        # As Odoo's cron worker: the job in a cursor of its own, committing as it goes.
        env.ref(xmlid).method_direct_trigger()
        env.cr.commit()

    def synchronize_now():
        # The button, as the administrator: what the user is told; a refusal undoes the request.
        try:
            action = journal.with_user(admin).manual_sync()
        except BankSyncError as error:
            env.cr.rollback()
            return {{"refused": error.args[0], "title": error.args[4]}}
        env.cr.commit()
        return {{"message": action["params"]["message"]}}

    def statements_as_odoo_computes():
        # What the synchronization wrote on the statements is what Odoo's own
        # computes make of their lines; nothing of the check is kept.
        names = ("first_line_index", "date", "balance_start", "balance_end", "balance_end_real", "is_complete")
        Statement = env["account.bank.statement"]
        statements = Statement.search([("journal_id", "=", journal.id)]).sorted("first_line_index")

        def values():
            return [[round(v, 6) if isinstance(v, float) else v for v in (s[name] for name in names)]
                    for s in statements]

        env.invalidate_all()
        written = values()
        for name in names:
            env.add_to_compute(Statement._fields[name], statements)
        statements.invalidate_recordset(names)
        env.flush_all()
        same = written == values() and all(statement.is_valid for statement in statements)
        env.cr.rollback()
        env.invalidate_all()
        return same

    admin = env.ref("base.user_admin")
    journal = env["account.journal"].search(
        [("account_online_account_id.online_identifier", "=", fault_bank.ACCOUNT_ID)])
""")


def script(body, **params):
    """A shell script: the prelude, ``params`` as constants, then ``body``."""
    constants = "".join(f"{name} = {value!r}\n" for name, value in params.items())
    return PRELUDE + constants + textwrap.dedent(body)


CONNECT = """
    bank = fault_bank.install(COUNT)
    with freeze_time(AT):
        institution = env["account.online.institution"].search([("identifier", "=", "DEMO_BANK")])
        link = env(user=admin)["account.online.link"].create(
            {"institution_id": institution.id, "timezone": "Europe/Brussels"})
        link.action_connect()
        env.cr.commit()
    result({"calls": bank.calls})
"""

SCHEDULED = """
    bank = fault_bank.install(COUNT)
    with freeze_time(AT):
        before = statements_as_odoo_computes()
        run_scheduled_action()
        result({"calls": bank.calls, "statements_before": before, "statements_after": statements_as_odoo_computes()})
"""

# The scheduled action, stopped for good once two batches are committed.
KILL_BETWEEN_BATCHES = """
    bank = fault_bank.install(COUNT)
    before = journal_line_count(env.cr)
    real_commit_batch = AccountOnlineLink._commit_batch

    def commit_batch(self, consent):
        real_commit_batch(self, consent)
        imported = journal_line_count(self.env.cr) - before
        if imported >= KEPT:
            fault_bank.gate(f"COMMITTED {imported}")

    with patch.object(AccountOnlineLink, "_commit_batch", commit_batch), freeze_time(AT):
        run_scheduled_action()
"""

# The scheduled action or Synchronize Now, stopped for good once the lines
# of the second batch are made and put in their statement, not committed.
KILL_IN_SECOND_BATCH = """
    bank = fault_bank.install(COUNT)
    before = journal_line_count(env.cr)
    real_group = AccountJournal._online_sync_group_in_statements
    batches = []

    def group_in_statements(self, lines):
        real_group(self, lines)
        batches.append(len(lines))
        if len(batches) == 2:
            fault_bank.gate(f"GROUPED {journal_line_count(self.env.cr) - before} {batches}")

    with patch.object(AccountJournal, "_online_sync_group_in_statements", group_in_statements), freeze_time(AT):
        run_scheduled_action() if MANUAL is False else synchronize_now()
"""

SYNCHRONIZE_NOW = """
    bank = fault_bank.install(COUNT)
    with freeze_time(AT):
        before = statements_as_odoo_computes()
        outcome = synchronize_now()
        result(dict(outcome, calls=bank.calls, statements_before=before,
                    statements_after=statements_as_odoo_computes()))
"""

# One side of two synchronizations at once: ready, waits for the barrier
# (both are released by one file), then, with HOLD, holds the connection's
# lock until the test releases it; with AFTER, starts once the other holds it.
AT_ONCE = """
    bank = fault_bank.install(COUNT)
    real_lock = AccountOnlineLink._lock_for_sync

    def lock_for_sync(self):
        real_lock(self)
        if HOLD:
            fault_bank.gate(f"LOCKED {SIDE}", HOLD)

    with patch.object(AccountOnlineLink, "_lock_for_sync", lock_for_sync), freeze_time(AT):
        fault_bank.gate(f"READY {SIDE}", BARRIER)
        if AFTER:
            fault_bank.wait_for(AFTER)
        # A new transaction, as a new request or a cron job starts one.
        env.cr.rollback()
        env.invalidate_all()
        if SIDE == "cron":
            run_scheduled_action()
            outcome = {}
        else:
            outcome = synchronize_now()
    result(dict(outcome, calls=bank.calls))
"""

# Everything that could send a request in a neutralized copy: both
# scheduled actions (run by hand: neutralizing deactivated them) and
# Synchronize Now.
NEUTRALIZED = """
    bank = fault_bank.install(COUNT)
    with freeze_time(AT):
        run_scheduled_action(CRON_XMLID)
        run_scheduled_action(REQUESTED_CRON_XMLID)
        outcome = synchronize_now()
    result(dict(outcome, calls=bank.calls))
"""


# ----------------------------------------------------------------------
# Processes
# ----------------------------------------------------------------------

@contextlib.contextmanager
def watchdog(process, timeout=PROCESS_TIMEOUT):
    """Kill ``process`` when it outlives ``timeout``: a test never hangs."""
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def read_until(process, marker):
    """The line ``process`` printed starting with ``marker``; a failure with
    its log when it ends before."""
    while True:
        line = process.stdout.readline()
        if not line:
            process.wait()
            pytest.fail(f"the process ended ({process.returncode}) before printing {marker!r}:\n"
                        f"{process.log.read_text()[-4000:]}")
        if line.startswith(marker):
            return line.strip()


def finish(process):
    """Wait for ``process``; what it printed after RESULT_MARK, parsed. A
    failure when it failed or logged a traceback."""
    out = process.stdout.read()
    process.wait()
    log = process.log.read_text()
    if process.returncode or "Traceback" in log:
        pytest.fail(f"odoo-bin shell failed ({process.returncode}):\n{out[-2000:]}\n{log[-4000:]}")
    results = [json.loads(line[len(RESULT_MARK):]) for line in out.splitlines() if line.startswith(RESULT_MARK)]
    return results[-1] if results else None


def kill(database, process):
    """SIGKILL, then wait until PostgreSQL has closed the dead process's
    sessions (their transactions rolled back, their locks released), which
    it does as soon as it sees them gone."""
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    for _attempt in range(600):
        if not query(database, "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                     [database])[0][0]:
            return
        time.sleep(0.05)
    pytest.fail("PostgreSQL kept the sessions of the killed process")


# ----------------------------------------------------------------------
# The books, as the database has them
# ----------------------------------------------------------------------

def connection(database):
    rows = query(database, """
        SELECT link.id, link.state, link.last_error_reference, link.last_refresh, link.sync_requested,
               link.scheduled_sync_started, journal.id, account.balance, account.balance_difference,
               account.last_sync, link.auto_sync
          FROM account_online_link link
          JOIN account_online_account account ON account.account_online_link_id = link.id
          JOIN account_journal journal ON journal.account_online_account_id = account.id""")
    assert len(rows) == 1, rows
    names = ("link_id", "state", "error_reference", "last_refresh", "sync_requested", "scheduled_sync_started",
             "journal_id", "balance", "balance_difference", "last_sync", "auto_sync")
    return dict(zip(names, rows[0]))


def chatter(database):
    """The messages of the connection and its journal, oldest first."""
    info = connection(database)
    return query(database, """
        SELECT model, subject, body FROM mail_message
         WHERE (model = 'account.online.link' AND res_id = %s) OR (model = 'account.journal' AND res_id = %s)
         ORDER BY id""", [info["link_id"], info["journal_id"]])


def journal_lines(database):
    """{identifier: (date, amount)} of the journal's transactions, after
    checking that none is there twice; and its opening line's amount."""
    info = connection(database)
    rows = query(database, """
        SELECT line.online_transaction_identifier, move.date, line.amount::numeric
          FROM account_bank_statement_line line JOIN account_move move ON move.id = line.move_id
         WHERE line.journal_id = %s""", [info["journal_id"]])
    identified = [row for row in rows if row[0]]
    openings = [row for row in rows if not row[0]]
    assert len(openings) == 1, f"one opening line: {openings}"
    identifiers = [row[0] for row in identified]
    assert len(identifiers) == len(set(identifiers)), "a transaction imported twice"
    return {identifier: (day, round(amount, 2)) for identifier, day, amount in identified}, round(openings[0][2], 2)


def bank_transactions(count):
    return {identifier: (day, amount) for identifier, day, amount in fault_bank.transactions(count)}


def first_imported(count_before, count, kept):
    """The ``kept`` transactions a synchronization imports first among those
    from ``count_before`` to ``count``: it goes in date order, then the bank's."""
    new = sorted(fault_bank.transactions(count)[count_before:], key=lambda t: (t[1], int(t[0].split("-")[1])))
    return {identifier: (day, amount) for identifier, day, amount in new[:kept]}


def importers(database, count, outcomes=None):
    """Who imported the transactions that came after the connection: "cron"
    (the scheduled action runs as OdooBot) or "manual" (the administrator)."""
    users = query(database, """
        SELECT DISTINCT users.login
          FROM account_bank_statement_line line JOIN res_users users ON users.id = line.create_uid
         WHERE line.online_transaction_identifier = ANY(%s)""",
                  [[identifier for identifier, _day, _amount in fault_bank.transactions(count)[fault_bank.HISTORY:]]])
    assert len(users) == 1, f"imported by {users}: {outcomes}"
    return {"__system__": "cron", "admin": "manual"}[users[0][0]]


def assert_statements(database):
    """Every line in a statement; the statements, in line order, do not
    overlap, start where the previous one ends and end at their lines' sum;
    the moves are posted and numbered without gap. Returns the last ending
    balance."""
    journal_id = connection(database)["journal_id"]
    assert not query(database, "SELECT count(*) FROM account_bank_statement_line WHERE journal_id = %s "
                               "AND statement_id IS NULL", [journal_id])[0][0], "a line without statement"
    statements = query(database, """
        SELECT st.name, st.first_line_index, st.balance_start::numeric, st.balance_end::numeric,
               st.balance_end_real::numeric, st.is_complete, st.date,
               min(line.internal_index), max(line.internal_index), sum(line.amount)::numeric, max(move.date)
          FROM account_bank_statement st
          JOIN account_bank_statement_line line ON line.statement_id = st.id
          JOIN account_move move ON move.id = line.move_id
         WHERE st.journal_id = %s
         GROUP BY st.id ORDER BY st.first_line_index""", [journal_id])
    assert statements
    end = Decimal(0)
    previous_last_index = ""
    for (name, first_index, start, stop, stop_real, complete, day, min_index, max_index, total,
         last_day) in statements:
        assert first_index == min_index and min_index > previous_last_index, f"{name} overlaps"
        assert round(start, 2) == end, f"{name} starts at {start}, the previous one ends at {end}"
        end = round(start + total, 2)
        assert round(stop, 2) == end and round(stop_real, 2) == end, f"{name}: {stop}/{stop_real}, lines say {end}"
        assert complete and day == last_day, name
        previous_last_index = max_index
    moves = query(database, """
        SELECT move.sequence_prefix, array_agg(move.sequence_number ORDER BY move.sequence_number),
               array_agg(DISTINCT move.state)
          FROM account_move move WHERE move.journal_id = %s GROUP BY move.sequence_prefix""", [journal_id])
    for prefix, numbers, states in moves:
        assert states == ["posted"], prefix
        assert numbers == list(range(1, len(numbers) + 1)), f"{prefix}: numbered with a gap"
    return end


def assert_books_match_bank(database, count, last_sync):
    """The journal has the bank's ``count`` transactions, each once, and the
    bank's balance; the statements are consistent; the connection is fine."""
    lines, opening = journal_lines(database)
    assert opening == fault_bank.OPENING_BALANCE
    expected = bank_transactions(count)
    assert set(lines) - set(expected) == set(), "lines the bank does not have"
    assert set(expected) - set(lines) == set(), "transactions lost"
    assert lines == expected
    info = connection(database)
    bank_balance = fault_bank.balance(count)
    assert round(Decimal(str(info["balance"])), 2) == bank_balance, "the bank's balance, as the account keeps it"
    assert assert_statements(database) == bank_balance, "the journal's balance is the bank's"
    assert not info["balance_difference"]
    assert info["last_sync"] == last_sync
    assert (info["state"], info["error_reference"]) == ("connected", None)


# ----------------------------------------------------------------------
# Fixtures
# ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def connected(tmp_path_factory):
    """A database where the fault bank was connected on CONNECTED_AT (its
    HISTORY transactions and the opening line imported): each test copies it."""
    odoo = Odoo(tmp_path_factory.mktemp("faults"), "faults_connected")
    database = odoo.new_database()
    done = odoo.shell(database, script(CONNECT, COUNT=fault_bank.HISTORY, AT=CONNECTED_AT))
    assert done["calls"], "connected through the fault bank"
    assert_books_match_bank(database, fault_bank.HISTORY, CONNECTED_DAY)
    yield database
    odoo.close()


@pytest.fixture
def database(odoo, connected):
    return odoo.new_database(template=connected)


# ----------------------------------------------------------------------
# 1. A process killed in the middle of an import
# ----------------------------------------------------------------------

def catch_up(odoo, database, count, told_before):
    """The scheduled action's next run: it finds what the killed one left,
    imports the rest, once, and nobody is told of anything."""
    assert connection(database)["state"] == "connected"
    done = odoo.shell(database, script(SCHEDULED, COUNT=count, AT=NEXT_RUN_AT))
    assert done["statements_before"], "the statements the killed process left are Odoo's"
    assert done["statements_after"]
    assert "refresh" in done["calls"], "the connection was not left aside"
    assert_books_match_bank(database, count, NEXT_RUN_DAY)
    info = connection(database)
    assert info["last_refresh"] == dt.datetime.fromisoformat(NEXT_RUN_AT)
    assert info["scheduled_sync_started"] == dt.datetime.fromisoformat(NEXT_RUN_AT)
    assert chatter(database) == told_before, "nothing went wrong: nothing is told"


def test_faults_kill_between_committed_batches(odoo, database):
    """The scheduled action killed after its second batch is committed: the
    two batches stay (the oldest 1000 transactions), nothing else moved; the
    lock and the claim of the dead process do not stop the next run, 12
    hours later (a run in between leaves a connection taken less than half
    an interval ago: by design), which imports the last 200."""
    count = fault_bank.HISTORY + NEW
    told = chatter(database)
    process = odoo.shell_process(database, script(KILL_BETWEEN_BATCHES, COUNT=count, AT=DUE_AT, KEPT=2 * BATCH))
    with watchdog(process):
        assert read_until(process, "COMMITTED") == f"COMMITTED {2 * BATCH}"
    kill(database, process)

    lines, _opening = journal_lines(database)
    expected = bank_transactions(fault_bank.HISTORY) | first_imported(fault_bank.HISTORY, count, 2 * BATCH)
    assert lines == expected, "the two committed batches, the oldest transactions, and nothing else"
    assert_statements(database)
    info = connection(database)
    assert info["last_sync"] == CONNECTED_DAY, "the window is fetched again"
    assert round(Decimal(str(info["balance"])), 2) == fault_bank.balance(fault_bank.HISTORY)
    assert (info["state"], info["sync_requested"]) == ("connected", False)
    assert info["scheduled_sync_started"] == dt.datetime.fromisoformat(DUE_AT), "claimed by the dead process"
    assert not query(database, """
        SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objid = %s
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())""",
                     [SYNC_LOCK_KEY, info["link_id"]])[0][0], "the dead process's lock is gone"
    assert chatter(database) == told

    done = odoo.shell(database, script(SCHEDULED, COUNT=count, AT=MEANWHILE_AT))
    assert done["calls"] == [], "taken 3 hours ago: left to the next run, by design"
    assert journal_lines(database)[0] == expected
    catch_up(odoo, database, count, told)


def test_faults_kill_inside_batch(odoo, database):
    """The scheduled action killed once the lines of its second batch are
    made and put in their statement, before the commit: the first batch
    stays, the second is gone whole (statements included), and the next run
    imports the other 700 once."""
    count = fault_bank.HISTORY + NEW
    told = chatter(database)
    process = odoo.shell_process(database, script(KILL_IN_SECOND_BATCH, COUNT=count, AT=DUE_AT, MANUAL=False))
    with watchdog(process):
        assert read_until(process, "GROUPED") == f"GROUPED {2 * BATCH} [{BATCH}, {BATCH}]", "two batches made"
    kill(database, process)

    lines, _opening = journal_lines(database)
    expected = bank_transactions(fault_bank.HISTORY) | first_imported(fault_bank.HISTORY, count, BATCH)
    assert lines == expected, "the committed batch, and nothing of the one the process was making"
    assert_statements(database)
    assert connection(database)["last_sync"] == CONNECTED_DAY
    assert chatter(database) == told

    catch_up(odoo, database, count, told)


def test_faults_kill_synchronize_now(odoo, database):
    """Synchronize Now killed with two batches made: all or nothing, so
    nothing of it stays (no line, no statement, no date moved, no message);
    clicking again imports everything once."""
    count = fault_bank.HISTORY + NEW
    told = chatter(database)
    before = connection(database)
    process = odoo.shell_process(database, script(KILL_IN_SECOND_BATCH, COUNT=count, AT=DUE_AT, MANUAL=True))
    with watchdog(process):
        assert read_until(process, "GROUPED") == f"GROUPED {2 * BATCH} [{BATCH}, {BATCH}]"
    kill(database, process)

    lines, _opening = journal_lines(database)
    assert lines == bank_transactions(fault_bank.HISTORY), "no line of the killed synchronization remains"
    assert_books_match_bank(database, fault_bank.HISTORY, CONNECTED_DAY)
    assert connection(database) == before, "nothing of the killed synchronization remains"
    assert chatter(database) == told

    done = odoo.shell(database, script(SYNCHRONIZE_NOW, COUNT=count, AT=DUE_AT))
    assert done["message"] == f"{BANK}: {NEW} new transaction(s) ({fault_bank.ACCOUNT_NAME}: {NEW})."
    assert done["statements_before"] and done["statements_after"]
    assert_books_match_bank(database, count, DUE_DAY)
    assert chatter(database) == told


# ----------------------------------------------------------------------
# 2. The scheduled action and Synchronize Now at once
# ----------------------------------------------------------------------

IN_PROGRESS = f"{BANK} is being synchronized right now. Try again in a few minutes."


@pytest.mark.parametrize("holder", ["cron", "manual", None])
def test_faults_scheduled_action_and_synchronize_now_at_once(odoo, database, tmp_path, holder):
    """Two processes, the scheduled action and Synchronize Now (as the
    administrator), released by one file. With ``holder``, that one holds
    the connection's lock (stopped in it) while the other one runs: the
    other is refused (Synchronize Now, with a message that says so) or
    leaves the connection (the scheduled action), without a request to the
    bank; then the holder imports. Without, they run freely: one imports,
    the other is refused or finds nothing new. Either way the new
    transactions are imported once, the books match the bank, nobody is
    told of an error, and the next scheduled run goes on from there."""
    count = fault_bank.HISTORY + FEW
    told = chatter(database)
    barrier, hold, held = tmp_path / "barrier", tmp_path / "hold", tmp_path / "held"
    sides = {}
    for side in ("cron", "manual"):
        sides[side] = odoo.shell_process(database, script(
            AT_ONCE, COUNT=count, AT=DUE_AT, SIDE=side, BARRIER=str(barrier),
            HOLD=str(hold) if side == holder else None,
            AFTER=str(held) if holder and side != holder else None,
        ))
    outcomes = {}
    with watchdog(sides["cron"]), watchdog(sides["manual"]):
        for side, process in sides.items():
            read_until(process, f"READY {side}")
        barrier.touch()
        if holder:
            other = "manual" if holder == "cron" else "cron"
            read_until(sides[holder], f"LOCKED {holder}")
            held.touch()
            outcomes[other] = finish(sides[other])
            hold.touch()
            outcomes[holder] = finish(sides[holder])
        else:
            outcomes = {side: finish(process) for side, process in sides.items()}

    manual, cron = outcomes["manual"], outcomes["cron"]
    refused = {"refused": IN_PROGRESS, "title": "Synchronization in Progress", "calls": []}
    importer = importers(database, count, outcomes)
    if holder:
        assert importer == holder
    if importer == "manual":
        assert manual["message"] == f"{BANK}: {FEW} new transaction(s) ({fault_bank.ACCOUNT_NAME}: {FEW})."
    else:
        nothing_new = f"{BANK}: 0 new transaction(s) ({fault_bank.ACCOUNT_NAME}: 0)."
        assert manual == refused or manual.get("message") == nothing_new, manual
        assert "get_changes" in cron["calls"]
    if holder == "cron":
        assert manual == refused, "told, without a request to the bank"
    if holder == "manual":
        assert cron["calls"] == [], "the scheduled action left the connection to Synchronize Now"
    assert_books_match_bank(database, count, DUE_DAY)
    assert connection(database)["last_refresh"] == dt.datetime.fromisoformat(DUE_AT)
    assert chatter(database) == told

    # The next run: nothing left locked or taken, a few more transactions come.
    done = odoo.shell(database, script(SCHEDULED, COUNT=count + 5, AT=NEXT_RUN_AT))
    assert "get_changes" in done["calls"]
    assert_books_match_bank(database, count + 5, NEXT_RUN_DAY)
    assert chatter(database) == told


# ----------------------------------------------------------------------
# 3. A copied and neutralized database
# ----------------------------------------------------------------------

def test_faults_neutralized_copy_sends_nothing(odoo, database):
    """A copy of a database whose connection is due, neutralized by Odoo's
    own command: its scheduled actions import nothing and no request leaves
    (every call of the connector is counted), Synchronize Now is refused;
    the original's scheduled action imports."""
    count = fault_bank.HISTORY + FEW
    copy = odoo.new_database(template=database)
    odoo.run_command(copy, "neutralize")
    assert query(copy, "SELECT value FROM ir_config_parameter WHERE key = 'database.is_neutralized'") == [("true",)]
    told = chatter(copy)

    done = odoo.shell(copy, script(NEUTRALIZED, COUNT=count, AT=DUE_AT))
    assert done["calls"] == [], "no request left the copy"
    assert done["refused"] == f"{BANK} is not connected: click Reconnect first."
    assert journal_lines(copy)[0] == bank_transactions(fault_bank.HISTORY), "nothing imported in the copy"
    info = connection(copy)
    assert (info["state"], info["auto_sync"], info["last_refresh"]) == (
        "disconnected", False, dt.datetime.fromisoformat(CONNECTED_AT))
    assert chatter(copy) == told, "nothing to tell: nothing was attempted"

    done = odoo.shell(database, script(SCHEDULED, COUNT=count, AT=DUE_AT))
    assert "get_changes" in done["calls"]
    assert_books_match_bank(database, count, DUE_DAY)
    assert connection(database)["last_refresh"] == dt.datetime.fromisoformat(DUE_AT)
