import DeviceTree
import Devices
import Machine
import XCTest

/// PCIe on the AIA board: INTx through the S-level APLIC (two-cell specifiers) and MSIs to the
/// S-level IMSIC (`msi-parent`), as QEMU's `virt,aia=aplic-imsic` describes them to Linux.
final class AIAPCITests: XCTestCase {
    private func phandle(_ tree: DeviceTreeNode, _ path: String) throws -> UInt32 {
        let bytes = try XCTUnwrap(tree.node(at: path)?[property: "phandle"]?.value, "no phandle at \(path)")
        return UInt32(bytes[0]) << 24 | UInt32(bytes[1]) << 16 | UInt32(bytes[2]) << 8 | UInt32(bytes[3])
    }

    func testPCIeINTxGoesThroughTheAPLICAndMSIsToTheSupervisorIMSIC() throws {
        let tree = DeviceTreeGenerator.tree(board: try Board.bundled(name: "virt-aia"), bootArgs: "")
        let node = try XCTUnwrap(tree.node(at: "/soc/pci@30000000"))
        let aplic = try phandle(tree, "/soc/aplic@d000000")
        let imsic = try phandle(tree, "/soc/imsics@28000000")

        XCTAssertEqual(node[property: "msi-parent"], .u32("msi-parent", imsic))
        var map: [UInt32] = []
        for slot: UInt32 in 0..<4 {
            for pin: UInt32 in 1...4 {
                map += [slot << 11, 0, 0, pin, aplic, 32 + (slot + pin - 1) % 4, 4]   // level-high
            }
        }
        XCTAssertEqual(node[property: "interrupt-map"], .cells("interrupt-map", map))
    }

    func testPLICBoardHasNoMSIParent() throws {
        let tree = DeviceTreeGenerator.tree(board: try Board.bundled(name: "virt"), bootArgs: "")
        XCTAssertNil(try XCTUnwrap(tree.node(at: "/soc/pci@30000000"))[property: "msi-parent"])
    }

    func testAIAMachineBuildsItsHostBridgeOnTheAPLIC() throws {
        let machine = try Machine(board: try Board.bundled(name: "virt-aia"), serial: NullSerialBackend())
        XCTAssertEqual(machine.space.read(0x3000_0000, size: 4), 0x0008_1b36, "host bridge 00.0 answers through ECAM")
    }
}
