import Foundation

/// Anything that takes numbered wired interrupt sources: a PLIC, an APLIC.
public protocol InterruptController: AnyObject {
    /// Number of valid sources; source 0 is reserved ("no interrupt") on RISC-V controllers.
    var sourceCount: Int { get }
    /// Drives source `source` to `level` (true = asserted). Level-triggered.
    func setLevel(source: Int, level: Bool)
}

/// One wired interrupt output, held by a device. The device never learns what is behind it.
public struct IRQLine {
    private unowned let controller: any InterruptController
    public let source: Int

    public init(controller: any InterruptController, source: Int) {
        self.controller = controller
        self.source = source
    }

    /// Asserts (`true`) or deasserts the line.
    @inline(__always) public func set(_ level: Bool) { controller.setLevel(source: source, level: level) }
    public func raise() { set(true) }
}

/// Interrupt bit numbers in mip/mie (RISC-V privileged spec §3.1.9).
public enum InterruptBit {
    public static let supervisorSoftware = 1
    public static let machineSoftware = 3
    public static let supervisorTimer = 5
    public static let machineTimer = 7
    public static let supervisorExternal = 9
    public static let machineExternal = 11
}

/// A hart's interrupt input pins, driven by the PLIC/APLIC (external) and the ACLINT (timer,
/// software). Implemented by the CPU's hart; controllers hold one per hart.
public protocol HartInterruptInputs: AnyObject {
    /// Sets or clears the externally driven `mip` bit `bit` (an `InterruptBit`).
    func setInterruptPending(bit: Int, _ level: Bool)
}

/// The machine's timebase: `mtime` and the `time` CSR count in its ticks.
///
/// It follows the host's monotonic clock (as QEMU's `virt` does), so guest timeouts take real
/// time; a sleeping machine can compute how long to wait for the next deadline.
public final class Timebase {
    /// Ticks per second; 10 MHz as on QEMU's `virt` and in its device tree.
    public let frequency: UInt64
    private let start: UInt64
    /// Added to the clock when the guest writes `mtime`.
    private var offset: UInt64 = 0

    public init(frequency: UInt64 = 10_000_000) {
        self.frequency = frequency
        start = Timebase.hostNanoseconds()
    }

    /// Current time in ticks.
    @inline(__always) public func now() -> UInt64 {
        let elapsed = Timebase.hostNanoseconds() &- start
        return ticks(fromNanoseconds: elapsed) &+ offset
    }

    /// Makes `now()` read `value` from this moment on (a guest write to `mtime`).
    public func set(_ value: UInt64) {
        offset = offset &+ (value &- now())
    }

    /// Host nanoseconds until the timebase reaches `deadline` (0 if already past).
    public func nanoseconds(until deadline: UInt64) -> UInt64 {
        let current = now()
        guard deadline > current else { return 0 }
        let ticks = deadline - current
        return ticks.multipliedFullWidth(by: 1_000_000_000).low / frequency
    }

    @inline(__always) private func ticks(fromNanoseconds ns: UInt64) -> UInt64 {
        // 10 MHz: one tick per 100 ns; the general case divides a 128-bit product.
        if frequency == 10_000_000 { return ns / 100 }
        let product = ns.multipliedFullWidth(by: frequency)
        return frequency.dividingFullWidth((product.high, product.low)).quotient / 1_000_000_000
    }

    @inline(__always) static func hostNanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
    }
}
