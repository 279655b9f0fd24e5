/// Builders for the standard capabilities a function needs beyond MSI and MSI-X.
extension PCIConfigSpace {
    /// Device/port type of the PCI Express capability (PCIe Base 4.0 §7.5.3.2).
    public enum PCIExpressPortType: UInt16, Sendable {
        case endpoint = 0x0
        case legacyEndpoint = 0x1
        case rootPort = 0x4
        /// A function integrated in the root complex, on the root bus (what QEMU's `virt`
        /// devices on `pcie.0` are, and what ours are).
        case rootComplexIntegratedEndpoint = 0x9
    }

    /// Adds a PCI Express capability, version 2 (PCIe Base 4.0 §7.5.3), for a function whose
    /// link is 1 lane at 2.5 GT/s, and returns its offset. Device control is writable as
    /// software expects; device status error bits are write-1-to-clear.
    @discardableResult
    public func addPCIExpressCapability(portType: PCIExpressPortType) -> Int {
        let offset = addCapability(id: PCICapabilityID.pciExpress, length: 0x3c)
        store16(offset + 0x02, 0x2 | portType.rawValue << 4)
        // Device capabilities: 128-byte max payload, role-based error reporting (bit 15).
        store32(offset + 0x04, 1 << 15)
        // Device control: error reporting enables, relaxed ordering, max payload/read size, …
        setWritable(offset + 0x08, size: 2, mask: 0x7fff)
        store16(offset + 0x08, 0x2810)  // max read request 512 B, no-snoop and relaxed ordering enabled
        setClearOnWrite(offset + 0x0a, size: 2, mask: 0x000f)
        if portType != .rootComplexIntegratedEndpoint {
            // Link capabilities/status: 2.5 GT/s (1), x1 (bits 9:4 = 1); RCiEPs have no link.
            store32(offset + 0x0c, 0x1 | 1 << 4)
            setWritable(offset + 0x10, size: 2, mask: 0x01c3)
            store16(offset + 0x12, 0x1 | 1 << 4)
        }
        // Device control 2: completion timeout and friends are writable.
        setWritable(offset + 0x28, size: 2, mask: 0x041f)
        return offset
    }

    /// Adds a power-management capability, version 3, with D0 and D3hot only (PCI Bus Power
    /// Management 1.2 §3.2), and returns its offset. Power state bits are writable; the function
    /// keeps working in every state (nothing is powered down).
    @discardableResult
    public func addPowerManagementCapability() -> Int {
        let offset = addCapability(id: PCICapabilityID.powerManagement, length: 8)
        store16(offset + 2, 0x0003)
        // PMCSR: power state 1:0 writable; No_Soft_Reset (bit 3) set: D3hot→D0 keeps state.
        store16(offset + 4, 1 << 3)
        setWritable(offset + 4, size: 2, mask: 0x0003)
        return offset
    }

    /// Adds a vendor-specific capability (ID 0x09) of `length` bytes whose byte 2 holds the
    /// length (PCI 3.0 §6.7, Appendix H) and returns its offset; the caller fills the rest.
    @discardableResult
    public func addVendorCapability(length: Int) -> Int {
        let offset = addCapability(id: PCICapabilityID.vendorSpecific, length: length)
        store8(offset + 2, UInt8(length))
        return offset
    }
}
