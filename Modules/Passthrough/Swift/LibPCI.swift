import CLibPCI

/// One function as libpci enumerates it (pciutils' lib/pci.h `struct pci_dev`).
public struct LibPCIEntry: Sendable, Equatable {
    public let address: HostPCIAddress
    public let vendorID: UInt16
    public let deviceID: UInt16
    /// Base class, sub-class and programming interface (libpci gives the first two in
    /// `device_class` and the third in `prog_if`).
    public let classCode: UInt32
    /// "Virtio network device" from the ids database (Debian's pci.ids), nil without it.
    public let name: String?
    /// "Ethernet controller", nil without the ids database.
    public let className: String?
}

/// The only file that calls libpci: enumeration and ID names. Errors libpci would `exit(1)`
/// for are caught in C (CLibPCI/shim.h) and thrown.
public enum LibPCI {
    /// Every host PCI function libpci finds, in address order.
    public static func scan() throws(HostPCIError) -> [LibPCIEntry] {
        guard let access = bp_pci_open() else { throw .libpci(String(cString: bp_pci_last_error())) }
        defer { pci_cleanup(access) }
        guard bp_pci_scan(access) == 0 else { throw .libpci(String(cString: bp_pci_last_error())) }
        var entries: [LibPCIEntry] = []
        var buffer = [CChar](repeating: 0, count: 256)
        var device = access.pointee.devices
        while let current = device {
            device = current.pointee.next
            let fields = Int32(PCI_FILL_IDENT | PCI_FILL_CLASS)
            guard bp_pci_fill(current, fields) >= 0 else { continue }
            let dev = current.pointee
            guard dev.dev < 32, dev.func < 8 else { continue }
            // prog_if is filled by PCI_FILL_CLASS_EXT on newer libpci; read it from config.
            let programming = UInt32(pci_read_byte(current, 0x09))
            let name = buffer.withUnsafeMutableBufferPointer { raw -> String? in
                bp_pci_device_name(access, raw.baseAddress, Int32(raw.count), Int32(dev.vendor_id), Int32(dev.device_id))
                    .map { String(cString: $0) }
            }
            let className = buffer.withUnsafeMutableBufferPointer { raw -> String? in
                bp_pci_class_name(access, raw.baseAddress, Int32(raw.count), Int32(dev.device_class)).map { String(cString: $0) }
            }
            entries.append(LibPCIEntry(
                address: HostPCIAddress(domain: UInt32(bitPattern: dev.domain), bus: dev.bus, device: dev.dev, function: dev.func),
                vendorID: dev.vendor_id, deviceID: dev.device_id,
                classCode: UInt32(dev.device_class) << 8 | programming,
                name: name, className: className))
        }
        return entries.sorted { $0.address < $1.address }
    }
}
