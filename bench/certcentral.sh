#!/usr/bin/env bash
# CertCentral face benchmark: add-user and list-users rates through wrk
# with the static X-DC-DEVKEY header (bench/wrk/*.lua), against a fresh
# release server on SQLite (synchronous=FULL: every 201 is on disk).
#
#   bench/certcentral.sh                 default: 10 s runs, pinned
#   DURATION=5 PIN=0 bench/certcentral.sh
#
# Writes bench/results/<UTC date-time>-certcentral.md and prints it.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-10}"
DEVKEY="bench-devkey-0123456789abcdef0123456789abcdef012"
export DEVKEY
die() { echo "bench/certcentral.sh: $*" >&2; exit 1; }
command -v wrk >/dev/null || die "needs wrk (apt-get install -y wrk)"
# shellcheck source=bench/lib.sh
. bench/lib.sh

echo "==> building the release binary" >&2
SQLX_OFFLINE=true cargo build --release -q -p trustdesk
bin="${TRUSTDESK_BIN:-target/release/trustdesk}"

work=$(mktemp -d)
port=$(free_port)
base="http://127.0.0.1:$port"
TRUSTDESK_DATA_DIR="$work/data" TRUSTDESK_LISTEN="127.0.0.1:$port" TRUSTDESK_LOG=warn \
  TRUSTDESK_BOOTSTRAP_API_KEY="$DEVKEY" TRUSTDESK_MAX_USERS_PER_ACCOUNT=10000000 \
  TRUSTDESK_MASTER_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8= \
  "${server_pin[@]}" "$bin" serve >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "$base/readyz" >/dev/null || die "server not ready: $(cat "$work/server.log")"

rows=""
# run <label> <connections> <script> [env...]
run() {
  local label=$1 c=$2 script=$3; shift 3
  local t=1; [ "$c" -ge 8 ] && t=1
  local out
  out=$(env "$@" "${load_pin[@]}" wrk -t"$t" -c"$c" -d"${DURATION}s" --latency -s "bench/wrk/$script" "$base" 2>&1)
  local rps p50 p99 non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out"); non2xx=${non2xx:-0}
  if grep -q "unexpected" <<<"$out"; then echo "$out" >&2; fi
  rows+="| $label | $c | $rps | $p50 | $p99 | $non2xx |"$'\n'
  echo "$label c=$c: $rps req/s p50 $p50 p99 $p99 non-2xx $non2xx" >&2
}

run "add user (POST /user)" 1 cc_add_user.lua
run "add user (POST /user)" 32 cc_add_user.lua
users=$(curl -s -H "X-DC-DEVKEY: $DEVKEY" "$base/services/v2/user?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["page"]["total"])')
run "user/me" 32 cc_get.lua CC_PATH=/services/v2/user/me
run "list users, first page of 100" 1 cc_get.lua "CC_PATH=/services/v2/user?limit=100"
run "list users, first page of 100" 32 cc_get.lua "CC_PATH=/services/v2/user?limit=100"
deep=$(( users > 200 ? users / 2 : 0 ))
run "list users, page of 100 at offset $deep" 1 cc_get.lua "CC_PATH=/services/v2/user?limit=100&offset=$deep"
run "list users, search contains" 1 cc_get.lua "CC_PATH=/services/v2/user?limit=100&filters%5Bsearch%5D=%25ld"
rss=$(awk '/VmRSS/ {print $2}' /proc/$server/status)
db=$(du -sk "$work/data" | cut -f1)

stamp=$(date -u +%Y-%m-%dT%H-%M-%SZ)
mkdir -p bench/results
report="bench/results/$stamp-certcentral.md"
{
  echo "# CertCentral face benchmark ($stamp)"
  echo
  echo "- machine: $(nproc) vCPU, $(uname -r); $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "- server: \`trustdesk serve\` (release), fresh SQLite data dir, WAL, synchronous=FULL, group commit"
  if [ "$PIN" = 1 ]; then echo "- pinning: server on CPU 0, wrk on CPU 1 (taskset)"; else echo "- pinning: none"; fi
  echo "- load: wrk -t1, ${DURATION} s per run, closed loop, keep-alive; X-DC-DEVKEY static header (bench/wrk/*.lua); add-user bodies have a unique username each (role Standard User, root container)"
  echo "- users in the account when the list runs started: $users"
  echo
  echo "| run | connections | req/s | p50 | p99 | non-2xx |"
  echo "|---|---|---|---|---|---|"
  printf "%s" "$rows"
  echo
  echo "Server RSS at the end: $(( rss / 1024 )) MiB; data directory $(( db / 1024 )) MiB."
} >"$report"
cat "$report"
