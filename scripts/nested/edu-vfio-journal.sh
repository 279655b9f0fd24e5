# Runs inside the nested machine (scripts/nested/run.sh): QEMU's edu at 00:04.0, bound to
# vfio-pci, given to Backplane's bare-metal guest Guests/vfio/edu_vfio.c built with -DINTX -DNODMA
# (/work/edu_vfio_nodma.elf: identification, factorial, INTx; no bus mastering) under --record;
# then the function is unbound from vfio-pci (its /dev/vfio group file goes away) and the journal
# is replayed: the journal plays the device. Then the replay with the identification read edited
# in the journal (the guest fails its check: the replay diverges), and the DMA/INTx guest
# (/work/edu_vfio_intx.elf) under --record, which enables bus mastering and is refused.
modprobe vfio-pci
modprobe vfio_iommu_type1
bind() {
    echo vfio-pci > /sys/bus/pci/devices/0000:00:04.0/driver_override
    echo 0000:00:04.0 > /sys/bus/pci/drivers_probe
}
run() {
    elf=$1
    shift
    backplane run virt --bios none --kernel $elf --memory 256M --serial stdio --timeout 120 \
        --device pci.host,name=edu0,at=pcie0/03.0,host=0000:00:04.0,vfio=true "$@" > /tmp/run.out 2>&1
    echo "backplane status $?" >> /tmp/run.out
}
bind
echo "record"
run /work/edu_vfio_nodma.elf --record /tmp/edu.journal
cp /tmp/run.out /tmp/record.out
cat /tmp/record.out
echo "journal: $(grep -c ' pci:edu0/read ' /tmp/edu.journal) reads, $(grep -c ' pci:edu0/fired ' /tmp/edu.journal) interrupts, $(grep -c ' pci:edu0/write ' /tmp/edu.journal) writes"
echo 0000:00:04.0 > /sys/bus/pci/drivers/vfio-pci/unbind
echo "vfio groups after unbind: $(ls /dev/vfio | grep -v '^vfio$' | wc -l)"
echo "replay"
run /work/edu_vfio_nodma.elf --replay /tmp/edu.journal
cat /tmp/run.out
if cmp -s /tmp/record.out /tmp/run.out; then echo "same output"; else echo "different output"; fi
echo "edited"
# The identification read (BAR 0 offset 0: answer tag 0, file offset 0, bytes ed 00 00 01).
sed 's/ pci:edu0\/read 000000000000000000ed000001$/ pci:edu0\/read 000000000000000000ee000001/' /tmp/edu.journal > /tmp/edited.journal
echo "edited lines: $(cmp -l /tmp/edu.journal /tmp/edited.journal | wc -l)"
run /work/edu_vfio_nodma.elf --replay /tmp/edited.journal
grep -E 'identification|diverged|backplane status' /tmp/run.out
echo "bus master"
bind
run /work/edu_vfio_intx.elf --record /tmp/bm.journal
grep -E 'bus mastering|backplane status' /tmp/run.out
echo "done"
