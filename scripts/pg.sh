# A throwaway PostgreSQL cluster for scripts (sourced, not run): Debian's
# initdb/pg_ctl on a free loopback port in a temp dir, as the `postgres`
# user when run as root (PostgreSQL refuses to run as root). The Rust tests
# use the same recipe from trustdesk_testkit::pg.
#
#   . scripts/pg.sh
#   pg_start [-c setting=value ...]   sets PG_URL (postgres://trustdesk@127.0.0.1:PORT/postgres)
#   pg_stop                           stops it and removes the directory
#
# pg_start installs an EXIT trap calling pg_stop; a script with its own
# EXIT trap should call pg_stop from it.

pg_bindir() {
  local d
  d="$(pg_config --bindir 2>/dev/null || true)"
  if [ ! -x "$d/initdb" ]; then d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"; fi
  if [ ! -x "$d/initdb" ] || [ ! -x "$d/pg_ctl" ]; then
    echo "PostgreSQL server binaries not found; install the Debian package postgresql" >&2
    return 2
  fi
  echo "$d"
}

pg_start() {
  PG_BINDIR="$(pg_bindir)" || return 2
  PG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/trustdesk-pg.XXXXXX")"
  PG_AS=()
  if [ "$(id -u)" = 0 ]; then
    chown postgres: "$PG_DIR"
    PG_AS=(runuser -u postgres --)
  fi
  PG_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  trap pg_stop EXIT
  if ! (
    cd "$PG_DIR"
    "${PG_AS[@]}" "$PG_BINDIR/initdb" -D "$PG_DIR/data" -U trustdesk --auth=trust -N -E UTF8 --locale=C >"$PG_DIR/initdb.log"
    "${PG_AS[@]}" "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -w -l "$PG_DIR/log" \
      -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 $*" start >/dev/null
  ); then
    echo "PostgreSQL did not start:" >&2
    cat "$PG_DIR/log" >&2 2>/dev/null || true
    return 2
  fi
  PG_URL="postgres://trustdesk@127.0.0.1:$PG_PORT/postgres"
  export PG_URL
}

# Creates database $1 and prints its URL.
pg_createdb() {
  (cd "$PG_DIR" && "$PG_BINDIR/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U trustdesk -d postgres -c "CREATE DATABASE $1") >&2
  echo "postgres://trustdesk@127.0.0.1:$PG_PORT/$1"
}

pg_stop() {
  [ -n "${PG_DIR:-}" ] || return 0
  (cd "$PG_DIR" && "${PG_AS[@]}" "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1) || true
  rm -rf "$PG_DIR"
  PG_DIR=
}
