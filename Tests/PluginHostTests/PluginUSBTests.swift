import Devices
import Foundation
import IRQ
import Machine
import Memory
import PluginHost
import USB
import XCTest

/// The acme_usbloop example (Plugins/examples/acme_usbloop) behind the host's USB device core,
/// driven packet by packet as the xHCI controller drives it, and in board files.
final class PluginUSBTests: XCTestCase {
    private var host: PluginHost!

    override func setUpWithError() throws {
        host = PluginHost()
        try host.load([PluginRequest(path: try PluginBuilder.example("acme_usbloop"))])
        host.attach(timebase: Timebase())
    }

    override func tearDown() { host.shutdown() }

    private func device(latency: UInt64 = 1000, capacity: Int = 65536, speed: USBSpeed = .high) throws -> (PluginUSBDevice, USBDeviceCore) {
        let type = try XCTUnwrap(host.usbType(named: "acme.usbloop"))
        let device = try host.createUSBDevice(type: type, device: "loop1", properties: [("capacity", String(capacity)), ("latency-ns", String(latency))])
        let core = USBDeviceCore(device: device, speed: speed)
        device.attached(at: speed)
        return (device, core)
    }

    private func control(_ core: USBDeviceCore, _ setup: USBSetupPacket, data: [UInt8] = []) -> USBPacket {
        let packet = USBPacket(endpoint: setup.isIn ? 0x80 : 0, setup: setup, length: Int(setup.length), data: data)
        core.submit(packet)
        return packet
    }

    private func configure(_ core: USBDeviceCore) {
        XCTAssertEqual(control(core, USBSetupPacket(requestType: 0, request: USBRequest.setConfiguration, value: 1)).status, .success)
    }

    private func descriptor(_ core: USBDeviceCore, _ value: UInt16) -> [UInt8] {
        control(core, USBSetupPacket(requestType: 0x80, request: USBRequest.getDescriptor, value: value, length: 255)).data
    }

    /// Lets virtual time pass until the plugin's timers have fired.
    private func waitForTimers() {
        for _ in 0..<200 where host.timers.nanosecondsUntilNext() != nil {
            usleep(200)
            host.timers.fireDue()
        }
    }

    func testTheCoreAnswersGetDescriptorFromThePluginsDescriptors() throws {
        let (_, core) = try device()
        let device = descriptor(core, 0x0100)
        XCTAssertEqual(device.count, 18)
        XCTAssertEqual(device[2...3], [0x10, 0x02], "a SuperSpeed-capable device says USB 2.1 at high speed")
        XCTAssertEqual(device[8...11], [0x09, 0x12, 0x05, 0x00], "1209:0005")
        let product = descriptor(core, 0x0302)
        XCTAssertEqual(String(decoding: stride(from: 2, to: product.count, by: 2).map { UInt16(product[$0]) | UInt16(product[$0 + 1]) << 8 }, as: UTF16.self),
                       "ACME USB Loopback")
        XCTAssertEqual(core.endpoints(ofConfiguration: 1).map(\.maxPacketSize), [512, 512, 8], "the high-speed configuration")
    }

    func testTheSuperSpeedConfigurationAndBOSAreThePlugins() throws {
        let (_, core) = try device(speed: .superSpeed)
        XCTAssertEqual(core.endpoints(ofConfiguration: 1).map(\.maxPacketSize), [1024, 1024, 8])
        XCTAssertEqual(descriptor(core, 0x0f00).count, 22)
    }

    func testBulkDataComesBackAfterTheVirtualTimeLatency() throws {
        let (_, core) = try device()
        configure(core)
        let bytes = (0..<100).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let out = USBPacket(endpoint: 0x01, length: bytes.count, data: bytes)
        core.submit(out)
        XCTAssertEqual(out.status, .success)
        let input = USBPacket(endpoint: 0x81, length: 512)
        core.submit(input)
        XCTAssertNil(input.status, "pending until the plugin's timer fires")
        waitForTimers()
        XCTAssertEqual(input.status, .success)
        XCTAssertEqual(input.data, bytes)
    }

    func testAnINPacketWaitsForDataAndCompletesWhenItArrives() throws {
        let (_, core) = try device(latency: 0)
        configure(core)
        let input = USBPacket(endpoint: 0x81, length: 512)
        core.submit(input)
        XCTAssertNil(input.status)
        core.submit(USBPacket(endpoint: 0x01, length: 3, data: [1, 2, 3]))
        XCTAssertEqual(input.status, .success)
        XCTAssertEqual(input.data, [1, 2, 3])
    }

    func testAnOUTThatDoesNotFitWaitsUntilTheHostReads() throws {
        let (_, core) = try device(latency: 0, capacity: 4)
        configure(core)
        core.submit(USBPacket(endpoint: 0x01, length: 4, data: [1, 2, 3, 4]))
        let second = USBPacket(endpoint: 0x01, length: 2, data: [5, 6])
        core.submit(second)
        XCTAssertNil(second.status, "the FIFO is full")
        let input = USBPacket(endpoint: 0x81, length: 3)
        core.submit(input)
        XCTAssertEqual(input.data, [1, 2, 3])
        XCTAssertEqual(second.status, .success, "room again after the read")
    }

    func testTheInterruptEndpointReportsTheQueuedByteCount() throws {
        let (_, core) = try device(latency: 0)
        configure(core)
        let status = USBPacket(endpoint: 0x82, length: 8)
        core.submit(status)
        XCTAssertNil(status.status, "nothing changed yet")
        core.submit(USBPacket(endpoint: 0x01, length: 5, data: [1, 2, 3, 4, 5]))
        XCTAssertEqual(status.data, [5, 0, 0, 0])
    }

    func testVendorRequestsCountAndClearAndOthersStall() throws {
        let (_, core) = try device(latency: 0)
        configure(core)
        core.submit(USBPacket(endpoint: 0x01, length: 6, data: [1, 2, 3, 4, 5, 6]))
        XCTAssertEqual(control(core, USBSetupPacket(requestType: 0xc0, request: 0x01, length: 4)).data, [6, 0, 0, 0])
        XCTAssertEqual(control(core, USBSetupPacket(requestType: 0x40, request: 0x02)).status, .success)
        XCTAssertEqual(control(core, USBSetupPacket(requestType: 0xc0, request: 0x01, length: 4)).data, [0, 0, 0, 0])
        XCTAssertEqual(control(core, USBSetupPacket(requestType: 0xc0, request: 0x7f, length: 4)).status, .stall)
    }

    func testACancelledPacketIsForgottenByThePlugin() throws {
        let (device, core) = try device(latency: 0)
        configure(core)
        let input = USBPacket(endpoint: 0x81, length: 512)
        core.submit(input)
        device.cancel(input)
        let next = USBPacket(endpoint: 0x81, length: 512)
        core.submit(next)
        core.submit(USBPacket(endpoint: 0x01, length: 2, data: [9, 8]))
        XCTAssertNil(input.status, "the cancelled packet is not completed")
        XCTAssertEqual(next.data, [9, 8])
    }

    func testTheDeviceNameAndSpeedReachThePlugin() throws {
        let (device, _) = try device(speed: .full)
        XCTAssertEqual(device.name, "loop1")
        XCTAssertEqual(host.usbType(named: "acme.usbloop")?.speeds, [.full, .high, .superSpeed])
    }

    func testATypeWithATruncatedDeviceDescriptorIsRefusedWithTheReason() throws {
        let source = PluginBuilder.directory.appendingPathComponent("bad_usb.c")
        try """
            #include <backplane/backplane.h>
            static const uint8_t device[17] = {18, 1};
            static int install(const bp_host *host, bp_plugin *self, const bp_args *args) {
                (void)args;
                bp_usb_device_type type = {.struct_size = sizeof type, .name = "bad.usb", .speeds = BP_USB_SPEED_FULL,
                                           .device_descriptor = device, .device_descriptor_length = sizeof device};
                return host->usb->register_type(self, &type) == BP_ERR_INVALID ? 1 : 0;
            }
            BP_PLUGIN_DEFINE("bad_usb", "a USB type with a short device descriptor", NULL, install, NULL)
            """.write(to: source, atomically: true, encoding: .utf8)
        let path = try PluginBuilder.build("bad_usb", sources: [source.path])
        let other = PluginHost()
        defer { other.shutdown() }
        XCTAssertThrowsError(try other.load([PluginRequest(path: path)])) { error in
            XCTAssertEqual("\(error)", "plugin 'bad_usb' failed to install: device type 'bad.usb': the device descriptor has 17 bytes; it takes 18 (USB 2.0 §9.6.1)")
        }
    }

    // MARK: Board files

    private func boardText(devices: String) throws -> String {
        let virt = try String(contentsOf: PluginBuilder.packageRoot.appendingPathComponent("Boards/virt.yaml"), encoding: .utf8)
        let boot = try XCTUnwrap(virt.range(of: "\nboot:"))
        var text = virt
        text.insert(contentsOf: "\n" + devices, at: boot.lowerBound)
        return text
    }

    private let xhci = """
          - name: xhci0
            type: qemu-xhci
            at: pcie0/04.0
            properties: { usb2-ports: 2, usb3-ports: 2 }

        """

    func testABoardPlacesThePluginDeviceOnAPortLikeABuiltInOne() throws {
        let catalog = try DeviceTypeCatalog.builtIn.registering(pluginTypes: host)
        let board = try BoardLoader.load(yaml: try boardText(devices: xhci + """
              - name: loop1
                type: acme.usbloop
                at: xhci0/port2
                properties: { latency-ns: 500 }
            """), path: "board.yaml", catalog: catalog)
        let device = try XCTUnwrap(board.devices.first { $0.name == "loop1" })
        XCTAssertEqual(device.usbPort?.description, "xhci0/port2")
        XCTAssertEqual(device.properties["latency-ns"], .integer(500))
        XCTAssertEqual(device.properties["capacity"], .integer(65536), "the plugin's default")
    }

    func testTheMachinePlugsThePluginDeviceIntoItsPortAtTheFastestSpeedItTakes() throws {
        let catalog = try DeviceTypeCatalog.builtIn.registering(pluginTypes: host)
        let board = try BoardLoader.load(yaml: try boardText(devices: xhci + """
              - name: loop1
                type: acme.usbloop
                at: xhci0/port2
              - name: loop2
                type: acme.usbloop
                at: xhci0/port3
            """), path: "board.yaml", catalog: catalog)
        _ = try Machine(board: board, serial: NullSerialBackend(), plugins: host)
        XCTAssertEqual(host.usbDevices.map(\.name), ["loop1", "loop2"])
        XCTAssertEqual(host.usbDevices.map(\.speed), [.high, .superSpeed], "a USB 2 port, then a USB 3 port")
    }

    func testTheDeviceOptionPlacesThePluginDeviceOnAUSBPort() throws {
        let catalog = try DeviceTypeCatalog.builtIn.registering(pluginTypes: host)
        let board = try BoardLoader.load(yaml: try boardText(devices: xhci), path: "board.yaml", catalog: catalog)
            .addingDevice("acme.usbloop,at=xhci0/port1,latency-ns=0", catalog: catalog)
        try board.validate(catalog: catalog)
        let device = try XCTUnwrap(board.devices.last)
        XCTAssertEqual(device.name, "acme.usbloop0")
        XCTAssertEqual(device.usbPort?.description, "xhci0/port1")
        XCTAssertEqual(device.properties["latency-ns"], .integer(0))
    }

    func testAPluginDeviceAtASpeedItsPortCannotTakeIsABoardError() throws {
        let catalog = try DeviceTypeCatalog.builtIn.registering(pluginTypes: host)
        XCTAssertThrowsError(try BoardLoader.load(yaml: try boardText(devices: xhci + """
              - name: loop1
                type: acme.usbloop
                at: xhci0/port3
                properties: { speed: high }
            """), path: "board.yaml", catalog: catalog)) { error in
            XCTAssertTrue("\(error)".contains("port 3 of 'xhci0' is a USB 3 port (super speed only) and cannot take 'loop1' at high speed; its USB 2 ports are 1...2"), "\(error)")
        }
    }
}
