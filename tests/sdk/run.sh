#!/usr/bin/env bash
# Official-SDK conformance suite: prepares a venv with the pinned Alibaba
# SDKs (reinstalled only when requirements.txt changes) and runs pytest
# against the real server binary (TRUSTDESK_BIN, default target/debug/trustdesk).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
venv="${SDK_VENV:-$root/target/sdk-venv}"
export TRUSTDESK_BIN="${TRUSTDESK_BIN:-$root/target/debug/trustdesk}"
if [ ! -x "$TRUSTDESK_BIN" ]; then
  echo "tests/sdk: server binary $TRUSTDESK_BIN not found (cargo build -p trustdesk)" >&2
  exit 2
fi
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "tests/sdk: preparing $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  echo "$want" > "$stamp"
fi
cd "$here"
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
