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
    /// `--replay`: the run left the recorded path (the message says where).
    case replayDiverged(String)

    /// The `backplane run` exit status: the guest's, 124 for a timeout (as timeout(1)), 0 for a quit.
    public var status: Int32 {
        switch self {
        case .poweroff(let code): return code
        case .timeout: return 124
        case .userQuit, .killedByDebugger: return 0
        case .replayDiverged: return 3
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
    /// `timeout` seconds of host time pass. Deterministic for a given input: hart order is fixed,
    /// and under the virtual clock so is every slice's length (docs/architecture.md, "The
    /// machine loop").
    public func run(timeout: Double? = nil) -> MachineExit {
        let exit = runLoop(timeout: timeout)
        guard let journal else { return exit }
        // Record the end, or check it against the recording.
        if let divergence = journal.finish(InputJournal.describe(exit)) { return .replayDiverged(divergence) }
        return exit
    }

    private func runLoop(timeout: Double?) -> MachineExit {
        let deadline = timeout.map { DispatchTime.now().uptimeNanoseconds + UInt64(max(0, $0) * 1e9) }
        plugins?.startHarts()
        if let exit = debuggerBeforeFirstInstruction(deadline: deadline) { return exit }
        while true {
            // Between two rounds, where every hart has finished its slice and the devices have
            // been polled: the point a run resumed from a snapshot starts from (its first round
            // comes next), so a snapshot taken here changes nothing about the schedule.
            if let scheduled = scheduledSnapshot, timebase.units >= scheduled.units { takeScheduledSnapshot(scheduled) }
            if control != nil, let exit = serveControl(deadline: deadline) { return exit }
            if let debugger, debugger.stopRequested || debugger.needsExactRun {
                if case .exit(let exit) = debuggerSlice(debugger, deadline: deadline) { return exit }
            } else {
                runRound()
            }
            pollDevices()
            if let journal {
                if let divergence = journal.check() { return .replayDiverged(divergence) }
                if let stop = journal.stopDue() { return stop }
            }
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
            if harts.allSatisfy({ $0.isIdle }) { idle(deadline: deadline) }
        }
    }

    /// One round: every hart that is not waiting for an interrupt runs a slice, in hart order.
    /// Under the virtual clock a round stops early when a device's deadline is due, so the
    /// devices are polled at exactly that instruction.
    /// A run resumed from a snapshot saved in the middle of a round (at a GDB stop) finishes
    /// that round first: the stopped hart the rest of its slice, then the harts after it.
    func runRound() {
        let traced = Trace.mask != 0
        if traced { Trace.clock = { [timebase] in timebase.now() } }
        var first = 0
        var carried: Int? = nil
        if let round = unfinishedRound {
            (first, carried) = (round.hart, round.budgetLeft)
            unfinishedRound = nil
        }
        for index in first..<harts.count {
            let hart = harts[index]
            let budget: Int
            if let left = carried {
                budget = left
                carried = nil
            } else {
                if hart.isIdle { continue }
                guard let next = sliceBudget() else { break }
                budget = next
            }
            if traced {
                // Device trace events name the hart whose slice caused them and its pc
                // (Trace.swift); events between slices (device polling) name none.
                Trace.hart = index
                Trace.pc = UnsafePointer(hart.state.pointer(to: \HartState.pc)!)
            }
            _ = runSlice(hart, budget: budget)
        }
        if traced {
            Trace.hart = -1
            Trace.pc = nil
        }
    }

    /// Runs `hart` for at most `budget` instructions and moves the virtual clock by what it used.
    @inline(__always)
    func runSlice(_ hart: Hart, budget: Int) -> HartStop {
        timebase.beginSlice(of: hart, budget: budget)
        let stop = hart.run(budget: budget)
        timebase.endSlice(of: hart, budget: budget)
        return stop
    }

    /// The next slice's budget: a full slice under the host clock; under the virtual clock never
    /// past the earliest deadline a device waits for. nil when that deadline is now: the devices
    /// must be polled before any hart runs on.
    func sliceBudget() -> Int? {
        guard timebase.isVirtual, let until = unitsUntilNextEvent() else { return Machine.sliceInstructions }
        guard until > 0 else { return nil }
        return Int(min(UInt64(Machine.sliceInstructions), until))
    }

    /// Virtual clock: units (instructions) until the earliest event a lifecycle participant
    /// waits for (a timer compare, an alarm, a plugin timer); nil when none waits for anything.
    func unitsUntilNextEvent() -> UInt64? {
        var earliest: UInt64? = nil
        for participant in lifecycle {
            if let next = participant.nanosecondsUntilNextEvent() { earliest = min(earliest ?? .max, next) }
        }
        // A scheduled snapshot (`--snapshot-at`) is no deadline: cutting a slice at its time would
        // end the running hart's slice where the uninterrupted run does not, and with two harts
        // change which one runs when (docs/snapshots.md, "Saving at a virtual time").
        return earliest.map { timebase.units(forNanoseconds: $0) }
    }

    /// `--snapshot-at`: at the first round boundary at or after the scheduled time (the clock is
    /// in the snapshot, so a resumed run starts from that time); the run goes on afterwards.
    private func takeScheduledSnapshot(_ scheduled: ScheduledSnapshot) {
        scheduledSnapshot = nil
        let path = scheduled.path
        do {
            try saveSnapshot(to: path)
            let units = timebase.units
            guard case .virtual(let rate) = timebase.clock else { return }  // --snapshot-at needs the virtual clock
            let seconds = String(format: "%.9f", Double(units) / Double(max(1, rate)))
            FileHandle.standardError.write(Data(("backplane: snapshot saved to \(path) at \(units) instructions (\(seconds) s) "
                                                 + "of machine time (asked for \(scheduled.asked))\n").utf8))
        } catch {
            FileHandle.standardError.write(Data("backplane: error: --snapshot-save: \(error)\n".utf8))
        }
    }

    /// Every hart waits for an interrupt. Virtual clock: jump to the next deadline, costing no
    /// host time; with none, nothing in the machine can happen until input arrives, so wait for
    /// it in host time with the virtual clock stopped. Host clock: sleep until the next event.
    func idle(deadline: UInt64?) {
        // Replaying, the next recorded input is a deadline too (the recorded machine, idle,
        // waited for it with its clock stopped or reached it at a device deadline). Slices are
        // not cut at it: the recorded run took it at a poll that ends a slice by the same rules.
        var next = unitsUntilNextEvent()
        if let input = journal?.unitsUntilNextInput() { next = min(next ?? .max, input) }
        if timebase.isVirtual, let until = next {
            timebase.advance(units: until)
            return
        }
        sleepUntilNextEvent(deadline: deadline)
    }
}

/// Where a round was left when the machine stopped in the middle of it (a GDB breakpoint or
/// watchpoint): hart `hart` has `budgetLeft` units of its slice still to run, and the harts
/// after it their whole slices. Saved in snapshots, so a resumed run finishes that round as
/// the stopped one does when it continues.
struct UnfinishedRound: Equatable {
    var hart: Int
    var budgetLeft: Int
}

extension Timebase {
    /// `hart` starts a slice of `budget` units (the machine loop and the debugger's).
    @inline(__always) func beginSlice(of hart: Hart, budget: Int) {
        beginSlice(budget: budget, clockBudget: hart.state.pointer(to: \HartState.clockBudget)!,
                   exitRequest: hart.state.pointer(to: \HartState.exitRequest)!)
    }

    /// `hart`'s slice of `budget` units ended: what it did not leave of it was used.
    @inline(__always) func endSlice(of hart: Hart, budget: Int) {
        endSlice(used: budget - Int(hart.state.pointee.budgetLeft))
    }
}

extension Hart {
    /// Waiting in WFI with nothing pending that would wake it: a round skips it.
    @inline(__always) var isIdle: Bool {
        state.pointee.waitingForInterrupt != 0 && pendingAndEnabledInterrupts == 0
    }
}
