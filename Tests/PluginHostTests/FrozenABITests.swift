import Foundation
import IRQ
import Memory
import PCI
import PluginHost
import USB
import XCTest

/// Plugins compiled against the frozen ABI 1.0 to 1.3 headers (abi-1.0/ to abi-1.3/)
/// keep loading and working, with the meanings their headers promised.
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

    func testAPluginBuiltAgainstABI11LoadsAndKeepsItsMeanings() throws {
        let folder = PluginBuilder.packageRoot.appendingPathComponent("Tests/PluginHostTests/abi-1.1")
        let path = try PluginBuilder.build("legacy_1_1", sources: [folder.appendingPathComponent("legacy_device.c").path], include: [folder.path])
        let host = PluginHost()
        defer { host.shutdown() }
        try host.load([PluginRequest(path: path)])
        XCTAssertEqual(host.plugins.first.map { "\($0.abiMajor).\($0.abiMinor)" }, "1.1")
        host.attach(timebase: Timebase())

        let usb = try host.createUSBDevice(type: XCTUnwrap(host.usbType(named: "legacy11.usb")), device: "u0", properties: [])
        let core = USBDeviceCore(device: usb, speed: .full)
        usb.attached(at: .full)
        let packet = USBPacket(endpoint: 0x80, setup: USBSetupPacket(requestType: 0xc0, request: 6, length: 1), length: 1)
        core.submit(packet)
        XCTAssertEqual(packet.status, .success)
        XCTAssertEqual(packet.data, [7])

        let space = AddressSpace() // the bridge holds it unowned
        let bridge = PCIHostBridge(name: "pcie0", space: space, busCount: 1, windows: [], intx: [])
        _ = try bridge.attach(at: PCIAddress(device: 1)) { bus in
            try host.createPCIFunction(type: XCTUnwrap(host.pciType(named: "legacy11.pci")), device: "l0", properties: [], bus: bus)
        }
        withExtendedLifetime(space) {}
        host.qpp.declare(plugin: "tester", uses: ["legacy_1_1"])
        let report = unsafeBitCast(try host.qpp.importFunction(by: "tester", from: "legacy_1_1", name: "report", signature: "int(int)"),
                                   to: (@convention(c) (Int32) -> Int32).self)
        XCTAssertEqual(report(0), 0, "msix_notify with MSI-X disabled is BP_OK for a 1.1 plugin, as its header said")
        XCTAssertEqual(report(1), 1, "a 1.1 plugin gets the usb and instrument tables")
    }

    func testAPluginBuiltAgainstABI12LoadsAndWorksAndASnapshotOfItsDevicesIsRefusedNamingThem() throws {
        let folder = PluginBuilder.packageRoot.appendingPathComponent("Tests/PluginHostTests/abi-1.2")
        let path = try PluginBuilder.build("legacy_1_2", sources: [folder.appendingPathComponent("legacy_device.c").path], include: [folder.path])
        let host = PluginHost()
        defer { host.shutdown() }
        try host.load([PluginRequest(path: path)])
        XCTAssertEqual(host.plugins.first.map { "\($0.abiMajor).\($0.abiMinor)" }, "1.2")
        host.attach(timebase: Timebase())
        XCTAssertNil(host.snapshotRefusal, "no instances yet")

        let space = AddressSpace() // the bridge holds it unowned
        let bridge = PCIHostBridge(name: "pcie0", space: space, busCount: 1, windows: [], intx: [])
        let function = try bridge.attach(at: PCIAddress(device: 1)) { bus in
            try host.createPCIFunction(type: XCTUnwrap(host.pciType(named: "legacy12.pci")), device: "old-pci", properties: [], bus: bus)
        }
        XCTAssertEqual(function.readBAR(0, offset: 0, size: 4), 0x12aa)
        let usb = try host.createUSBDevice(type: XCTUnwrap(host.usbType(named: "legacy12.usb")), device: "old-usb", properties: [])
        let core = USBDeviceCore(device: usb, speed: .full)
        let packet = USBPacket(endpoint: 0x80, setup: USBSetupPacket(requestType: 0xc0, request: 6, length: 1), length: 1)
        core.submit(packet)
        XCTAssertEqual(packet.data, [8], "the 1.2 USB device answers")

        // Its types have no snapshot hooks (1.3 added them): the devices run, a snapshot refuses.
        XCTAssertEqual(host.snapshotRefusal,
                       "device 'old-pci' (plugin 'legacy_1_2', type 'legacy12.pci') has no save/restore hooks (ABI 1.3, docs/plugins.md \"Snapshots\"), so its state cannot be saved")
        XCTAssertEqual(host.snapshotParticipants.map(\.snapshotRefusal),
                       ["device 'old-pci' (plugin 'legacy_1_2', type 'legacy12.pci') has no save/restore hooks (ABI 1.3, docs/plugins.md \"Snapshots\"), so its state cannot be saved",
                        "device 'old-usb' (plugin 'legacy_1_2', type 'legacy12.usb') has no save/restore hooks (ABI 1.3, docs/plugins.md \"Snapshots\"), so its state cannot be saved"])
        XCTAssertFalse(host.snapshotParticipant(for: usb).canSaveState)
        withExtendedLifetime(space) {}
    }

    func testAPluginBuiltAgainstABI13LoadsWorksAndSavesAndRestoresThroughItsHooks() throws {
        let folder = PluginBuilder.packageRoot.appendingPathComponent("Tests/PluginHostTests/abi-1.3")
        let path = try PluginBuilder.build("legacy_1_3", sources: [folder.appendingPathComponent("legacy_device.c").path], include: [folder.path])
        let host = PluginHost()
        defer { host.shutdown() }
        try host.load([PluginRequest(path: path)])
        XCTAssertEqual(host.plugins.first.map { "\($0.abiMajor).\($0.abiMinor)" }, "1.3")
        host.attach(timebase: Timebase())

        let space = AddressSpace() // the bridge holds it unowned
        let bridge = PCIHostBridge(name: "pcie0", space: space, busCount: 1, windows: [], intx: [])
        let function = try bridge.attach(at: PCIAddress(device: 1)) { bus in
            try host.createPCIFunction(type: XCTUnwrap(host.pciType(named: "legacy13.pci")), device: "old-pci", properties: [], bus: bus)
        }
        XCTAssertEqual(function.readBAR(0, offset: 0, size: 4), 0x13aa)
        XCTAssertNil(host.snapshotRefusal, "a 1.3 type with hooks can be saved")
        let participant = host.snapshotParticipant(for: function)
        XCTAssertTrue(participant.canSaveState)
        function.writeBAR(0, offset: 0, size: 4, value: 0x5151)
        var writer = DeviceStateWriter()
        participant.save(to: &writer)
        function.writeBAR(0, offset: 0, size: 4, value: 0x7777)
        var reader = DeviceStateReader(writer.bytes)
        try participant.restore(from: &reader)
        XCTAssertTrue(reader.isAtEnd)
        XCTAssertEqual(function.readBAR(0, offset: 0, size: 4), 0x5151, "the 1.3 restore hook brought back what save wrote")
        withExtendedLifetime(space) {}
    }
}
