#!/usr/bin/env bash
# Runs every fuzzer of the tree for a time budget (docs/reliability.md): the libFuzzer targets
# (Fuzz/run.sh), the guest-driven device fuzzer (scripts/fuzz-devices.py), the random-instruction
# differential (scripts/fuzz-insns.py, with QEMU) and the control and GDB sockets of a running
# machine (Fuzz/sockets.py). Each first replays the inputs that once failed.
#   FUZZ_SECONDS=96 scripts/fuzz.sh       (the default, as CI runs it from scripts/test.sh)
#   FUZZ_SECONDS=3600 scripts/fuzz.sh     (about an hour: a quarter each for devices and
#                                          instructions, a sixteenth for each libFuzzer target
#                                          and for the sockets)
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
# Seven libFuzzer targets at a sixteenth each, a quarter each for devices and instructions, and
# the rest for the sockets of a running machine (at least one machine, whatever the budget).
step Fuzz/run.sh $((TOTAL / 16))
step python3 scripts/fuzz-devices.py --seconds $((TOTAL / 4))
step python3 scripts/fuzz-insns.py --seconds $((TOTAL / 4)) --qemu
step python3 Fuzz/sockets.py --seconds $((TOTAL / 16)) --commands 200
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
