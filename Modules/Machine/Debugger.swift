import CPU
import Foundation
import GDB
import IRQ
import CHartState

/// A GDB client attached to a running machine (`--gdb`, docs/debugging.md): the harts as GDB
/// threads, their registers in GDB's RISC-V numbering, breakpoints and watchpoints, and the run
/// loop's side of all-stop debugging.
///
/// While no breakpoint or watchpoint is set and no step is pending, harts run as usual (the JIT
/// included) and a Ctrl-C or a new connection stops them at the next slice boundary. Otherwise the
/// run loop hands each hart's slice to `runSlice`, which runs it one instruction at a time through
/// the interpreter (`Hart.runDebug`), so a breakpoint or watched access is never run past under
/// either engine.
final class Debugger: GDBTarget {
    let harts: [Hart]
    let server: GDBServer
    private(set) var stub: GDBStub!
    let points = HartDebugPoints()
    let registers: [GDBRegister]
    /// `--gdb-wait`: nothing runs before a client connected and resumed.
    var waitsForClient = false
    /// Runs `monitor` commands (the machine's command set, shared with the control socket).
    var monitorHandler: (String) -> String = { _ in "no monitor commands\n" }

    /// How the client last let the machine run.
    private var resume = GDBResume.continueAll
    /// Harts standing on the point they last stopped at: their next instruction is not checked.
    private var standingOnStop: Set<Int> = []

    init(harts: [Hart], server: GDBServer) {
        self.harts = harts
        self.server = server
        registers = RISCVGDBRegisters.rv64(csrs: (harts.first?.debugImplementedCSRNames ?? Hart.debugCSRNames).map { (Int($0.number), $0.name) },
                                           integerNames: ABIRegisterNames.integer, floatNames: ABIRegisterNames.float)
        stub = GDBStub(server: server, session: GDBSession(target: self))
    }

    /// Whether the run loop must run harts through `runSlice` (exact stops) rather than freely.
    var needsExactRun: Bool { !points.isEmpty || resume.stepThread != nil }

    /// A Ctrl-C, a new client or a vanished one asks the machine to stop at this slice boundary.
    var stopRequested: Bool { server.interruptRequested.load(ordering: .acquiring) }

    /// What the machine does after the client had its say.
    enum Verdict: Equatable {
        case run
        /// The client detached (or left): breakpoints are gone, the machine runs on unobserved.
        case detached
        /// The client asked to kill the machine.
        case kill
    }

    /// Whether the client asked for a single step (`stepi`): the run loop steps instead of
    /// running a round.
    var isStepping: Bool { resume.stepThread != nil }

    /// A single step: the stepped hart runs one instruction with interrupts held, as QEMU's
    /// stub does by default; with `othersRun` the other harts advance one instruction in
    /// lockstep. A step is outside the rounds, so it changes where later slices end (as the
    /// control socket's `step` does).
    func step(clock: Timebase) -> GDBStopReason? {
        guard let step = resume.stepThread else { return nil }
        let index = step - 1
        for (other, hart) in harts.enumerated() where resume.othersRun || other == index {
            clock.beginSlice(of: hart, budget: 1)
            _ = hart.runDebug(budget: 1, points: points, resuming: true, interrupts: other != index)
            clock.endSlice(of: hart, budget: 1)
        }
        standingOnStop.removeAll()
        resume = .continueAll
        return .stepped(thread: step)
    }

    /// Runs hart `index` exactly for at most `budget` instructions (its slice, or what a stop
    /// left of it); returns the stop it hit, with what is left of the budget in the hart's
    /// `budgetLeft`, or nil when the slice ended as `Hart.run` would have ended it.
    func runExactly(hart index: Int, budget: Int, clock: Timebase) -> GDBStopReason? {
        let hart = harts[index]
        let resuming = standingOnStop.remove(index) != nil
        clock.beginSlice(of: hart, budget: budget)
        let stop = hart.runDebug(budget: budget, points: points, resuming: resuming)
        clock.endSlice(of: hart, budget: budget)
        switch stop {
        case .hart:
            return nil
        case .breakpoint:
            standingOnStop = [index]
            return .breakpoint(thread: index + 1, hardware: false)
        case .watchpoint(let watch, let address):
            standingOnStop = [index]
            let kind: GDBBreakpointKind = watch.access == .read ? .readWatchpoint
                : watch.access == .write ? .writeWatchpoint : .accessWatchpoint
            return .watchpoint(thread: index + 1, kind: kind, address: address)
        }
    }

    /// Tells the client why the machine stopped (nil: it just attached and will ask) and serves
    /// it until it resumes, detaches or kills; `deadline` is the run's `--timeout` in uptime ns.
    func serve(_ reason: GDBStopReason?, deadline: UInt64?, whileStopped: (() -> Bool)? = nil) -> Verdict {
        switch stub.stopped(reason, deadline: deadline, whileStopped: whileStopped) {
        case .resume(let request):
            resume = request
            return .run
        case .kill:
            return .kill
        case .detach, .none:
            points.removeAll()
            standingOnStop.removeAll()
            resume = .continueAll
            return .detached
        }
    }

    /// The stop to report for a Ctrl-C or a new connection: the first hart that is not asleep.
    var interruptReason: GDBStopReason {
        let awake = harts.firstIndex { $0.state.pointee.waitingForInterrupt == 0 } ?? 0
        return .interrupted(thread: awake + 1)
    }

    /// The guest powered off: tell an attached client (`W` packet).
    func machineExited(status: Int32) {
        guard server.isConnected else { return }
        server.send(stub.session.stopReply(for: .exited(status: UInt8(truncatingIfNeeded: status))))
    }

    // MARK: GDBTarget

    var threadCount: Int { harts.count }

    private func hart(_ thread: Int) -> Hart? { thread >= 1 && thread <= harts.count ? harts[thread - 1] : nil }

    func readRegister(_ number: Int, thread: Int) -> UInt64? {
        guard let hart = hart(thread) else { return nil }
        switch number {
        case 0..<32: return hart.debugIntegerRegister(number)
        case RISCVGDBRegisters.pc: return hart.state.pointee.pc
        case RISCVGDBRegisters.firstFloat..<RISCVGDBRegisters.firstFloat + 32:
            return hart.debugFloatRegister(number - RISCVGDBRegisters.firstFloat)
        case RISCVGDBRegisters.priv: return hart.state.pointee.privilege
        case RISCVGDBRegisters.firstCSR..<RISCVGDBRegisters.priv:
            return hart.debugReadCSR(UInt32(number - RISCVGDBRegisters.firstCSR))
        default: return nil
        }
    }

    func writeRegister(_ number: Int, value: UInt64, thread: Int) -> Bool {
        guard let hart = hart(thread) else { return false }
        switch number {
        case 0..<32: return hart.debugSetIntegerRegister(number, value)
        case RISCVGDBRegisters.pc:
            hart.state.pointee.pc = value
            standingOnStop.remove(thread - 1)  // A new pc is a new place: check it.
            return true
        case RISCVGDBRegisters.firstFloat..<RISCVGDBRegisters.firstFloat + 32:
            hart.debugSetFloatRegister(number - RISCVGDBRegisters.firstFloat, value)
            return true
        case RISCVGDBRegisters.priv: return hart.debugSetPrivilege(value)
        case RISCVGDBRegisters.firstCSR..<RISCVGDBRegisters.priv:
            return hart.debugWriteCSR(UInt32(number - RISCVGDBRegisters.firstCSR), value)
        default: return false
        }
    }

    func readMemory(address: UInt64, length: Int, thread: Int) -> [UInt8] {
        hart(thread)?.debugReadMemory(address, length: length) ?? []
    }

    func writeMemory(address: UInt64, bytes: [UInt8], thread: Int) -> Bool {
        hart(thread)?.debugWriteMemory(address, bytes: bytes) ?? false
    }

    func insertBreakpoint(_ kind: GDBBreakpointKind, address: UInt64, length: UInt64) -> Bool {
        switch kind {
        // Software and hardware breakpoints are the same here: the pc is compared before each
        // instruction, so neither writes an EBREAK into guest memory.
        case .software, .hardware: return points.insertBreakpoint(address)
        case .writeWatchpoint: return points.insertWatchpoint(.init(address: address, length: length, access: .write))
        case .readWatchpoint: return points.insertWatchpoint(.init(address: address, length: length, access: .read))
        case .accessWatchpoint: return points.insertWatchpoint(.init(address: address, length: length, access: .access))
        }
    }

    func removeBreakpoint(_ kind: GDBBreakpointKind, address: UInt64, length: UInt64) -> Bool {
        switch kind {
        case .software, .hardware: return points.removeBreakpoint(address)
        case .writeWatchpoint: return points.removeWatchpoint(.init(address: address, length: length, access: .write))
        case .readWatchpoint: return points.removeWatchpoint(.init(address: address, length: length, access: .read))
        case .accessWatchpoint: return points.removeWatchpoint(.init(address: address, length: length, access: .access))
        }
    }

    func threadDescription(_ thread: Int) -> String {
        guard let hart = hart(thread) else { return "" }
        let mode = ["U", "S", "?", "M"][Int(hart.state.pointee.privilege & 3)]
        let state = hart.state.pointee.waitingForInterrupt != 0 ? ", in WFI" : ""
        return "hart \(thread - 1), \(mode)-mode\(state)"
    }

    func monitor(_ command: String) -> String { monitorHandler(command) }
}
