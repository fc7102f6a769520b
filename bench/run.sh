#!/usr/bin/env bash
# Benchmarks, in a database of their own with Accounting and the addon and no
# bank connected yet (created on the first run), so that a first
# synchronization is measured as a new user meets it.
#   bench/run.sh [--database NAME]
source "$(dirname "${BASH_SOURCE[0]}")/../tools/common.sh"
DATABASE=online_sync_bench
[ "${1:-}" = "--database" ] && DATABASE=$2
find_or_fetch_odoo
ensure_venv
ensure_postgres
CONF="$CACHE_DIR/odoo-demo.conf"
write_odoo_config "$CONF"
if ! db_exists "$DATABASE"; then
    echo "Creating database $DATABASE with Accounting and Online Bank Synchronization ..."
    odoo_bin -c "$CONF" -d "$DATABASE" -i account --stop-after-init --log-level=warn
fi
# The addon as it is in this clone.
odoo_bin -c "$CONF" -d "$DATABASE" -u account_online_synchronization --stop-after-init --log-level=warn
cd "$ROOT"
echo "== first synchronization (Demo Bank)"
odoo_bin shell -c "$CONF" -d "$DATABASE" --no-http --log-level=warn <"$ROOT/bench/first_sync.py"
echo "== bank directory (Plaid emulator)"
odoo_bin shell -c "$CONF" -d "$DATABASE" --no-http --log-level=warn <"$ROOT/bench/bank_directory.py"
