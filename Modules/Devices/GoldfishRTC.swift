import Foundation
import IRQ
import Memory

/// The Android goldfish real-time clock as QEMU models it (`hw/rtc/goldfish_rtc.c`; register
/// list in the kernel's `Documentation/devicetree/bindings/rtc/google,goldfish-rtc.txt` and
/// Android emulator `GOLDFISH-VIRTUAL-HARDWARE.TXT`).
///
/// Time is host wall-clock nanoseconds since the Unix epoch plus an offset the guest can move
/// by writing TIME. The alarm raises the interrupt line when the time reaches ALARM, if
/// IRQ_ENABLED; `poll()` checks for expiry.
public final class GoldfishRTC: MMIODevice {
    /// Register offsets, all 32-bit.
    public enum Register {
        /// Reading TIME_LOW latches the high half into TIME_HIGH, so LOW-then-HIGH is consistent.
        public static let timeLow: UInt64 = 0x00
        public static let timeHigh: UInt64 = 0x04
        /// Writing ALARM_LOW arms the alarm (write ALARM_HIGH first).
        public static let alarmLow: UInt64 = 0x08
        public static let alarmHigh: UInt64 = 0x0c
        public static let interruptEnabled: UInt64 = 0x10
        public static let clearAlarm: UInt64 = 0x14
        /// 1 while an alarm is armed and has not fired.
        public static let alarmStatus: UInt64 = 0x18
        public static let clearInterrupt: UInt64 = 0x1c
    }

    /// Bytes the device occupies on QEMU `virt`.
    public static let regionSize: UInt64 = 0x1000

    public var implementedSizes: AccessSizes { .word }
    public var irq: IRQLine?

    /// Host wall-clock nanoseconds; replaceable for tests.
    private let clock: () -> UInt64
    /// Added to the host clock; changed by guest writes to TIME.
    private var offset: UInt64 = 0
    private var latchedTimeHigh: UInt32 = 0
    private var alarm: UInt64 = 0
    private var alarmArmed = false
    private var interruptEnabled = false
    private var interruptPending = false
    private var irqLevel = false
    /// The machine's clock when `clock` follows it: told when a guest access arms the alarm or
    /// moves the time, so the alarm fires at its instruction (`Timebase.deadlineArmed`).
    private let timebase: Timebase?

    /// - Parameters:
    ///   - irq: the alarm interrupt output, if wired.
    ///   - clock: nanoseconds since the Unix epoch (default: the host's CLOCK_REALTIME).
    ///   - timebase: the machine clock `clock` follows, if it does.
    public init(irq: IRQLine? = nil, clock: @escaping () -> UInt64 = GoldfishRTC.hostWallClock, timebase: Timebase? = nil) {
        self.irq = irq
        self.clock = clock
        self.timebase = timebase
    }

    /// Host CLOCK_REALTIME in nanoseconds.
    public static func hostWallClock() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
    }

    /// The time the guest sees, in nanoseconds since the epoch.
    public var now: UInt64 { clock() &+ offset }

    public func read(offset: UInt64, size: Int) -> UInt64 {
        switch offset {
        case Register.timeLow:
            let time = now
            latchedTimeHigh = UInt32(time >> 32)
            return time & 0xffff_ffff
        case Register.timeHigh: return UInt64(latchedTimeHigh)
        case Register.alarmLow: return alarm & 0xffff_ffff
        case Register.alarmHigh: return alarm >> 32
        case Register.interruptEnabled: return interruptEnabled ? 1 : 0
        case Register.alarmStatus: return alarmArmed ? 1 : 0
        default: return 0
        }
    }

    public func write(offset: UInt64, size: Int, value: UInt64) {
        let half = value & 0xffff_ffff
        switch offset {
        case Register.timeLow:
            let current = now
            setTime((current & 0xffff_ffff_0000_0000) | half, current: current)
        case Register.timeHigh:
            let current = now
            setTime((current & 0xffff_ffff) | half << 32, current: current)
        case Register.alarmLow:
            alarm = (alarm & 0xffff_ffff_0000_0000) | half
            armAlarm()
        case Register.alarmHigh:
            alarm = (alarm & 0xffff_ffff) | half << 32
        case Register.interruptEnabled:
            interruptEnabled = value & 1 != 0
            updateInterrupt()
        case Register.clearAlarm:
            alarmArmed = false
        case Register.clearInterrupt:
            interruptPending = false
            updateInterrupt()
        default:
            break
        }
    }

    /// Fires the alarm if its time has come. The machine calls it regularly.
    public func poll() {
        if alarmArmed && now >= alarm { fireAlarm() }
    }

    /// Host nanoseconds until the armed alarm fires (0 if due), or nil when none is armed.
    public func nanosecondsUntilAlarm() -> UInt64? {
        guard alarmArmed else { return nil }
        let current = now
        return alarm > current ? alarm - current : 0
    }

    private func setTime(_ time: UInt64, current: UInt64) {
        offset = offset &+ (time &- current)
        if let until = nanosecondsUntilAlarm() { timebase?.deadlineArmed(inNanoseconds: until) }
    }

    /// An alarm already in the past fires at once (QEMU `goldfish_rtc_set_alarm`).
    private func armAlarm() {
        if alarm <= now {
            fireAlarm()
        } else {
            alarmArmed = true
            timebase?.deadlineArmed(inNanoseconds: alarm - now)
        }
    }

    private func fireAlarm() {
        alarmArmed = false
        interruptPending = true
        updateInterrupt()
    }

    private func updateInterrupt() {
        let level = interruptPending && interruptEnabled
        guard level != irqLevel else { return }
        irqLevel = level
        irq?.set(level)
    }
}

/// The machine polls the alarm, sleeps no longer than it, and resets the device.
extension GoldfishRTC: DeviceLifecycle {
    /// As QEMU's `goldfish_rtc_reset`: the time back to the host's wall clock (a guest-set
    /// offset is dropped), no alarm armed, interrupt disabled and not pending, the line low.
    public func reset() {
        offset = 0
        latchedTimeHigh = 0
        alarm = 0
        alarmArmed = false
        interruptEnabled = false
        interruptPending = false
        updateInterrupt()
    }

    public func nanosecondsUntilNextEvent() -> UInt64? { nanosecondsUntilAlarm() }
}

/// Snapshots (docs/snapshots.md): the time the guest reads (so a restored guest's clock goes on
/// from the saved moment, as `mtime` does, instead of jumping to the host's time), the latched
/// high half, the alarm and the interrupt state. The restore drives the line to its level.
extension GoldfishRTC {
    public func save(to state: inout DeviceStateWriter) {
        state.put(now)
        state.put(latchedTimeHigh)
        state.put(alarm)
        state.put(alarmArmed)
        state.put(interruptEnabled)
        state.put(interruptPending)
    }

    public func restore(from state: inout DeviceStateReader) throws(DeviceStateError) {
        let time = try state.uint64()
        let latched = try state.uint32("latched TIME_HIGH")
        let alarm = try state.uint64()
        let flags = (try state.bool(), try state.bool(), try state.bool())
        setTime(time, current: now)
        latchedTimeHigh = latched
        self.alarm = alarm
        (alarmArmed, interruptEnabled, interruptPending) = flags
        irqLevel = interruptPending && interruptEnabled
        irq?.set(irqLevel)
    }
}
