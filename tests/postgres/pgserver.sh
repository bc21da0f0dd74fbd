# pgserver.sh - a private PostgreSQL server for a test (sourced by bash).
#
#   pg_start DIR   initdb in DIR/data as an unprivileged user, then the server
#                  on a Unix socket in DIR/sock only (no TCP: no port to
#                  collide with), port PGPORT_TEST (default 55432: the
#                  socket's name); sets PGURL (postgresql://lyncaudit@/lyncaudit?...)
#                  and PGSERVER_PID
#   pg_stop        stops the server by its PID (fast shutdown), waits for it
#   pg_kill        the same, for traps: never fails
#   pg_up          starts the stopped server again on the same folder
#   psqlq SQL      runs SQL in the test database, unaligned, no headers
#
# PG_FSYNC=on makes the server flush to disk as a real one does (tests: off).
#
# Needs root (to run the server as the user) or an unprivileged caller.
# Returns 77 from pg_start when PostgreSQL is not installed.

PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
PG_USER=${PG_USER:-nobody}
PGPORT_TEST=${PGPORT_TEST:-55432}
PGSERVER_PID=""

# as_pg CMD...: CMD as the server's user (root runs it through runuser).
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u "$PG_USER" -- "$@"; else "$@"; fi
}

pg_start() {
    local dir=$1
    [ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ] || return 77
    PG_DIR=$dir
    mkdir -p "$dir/data" "$dir/sock"
    chmod 755 "$dir"
    [ "$(id -u)" -eq 0 ] && chown "$PG_USER" "$dir/data" "$dir/sock"
    as_pg "$PG_BIN/initdb" -D "$dir/data" -U lyncaudit --auth=trust -E UTF8 --locale=C.UTF-8 \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; return 1; }
    PGURL="postgresql://lyncaudit@/lyncaudit?host=$dir/sock&port=$PGPORT_TEST"
    pg_up || return 1
    as_pg "$PG_BIN/psql" -X -q -h "$dir/sock" -p "$PGPORT_TEST" -U lyncaudit -d postgres \
        -c "CREATE DATABASE lyncaudit" >/dev/null || return 1
}

pg_up() {
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/data/server.log" -w -t 30 \
        -o "-p $PGPORT_TEST -k $PG_DIR/sock -c listen_addresses= -c fsync=${PG_FSYNC:-off} -c max_connections=40" \
        start >/dev/null || { tail -n 20 "$PG_DIR/data/server.log" >&2; return 1; }
    PGSERVER_PID=$(head -n 1 "$PG_DIR/data/postmaster.pid")
}

pg_stop() {
    [ -n "$PGSERVER_PID" ] || return 0
    kill -INT "$PGSERVER_PID" 2>/dev/null
    local i
    for i in $(seq 1 100); do
        kill -0 "$PGSERVER_PID" 2>/dev/null || { PGSERVER_PID=""; return 0; }
        sleep 0.1
    done
    kill -KILL "$PGSERVER_PID" 2>/dev/null
    PGSERVER_PID=""
}

pg_kill() {
    pg_stop || true
}

psqlq() {
    "$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 "$PGURL" -c "$1"
}
