import Devices
import Foundation

/// Ends the process with status 124 when `--timeout` has passed and the machine loop has not
/// returned by itself: `Machine.run` checks its deadline between slices, but a host call that
/// never returns (a plugin callback stuck in a loop, `open()` of a FIFO with no reader, a write
/// to a full pipe) would keep it from ever looking. The watchdog is a separate thread, so it
/// honours `--timeout` in every state.
final class Watchdog: @unchecked Sendable {
    /// Seconds past the deadline the machine gets to stop by itself first (it normally stops
    /// within a slice, a few milliseconds).
    static let grace = 2.0
    /// The longest `--timeout` accepted: a billion seconds (31 years). Longer, or `inf`, is
    /// refused rather than overflowing the nanosecond deadline.
    static let maximumTimeout = 1e9

    private let lock = NSLock()
    private var finished = false
    private let restoreTerminal: Bool

    /// Starts watching: after `seconds` plus the grace, unless `finish()` was called.
    init(seconds: Double, restoreTerminal: Bool) {
        self.restoreTerminal = restoreTerminal
        let deadline = Date().addingTimeInterval(seconds + Watchdog.grace)
        let thread = Thread { [self] in
            Thread.sleep(until: deadline)
            fire(seconds: seconds)
        }
        thread.name = "backplane-watchdog"
        thread.start()
    }

    /// The machine loop returned: the watchdog does nothing.
    func finish() {
        lock.lock()
        finished = true
        lock.unlock()
    }

    private func fire(seconds: Double) {
        lock.lock()
        let done = finished
        lock.unlock()
        guard !done else { return }
        if restoreTerminal { StdioSerialBackend.restoreTerminal() }
        let message = "\nbackplane: timeout after \(seconds) s (the machine did not stop by itself: a device, plugin or file was stuck)\n"
        _ = message.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress!, $0.count - 1) }
        _exit(124)
    }
}

/// Parses `--timeout`: a positive, finite number of seconds up to `Watchdog.maximumTimeout`.
func validateTimeout(_ timeout: Double?) {
    guard let timeout else { return }
    guard timeout > 0, timeout.isFinite, timeout <= Watchdog.maximumTimeout else {
        fail("--timeout: '\(timeout)' is not a number of seconds greater than 0 and at most \(Int(Watchdog.maximumTimeout))")
    }
}
