/// Why a host PCI function cannot be listed, mirrored or opened. Every case names the function
/// and the file or number at fault; none of them leaves anything changed on the host (nothing is
/// written before every check has passed).
public enum HostPCIError: Error, Equatable, CustomStringConvertible {
    /// `host:` does not parse as DOMAIN:BUS:DEVICE.FUNCTION.
    case badAddress(String)
    /// No folder for the function under the sysfs devices directory.
    case notFound(HostPCIAddress, devicesPath: String)
    /// A sysfs file could not be read (errno text included).
    case unreadable(path: String, reason: String)
    /// The configuration header is not type 0 (bridges cannot be mirrored as endpoints).
    case notAnEndpoint(HostPCIAddress, headerType: UInt8)
    /// A BAR size the emulated configuration space cannot declare (not a power of two, an I/O
    /// BAR over 256 bytes, a 32-bit BAR over 2 GiB).
    case unsupportedBAR(HostPCIAddress, bar: Int, size: UInt64, reason: String)
    /// `bars: true` on a function a host driver owns, without `force: true`.
    case boundToDriver(HostPCIAddress, driver: String)
    /// `bars: true` but the kernel exposes no `resourceN` file for a BAR.
    case resourceFileMissing(HostPCIAddress, bar: Int, path: String)
    /// `bars: true` but `resourceN` cannot be opened as asked (usually: not root).
    case resourceNotAccessible(HostPCIAddress, bar: Int, path: String, mode: String, reason: String)
    /// mmap of a memory BAR's `resourceN` failed.
    case mapFailed(HostPCIAddress, bar: Int, path: String, reason: String)
    /// libpci could not initialise or scan.
    case libpci(String)

    public var description: String {
        switch self {
        case let .badAddress(text):
            return "host PCI address '\(text)' is not DOMAIN:BUS:DEVICE.FUNCTION such as '0000:00:03.0'"
        case let .notFound(address, devicesPath):
            return "host PCI function \(address) not found in \(devicesPath) (see `backplane host pci`)"
        case let .unreadable(path, reason):
            return "cannot read \(path): \(reason)"
        case let .notAnEndpoint(address, headerType):
            return "host PCI function \(address) has header type \(headerType) (a bridge); only type 0 endpoints can be mirrored"
        case let .unsupportedBAR(address, bar, size, reason):
            return "BAR \(bar) of host PCI function \(address) (0x\(String(size, radix: 16)) bytes) cannot be emulated: \(reason)"
        case let .boundToDriver(address, driver):
            return "host PCI function \(address) is bound to host driver '\(driver)'; BAR access ('bars: true') would race it: unbind it first (echo \(address) > /sys/bus/pci/drivers/\(driver)/unbind) or set 'force: true'"
        case let .resourceFileMissing(address, bar, path):
            return "BAR \(bar) of host PCI function \(address) cannot be accessed: the kernel exposes no \(path)"
        case let .resourceNotAccessible(address, bar, path, mode, reason):
            return "BAR \(bar) of host PCI function \(address) cannot be accessed: opening \(path) for \(mode) failed: \(reason)"
        case let .mapFailed(address, bar, path, reason):
            return "BAR \(bar) of host PCI function \(address) cannot be accessed: mmap of \(path) failed: \(reason)"
        case let .libpci(message):
            return "libpci: \(message)"
        }
    }
}
