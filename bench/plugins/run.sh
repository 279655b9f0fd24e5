#!/bin/sh
# Plugin MMIO cost: one guest run reads the ID register of the built-in `edu` and of the
# plugin `acme.edu` (Plugins/examples/acme_edu) and prints ticks per round and the ratio.
#   bench/plugins/run.sh [BACKPLANE]   (default .build/release/backplane)
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BACKPLANE=${1:-$ROOT/.build/release/backplane}
OUT=$ROOT/.build/bench-plugins
mkdir -p "$OUT"
cc -std=c11 -O2 -shared -fPIC -I "$ROOT/Plugins/include" "$ROOT/Plugins/examples/acme_edu/acme_edu.c" -o "$OUT/libacme_edu.so"
riscv64-unknown-elf-gcc -march=rv64gc -mabi=lp64d -mcmodel=medany -O2 -ffreestanding -fno-builtin -nostdlib \
    -nostartfiles -static -Wl,--no-warn-rwx-segments -T "$ROOT/Guests/isa/link.ld" \
    "$ROOT/Guests/plugins/start.S" "$ROOT/bench/plugins/mmio_read.c" -o "$OUT/mmio_read.elf"
"$BACKPLANE" run virt --bios none --plugin "$OUT/libacme_edu.so" \
    --device edu,at=pcie0/02.0 --device acme.edu,at=pcie0/03.0 \
    --kernel "$OUT/mmio_read.elf" --timeout 120
