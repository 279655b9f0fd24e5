import XCTest
import DeviceTree
import Devices
import Foundation
@testable import Machine

/// PCI in board files: the host bridge, `at:` placement and its errors, the device-tree node
/// and the machine built from it.
final class BoardPCITests: XCTestCase {
    /// A host bridge with a 2 MiB 32-bit window and a disk at 02.0. Devices appended start at line 16.
    private let valid = """
    name: t
    harts: { isa: rv64gc, mmu: sv39, timebase-frequency: 10000000 }
    memory:
      - { name: ram, base: 0x80000000, size: 16M }
    devices:
      - { name: plic0, type: plic, reg: [0xc000000, 0x400000], properties: { sources: 40 } }
      - name: pcie0
        type: pci-host-ecam-generic
        reg: [0x30000000, 0x1000000]
        irq: [plic0@32, plic0@33, plic0@34, plic0@35]
        properties: { pio-base: 0x3000000, pio-size: 0x10000, mmio32-base: 0x40000000, mmio32-size: 0x200000, mmio64-base: 0x400000000, mmio64-size: 0x100000000 }
      - name: disk0
        type: virtio-blk-pci
        at: pcie0/02.0
        properties: { file: disk.img }

    """

    private func errors(_ yaml: String) -> String {
        do {
            _ = try BoardLoader.load(yaml: yaml, path: "t.yaml")
            return ""
        } catch {
            return error.description
        }
    }

    private func withEdu(at address: String, name: String = "edu0") -> String {
        valid + "  - name: \(name)\n    type: edu\n    at: \(address)\n"
    }

    // MARK: Loading

    func testValidPCIBoardLoadsWithItsAddresses() throws {
        let board = try BoardLoader.load(yaml: withEdu(at: "pcie0/1f.7"), path: "t.yaml")

        XCTAssertEqual(board.device(named: "disk0")?.pciAddress?.description, "pcie0/02.0")
        XCTAssertEqual(board.device(named: "edu0")?.pciAddress, BoardPCIAddress(bus: "pcie0", device: 31, function: 7,
                                                                                  location: SourceLocation(line: 18, column: 9)))
        XCTAssertEqual(board.device(named: "disk0")?.properties["read-only"], .boolean(false))
    }

    func testBundledVirtHasQEMUsPCIe() throws {
        let pcie = try XCTUnwrap(try Board.bundled(name: "virt").device(named: "pcie0"))

        XCTAssertEqual(pcie.type, "pci-host-ecam-generic")
        XCTAssertEqual(pcie.base, 0x3000_0000)
        XCTAssertEqual(pcie.size, 0x1000_0000)
        XCTAssertEqual(pcie.irqs.map(\.description), ["plic0@32", "plic0@33", "plic0@34", "plic0@35"])
        XCTAssertEqual(pcie.integer("mmio64-base"), 0x4_0000_0000)
    }

    // MARK: Errors

    func testMalformedAddress() {
        XCTAssertEqual(errors(withEdu(at: "pcie0/2")),
                       "t.yaml:18:9: error: invalid PCI address 'pcie0/2'; expected BUS/DEVICE.FUNCTION such as 'pcie0/02.0'")
    }

    func testUnknownBusSuggestsTheNearestHostBridge() {
        XCTAssertEqual(errors(withEdu(at: "pcie1/03.0")),
                       "t.yaml:18:9: error: 'at' of 'edu0' names unknown device 'pcie1'; did you mean 'pcie0'?")
    }

    func testBusThatIsNotAHostBridge() {
        XCTAssertEqual(errors(withEdu(at: "plic0/03.0")),
                       "t.yaml:18:9: error: 'at' of 'edu0' names 'plic0', which is not a PCI host bridge")
    }

    func testDeviceNumberOutOfRange() {
        XCTAssertEqual(errors(withEdu(at: "pcie0/20.0")),
                       "t.yaml:18:9: error: PCI device number 0x20 of 'edu0' is out of range 0x00...0x1f")
    }

    func testFunctionNumberOutOfRange() {
        XCTAssertEqual(errors(withEdu(at: "pcie0/03.8")),
                       "t.yaml:18:9: error: PCI function number 8 of 'edu0' is out of range 0...7")
    }

    func testSlotOfTheHostBridge() {
        XCTAssertEqual(errors(withEdu(at: "pcie0/00.0")),
                       "t.yaml:18:9: error: slot pcie0/00.0 of 'edu0' is taken by the host bridge of 'pcie0'")
    }

    func testUsedSlot() {
        XCTAssertEqual(errors(withEdu(at: "pcie0/2.0")),
                       "t.yaml:18:9: error: slot pcie0/02.0 of 'edu0' is already taken by 'disk0' (line 12)")
    }

    func testPCIFunctionWithoutAt() {
        XCTAssertEqual(errors(valid + "  - name: edu0\n    type: edu\n"),
                       "t.yaml:16:5: error: device 'edu0' of type 'edu' needs 'at: BUS/DEVICE.FUNCTION' such as 'pcie0/02.0'")
    }

    func testPlatformDeviceWithAt() {
        XCTAssertEqual(errors(valid + "  - name: uart0\n    type: ns16550a\n    reg: [0x10000000, 0x100]\n    at: pcie0/03.0\n"),
                       "t.yaml:19:9: error: device 'uart0' of type 'ns16550a' is not a PCI function; it takes no 'at'")
    }

    func testBARsThatDoNotFitTheWindow() {
        XCTAssertEqual(errors(withEdu(at: "pcie0/03.0") + "  - name: edu1\n    type: edu\n    at: pcie0/04.0\n"),
                       "t.yaml:21:9: error: BAR of 'edu1' (32-bit memory, 0x100000 bytes) does not fit the 32-bit memory window of 'pcie0' [0x40000000,0x40200000): its functions need 0x202000 bytes")
    }

    func testBARWithoutAWindow() {
        let yaml = valid.replacingOccurrences(of: "mmio32-size: 0x200000", with: "mmio32-size: 0")
        XCTAssertEqual(errors(yaml),
                       "t.yaml:14:9: error: BAR of 'disk0' (32-bit memory, 0x1000 bytes) has no window: 'pcie0' has no 32-bit memory window")
    }

    func testHostBridgeNeedsFourINTxLinesOrNone() {
        let yaml = valid.replacingOccurrences(of: "irq: [plic0@32, plic0@33, plic0@34, plic0@35]", with: "irq: [plic0@32, plic0@33]")
        XCTAssertEqual(errors(yaml),
                       "t.yaml:10:11: error: device 'pcie0' of type 'pci-host-ecam-generic' needs 4 irqs (INTA, INTB, INTC, INTD) or none, got 2")
    }

    func testECAMSizeMustBeWholeBuses() {
        let yaml = valid.replacingOccurrences(of: "reg: [0x30000000, 0x1000000]", with: "reg: [0x30000000, 0x180000]")
        XCTAssertEqual(errors(yaml),
                       "t.yaml:9:10: error: size 0x180000 of device 'pcie0' must be a multiple of 1 MiB (one bus of ECAM) and at most 256 MiB (256 buses)")
    }

    func testWindowOverlappingRAM() {
        let yaml = valid.replacingOccurrences(of: "mmio32-base: 0x40000000, mmio32-size: 0x200000", with: "mmio32-base: 0x80000000, mmio32-size: 0x200000")
        XCTAssertEqual(errors(yaml),
                       "t.yaml:7:5: error: 'pcie0 32-bit memory window' [0x80000000,0x80200000) overlaps 'ram' [0x80000000,0x81000000)")
    }

    // MARK: Device tree

    func testVirtPCIeNodeMatchesQEMU() throws {
        let board = try Board.bundled(name: "virt")
        let tree = DeviceTreeGenerator.tree(board: board, bootArgs: "")
        let node = try XCTUnwrap(tree.node(at: "/soc/pci@30000000"))
        let plic = try XCTUnwrap(tree.node(at: "/soc/plic@c000000")?[property: "phandle"]?.value)
        let phandle = UInt32(plic[0]) << 24 | UInt32(plic[1]) << 16 | UInt32(plic[2]) << 8 | UInt32(plic[3])

        XCTAssertEqual(node[property: "compatible"], .strings("compatible", ["pci-host-ecam-generic"]))
        XCTAssertEqual(node[property: "device_type"], .string("device_type", "pci"))
        XCTAssertEqual(node[property: "bus-range"], .cells("bus-range", [0, 0xff]))
        XCTAssertEqual(node[property: "linux,pci-domain"], .u32("linux,pci-domain", 0))
        XCTAssertNotNil(node[property: "dma-coherent"])
        XCTAssertNil(node[property: "interrupts"])
        // QEMU 8's `-M virt,dumpdtb` values.
        XCTAssertEqual(node[property: "ranges"], .cells("ranges", [
            0x0100_0000, 0, 0, 0, 0x0300_0000, 0, 0x10000,
            0x0200_0000, 0, 0x4000_0000, 0, 0x4000_0000, 0, 0x4000_0000,
            0x0300_0000, 4, 0, 4, 0, 4, 0,
        ]))
        XCTAssertEqual(node[property: "interrupt-map-mask"], .cells("interrupt-map-mask", [0x1800, 0, 0, 7]))
        var map: [UInt32] = []
        for slot: UInt32 in 0..<4 {
            for pin: UInt32 in 1...4 {
                let line: UInt32 = 32 + (slot + pin - 1) % 4
                map += [slot << 11, 0, 0, pin, phandle, line]
            }
        }
        XCTAssertEqual(node[property: "interrupt-map"], .cells("interrupt-map", map))
    }

    // MARK: Machine

    func testMachineAttachesTheFunctionsBehindECAM() throws {
        let disk = FileManager.default.temporaryDirectory.appendingPathComponent("board-pci-\(UUID().uuidString).img").path
        _ = FileManager.default.createFile(atPath: disk, contents: Data(count: 4096))
        defer { try? FileManager.default.removeItem(atPath: disk) }
        let board = try BoardLoader.load(yaml: withEdu(at: "pcie0/03.0").replacingOccurrences(of: "disk.img", with: disk), path: "t.yaml")

        let machine = try Machine(board: board, serial: NullSerialBackend())

        XCTAssertEqual(machine.space.read(0x3000_0000, size: 4), 0x0008_1b36)
        XCTAssertEqual(machine.space.read(0x3000_0000 + (2 << 15), size: 4), 0x1042_1af4)
        XCTAssertEqual(machine.space.read(0x3000_0000 + (3 << 15), size: 4), 0x11e8_1234)
        XCTAssertEqual(machine.space.read(0x3000_0000 + (4 << 15), size: 4), 0xffff_ffff)
    }

    func testMachineReportsAMissingDiskImage() throws {
        let board = try BoardLoader.load(yaml: valid.replacingOccurrences(of: "disk.img", with: "/nonexistent/disk.img"), path: "t.yaml")

        XCTAssertThrowsError(try Machine(board: board, serial: NullSerialBackend())) { error in
            XCTAssertEqual("\(error)", "t.yaml:12:5: device 'disk0': disk image '/nonexistent/disk.img': No such file or directory")
        }
    }
}
