#!/usr/bin/env bash
# Benchmarks, in databases of their own (created on the first run).
#   bench/run.sh                      the import benchmark (bench/results/import_speed.*)
#   bench/run.sh import-speed [--sizes 1000,10000,20000] [--cron-connections 100]
#   bench/run.sh cron-workers [--connections 200] [--new 20]   two cron threads of a real
#                                     server share the scheduled sync (bench/results/cron_workers.md)
#   bench/run.sh first-sync | bank-directory [--database NAME]
source "$(dirname "${BASH_SOURCE[0]}")/../tools/common.sh"
WHAT=${1:-import-speed}
[ $# -gt 0 ] && shift
find_or_fetch_odoo
ensure_venv
ensure_postgres
BENCH_DIR="$CACHE_DIR/bench"
CONF="$BENCH_DIR/odoo-bench.conf"
mkdir -p "$BENCH_DIR"

if [ "$WHAT" != import-speed ] && [ "$WHAT" != cron-workers ]; then
    DATABASE=online_sync_bench
    [ "${1:-}" = "--database" ] && DATABASE=$2
    write_odoo_config "$CONF"
    if ! db_exists "$DATABASE"; then
        echo "Creating database $DATABASE with Accounting and Online Bank Synchronization ..."
        odoo_bin -c "$CONF" -d "$DATABASE" -i account --stop-after-init --log-level=warn
    fi
    odoo_bin -c "$CONF" -d "$DATABASE" -u account_online_synchronization --stop-after-init --log-level=warn
    cd "$ROOT"
    case $WHAT in
        first-sync) odoo_bin shell -c "$CONF" -d "$DATABASE" --no-http --log-level=warn <"$ROOT/bench/first_sync.py" ;;
        bank-directory) odoo_bin shell -c "$CONF" -d "$DATABASE" --no-http --log-level=warn <"$ROOT/bench/bank_directory.py" ;;
        *) die "unknown benchmark: $WHAT (import-speed, cron-workers, first-sync or bank-directory)" ;;
    esac
    exit 0
fi

# The OCA peer, in the benchmark's own addons path only.
ensure_oca_addons
"$PYTHON" -c "import matplotlib, psutil" 2>/dev/null || "$PYTHON" -m pip install --quiet matplotlib psutil

write_odoo_config "$CONF"
sed -i "s#^addons_path = .*#&,$OCA_ADDONS,$ROOT/bench/addons#" "$CONF"
# Templates: Accounting and the addon as this clone has it; the same with the OCA modules.
KEY=$(cd "$ROOT" && find account_online_synchronization bench/addons bench/busy_bank.py -type f -not -name "*.pyc" -print0 | sort -z | xargs -0 sha1sum | sha1sum | cut -c1-10)
TEMPLATE=online_sync_bench_tmpl_$KEY
TEMPLATE_OCA=online_sync_bench_oca_$KEY
if ! db_exists "$TEMPLATE_OCA"; then
    for db in $(psql -d postgres -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'online_sync_bench_tmpl_%' OR datname LIKE 'online_sync_bench_oca_%'"); do
        dropdb "$db"
    done
    echo "Creating the benchmark's template databases ..."
    odoo_bin -c "$CONF" -d "$TEMPLATE" -i account_online_synchronization --without-demo=all --stop-after-init --log-level=warn
    createdb -T "$TEMPLATE" "$TEMPLATE_OCA"
    cp -r "$CACHE_DIR/data/filestore/$TEMPLATE" "$CACHE_DIR/data/filestore/$TEMPLATE_OCA" 2>/dev/null || true
    odoo_bin -c "$CONF" -d "$TEMPLATE_OCA" -i bench_oca_busy_bank --stop-after-init --log-level=warn
fi
cd "$ROOT"
if [ "$WHAT" = cron-workers ]; then
    "$PYTHON" bench/cron_workers.py --odoo-bin "$ODOO_SRC/odoo-bin" --config "$CONF" --template "$TEMPLATE" \
        --log "$BENCH_DIR/cron_workers.log" "$@"
else
    "$PYTHON" bench/import_speed.py --odoo-bin "$ODOO_SRC/odoo-bin" --config "$CONF" \
        --template "$TEMPLATE" --template-oca "$TEMPLATE_OCA" "$@"
fi
