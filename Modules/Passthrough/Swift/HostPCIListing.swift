/// One host function as `backplane host pci` shows it: IDs, names, driver, and what Backplane
/// could do with it (mirror, BAR access, full passthrough), each with the reason when not.
public struct HostPCIListing: Sendable {
    public let address: HostPCIAddress
    public let vendorID: UInt16
    public let deviceID: UInt16
    public let classCode: UInt32
    public let name: String?
    public let className: String?
    public let driver: String?
    public let iommuGroup: String?
    /// nil: `pci.host` can mirror it; otherwise "no: why" or "limited: what".
    public let mirrorProblem: String?
    /// nil: `bars: true` would work; otherwise why not.
    public let barProblem: String?
    /// nil: VFIO passthrough would be possible; otherwise why not.
    public let vfioProblem: String?
    /// "0: 64-bit memory, 0x80000 bytes" per BAR.
    public let bars: [String]
    /// The other functions of its IOMMU group.
    public var groupMembers: [HostPCIAddress] = []

    /// Lists every function: libpci for the enumeration and names, sysfs for the rest. When
    /// libpci fails the sysfs list is used alone (no names).
    public static func all(sysfs: HostPCISysfs = HostPCISysfs(), useLibPCI: Bool = true) -> [HostPCIListing] {
        let entries = useLibPCI ? ((try? LibPCI.scan()) ?? []) : []
        let byAddress = Dictionary(entries.map { ($0.address, $0) }, uniquingKeysWith: { first, _ in first })
        let addresses = Set(sysfs.addresses()).union(entries.map(\.address)).sorted()
        return addresses.map { address in
            let entry = byAddress[address]
            guard let snapshot = try? sysfs.snapshot(of: address) else {
                return HostPCIListing(address: address, vendorID: entry?.vendorID ?? 0xffff, deviceID: entry?.deviceID ?? 0xffff,
                                      classCode: entry?.classCode ?? 0, name: entry?.name, className: entry?.className,
                                      driver: nil, iommuGroup: nil, mirrorProblem: "no: sysfs entry unreadable",
                                      barProblem: "sysfs entry unreadable", vfioProblem: "sysfs entry unreadable", bars: [])
            }
            return listing(snapshot, entry: entry, sysfs: sysfs)
        }
    }

    /// The listing of one snapshot (`entry` adds libpci's names).
    public static func listing(_ snapshot: HostPCISnapshot, entry: LibPCIEntry?, sysfs: HostPCISysfs) -> HostPCIListing {
        var mirrorProblem: String?
        var bars: [String] = []
        if snapshot.headerType != 0 {
            mirrorProblem = "no: header type \(snapshot.headerType) (a bridge); only endpoints can be mirrored"
        } else {
            do {
                bars = try HostConfigMirror.bars(of: snapshot).map { "\($0.index): \($0.bar.summary)" }
                if !snapshot.hasFullConfig {
                    mirrorProblem = "limited: only \(snapshot.config.count) bytes of config space readable (not root): IDs only, no capabilities"
                }
            } catch {
                mirrorProblem = "no: \(error.description)"
            }
        }
        let barProblem: String?
        if bars.isEmpty {
            barProblem = "no BARs"
        } else if let problem = sysfs.barAccessProblem(snapshot, force: false, writable: false) {
            switch problem {
            case let .boundToDriver(_, driver): barProblem = "bound to host driver '\(driver)' (unbind it, or 'force: true')"
            case let .resourceFileMissing(_, bar, path): barProblem = "BAR \(bar): the kernel exposes no \(path)"
            case let .resourceNotAccessible(_, bar, path, _, reason): barProblem = "BAR \(bar): \(path): \(reason)"
            default: barProblem = problem.description
            }
        } else {
            barProblem = nil
        }
        var listing = HostPCIListing(address: snapshot.address, vendorID: snapshot.vendorID, deviceID: snapshot.deviceID,
                                     classCode: snapshot.classCode, name: entry?.name, className: entry?.className,
                                     driver: snapshot.driver, iommuGroup: snapshot.iommuGroup, mirrorProblem: mirrorProblem,
                                     barProblem: barProblem, vfioProblem: sysfs.vfioProblem(snapshot), bars: bars)
        listing.groupMembers = sysfs.groupMembers(snapshot)
        return listing
    }

    /// The block `backplane host pci` prints for this function.
    public var text: String {
        var lines: [String] = []
        let names = [className, name].compactMap { $0 }.joined(separator: ": ")
        lines.append("\(address)  \(hex(UInt64(vendorID), digits: 4)):\(hex(UInt64(deviceID), digits: 4))  class \(hex(UInt64(classCode), digits: 6))"
                     + (names.isEmpty ? "" : "  \(names)"))
        let shared = groupMembers.isEmpty ? "" : " (with \(groupMembers.map(\.description).joined(separator: ", ")))"
        lines.append("    driver: \(driver ?? "none")   iommu group: \(iommuGroup ?? "none")\(shared)")
        for bar in bars { lines.append("    BAR \(bar)") }
        lines.append("    mirror (pci.host): " + (mirrorProblem ?? "yes"))
        lines.append("    BAR access (bars: true): " + (barProblem.map { "no: \($0)" } ?? "yes"))
        lines.append("    full passthrough (VFIO, vfio: true): " + (vfioProblem.map { "no: \($0)" } ?? "possible"))
        return lines.joined(separator: "\n")
    }
}
