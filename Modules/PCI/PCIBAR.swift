import Memory

/// One base address register as a function declares it (PCI Local Bus 3.0 §6.2.5.1).
///
/// The size is a power of two; the BAR's address bits below it are read-only zero, which is what
/// makes the sizing protocol work: software writes all ones and reads back `~(size - 1)` plus the
/// type bits.
public struct PCIBAR: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// Memory, decoded anywhere below 4 GiB.
        case memory32
        /// Memory, decoded anywhere in 64 bits; takes two BAR registers (n and n + 1).
        case memory64
        /// I/O space (at most 256 bytes, PCI 3.0 §6.2.5.1).
        case io
    }

    public let kind: Kind
    /// Bytes; a power of two, at least 16 for memory and 4 for I/O.
    public let size: UInt64
    /// Reads have no side effects and may be merged (bit 3 of a memory BAR).
    public let prefetchable: Bool
    /// Access widths the function's `readBAR`/`writeBAR` handle; the bus adapts others.
    public let accessSizes: AccessSizes

    public init(kind: Kind, size: UInt64, prefetchable: Bool = false, accessSizes: AccessSizes = .all) {
        precondition(size.nonzeroBitCount == 1, "BAR size \(size) is not a power of two")
        precondition(kind == .io ? (4...256).contains(size) : size >= 16, "BAR size \(size) out of range for \(kind)")
        precondition(kind != .memory32 || size <= 1 << 31, "a 32-bit BAR cannot be \(size) bytes")
        self.kind = kind
        self.size = size
        self.prefetchable = prefetchable && kind != .io
        self.accessSizes = accessSizes
    }

    public static func memory32(size: UInt64, prefetchable: Bool = false, accessSizes: AccessSizes = .all) -> PCIBAR {
        PCIBAR(kind: .memory32, size: size, prefetchable: prefetchable, accessSizes: accessSizes)
    }

    public static func memory64(size: UInt64, prefetchable: Bool = false, accessSizes: AccessSizes = .all) -> PCIBAR {
        PCIBAR(kind: .memory64, size: size, prefetchable: prefetchable, accessSizes: accessSizes)
    }

    public static func io(size: UInt64, accessSizes: AccessSizes = .all) -> PCIBAR {
        PCIBAR(kind: .io, size: size, accessSizes: accessSizes)
    }

    /// The read-only low bits of the (first) BAR register: space, type and prefetchable.
    var typeBits: UInt32 {
        switch kind {
        case .io: return 0x1
        case .memory32: return prefetchable ? 0x8 : 0x0
        case .memory64: return 0x4 | (prefetchable ? 0x8 : 0x0)
        }
    }

    /// Bits of the low register that hold the address.
    var addressMaskLow: UInt32 { kind == .io ? 0xffff_fffc : 0xffff_fff0 }

    /// "64-bit prefetchable memory, 16 KiB": for messages.
    public var summary: String {
        let what: String
        switch kind {
        case .io: what = "I/O"
        case .memory32: what = prefetchable ? "32-bit prefetchable memory" : "32-bit memory"
        case .memory64: what = prefetchable ? "64-bit prefetchable memory" : "64-bit memory"
        }
        return "\(what), 0x\(String(size, radix: 16)) bytes"
    }
}
