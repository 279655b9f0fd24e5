# Runs inside the nested machine (scripts/nested/run.sh): QEMU's nvme at 00:05.0 is bound to
# vfio-pci and given to Backplane's RISC-V Linux guest (/work/Image, /work/initramfs.cpio) with
# `pci.host`, `vfio: true` on the bundled virt-aia board (MSI-X to the IMSIC). The guest's nvme
# driver binds, and its init writes and reads back the test pattern on the namespace; the test
# then finds the pattern in the image file on the outside.
modprobe vfio-pci
modprobe vfio_iommu_type1
echo vfio-pci > /sys/bus/pci/devices/0000:00:05.0/driver_override
echo 0000:00:05.0 > /sys/bus/pci/drivers_probe
start=$(cut -d' ' -f1 /proc/uptime)
backplane run virt-aia --kernel /work/Image --initrd /work/initramfs.cpio --append "console=ttyS0 earlycon" \
    --memory 256M --serial stdio --timeout ${BP_TIMEOUT:-600} --device pci.host,at=pcie0/05.0,host=0000:00:05.0,vfio=true 2>&1
echo "backplane status $? after $(awk "BEGIN { print $(cut -d' ' -f1 /proc/uptime) - $start }") s"
