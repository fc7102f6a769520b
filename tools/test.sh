#!/usr/bin/env bash
# Run every test inside real Odoo 19.0 with PostgreSQL: this addon's tests
# (browser tours included) through pytest-odoo, then Odoo's own tests of bank
# journals and bank statements with the addon installed, on Odoo's runner,
# then the tests of these tools (tools/tests, plain pytest, no Odoo).
# Then the takeover of the OCA module's imports, in a copy of the test database
# with the OCA modules installed, and the system tests (system_tests, plain
# pytest): Odoo run as real processes on copies of the databases, for what
# only processes show (installing over a legacy database, upgrading from a
# previous release, a process killed mid-import, two processes at once).
# Installs what a fresh machine lacks. Ends with "N passed, N failed" (pytest
# errors count as failed) and exits non-zero on any failure.
#   tools/test.sh [--keep] [--only PART] [--] [PYTEST-ARGS...]
#     --keep        leave the test database for inspection
#     --only PART   run one part: addon, oca, system, odoo or tools
#     PYTEST-ARGS   passed to pytest, e.g. `-k rate_limit`: they select among
#                   the tests of one part (the addon's, unless --only says),
#                   and the other parts are then skipped
# AOS_TEST_DB (default aos_test) names the database, and the configuration and
# logs of the run: runs with different names can go at once.
# AOS_TEST_HTTP_PORT is the port of Odoo's runner; pytest-odoo takes a free one.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

KEEP=0
ONLY=
PYTEST_ARGS=()
while [ $# -gt 0 ]; do
    case $1 in
        --keep) KEEP=1 ;;
        --only) ONLY=$2; shift ;;
        --) shift; PYTEST_ARGS+=("$@"); break ;;
        *) PYTEST_ARGS+=("$1") ;;
    esac
    shift
done
TEST_DB=${AOS_TEST_DB:-aos_test}
HTTP_PORT=${AOS_TEST_HTTP_PORT:-8169}
# Odoo's own tests that must stay green with the addon installed.
ODOO_TAGS="/account:TestAccountBankStatementLine,/account:TestAccountJournal,/account:TestAccountJournalDashboard"

ensure_chromium() {
    for bin in chromium chromium-browser google-chrome; do
        command -v "$bin" >/dev/null && return
    done
    [ "$(id -u)" = 0 ] || die "Chromium is needed for the browser tours: install the Debian package chromium"
    echo "Installing Chromium for the browser tours ..."
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
        || die "could not install Chromium (Debian package chromium)"
}

case ${ONLY:-all} in
    all|addon|oca|system|odoo|tools) ;;
    *) die "--only: unknown part '$ONLY' (addon, oca, system, odoo or tools)" ;;
esac
[ ${#PYTEST_ARGS[@]} -eq 0 ] || ONLY=${ONLY:-addon}
[ "$ONLY" != odoo ] || [ ${#PYTEST_ARGS[@]} -eq 0 ] || die "--only odoo takes no pytest arguments"
# runs PART: whether this run includes it.
runs() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }

find_or_fetch_odoo
ensure_venv
ensure_postgres
ensure_chromium
ensure_oca_addons

# Per database, so that concurrent runs do not overwrite each other's files.
LOGS="$CACHE_DIR/test-logs/$TEST_DB"
mkdir -p "$LOGS"
CONF="$CACHE_DIR/odoo-test-$TEST_DB.conf"
write_odoo_config "$CONF"

# A database with Accounting alone, built once per Odoo tree and reused:
# installing `account` is most of a run's time. Concurrent runs wait for the
# one that builds it.
TEMPLATE="aos_tmpl_$( (echo "$ODOO_SRC"; cat "$ODOO_SRC/odoo/release.py"; cat "$VENV/.complete" 2>/dev/null) | sha1sum | cut -c1-10)"
exec 9>"$CACHE_DIR/template.lock"
flock 9
if ! db_exists "$TEMPLATE"; then
    echo "Building the template database $TEMPLATE (Accounting, once) ..."
    CONF_ODOO="$CACHE_DIR/odoo-template.conf"
    write_odoo_config "$CONF_ODOO" without-project
    dropdb --if-exists "${TEMPLATE}_wip"
    rm -rf "$CACHE_DIR/data/filestore/${TEMPLATE}_wip"
    odoo_bin -c "$CONF_ODOO" -d "${TEMPLATE}_wip" -i account --stop-after-init --log-level=warn \
        >"$LOGS/template.log" 2>&1 || { tail -n 30 "$LOGS/template.log"; die "building the template database failed"; }
    psql -d postgres -qc "ALTER DATABASE \"${TEMPLATE}_wip\" RENAME TO \"$TEMPLATE\""
    if [ -d "$CACHE_DIR/data/filestore/${TEMPLATE}_wip" ]; then
        mv "$CACHE_DIR/data/filestore/${TEMPLATE}_wip" "$CACHE_DIR/data/filestore/$TEMPLATE"
    fi
fi
flock -u 9
exec 9>&-

# copy_db FROM TO: a new database TO, copy of FROM (filestore included).
copy_db() {
    drop_db "$2"
    createdb -T "$1" "$2"
    if [ -d "$CACHE_DIR/data/filestore/$1" ]; then
        cp -r "$CACHE_DIR/data/filestore/$1" "$CACHE_DIR/data/filestore/$2"
    fi
}
drop_db() {
    PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "$1"
    rm -rf "$CACHE_DIR/data/filestore/$1"
}
INSTALLED_DB=${TEST_DB}_installed
OCA_DB=${TEST_DB}_oca
copy_db "$TEMPLATE" "$TEST_DB"

passed=0
failed=0

# pytest-odoo runs tests against an installed database: install the addon first.
echo "== install account_online_synchronization"
odoo_bin -c "$CONF" -d "$TEST_DB" -i account_online_synchronization --stop-after-init --log-level=warn \
    >"$LOGS/install.log" 2>&1 || { tail -n 40 "$LOGS/install.log"; die "installing the addon failed (log: $LOGS/install.log)"; }
state=$(psql -d "$TEST_DB" -Atc "SELECT state FROM ir_module_module WHERE name = 'account_online_synchronization'")
[ "$state" = installed ] || { tail -n 40 "$LOGS/install.log"; die "the addon is '$state' after installing it (log: $LOGS/install.log)"; }
# The addon just installed, before any test: what the OCA part and the system tests start from.
copy_db "$TEST_DB" "$INSTALLED_DB"

# add_pytest_counts LABEL LOG RC [no-skip]: adds the counts of pytest's
# closing line in LOG to passed and failed; stops when pytest ran no test or
# did not finish; with no-skip, a skipped test counts as failed.
add_pytest_counts() {
    local label=$1 log=$2 rc=$3 no_skip=${4:-} summary
    if [ "$rc" -eq 5 ]; then
        echo "error: $label: pytest ran no test (log: $log)" >&2
        exit 1
    fi
    # pytest's closing line, e.g. "=== 1 failed, 40 passed, 2 warnings in 95.01s ===" (no "=" with -q).
    summary=$(grep -E '^(=+ )?[0-9]+ [a-z].* in [0-9.]+s( \([0-9:]+\))?( =+)?$' "$log" | tail -n 1 || true)
    if [ -z "$summary" ] || { [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; }; then
        echo "error: $label: pytest stopped with exit code $rc before reporting its tests (log: $log)" >&2
        exit 1
    fi
    local count p=0 f=0
    while read -r count; do
        case $count in
            *" passed") p=$((p + ${count%% *})) ;;
            *" skipped") [ -z "$no_skip" ] || f=$((f + ${count%% *})) ;;
            *) f=$((f + ${count%% *})) ;;   # failed, error(s)
        esac
    done < <(echo "$summary" | grep -oE '[0-9]+ (passed|failed|errors?|skipped)\b')
    if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
        echo "error: $label: pytest passed no test (log: $log)" >&2
        exit 1
    fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "error: $label: pytest exited with $rc but reported no failure (log: $log)" >&2
        exit 1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
}

# The addon's tests, through pytest-odoo, inside Odoo on the installed
# database (PYTHONPATH: Odoo is a source tree, not installed in the venv).
# --odoo-http starts Odoo's HTTP server for the browser tours.
# A test file that does not import counts as an error, the others still run.
run_pytest() {
    local log="$LOGS/addon-tests.log" rc=0
    echo "== addon-tests (pytest-odoo)"
    (cd "$ROOT" && PYTHONPATH="$ODOO_SRC${PYTHONPATH:+:$PYTHONPATH}" "$VENV/bin/pytest" \
        --odoo-config="$CONF" --odoo-database="$TEST_DB" --odoo-http --odoo-log-level=warn \
        -o cache_dir="$CACHE_DIR/pytest-cache/$TEST_DB" --continue-on-collection-errors \
        account_online_synchronization/tests "${PYTEST_ARGS[@]}") 2>&1 | tee "$log" || rc=$?
    add_pytest_counts addon-tests "$log" "$rc"
}

# The takeover of OCA's online import: the addon's test_oca_*.py (skipped in
# the main part, where the OCA modules are absent), in a copy of the installed
# database where the OCA modules are installed too. None may be skipped here.
run_oca_tests() {
    local log="$LOGS/oca-tests.log" rc=0 conf="$CACHE_DIR/odoo-test-$OCA_DB.conf"
    echo "== oca-tests (pytest-odoo, with the OCA modules installed)"
    write_odoo_config "$conf"
    sed -i "s#^addons_path = .*#&,$OCA_ADDONS#" "$conf"
    copy_db "$INSTALLED_DB" "$OCA_DB"
    odoo_bin -c "$conf" -d "$OCA_DB" -i account_statement_import_online --stop-after-init --log-level=warn \
        >"$LOGS/oca-install.log" 2>&1 || { tail -n 40 "$LOGS/oca-install.log"; die "installing the OCA modules failed (log: $LOGS/oca-install.log)"; }
    (cd "$ROOT" && PYTHONPATH="$ODOO_SRC${PYTHONPATH:+:$PYTHONPATH}" "$VENV/bin/pytest" \
        --odoo-config="$conf" --odoo-database="$OCA_DB" --odoo-http --odoo-log-level=warn \
        -o cache_dir="$CACHE_DIR/pytest-cache/$OCA_DB" \
        account_online_synchronization/tests/test_oca_*.py "${PYTEST_ARGS[@]}") 2>&1 | tee "$log" || rc=$?
    add_pytest_counts oca-tests "$log" "$rc" no-skip
}

# Odoo as real processes (system_tests): each test makes its databases from
# the template (Accounting alone) or the installed database, and drops them.
run_system_tests() {
    local log="$LOGS/system-tests.log" rc=0
    echo "== system-tests (pytest, Odoo as processes)"
    (cd "$ROOT" && PYTHONDONTWRITEBYTECODE=1 AOS_ODOO_SRC="$ODOO_SRC" AOS_PYTHON="$PYTHON" \
        AOS_ODOO_CONF="$CONF" AOS_DATA_DIR="$CACHE_DIR/data" AOS_OCA_ADDONS="$OCA_ADDONS" \
        AOS_TEMPLATE_DB="$TEMPLATE" AOS_INSTALLED_DB="$INSTALLED_DB" AOS_DB_PREFIX="${TEST_DB}_sys" \
        AOS_LOG_DIR="$LOGS/system" \
        "$VENV/bin/pytest" -p no:odoo -p no:cacheprovider system_tests "${PYTEST_ARGS[@]}") 2>&1 | tee "$log" || rc=$?
    add_pytest_counts system-tests "$log" "$rc" no-skip
}

# The tools' tests (finding and downloading Odoo) and the connectors' tests
# against the emulators need no Odoo: -p no:odoo,
# since pytest-odoo imports Odoo when it loads. Nothing written in the clone.
run_tools_tests() {
    local log="$LOGS/tools-tests.log" rc=0
    echo "== tools-tests (pytest)"
    (cd "$ROOT" && PYTHONDONTWRITEBYTECODE=1 "$VENV/bin/pytest" -p no:odoo -p no:cacheprovider \
        tools/tests emulators/tests "${PYTEST_ARGS[@]}") 2>&1 | tee "$log" || rc=$?
    add_pytest_counts tools-tests "$log" "$rc"
}

# run_odoo_tests LABEL ODOO-ARGS...: runs, prints the test lines, adds up counts.
run_odoo_tests() {
    local label=$1 log="$LOGS/$1.log" rc=0 summary
    shift
    echo "== $label"
    odoo_bin -c "$CONF" -d "$TEST_DB" --test-enable --stop-after-init --http-port "$HTTP_PORT" \
        --log-level=info "$@" >"$log" 2>&1 || rc=$?
    grep -E "(ERROR|CRITICAL|FAIL:|Ran [0-9]+ test)" "$log" | grep -v "^WARNING: Location" | head -n 200 || true
    summary=$(grep -E "[0-9]+ failed, [0-9]+ error\(s\) of [0-9]+ tests when loading database" "$log" | tail -n 1 || true)
    if [ -z "$summary" ]; then
        tail -n 40 "$log"
        echo "error: $label: Odoo stopped before reporting its tests (log: $log)" >&2
        exit 1
    fi
    echo "$summary" | sed 's/.*odoo.tests.result: //'
    local f e n
    read -r f e n < <(echo "$summary" | sed -E 's/.* ([0-9]+) failed, ([0-9]+) error\(s\) of ([0-9]+) tests.*/\1 \2 \3/')
    if [ "$n" -eq 0 ]; then
        echo "error: $label ran no test (log: $log)" >&2
        exit 1
    fi
    failed=$((failed + f + e))
    passed=$((passed + n - f - e))
    if [ "$rc" -ne 0 ] && [ $((f + e)) -eq 0 ]; then
        tail -n 40 "$log"
        echo "error: $label: Odoo exited with $rc (log: $log)" >&2
        exit 1
    fi
}

runs addon && run_pytest
runs oca && run_oca_tests
runs system && run_system_tests
runs odoo && run_odoo_tests odoo-account-tests --test-tags "$ODOO_TAGS"
runs tools && run_tools_tests
[ -z "$ONLY" ] || echo "== only the $ONLY part ran (--only, or pytest arguments)"

if [ "$KEEP" != 1 ]; then
    for db in "$TEST_DB" "$INSTALLED_DB" "$OCA_DB"; do drop_db "$db"; done
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
