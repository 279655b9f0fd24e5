/// The xHCI Supported Protocol extended capabilities (xHCI 1.2 §7.2): one for the USB 2 ports
/// and one for the USB 3 ports, telling the driver which port numbers speak which protocol.
/// Both use the default Protocol Speed ID mapping (PSIC 0, §7.2.2.1.1), so no PSI dwords follow.
enum XHCISupportedProtocol {
    /// Capability ID 2 (§7 Table 7-1).
    static let capabilityID: UInt32 = 2
    /// Bytes per capability (four dwords).
    static let length: UInt64 = 16
    /// "USB " in the Name String field.
    static let name: UInt32 = 0x2042_5355

    /// Dword at `offset` bytes into the extended capability list: USB 2 at 0, USB 3 at 16. A
    /// protocol without ports is still listed with a port count of 0 so the list shape is fixed.
    static func dword(_ offset: UInt64, usb2Ports: Int, usb3Ports: Int) -> UInt32 {
        let isUSB3 = offset >= length
        let within = offset % length
        switch within {
        case 0:
            // Revision 2.0 / 3.0; Next pointer (in dwords) from USB 2 to USB 3, then end.
            let next: UInt32 = isUSB3 ? 0 : UInt32(length / 4)
            let major: UInt32 = isUSB3 ? 3 : 2
            return capabilityID | next << 8 | major << 24
        case 4:
            return name
        case 8:
            // Compatible Port Offset (1-based first port) and Port Count.
            let first = isUSB3 ? usb2Ports + 1 : 1
            let count = isUSB3 ? usb3Ports : usb2Ports
            return UInt32(first) | UInt32(count) << 8
        default:
            // Protocol Slot Type 0 (§7.2.2.1.4).
            return 0
        }
    }
}
