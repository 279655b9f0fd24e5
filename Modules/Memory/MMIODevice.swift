/// The access widths, in bytes, that a device implements natively.
///
/// The bus splits wider accesses and widens narrower ones so a device only ever sees the widths
/// it declares (QEMU's `.impl`, TinyEMU's `DEVIO_SIZE32`).
public struct AccessSizes: OptionSet, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let byte = AccessSizes(rawValue: 1)
    public static let halfword = AccessSizes(rawValue: 2)
    public static let word = AccessSizes(rawValue: 4)
    public static let doubleword = AccessSizes(rawValue: 8)
    public static let all: AccessSizes = [.byte, .halfword, .word, .doubleword]

    /// Whether an access of `size` bytes (1, 2, 4 or 8) is implemented.
    @inline(__always) public func contains(size: Int) -> Bool { rawValue & UInt8(truncatingIfNeeded: size) != 0 }

    /// The smallest implemented width in bytes, or nil for an empty set.
    public var smallest: Int? { rawValue == 0 ? nil : 1 << rawValue.trailingZeroBitCount }

    public var description: String {
        [(1, "1"), (2, "2"), (4, "4"), (8, "8")].filter { contains(size: $0.0) }.map(\.1).joined(separator: ",")
    }
}

/// A device seen through the platform MMIO bus: one small protocol, nothing else of the machine.
///
/// Offsets are relative to the start of the region the device was mapped at. `size` is always one
/// of `implementedSizes`, and the access is naturally aligned to it unless the device declares
/// otherwise by implementing byte accesses only.
public protocol MMIODevice: AnyObject {
    /// Widths this device handles itself; the bus adapts every other width.
    var implementedSizes: AccessSizes { get }
    /// Reads `size` bytes at `offset`; the result is zero-extended.
    func read(offset: UInt64, size: Int) -> UInt64
    /// Writes the low `size` bytes of `value` at `offset`.
    func write(offset: UInt64, size: Int, value: UInt64)
}
