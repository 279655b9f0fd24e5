# Runs inside the nested machine (scripts/nested/run.sh): sequential O_DIRECT read of QEMU's nvme
# (1) by Backplane's RISC-V Linux guest through VFIO passthrough (init's bp.readbench) and
# (2) by the same guest from a virtio-blk disk Backplane emulates (the guest's own cost under
# double emulation, with /work/virt-aia-pci.yaml) and (3) by the nested x86 kernel's own nvme
# driver, for docs/passthrough.md's benchmark.
modprobe vfio-pci
modprobe vfio_iommu_type1
modprobe nvme
echo 0000:00:05.0 > /sys/bus/pci/devices/0000:00:05.0/driver/unbind
echo vfio-pci > /sys/bus/pci/devices/0000:00:05.0/driver_override
echo 0000:00:05.0 > /sys/bus/pci/drivers_probe
backplane run virt-aia --kernel /work/Image --initrd /work/initramfs.cpio --append "console=ttyS0 earlycon bp.readbench=nvme0n1" \
    --memory 256M --serial stdio --timeout 600 --device pci.host,at=pcie0/05.0,host=0000:00:05.0,vfio=true 2>&1 | grep "BP: bench"
cd /tmp && dd if=/dev/zero of=linux-disk.img bs=1M count=64 2>/dev/null
backplane run /work/virt-aia-pci.yaml --kernel /work/Image --initrd /work/initramfs.cpio --append "console=ttyS0 earlycon bp.readbench=vda" \
    --memory 256M --serial stdio --timeout 600 2>&1 | grep "BP: bench"
rm -f linux-disk.img
echo 0000:00:05.0 > /sys/bus/pci/drivers/vfio-pci/unbind
echo nvme > /sys/bus/pci/devices/0000:00:05.0/driver_override
echo 0000:00:05.0 > /sys/bus/pci/drivers_probe
sleep 2
for i in 1 2; do
    start=$(cut -d' ' -f1 /proc/uptime)
    dd if=/dev/nvme0n1 of=/dev/null bs=1M iflag=direct 2>/dev/null
    echo "x86 nvme read 64 MiB in $(awk "BEGIN { print $(cut -d' ' -f1 /proc/uptime) - $start }") s"
done
