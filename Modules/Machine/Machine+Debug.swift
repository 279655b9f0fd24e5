import CPU
import Foundation
import GDB

/// The machine's side of `--gdb` (docs/debugging.md): listening, waiting for the client before the
/// first instruction (`--gdb-wait`), and the run loop's debugger slices.
extension Machine {
    /// Listens for a GDB client at `endpoint`. With `waitForClient` the machine does not run
    /// until one has connected and let it (`--gdb-wait`, QEMU's `-S -s`).
    public func attachGDB(at endpoint: GDBEndpoint, waitForClient: Bool) throws(MachineError) {
        let server: GDBServer
        do { server = try GDBServer(endpoint: endpoint) } catch { throw MachineError("\(error)") }
        let debugger = Debugger(harts: harts, server: server)
        debugger.waitsForClient = waitForClient
        debugger.monitorHandler = { [unowned self] line in monitor(line) }
        self.debugger = debugger
        server.startAccepting()
    }

    /// Stops listening (at the end of a run).
    public func detachGDB() {
        debugger?.server.close()
        debugger = nil
    }

    enum DebuggerSliceOutcome {
        case ran(anyRunning: Bool)
        case exit(MachineExit)
    }

    /// `--gdb-wait`: block until a client connects, then serve it before anything runs.
    func debuggerBeforeFirstInstruction(deadline: UInt64?) -> MachineExit? {
        guard let debugger, debugger.waitsForClient else { return nil }
        guard debugger.server.waitForClient(deadline: deadline) else { return .timeout }
        return apply(debugger.serve(nil, deadline: deadline, whileStopped: controlWhileStopped), deadline: deadline)
    }

    /// One round of the run loop with a debugger that wants control: serve a pending stop
    /// request, then run the harts exactly and serve the stops they hit. A stop in the middle
    /// of a round does not end it: when the client continues, the stopped hart runs the rest of
    /// its slice and the harts after it theirs, as without the debugger, so a breakpoint (and a
    /// `monitor snapshot save` at it) leaves the schedule as it was. A single step does end it.
    func debuggerSlice(_ debugger: Debugger, deadline: UInt64?) -> DebuggerSliceOutcome {
        if debugger.stopRequested {
            if let exit = apply(debugger.serve(debugger.interruptReason, deadline: deadline, whileStopped: controlWhileStopped),
                                 deadline: deadline) {
                return .exit(exit)
            }
        }
        guard debugger.needsExactRun else {
            // Continue without points: this round runs freely.
            runRound()
            return .ran(anyRunning: true)
        }
        if debugger.isStepping {
            unfinishedRound = nil
            let stop = debugger.step(clock: timebase)
            if let exit = apply(debugger.serve(stop, deadline: deadline, whileStopped: controlWhileStopped), deadline: deadline) {
                return .exit(exit)
            }
            return .ran(anyRunning: true)
        }
        var index = 0
        var carried: Int? = nil
        if let round = unfinishedRound {
            (index, carried) = (round.hart, round.budgetLeft)
            unfinishedRound = nil
        }
        var anyRunning = false
        while index < harts.count {
            let budget: Int
            if let left = carried {
                budget = left
                carried = nil
            } else {
                if harts[index].isIdle { index += 1; continue }
                guard let next = sliceBudget() else { break }
                budget = next
            }
            anyRunning = true
            guard let stop = debugger.runExactly(hart: index, budget: budget, clock: timebase) else { index += 1; continue }
            // Stopped before an instruction, so something is left of the slice. While the client
            // looks, the machine is in the middle of this round (a snapshot saved now says so).
            let left = Int(harts[index].state.pointee.budgetLeft)
            unfinishedRound = UnfinishedRound(hart: index, budgetLeft: left)
            let verdict = debugger.serve(stop, deadline: deadline, whileStopped: controlWhileStopped)
            unfinishedRound = nil
            if let exit = apply(verdict, deadline: deadline) { return .exit(exit) }
            if debugger.isStepping { return .ran(anyRunning: true) }
            carried = left
        }
        return .ran(anyRunning: anyRunning)
    }

    /// Serves the control socket while a GDB client holds the machine stopped (its commands see
    /// the stopped machine: `info`, `snapshot save`, `quit`); true once a `quit` asks the
    /// machine to go away, which ends the hold (the run loop then exits as for any quit).
    var controlWhileStopped: (() -> Bool)? {
        guard let control else { return nil }
        return { [unowned self] in
            if control.commandPending.load(ordering: .acquiring) { control.serve { self.execute(command: $0) } }
            return controlState.quit
        }
    }

    /// What a debugger's verdict means for the run: nil to go on.
    private func apply(_ verdict: Debugger.Verdict, deadline: UInt64?) -> MachineExit? {
        switch verdict {
        case .run: return nil
        case .detached:
            // A client that held the machine past --timeout ends the run as a timeout would.
            if let deadline, DispatchTime.now().uptimeNanoseconds >= deadline { return .timeout }
            // A control `quit` while the client held the machine (`controlWhileStopped`).
            return controlState.quit ? .userQuit : nil
        case .kill: return .killedByDebugger
        }
    }
}
