#if canImport(Glibc)
import Glibc
#endif

/// One line of a function's sysfs `resource` file: `START END FLAGS` (Linux
/// drivers/pci/pci-sysfs.c `resource_show`; flag bits from include/linux/ioport.h).
public struct HostPCIResource: Sendable, Equatable {
    public let start: UInt64
    public let end: UInt64
    public let flags: UInt64

    /// IORESOURCE_IO, _MEM, _PREFETCH and _MEM_64.
    public static let ioFlag: UInt64 = 0x100
    public static let memoryFlag: UInt64 = 0x200
    public static let prefetchFlag: UInt64 = 0x2000
    public static let memory64Flag: UInt64 = 0x0010_0000

    public init(start: UInt64, end: UInt64, flags: UInt64) {
        self.start = start
        self.end = end
        self.flags = flags
    }

    /// Bytes the resource spans; 0 for an absent BAR.
    public var size: UInt64 {
        guard flags & (HostPCIResource.ioFlag | HostPCIResource.memoryFlag) != 0, end >= start, end != 0 else { return 0 }
        return end &- start &+ 1
    }

    public var isIO: Bool { flags & HostPCIResource.ioFlag != 0 }

    /// Parses the whole `resource` file: one line per BAR (0-5), then the ROM and, for bridges
    /// and SR-IOV, more windows.
    public static func parse(_ text: String) -> [HostPCIResource] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ").map { UInt64($0.dropFirst(2), radix: 16) }
            guard fields.count == 3, let start = fields[0], let end = fields[1], let flags = fields[2] else { return nil }
            return HostPCIResource(start: start, end: end, flags: flags)
        }
    }
}

/// What the host says about one PCI function: its configuration bytes (as many as were
/// readable), its BAR resources and the driver bound to it. Built from sysfs or from a
/// recording; everything the mirror needs and nothing that touches the device.
public struct HostPCISnapshot: Sendable, Equatable {
    public let address: HostPCIAddress
    /// 4096, 256, or (unprivileged readers) 64 bytes of configuration space.
    public let config: [UInt8]
    /// sysfs `resource` lines; index n is BAR n for n < 6.
    public let resources: [HostPCIResource]
    /// The bound host driver (basename of the sysfs `driver` link), nil when unbound.
    public let driver: String?
    /// The function's IOMMU group number, nil without an IOMMU.
    public let iommuGroup: String?

    public init(address: HostPCIAddress, config: [UInt8], resources: [HostPCIResource], driver: String?, iommuGroup: String? = nil) {
        self.address = address
        self.config = config
        self.resources = resources
        self.driver = driver
        self.iommuGroup = iommuGroup
    }

    private func load16(_ offset: Int) -> UInt16 {
        offset + 1 < config.count ? UInt16(config[offset]) | UInt16(config[offset + 1]) << 8 : 0xffff
    }

    public var vendorID: UInt16 { load16(0x00) }
    public var deviceID: UInt16 { load16(0x02) }
    /// Base class, sub-class, programming interface (0x020000 = Ethernet).
    public var classCode: UInt32 {
        config.count >= 0x0c ? UInt32(config[0x09]) | UInt32(config[0x0a]) << 8 | UInt32(config[0x0b]) << 16 : 0
    }
    public var headerType: UInt8 { config.count > 0x0e ? config[0x0e] & 0x7f : 0xff }
    /// Whether the capability list was readable (Linux shows unprivileged readers only 64 bytes).
    public var hasFullConfig: Bool { config.count >= 256 }
}

/// Reads host PCI functions from sysfs (Documentation/PCI/sysfs-pci.rst). Never writes. The
/// roots are parameters so tests can point them at a fake tree.
public struct HostPCISysfs: Sendable {
    /// Usually /sys/bus/pci/devices.
    public let devicesPath: String
    /// Usually /dev/vfio.
    public let vfioPath: String

    public init(devicesPath: String = "/sys/bus/pci/devices", vfioPath: String = "/dev/vfio") {
        self.devicesPath = devicesPath
        self.vfioPath = vfioPath
    }

    public func path(of address: HostPCIAddress, _ file: String) -> String {
        "\(devicesPath)/\(address)/\(file)"
    }

    /// Every function sysfs lists, in address order.
    public func addresses() -> [HostPCIAddress] {
        directoryEntries(devicesPath).compactMap(HostPCIAddress.init).sorted()
    }

    public func exists(_ address: HostPCIAddress) -> Bool {
        access(path(of: address, "config"), F_OK) == 0
    }

    /// Reads the function's configuration, resources, driver and IOMMU group (read-only opens).
    public func snapshot(of address: HostPCIAddress) throws(HostPCIError) -> HostPCISnapshot {
        guard exists(address) else { throw .notFound(address, devicesPath: devicesPath) }
        let config = try readFile(path(of: address, "config"))
        let resources = HostPCIResource.parse(String(decoding: try readFile(path(of: address, "resource")), as: UTF8.self))
        return HostPCISnapshot(address: address, config: config, resources: resources,
                               driver: linkName(path(of: address, "driver")),
                               iommuGroup: linkName(path(of: address, "iommu_group")))
    }

    /// Why BAR access to `snapshot`'s function would fail, or nil when it would work: the
    /// same checks, in the same order, as opening the BARs.
    public func barAccessProblem(_ snapshot: HostPCISnapshot, force: Bool, writable: Bool) -> HostPCIError? {
        if let driver = snapshot.driver, !force { return .boundToDriver(snapshot.address, driver: driver) }
        for (bar, resource) in snapshot.resources.prefix(6).enumerated() where resource.size > 0 {
            let file = path(of: snapshot.address, "resource\(bar)")
            if access(file, F_OK) != 0 { return .resourceFileMissing(snapshot.address, bar: bar, path: file) }
            let mode = writable ? R_OK | W_OK : R_OK
            if access(file, mode) != 0 {
                return .resourceNotAccessible(snapshot.address, bar: bar, path: file, mode: writable ? "reading and writing" : "reading",
                                              reason: errnoText(errno))
            }
        }
        return nil
    }

    /// Whether full passthrough through VFIO (DMA remapping and interrupts) could work for the
    /// function: nil if so, otherwise why not.
    public func vfioProblem(_ snapshot: HostPCISnapshot) -> String? {
        guard access("\(vfioPath)/vfio", F_OK) == 0 else {
            return "\(vfioPath)/vfio missing (modprobe vfio-pci; needs an IOMMU)"
        }
        guard let group = snapshot.iommuGroup else {
            return "no IOMMU group (IOMMU off: boot with intel_iommu=on or amd_iommu=on)"
        }
        if snapshot.driver != "vfio-pci" {
            return "IOMMU group \(group) but bound to \(snapshot.driver.map { "'\($0)'" } ?? "no driver"), not vfio-pci"
        }
        guard access("\(vfioPath)/\(group)", F_OK) == 0 else { return "\(vfioPath)/\(group) missing" }
        let blockers = groupBlockers(snapshot)
        if !blockers.isEmpty {
            return "IOMMU group \(group) is not viable: " + blockers.joined(separator: ", ")
                + " (bind every device of the group to vfio-pci, or unbind it)"
        }
        return nil
    }

    /// The other functions in `snapshot`'s IOMMU group (sysfs `iommu_group/devices`), sorted.
    public func groupMembers(_ snapshot: HostPCISnapshot) -> [HostPCIAddress] {
        directoryEntries(path(of: snapshot.address, "iommu_group/devices")).compactMap(HostPCIAddress.init)
            .filter { $0 != snapshot.address }.sorted()
    }

    /// Why the group of `snapshot` is not viable for VFIO: each other member bound to a driver
    /// that keeps the group from being given away ("0000:00:1f.2 is bound to 'ahci'"). VFIO
    /// accepts members bound to vfio-pci, pci-stub or no driver (drivers/vfio/group.c), and
    /// bridges bound to pcieport (they do no DMA of their own).
    public func groupBlockers(_ snapshot: HostPCISnapshot) -> [String] {
        groupMembers(snapshot).compactMap { member in
            guard let driver = linkName(path(of: member, "driver")), !["vfio-pci", "pci-stub", "pcieport"].contains(driver) else { return nil }
            return "\(member) is bound to '\(driver)'"
        }
    }
}

// MARK: File helpers (read-only)

/// The whole file, read with one O_RDONLY descriptor.
func readFile(_ path: String) throws(HostPCIError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw .unreadable(path: path, reason: errnoText(errno)) }
    defer { close(fd) }
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count < 0 {
            if errno == EINTR { continue }
            throw .unreadable(path: path, reason: errnoText(errno))
        }
        if count == 0 { break }
        result += chunk[0..<count]
    }
    return result
}

/// The last path component of a symbolic link's target, nil if `path` is not a link.
func linkName(_ path: String) -> String? {
    var buffer = [CChar](repeating: 0, count: 4096)
    let count = readlink(path, &buffer, buffer.count - 1)
    guard count > 0 else { return nil }
    let target = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return target.split(separator: "/").last.map(String.init)
}

func directoryEntries(_ path: String) -> [String] {
    guard let directory = opendir(path) else { return [] }
    defer { closedir(directory) }
    var names: [String] = []
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}

func errnoText(_ code: Int32) -> String { String(cString: strerror(code)) }
