#!/usr/bin/env bash
# Set everything up, connect the Demo Bank, sync, print what was imported,
# then serve Odoo on http://localhost:8069 (admin / admin).
#   tools/demo.sh [--database NAME] [--no-serve]
# --no-serve stops after printing (for scripts).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

DATABASE=online_sync_demo
SERVE=1
while [ $# -gt 0 ]; do
    case "$1" in
        --database|-d) DATABASE=$2; shift 2 ;;
        --no-serve) SERVE=0; shift ;;
        -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done

find_or_fetch_odoo
ensure_venv
ensure_postgres
CONF="$CACHE_DIR/odoo-demo.conf"
write_odoo_config "$CONF"

if ! db_exists "$DATABASE"; then
    echo "Creating database $DATABASE with Accounting and Online Bank Synchronization ..."
    # The addon is auto-installed with Accounting.
    odoo_bin -c "$CONF" -d "$DATABASE" -i account --stop-after-init --log-level=warn
else
    odoo_bin -c "$CONF" -d "$DATABASE" -i account_online_synchronization --stop-after-init --log-level=warn
fi

odoo_bin shell -c "$CONF" -d "$DATABASE" --no-http --log-level=warn <"$ROOT/tools/demo_job.py"

if [ "$SERVE" = 1 ]; then
    echo "Serving Odoo on http://localhost:8069 (database $DATABASE, login admin / admin). Ctrl-C stops it."
    exec "$PYTHON" "$ODOO_SRC/odoo-bin" -c "$CONF" -d "$DATABASE" --http-port 8069
fi
