import Memory

/// SiFive's test finisher as QEMU models it (`hw/misc/sifive_test.c`): a 32-bit write at
/// offset 0 whose low 16 bits are a status, and whose high 16 bits carry a failure code.
public final class SifiveTest: MMIODevice {
    /// Status values of the finisher register (QEMU `include/hw/misc/sifive_test.h`).
    public enum Status {
        public static let fail: UInt64 = 0x3333
        public static let pass: UInt64 = 0x5555
        public static let reset: UInt64 = 0x7777
    }

    /// Bytes the device occupies on QEMU `virt`.
    public static let regionSize: UInt64 = 0x1000

    public let power: PowerControl

    /// QEMU accepts 2- and 4-byte accesses; the bus widens a 2-byte write to a 4-byte one with
    /// zero upper bits, which is what the finisher sees on QEMU too.
    public var implementedSizes: AccessSizes { .word }

    public init(power: PowerControl) { self.power = power }

    /// The finisher is write-only; reads return 0.
    public func read(offset: UInt64, size: Int) -> UInt64 { 0 }

    public func write(offset: UInt64, size: Int, value: UInt64) {
        guard offset == 0 else { return }
        let code = Int32((value >> 16) & 0xffff)
        switch value & 0xffff {
        case Status.pass: power.request(.poweroff(exitCode: 0))
        // A failure must never look like success to a script, even if it carries code 0.
        case Status.fail: power.request(.poweroff(exitCode: code == 0 ? 1 : code))
        case Status.reset: power.request(.reset)
        default: break // QEMU logs a guest error and does nothing
        }
    }
}
