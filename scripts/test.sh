#!/usr/bin/env bash
# Sets up and runs every test: unit tests (debug build) and the guest-level tests (ISA suite,
# differential runs against QEMU, firmware boots), which drive the release `backplane` binary;
# then the fuzzers for a bounded time (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
swift build -c release --product backplane
export BACKPLANE="$PWD/.build/release/backplane"
swift test "$@"
# The fuzzers for a bounded time (about 90 s of fuzzing plus 2 to 3 minutes building them); FUZZ_SECONDS=0
# skips them, a larger value runs them longer (docs/reliability.md).
if [ "${FUZZ_SECONDS:-96}" -gt 0 ]; then scripts/fuzz.sh; fi
