#!/usr/bin/env bash
# Scale run: one account with USERS users (default 1,000,000) and CERTS
# certificates (default 100,000), populated through the API by the load
# client (the same durable path as every write; there is no bulk loader),
# then measured: GetUser, ListUsers walking the Marker chain deep into the
# list (keyset pagination: the cost of a page must not grow with depth),
# DescribeUserCertificateList pages and detail, restart time, RSS and
# database size.
#
#   bench/scale.sh                         1M users, 100k certificates
#   USERS=200000 CERTS=20000 bench/scale.sh
#
# Writes bench/results/<UTC date-time>-scale.md and prints it.
set -euo pipefail
cd "$(dirname "$0")/.."
USERS="${USERS:-1000000}"
CERTS="${CERTS:-100000}"
DURATION="${DURATION:-10}"
# shellcheck source=bench/lib.sh
. bench/lib.sh
echo "==> building release binaries" >&2
SQLX_OFFLINE=true cargo build --release -q -p trustdesk -p trustdesk-loadgen
ROOT_ID=LTAI5tBenchScaleRootKey01
ROOT_SECRET=BenchScaleRootSecret012345678
export TRUSTDESK_LOADGEN_ACCESS_KEY_ID=$ROOT_ID TRUSTDESK_LOADGEN_ACCESS_KEY_SECRET=$ROOT_SECRET
work=$(mktemp -d)
port=$(free_port)
start() {
  local t0; t0=$(date +%s%N)
  TRUSTDESK_DATA_DIR="$work/data" TRUSTDESK_LISTEN="127.0.0.1:$port" TRUSTDESK_LOG=warn \
    TRUSTDESK_BOOTSTRAP_ACCESS_KEY_ID=$ROOT_ID TRUSTDESK_BOOTSTRAP_ACCESS_KEY_SECRET=$ROOT_SECRET \
    TRUSTDESK_MASTER_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8= TRUSTDESK_MAX_USERS_PER_ACCOUNT=100000000 \
    "${server_pin[@]}" target/release/trustdesk serve >>"$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 600); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.05; done
  startup_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
}
trap 'kill ${server:-0} 2>/dev/null || true; rm -rf "$work"' EXIT
lg() { "${load_pin[@]}" target/release/trustdesk-loadgen --endpoint "127.0.0.1:$port" "$@"; }
rss() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$server/status"; }

start
echo "==> populating $USERS users and $CERTS certificates" >&2
t0=$(date +%s)
lg --action create-user --user-name bench-existing --requests 1 >/dev/null 2>&1
lg --action populate --count "$((USERS - 1))" --concurrency 32 >/dev/null
t1=$(date +%s)
lg --action populate-certs --key-type p256 --count "$CERTS" --concurrency 16 >/dev/null
t2=$(date +%s)
rows=""
run() { # label args...
  local label=$1; shift
  local j
  j=$(lg --duration "$DURATION" --warmup 1 --json "$@" 2>/dev/null | tail -n 1)
  rows+=$(jq -r --arg l "$label" '"| \($l) | \(.rps | floor) | \(.p50_ms * 100 | floor / 100) | \(.p99_ms * 100 | floor / 100) | \(.errors) |"' <<<"$j")$'\n'
  echo "$label: $(jq -c '{rps, p50_ms, p99_ms, errors}' <<<"$j")" >&2
}
run "GetUser c=1" --action get-user --concurrency 1
run "GetUser c=32" --action get-user --concurrency 32
run "ListUsers MaxItems=100, first page, c=1" --action list-users --max-items 100 --concurrency 1
run "ListUsers MaxItems=100, walking every page (Marker chain), c=1" --action list-users --max-items 100 --deep --concurrency 1
run "ListUsers MaxItems=100, walking every page, c=16" --action list-users --max-items 100 --deep --concurrency 16
run "DescribeUserCertificateList ShowSize=100, first page, c=1" --action cert-list --show-size 100 --concurrency 1
run "DescribeUserCertificateList ShowSize=100, every page, c=1" --action cert-list --show-size 100 --deep --concurrency 1
run "DescribeUserCertificateDetail (random of $CERTS), c=16" --action cert-detail --cert-ids "$CERTS" --concurrency 16
rss_loaded=$(rss)
kill "$server"; wait "$server" 2>/dev/null || true
db_mb=$(du -sm "$work/data" | cut -f1)
start
restart_ms=$startup_ms
rss_fresh=$(rss)
run "GetUser c=32 right after restart" --action get-user --concurrency 32
stamp=$(date -u +%Y-%m-%dT%H-%M-%SZ)
mkdir -p bench/results
report="bench/results/$stamp-scale.md"
{
  echo "# Scale run ($stamp)"
  echo
  echo "- machine: $(nproc) vCPU, $(uname -r); release server on SQLite (WAL, synchronous=FULL)"
  if [ "$PIN" = 1 ]; then echo "- pinning: server on CPU 0, trustdesk-loadgen on CPU 1"; else echo "- pinning: none"; fi
  echo "- populated through the API (V1-signed CreateUser / CreateUserCertificate, every write durable): $USERS users in $((t1 - t0)) s, $CERTS P-256 certificates in $((t2 - t1)) s"
  echo "- each measured run ${DURATION} s after 1 s warm-up; the deep runs walk the whole list, so their pages come from every depth"
  echo
  echo "| run | req/s (pages/s) | p50 ms | p99 ms | errors |"
  echo "|---|---|---|---|---|"
  printf "%s" "$rows"
  echo
  echo "- database directory: $db_mb MiB"
  echo "- server RSS after the runs: $rss_loaded MiB; after a restart: $rss_fresh MiB"
  echo "- restart (process start to /readyz answering, $USERS users and $CERTS certificates on disk): $restart_ms ms"
} >"$report"
cat "$report"
