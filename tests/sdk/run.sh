#!/usr/bin/env bash
# Official-SDK conformance suite.
#
#   bash tests/sdk/run.sh [--postgres] [pytest args...]   (from the repo root, or anywhere)
#
# --postgres runs the server on a throwaway PostgreSQL cluster (Debian's
# initdb/pg_ctl, on a free loopback port in a temp dir, as the `postgres`
# user when run as root; stopped and removed on exit) instead of SQLite.
#
# Prepares a venv with the pinned Alibaba SDKs at ${SDK_VENV:-target/sdk-venv}
# (relative to the repo root; reinstalled only when requirements.txt or the
# old CAS SDK's pin below changes)
# and runs pytest against the real server binary
# ${TRUSTDESK_BIN:-target/debug/trustdesk} (build it with `cargo build -p trustdesk`).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

bin="${TRUSTDESK_BIN:-target/debug/trustdesk}"
if [ ! -x "$bin" ]; then
  echo "tests/sdk: server binary '$bin' not found or not executable." >&2
  echo "tests/sdk: build it with 'cargo build -p trustdesk' or point TRUSTDESK_BIN at one." >&2
  exit 2
fi
TRUSTDESK_BIN="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
export TRUSTDESK_BIN

venv="${SDK_VENV:-target/sdk-venv}"
requirements="$here/requirements.txt"
# The old CAS SDK is a source distribution that only builds with the
# setuptools pinned in requirements.txt (reference aliyun-rpc.md, appendix
# "installing the official SDKs"): installed on its own, after the rest.
old_cas="aliyun-python-sdk-cas==20180713.post114"
stamp="$venv/.requirements.sha256"
want="$({ cat "$requirements"; echo "--no-deps --no-build-isolation $old_cas"; } | sha256sum | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  echo "tests/sdk: installing pinned SDKs into $venv" >&2
  python3 -m venv "$venv"
  pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
  "${pip[@]}" -r "$requirements"
  "${pip[@]}" --no-deps --no-build-isolation "$old_cas"
  echo "$want" >"$stamp"
fi

if [ "${1:-}" = "--postgres" ]; then
  shift
  # shellcheck source=scripts/pg.sh
  . "$root/scripts/pg.sh"
  pg_start -c fsync=off -c synchronous_commit=off -c full_page_writes=off || exit 2
  export TRUSTDESK_SDK_DATABASE_URL="$PG_URL"
  echo "tests/sdk: server on PostgreSQL at 127.0.0.1:$PG_PORT" >&2
  "$venv/bin/python" -m pytest tests/sdk -q -p no:cacheprovider "$@"
  exit $?
fi

exec "$venv/bin/python" -m pytest tests/sdk -q -p no:cacheprovider "$@"
