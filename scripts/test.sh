#!/usr/bin/env bash
# Sets up and runs every test: unit tests (debug build) and the guest-level tests (ISA suite,
# differential runs against QEMU, firmware boots), which drive the release `backplane` binary.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
swift build -c release --product backplane
export BACKPLANE="$PWD/.build/release/backplane"
swift test "$@"
