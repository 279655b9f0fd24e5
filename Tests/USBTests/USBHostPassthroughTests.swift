import Foundation
import XCTest
import PCI
@testable import USB
import class Passthrough.LibUSBBackend
import class Passthrough.ReplayUSBBackend
import class Passthrough.ReplayUSBDevice
import class Passthrough.USBHostPassthrough
import struct Passthrough.USBRecording
import enum Passthrough.HostUSBSelector
import struct Passthrough.HostUSBOpenOptions

/// `usb.host` (USBHostPassthrough) over recorded devices (ReplayUSB, the recordings in
/// Tests/PassthroughTests/Recordings/usb) driven through the xHCI controller as a driver does:
/// descriptors and strings from the host device, forwarded class requests, bulk and interrupt
/// transfers completed later from `poll()`, a stall, and an unplug that disconnects the port.
final class USBHostPassthroughTests: XCTestCase {
    static let recordings = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("PassthroughTests/Recordings/usb")

    private func open(_ name: String) throws -> (USBHostPassthrough, ReplayUSBDevice) {
        let recording = try USBRecording.load(path: USBHostPassthroughTests.recordings.appendingPathComponent(name).path)
        let backend = ReplayUSBBackend([recording])
        let host = try XCTUnwrap(try backend.open(.location(bus: recording.bus, ports: recording.ports), options: HostUSBOpenOptions()) as? ReplayUSBDevice)
        return (try USBHostPassthrough(host: host), host)
    }

    /// Lets the replay's event queue run, then the machine thread's poll.
    private func settle(_ fixture: XHCIFixture, _ host: ReplayUSBDevice) {
        host.drain()
        fixture.xhci.poll()
    }

    /// The device on USB 2 port 1, reset and addressed; returns the slot.
    private func addressed(_ device: USBHostPassthrough, _ fixture: XHCIFixture, speed: USBSpeed) throws -> Int {
        fixture.start()
        let core = try fixture.xhci.attach(device, port: 1)
        device.onUnplug = { [weak xhci = fixture.xhci] in xhci?.detach(port: 1) }
        XCTAssertEqual(core.speed, speed)
        fixture.write(fixture.portsc(1), XHCIPortBit.reset | XHCIPortBit.power)
        _ = fixture.events()
        return try XCTUnwrap(fixture.addressDevice(port: 1, speed: speed))
    }

    /// SET_CONFIGURATION(1), then Configure Endpoint with `endpoints` (DCI, xHCI endpoint type,
    /// ring base).
    private func configure(_ fixture: XHCIFixture, slot: Int, _ endpoints: [(dci: Int, type: Int, ring: UInt64)]) {
        XCTAssertEqual(fixture.control(slot: slot, USBSetupPacket(requestType: 0, request: USBRequest.setConfiguration, value: 1))
                        .map { XHCIFixture.code($0) }, [.success])
        fixture.store(fixture.inputContext, [UInt8](repeating: 0, count: 33 * 32))
        fixture.store32(fixture.inputContext + 4, endpoints.reduce(1) { $0 | 1 << UInt32($1.dci) })
        fixture.store32(fixture.inputContext + 32, UInt32(endpoints.map(\.dci).max()!) << 27)
        for endpoint in endpoints {
            let context = fixture.inputContext + UInt64(32 * (endpoint.dci + 1))
            fixture.store32(context + 4, UInt32(endpoint.type) << 3 | 512 << 16 | 3 << 1)
            fixture.store64(context + 8, endpoint.ring | 1)
        }
        XCTAssertEqual(fixture.run(XHCITRB(parameter: fixture.inputContext, control: XHCITRB.control(type: .configureEndpoint, cycle: false) | UInt32(slot) << 24))
                        .flatMap(XHCIFixture.code), .success)
    }

    private let bulkOutRing = XHCIFixture.ram + 0x8000
    private let bulkInRing = XHCIFixture.ram + 0x9000

    /// One Normal TD with IOC (and ISP for IN) on `ring`, doorbell `dci`; returns the TRB address.
    private func transfer(_ fixture: XHCIFixture, slot: Int, dci: Int, ring: UInt64, buffer: UInt64, length: Int, isIn: Bool) -> UInt64 {
        let trb = fixture.enqueue(ring, [XHCITRB(parameter: buffer, status: UInt32(length),
                                                 control: XHCITRB.control(type: .normal, cycle: false) | 1 << 5 | (isIn ? 1 << 2 : 0))])
        fixture.write(XHCILayout.doorbells + UInt64(4 * slot), UInt32(dci))
        return trb[0]
    }

    private func hex(_ text: String) -> [UInt8] { text.split(separator: " ").map { UInt8($0, radix: 16)! } }

    func testTheGuestReadsTheHostDevicesDescriptorsAndProductString() throws {
        let (device, _) = try open("flash-drive.json")
        let fixture = XHCIFixture()
        let slot = try addressed(device, fixture, speed: .high)

        _ = fixture.control(slot: slot, USBSetupPacket(requestType: 0x80, request: USBRequest.getDescriptor, value: 0x0100, length: 18))
        let descriptor = fixture.load(fixture.data, 18)
        _ = fixture.control(slot: slot, USBSetupPacket(requestType: 0x80, request: USBRequest.getDescriptor, value: 0x0302, index: 0x0409, length: 255))
        let product = fixture.load(fixture.data, 26)

        XCTAssertEqual(descriptor, hex("12 01 00 02 00 00 00 40 81 07 67 55 00 01 01 02 03 01"))
        XCTAssertEqual(product, [26, 3] + "Cruzer Blade".utf16.flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] })
    }

    func testAClassRequestIsForwardedAndCompletesFromPoll() throws {
        let (device, host) = try open("flash-drive.json")
        let fixture = XHCIFixture()
        let slot = try addressed(device, fixture, speed: .high)

        // GET MAX LUN (Bulk-Only 1.0 §3.2): not a standard request, so it goes to the host.
        let first = fixture.control(slot: slot, USBSetupPacket(requestType: 0xa1, request: 0xfe, length: 1))
        XCTAssertEqual(first, [], "pending until the host's completion is polled")
        settle(fixture, host)

        XCTAssertEqual(fixture.events().map { XHCIFixture.code($0) }, [.success])
        XCTAssertEqual(fixture.load(fixture.data, 1), [0])
    }

    func testSetConfigurationReachesTheHostDevice() throws {
        let (device, host) = try open("flash-drive.json")
        let fixture = XHCIFixture()
        let slot = try addressed(device, fixture, speed: .high)

        configure(fixture, slot: slot, [(3, 6, bulkInRing), (4, 2, bulkOutRing)])

        XCTAssertEqual(host.activeConfiguration, 1)
    }

    /// SCSI INQUIRY over Bulk-Only: CBW out on 0x02, 36 bytes in on 0x81, then the CSW.
    private func inquiry(_ fixture: XHCIFixture, _ host: ReplayUSBDevice, slot: Int) -> (data: [UInt8], status: [UInt8]) {
        fixture.store(XHCIFixture.ram + 0x20000, hex("55 53 42 43 01 00 00 00 24 00 00 00 80 00 06 12 00 00 00 24 00 00 00 00 00 00 00 00 00 00 00"))
        _ = transfer(fixture, slot: slot, dci: 4, ring: bulkOutRing, buffer: XHCIFixture.ram + 0x20000, length: 31, isIn: false)
        _ = transfer(fixture, slot: slot, dci: 3, ring: bulkInRing, buffer: XHCIFixture.ram + 0x21000, length: 36, isIn: true)
        settle(fixture, host)
        settle(fixture, host)
        _ = transfer(fixture, slot: slot, dci: 3, ring: bulkInRing, buffer: XHCIFixture.ram + 0x22000, length: 13, isIn: true)
        settle(fixture, host)
        return (fixture.load(XHCIFixture.ram + 0x21000, 36), fixture.load(XHCIFixture.ram + 0x22000, 13))
    }

    func testBulkOutAndInTransfersAreForwarded() throws {
        let (device, host) = try open("flash-drive.json")
        let fixture = XHCIFixture()
        let slot = try addressed(device, fixture, speed: .high)
        configure(fixture, slot: slot, [(3, 6, bulkInRing), (4, 2, bulkOutRing)])
        _ = fixture.events()

        let (data, status) = inquiry(fixture, host, slot: slot)

        XCTAssertEqual(fixture.events().map { XHCIFixture.code($0) }, [.success, .success, .success])
        XCTAssertEqual(String(decoding: data[8..<36], as: UTF8.self), "SanDisk Cruzer Blade    1.00")
        XCTAssertEqual(status, hex("55 53 42 53 01 00 00 00 00 00 00 00 00"))
    }

    func testAHostStallHaltsTheGuestEndpoint() throws {
        let (device, host) = try open("flash-drive.json")
        let fixture = XHCIFixture()
        let slot = try addressed(device, fixture, speed: .high)
        configure(fixture, slot: slot, [(3, 6, bulkInRing), (4, 2, bulkOutRing)])
        _ = inquiry(fixture, host, slot: slot)
        _ = fixture.events()

        fixture.store(XHCIFixture.ram + 0x20000, hex("55 53 42 43 02 00 00 00 08 00 00 00 80 00 0a ff 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"))
        _ = transfer(fixture, slot: slot, dci: 4, ring: bulkOutRing, buffer: XHCIFixture.ram + 0x20000, length: 31, isIn: false)
        _ = transfer(fixture, slot: slot, dci: 3, ring: bulkInRing, buffer: XHCIFixture.ram + 0x21000, length: 8, isIn: true)
        settle(fixture, host)
        settle(fixture, host)

        XCTAssertEqual(fixture.events().map { XHCIFixture.code($0) }, [.success, .stallError])
        XCTAssertEqual(fixture.xhci.slots[slot].endpoints[3]?.state, .halted)
        XCTAssertTrue(fixture.xhci.ports[0].device?.isHalted(0x81) ?? false)
    }

    func testClearingTheHaltClearsItOnTheHostDevice() throws {
        let (device, host) = try open("flash-drive.json")
        let fixture = XHCIFixture()
        let slot = try addressed(device, fixture, speed: .high)
        configure(fixture, slot: slot, [(3, 6, bulkInRing), (4, 2, bulkOutRing)])
        _ = inquiry(fixture, host, slot: slot)
        fixture.store(XHCIFixture.ram + 0x20000, hex("55 53 42 43 02 00 00 00 08 00 00 00 80 00 0a ff 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"))
        _ = transfer(fixture, slot: slot, dci: 4, ring: bulkOutRing, buffer: XHCIFixture.ram + 0x20000, length: 31, isIn: false)
        _ = transfer(fixture, slot: slot, dci: 3, ring: bulkInRing, buffer: XHCIFixture.ram + 0x21000, length: 8, isIn: true)
        settle(fixture, host)
        settle(fixture, host)
        XCTAssertEqual(host.halted, [0x81], "the recorded stall halted the host endpoint")
        _ = fixture.events()

        let events = fixture.control(slot: slot, USBSetupPacket(requestType: 2, request: USBRequest.clearFeature, value: USBFeature.endpointHalt, index: 0x81))

        XCTAssertEqual(events.map { XHCIFixture.code($0) }, [.success])
        XCTAssertEqual(host.halted, [])
        XCTAssertFalse(fixture.xhci.ports[0].device?.isHalted(0x81) ?? true)
    }

    func testAHostUnplugDisconnectsTheGuestPort() throws {
        let (device, host) = try open("flash-drive.json")
        let fixture = XHCIFixture()
        let slot = try addressed(device, fixture, speed: .high)
        configure(fixture, slot: slot, [(3, 6, bulkInRing), (4, 2, bulkOutRing)])
        _ = fixture.control(slot: slot, USBSetupPacket(requestType: 0xa1, request: 0xfe, length: 1))
        settle(fixture, host)
        _ = inquiry(fixture, host, slot: slot)
        fixture.store(XHCIFixture.ram + 0x20000, hex("55 53 42 43 02 00 00 00 08 00 00 00 80 00 0a ff 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"))
        _ = transfer(fixture, slot: slot, dci: 4, ring: bulkOutRing, buffer: XHCIFixture.ram + 0x20000, length: 31, isIn: false)
        _ = transfer(fixture, slot: slot, dci: 3, ring: bulkInRing, buffer: XHCIFixture.ram + 0x21000, length: 8, isIn: true)
        settle(fixture, host)
        settle(fixture, host)
        XCTAssertEqual(fixture.run(XHCITRB(control: XHCITRB.control(type: .resetEndpoint, cycle: false) | UInt32(slot) << 24 | 3 << 16))
                        .flatMap(XHCIFixture.code), .success)
        _ = fixture.control(slot: slot, USBSetupPacket(requestType: 2, request: USBRequest.clearFeature, value: USBFeature.endpointHalt, index: 0x81))
        _ = fixture.events()
        fixture.write(fixture.portsc(1), XHCIPortBit.connectChange | XHCIPortBit.resetChange | XHCIPortBit.power)

        // The failed command's CSW is the last recorded transfer before the unplug.
        fixture.write(XHCILayout.doorbells + UInt64(4 * slot), 3)
        _ = transfer(fixture, slot: slot, dci: 3, ring: bulkInRing, buffer: XHCIFixture.ram + 0x22000, length: 13, isIn: true)
        settle(fixture, host)
        settle(fixture, host)

        XCTAssertEqual(host.unusedTransfers, 0)
        XCTAssertTrue(device.isUnplugged)
        XCTAssertNil(fixture.xhci.ports[0].device)
        XCTAssertEqual(fixture.events().map(\.type).filter { $0 == .portStatusChangeEvent }, [.portStatusChangeEvent])
        XCTAssertEqual(fixture.read(fixture.portsc(1)) & (XHCIPortBit.currentConnect | XHCIPortBit.connectChange), XHCIPortBit.connectChange)
    }

    func testInterruptInReportsComeFromTheHostDevice() throws {
        let (device, host) = try open("keyboard.json")
        let fixture = XHCIFixture()
        let slot = try addressed(device, fixture, speed: .low)
        // HID interrupt IN 0x81: DCI 3, type 7 (Interrupt IN).
        configure(fixture, slot: slot, [(3, 7, bulkInRing)])
        // SET_IDLE (HID 1.11 §7.2.4) is a class request: forwarded.
        XCTAssertEqual(fixture.control(slot: slot, USBSetupPacket(requestType: 0x21, request: 0x0a)), [])
        settle(fixture, host)
        XCTAssertEqual(fixture.events().map { XHCIFixture.code($0) }, [.success])

        _ = transfer(fixture, slot: slot, dci: 3, ring: bulkInRing, buffer: XHCIFixture.ram + 0x21000, length: 8, isIn: true)
        settle(fixture, host)

        XCTAssertEqual(fixture.events().map { XHCIFixture.code($0) }, [.success])
        XCTAssertEqual(fixture.load(XHCIFixture.ram + 0x21000, 8), [0, 0, 4, 0, 0, 0, 0, 0], "'a' down (usage 0x04)")
    }

    /// Needs a host USB device Backplane may open (not a hub); skipped on machines without one.
    func testARealHostDeviceEnumeratesThroughTheController() throws {
        let backend = try LibUSBBackend()
        guard let info = try backend.devices().first(where: { $0.problem == nil && $0.deviceClass != 9 }) else {
            throw XCTSkip("no openable host USB device here (no USB, or only hubs, or no permission): real-device test skipped")
        }
        let host = try backend.open(.location(bus: info.bus, ports: info.ports), options: HostUSBOpenOptions())
        let device = try USBHostPassthrough(host: host)
        defer { device.close() }
        let fixture = XHCIFixture(usb2Ports: 2, usb3Ports: 2)
        fixture.start()
        let port = device.speeds.contains(.superSpeed) ? 3 : 1
        try fixture.xhci.attach(device, port: port)
        fixture.write(fixture.portsc(port), XHCIPortBit.reset | XHCIPortBit.power)
        _ = fixture.events()
        let slot = try XCTUnwrap(fixture.addressDevice(port: port, speed: device.speeds.first!))

        _ = fixture.control(slot: slot, USBSetupPacket(requestType: 0x80, request: USBRequest.getDescriptor, value: 0x0100, length: 18))

        let descriptor = fixture.load(fixture.data, 18)
        XCTAssertEqual(UInt16(descriptor[8]) | UInt16(descriptor[9]) << 8, info.vendorID)
        XCTAssertEqual(UInt16(descriptor[10]) | UInt16(descriptor[11]) << 8, info.productID)
    }
}
