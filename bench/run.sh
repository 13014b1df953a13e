#!/usr/bin/env bash
# trustdesk benchmark: builds release binaries, starts a fresh server on a
# free loopback port, and measures CreateUser, GetUser and ListUsers with the
# signing load client. Writes a Markdown report to bench/results/<UTC>.md.
#
#   bench/run.sh                 default: 10 s per run, 100,000 users for ListUsers
#   DURATION=5 USERS=20000 bench/run.sh
#   PIN=0 bench/run.sh           do not pin server and load client to separate cores
#
# Bounded: every load run stops after DURATION seconds; populate stops at USERS.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-10}"
USERS="${USERS:-100000}"
PIN="${PIN:-1}"
command -v taskset >/dev/null 2>&1 || PIN=0

export SQLX_OFFLINE=true
cargo build --release -q -p trustdesk -p trustdesk-loadgen
SERVER=target/release/trustdesk
LOADGEN=target/release/trustdesk-loadgen

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
data=$(mktemp -d)
export TRUSTDESK_LOADGEN_ACCESS_KEY_ID=LTAI5tBenchRootKey000001
export TRUSTDESK_LOADGEN_ACCESS_KEY_SECRET=BenchRootSecret0123456789abcde
server_pin=() ; load_pin=()
if [ "$PIN" = 1 ]; then server_pin=(taskset -c 0); load_pin=(taskset -c 1); fi

start_ns=$(date +%s%N)
TRUSTDESK_LISTEN="127.0.0.1:$port" TRUSTDESK_DATA_DIR="$data" \
  TRUSTDESK_BOOTSTRAP_ACCESS_KEY_ID="$TRUSTDESK_LOADGEN_ACCESS_KEY_ID" \
  TRUSTDESK_BOOTSTRAP_ACCESS_KEY_SECRET="$TRUSTDESK_LOADGEN_ACCESS_KEY_SECRET" \
  TRUSTDESK_MAX_USERS_PER_ACCOUNT=10000000 TRUSTDESK_LOG=warn \
  "${server_pin[@]}" "$SERVER" serve > "$data/server.log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$data"' EXIT
until curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
  kill -0 $pid 2>/dev/null || { cat "$data/server.log"; exit 1; }
  sleep 0.02
done
startup_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))

cpu_ticks() { awk '{print $14+$15}' "/proc/$pid/stat"; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
hwm() { awk '/^VmHWM/ {print $2}' "/proc/$pid/status"; }

rows=()
# run <label> <loadgen args...>: one bounded run, one table row.
run() {
  local label=$1; shift
  local before after out
  before=$(cpu_ticks)
  out=$("${load_pin[@]}" "$LOADGEN" --endpoint "127.0.0.1:$port" --duration "$DURATION" --json "$@")
  after=$(cpu_ticks)
  echo "$out" | sed -n '1,3p' >&2
  local j; j=$(echo "$out" | tail -n 1)
  rows+=("$(python3 - "$label" "$j" "$before" "$after" "$(rss)" <<'PY'
import json, sys
label, j, before, after, rss = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
server_cpu = (after - before) / 100.0
# The CPU window includes the 1 s warm-up; requests sent then are not counted,
# so spread the CPU over the whole window's requests at the measured rate.
window = j["elapsed_s"] + 1.0
per_req = server_cpu * 1e6 / (j["rps"] * window) if j["rps"] else float("nan")
print(f"| {label} | {j['rps']:,.0f} | {j['p50_ms']:.2f} | {j['p99_ms']:.2f} | {j['max_ms']:.2f} | {j['errors']} | {server_cpu/window*100:.0f}% of a core ({per_req:.0f} µs/req) | {j['loadgen_cpu_s']/j['elapsed_s']*100:.0f}% of a core | {rss/1024:.1f} MiB |")
PY
)")
}

echo "== CreateUser" >&2
run "CreateUser c=32" --action create-user --concurrency 32 --name-prefix c32
run "CreateUser c=1" --action create-user --concurrency 1 --name-prefix c1
"${load_pin[@]}" "$LOADGEN" --endpoint "127.0.0.1:$port" --action create-user --requests 1 --concurrency 1 --warmup 0 --user-name bench-existing >/dev/null
echo "== GetUser" >&2
run "GetUser c=32" --action get-user --concurrency 32
run "GetUser c=1" --action get-user --concurrency 1
existing=$(python3 - "$data" <<'PY'
import sqlite3, sys
print(sqlite3.connect(f"{sys.argv[1]}/trustdesk.db").execute("select count(*) from users").fetchone()[0])
PY
)
need=$(( USERS > existing ? USERS - existing : 0 ))
echo "== populate $need users (to $USERS)" >&2
pop_start=$(date +%s%N)
"${load_pin[@]}" "$LOADGEN" --endpoint "127.0.0.1:$port" --action populate --count "$need" --concurrency 64 --name-prefix pop >/dev/null
pop_s=$(( ($(date +%s%N) - pop_start) / 1000000 ))
users_now=$(python3 - "$data" <<'PY'
import sqlite3, sys
print(sqlite3.connect(f"{sys.argv[1]}/trustdesk.db").execute("select count(*) from users").fetchone()[0])
PY
)
echo "== ListUsers at $users_now users" >&2
run "ListUsers MaxItems=100 c=32 (first page)" --action list-users --concurrency 32 --max-items 100
run "ListUsers MaxItems=100 c=32 (deep, Marker chain)" --action list-users --concurrency 32 --max-items 100 --deep
run "ListUsers MaxItems=100 c=8 (deep)" --action list-users --concurrency 8 --max-items 100 --deep
run "ListUsers MaxItems=100 c=1 (deep)" --action list-users --concurrency 1 --max-items 100 --deep
run "GetUser c=32 at $users_now users" --action get-user --concurrency 32

db_bytes=$(du -cb "$data"/trustdesk.db* | tail -n 1 | cut -f1)
final_rss=$(rss); final_hwm=$(hwm)
kill -TERM $pid; wait $pid || true
trap 'rm -rf "$data"' EXIT

stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p bench/results
report="bench/results/$stamp.md"
{
  echo "# trustdesk benchmark $stamp"
  echo
  echo "## Setup"
  echo
  echo "- commit: $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (with local changes)')"
  echo "- machine: $(nproc) vCPU, $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), kernel $(uname -r)"
  echo "- rustc: $(rustc --version)"
  echo "- server: release build, SQLite WAL synchronous=FULL (every 2xx is on disk), group commit; fresh data dir"
  echo "- load: trustdesk-loadgen, V1-signed POST requests (fresh nonce + timestamp each, as the old Python SDK sends RAM calls), closed loop, ${DURATION} s per run after 1 s warm-up"
  if [ "$PIN" = 1 ]; then echo "- pinning: server on CPU 0, load client on CPU 1 (taskset)"; else echo "- pinning: none (server and load client share both CPUs)"; fi
  echo "- startup (exec to /readyz 200, empty data dir): ${startup_ms} ms"
  echo "- users in the account during the ListUsers runs: ${users_now} (the CreateUser runs made ${existing}; populate added ${need} through the API at c=64 in ${pop_s} ms)"
  echo "- database size at the end: $(( db_bytes / 1024 / 1024 )) MiB (${db_bytes} bytes, db + wal)"
  echo "- server RSS at the end: $(( final_rss / 1024 )) MiB (peak $(( final_hwm / 1024 )) MiB)"
  echo
  echo "| run | req/s | p50 ms | p99 ms | max ms | errors | server CPU | load client CPU | server RSS |"
  echo "|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} > "$report"
cat "$report"
echo "report: $report" >&2
