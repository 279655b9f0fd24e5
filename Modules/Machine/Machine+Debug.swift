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
    /// request, then run the harts exactly and serve the stop they hit.
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
        let (stop, anyRunning) = debugger.runSlice(budget: sliceBudget() ?? 0, clock: timebase)
        if let stop, let exit = apply(debugger.serve(stop, deadline: deadline, whileStopped: controlWhileStopped), deadline: deadline) {
            return .exit(exit)
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
