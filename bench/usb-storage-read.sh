#!/bin/sh
# Sequential read throughput of a USB mass-storage disk inside the Linux guest (Guests/linux/), on
# Backplane's xHCI + usb-storage (Guests/linux/boards/virt-usb.yaml, the disk at SuperSpeed on a USB 3
# port) and on QEMU's qemu-xhci + usb-storage (same kernel, initramfs and image size):
#   bench/usb-storage-read.sh [MIB] [RUNS]     BACKPLANE=path overrides .build/release/backplane,
#                                               ACCEL=interp|jit picks Backplane's CPU (default interp)
# init reads /dev/sda whole with O_DIRECT in 1 MiB requests (bp.readbench=sda) and prints the bytes
# and guest nanoseconds; this prints the median MB/s of each engine and Backplane's ratio to QEMU.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MIB=${1:-64}
RUNS=${2:-3}
ACCEL=${ACCEL:-interp}
BACKPLANE=${BACKPLANE:-$ROOT/.build/release/backplane}
[ -x "$BACKPLANE" ] || { echo "bench: no backplane at $BACKPLANE (swift build -c release --product backplane)" >&2; exit 2; }
{ read -r IMAGE; read -r INITRD; } <<EOF2
$("$ROOT/scripts/build-linux.sh")
EOF2
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
cp "$ROOT/Guests/linux/boards/virt-usb.yaml" "$DIR/"
head -c $((MIB << 20)) /dev/urandom > "$DIR/usb-disk.img"
APPEND="console=ttyS0 earlycon usb-storage.delay_use=0 bp.usbdisk=1 bp.readbench=sda"

# Prints MB/s (10^6 bytes per guest second) of one run of the command given as arguments.
throughput() {
    status=0
    "$@" </dev/null >"$DIR/log" 2>&1 || status=$?
    line=$(grep -a "BP: bench sda bytes=" "$DIR/log" | tail -1)
    if [ $status -ne 0 ] || [ -z "$line" ]; then
        echo "bench: run failed (exit $status): $*" >&2
        tail -20 "$DIR/log" >&2
        exit 1
    fi
    echo "$line" | sed 's/.*bytes=\([0-9]*\) ns=\([0-9]*\).*/\1 \2/' | awk '{ printf "%.1f\n", $1 * 1000 / $2 }'
}

median() {
    sort -n | awk '{ t[NR] = $1 } END { printf "%.1f\n", t[int((NR + 1) / 2)] }'
}

i=0
while [ $i -lt "$RUNS" ]; do
    throughput env -C "$DIR" "$BACKPLANE" run virt-usb.yaml --kernel "$IMAGE" --initrd "$INITRD" \
        --append "$APPEND bp.usb=4" --memory 256M --accel "$ACCEL" --serial stdio --timeout 600
    i=$((i + 1))
done | median > "$DIR/backplane"
i=0
while [ $i -lt "$RUNS" ]; do
    throughput qemu-system-riscv64 -M virt -smp 1 -m 256M -nographic \
        -bios /usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin \
        -kernel "$IMAGE" -initrd "$INITRD" -append "$APPEND bp.usb=1" \
        -device qemu-xhci,id=xhci -drive "file=$DIR/usb-disk.img,if=none,format=raw,id=u0" \
        -device usb-storage,bus=xhci.0,drive=u0
    i=$((i + 1))
done | median > "$DIR/qemu"
backplane=$(cat "$DIR/backplane")
qemu=$(cat "$DIR/qemu")
echo "usb-storage sequential read, $MIB MiB, median of $RUNS:"
echo "  qemu      $qemu MB/s"
echo "  backplane $backplane MB/s (--accel $ACCEL)  ($(echo "scale=2; $backplane / $qemu" | bc) x QEMU)"
