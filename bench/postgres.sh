#!/usr/bin/env bash
# SQLite beside PostgreSQL with one node and with two nodes: CreateUser,
# GetUser and ListUsers (100 per page) through the signing load client, on
# fresh release servers. PostgreSQL is a throwaway cluster (scripts/pg.sh)
# with its durable defaults (fsync=on, synchronous_commit=on), so every 2xx
# is flushed on both backends.
#
# Two nodes: two `trustdesk serve` processes on one database, and two load
# clients running at the same time, each with half the concurrency against
# one node; req/s is their sum, p50 the mean and p99 the larger of the two.
#
#   bench/postgres.sh              10 s per run, c=32
#   DURATION=5 C=16 bench/postgres.sh
#
# No pinning: PostgreSQL, the nodes and the load clients share the
# machine's CPUs, and the report says how many there are. Loopback only;
# every run is bounded by DURATION. Writes
# bench/results/<UTC date-time>-postgres.md and prints it.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-10}"
C="${C:-32}"
# shellcheck source=bench/lib.sh
. bench/lib.sh
# shellcheck source=scripts/pg.sh
. scripts/pg.sh

echo "==> building release binaries" >&2
SQLX_OFFLINE=true cargo build --release -q -p trustdesk -p trustdesk-loadgen
ROOT_ID=LTAI5tBenchPgRootKey00001
ROOT_SECRET=BenchPgRootSecret0123456789ab
MASTER=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
work=$(mktemp -d)
servers=()
cleanup() {
  for p in "${servers[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  pg_stop
  rm -rf "$work"
}
pg_start -c max_connections=200 -c shared_buffers=256MB
trap cleanup EXIT

start_node() { # name database-url -> sets NODE_PORT (not in a subshell: servers must grow)
  local port
  port=$(free_port)
  mkdir -p "$work/$1"
  TRUSTDESK_DATA_DIR="$work/$1" TRUSTDESK_LISTEN="127.0.0.1:$port" TRUSTDESK_LOG=warn \
    TRUSTDESK_DATABASE_URL="$2" TRUSTDESK_DATABASE_MAX_CONNECTIONS=32 \
    TRUSTDESK_BOOTSTRAP_ACCESS_KEY_ID=$ROOT_ID TRUSTDESK_BOOTSTRAP_ACCESS_KEY_SECRET=$ROOT_SECRET \
    TRUSTDESK_MASTER_KEY=$MASTER TRUSTDESK_MAX_USERS_PER_ACCOUNT=10000000 \
    target/release/trustdesk serve >"$work/$1.log" 2>&1 &
  servers+=($!)
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { cat "$work/$1.log" >&2; exit 1; }
  NODE_PORT=$port
}

load() { # port concurrency action prefix [args...] -> one JSON line
  local port=$1 c=$2 action=$3 prefix=$4
  shift 4
  target/release/trustdesk-loadgen --endpoint "127.0.0.1:$port" --access-key-id "$ROOT_ID" \
    --access-key-secret "$ROOT_SECRET" --action "$action" --name-prefix "$prefix" \
    --concurrency "$c" --duration "$DURATION" --warmup 1 --json "$@" 2>/dev/null | tail -n 1
}

# Runs one action against the given ports at once (C split between them)
# and prints "rps p50 p99 errors".
measure() { # action prefix "port..." [args...]
  local action=$1 prefix=$2 ports=($3)
  shift 3
  local n=${#ports[@]} i=0 pids=()
  for p in "${ports[@]}"; do
    load "$p" $((C / n)) "$action" "$prefix$i" "$@" >"$work/out.$i" &
    pids+=($!)
    i=$((i + 1))
  done
  wait "${pids[@]}"
  jq -s -r '"\(map(.rps) | add | floor) \((map(.p50_ms) | add) / length * 100 | floor / 100) \(map(.p99_ms) | max * 100 | floor / 100) \(map(.errors) | add)"' "$work"/out.*
  rm -f "$work"/out.*
}

declare -A result
users_after=()
run_setup() { # label "port..." database-url-or-empty
  local label=$1 ports=$2
  echo "==> $label" >&2
  result[$label,create]=$(measure create-user "c$RANDOM-" "$ports")
  result[$label,get]=$(measure get-user "g-" "$ports" --user-name "$EXISTING")
  result[$label,list]=$(measure list-users "l-" "$ports" --max-items 100)
}

# The user every GetUser reads: worker 0's first name.
EXISTING=existing-0-00000001
create_existing() { # port
  target/release/trustdesk-loadgen --endpoint "127.0.0.1:$1" --access-key-id "$ROOT_ID" \
    --access-key-secret "$ROOT_SECRET" --action create-user --name-prefix existing \
    --concurrency 1 --requests 1 --warmup 0 --json >/dev/null 2>&1 || true
}

# SQLite, one node.
start_node sqlite "sqlite://$work/sqlite/trustdesk.db"; port=$NODE_PORT
create_existing "$port"
run_setup "SQLite, 1 node" "$port"
kill "${servers[-1]}"; wait "${servers[-1]}" 2>/dev/null || true

# PostgreSQL, one node.
url=$(pg_createdb one)
start_node pg1 "$url"; port=$NODE_PORT
create_existing "$port"
run_setup "PostgreSQL, 1 node" "$port"
kill "${servers[-1]}"; wait "${servers[-1]}" 2>/dev/null || true

# PostgreSQL, two nodes on one database.
url=$(pg_createdb two)
start_node pg2a "$url"; a=$NODE_PORT
start_node pg2b "$url"; b=$NODE_PORT
create_existing "$a"
run_setup "PostgreSQL, 2 nodes" "$a $b"

users_two=$(psql -X -tA "$url" -c "SELECT count(*) FROM users")
stamp=$(date -u +%Y-%m-%dT%H-%M-%SZ)
mkdir -p bench/results
report="bench/results/$stamp-postgres.md"
{
  echo "# SQLite vs PostgreSQL, one and two nodes ($stamp)"
  echo
  echo "- machine: $(nproc) vCPU, $(free -g | awk '/Mem:/{print $2}') GiB; no pinning (PostgreSQL, nodes and load clients share the CPUs)"
  echo "- PostgreSQL $("$PG_BINDIR/postgres" --version | awk '{print $3}'), throwaway cluster on loopback, fsync=on, synchronous_commit=on, shared_buffers=256MB; each node's pool 32 connections"
  echo "- SQLite: WAL, synchronous=FULL, the embedded default"
  echo "- trustdesk-loadgen, V1-signed with a fresh nonce per request (each one a durable nonce insert), c=$C in total, ${DURATION} s after 1 s warm-up per run; with two nodes two clients run at once, c=$((C / 2)) each, one per node"
  echo "- order per setup: CreateUser (distinct names), GetUser (one user), ListUsers MaxItems=100 (first page; the account then holds the users just created: $users_two after the two-node run)"
  echo
  echo "| setup | call | req/s | p50 ms | p99 ms | errors |"
  echo "|---|---|---|---|---|---|"
  for label in "SQLite, 1 node" "PostgreSQL, 1 node" "PostgreSQL, 2 nodes"; do
    for call in create get list; do
      read -r rps p50 p99 errors <<<"${result[$label,$call]}"
      name=$(case $call in create) echo CreateUser ;; get) echo GetUser ;; list) echo ListUsers ;; esac)
      echo "| $label | $name | $rps | $p50 | $p99 | $errors |"
    done
  done
} >"$report"
cat "$report"
