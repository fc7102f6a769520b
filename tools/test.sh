#!/usr/bin/env bash
# Run every test inside real Odoo 19.0 with PostgreSQL: this addon's tests
# (browser tours included), then Odoo's own tests of bank journals and bank
# statements with the addon installed. Installs what a fresh machine lacks.
#   tools/test.sh [--keep]     --keep: leave the test database for inspection
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

KEEP=0
[ "${1:-}" = "--keep" ] && KEEP=1
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

require_odoo
ensure_venv
ensure_postgres
ensure_chromium

LOGS="$CACHE_DIR/test-logs"
mkdir -p "$LOGS"
CONF_ODOO="$CACHE_DIR/odoo-template.conf"
CONF="$CACHE_DIR/odoo-test.conf"
write_odoo_config "$CONF_ODOO" without-project
write_odoo_config "$CONF"

# A database with Accounting alone, built once per Odoo tree and reused:
# installing `account` is most of a run's time.
TEMPLATE="aos_tmpl_$( (echo "$ODOO_SRC"; cat "$ODOO_SRC/odoo/release.py"; cat "$VENV/.complete" 2>/dev/null) | sha1sum | cut -c1-10)"
if ! db_exists "$TEMPLATE"; then
    echo "Building the template database $TEMPLATE (Accounting, once) ..."
    dropdb --if-exists "${TEMPLATE}_wip"
    rm -rf "$CACHE_DIR/data/filestore/${TEMPLATE}_wip"
    odoo_bin -c "$CONF_ODOO" -d "${TEMPLATE}_wip" -i account --stop-after-init --log-level=warn \
        >"$LOGS/template.log" 2>&1 || { tail -n 30 "$LOGS/template.log"; die "building the template database failed"; }
    psql -d postgres -qc "ALTER DATABASE \"${TEMPLATE}_wip\" RENAME TO \"$TEMPLATE\""
    if [ -d "$CACHE_DIR/data/filestore/${TEMPLATE}_wip" ]; then
        mv "$CACHE_DIR/data/filestore/${TEMPLATE}_wip" "$CACHE_DIR/data/filestore/$TEMPLATE"
    fi
fi

dropdb --if-exists "$TEST_DB"
rm -rf "$CACHE_DIR/data/filestore/$TEST_DB"
createdb -T "$TEMPLATE" "$TEST_DB"
if [ -d "$CACHE_DIR/data/filestore/$TEMPLATE" ]; then
    cp -r "$CACHE_DIR/data/filestore/$TEMPLATE" "$CACHE_DIR/data/filestore/$TEST_DB"
fi

passed=0
failed=0
# run_odoo_tests LABEL ODOO-ARGS...: runs, prints the test lines, adds up counts.
run_odoo_tests() {
    local label=$1 log="$LOGS/$1.log" rc=0 summary
    shift
    echo "== $label"
    odoo_bin -c "$CONF" -d "$TEST_DB" --test-enable --stop-after-init --http-port "$HTTP_PORT" \
        --log-level=info "$@" >"$log" 2>&1 || rc=$?
    grep -E "(ERROR|CRITICAL|FAIL:|Ran [0-9]+ test)" "$log" | grep -v "^WARNING: Location" | head -n 200 || true
    summary=$(grep -E "[0-9]+ failed, [0-9]+ error\(s\) of [0-9]+ tests when loading database" "$log" | tail -n 1)
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

run_odoo_tests addon-tests -i account_online_synchronization --test-tags /account_online_synchronization
run_odoo_tests odoo-account-tests --test-tags "$ODOO_TAGS"

[ "$KEEP" = 1 ] || { dropdb --if-exists "$TEST_DB"; rm -rf "$CACHE_DIR/data/filestore/$TEST_DB"; }
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
