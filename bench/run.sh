#!/usr/bin/env bash
# trustdesk benchmark: builds release binaries, starts a fresh server in a
# temporary data dir on a free loopback port, and measures CreateUser, GetUser
# and ListUsers (phase set "users") and CAS certificate uploads, detail and
# list (phase set "cas") with the signing load client (tools/loadgen), and
# on request (phase set "cc", not in the default) the CertCentral face's add
# user, user/me and list users with the same client and its static
# X-DC-DEVKEY; optionally moto's ACM ImportCertificate on the same machine
# for the side-by-side figure (PEER=moto). Writes a Markdown report to
# bench/results/<UTC date-time>.md and prints it. See bench/README.md.
#
#   bench/run.sh                       10 s per run, ListUsers at 100,000 users
#   DURATION=5 USERS=20000 bench/run.sh
#   PHASES=cas CERTS=100000 PEER=moto bench/run.sh
#   PHASES=cc bench/run.sh             the CertCentral face only
#   PIN=0 bench/run.sh                 no taskset pinning (server and client share both CPUs)
#
# Loopback only. Bounded: every load run stops after WARMUP+DURATION seconds
# (and is killed by `timeout` shortly after), populate stops at USERS or after
# POPULATE_CAP seconds; with the defaults the measuring part takes ~2-4 minutes
# after the build. The server is stopped with SIGTERM on every exit.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-10}"          # measured seconds per run
WARMUP="${WARMUP:-1}"               # unrecorded seconds before each run
USERS="${USERS:-100000}"            # users in the account for the ListUsers phase
PHASES="${PHASES:-users cas}"       # which phase sets to run: users, cas, cc (CertCentral)
CERTS="${CERTS:-100000}"            # certificates in the account for the detail/list runs
PEER="${PEER:-}"                    # "moto": also run moto's ACM ImportCertificate (shared driver)
PEER_CERTS="${PEER_CERTS:-200}"     # certificates moto imports before its measured runs
POPULATE_CONCURRENCY="${POPULATE_CONCURRENCY:-32}"
POPULATE_CAP="${POPULATE_CAP:-240}" # seconds populate may take at most
READY_TIMEOUT="${READY_TIMEOUT:-30}"
BUILD_TIMEOUT="${BUILD_TIMEOUT:-1800}"
if [ -z "${PIN:-}" ]; then
  if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then PIN=1; else PIN=0; fi
fi

die() { echo "bench/run.sh: $*" >&2; exit 1; }
for tool in curl jq awk; do command -v "$tool" >/dev/null 2>&1 || die "needs $tool"; done
peers="$(cd "$(dirname "$0")/../.." && pwd)/shared/bench/peers"
if [ "$PEER" = moto ]; then
  [ -f "$peers/run_moto.sh" ] || die "PEER=moto needs the shared peer driver at $peers/run_moto.sh"
  for tool in wrk python3 openssl; do command -v "$tool" >/dev/null 2>&1 || die "PEER=moto needs $tool (apt-get install -y wrk time)"; done
  type -P time >/dev/null || die "PEER=moto needs GNU time (apt-get install -y time)"
elif [ -n "$PEER" ]; then
  die "PEER must be empty or moto"
fi
if [ "$PIN" = 1 ]; then
  command -v taskset >/dev/null 2>&1 || die "PIN=1 needs taskset"
  [ "$(nproc)" -ge 2 ] || die "PIN=1 needs 2 CPUs"
fi

echo "== building release binaries (cargo build --release -p trustdesk -p trustdesk-loadgen)" >&2
SQLX_OFFLINE=true timeout "$BUILD_TIMEOUT" cargo build --release -q -p trustdesk -p trustdesk-loadgen
SERVER=target/release/trustdesk
LOADGEN=target/release/trustdesk-loadgen

# A free loopback port: bind port 0 and read what the kernel chose.
free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
  else
    local p
    while :; do
      p=$((20000 + RANDOM % 40000))
      (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
  fi
}
port=$(free_port)
endpoint="127.0.0.1:$port"
work=$(mktemp -d "${TMPDIR:-/tmp}/trustdesk-bench.XXXXXX")
data="$work/data"
log="$work/server.log"
mkdir -p "$data"

export TRUSTDESK_LOADGEN_ACCESS_KEY_ID=LTAI5tBenchRootKey000001
export TRUSTDESK_LOADGEN_ACCESS_KEY_SECRET=BenchRootSecret0123456789abcde   # 30 alnum, bench only
export TRUSTDESK_DEVKEY=bench-devkey-0123456789abcdef0123456789abcdef012     # CertCentral X-DC-DEVKEY, bench only
has_phase() { [[ " $PHASES " == *" $1 "* ]]; }
# The bootstrap administrator's API key is set only for the cc phase set, so
# runs without it start the server exactly as before.
cc_env=()
if has_phase cc; then cc_env=(TRUSTDESK_BOOTSTRAP_API_KEY="$TRUSTDESK_DEVKEY"); fi
server_pin=(); load_pin=()
if [ "$PIN" = 1 ]; then server_pin=(taskset -c 0); load_pin=(taskset -c 1); fi

pid=""
stop_server() {
  [ -n "$pid" ] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { echo "server ignored SIGTERM for 10 s; SIGKILL" >&2; kill -KILL "$pid" 2>/dev/null || true; }
  fi
  wait "$pid" 2>/dev/null || true
  pid=""
}
cleanup() {
  local rc=$?
  stop_server
  if [ "$rc" -ne 0 ] && [ -s "$log" ]; then echo "--- server log (last 20 lines)" >&2; tail -n 20 "$log" >&2; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== starting the server on $endpoint (data dir $data)" >&2
start_ns=$(date +%s%N)
env TRUSTDESK_LISTEN="$endpoint" TRUSTDESK_DATA_DIR="$data" \
  TRUSTDESK_BOOTSTRAP_ACCESS_KEY_ID="$TRUSTDESK_LOADGEN_ACCESS_KEY_ID" \
  TRUSTDESK_BOOTSTRAP_ACCESS_KEY_SECRET="$TRUSTDESK_LOADGEN_ACCESS_KEY_SECRET" \
  TRUSTDESK_MAX_USERS_PER_ACCOUNT=2000000 TRUSTDESK_LOG_FORMAT=json RUST_LOG=warn "${cc_env[@]}" \
  "${server_pin[@]}" "$SERVER" serve >"$log" 2>&1 &
pid=$!
deadline=$(( $(date +%s) + READY_TIMEOUT ))
until curl -fs -o /dev/null --max-time 1 "http://$endpoint/readyz"; do
  kill -0 "$pid" 2>/dev/null || die "the server exited during startup"
  [ "$(date +%s)" -lt "$deadline" ] || die "no /readyz 200 within $READY_TIMEOUT s"
  sleep 0.005
done
startup_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
echo "   ready after $startup_ms ms" >&2

# Server accounting from /proc: CPU ticks (utime+stime, fields 14+15; fields
# counted after the ')' closing the command name), VmRSS / VmHWM in kB.
server_ticks() { sed 's/^.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}'; }
server_kb() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$pid/status"; }
mib() { awk -v kb="$1" 'BEGIN {printf "%.1f", kb / 1024}'; }
clk_tck=$(getconf CLK_TCK 2>/dev/null || echo 100)

report_body=""   # Markdown accumulated phase by phase
add() { report_body+="$*"$'\n'; }
error_notes=""
phase_rows=""
phase_ticks0=0

phase_begin() {
  echo "== $1" >&2
  add ""; add "## $1"; add ""
  phase_rows=""
  phase_ticks0=$(server_ticks)
}
phase_end() {
  local ticks rss hwm
  ticks=$(( $(server_ticks) - phase_ticks0 )); rss=$(server_kb VmRSS); hwm=$(server_kb VmHWM)
  if [ -n "$phase_rows" ]; then
    add "| run | req/s | p50 ms | p99 ms | max ms | requests | errors | server CPU | server µs/req | loadgen µs/req | server RSS after |"
    add "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    add "${phase_rows%$'\n'}"
    add ""
  fi
  add "After this phase: server RSS $(mib "$rss") MiB (VmHWM $(mib "$hwm") MiB); server CPU in the phase $(awk -v t="$ticks" -v h="$clk_tck" 'BEGIN {printf "%.2f", t / h}') s."
}

# load <label> <loadgen args...>: one bounded, measured run; one table row.
load() {
  local label=$1; shift
  local t0 t1 out json rc=0
  last_json='{"ok_total":0}'
  t0=$(server_ticks)
  out=$(timeout $(( ${DURATION%.*} + ${WARMUP%.*} + 60 )) "${load_pin[@]}" "$LOADGEN" \
        --endpoint "$endpoint" --duration "$DURATION" --warmup "$WARMUP" --requests 1000000000 --json "$@") || rc=$?
  t1=$(server_ticks)
  printf '%s\n' "$out" | sed '$d' | sed 's/^/   /' >&2
  json=$(printf '%s\n' "$out" | tail -n 1)
  if [ "$rc" -ne 0 ] || ! jq -e . >/dev/null 2>&1 <<<"$json"; then
    phase_rows+="| $label | failed (exit $rc) | | | | | | | | | |"$'\n'
    error_notes+="- $label: the load client failed (exit $rc)"$'\n'
    return 0
  fi
  local rss; rss=$(server_kb VmRSS)
  phase_rows+=$(jq -r --arg name "$label" --argjson ticks $(( t1 - t0 )) --argjson hz "$clk_tck" --argjson rss "$rss" '
      def f(d): if . == null then "n/a" else (. * pow(10; d) | round) / pow(10; d) | tostring end;
      ($ticks / $hz) as $cpu
      | "| \($name) | \(.rps | f(0)) | \(.p50_ms | f(3)) | \(.p99_ms | f(2)) | \(.max_ms | f(2)) | \(.requests) | \(.errors)"
        + " | \($cpu | f(2)) s (\(($cpu / .wall_s * 100) | f(0)) % of a core)"
        + " | \(if .sent_total > 0 then ($cpu * 1e6 / .sent_total | f(1)) else "n/a" end)"
        + " | \(.loadgen_cpu_us_per_req | f(1))"
        + " | \($rss / 1024 | f(1)) MiB |"' <<<"$json")$'\n'
  local errs; errs=$(jq -r '.error_classes | to_entries | map("\(.value) × \(.key)") | join("; ")' <<<"$json")
  [ -z "$errs" ] || error_notes+="- $label: $errs"$'\n'
  last_json=$json
}

created=0   # users in the account, counted from 2xx CreateUser answers (warm-up included)

if has_phase users; then
# ---------------------------------------------------------------- phase 1
phase_begin "Phase 1: CreateUser (new user per request, names <prefix>-<worker>-<seq>)"
load "CreateUser c=32" --action create-user --concurrency 32 --name-prefix c32
created=$(( created + $(jq .ok_total <<<"$last_json") ))
load "CreateUser c=1" --action create-user --concurrency 1 --name-prefix c1
created=$(( created + $(jq .ok_total <<<"$last_json") ))
phase_end

# ---------------------------------------------------------------- phase 2
phase_begin "Phase 2: GetUser of one existing user"
"${load_pin[@]}" timeout 30 "$LOADGEN" --endpoint "$endpoint" --action create-user \
  --user-name bench-existing --requests 1 --json >"$work/existing.out" || true
if [ "$(tail -n 1 "$work/existing.out" | jq -r .ok 2>/dev/null)" = 1 ]; then
  created=$(( created + 1 ))
else
  error_notes+="- creating bench-existing failed: $(grep -m1 '^sample error' "$work/existing.out" || echo '?')"$'\n'
fi
load "GetUser c=32" --action get-user --concurrency 32 --user-name bench-existing
load "GetUser c=1" --action get-user --concurrency 1 --user-name bench-existing
phase_end

# ---------------------------------------------------------------- phase 3
phase_begin "Phase 3: populate to $USERS users, then ListUsers (MaxItems=100)"
need=$(( USERS > created ? USERS - created : 0 ))
pop_note="no users added (the earlier phases created $created)"
if [ "$need" -gt 0 ]; then
  echo "   populate: $need users at c=$POPULATE_CONCURRENCY (the earlier phases created $created)" >&2
  pop_t0=$(server_ticks); pop_start=$(date +%s%N); rc=0
  timeout $(( POPULATE_CAP + 30 )) "${load_pin[@]}" "$LOADGEN" --endpoint "$endpoint" --action populate \
    --count "$need" --concurrency "$POPULATE_CONCURRENCY" --duration "$POPULATE_CAP" --name-prefix pop --json \
    >"$work/populate.out" || rc=$?
  pop_ms=$(( ($(date +%s%N) - pop_start) / 1000000 ))
  pop_cpu=$(awk -v t=$(( $(server_ticks) - pop_t0 )) -v h="$clk_tck" 'BEGIN {printf "%.2f", t / h}')
  pop_json=$(tail -n 1 "$work/populate.out")
  pop_ok=$(jq -r .ok <<<"$pop_json" 2>/dev/null || echo 0)
  created=$(( created + ${pop_ok:-0} ))
  pop_note="populate added $pop_ok of $need users in $(awk -v m="$pop_ms" 'BEGIN {printf "%.1f", m / 1000}') s (c=$POPULATE_CONCURRENCY, $(jq -r '.ok_rps | round' <<<"$pop_json" 2>/dev/null) users/s, p50 $(jq -r .p50_ms <<<"$pop_json" 2>/dev/null) ms, p99 $(jq -r .p99_ms <<<"$pop_json" 2>/dev/null) ms; server CPU $pop_cpu s)"
  [ "$rc" -eq 0 ] || error_notes+="- populate: exit $rc; $(jq -c .error_classes <<<"$pop_json" 2>/dev/null)"$'\n'
fi
add "Users in the account: $created (counted from 2xx CreateUser answers); $pop_note."
add ""
load "ListUsers first page c=32" --action list-users --concurrency 32 --max-items 100
load "ListUsers first page c=1" --action list-users --concurrency 1 --max-items 100
load "ListUsers deep (Marker chain) c=32" --action list-users --concurrency 32 --max-items 100 --deep
load "ListUsers deep (Marker chain) c=1" --action list-users --concurrency 1 --max-items 100 --deep
load "GetUser c=32 at $created users" --action get-user --concurrency 32 --user-name bench-existing
phase_end
fi

if has_phase cas; then
# ---------------------------------------------------------------- phase 4
phase_begin "Phase 4: CAS CreateUserCertificate (GET, certificate and key in the URL, a new Name per request)"
uploaded=0   # certificates in the account, from 2xx answers (warm-up included)
declare -A upload_json
for kt in rsa2048 p256; do
  for c in 16 1; do
    load "upload $kt c=$c" --action upload-cert --key-type "$kt" --concurrency "$c" --name-prefix "u$kt-c$c"
    uploaded=$(( uploaded + $(jq .ok_total <<<"$last_json") ))
    upload_json["$kt-$c"]=$last_json
  done
done
add "Every upload runs every import check (PEM, X.509 parse, key load with aws-lc-rs' consistency check, key/certificate match, validity) and seals the key (AES-256-GCM) before the durable insert."
phase_end

# ---------------------------------------------------------------- phase 5
phase_begin "Phase 5: populate to $CERTS certificates, then DescribeUserCertificateDetail and DescribeUserCertificateList"
need=$(( CERTS > uploaded ? CERTS - uploaded : 0 ))
pop_note="no certificates added (phase 4 uploaded $uploaded)"
if [ "$need" -gt 0 ]; then
  echo "   populate-certs: $need P-256 certificates at c=$POPULATE_CONCURRENCY (phase 4 uploaded $uploaded)" >&2
  pop_start=$(date +%s%N); rc=0
  timeout $(( POPULATE_CAP + 30 )) "${load_pin[@]}" "$LOADGEN" --endpoint "$endpoint" --action populate-certs \
    --key-type p256 --count "$need" --concurrency "$POPULATE_CONCURRENCY" --duration "$POPULATE_CAP" --name-prefix popc --json \
    >"$work/populate-certs.out" || rc=$?
  pop_ms=$(( ($(date +%s%N) - pop_start) / 1000000 ))
  pop_json=$(tail -n 1 "$work/populate-certs.out")
  pop_ok=$(jq -r .ok <<<"$pop_json" 2>/dev/null || echo 0)
  uploaded=$(( uploaded + ${pop_ok:-0} ))
  pop_note="populate-certs added $pop_ok of $need certificates through the API in $(awk -v m="$pop_ms" 'BEGIN {printf "%.1f", m / 1000}') s ($(jq -r '.ok_rps | round' <<<"$pop_json" 2>/dev/null) uploads/s at c=$POPULATE_CONCURRENCY)"
  [ "$rc" -eq 0 ] || error_notes+="- populate-certs: exit $rc; $(jq -c .error_classes <<<"$pop_json" 2>/dev/null)"$'\n'
fi
add "Certificates in the account: $uploaded (ids 1..$uploaded: a fresh server gives ids in upload order); $pop_note."
add ""
load "detail c=16 (random id of $uploaded)" --action cert-detail --cert-ids "$uploaded" --concurrency 16
load "detail c=1 (random id of $uploaded)" --action cert-detail --cert-ids "$uploaded" --concurrency 1
load "list ShowSize=100 first page c=16" --action cert-list --show-size 100 --concurrency 16
load "list ShowSize=100 first page c=1" --action cert-list --show-size 100 --concurrency 1
load "list ShowSize=100 every page (deep) c=16" --action cert-list --show-size 100 --concurrency 16 --deep
load "list ShowSize=100 every page (deep) c=1" --action cert-list --show-size 100 --concurrency 1 --deep
add "Every detail call discloses the private key and so writes an audit event durably before answering (plus the request's durable nonce)."
phase_end
fi

if has_phase cc; then
# ---------------------------------------------------------------- phase 6
phase_begin "Phase 6: CertCentral add user (POST /services/v2/user, X-DC-DEVKEY, a new username per request)"
cc_added=0   # users added here, from 201 answers (warm-up included)
load "cc add user c=1" --action cc-add-user --concurrency 1 --name-prefix cc1
cc_added=$(( cc_added + $(jq .ok_total <<<"$last_json") ))
load "cc add user c=32" --action cc-add-user --concurrency 32 --name-prefix cc32
cc_added=$(( cc_added + $(jq .ok_total <<<"$last_json") ))
add "Body: \`{\"username\":\"<prefix>-<worker>-<seq>\",\"first_name\":\"Load\",\"last_name\":\"User <seq>\",\"email\":\"<username>@example.test\",\"access_roles\":[{\"id\":5}]}\` (Standard User, root container); OK only with 201 \`{\"id\":N}\`. Users added: $cc_added."
phase_end

# ---------------------------------------------------------------- phase 7
cc_total=$(curl -fs --max-time 10 -H "X-DC-DEVKEY: $TRUSTDESK_DEVKEY" "http://$endpoint/services/v2/user?limit=1" \
  | jq -r '.page.total // empty' 2>/dev/null || true)
cc_total=${cc_total:-?}
phase_begin "Phase 7: CertCentral reads at $cc_total users: GET /services/v2/user/me and list users (limit=100)"
add "Users in the list (\`page.total\` before the runs): $cc_total: phase 6's $cc_added, the bootstrap administrator, and any RAM users of earlier phase sets (both faces list the account's one set of users)."
add ""
load "cc user/me c=32" --action cc-get-user --concurrency 32
load "cc list users first page c=1" --action cc-list-users --page-size 100 --concurrency 1
load "cc list users first page c=32" --action cc-list-users --page-size 100 --concurrency 32
load "cc list users every page (deep, offset += 100) c=1" --action cc-list-users --page-size 100 --deep --concurrency 1
add "The deep run walks offset 0, 100, ... up to \`page.total\` and starts again; it reached the last page $(jq -r '.list_ends // 0' <<<"$last_json") times (warm-up included). Offset paging: a page at offset O reads past O users first, so deep pages cost more than the first."
phase_end
fi

# ---------------------------------------------------------------- the end
db_bytes=$(du -sb "$data" | cut -f1)
db_files=$(cd "$data" && ls -l | awk 'NR > 1 {printf "%s%s %s B", sep, $NF, $5; sep = ", "}')
final_rss=$(server_kb VmRSS); final_hwm=$(server_kb VmHWM)
stop_t0=$(date +%s%N)
stop_server
stop_ms=$(( ($(date +%s%N) - stop_t0) / 1000000 ))
server_errors=$(grep -c '"level":"ERROR"' "$log" || true)

# ---------------------------------------------------------------- peer
peer_report=""
if [ "$PEER" = moto ]; then
  echo "== peer: moto ACM ImportCertificate ($peers/run_moto.sh, PHASES=import, $PEER_CERTS certificates first)" >&2
  moto_venv="${MOTO_VENV:-$PWD/target/moto-venv}"
  rc=0
  OUT="$work/moto" WORK="$work/moto-work" MOTO_VENV="$moto_venv" PHASES=import C_LIST="1 16" \
    N_CERTS="$PEER_CERTS" DURATION="${DURATION}s" timeout 1800 bash "$peers/run_moto.sh" >"$work/moto.log" 2>&1 || rc=$?
  sed 's/^/   /' "$work/moto.log" | tail -n 12 >&2
  if [ "$rc" -ne 0 ] || [ ! -s "$work/moto/results.jsonl" ]; then
    peer_report="moto run failed (exit $rc): $(tail -n 3 "$work/moto.log" | tr '\n' ' ')"
  else
    moto_version=$(grep -i '^moto ' "$work/moto/server-versions.txt" 2>/dev/null | awk '{print $2}')
    peer_report+="| run | trustdesk uploads/s | trustdesk p50 / p99 ms | moto $moto_version imports/s | moto p50 / p99 ms | ratio |"$'\n'
    peer_report+="|---|---:|---:|---:|---:|---:|"$'\n'
    for c in 1 16; do
      ours=${upload_json["rsa2048-$c"]:-}
      theirs=$(jq -c "select(.label == \"import_cert_c$c\")" "$work/moto/results.jsonl" | tail -n 1)
      [ -n "$ours" ] && [ -n "$theirs" ] || continue
      peer_report+=$(jq -rn --argjson a "$ours" --argjson b "$theirs" --arg c "$c" '
        def f(d): (. * pow(10; d) | round) / pow(10; d) | tostring;
        "| RSA-2048 upload c=\($c) | \($a.ok_rps | f(0)) | \($a.p50_ms | f(2)) / \($a.p99_ms | f(2)) | \($b.rps | f(1)) | \($b.p50_ms | f(1)) / \($b.p99_ms | f(1)) | **\(if $b.rps > 0 then ($a.ok_rps / $b.rps | f(0)) else "n/a" end)×** |"')$'\n'
    done
    peer_report+=$'\n'"moto: \`moto_server\` ($moto_version, venv $moto_venv) started by the shared driver on a free loopback port, not pinned; $PEER_CERTS certificates imported first; wrk (-t1 for c=1, -t2 for c=16) for ${DURATION} s per run sending ACM \`ImportCertificate\` (JSON 1.1, the same RSA-2048 self-signed certificate + PKCS#8 key every time, unsigned SigV4-shaped headers: moto checks no signature). trustdesk: the runs of phase 4 above (V1-signed GET with certificate and key in the URL, every import check, durable insert)."
    for c in 1 16; do
      line=$(jq -r "select(.label == \"import_cert_c$c\") | \"moto c=$c: server CPU \\(.server_cpu_s) s, wrk CPU \\(.wrk_cpu_s) s, RSS after \\(.server_rss_mb_after) MB, non-2xx \\(.non2xx)\"" "$work/moto/results.jsonl" | tail -n 1)
      [ -z "$line" ] || peer_report+=$'\n'"- $line"
    done
  fi
fi

stamp=$(date -u +%Y-%m-%dT%H-%M-%SZ)
mkdir -p bench/results
report="bench/results/$stamp.md"
{
  echo "# trustdesk benchmark, $stamp"
  echo
  echo "## Setup"
  echo
  echo "- machine: $(nproc) vCPU, $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM; kernel $(uname -r)"
  echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes')"
  echo "- rustc: $(rustc --version)"
  echo "- server: \`target/release/trustdesk serve\`, fresh data dir, \`TRUSTDESK_MAX_USERS_PER_ACCOUNT=2000000\`$(if has_phase cc; then echo ", \`TRUSTDESK_BOOTSTRAP_API_KEY\` set to the bench key (phase set cc)"; fi), JSON logs at warn"
  echo "- phases: $PHASES"
  echo "- load: \`trustdesk-loadgen\` (1 runtime thread): V1-signed requests as the old Python SDK sends them (POST for RAM, GET with every parameter in the URL for CAS; fresh nonce + timestamp each)$(if has_phase cc; then echo "; CertCentral (phase set cc): unsigned, the static \`X-DC-DEVKEY\` header, compact JSON body on POST"; fi), closed loop, one keep-alive connection per worker, ${WARMUP} s warm-up (not recorded) then ${DURATION} s measured per run; latencies exact (every one kept)"
  if [ "$PIN" = 1 ]; then echo "- pinning: server on CPU 0, load client on CPU 1 (taskset)"; else echo "- pinning: none (server and load client share the CPUs)"; fi
  echo "- startup (exec until \`/readyz\` 200, empty data dir): **${startup_ms} ms**; shutdown after SIGTERM: ${stop_ms} ms"
  echo "- data dir at the end: **$(awk -v b="$db_bytes" 'BEGIN {printf "%.1f", b / 1048576}') MiB** ($db_bytes B: $db_files)"
  echo "- server memory at the end: RSS $(mib "$final_rss") MiB, peak (VmHWM) $(mib "$final_hwm") MiB"
  echo "- server CPU = utime+stime from \`/proc/<pid>/stat\` over the whole load-client run, warm-up included, so server µs/req divides by warm-up + measured requests; loadgen µs/req is the client's own CPU in the measured window."
  printf '%s' "$report_body"
  echo
  if [ -n "$peer_report" ]; then
    echo "## Side by side: certificate upload against moto (same machine, one run)"
    echo
    printf '%s\n' "$peer_report"
    echo
  fi
  echo "## Errors"
  echo
  if [ -n "$error_notes" ]; then printf '%s' "$error_notes"; else echo "None: every measured request got a 2xx."; fi
  echo "- server log: $server_errors ERROR lines"
} >"$report"
cat "$report"
echo "report: $report" >&2
