import CHartState
import Memory

// What a debugger needs from a hart: run until a breakpoint or a watched access, exactly; read
// and write registers, CSRs and memory without side effects on the guest.
//
// Exactness under both engines comes from running debugged harts one instruction at a time
// through the interpreter (`runDebug`): the pc is compared before each instruction and the data
// address of each load, store and AMO is computed before it executes, so the hart stops *before*
// the instruction a breakpoint or watchpoint names, the way GDB expects of RISC-V (non-steppable
// watchpoints: gdb/riscv-tdep.c). The machine uses it only while breakpoints or watchpoints exist
// or a step is asked for; otherwise harts run at full speed (JIT) and an interrupt request stops
// them at the next slice boundary.

/// The breakpoints and watchpoints a debugger set, by guest virtual address.
public final class HartDebugPoints {
    public enum Access: Equatable, Sendable { case read, write, access }

    public struct Watchpoint: Equatable, Sendable {
        public let address: UInt64
        public let length: UInt64
        public let access: Access
        public init(address: UInt64, length: UInt64, access: Access) {
            self.address = address
            self.length = length
            self.access = access
        }
    }

    public private(set) var breakpoints: Set<UInt64> = []
    public private(set) var watchpoints: [Watchpoint] = []

    /// At most this many breakpoints: a debugger client (or anything that speaks the GDB
    /// protocol to the socket) cannot grow the set, which every debugged instruction probes,
    /// without bound. GDB reports a refused insertion and goes on.
    public static let breakpointLimit = 4096
    /// At most this many watchpoints: every debugged load and store scans them all.
    public static let watchpointLimit = 64

    public init() {}

    public var isEmpty: Bool { breakpoints.isEmpty && watchpoints.isEmpty }

    /// Adds a breakpoint at `address`; false when the limit is reached (one already there counts
    /// as added).
    @discardableResult public func insertBreakpoint(_ address: UInt64) -> Bool {
        guard breakpoints.count < Self.breakpointLimit || breakpoints.contains(address) else { return false }
        breakpoints.insert(address)
        return true
    }
    @discardableResult public func removeBreakpoint(_ address: UInt64) -> Bool { breakpoints.remove(address) != nil }

    /// Adds a watchpoint; false when the limit is reached.
    @discardableResult public func insertWatchpoint(_ watchpoint: Watchpoint) -> Bool {
        guard watchpoints.count < Self.watchpointLimit else { return false }
        watchpoints.append(watchpoint)
        return true
    }
    @discardableResult public func removeWatchpoint(_ watchpoint: Watchpoint) -> Bool {
        guard let index = watchpoints.firstIndex(of: watchpoint) else { return false }
        watchpoints.remove(at: index)
        return true
    }

    public func removeAll() {
        breakpoints.removeAll()
        watchpoints.removeAll()
    }

    /// The first watchpoint a `size`-byte access at `address` touches, if any.
    func watchpoint(hitBy address: UInt64, size: UInt64, isStore: Bool) -> Watchpoint? {
        watchpoints.first { watch in
            guard watch.access == .access || (watch.access == .write) == isStore else { return false }
            // [address, address+size) and [watch.address, watch.address+length) overlap when either
            // start lies inside the other range; unsigned differences keep this right near 2^64.
            return address &- watch.address < watch.length || watch.address &- address < size
        }
    }
}

/// Why `runDebug` returned.
public enum HartDebugStop: Equatable, Sendable {
    /// As `run(budget:)` would have (budget used, WFI, exit request).
    case hart(HartStop)
    /// The pc reached a breakpoint; the instruction there has not executed.
    case breakpoint(pc: UInt64)
    /// The next instruction would access a watched location; it has not executed.
    case watchpoint(HartDebugPoints.Watchpoint, address: UInt64)
}

extension Hart {
    /// Runs up to `budget` instructions through the interpreter, one at a time, stopping before
    /// an instruction at a breakpoint or one whose data access touches a watchpoint. With
    /// `resuming`, the first instruction is not checked (it is the one the last stop was at).
    /// With `interrupts` false, pending interrupts wait (how GDB's single step behaves on QEMU,
    /// whose default step masks them). The LR reservation survives between the steps, so LR/SC
    /// loops make progress under a debugger; it is dropped on return as `run` drops it.
    public func runDebug(budget: Int, points: HartDebugPoints, resuming: Bool, interrupts: Bool = true) -> HartDebugStop {
        var remaining = budget
        defer {
            state.pointee.exitRequest = 0
            state.pointee.reservationValid = 0
            state.pointee.budgetLeft = Int64(remaining)
        }
        if state.pointee.waitingForInterrupt != 0 {
            guard pendingAndEnabledInterrupts != 0 else { return .hart(.waitingForInterrupt) }
            state.pointee.waitingForInterrupt = 0
        }
        var check = !resuming
        while remaining > 0 {
            if state.pointee.exitRequest != 0 { return .hart(.exitRequested) }
            if interrupts && (state.pointee.mip | state.pointee.mipExternal) & state.pointee.mie != 0 && takePendingInterrupt() {
                remaining -= 1
                check = true
                continue
            }
            let pc = state.pointee.pc
            if check {
                if points.breakpoints.contains(pc) { return .breakpoint(pc: pc) }
                if !points.watchpoints.isEmpty, let (address, size, isStore) = dataAccess(at: pc),
                   let watch = points.watchpoint(hitBy: address, size: size, isStore: isStore) {
                    return .watchpoint(watch, address: address)
                }
            }
            check = true
            state.pointee.clockBudget = Int64(remaining)
            remaining -= runBlock(limit: 1)
            if state.pointee.waitingForInterrupt != 0 { return .hart(.waitingForInterrupt) }
        }
        return .hart(.budgetExhausted)
    }

    /// The virtual address, size and direction of the data access the instruction at `pc` is
    /// about to make, computed from the current registers; nil for instructions that access no
    /// data or whose fetch faults (they trap before any access).
    func dataAccess(at pc: UInt64) -> (address: UInt64, size: UInt64, isStore: Bool)? {
        guard let slot = try? decodeSingle(pc) else { return nil }
        let instruction = blocks.instructions(ofSlot: slot)[0]
        let base = registers[Int(instruction.rs1)]
        switch instruction.op {
        case .lb, .lbu: return (base &+ instruction.imm, 1, false)
        case .lh, .lhu: return (base &+ instruction.imm, 2, false)
        case .lw, .lwu: return (base &+ instruction.imm, 4, false)
        case .ld: return (base &+ instruction.imm, 8, false)
        case .sb: return (base &+ instruction.imm, 1, true)
        case .sh: return (base &+ instruction.imm, 2, true)
        case .sw: return (base &+ instruction.imm, 4, true)
        case .sd: return (base &+ instruction.imm, 8, true)
        case .lr: return (base, instruction.imm, false)
        case .sc, .amoswap, .amoadd, .amoxor, .amoand, .amoor, .amomin, .amomax, .amominu, .amomaxu:
            return (base, instruction.imm, true)  // An AMO reads and writes; a write is what watches see.
        case .floatingPoint:
            // FLW/FLD (LOAD-FP, 0x07) and FSW/FSD (STORE-FP, 0x27): unprivileged spec §11.5, §12.3.
            let raw = instruction.raw
            let opcode = raw & 0x7F
            let size: UInt64 = (raw >> 12) & 7 == 2 ? 4 : (raw >> 12) & 7 == 3 ? 8 : 0
            let rs1 = registers[Int((raw >> 15) & 0x1F)]
            guard size != 0 else { return nil }
            if opcode == 0x07 {
                return (rs1 &+ signExtend(UInt64(raw >> 20), width: 12), size, false)
            }
            if opcode == 0x27 {
                let offset = UInt64((raw >> 25) << 5 | (raw >> 7) & 0x1F)
                return (rs1 &+ signExtend(offset, width: 12), size, true)
            }
            return nil
        default:
            return nil
        }
    }

    /// The physical address `virtual` maps to for data at the current privilege, ignoring
    /// permissions and leaving A/D bits alone (a debugger looks; it does not access). Under
    /// M-mode without translation it is `virtual`. nil when nothing is mapped there.
    public func debugTranslate(_ virtual: UInt64) -> UInt64? {
        if dataPrivilege == privilegeMachine { return virtual }
        return try? translate(virtual, kind: .load, privilege: privilegeSupervisor, inspecting: true)
    }

    /// Up to `length` bytes of RAM or ROM at virtual address `address`; shorter at the first byte
    /// that is unmapped or not memory (MMIO is never read: reads can have side effects).
    public func debugReadMemory(_ address: UInt64, length: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(length)
        var virtual = address
        while bytes.count < length {
            guard let physical = debugTranslate(virtual), let region = bus.region(containing: physical),
                  region.kind == .ram || region.kind == .rom, let value = bus.read(physical, size: 1) else { break }
            bytes.append(UInt8(truncatingIfNeeded: value))
            virtual &+= 1
        }
        return bytes
    }

    /// Writes `bytes` to RAM at virtual address `address` through the bus (so decoded and
    /// translated code there is dropped, as after a guest store); false, having written nothing,
    /// if any byte is not RAM.
    public func debugWriteMemory(_ address: UInt64, bytes: [UInt8]) -> Bool {
        var targets: [UInt64] = []
        targets.reserveCapacity(bytes.count)
        for offset in 0..<bytes.count {
            guard let physical = debugTranslate(address &+ UInt64(offset)), let region = bus.region(containing: physical),
                  region.kind == .ram else { return false }
            targets.append(physical)
        }
        for (physical, byte) in zip(targets, bytes) { _ = bus.write(physical, size: 1, value: UInt64(byte)) }
        return true
    }

    /// Integer register `index` (0-31).
    public func debugIntegerRegister(_ index: Int) -> UInt64 { registers[index & 31] }

    /// Sets integer register `index`; x0 stays zero (false).
    public func debugSetIntegerRegister(_ index: Int, _ value: UInt64) -> Bool {
        guard index > 0 && index < 32 else { return false }
        registers[index] = value
        return true
    }

    /// FP register `index` (0-31) as raw bits (singles NaN-boxed).
    public func debugFloatRegister(_ index: Int) -> UInt64 {
        withUnsafeBytes(of: state.pointee.f) { $0.load(fromByteOffset: (index & 31) * 8, as: UInt64.self) }
    }

    public func debugSetFloatRegister(_ index: Int, _ value: UInt64) {
        withUnsafeMutableBytes(of: &state.pointee.f) { $0.storeBytes(of: value, toByteOffset: (index & 31) * 8, as: UInt64.self) }
    }

    /// Moves the hart to privilege `level` (0 U, 1 S, 3 M, as GDB's `priv` register encodes it);
    /// false for the reserved 2.
    public func debugSetPrivilege(_ level: UInt64) -> Bool {
        guard level == privilegeUser || level == privilegeSupervisor || level == privilegeMachine else { return false }
        state.pointee.privilege = level
        flushTranslations()
        noteTranslationContextChange()
        return true
    }

    /// A CSR's value as the debugger sees it: no privilege check, no side effects.
    public func debugReadCSR(_ number: UInt32) -> UInt64? { try? readCSR(number, raw: 0) }

    /// Writes a CSR as an M-mode `csrw` would, without the privilege check; false if the CSR does
    /// not exist or is read-only.
    public func debugWriteCSR(_ number: UInt32, _ value: UInt64) -> Bool {
        guard number >> 10 != 3, (try? readCSR(number, raw: 0)) != nil else { return false }
        do throws(Trap) { try writeCSR(number, value, raw: 0) } catch { return false }
        flushTranslations()
        noteTranslationContextChange()
        return true
    }

    /// Every CSR the hart implements by name, for a debugger's register list.
    public static var debugCSRNames: [(number: UInt32, name: String)] {
        CSRNumber.allCases.map { ($0.rawValue, $0.name) }.sorted { $0.number < $1.number }
    }

    /// `debugCSRNames` without the CSRs of extensions this hart lacks (`stimecmp` without
    /// Sstc), for a debugger's view of this machine's harts.
    public var debugImplementedCSRNames: [(number: UInt32, name: String)] {
        Self.debugCSRNames.filter { implementsSstc || $0.number != CSRNumber.stimecmp.rawValue }
    }
}
