#!/usr/bin/env bash
# Sets up, builds Backplane (release) and boots the default board: Boards/virt.yaml with Debian's
# OpenSBI (fw_jump) handing over to Debian's U-Boot, on this terminal. Ctrl-A X quits.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
swift build -c release --product backplane
exec .build/release/backplane run virt "$@"
