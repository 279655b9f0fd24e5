import IRQ
import Memory
import PCI
import TestSupport
@testable import USB

/// An xHCI controller on 1 MiB of RAM at 0x8000_0000 with bus mastering on and INTA wired to
/// source 32 of a recording controller, driven the way a driver does: BAR 0 accesses and
/// structures in guest memory.
final class XHCIFixture {
    static let ram: UInt64 = 0x8000_0000
    let space = AddressSpace()
    let interrupts = RecordingController()
    let bus: PCIBusInterface
    let xhci: XHCIController

    // Guest structures.
    let dcbaa = ram + 0x1000
    let commandRingBase = ram + 0x2000
    let erst = ram + 0x3000
    let eventRingBase = ram + 0x4000
    let inputContext = ram + 0x5000
    let outputContext = ram + 0x6000
    let ep0Ring = ram + 0x7000
    let data = ram + 0x10000
    static let commandRingSize = 32
    static let eventRingSize = 16

    private var commandIndex = 0
    private var commandCycle = true
    private var eventIndex = 0
    private var eventCycle = true

    init(usb2Ports: Int = 2, usb3Ports: Int = 2, maxSlots: Int = 8) {
        _ = try! space.mapRAM(name: "ram", base: XHCIFixture.ram, size: 1 << 20)
        let recorder = interrupts
        let router = PCIINTxRouter(lines: (32...35).map { IRQLine(controller: recorder, source: $0) })
        bus = PCIBusInterface(address: PCIAddress(device: 0), config: PCIConfigSpace(), memory: space, intx: router)
        xhci = XHCIController(bus: bus, usb2Ports: usb2Ports, usb3Ports: usb3Ports, maxSlots: maxSlots)
        // Memory decode and bus master.
        bus.config.write(offset: 4, size: 2, value: 0x6)
        bus.commandChanged()
    }

    // MARK: Registers

    func read(_ offset: UInt64) -> UInt32 { UInt32(xhci.readBAR(0, offset: offset, size: 4)) }
    func write(_ offset: UInt64, _ value: UInt32) { xhci.writeBAR(0, offset: offset, size: 4, value: UInt64(value)) }
    func write64(_ offset: UInt64, _ value: UInt64) {
        write(offset, UInt32(truncatingIfNeeded: value))
        write(offset + 4, UInt32(truncatingIfNeeded: value >> 32))
    }
    func op(_ register: UInt64) -> UInt64 { XHCILayout.operational + register }
    func portsc(_ port: Int) -> UInt64 { XHCILayout.ports + XHCILayout.portStride * UInt64(port - 1) }
    func interrupter(_ register: UInt64, _ index: Int = 0) -> UInt64 {
        XHCILayout.interrupters + XHCILayout.interrupterStride * UInt64(index) + register
    }

    // MARK: Memory

    func store(_ address: UInt64, _ bytes: [UInt8]) { _ = DMAAccessor(space).write(address, bytes: bytes) }
    func load(_ address: UInt64, _ count: Int) -> [UInt8] { (try? DMAAccessor(space).read(address, count: count).get()) ?? [] }
    func storeTRB(_ address: UInt64, _ trb: XHCITRB) { store(address, trb.bytes) }
    func loadTRB(_ address: UInt64) -> XHCITRB { XHCITRB(bytes: load(address, 16)) }
    func store32(_ address: UInt64, _ value: UInt32) { store(address, bytes32(value)) }
    func store64(_ address: UInt64, _ value: UInt64) { store(address, bytes32(UInt32(truncatingIfNeeded: value)) + bytes32(UInt32(value >> 32))) }

    /// The driver's start sequence (xHCI 1.2 §4.2): slots, DCBAA, command ring, one event ring
    /// segment on interrupter 0 with interrupts enabled, then Run.
    func start(slots: Int = 8) {
        write(op(XHCIOperationalRegister.configure), UInt32(slots))
        write64(op(XHCIOperationalRegister.deviceContextBaseArray), dcbaa)
        // Command ring: a Link TRB back to the start with Toggle Cycle at the end.
        storeTRB(commandRingBase + UInt64(16 * (XHCIFixture.commandRingSize - 1)),
                 XHCITRB(parameter: commandRingBase, control: XHCITRB.control(type: .link, cycle: false) | 2))
        write64(op(XHCIOperationalRegister.commandRingControl), commandRingBase | 1)
        store64(erst, eventRingBase)
        store32(erst + 8, UInt32(XHCIFixture.eventRingSize))
        write(interrupter(XHCIInterrupterRegister.tableSize), 1)
        write64(interrupter(XHCIInterrupterRegister.dequeuePointer), eventRingBase)
        write64(interrupter(XHCIInterrupterRegister.tableBase), erst)
        write(interrupter(XHCIInterrupterRegister.management), 2)
        write(op(XHCIOperationalRegister.command), XHCICommandBit.runStop | XHCICommandBit.interrupterEnable)
    }

    /// Queues a command TRB (the fixture sets the cycle bit) and rings doorbell 0.
    @discardableResult
    func command(_ trb: XHCITRB) -> UInt64 {
        let address = commandRingBase + UInt64(16 * commandIndex)
        var trb = trb
        trb.control = (trb.control & ~1) | (commandCycle ? 1 : 0)
        storeTRB(address, trb)
        commandIndex += 1
        if commandIndex == XHCIFixture.commandRingSize - 1 {
            var link = loadTRB(commandRingBase + UInt64(16 * commandIndex))
            link.control = (link.control & ~1) | (commandCycle ? 1 : 0)
            storeTRB(commandRingBase + UInt64(16 * commandIndex), link)
            commandIndex = 0
            commandCycle.toggle()
        }
        write(XHCILayout.doorbells, 0)
        return address
    }

    /// Events the controller has written since the last call; moves ERDP past them (with EHB).
    func events() -> [XHCITRB] {
        var found: [XHCITRB] = []
        while true {
            let trb = loadTRB(eventRingBase + UInt64(16 * eventIndex))
            guard trb.cycle == eventCycle else { break }
            found.append(trb)
            eventIndex += 1
            if eventIndex == XHCIFixture.eventRingSize {
                eventIndex = 0
                eventCycle.toggle()
            }
        }
        write64(interrupter(XHCIInterrupterRegister.dequeuePointer), (eventRingBase + UInt64(16 * eventIndex)) | 8)
        return found
    }

    /// Completion code of an event.
    static func code(_ event: XHCITRB) -> XHCICompletionCode? { XHCICompletionCode(rawValue: UInt8(event.status >> 24)) }

    /// Runs a command and returns its completion event.
    func run(_ trb: XHCITRB) -> XHCITRB? {
        let address = command(trb)
        return events().first { $0.type == .commandCompletionEvent && $0.parameter == address }
    }

    /// Enable Slot, then Address Device on `port` with EP0 max packet `packet`; returns the slot ID.
    func addressDevice(port: Int, speed: USBSpeed, blockSetAddress: Bool = false) -> Int? {
        guard let enabled = run(XHCITRB(control: XHCITRB.control(type: .enableSlot, cycle: false))),
              XHCIFixture.code(enabled) == .success else { return nil }
        let slot = enabled.slotID
        store64(dcbaa + UInt64(8 * slot), outputContext)
        store(inputContext, [UInt8](repeating: 0, count: 33 * 32))
        store32(inputContext + 4, 3)                                    // A0, A1
        store32(inputContext + 32, 1 << 27 | speed.xhciSpeedID << 20)   // one context entry
        store32(inputContext + 32 + 4, UInt32(port) << 16)
        store32(inputContext + 64 + 4, 4 << 3 | UInt32(speed.defaultMaxPacketSize0) << 16 | 3 << 1)
        store64(inputContext + 64 + 8, ep0Ring | 1)
        let result = run(XHCITRB(parameter: inputContext, control: XHCITRB.control(type: .addressDevice, cycle: false)
                                    | UInt32(slot) << 24 | (blockSetAddress ? 1 << 9 : 0)))
        guard let result, XHCIFixture.code(result) == .success else { return nil }
        return slot
    }

    // MARK: Transfer rings

    /// Producer state of transfer rings by base address.
    private var rings: [UInt64: (index: Int, cycle: Bool)] = [:]
    static let transferRingSize = 16

    /// Writes TRBs to the ring at `base` (cycle bits set by the fixture, Link TRB at the end).
    func enqueue(_ base: UInt64, _ trbs: [XHCITRB]) -> [UInt64] {
        var state = rings[base] ?? (0, true)
        var addresses: [UInt64] = []
        for trb in trbs {
            if state.index == XHCIFixture.transferRingSize - 1 {
                storeTRB(base + UInt64(16 * state.index), XHCITRB(parameter: base, control: XHCITRB.control(type: .link, cycle: state.cycle) | 2))
                state = (0, !state.cycle)
            }
            var trb = trb
            trb.control = (trb.control & ~1) | (state.cycle ? 1 : 0)
            let address = base + UInt64(16 * state.index)
            storeTRB(address, trb)
            addresses.append(address)
            state.index += 1
        }
        rings[base] = state
        return addresses
    }

    /// A control transfer on EP0 of `slot`: Setup, optional Data (IN when the request is IN),
    /// Status with IOC; rings the doorbell and returns the events.
    func control(slot: Int, _ setup: USBSetupPacket, buffer: UInt64? = nil) -> [XHCITRB] {
        let raw = UInt64(setup.requestType) | UInt64(setup.request) << 8 | UInt64(setup.value) << 16
            | UInt64(setup.index) << 32 | UInt64(setup.length) << 48
        let transferType: UInt32 = setup.length == 0 ? 0 : (setup.isIn ? 3 : 2)
        var trbs = [XHCITRB(parameter: raw, status: 8, control: XHCITRB.control(type: .setupStage, cycle: false) | 1 << 6 | transferType << 16)]
        if setup.length > 0 {
            trbs.append(XHCITRB(parameter: buffer ?? data, status: UInt32(setup.length),
                                control: XHCITRB.control(type: .dataStage, cycle: false) | (setup.isIn ? 1 << 16 | 1 << 2 : 0)))
        }
        // Status stage direction is opposite the data stage (IN when there is no data).
        let statusIn = setup.length == 0 || !setup.isIn
        trbs.append(XHCITRB(control: XHCITRB.control(type: .statusStage, cycle: false) | 1 << 5 | (statusIn ? 1 << 16 : 0)))
        _ = enqueue(ep0Ring, trbs)
        write(XHCILayout.doorbells + UInt64(4 * slot), 1)
        return events()
    }
}

func bytes32(_ value: UInt32) -> [UInt8] {
    [UInt8(value & 0xff), UInt8((value >> 8) & 0xff), UInt8((value >> 16) & 0xff), UInt8(value >> 24)]
}
