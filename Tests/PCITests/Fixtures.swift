import IRQ
import Memory
import TestSupport
@testable import PCI

/// A function with one BAR of each kind and nothing else, for bus-level tests.
final class PlainFunction: PCIFunction {
    let bus: PCIBusInterface
    var config: PCIConfigSpace { bus.config }
    var lastWrite: (bar: Int, offset: UInt64, value: UInt64)?

    init(bus: PCIBusInterface, bars: [(Int, PCIBAR)] = [(0, .memory32(size: 0x1000))]) {
        self.bus = bus
        bus.config.setIdentity(PCIIdentity(vendorID: 0x1234, deviceID: 0x5678, revision: 2, classCode: 0x0780_00))
        for (index, bar) in bars { bus.config.declareBAR(index, bar) }
        bus.config.interruptPin = .intA
    }

    func readBAR(_ bar: Int, offset: UInt64, size: Int) -> UInt64 { UInt64(bar) << 16 | offset }
    func writeBAR(_ bar: Int, offset: UInt64, size: Int, value: UInt64) { lastWrite = (bar, offset, value) }
}

/// 1 MiB of RAM at 0x8000_0000 and a host bridge at 0x3000_0000 (buses 0-15) with QEMU virt's
/// windows; INTA-INTD on sources 32-35 of a recording controller.
final class PCIFixture {
    static let ram: UInt64 = 0x8000_0000
    static let ecam: UInt64 = 0x3000_0000
    let space = AddressSpace()
    let controller: RecordingController
    let bridge: PCIHostBridge

    init() {
        let controller = RecordingController()
        self.controller = controller
        try! space.mapRAM(name: "ram", base: PCIFixture.ram, size: 1 << 20)
        bridge = PCIHostBridge(name: "pcie0", space: space, busCount: 16, windows: [
            PCIWindow(space: .io, cpuBase: 0x0300_0000, pciBase: 0, size: 0x10000),
            PCIWindow(space: .memory32, cpuBase: 0x4000_0000, pciBase: 0x4000_0000, size: 0x4000_0000),
            PCIWindow(space: .memory64, cpuBase: 0x4_0000_0000, pciBase: 0x4_0000_0000, size: 0x4_0000_0000),
        ], intx: (32...35).map { IRQLine(controller: controller, source: $0) })
        try! space.mapMMIO(name: "pcie0", base: PCIFixture.ecam, size: 16 << 20, device: bridge)
    }

    /// CPU address of register `register` of `device`.`function` on bus `bus`.
    func ecam(bus: UInt64 = 0, device: UInt64, function: UInt64 = 0, register: UInt64) -> UInt64 {
        PCIFixture.ecam + (bus << 20 | device << 15 | function << 12 | register)
    }

    func configRead(device: UInt64, function: UInt64 = 0, register: UInt64, size: Int = 4) -> UInt64? {
        space.read(ecam(device: device, function: function, register: register), size: size)
    }

    func configWrite(device: UInt64, function: UInt64 = 0, register: UInt64, size: Int = 4, value: UInt64) {
        space.write(ecam(device: device, function: function, register: register), size: size, value: value)
    }

    /// A standalone bus interface (not on the bridge) over this fixture's memory.
    func standaloneBus(device: UInt8 = 1) -> PCIBusInterface {
        PCIBusInterface(address: PCIAddress(device: device), config: PCIConfigSpace(), memory: space)
    }
}
