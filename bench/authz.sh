#!/usr/bin/env bash
# What authorization costs end to end: GetUser under load signed by the
# root key (which bypasses policies) and by a RAM user's key whose rights
# come from policies (one attached custom policy of 10 statements, the
# allowing one last, plus a system policy through a group), on the same
# fresh release server. The difference is the evaluator plus the policy
# cache lookup per request.
#
#   bench/authz.sh                 10 s per run, c=32, pinned
#   DURATION=5 C=16 PIN=0 bench/authz.sh
#
# Writes bench/results/<UTC date-time>-authz.md and prints it.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-10}"
C="${C:-32}"
# shellcheck source=bench/lib.sh
. bench/lib.sh

echo "==> building release binaries" >&2
SQLX_OFFLINE=true cargo build --release -q -p trustdesk -p trustdesk-loadgen
ROOT_ID=LTAI5tBenchAuthzRootKey01
ROOT_SECRET=BenchAuthzRootSecret012345678
work=$(mktemp -d)
port=$(free_port)
TRUSTDESK_DATA_DIR="$work/data" TRUSTDESK_LISTEN="127.0.0.1:$port" TRUSTDESK_LOG=warn \
  TRUSTDESK_BOOTSTRAP_ACCESS_KEY_ID=$ROOT_ID TRUSTDESK_BOOTSTRAP_ACCESS_KEY_SECRET=$ROOT_SECRET \
  TRUSTDESK_MASTER_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8= \
  "${server_pin[@]}" target/release/trustdesk serve >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done

# Setup through signed RAM calls (V1, stdlib only). Prints the user's key.
user_key=$(python3 - "$port" "$ROOT_ID" "$ROOT_SECRET" <<'PY'
import base64, hashlib, hmac, json, sys, time, urllib.parse, urllib.request, uuid
port, kid, secret = sys.argv[1], sys.argv[2], sys.argv[3]
def call(action, **p):
    q = {"Action": action, "Version": "2015-05-01", "Format": "JSON", "AccessKeyId": kid,
         "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0", "SignatureNonce": uuid.uuid4().hex,
         "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **p}
    enc = lambda s: urllib.parse.quote(str(s), safe="-_.~")
    canon = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(q.items()))
    sts = "POST&%2F&" + enc(canon)
    q["Signature"] = base64.b64encode(hmac.new((secret + "&").encode(), sts.encode(), hashlib.sha1).digest()).decode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/?" + urllib.parse.urlencode(q), method="POST")
    with urllib.request.urlopen(req) as r:
        return json.load(r)
acct = None
call("CreateUser", UserName="bench-existing")
call("CreateUser", UserName="reader")
key = call("CreateAccessKey", UserName="reader")["AccessKey"]
stmts = [{"Effect": "Allow", "Action": ["ram:List*", f"ram:CreateGroup{i}"], "Resource": f"acs:ram:*:*:group/team-{i}-*"} for i in range(9)]
stmts.append({"Effect": "Allow", "Action": "ram:Get*", "Resource": "acs:ram:*:*:user/*"})
call("CreatePolicy", PolicyName="ReadUsers10", PolicyDocument=json.dumps({"Version": "1", "Statement": stmts}))
call("AttachPolicyToUser", PolicyType="Custom", PolicyName="ReadUsers10", UserName="reader")
call("CreateGroup", GroupName="readers")
call("AddUserToGroup", GroupName="readers", UserName="reader")
call("AttachPolicyToGroup", PolicyType="System", PolicyName="AliyunYundunCertReadOnlyAccess", GroupName="readers")
print(key["AccessKeyId"], key["AccessKeySecret"])
PY
)
read -r USER_ID USER_SECRET <<<"$user_key"

run() { # label key secret
  "${load_pin[@]}" target/release/trustdesk-loadgen --endpoint "127.0.0.1:$port" --access-key-id "$2" \
    --access-key-secret "$3" --action get-user --user-name bench-existing --concurrency "$C" \
    --duration "$DURATION" --warmup 1 --json 2>/dev/null | tail -n 1
}
run root "$ROOT_ID" "$ROOT_SECRET" >/dev/null   # warm-up run, not reported
root_json=$(run root "$ROOT_ID" "$ROOT_SECRET")
user_json=$(run user "$USER_ID" "$USER_SECRET")
root2_json=$(run root "$ROOT_ID" "$ROOT_SECRET")
user2_json=$(run user "$USER_ID" "$USER_SECRET")

stamp=$(date -u +%Y-%m-%dT%H-%M-%SZ)
mkdir -p bench/results
report="bench/results/$stamp-authz.md"
row() { jq -r --arg l "$1" '"| \($l) | \(.rps | floor) | \(.p50_ms * 100 | floor / 100) | \(.p99_ms * 100 | floor / 100) | \(.errors) |"' <<<"$2"; }
{
  echo "# Authorization cost on GetUser ($stamp)"
  echo
  echo "- machine: $(nproc) vCPU; release server on a fresh SQLite data dir (synchronous=FULL: every GetUser records its nonce durably)"
  if [ "$PIN" = 1 ]; then echo "- pinning: server on CPU 0, trustdesk-loadgen on CPU 1"; else echo "- pinning: none"; fi
  echo "- trustdesk-loadgen get-user, c=$C, ${DURATION} s after 1 s warm-up, V1-signed, fresh nonce per request; one unreported warm-up run, then runs alternate root, user, root, user"
  echo "- user key: RAM user \`reader\` with a custom policy of 10 statements (the allowing one last) attached, and a system policy through its group; every request is decided by the evaluator over both (cached per user, policy epoch re-checked each second)"
  echo
  echo "| signer | req/s | p50 ms | p99 ms | errors |"
  echo "|---|---|---|---|---|"
  row "root (1)" "$root_json"; row "RAM user (1)" "$user_json"; row "root (2)" "$root2_json"; row "RAM user (2)" "$user2_json"
} >"$report"
cat "$report"
