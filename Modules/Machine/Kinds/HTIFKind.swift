import Devices
import Memory

/// `htif`: the Berkeley host-target interface (Spike). Its mailboxes are the loaded program's
/// `tohost`/`fromhost` symbols, so the device is made when the machine boots, not when it is built.
public struct HTIFKind: DeviceKind {
    public static let name = "htif"

    public let spec = DeviceTypeSpec(
        name: name,
        summary: "Berkeley host-target interface (Spike): console and exit through the ELF's tohost/fromhost symbols",
        registers: .none,
        isConsole: true,
        nodeName: "htif", compatible: ["ucb,htif0"], placement: .root)

    public init() {}

    public func build(_ device: BoardDevice, in machine: Machine) throws {
        machine.manage(HTIFMailbox(machine: machine))
    }
}

/// The HTIF through the machine lifecycle: made at boot from the program's symbols, then polled.
/// Spike keeps `tohost` in RAM and polls it, and so do we: programs place it in their own data
/// section.
final class HTIFMailbox: DeviceLifecycle {
    private unowned let machine: Machine
    private var htif: HTIF?

    init(machine: Machine) { self.machine = machine }

    func boot(symbols: [String: UInt64]) throws {
        guard let tohost = symbols["tohost"] else {
            throw MachineError("the board has an HTIF but the program has no 'tohost' symbol")
        }
        htif = HTIF(tohost: tohost, fromhost: symbols["fromhost"], console: machine.serial, power: machine.power,
                    dma: machine.space.dma, placement: .memory)
    }

    func reset() { htif?.reset() }
    func poll() { htif?.poll() }

    /// The mailbox exists once the program is loaded; a snapshot records whether it was.
    func save(to state: inout DeviceStateWriter) {
        state.put(htif != nil)
        htif?.save(to: &state)
    }

    func restore(from state: inout DeviceStateReader) throws(DeviceStateError) {
        let booted = try state.bool()
        guard booted == (htif != nil) else {
            throw .mismatch(booted ? "the HTIF was connected when saved; load the same program (--kernel)" : "the HTIF was not connected when saved")
        }
        try htif?.restore(from: &state)
    }
}
