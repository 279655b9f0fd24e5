#!/bin/sh
# Builds the benchmark workloads: bench/build.sh OUTDIR -> OUTDIR/WORKLOAD.elf for every workload
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:?usage: bench/build.sh OUTDIR}
CC=${RISCV_CC:-riscv64-unknown-elf-gcc}
mkdir -p "$OUT"
for w in int mem fp trap mmio tlb coremark list matrix switch recurse straddle; do
    if [ ! -f "$OUT/$w.elf" ] || [ -n "$(find "$HERE/workloads" -newer "$OUT/$w.elf" -type f)" ]; then
        "$CC" -O2 -march=rv64gc -mabi=lp64d -mcmodel=medany -ffreestanding -nostdlib -nostartfiles \
            -fno-tree-loop-distribute-patterns -fno-math-errno -static -Wl,--no-warn-rwx-segments \
            -T "$HERE/../Guests/isa/link.ld" "$HERE/workloads/crt0.S" "$HERE/workloads/$w.c" \
            "$HERE/workloads/libc.c" -lgcc -o "$OUT/$w.elf"
    fi
done
