import XCTest
import DeviceTree
import Devices
import IRQ
import Machine
import Memory

/// A device type added from outside `Modules/Machine` (this test target, importing `Machine`
/// without `@testable`): one `DeviceKind` value and one `registering` line, and a board file can
/// place it, the machine builds and maps it, raises its IRQ through the board's PLIC, resets it
/// with the rest, and the device tree has its node.
final class DeviceKindTests: XCTestCase {
    /// A 32-bit register that counts writes and raises its IRQ line while non-zero.
    final class WriteCounter: MMIODevice, DeviceLifecycle {
        var implementedSizes: AccessSizes { .word }
        let irq: IRQLine?
        private(set) var count: UInt64 = 0

        init(irq: IRQLine?) { self.irq = irq }

        func read(offset: UInt64, size: Int) -> UInt64 { offset == 0 ? count : 0 }

        func write(offset: UInt64, size: Int, value: UInt64) {
            count += 1
            irq?.set(true)
        }

        func reset() {
            count = 0
            irq?.set(false)
        }

        func save(to state: inout DeviceStateWriter) { state.put(count) }

        func restore(from state: inout DeviceStateReader) throws(DeviceStateError) { count = try state.uint64() }
    }

    struct WriteCounterKind: DeviceKind {
        let spec = DeviceTypeSpec(
            name: "test.counter",
            summary: "counts the writes to its one register",
            registers: .required(minimumSize: 0x4, pageAligned: false),
            irqCount: 0...1,
            properties: [DevicePropertySpec(name: "width", kind: .integer(1...64), defaultValue: .integer(32),
                                            deviceTreeName: "test,width", summary: "register width in bits")],
            nodeName: "counter", compatible: ["test,counter"])

        func build(_ device: BoardDevice, in machine: Machine) throws {
            let counter = WriteCounter(irq: try machine.irqLines(of: device).first)
            try machine.map(device, counter)
            machine.manage(counter)
        }

        func completeNode(_ node: inout DeviceTreeNode, for device: BoardDevice, board: Board, context: DeviceTreeContext) {
            node.properties.append(.empty("test,counts-writes"))
        }
    }

    private let catalog = DeviceTypeCatalog.builtIn.registering(WriteCounterKind())

    private let yaml = """
        name: t
        harts: { isa: rv64gc, mmu: sv39, timebase-frequency: 10000000 }
        memory: [{ name: ram, base: 0x80000000, size: 16M }]
        devices:
          - name: plic0
            type: plic
            reg: [0xc000000, 0x600000]
          - name: counter0
            type: test.counter
            reg: [0x10003000, 0x100]
            irq: plic0@5
            properties: { width: 16 }
        """

    func testABoardFilePlacesTheNewKindAndTheMachineMapsIt() throws {
        let board = try BoardLoader.load(yaml: yaml, path: "t.yaml", catalog: catalog)
        let machine = try Machine(board: board, serial: NullSerialBackend(), catalog: catalog)

        machine.space.write(0x1000_3000, size: 4, value: 7)
        machine.space.write(0x1000_3000, size: 4, value: 7)

        XCTAssertEqual(machine.space.read(0x1000_3000, size: 4), 2)
        XCTAssertEqual(machine.space.read(0xc00_1000, size: 4), 1 << 5, "its IRQ line is pending at the PLIC")
    }

    func testAMachineResetResetsTheNewKindWithTheRest() throws {
        let board = try BoardLoader.load(yaml: yaml, path: "t.yaml", catalog: catalog)
        let machine = try Machine(board: board, serial: NullSerialBackend(), catalog: catalog)
        machine.space.write(0x1000_3000, size: 4, value: 7)

        machine.reboot()

        XCTAssertEqual(machine.space.read(0x1000_3000, size: 4), 0)
        XCTAssertEqual(machine.space.read(0xc00_1000, size: 4), 0, "its IRQ line is low again")
    }

    func testTheNewKindTakesPartInTheSnapshotLoops() throws {
        let board = try BoardLoader.load(yaml: yaml, path: "t.yaml", catalog: catalog)
        let machine = try Machine(board: board, serial: NullSerialBackend(), catalog: catalog)
        for _ in 0..<3 { machine.space.write(0x1000_3000, size: 4, value: 1) }
        let saved = machine.saveDeviceStates()
        machine.reboot()

        try machine.restoreDeviceStates(saved)

        XCTAssertEqual(machine.space.read(0x1000_3000, size: 4), 3)
        XCTAssertThrowsError(try machine.restoreDeviceStates(saved.enumerated().map { $0.offset == 1 ? [1] : $0.element })) { error in
            XCTAssertEqual("\(error)", "t.yaml: device 'counter0': saved device state ends early at byte 0")
        }
    }

    func testTheDeviceTreeHasTheNewKindsNode() throws {
        let board = try BoardLoader.load(yaml: yaml, path: "t.yaml", catalog: catalog)

        let dts = try DeviceTreeGenerator.toDTS(try DeviceTreeGenerator.generate(board: board, bootArgs: "", catalog: catalog))

        XCTAssertTrue(dts.contains("""
            \t\tcounter@10003000 {
            \t\t\tcompatible = "test,counter";
            \t\t\treg = <0x00 0x10003000 0x00 0x100>;
            \t\t\ttest,width = <0x10>;
            \t\t\tinterrupts = <0x05>;
            \t\t\tinterrupt-parent = <0x03>;
            \t\t\ttest,counts-writes;
            \t\t};
            """), dts)
    }

    func testABoardFileWithTheKindIsRefusedWithoutIt() {
        XCTAssertThrowsError(try BoardLoader.load(yaml: yaml, path: "t.yaml")) { error in
            XCTAssertTrue("\(error)".hasPrefix("t.yaml:9:11: error: unknown device type 'test.counter'; known types: aclint, plic,"), "\(error)")
        }
    }
}
