# Runs inside the nested machine (scripts/nested/run.sh): binds QEMU's edu (1234:11e8) and nvme
# (1b36:0010) functions on bus 0 to vfio-pci, the ones behind the PCI bridge (bus 1) edu to
# vfio-pci and nvme to the nvme driver (so their shared IOMMU group is not viable), then shows
# what `backplane host pci` and `backplane host pci --check` say about each.
modprobe vfio-pci
modprobe vfio_iommu_type1
modprobe nvme
bind() {
    [ -e /sys/bus/pci/devices/$1/driver ] && echo $1 > /sys/bus/pci/devices/$1/driver/unbind
    echo $2 > /sys/bus/pci/devices/$1/driver_override
    echo $1 > /sys/bus/pci/drivers_probe
}
for path in /sys/bus/pci/devices/*; do
    address=$(basename $path)
    case $(cat $path/vendor):$(cat $path/device):$address in
        0x1234:0x11e8:*|0x1b36:0x0010:0000:00:*) bind $address vfio-pci ;;
        0x1b36:0x0010:*) bind $address nvme ;;
    esac
done
sleep 1
backplane host pci
for path in /sys/bus/pci/devices/*; do
    address=$(basename $path)
    case $(cat $path/vendor):$(cat $path/device) in
        0x1234:0x11e8|0x1b36:0x0010) echo "check $address"; backplane host pci --check $address 2>&1; echo "status $?" ;;
    esac
done
