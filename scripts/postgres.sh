#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the test suite (`make test` runs the suite
# once on SQLite and once on this).
#
#   scripts/postgres.sh bindir          print the server binaries' directory (exit 1 if none)
#   scripts/postgres.sh start DIR       create the cluster in DIR if needed, start it, print its URL
#   scripts/postgres.sh url DIR         print the SQLAlchemy URL of the cluster
#   scripts/postgres.sh stop DIR        stop it (does nothing when it is not running)
#
# The server listens only on 127.0.0.1:$PAPERFEED_PG_PORT (default 54329) and on
# a Unix socket inside DIR, trusts every local connection (it holds nothing but
# test data) and runs with fsync off.  PostgreSQL refuses to run as root, so
# root runs it as the `postgres` user when the distribution created one, else as
# a `paperfeed-ci` system user created here; other users run it as themselves.
# Binaries come from $PG_BINDIR, `pg_config --bindir`, /usr/lib/postgresql/*/bin
# or PATH, in that order.
set -euo pipefail

PORT="${PAPERFEED_PG_PORT:-54329}"
SUPERUSER=paperfeed

die() { echo "postgres.sh: $*" >&2; exit 1; }

find_bindir() {
    local dir candidates=()
    [[ -n "${PG_BINDIR:-}" ]] && candidates+=("$PG_BINDIR")
    if command -v pg_config >/dev/null 2>&1; then
        candidates+=("$(pg_config --bindir 2>/dev/null || true)")
    fi
    # Debian/Ubuntu keep the server outside PATH; prefer the newest version.
    while IFS= read -r dir; do candidates+=("$dir"); done \
        < <(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV)
    if command -v pg_ctl >/dev/null 2>&1; then
        candidates+=("$(dirname "$(readlink -f "$(command -v pg_ctl)")")")
    fi
    for dir in "${candidates[@]}"; do
        if [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/pg_ctl" && -x "$dir/postgres" ]]; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

# The user that runs the server: ourselves, unless we are root.
server_user() {
    if [[ "$(id -u)" != 0 ]]; then
        id -un
    elif id -u postgres >/dev/null 2>&1; then
        echo postgres
    else
        id -u paperfeed-ci >/dev/null 2>&1 \
            || useradd --system --no-create-home --shell /usr/sbin/nologin paperfeed-ci
        echo paperfeed-ci
    fi
}

# Run a command as the server user, from DIR (a cwd it may not read, such as
# /root, makes the PostgreSQL tools complain).
as_server() {
    if [[ "$(id -u)" == 0 ]]; then
        (cd "$DIR" && runuser -u "$USER_NAME" -- "$@")
    else
        (cd "$DIR" && "$@")
    fi
}

url() {
    echo "postgresql+psycopg://${SUPERUSER}@127.0.0.1:${PORT}/postgres"
}

is_running() {
    [[ -f "$DIR/data/postmaster.pid" ]] && as_server "$BINDIR/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1
}

start() {
    mkdir -p "$DIR"
    if [[ "$(id -u)" == 0 ]]; then
        chown "$USER_NAME:" "$DIR"
        chmod 0700 "$DIR"
        runuser -u "$USER_NAME" -- test -w "$DIR" \
            || die "$USER_NAME cannot write $DIR (is a parent directory private?); use a directory under /tmp"
    fi
    if is_running; then
        url
        return 0
    fi
    if [[ ! -f "$DIR/data/PG_VERSION" ]]; then
        as_server "$BINDIR/initdb" --pgdata="$DIR/data" --username="$SUPERUSER" \
            --auth=trust --encoding=UTF8 --locale=C --no-sync >"$DIR/initdb.log" 2>&1 \
            || { cat "$DIR/initdb.log" >&2; die "initdb failed"; }
        cat >>"$DIR/data/postgresql.conf" <<EOF

# paperfeed test cluster: loopback only, durability off (the data is disposable)
listen_addresses = '127.0.0.1'
port = ${PORT}
unix_socket_directories = '${DIR}'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF
    fi
    if ! as_server "$BINDIR/pg_ctl" -D "$DIR/data" -l "$DIR/postgres.log" -w -t 60 start >/dev/null; then
        tail -n 20 "$DIR/postgres.log" >&2 || true
        die "the server did not start (is port ${PORT} taken? set PAPERFEED_PG_PORT)"
    fi
    local tries=0
    [[ -x "$BINDIR/pg_isready" ]] || { url; return 0; }  # pg_ctl -w has waited already
    until "$BINDIR/pg_isready" -q -h 127.0.0.1 -p "$PORT" -d postgres -U "$SUPERUSER"; do
        tries=$((tries + 1))
        ((tries < 60)) || die "the server is not accepting connections on 127.0.0.1:${PORT}"
        sleep 0.5
    done
    url
}

stop() {
    [[ -d "$DIR" ]] || return 0
    if is_running; then
        as_server "$BINDIR/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null
    fi
}

cmd="${1:-}"
if [[ "$cmd" == bindir ]]; then
    find_bindir || die "no PostgreSQL server binaries (initdb, pg_ctl, postgres) found"
    exit 0
fi
[[ $# == 2 ]] || die "usage: $0 bindir | start DIR | stop DIR | url DIR"
DIR="$(realpath -m "$2")"
case "$cmd" in
    url) url ;;
    start|stop)
        BINDIR="$(find_bindir)" || die "no PostgreSQL server binaries (initdb, pg_ctl, postgres) found"
        USER_NAME="$(server_user)"
        "$cmd"
        ;;
    *) die "unknown command '$cmd' (expected bindir, start, stop or url)" ;;
esac
