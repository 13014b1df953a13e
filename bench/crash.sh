#!/usr/bin/env bash
# The kill -9 durability test with 20 rounds instead of the test suite's 5:
# concurrent RAM creates, CertCentral adds and certificate uploads, killed
# at a different moment each round, every acknowledged write checked after
# each restart (tests/it/binary.rs, acknowledged_writes_survive_kill_9).
#
#   bench/crash.sh            20 rounds
#   ROUNDS=50 bench/crash.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export SQLX_OFFLINE=true TRUSTDESK_CRASH_ROUNDS="${ROUNDS:-20}"
echo "==> kill -9 durability, $TRUSTDESK_CRASH_ROUNDS rounds" >&2
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run -p trustdesk --no-capture -E 'test(acknowledged_writes_survive_kill_9)'
else
  cargo test -p trustdesk --test it -- --nocapture acknowledged_writes_survive_kill_9
fi
