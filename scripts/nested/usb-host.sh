# Runs inside the nested machine (scripts/nested/run.sh): QEMU's usb-kbd and usb-storage on its
# qemu-xhci are given to Backplane's RISC-V Linux guest with usb.host (libusb), which enumerates
# them and writes and reads back a pattern on the disk. The exchange is recorded
# (BACKPLANE_USB_RECORD, Modules/Passthrough/Swift/RecordingUSB.swift) and printed between
# "recording FILE" and "end recording" lines.
modprobe xhci-pci
for i in 1 2 3 4 5 6 7 8 9 10; do
    [ -e /dev/bus/usb/001/002 ] && [ -e /dev/bus/usb/002/002 ] && break
    sleep 1
done
backplane host usb
mkdir -p /tmp/recordings
start=$(cut -d' ' -f1 /proc/uptime)
BACKPLANE_USB_RECORD=/tmp/recordings backplane run /work/virt-usb-host.yaml --kernel /work/Image --initrd /work/initramfs.cpio \
    --append "console=ttyS0 earlycon bp.usb=2 bp.usbdisk=1" --memory 256M --serial stdio --timeout ${BP_TIMEOUT:-500}
echo "backplane status $? after $(awk "BEGIN { print $(cut -d' ' -f1 /proc/uptime) - $start }") s"
for file in /tmp/recordings/*.json; do
    echo "recording $(basename $file)"
    cat $file
    echo "end recording"
done
