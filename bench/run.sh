#!/usr/bin/env bash
# Benchmarks, on the demo database (run tools/demo.sh --no-serve first).
#   bench/run.sh [--database NAME]
source "$(dirname "${BASH_SOURCE[0]}")/../tools/common.sh"
DATABASE=online_sync_demo
[ "${1:-}" = "--database" ] && DATABASE=$2
require_odoo
ensure_venv
ensure_postgres
db_exists "$DATABASE" || die "database $DATABASE not found: run tools/demo.sh --no-serve first"
CONF="$CACHE_DIR/odoo-demo.conf"
write_odoo_config "$CONF"
odoo_bin shell -c "$CONF" -d "$DATABASE" --no-http --log-level=warn <"$ROOT/bench/first_sync.py"
