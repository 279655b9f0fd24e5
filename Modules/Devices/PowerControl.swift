/// A request from the guest to stop or restart the machine.
public enum PowerEvent: Sendable, Equatable {
    /// Power off; the emulator exits with `exitCode` (0 = the guest reported success).
    case poweroff(exitCode: Int32)
    /// Reset the machine.
    case reset
}

/// Where devices that end the run (sifive_test, HTIF) report; the machine reads it after each
/// slice of execution. Keeping this out of `MMIODevice` keeps the bus protocol small.
public final class PowerControl {
    /// The first event requested since the last `take()`; later ones are ignored so the
    /// guest's first verdict is the one reported.
    public private(set) var event: PowerEvent?

    public init() {}

    /// Records `event` unless one is already waiting.
    public func request(_ event: PowerEvent) {
        if self.event == nil { self.event = event }
    }

    /// Returns the waiting event and clears it (e.g. after the machine performed a reset).
    public func take() -> PowerEvent? {
        defer { event = nil }
        return event
    }
}
