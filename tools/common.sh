# Shared by the README commands: find Odoo 19.0, prepare the Python environment
# and PostgreSQL, write the Odoo configuration. Sourced, never run directly.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ODOO_SRC=${ODOO_SRC:-/opt/odoo/19.0}
CACHE_DIR=${AOS_CACHE_DIR:-$HOME/.cache/account_online_synchronization}

die() {
    echo "error: $*" >&2
    exit 2
}

require_odoo() {
    local release="$ODOO_SRC/odoo/release.py"
    if [ ! -f "$ODOO_SRC/odoo-bin" ] || [ ! -f "$release" ] \
        || ! grep -qE '^version_info = \(19, 0,' "$release"; then
        die "Odoo 19.0 not found at $ODOO_SRC: put an Odoo 19.0 Community source tree there or set ODOO_SRC to one (see README, 'Odoo 19.0')"
    fi
}

# One virtualenv per set of requirements, outside the clone, so that fresh
# clones (CI) reuse it.
ensure_venv() {
    local reqs="$ROOT/tools/requirements-odoo19.txt" key
    key=$( (cat "$reqs"; python3 --version) | sha1sum | cut -c1-12)
    VENV=${AOS_VENV:-$CACHE_DIR/venv-$key}
    if [ ! -f "$VENV/.complete" ]; then
        # Concurrent runs wait for the one that creates it.
        mkdir -p "$CACHE_DIR"
        exec 8>"$CACHE_DIR/venv.lock"
        flock 8
        if [ ! -f "$VENV/.complete" ]; then
            echo "Creating the Python environment in $VENV ..."
            rm -rf "$VENV"
            python3 -m venv "$VENV"
            "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$reqs"
            touch "$VENV/.complete"
        fi
        exec 8>&-
    fi
    PYTHON="$VENV/bin/python"
}

# Use the PostgreSQL that runs; else start the local cluster and give the
# current user a superuser role on it.
ensure_postgres() {
    if pg_isready -q 2>/dev/null && psql -d postgres -Atc 'select 1' >/dev/null 2>&1; then
        return
    fi
    command -v pg_lsclusters >/dev/null || die "PostgreSQL is not running and no local cluster was found: install PostgreSQL (Debian package postgresql)"
    local version name
    read -r version name _ < <(pg_lsclusters --no-header | head -n 1)
    [ -n "${version:-}" ] || die "no PostgreSQL cluster found: create one with pg_createcluster"
    pg_isready -q 2>/dev/null || pg_ctlcluster "$version" "$name" start
    for _ in $(seq 30); do pg_isready -q && break; sleep 1; done
    local me
    me=$(id -un)
    if ! psql -d postgres -Atc 'select 1' >/dev/null 2>&1; then
        runuser -u postgres -- psql -q -c "CREATE ROLE \"$me\" SUPERUSER LOGIN" 2>/dev/null \
            || runuser -u postgres -- psql -q -c "ALTER ROLE \"$me\" SUPERUSER LOGIN"
    fi
    psql -d postgres -Atc 'select 1' >/dev/null || die "cannot connect to PostgreSQL as $me"
}

# Odoo configuration: Odoo's addons, then ours. $1 = file to write,
# $2 = "without-project" to leave this project's addons out.
write_odoo_config() {
    local conf=$1 addons="$ODOO_SRC/addons,$ODOO_SRC/odoo/addons"
    [ "${2:-}" = "without-project" ] || addons="$addons,$ROOT"
    mkdir -p "$(dirname "$conf")" "$CACHE_DIR/data"
    cat >"$conf" <<CONF
[options]
addons_path = $addons
data_dir = $CACHE_DIR/data
list_db = False
http_interface = 127.0.0.1
CONF
}

odoo_bin() {
    "$PYTHON" "$ODOO_SRC/odoo-bin" "$@"
}

db_exists() {
    [ "$(psql -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$1'")" = "1" ]
}
