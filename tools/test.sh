#!/usr/bin/env bash
# Run every test inside real Odoo 19.0 with PostgreSQL: this addon's tests
# (browser tours included) through pytest-odoo, then Odoo's own tests of bank
# journals and bank statements with the addon installed, on Odoo's runner,
# then the tests of these tools (tools/tests, plain pytest, no Odoo).
# Installs what a fresh machine lacks. Ends with "N passed, N failed" (pytest
# errors count as failed) and exits non-zero on any failure.
#   tools/test.sh [--keep] [--] [PYTEST-ARGS...]
#     --keep        leave the test database for inspection
#     PYTEST-ARGS   passed to pytest, e.g. `-k rate_limit`: they select among
#                   this addon's tests only, so Odoo's own tests and the tools'
#                   tests are then skipped
# AOS_TEST_DB (default aos_test) names the database, and the configuration and
# logs of the run: runs with different names can go at once.
# AOS_TEST_HTTP_PORT is the port of Odoo's runner; pytest-odoo takes a free one.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

KEEP=0
PYTEST_ARGS=()
while [ $# -gt 0 ]; do
    case $1 in
        --keep) KEEP=1 ;;
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

find_or_fetch_odoo
ensure_venv
ensure_postgres
ensure_chromium

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

dropdb --if-exists "$TEST_DB"
rm -rf "$CACHE_DIR/data/filestore/$TEST_DB"
createdb -T "$TEMPLATE" "$TEST_DB"
if [ -d "$CACHE_DIR/data/filestore/$TEMPLATE" ]; then
    cp -r "$CACHE_DIR/data/filestore/$TEMPLATE" "$CACHE_DIR/data/filestore/$TEST_DB"
fi

passed=0
failed=0

# pytest-odoo runs tests against an installed database: install the addon first.
echo "== install account_online_synchronization"
odoo_bin -c "$CONF" -d "$TEST_DB" -i account_online_synchronization --stop-after-init --log-level=warn \
    >"$LOGS/install.log" 2>&1 || { tail -n 40 "$LOGS/install.log"; die "installing the addon failed (log: $LOGS/install.log)"; }
state=$(psql -d "$TEST_DB" -Atc "SELECT state FROM ir_module_module WHERE name = 'account_online_synchronization'")
[ "$state" = installed ] || { tail -n 40 "$LOGS/install.log"; die "the addon is '$state' after installing it (log: $LOGS/install.log)"; }

# add_pytest_counts LABEL LOG RC: adds the counts of pytest's closing line in
# LOG to passed and failed; stops when pytest ran no test or did not finish.
add_pytest_counts() {
    local label=$1 log=$2 rc=$3 summary
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
            *) f=$((f + ${count%% *})) ;;   # failed, error(s)
        esac
    done < <(echo "$summary" | grep -oE '[0-9]+ (passed|failed|errors?)\b')
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

# The tools' tests (finding and downloading Odoo) and the connectors' tests
# against the emulators need no Odoo: -p no:odoo,
# since pytest-odoo imports Odoo when it loads. Nothing written in the clone.
run_tools_tests() {
    local log="$LOGS/tools-tests.log" rc=0
    echo "== tools-tests (pytest)"
    (cd "$ROOT" && PYTHONDONTWRITEBYTECODE=1 "$VENV/bin/pytest" -p no:odoo -p no:cacheprovider \
        tools/tests emulators/tests) 2>&1 | tee "$log" || rc=$?
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

run_pytest
if [ ${#PYTEST_ARGS[@]} -eq 0 ]; then
    run_odoo_tests odoo-account-tests --test-tags "$ODOO_TAGS"
    run_tools_tests
else
    echo "== odoo-account-tests and tools-tests skipped: pytest arguments select among this addon's tests only"
fi

[ "$KEEP" = 1 ] || { dropdb --if-exists "$TEST_DB"; rm -rf "$CACHE_DIR/data/filestore/$TEST_DB"; }
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
