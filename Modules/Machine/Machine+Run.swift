import CPU
import Devices
import Foundation
import IRQ
import Trace
import CHartState

/// How a run ended.
public enum MachineExit: Equatable, Sendable {
    /// The guest powered off (sifive_test, HTIF); its status is the process exit status.
    case poweroff(exitCode: Int32)
    /// `--timeout` expired.
    case timeout
    /// The user quit through the console (Ctrl-A X).
    case userQuit
    /// An attached GDB client killed the machine (`kill`).
    case killedByDebugger

    /// The `backplane run` exit status: the guest's, 124 for a timeout (as timeout(1)), 0 for a quit.
    public var status: Int32 {
        switch self {
        case .poweroff(let code): return code
        case .timeout: return 124
        case .userQuit, .killedByDebugger: return 0
        }
    }
}

extension Machine {
    /// Instructions a hart runs before the others get their turn and devices are polled: small
    /// enough that timers and console input are served within a fraction of a millisecond.
    static let sliceInstructions = 50_000
    /// Longest sleep while every hart waits for an interrupt, so console input is noticed promptly.
    static let longestIdleNanoseconds: UInt64 = 5_000_000

    /// Runs the harts round-robin on this thread until the guest powers off, the user quits or
    /// `timeout` seconds of host time pass. Deterministic for a given input: hart order is fixed.
    public func run(timeout: Double? = nil) -> MachineExit {
        let deadline = timeout.map { DispatchTime.now().uptimeNanoseconds + UInt64(max(0, $0) * 1e9) }
        plugins?.startHarts()
        if let exit = debuggerBeforeFirstInstruction(deadline: deadline) { return exit }
        while true {
            var anyRunning = false
            if control != nil, let exit = serveControl(deadline: deadline) { return exit }
            if let debugger, debugger.stopRequested || debugger.needsExactRun {
                switch debuggerSlice(debugger, deadline: deadline) {
                case .ran(let running): anyRunning = running
                case .exit(let exit): return exit
                }
            } else if Trace.mask != 0 {
                anyRunning = runTracedSlice()
            } else {
                for hart in harts {
                    if hart.state.pointee.waitingForInterrupt != 0 && hart.pendingAndEnabledInterrupts == 0 { continue }
                    anyRunning = true
                    _ = hart.run(budget: Machine.sliceInstructions)
                }
            }
            pollDevices()
            if let event = power.take() {
                switch event {
                case .poweroff(let code):
                    debugger?.machineExited(status: code)
                    return .poweroff(exitCode: code)
                case .reset: reboot(); continue
                }
            }
            if serial.quitRequested { return .userQuit }
            if let deadline, DispatchTime.now().uptimeNanoseconds >= deadline { return .timeout }
            if !anyRunning { sleepUntilNextEvent(deadline: deadline) }
        }
    }
}

extension Machine {
    /// A round of the harts with device tracing on: each event names the hart whose slice caused
    /// it and that hart's pc (Trace.swift); events between slices (device polling) name none.
    @inline(never)
    func runTracedSlice() -> Bool {
        var anyRunning = false
        Trace.clock = { [timebase] in timebase.now() }
        for (index, hart) in harts.enumerated() {
            if hart.state.pointee.waitingForInterrupt != 0 && hart.pendingAndEnabledInterrupts == 0 { continue }
            anyRunning = true
            Trace.hart = index
            Trace.pc = UnsafePointer(hart.state.pointer(to: \HartState.pc)!)
            _ = hart.run(budget: Machine.sliceInstructions)
        }
        Trace.hart = -1
        Trace.pc = nil
        return anyRunning
    }
}
