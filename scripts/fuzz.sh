#!/usr/bin/env bash
# Runs every fuzzer of the tree for a time budget (docs/reliability.md): the libFuzzer targets
# (Fuzz/run.sh), the guest-driven device fuzzer (scripts/fuzz-devices.py) and the random-instruction
# differential (scripts/fuzz-insns.py, with QEMU). Each first replays the inputs that once failed.
#   FUZZ_SECONDS=96 scripts/fuzz.sh       (the default, as CI runs it from scripts/test.sh)
#   FUZZ_SECONDS=3600 scripts/fuzz.sh     (about an hour: a quarter each for devices and
#                                          instructions, a twelfth for each libFuzzer target)
set -uo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null || source scripts/setup.sh >/dev/null
TOTAL=${FUZZ_SECONDS:-96}
export BACKPLANE=${BACKPLANE:-$PWD/.build/release/backplane}
[ -x "$BACKPLANE" ] || swift build -c release --product backplane
passed=0 failed=0
step() {
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "fuzz: FAILED: $*"; fi
}
step Fuzz/run.sh $((TOTAL / 12))
step python3 scripts/fuzz-devices.py --seconds $((TOTAL / 4))
step python3 scripts/fuzz-insns.py --seconds $((TOTAL / 4)) --qemu
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
