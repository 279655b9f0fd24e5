import Foundation
import IRQ
import Memory
import PCI
import PluginHost
import XCTest

/// A plugin compiled against the frozen ABI 1.0 headers (abi-1.0/) keeps loading and working.
final class FrozenABITests: XCTestCase {
    func testAPluginBuiltAgainstABI10LoadsAndWorks() throws {
        let folder = PluginBuilder.packageRoot.appendingPathComponent("Tests/PluginHostTests/abi-1.0")
        let path = try PluginBuilder.build("legacy_1_0", sources: [folder.appendingPathComponent("legacy_device.c").path], include: [folder.path])
        let host = PluginHost()
        defer { host.shutdown() }
        try host.load([PluginRequest(path: path)])
        XCTAssertEqual(host.plugins.first.map { "\($0.abiMajor).\($0.abiMinor)" }, "1.0")
        host.attach(timebase: Timebase())

        let type = try XCTUnwrap(host.pciType(named: "legacy.pci"))
        XCTAssertEqual(type.bars[2], .memory64(size: 0x4000, prefetchable: true))
        let space = AddressSpace()
        let bridge = PCIHostBridge(name: "pcie0", space: space, busCount: 1, windows: [], intx: [])
        let function = try bridge.attach(at: PCIAddress(device: 1)) { bus in
            try host.createPCIFunction(type: type, device: "legacy0", properties: [], bus: bus)
        }
        XCTAssertEqual(function.readBAR(0, offset: 0, size: 4), 0x1e6ac)
        function.writeBAR(2, offset: 8, size: 8, value: 0x1122_3344_5566_7788)
        XCTAssertEqual(function.readBAR(2, offset: 8, size: 8), 0x1122_3344_5566_7788, "RAM-backed BAR")
        XCTAssertEqual(host.timers.fireDue(), 1)
        XCTAssertEqual(function.readBAR(0, offset: 4, size: 4), 1, "its timer fired")

        host.qpp.declare(plugin: "tester", uses: ["legacy_1_0"])
        let answer = try host.qpp.importFunction(by: "tester", from: "legacy_1_0", name: "answer", signature: "int(void)")
        XCTAssertEqual(unsafeBitCast(answer, to: (@convention(c) () -> Int32).self)(), 42)
    }
}
