#!/bin/sh
# Boot-to-poweroff wall time of the Linux guest on qemu-system-riscv64 and on Backplane (interpreter
# and JIT), same kernel and initramfs, `virt` board (PLIC, no disk), as medians of RUNS boots:
#   Guests/linux/bench.sh [HARTS] [RUNS]        BACKPLANE=path overrides .build/release/backplane
# Prints one line per engine with its median and its ratio to QEMU's. Every run must reach
# `BP: done` and exit 0, or the script stops with the run's console tail.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HARTS=${1:-1}
RUNS=${2:-5}
BACKPLANE=${BACKPLANE:-$ROOT/.build/release/backplane}
[ -x "$BACKPLANE" ] || { echo "bench: no backplane at $BACKPLANE (swift build -c release --product backplane)" >&2; exit 2; }
{ read -r IMAGE; read -r INITRD; } <<EOF
$("$ROOT/scripts/build-linux.sh")
EOF
APPEND="console=ttyS0 earlycon"
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT

# Prints the median wall time in seconds of RUNS runs of the command given as arguments.
median_seconds() {
    i=0
    while [ $i -lt "$RUNS" ]; do
        start=$(date +%s.%N)
        status=0
        "$@" </dev/null >"$LOG" 2>&1 || status=$?
        end=$(date +%s.%N)
        if [ $status -ne 0 ] || ! grep -q "BP: done" "$LOG"; then
            echo "bench: run failed (exit $status): $*" >&2
            tail -20 "$LOG" >&2
            exit 1
        fi
        echo "$end - $start" | bc
        i=$((i + 1))
    done | sort -n | awk '{ t[NR] = $1 } END { printf "%.3f\n", t[int((NR + 1) / 2)] }'
}

qemu=$(median_seconds qemu-system-riscv64 -M virt -smp "$HARTS" -m 256M -nographic \
    -bios /usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin \
    -kernel "$IMAGE" -initrd "$INITRD" -append "$APPEND")
echo "linux boot, virt (PLIC), $HARTS hart(s), median of $RUNS:"
echo "  qemu-system-riscv64  $qemu s"
for accel in interp jit; do
    t=$(median_seconds "$BACKPLANE" run virt --accel "$accel" --kernel "$IMAGE" --initrd "$INITRD" \
        --append "$APPEND" --memory 256M --smp "$HARTS" --serial stdio --timeout 300)
    echo "  backplane --accel $accel  $t s  ($(echo "scale=2; $t / $qemu" | bc) x qemu)"
done
