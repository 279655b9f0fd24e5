/// What a device does over the life of the machine, apart from answering its bus: the machine
/// lifecycle (docs/architecture.md, "The machine lifecycle").
///
/// It is a protocol of its own, beside the bus protocols and not on them (STYLE.md point 1):
/// `MMIODevice`, `PCIFunction` and `USBDevice` stay as small as they are, and a device that needs
/// none of this never sees it. The machine keeps one list of participants, in build order
/// (interrupt controllers before the devices wired to them), and runs one loop over it for each
/// phase:
///
/// | Phase | When | Method |
/// |---|---|---|
/// | boot | `Machine.boot`, after the images are placed | `boot(symbols:)` |
/// | reset | a guest-requested reset (sifive_test 0x7777, SBI SRST) | `reset()` |
/// | poll | between hart slices (every ~50,000 instructions per hart) | `poll()` |
/// | sleep | every hart waits in WFI | `nanosecondsUntilNextEvent()` |
/// | snapshot | `Machine.saveDeviceStates()` / `restoreDeviceStates(_:)` | `save(to:)` / `restore(from:)` |
///
/// Every method has a default that does nothing, so a participant implements only its phases.
/// None of them is on a hot path: the busiest, `poll`, runs once per slice.
///
/// Time is nanoseconds of the machine's clock (today the host's monotonic clock scaled by the
/// `Timebase`; under virtual time the virtual clock), always relative to "now", so a participant
/// never needs to know which clock drives the machine.
public protocol DeviceLifecycle: AnyObject {
    /// Called once per `Machine.boot`, after the images are written and before any hart runs,
    /// with the ELF symbols of the program that runs first (empty for a raw image). A device
    /// whose addresses come from the program (HTIF's `tohost`) connects here.
    func boot(symbols: [String: UInt64]) throws

    /// Puts the device into the state its specification defines at power-on (each
    /// implementation cites the section). RAM is not a device and keeps its contents; a device
    /// that drives an interrupt line or a hart's `mip` bit drives it to its power-on level, so
    /// after every participant reset the machine is as at power-on except for RAM.
    func reset()

    /// Host-side work that does not come from a guest access: console input, timers reaching
    /// their compare values, a host device's completions.
    func poll()

    /// Nanoseconds from now until the device next needs `poll()` (a timer compare, an alarm);
    /// nil when it waits for nothing. The machine sleeps no longer than the smallest answer
    /// while every hart waits for an interrupt.
    func nanosecondsUntilNextEvent() -> UInt64?

    /// Appends the device's guest-visible state to `state` (snapshots, docs/snapshots.md).
    func save(to state: inout DeviceStateWriter)

    /// Restores what `save(to:)` wrote, in the same order.
    /// - Throws: `DeviceStateError` when the bytes run out or do not fit the device.
    func restore(from state: inout DeviceStateReader) throws(DeviceStateError)

    /// Why this participant cannot be saved in a snapshot, as one line that names the device
    /// ("device 'dma0' (plugin 'acme', type 'acme.edu') has no save/restore hooks"); nil when
    /// it can. A snapshot asks every participant first and refuses with the first answer, so a
    /// device whose state `save(to:)` cannot capture never yields a snapshot that restores
    /// wrongly. Built-in devices answer nil (the default); plugin devices without the ABI 1.3
    /// `save`/`restore` hooks answer with their name (docs/plugins.md "Snapshots").
    var snapshotRefusal: String? { get }
}

extension DeviceLifecycle {
    public func boot(symbols: [String: UInt64]) throws {}
    public func reset() {}
    public func poll() {}
    public func nanosecondsUntilNextEvent() -> UInt64? { nil }
    public func save(to state: inout DeviceStateWriter) {}
    public func restore(from state: inout DeviceStateReader) throws(DeviceStateError) {}
    public var snapshotRefusal: String? { nil }

    /// Whether `save(to:)` captures the participant (`snapshotRefusal` is nil).
    public var canSaveState: Bool { snapshotRefusal == nil }
}

/// The bytes a device saves: little-endian fixed-width fields in the order the device writes them.
public struct DeviceStateWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func put(_ value: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    public mutating func put(_ value: Bool) { bytes.append(value ? 1 : 0) }

    public mutating func put(_ data: [UInt8]) {
        put(UInt64(data.count))
        bytes += data
    }
}

/// Reads what a `DeviceStateWriter` wrote.
public struct DeviceStateReader: Sendable {
    private let bytes: [UInt8]
    private var position = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Whether every byte has been read.
    public var isAtEnd: Bool { position == bytes.count }

    public mutating func uint64() throws(DeviceStateError) -> UInt64 {
        guard bytes.count - position >= 8 else { throw .truncated(at: position) }
        var value: UInt64 = 0
        for index in 0..<8 { value |= UInt64(bytes[position + index]) << UInt64(8 * index) }
        position += 8
        return value
    }

    public mutating func bool() throws(DeviceStateError) -> Bool {
        guard position < bytes.count else { throw .truncated(at: position) }
        position += 1
        return bytes[position - 1] != 0
    }

    public mutating func data() throws(DeviceStateError) -> [UInt8] {
        let count = try uint64()
        guard UInt64(bytes.count - position) >= count else { throw .truncated(at: position) }
        defer { position += Int(count) }
        return Array(bytes[position..<position + Int(count)])
    }
}

/// Why saved device state could not be restored.
public enum DeviceStateError: Error, Equatable, CustomStringConvertible {
    /// The state ended at byte `at` before the device had read all it needs.
    case truncated(at: Int)
    /// A saved value does not fit this device as configured (another board, another size).
    case mismatch(String)

    public var description: String {
        switch self {
        case .truncated(let offset): return "saved device state ends early at byte \(offset)"
        case .mismatch(let what): return "saved device state does not fit: \(what)"
        }
    }
}
