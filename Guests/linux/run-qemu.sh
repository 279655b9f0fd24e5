#!/bin/sh
# Boots the Linux guest (scripts/build-linux.sh) on qemu-system-riscv64, the reference the Backplane
# runs are compared with, and prints the boot-to-poweroff wall time on stderr.
#   Guests/linux/run-qemu.sh [plic|aia] [HARTS] [DISK.img|none]
# plic: `-M virt` (PLIC; PCI interrupts are INTx). aia: `-M virt,aia=aplic-imsic` (APLIC in MSI mode +
# IMSIC; PCI functions use MSI-X). With a DISK, a virtio-blk-pci disk at 00:02.0 backed by that file.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
IRQ=${1:-plic}
HARTS=${2:-2}
DISK=${3:-none}
case "$IRQ" in
    plic) MACHINE=virt ;;
    aia) MACHINE=virt,aia=aplic-imsic ;;
    *) echo "run-qemu: unknown interrupt controller '$IRQ' (plic or aia)" >&2; exit 2 ;;
esac
{ read -r IMAGE; read -r INITRD; } <<EOF
$("$ROOT/scripts/build-linux.sh")
EOF
set -- -M "$MACHINE" -smp "$HARTS" -m 256M -nographic \
    -bios /usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin \
    -kernel "$IMAGE" -initrd "$INITRD" -append "console=ttyS0 earlycon"
if [ "$DISK" != none ]; then
    set -- "$@" -drive "file=$DISK,if=none,format=raw,id=d0" -device virtio-blk-pci,drive=d0,addr=02.0
fi
start=$(date +%s.%N)
status=0
qemu-system-riscv64 "$@" </dev/null || status=$?
end=$(date +%s.%N)
echo "run-qemu: $IRQ, $HARTS hart(s): exit $status after $(echo "$end - $start" | bc) s" >&2
exit "$status"
