# Runs inside the nested machine (scripts/nested/run.sh): QEMU's edu at 00:04.0 (started with
# dma_mask=0xffffffff, so its DMA reaches guest RAM at 0x80000000) is given to Backplane's
# bare-metal RISC-V guest Guests/vfio/edu_vfio.c (added as /work/edu_vfio.elf) with `pci.host`,
# `vfio: true`: first while the function is bound to no driver (the run must refuse it), then
# bound to vfio-pci, with MSI to the IMSIC (virt-aia), then with INTx through the PLIC (virt,
# /work/edu_vfio_intx.elf), then once more under the interpreter. Every run after the binding
# traces edu0's BAR accesses that Backplane trapped (`--trace mmio,pci:edu0`): edu's BAR 0 has no
# MSI-X table, so it is wholly a direct window and the count must be 0 — the guest's loads and
# stores went straight to the device's VFIO mmap. 256 MiB of guest RAM: VFIO pins every mapped page.
modprobe vfio-pci
modprobe vfio_iommu_type1
run() {
    rm -f /tmp/edu.trace
    backplane run ${1:-virt-aia} --bios none --kernel ${2:-/work/edu_vfio.elf} --memory 256M --serial stdio --timeout 120 \
        --accel ${3:-jit} --trace mmio,pci:edu0 --trace-file /tmp/edu.trace \
        --device pci.host,name=edu0,at=pcie0/03.0,host=0000:00:04.0,vfio=true 2>&1
    status=$?
    echo "backplane status $status"
    if [ $status = 0 ]; then
        grep '] pci edu0 bar-map ' /tmp/edu.trace | sed 's/^\[[^]]*\] //'
        echo "trapped BAR accesses: $(grep -c '] mmio edu0 ' /tmp/edu.trace)"
    fi
}
echo "unbound"
run
echo vfio-pci > /sys/bus/pci/devices/0000:00:04.0/driver_override
echo 0000:00:04.0 > /sys/bus/pci/drivers_probe
echo "bound"
start=$(cut -d' ' -f1 /proc/uptime)
run
echo "run took $(awk "BEGIN { print $(cut -d' ' -f1 /proc/uptime) - $start }") s"
echo "intx"
run virt /work/edu_vfio_intx.elf
echo "interpreter"
run virt-aia /work/edu_vfio.elf interp
