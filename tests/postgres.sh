# shellcheck shell=bash
# Throwaway PostgreSQL cluster for the test suites.
#
# Source this file from bash; sourcing it starts a fresh cluster:
#
#     source tests/postgres.sh
#     trap flywheel_stop_postgres EXIT
#
# Afterwards FLYWHEEL_TEST_POSTGRES_URL points at the new server
# (superuser `flywheel`, trust auth, 127.0.0.1 only) and
# `flywheel_stop_postgres` stops it and deletes its directory.
#
# initdb/pg_ctl are taken from PATH or /usr/lib/postgresql/*/bin (highest
# version wins). If there are none, Debian's `postgresql` package is installed
# with apt-get (as root, or through sudo). PostgreSQL will not run as root, so
# when this runs as root the cluster is owned by, and run as, the `postgres`
# system user.
#
# Sourcing returns non-zero (after printing why) if the server cannot be started.

_flywheel_pg_bin=""   # directory holding initdb and pg_ctl
_flywheel_pg_dir=""   # temp dir: data/, server log, unix socket
_flywheel_pg_user=""  # user to run the server as; empty = the current user

_flywheel_pg_say() {
    echo "postgres.sh: $*" >&2
}

# Print the directory of the newest PostgreSQL that has both initdb and pg_ctl,
# or nothing.
_flywheel_pg_find_bin() {
    local candidates=() dir initdb line version
    if initdb="$(command -v initdb)"; then
        candidates+=("$(dirname "$initdb")")
    fi
    for dir in /usr/lib/postgresql/*/bin; do
        if [[ -d "$dir" ]]; then
            candidates+=("$dir")
        fi
    done

    for dir in "${candidates[@]}"; do
        if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]] &&
            line="$("$dir/initdb" --version 2> /dev/null)"; then
            # "initdb (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" -> "15.18"
            read -r _ _ version _ <<< "$line"
            printf '%s %s\n' "$version" "$dir"
        fi
    done | sort -V -k1,1 | tail -n 1 | cut -d ' ' -f 2-
}

_flywheel_pg_install() {
    local sudo=()
    if [[ "$(id -u)" -ne 0 ]]; then
        if ! command -v sudo > /dev/null; then
            _flywheel_pg_say "PostgreSQL (initdb, pg_ctl) is not installed, and installing it needs root or sudo."
            _flywheel_pg_say "Install PostgreSQL yourself (Debian/Ubuntu: apt-get install postgresql) and re-run."
            return 1
        fi
        sudo=(sudo)
    fi
    if ! command -v apt-get > /dev/null; then
        _flywheel_pg_say "PostgreSQL (initdb, pg_ctl) is not installed and there is no apt-get to install it; install PostgreSQL and re-run."
        return 1
    fi
    _flywheel_pg_say "PostgreSQL not found; installing Debian's postgresql package"
    "${sudo[@]}" apt-get update &&
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y --no-install-recommends postgresql
}

# Run a PostgreSQL program as the cluster owner, from inside the cluster dir
# (the postgres user may not be allowed into the caller's working directory).
_flywheel_pg_run() {
    if [[ -n "$_flywheel_pg_user" ]]; then
        (cd "$_flywheel_pg_dir" && runuser -u "$_flywheel_pg_user" -- "$@")
    else
        (cd "$_flywheel_pg_dir" && "$@")
    fi
}

# Print the first port >= $1 on 127.0.0.1 that nothing is listening on.
_flywheel_pg_free_port() {
    local port="$1"
    while [[ "$port" -lt 65536 ]]; do
        # Connecting succeeds only if something listens there.
        if ! (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null; then
            echo "$port"
            return 0
        fi
        port=$((port + 1))
    done
    return 1
}

flywheel_stop_postgres() {
    [[ -n "$_flywheel_pg_dir" ]] || return 0
    if [[ -f "$_flywheel_pg_dir/data/postmaster.pid" ]]; then
        _flywheel_pg_run "$_flywheel_pg_bin/pg_ctl" -D "$_flywheel_pg_dir/data" -m fast stop > /dev/null ||
            _flywheel_pg_run "$_flywheel_pg_bin/pg_ctl" -D "$_flywheel_pg_dir/data" -m immediate stop > /dev/null ||
            _flywheel_pg_say "could not stop the server in $_flywheel_pg_dir"
    fi
    rm -rf "$_flywheel_pg_dir"
    _flywheel_pg_dir=""
    unset FLYWHEEL_TEST_POSTGRES_URL
}

_flywheel_pg_fail() {
    _flywheel_pg_say "$*"
    local log
    for log in "$_flywheel_pg_dir/initdb.log" "$_flywheel_pg_dir/server.log"; do
        if [[ -s "$log" ]]; then
            _flywheel_pg_say "--- last lines of $(basename "$log") ---"
            tail -n 20 "$log" >&2
        fi
    done
    flywheel_stop_postgres
    return 1
}

flywheel_start_postgres() {
    local port attempt version

    _flywheel_pg_bin="$(_flywheel_pg_find_bin)"
    if [[ -z "$_flywheel_pg_bin" ]]; then
        _flywheel_pg_install || return 1
        _flywheel_pg_bin="$(_flywheel_pg_find_bin)"
        if [[ -z "$_flywheel_pg_bin" ]]; then
            _flywheel_pg_say "installed postgresql but still cannot find initdb/pg_ctl"
            return 1
        fi
    fi

    _flywheel_pg_user=""
    if [[ "$(id -u)" -eq 0 ]]; then
        if ! id -u postgres > /dev/null 2>&1; then
            _flywheel_pg_say "running as root, and there is no 'postgres' user to run PostgreSQL as"
            return 1
        fi
        _flywheel_pg_user=postgres
    fi

    _flywheel_pg_dir="$(mktemp -d -t flywheel-pg.XXXXXX)" || return 1
    if [[ -n "$_flywheel_pg_user" ]]; then
        chown "$_flywheel_pg_user:" "$_flywheel_pg_dir" || {
            _flywheel_pg_fail "could not chown $_flywheel_pg_dir to $_flywheel_pg_user"
            return 1
        }
    fi

    # --no-locale: C collation, independent of the machine's locales, and the
    # same byte-wise text ordering SQLite uses.
    if ! _flywheel_pg_run "$_flywheel_pg_bin/initdb" -D "$_flywheel_pg_dir/data" \
        --auth=trust --username=flywheel --encoding=UTF8 --no-locale \
        > "$_flywheel_pg_dir/initdb.log" 2>&1; then
        _flywheel_pg_fail "initdb failed"
        return 1
    fi

    # Another process may grab the probed port before the server binds it,
    # so try a few ports. fsync=off: the cluster is thrown away anyway.
    port=55432
    for attempt in 1 2 3 4 5; do
        port="$(_flywheel_pg_free_port "$port")" || break
        if _flywheel_pg_run "$_flywheel_pg_bin/pg_ctl" -w -D "$_flywheel_pg_dir/data" \
            -l "$_flywheel_pg_dir/server.log" \
            -o "-k '$_flywheel_pg_dir' -c listen_addresses=127.0.0.1 -p $port -c fsync=off" \
            start > /dev/null; then
            version="$("$_flywheel_pg_bin/pg_ctl" --version)"
            read -r _ _ version _ <<< "$version"
            export FLYWHEEL_TEST_POSTGRES_URL="postgres://flywheel@127.0.0.1:$port/postgres"
            echo "PostgreSQL $version started on 127.0.0.1:$port ($_flywheel_pg_dir)"
            return 0
        fi
        _flywheel_pg_say "server did not start on port $port (attempt $attempt)"
        port=$((port + 1))
    done
    _flywheel_pg_fail "could not start PostgreSQL"
    return 1
}

flywheel_start_postgres || return 1
