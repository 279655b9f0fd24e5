import Memory

/// Enrolls a `VFIOPCIFunction` in the machine lifecycle for its interrupts only: `poll()` drains
/// its eventfds, and while interrupts are routed the machine sleeps at most 200 µs when every
/// hart waits (an interrupt is then taken at most that late). Reset is not here: the host bridge
/// resets its functions (`PCIFunction.reset`), which resets the device through VFIO.
public final class VFIOInterruptPoller: DeviceLifecycle {
    public let function: VFIOPCIFunction

    public init(_ function: VFIOPCIFunction) {
        self.function = function
    }

    public func poll() { function.poll() }

    public func nanosecondsUntilNextEvent() -> UInt64? { function.interruptsRouted ? 200_000 : nil }
}
