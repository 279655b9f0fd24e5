import DeviceTree
import Devices
import Foundation
import Machine
import PluginHost
import XCTest

/// Plugin device types in board files, `--device` and the device tree, exactly like built-ins.
final class PluginBoardTests: XCTestCase {
    private var host: PluginHost!
    private var catalog: DeviceTypeCatalog!

    override func setUpWithError() throws {
        host = PluginHost()
        try host.load([PluginRequest(path: try PluginBuilder.example("acme_edu")),
                       PluginRequest(path: try PluginBuilder.example("acme_timer"))])
        catalog = try DeviceTypeCatalog.builtIn.registering(pluginTypes: host)
    }

    override func tearDown() { host.shutdown() }

    /// virt.yaml with `devices` appended to its device list.
    private func boardText(devices: String) throws -> String {
        let virt = try String(contentsOf: PluginBuilder.packageRoot.appendingPathComponent("Boards/virt.yaml"), encoding: .utf8)
        let boot = try XCTUnwrap(virt.range(of: "\nboot:"))
        var text = virt
        text.insert(contentsOf: "\n" + devices, at: boot.lowerBound)
        return text
    }

    private func board(devices: String) throws -> Board {
        try BoardLoader.load(yaml: try boardText(devices: devices), path: "board.yaml", catalog: catalog)
    }

    private let twoEdus = """
          - name: edu1
            type: acme.edu
            at: pcie0/03.0
            properties: { latency-ns: 5000 }
          - name: edu2
            type: acme.edu
            at: pcie0/04.0
          - name: timer0
            type: acme.timer
            reg: [0x10002000, 0x1000]
            irq: plic0@12
        """

    func testBoardInstancesOfPluginTypesAreBuiltWithTheirProperties() throws {
        let machine = try Machine(board: try board(devices: twoEdus), serial: NullSerialBackend(), plugins: host)
        XCTAssertEqual(host.pciFunctions.map(\.name), ["edu1", "edu2"])
        XCTAssertEqual(host.platformDevices.map(\.name), ["timer0"])
        XCTAssertEqual(machine.space.read(0x1000_2000, size: 4), 0x4143_4d45, "timer ID register at its reg")
        let capability = try XCTUnwrap(host.pciFunctions[0].config.findCapability(0x09))
        XCTAssertEqual(host.pciFunctions[0].readConfig(offset: capability + 4, size: 4), 5000)
        XCTAssertEqual(host.pciFunctions[1].readConfig(offset: capability + 4, size: 4), 10000, "default latency-ns")
    }

    func testAnUnknownPropertyOfAPluginTypeIsReportedLikeABuiltInOne() throws {
        let devices = """
              - name: edu1
                type: acme.edu
                at: pcie0/03.0
                properties: { latency: 5 }
            """
        let line = try boardText(devices: devices).split(separator: "\n", omittingEmptySubsequences: false)
            .firstIndex { $0.contains("latency: 5") }.map { $0 + 1 } ?? 0
        XCTAssertThrowsError(try board(devices: devices)) { error in
            XCTAssertEqual("\(error)", "board.yaml:\(line):19: error: unknown property 'latency' for device type 'acme.edu'; did you mean 'latency-ns'?")
        }
    }

    func testThePlatformDeviceGetsADeviceTreeNodeWithTheCompatibleOfThePlugin() throws {
        let tree = DeviceTreeGenerator.tree(board: try board(devices: twoEdus), bootArgs: "", catalog: catalog)
        let soc = try XCTUnwrap(tree.children.first { $0.name == "soc" })
        let node = try XCTUnwrap(soc.children.first { $0.name == "timer@10002000" })
        XCTAssertTrue(node.properties.contains(.strings("compatible", ["acme,timer-1.0"])), "\(node.properties)")
    }

    func testDeviceOptionAddsAPluginInstance() throws {
        let base = try board(devices: "")
        let added = try base.addingDevice("acme.edu,at=pcie0/05.0,latency-ns=0x20", catalog: catalog)
        let device = try XCTUnwrap(added.device(named: "acme.edu0"))
        XCTAssertEqual(device.pciAddress?.description, "pcie0/05.0")
        XCTAssertEqual(device.properties, ["latency-ns": .integer(32), "dma-latency-ns": .integer(10000)])
        XCTAssertNoThrow(try added.validate(catalog: catalog))
    }

    func testDeviceOptionWithAnUnknownTypeSuggestsTheNearestOne() throws {
        XCTAssertThrowsError(try board(devices: "").addingDevice("acme.edo,at=pcie0/05.0", catalog: catalog)) { error in
            XCTAssertEqual("\(error)", "--device 'acme.edo,at=pcie0/05.0': unknown device type 'acme.edo'; did you mean 'acme.edu'?")
        }
    }

    func testBoardPluginListResolvesPathsAgainstTheBoardFolder() throws {
        let folder = PluginBuilder.directory.appendingPathComponent("boards-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent("b.yaml").path
        try """
            name: b
            plugins:
              - libs/libacme_edu.so
              - path: /opt/libqpp_srv.so
                args: { tick-ns: 1000 }
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let plugins = try BoardLoader.plugins(path: path)
        XCTAssertEqual(plugins.map(\.path), [folder.appendingPathComponent("libs/libacme_edu.so").path, "/opt/libqpp_srv.so"])
        XCTAssertEqual(plugins[1].arguments, [BoardPluginArgument(key: "tick-ns", value: "1000")])
    }

    func testAPluginTypeNamedLikeABuiltInIsRefused() throws {
        let path = try PluginBuilder.testPlugin("clash", extra: ["REGISTER_PCI_SIZE=4096", "PCI_TYPE_NAME=\"edu\""])
        let other = PluginHost()
        defer { other.shutdown() }
        try other.load([PluginRequest(path: path)])
        XCTAssertThrowsError(try DeviceTypeCatalog.builtIn.registering(pluginTypes: other)) { error in
            XCTAssertEqual("\(error)", "plugin 'clash' registers device type 'edu', which is a built-in type")
        }
    }
}
