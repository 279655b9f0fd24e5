# Runs inside the nested machine (scripts/nested/run.sh): Guests/vfio/bar_latency.c (added as
# /work/bar_latency.elf) times guest loads from BAR 0 of QEMU's edu passed through with VFIO, then
# of Backplane's built-in edu, in this same machine (docs/passthrough.md's BAR latency figures).
modprobe vfio-pci
modprobe vfio_iommu_type1
echo vfio-pci > /sys/bus/pci/devices/0000:00:04.0/driver_override
echo 0000:00:04.0 > /sys/bus/pci/drivers_probe
for i in 1 2 3; do
    echo "vfio edu:"
    backplane run virt --bios none --kernel /work/bar_latency.elf --memory 256M --serial stdio --timeout 60 \
        --device pci.host,at=pcie0/03.0,host=0000:00:04.0,vfio=true 2>&1
    echo "built-in edu:"
    backplane run virt --bios none --kernel /work/bar_latency.elf --memory 256M --serial stdio --timeout 60 \
        --device edu,at=pcie0/03.0 2>&1
done
backplane host pci --check 0000:00:04.0 --latency 20000 | grep latency
