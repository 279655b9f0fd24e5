#if canImport(Glibc)
import Glibc
#endif

/// Why a host PCI function cannot be passed through with VFIO. Each case names the function and
/// says what would fix it; nothing on the host has been changed when one is thrown (whatever was
/// opened is closed again).
public enum VFIOError: Error, Equatable, CustomStringConvertible {
    /// No /dev/vfio/vfio: the vfio modules are not loaded (or the kernel has no VFIO).
    case noVFIO(HostPCIAddress, path: String)
    /// /dev/vfio/vfio or the group file cannot be opened (permissions, or busy: another process holds the group).
    case openFailed(HostPCIAddress, path: String, reason: VFIOErrno)
    /// The kernel speaks another VFIO API version.
    case apiVersion(HostPCIAddress, found: Int32, expected: Int32)
    /// The container offers no type1 IOMMU (no IOMMU, or only the unsafe no-IOMMU mode).
    case noType1IOMMU(HostPCIAddress)
    /// The function has no IOMMU group: the IOMMU is off.
    case noIOMMUGroup(HostPCIAddress)
    /// The function is bound to a driver other than vfio-pci (or to none).
    case notBoundToVFIO(HostPCIAddress, driver: String?)
    /// Some device of the group is bound to a host driver, so the group cannot be given away.
    case groupNotViable(HostPCIAddress, group: String, blockers: [String])
    /// An ioctl on the container, group or device failed.
    case ioctl(HostPCIAddress, what: String, reason: VFIOErrno)
    /// Guest RAM could not be mapped for the device's DMA.
    case dmaMap(HostPCIAddress, iova: UInt64, size: UInt64, reason: VFIOErrno)
    /// A BAR the emulated configuration space cannot declare, or that cannot be mapped.
    case bar(HostPCIAddress, bar: Int, reason: String)

    private static func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

    public var description: String {
        switch self {
        case let .noVFIO(address, path):
            return "host PCI function \(address): \(path) missing: load VFIO (modprobe vfio-pci) on a host booted with its IOMMU on (intel_iommu=on or amd_iommu=on)"
        case let .openFailed(address, path, reason):
            let fix = reason.code == EBUSY ? "another process (a VM?) holds the group: stop it"
                : reason.code == EACCES || reason.code == EPERM ? "run as root, or give your user the file (chown) and enough locked memory (ulimit -l)"
                : reason.code == ENOENT ? "is the function bound to vfio-pci? (see `backplane host pci \(address)`)"
                : "see `backplane host pci \(address)`"
            return "host PCI function \(address): cannot open \(path): \(reason): \(fix)"
        case let .apiVersion(address, found, expected):
            return "host PCI function \(address): the kernel's VFIO API version is \(found), Backplane speaks \(expected)"
        case let .noType1IOMMU(address):
            return "host PCI function \(address): VFIO offers no type1 IOMMU (no IOMMU enabled?): boot with intel_iommu=on or amd_iommu=on and modprobe vfio_iommu_type1"
        case let .noIOMMUGroup(address):
            return "host PCI function \(address) has no IOMMU group: the IOMMU is off; boot with intel_iommu=on (or amd_iommu=on)"
        case let .notBoundToVFIO(address, driver):
            let unbind = driver.map { "echo \(address) > /sys/bus/pci/drivers/\($0)/unbind; " } ?? ""
            return "host PCI function \(address) is bound to \(driver.map { "'\($0)'" } ?? "no driver"), not vfio-pci: \(unbind)echo vfio-pci > /sys/bus/pci/devices/\(address)/driver_override; echo \(address) > /sys/bus/pci/drivers_probe"
        case let .groupNotViable(address, group, blockers):
            let who = blockers.isEmpty ? "" : " (" + blockers.joined(separator: ", ") + ")"
            return "host PCI function \(address): IOMMU group \(group) is not viable: every device in it must be bound to vfio-pci or to no driver\(who)"
        case let .ioctl(address, what, reason):
            return "host PCI function \(address): \(what) failed: \(reason)"
        case let .dmaMap(address, iova, size, reason):
            let fix = reason.code == ENOMEM ? ": raise the locked-memory limit (ulimit -l) or run as root" : ""
            return "host PCI function \(address): mapping guest RAM [\(VFIOError.hex(iova)), \(VFIOError.hex(iova &+ size))) for DMA failed: \(reason)\(fix)"
        case let .bar(address, bar, reason):
            return "BAR \(bar) of host PCI function \(address) cannot be passed through: \(reason)"
        }
    }
}
