#!/usr/bin/env bash
# trustdesk beside moto (the AWS IAM/ACM emulator), one command, one run,
# the same work on the same machine:
#   create user (fresh server), get user and list a page of 100 users at
#   10,000 users, upload/import a certificate.
# trustdesk is driven by its signing load client (real V1 signatures, fresh
# nonce per request, every write durable); moto by the shared peer driver
# (../shared/bench/peers/run_moto.sh: wrk with unsigned SigV4-shaped
# headers, moto checks none). Prints a table of req/s, p50, p99 and RSS for
# both with the ratio, and writes bench/results/<date>-compare.md.
#
#   bench/compare.sh                      10 s runs, c=1 and c=16
#   DURATION=5 USERS=2000 bench/compare.sh
#
# Needs wrk, GNU time, python3, openssl, curl, jq; moto is installed into
# ${MOTO_VENV:-target/moto-venv} (pinned moto 5.2.5) on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-10}"
USERS="${USERS:-10000}"
CERTS="${CERTS:-200}"
peers="${PEERS_DIR:-../shared/bench/peers}"
die() { echo "bench/compare.sh: $*" >&2; exit 1; }
[ -f "$peers/run_moto.sh" ] || die "the shared peer driver is not at $peers (set PEERS_DIR)"
for tool in wrk python3 openssl curl jq; do command -v "$tool" >/dev/null || die "needs $tool (apt-get install -y wrk time jq)"; done
type -P time >/dev/null || die "needs GNU time (apt-get install -y time)"
# shellcheck source=bench/lib.sh
. bench/lib.sh

echo "==> building release binaries" >&2
SQLX_OFFLINE=true cargo build --release -q -p trustdesk -p trustdesk-loadgen
work=$(mktemp -d)
trap 'kill ${server:-0} 2>/dev/null || true; rm -rf "$work"' EXIT
ROOT_ID=LTAI5tBenchCompareRoot01
ROOT_SECRET=BenchCompareRootSecret0123456
export TRUSTDESK_LOADGEN_ACCESS_KEY_ID=$ROOT_ID TRUSTDESK_LOADGEN_ACCESS_KEY_SECRET=$ROOT_SECRET

start() { # phase
  port=$(free_port)
  rm -rf "$work/data"
  TRUSTDESK_DATA_DIR="$work/data" TRUSTDESK_LISTEN="127.0.0.1:$port" TRUSTDESK_LOG=warn \
    TRUSTDESK_BOOTSTRAP_ACCESS_KEY_ID=$ROOT_ID TRUSTDESK_BOOTSTRAP_ACCESS_KEY_SECRET=$ROOT_SECRET \
    TRUSTDESK_MASTER_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8= TRUSTDESK_MAX_USERS_PER_ACCOUNT=10000000 \
    "${server_pin[@]}" target/release/trustdesk serve >"$work/server-$1.log" 2>&1 &
  server=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && return; sleep 0.1; done
  die "trustdesk did not start: $(cat "$work/server-$1.log")"
}
stop() { kill "$server"; wait "$server" 2>/dev/null || true; }
rss() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$server/status"; }
lg() { # label args... -> one JSON line in $work/ours.jsonl
  local label=$1; shift
  local out
  out=$("${load_pin[@]}" target/release/trustdesk-loadgen --endpoint "127.0.0.1:$port" --duration "$DURATION" --warmup 1 --json "$@" 2>/dev/null | tail -n 1)
  jq -c --arg l "$label" --arg rss "$(rss)" '{label: $l, rps: .rps, p50_ms: .p50_ms, p99_ms: .p99_ms, errors: .errors, loadgen_cpu_us: .loadgen_cpu_us_per_req, rss_mb: ($rss | tonumber)}' <<<"$out" | tee -a "$work/ours.jsonl" >&2
}

echo "==> trustdesk" >&2
start create
for c in 1 16; do lg "create_user_c$c" --action create-user --concurrency "$c" --name-prefix "cmp$c"; done
stop
start read
target/release/trustdesk-loadgen --endpoint "127.0.0.1:$port" --action create-user --user-name bench-existing --requests 1 >/dev/null 2>&1
target/release/trustdesk-loadgen --endpoint "127.0.0.1:$port" --action populate --count "$((USERS - 1))" --concurrency 16 >/dev/null 2>&1
for c in 1 16; do lg "get_user_c$c" --action get-user --concurrency "$c"; done
for c in 1 16; do lg "list_users_max100_c$c" --action list-users --max-items 100 --concurrency "$c"; done
stop
start import
target/release/trustdesk-loadgen --endpoint "127.0.0.1:$port" --action populate-certs --count "$CERTS" --concurrency 16 >/dev/null 2>&1
for c in 1 16; do lg "import_cert_c$c" --action upload-cert --key-type rsa2048 --concurrency "$c"; done
stop

echo "==> moto (shared driver)" >&2
moto_venv="${MOTO_VENV:-$PWD/target/moto-venv}"
OUT="$work/moto" WORK="$work/moto-work" MOTO_VENV="$moto_venv" PHASES="create read import" C_LIST="1 16" \
  N_USERS="$USERS" N_CERTS="$CERTS" DURATION="${DURATION}s" timeout 3600 bash "$peers/run_moto.sh" >"$work/moto.log" 2>&1 \
  || die "moto run failed: $(tail -n 5 "$work/moto.log")"
moto_version=$("$moto_venv/bin/pip" list 2>/dev/null | awk 'tolower($1)=="moto" {print $2}')

stamp=$(date -u +%Y-%m-%dT%H-%M-%SZ)
mkdir -p bench/results
report="bench/results/$stamp-compare.md"
python3 - "$work/ours.jsonl" "$work/moto/results.jsonl" "$moto_version" >"$work/table.md" <<'PY'
import json, sys
ours = {r["label"]: r for r in map(json.loads, open(sys.argv[1]))}
moto = {r["label"]: r for r in map(json.loads, open(sys.argv[2]))}
names = {"create_user": "create user", "get_user": "get user (10k users)",
         "list_users_max100": "list 100 users (10k users)", "import_cert": "upload certificate (RSA-2048)"}
print(f"| work | c | trustdesk req/s | p50 / p99 ms | RSS MB | moto {sys.argv[3]} req/s | p50 / p99 ms | RSS MB | ratio |")
print("|---|---|---|---|---|---|---|---|---|")
for key, name in names.items():
    for c in (1, 16):
        a, b = ours.get(f"{key}_c{c}"), moto.get(f"{key}_c{c}")
        if not a or not b:
            continue
        if b["rps"] > 0 and b["requests"] > 0:
            ratio = f"{a['rps'] / b['rps']:,.1f}x"
            theirs = f"{b['rps']:,.1f} | {b['p50_ms']:.2f} / {b['p99_ms']:.2f}"
        else:
            ratio = "moto finished no request in the run"
            theirs = "0 | —"
        print(f"| {name} | {c} | {a['rps']:,.0f} | {a['p50_ms']:.2f} / {a['p99_ms']:.2f} | {a['rss_mb']} "
              f"| {theirs} | {b['server_rss_mb_after']} | {ratio} |")
print()
print("Load generator CPU: trustdesk-loadgen " + ", ".join(f"{k} {v['loadgen_cpu_us']:.0f} µs/req" for k, v in ours.items() if v.get("loadgen_cpu_us") is not None)
      + "; wrk (moto side) " + ", ".join(f"{k} {v['wrk_cpu_s']} s" for k, v in moto.items() if k.rsplit('_c', 1)[0] in names) + ".")
PY
{
  echo "# trustdesk vs moto ($stamp)"
  echo
  echo "- machine: $(nproc) vCPU, $(uname -r)"
  if [ "$PIN" = 1 ]; then echo "- trustdesk pinned to CPU 0, its load client to CPU 1; moto not pinned (the shared driver's setup)"; else echo "- no pinning"; fi
  echo "- each run ${DURATION} s; trustdesk after 1 s warm-up; the read phase holds $USERS users, the import phase $CERTS certificates first"
  echo "- trustdesk: release build, SQLite synchronous=FULL (every 2xx durable), V1-signed requests with fresh nonces (trustdesk-loadgen); RAM CreateUser/GetUser/ListUsers MaxItems=100, CAS CreateUserCertificate (GET, PEM in the URL, every import check)"
  echo "- moto: \`moto_server\` $moto_version via ../shared/bench/peers/run_moto.sh (wrk, IAM CreateUser/GetUser/ListUsers MaxItems=100, ACM ImportCertificate; no signatures checked, in memory)"
  echo
  cat "$work/table.md"
} >"$report"
cat "$report"
