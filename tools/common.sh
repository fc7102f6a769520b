# Shared by the README commands: find Odoo 19.0 (or download it), prepare the
# Python environment and PostgreSQL, write the Odoo configuration. Sourced,
# never run directly.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE_DIR=${AOS_CACHE_DIR:-$HOME/.cache/account_online_synchronization}
# Odoo 19.0: ODOO_SRC when the user sets it, else ODOO_DEFAULT_SRC, else a
# clone of ODOO_REPO's ODOO_BRANCH in the cache (see find_or_fetch_odoo).
# AOS_ODOO_DEFAULT_SRC lets the tools' tests hide this machine's Odoo.
ODOO_SRC=${ODOO_SRC:-}
ODOO_SRC_GIVEN=${ODOO_SRC:+1}
ODOO_DEFAULT_SRC=${AOS_ODOO_DEFAULT_SRC:-/opt/odoo/19.0}
ODOO_PUBLIC_REPO=https://github.com/odoo/odoo.git
ODOO_REPO=${ODOO_REPO:-$ODOO_PUBLIC_REPO}
ODOO_BRANCH=${ODOO_BRANCH:-19.0}

die() {
    echo "error: $*" >&2
    exit 2
}

is_odoo19_tree() {
    [ -f "$1/odoo-bin" ] && [ -f "$1/odoo/release.py" ] \
        && grep -qE '^version_info = \(19, 0,' "$1/odoo/release.py"
}

# A path (not a URL, not host:path): git copies it, no network involved.
odoo_repo_is_local() {
    [[ $ODOO_REPO != *://* ]] && [[ $ODOO_REPO != *:* || $ODOO_REPO == /* || $ODOO_REPO == .* ]]
}

# The cache directory of ODOO_REPO's ODOO_BRANCH. Another repository gets
# another directory, so that setting ODOO_REPO never reuses a clone of the
# previous one.
odoo_clone_dir() {
    local name="odoo-${ODOO_BRANCH//\//_}" repo=$ODOO_REPO
    if [ "$repo" != "$ODOO_PUBLIC_REPO" ]; then
        if odoo_repo_is_local && [ -d "$repo" ]; then
            repo=$(cd "$repo" && pwd -P)
        fi
        name="$name-$(printf '%s' "$repo" | sha1sum | cut -c1-8)"
    fi
    echo "$CACHE_DIR/$name"
}

# Sets ODOO_SRC to an Odoo 19.0 source tree: the one ODOO_SRC names (never
# another one behind the user's back), else ODOO_DEFAULT_SRC, else the clone
# in the cache, made on the first run.
find_or_fetch_odoo() {
    if [ -n "$ODOO_SRC_GIVEN" ]; then
        is_odoo19_tree "$ODOO_SRC" \
            || die "Odoo 19.0 not found at $ODOO_SRC: set ODOO_SRC to an Odoo 19.0 Community source tree, or unset it to download Odoo 19.0 (see README, 'Odoo 19.0')"
        return 0
    fi
    if is_odoo19_tree "$ODOO_DEFAULT_SRC"; then
        ODOO_SRC=$ODOO_DEFAULT_SRC
        return 0
    fi
    local clone
    clone=$(odoo_clone_dir)
    if is_odoo19_tree "$clone"; then
        echo "Using Odoo 19.0 downloaded earlier: $clone"
    else
        fetch_odoo "$clone"
    fi
    ODOO_SRC=$clone
}

# Clones ODOO_REPO's ODOO_BRANCH into $1.partial and renames it to $1 only
# once complete and checked: a failed or interrupted clone leaves no $1, and
# the next run removes what it left.
fetch_odoo() {
    local clone=$1 from
    local what_to_do="set ODOO_SRC to an Odoo 19.0 source tree, or ODOO_REPO to a local copy of Odoo's git repository"
    command -v git >/dev/null \
        || die "git is needed to download Odoo 19.0: install git (Debian package git), or set ODOO_SRC to an Odoo 19.0 source tree"
    mkdir -p "$CACHE_DIR"
    # Concurrent runs wait for the one that clones, then use its clone.
    exec 7>"$CACHE_DIR/odoo-fetch.lock"
    flock 7
    if ! is_odoo19_tree "$clone"; then
        if [ -e "$clone" ]; then
            echo "Removing $clone: it is not a complete Odoo 19.0 tree"
        fi
        rm -rf "$clone" "$clone.partial"
        # Whatever ends the run before the rename (die, Ctrl-C, kill) removes it.
        ODOO_PARTIAL=$clone.partial
        trap 'rm -rf "$ODOO_PARTIAL"' EXIT
        if odoo_repo_is_local; then
            from=$ODOO_REPO
            [ -d "$from" ] && from=$(cd "$from" && pwd -P)
            echo "Odoo 19.0 not found at $ODOO_DEFAULT_SRC and ODOO_SRC not set: copying branch $ODOO_BRANCH of $from into $clone (about 1.1 GB on disk), once: later runs reuse it."
            # git ignores --depth for a local path; it hard-links the objects instead.
            git clone --branch "$ODOO_BRANCH" --single-branch --progress "$from" "$ODOO_PARTIAL" \
                || die "could not copy Odoo 19.0 from $from: $what_to_do"
        else
            echo "Odoo 19.0 not found at $ODOO_DEFAULT_SRC and ODOO_SRC not set: downloading branch $ODOO_BRANCH of $ODOO_REPO into $clone (a shallow clone: about 200 MB to download, 1.1 GB on disk), once: later runs reuse it."
            # Fail rather than wait forever: no password prompt, and give up
            # when the download stalls (under 1 kB/s for a minute).
            GIT_TERMINAL_PROMPT=0 \
                GIT_HTTP_LOW_SPEED_LIMIT=${GIT_HTTP_LOW_SPEED_LIMIT:-1000} \
                GIT_HTTP_LOW_SPEED_TIME=${GIT_HTTP_LOW_SPEED_TIME:-60} \
                git clone --depth 1 --branch "$ODOO_BRANCH" --single-branch --progress "$ODOO_REPO" "$ODOO_PARTIAL" \
                || die "could not download Odoo 19.0 from $ODOO_REPO (no network?): $what_to_do"
        fi
        if ! is_odoo19_tree "$ODOO_PARTIAL"; then
            die "branch $ODOO_BRANCH of $ODOO_REPO is not Odoo 19.0 (odoo/release.py): set ODOO_BRANCH to Odoo 19.0's branch, or ODOO_SRC to an Odoo 19.0 source tree"
        fi
        mv -T "$ODOO_PARTIAL" "$clone"
        trap - EXIT
    fi
    exec 7>&-
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

# The OCA peer (account_statement_import_online and what it needs), from
# PyPI, once: an addons directory for the benchmark and for the test of the
# takeover, never a dependency of the addon. Sets OCA_ADDONS.
OCA_VERSIONS="account_statement_base==19.0.1.0.1 account_statement_import_base==19.0.1.0.0.8 account_statement_import_online==19.0.1.0.3"
ensure_oca_addons() {
    local dir
    dir="$CACHE_DIR/oca-$(echo "$OCA_VERSIONS" | sha1sum | cut -c1-10)"
    if [ ! -d "$dir/odoo/addons/account_statement_import_online" ]; then
        echo "Downloading the OCA modules: $OCA_VERSIONS"
        rm -rf "$dir.tmp" && mkdir -p "$dir.tmp/wheels"
        for pin in $OCA_VERSIONS; do
            "$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps -d "$dir.tmp/wheels" "odoo-addon-$pin" \
                || die "could not download odoo-addon-$pin from PyPI"
        done
        for wheel in "$dir.tmp"/wheels/*.whl; do "$PYTHON" -m zipfile -e "$wheel" "$dir.tmp"; done
        mv "$dir.tmp" "$dir"
    fi
    OCA_ADDONS="$dir/odoo/addons"
}

odoo_bin() {
    "$PYTHON" "$ODOO_SRC/odoo-bin" "$@"
}

db_exists() {
    [ "$(psql -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$1'")" = "1" ]
}
