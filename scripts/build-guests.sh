#!/bin/sh
# Builds Backplane's guest test programs with Debian's riscv64-unknown-elf toolchain.
#   scripts/build-guests.sh OUTDIR [isa|bench|all]
# ISA tests: Guests/isa/*.S -> OUTDIR/isa/<name>.elf. Rebuilds only what changed (make-style mtime
# check), two compilers at a time at most (the build machine is shared).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:?usage: build-guests.sh OUTDIR [isa|bench|all]}
WHAT=${2:-isa}
CC=${RISCV_CC:-riscv64-unknown-elf-gcc}
command -v "$CC" >/dev/null || { echo "build-guests: $CC not found (apt-get install gcc-riscv64-unknown-elf)" >&2; exit 2; }

build_isa() {
    mkdir -p "$OUT/isa"
    ls "$ROOT"/Guests/isa/*.S | while read -r src; do
        name=$(basename "$src" .S)
        elf="$OUT/isa/$name.elf"
        if [ ! -f "$elf" ] || [ "$src" -nt "$elf" ] || [ "$ROOT/Guests/isa/test.h" -nt "$elf" ] || [ "$ROOT/Guests/isa/link.ld" -nt "$elf" ]; then
            echo "$src"
        fi
    done | xargs -r -P 2 -I{} sh -c '
        src={}; name=$(basename "$src" .S)
        '"$CC"' -march=rv64gc -mabi=lp64d -nostdlib -nostartfiles -static -Wl,--no-warn-rwx-segments \
            -I"'"$ROOT"'/Guests/isa" -T "'"$ROOT"'/Guests/isa/link.ld" "$src" -o "'"$OUT"'/isa/$name.elf.tmp" &&
        mv "'"$OUT"'/isa/$name.elf.tmp" "'"$OUT"'/isa/$name.elf"'
}

build_bench() {
    sh "$ROOT/bench/build.sh" "$OUT/bench"
}

case "$WHAT" in
    isa) build_isa ;;
    bench) build_bench ;;
    all) build_isa; build_bench ;;
    *) echo "build-guests: unknown set '$WHAT'" >&2; exit 2 ;;
esac
