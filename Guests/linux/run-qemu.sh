#!/bin/sh
# Boots the Linux guest (scripts/build-linux.sh) on qemu-system-riscv64, the reference the Backplane
# runs are compared with, and prints the boot-to-poweroff wall time on stderr.
#   Guests/linux/run-qemu.sh [plic|aia] [HARTS] [DISK.img|none]
# plic: `-M virt` (PLIC; PCI interrupts are INTx). aia: `-M virt,aia=aplic-imsic` (APLIC in MSI mode +
# IMSIC; PCI functions use MSI-X). With a DISK, a modern-only virtio-blk-pci disk (1af4:1042) at
# 00:02.0 backed by that file. EDU=1 adds QEMU's edu device (1234:11e8) at 00:03.0, the reference for
# the edu-like plugin device.
#
# QEMU 7.2's APLIC gets level-triggered sources wrong in MSI mode: Linux 6.10+ re-raises a level
# interrupt that it believes still asserted through setipnum_le, QEMU storms it, and the guest either
# disables the IRQ ("irq 15: nobody cared") or stalls (RCU stall on the hart taking the storm). The
# aia run therefore takes QEMU's own device tree with the `interrupts` of the UART and the RTC (the
# only level sources) removed: the 8250 driver then polls. PCI MSI-X does not go through the APLIC.
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
set -- -smp "$HARTS" -m 256M -nographic \
    -bios /usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin \
    -kernel "$IMAGE" -initrd "$INITRD" -append "console=ttyS0 earlycon"
if [ "$DISK" != none ]; then
    set -- "$@" -drive "file=$DISK,if=none,format=raw,id=d0" -device virtio-blk-pci,drive=d0,addr=02.0,disable-legacy=on
fi
if [ "${EDU:-0}" = 1 ]; then
    set -- "$@" -device edu,addr=03.0
fi
if [ "$IRQ" = aia ]; then
    TMP=$(mktemp -d)
    trap 'rm -rf "$TMP"' EXIT
    qemu-system-riscv64 -M "$MACHINE,dumpdtb=$TMP/virt.dtb" "$@" </dev/null >/dev/null 2>&1
    for node in /soc/serial@10000000 /soc/rtc@101000; do
        fdtput -d "$TMP/virt.dtb" "$node" interrupts
        fdtput -d "$TMP/virt.dtb" "$node" interrupt-parent
    done
    set -- -dtb "$TMP/virt.dtb" "$@"
fi
start=$(date +%s.%N)
status=0
qemu-system-riscv64 -M "$MACHINE" "$@" </dev/null || status=$?
end=$(date +%s.%N)
echo "run-qemu: $IRQ, $HARTS hart(s): exit $status after $(echo "$end - $start" | bc) s" >&2
exit "$status"
