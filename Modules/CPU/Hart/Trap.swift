/// A synchronous exception raised while executing an instruction (RISC-V privileged spec §3.1.15).
///
/// Thrown with typed throws, so raising one costs a return, not an allocation.
public struct Trap: Error, Equatable {
    /// The `mcause`/`scause` exception code (interrupt bit clear).
    public let cause: UInt64
    /// The value for `mtval`/`stval`: faulting address or instruction bits, else 0.
    public let value: UInt64

    public init(cause: UInt64, value: UInt64) {
        self.cause = cause
        self.value = value
    }

    public static func instructionAddressMisaligned(_ address: UInt64) -> Trap { Trap(cause: 0, value: address) }
    public static func instructionAccessFault(_ address: UInt64) -> Trap { Trap(cause: 1, value: address) }
    public static func illegalInstruction(_ bits: UInt32) -> Trap { Trap(cause: 2, value: UInt64(bits)) }
    public static func breakpoint(_ address: UInt64) -> Trap { Trap(cause: 3, value: address) }
    public static func loadAddressMisaligned(_ address: UInt64) -> Trap { Trap(cause: 4, value: address) }
    public static func loadAccessFault(_ address: UInt64) -> Trap { Trap(cause: 5, value: address) }
    public static func storeAddressMisaligned(_ address: UInt64) -> Trap { Trap(cause: 6, value: address) }
    public static func storeAccessFault(_ address: UInt64) -> Trap { Trap(cause: 7, value: address) }
    public static func environmentCall(from privilege: UInt64) -> Trap { Trap(cause: 8 + privilege, value: 0) }
    public static func instructionPageFault(_ address: UInt64) -> Trap { Trap(cause: 12, value: address) }
    public static func loadPageFault(_ address: UInt64) -> Trap { Trap(cause: 13, value: address) }
    public static func storePageFault(_ address: UInt64) -> Trap { Trap(cause: 15, value: address) }
}
