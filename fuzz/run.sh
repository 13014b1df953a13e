#!/usr/bin/env bash
# Runs every fuzz target in fuzz_targets/ for FUZZ_SECONDS seconds each
# (default 60). The committed seeds in seeds/<target>/ are read; new inputs
# go to corpus/<target>/ (git-ignored), crashes to artifacts/<target>/.
# Extra libFuzzer flags can be passed in FUZZ_ARGS (e.g. "-jobs=2").
set -euo pipefail
cd "$(dirname "$0")"

FUZZ_SECONDS=${FUZZ_SECONDS:-60}

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

# cargo-fuzz passes -Z flags: nightly, or the bootstrap escape hatch on stable.
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  fuzz=(cargo +nightly fuzz)
else
  fuzz=(env RUSTC_BOOTSTRAP=1 cargo fuzz)
fi

status=0
for target_file in fuzz_targets/*.rs; do
  target=$(basename "$target_file" .rs)
  mkdir -p "corpus/$target"
  dirs=("corpus/$target")
  if [ -d "seeds/$target" ]; then
    dirs+=("seeds/$target")
  fi
  echo "== fuzzing $target for ${FUZZ_SECONDS}s"
  # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
  if ! "${fuzz[@]}" run "$target" "${dirs[@]}" -- \
      -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 ${FUZZ_ARGS:-}; then
    echo "!! $target failed; see artifacts/$target/" >&2
    status=1
  fi
done
exit $status
