/// Where a host PCI function sits, as Linux names it in sysfs: `DOMAIN:BUS:DEVICE.FUNCTION`
/// in hex ("0000:00:03.0"; PCI Firmware 3.2 §4.1.3 for the segment/domain).
public struct HostPCIAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let domain: UInt32
    public let bus: UInt8
    /// 0...31.
    public let device: UInt8
    /// 0...7.
    public let function: UInt8

    public init(domain: UInt32 = 0, bus: UInt8, device: UInt8, function: UInt8) {
        precondition(device < 32 && function < 8, "PCI device \(device) function \(function) out of range")
        self.domain = domain
        self.bus = bus
        self.device = device
        self.function = function
    }

    /// Parses "0000:00:03.0" or, with domain 0 implied, "00:03.0" (lspci's short form).
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3 else { return nil }
        let deviceFunction = parts.last!.split(separator: ".", omittingEmptySubsequences: false)
        guard deviceFunction.count == 2,
              let device = UInt8(deviceFunction[0], radix: 16), device < 32, deviceFunction[0].count == 2,
              let function = UInt8(deviceFunction[1], radix: 16), function < 8, deviceFunction[1].count == 1,
              let bus = UInt8(parts[parts.count - 2], radix: 16), parts[parts.count - 2].count == 2 else { return nil }
        var domain: UInt32 = 0
        if parts.count == 3 {
            guard (1...8).contains(parts[0].count), let value = UInt32(parts[0], radix: 16) else { return nil }
            domain = value
        }
        self.init(domain: domain, bus: bus, device: device, function: function)
    }

    /// "0000:00:03.0": the name of the function's folder in /sys/bus/pci/devices.
    public var description: String {
        hex(UInt64(domain), digits: 4) + ":" + hex(UInt64(bus), digits: 2) + ":" + hex(UInt64(device), digits: 2) + "." + String(function)
    }

    public static func < (lhs: HostPCIAddress, rhs: HostPCIAddress) -> Bool {
        (lhs.domain, lhs.bus, lhs.device, lhs.function) < (rhs.domain, rhs.bus, rhs.device, rhs.function)
    }
}

/// Lower-case hex, zero-padded to `digits`.
func hex(_ value: UInt64, digits: Int) -> String {
    let text = String(value, radix: 16)
    return text.count >= digits ? text : String(repeating: "0", count: digits - text.count) + text
}
