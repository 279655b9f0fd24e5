# Runs inside the nested machine (scripts/nested/run.sh): QEMU's nvme at 00:05.0 is bound to
# vfio-pci and given to Backplane's RISC-V Linux guest (/work/Image, /work/initramfs.cpio) with
# `pci.host`, `vfio: true` on the bundled virt-aia board (MSI-X to the IMSIC). The guest's nvme
# driver binds, and its init writes and reads back the test pattern on the namespace; the test
# then finds the pattern in the image file on the outside. The run traces the BAR accesses
# Backplane trapped (`--trace mmio,pci:nvme0`): BAR 0 is 16 KiB with the MSI-X table at 0x2000
# and the PBA at 0x3000, so its first two pages are a direct window and only offsets from 0x2000
# may appear (the table, emulated, programmed by the guest's driver).
modprobe vfio-pci
modprobe vfio_iommu_type1
echo vfio-pci > /sys/bus/pci/devices/0000:00:05.0/driver_override
echo 0000:00:05.0 > /sys/bus/pci/drivers_probe
start=$(cut -d' ' -f1 /proc/uptime)
backplane run virt-aia --kernel /work/Image --initrd /work/initramfs.cpio --append "console=ttyS0 earlycon" \
    --memory 256M --serial stdio --timeout ${BP_TIMEOUT:-600} --trace mmio,pci:nvme0 --trace-file /tmp/nvme.trace \
    --device pci.host,name=nvme0,at=pcie0/05.0,host=0000:00:05.0,vfio=true 2>&1
echo "backplane status $? after $(awk "BEGIN { print $(cut -d' ' -f1 /proc/uptime) - $start }") s"
grep '] pci nvme0 bar-map ' /tmp/nvme.trace | sed 's/^\[[^]]*\] //'
echo "trapped BAR accesses: $(grep -c '] mmio nvme0 ' /tmp/nvme.trace)"
echo "trapped BAR offsets: $(grep '] mmio nvme0 ' /tmp/nvme.trace | sed 's/.* offset=\(0x[0-9a-f]*\).*/\1/' | sort -u | tr '\n' ' ')"
