import CBackplane
import Foundation
import IRQ
import Memory
import PCI
import PluginHost
@testable import USB
import XCTest

/// ABI 1.3 on USB: a plugin device (Fixtures/isoch_plugin.c) behind the real xHCI controller,
/// driven through its registers and rings as a driver does (XHCIFixture, shared with USBTests):
/// isochronous TDs reach the plugin in the (micro)frame they are scheduled for, which agrees with
/// MFINDEX; a frame that has passed is a Missed Service Error; remote wakeup takes a suspended
/// root port through Resume only when the host enabled it.
final class PluginUSBIsochTests: XCTestCase {
    private var host: PluginHost!
    private var probe: (@convention(c) (Int32) -> Int32)!
    private let inRing = XHCIFixture.ram + 0x8000
    private let outRing = XHCIFixture.ram + 0x9000
    private let buffer = XHCIFixture.ram + 0x20000

    override func setUpWithError() throws {
        let path = try PluginBuilder.build("isoch_test", sources: [PluginBuilder.packageRoot.appendingPathComponent("Tests/PluginHostTests/Fixtures/isoch_plugin.c").path])
        host = PluginHost()
        try host.load([PluginRequest(path: path)])
        host.attach(timebase: Timebase())
        host.qpp.declare(plugin: "tester", uses: ["isoch_test"])
        probe = unsafeBitCast(try host.qpp.importFunction(by: "tester", from: "isoch_test", name: "probe", signature: "int(int)"),
                              to: (@convention(c) (Int32) -> Int32).self)
    }

    override func tearDown() { host.shutdown() }

    /// A high-speed plugin device on USB 2 port 1, reset, addressed and configured.
    private func plugged() throws -> (XHCIFixture, Int, PluginUSBDevice) {
        let fixture = XHCIFixture()
        fixture.start()
        let device = try host.createUSBDevice(type: XCTUnwrap(host.usbType(named: "t.isoch")), device: "iso0", properties: [])
        try fixture.xhci.attach(device, port: 1)
        fixture.write(fixture.portsc(1), XHCIPortBit.reset | XHCIPortBit.power)
        _ = fixture.events()
        let slot = try XCTUnwrap(fixture.addressDevice(port: 1, speed: .high))
        XCTAssertEqual(fixture.control(slot: slot, USBSetupPacket(requestType: 0, request: USBRequest.setConfiguration, value: 1)).map { XHCIFixture.code($0) }, [.success])
        return (fixture, slot, device)
    }

    /// SET_INTERFACE(0, 1) and Configure Endpoint for isochronous IN (DCI 3) and OUT (DCI 4),
    /// Interval 3 (2^3 microframes, from bInterval 4; xHCI 1.2 §6.2.3.6).
    private func startStreaming(_ fixture: XHCIFixture, _ slot: Int) {
        XCTAssertEqual(fixture.control(slot: slot, USBSetupPacket(requestType: 1, request: USBRequest.setInterface, value: 1, index: 0)).map { XHCIFixture.code($0) }, [.success])
        fixture.store(fixture.inputContext, [UInt8](repeating: 0, count: 33 * 32))
        fixture.store32(fixture.inputContext + 4, 1 | 1 << 3 | 1 << 4)
        fixture.store32(fixture.inputContext + 32, 4 << 27)
        for (dci, type, ring) in [(3, 5, inRing), (4, 1, outRing)] {
            let context = fixture.inputContext + UInt64(32 * (dci + 1))
            fixture.store32(context, 3 << 16)
            fixture.store32(context + 4, UInt32(type) << 3 | 192 << 16)
            fixture.store64(context + 8, ring | 1)
        }
        XCTAssertEqual(fixture.run(XHCITRB(parameter: fixture.inputContext, control: XHCITRB.control(type: .configureEndpoint, cycle: false) | UInt32(slot) << 24))
                        .flatMap(XHCIFixture.code), .success)
    }

    /// An Isoch TRB (xHCI 1.2 §6.4.1.3) with IOC: Start Isoch ASAP, or for frame `frame`.
    private func isoch(_ address: UInt64, length: Int, frame: Int? = nil) -> XHCITRB {
        let timing = frame.map { UInt32($0 & 0x7ff) << 20 } ?? 1 << 31
        return XHCITRB(parameter: address, status: UInt32(length), control: XHCITRB.control(type: .isoch, cycle: false) | 1 << 5 | timing)
    }

    /// Polls the controller (as the machine's run loop does) until a transfer event appears.
    private func waitForTransferEvent(_ fixture: XHCIFixture, seconds: Double = 2) -> [XHCITRB] {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            fixture.xhci.poll()
            let events = fixture.events().filter { $0.type == .transferEvent }
            if !events.isEmpty { return events }
            usleep(100)
        }
        return []
    }

    private func mfindex(_ fixture: XHCIFixture) -> UInt32 { fixture.read(XHCILayout.runtime) & 0x3fff }

    /// Microframes from `a` to `b` on the 14-bit MFINDEX circle.
    private func distance(_ a: UInt32, _ b: UInt32) -> UInt32 { (b &- a) & 0x3fff }

    func testAnASAPIsochronousINTransferReachesThePluginInItsServiceIntervalAndAgreesWithMFINDEX() throws {
        let (fixture, slot, _) = try plugged()
        startStreaming(fixture, slot)
        let before = mfindex(fixture)
        let trbs = fixture.enqueue(inRing, [isoch(buffer, length: 8), isoch(buffer + 8, length: 8)])
        fixture.write(XHCILayout.doorbells + UInt64(4 * slot), 3)
        var events: [XHCITRB] = []
        let deadline = Date().addingTimeInterval(2)
        while events.count < 2 && Date() < deadline { events += waitForTransferEvent(fixture) }
        let after = mfindex(fixture)
        XCTAssertEqual(events.map(\.parameter), trbs)
        XCTAssertEqual(events.map { XHCIFixture.code($0) }, [.success, .success])
        XCTAssertEqual(probe(1), 2, "the plugin served both packets")
        let words = fixture.load(buffer, 16)
        func word(_ at: Int) -> UInt32 { UInt32(words[at]) | UInt32(words[at + 1]) << 8 | UInt32(words[at + 2]) << 16 | UInt32(words[at + 3]) << 24 }
        let (scheduled1, seen1, scheduled2, seen2) = (word(0), word(4), word(8), word(12))
        // Start Isoch ASAP takes the next service interval: aligned to 2^Interval = 8 microframes.
        XCTAssertEqual(scheduled1 % 8, 0, "first TD on a service-interval boundary")
        XCTAssertEqual(distance(scheduled1, scheduled2), 8, "the next TD takes the next interval")
        // The plugin sees MFINDEX's clock: never before the packet's microframe, never ahead of
        // what the driver reads afterwards, and the packet came after the doorbell.
        XCTAssertLessThanOrEqual(distance(before, scheduled1), distance(before, after))
        XCTAssertLessThanOrEqual(distance(scheduled1, seen1), distance(scheduled1, after))
        XCTAssertLessThanOrEqual(distance(scheduled2, seen2), distance(scheduled2, after))
        XCTAssertLessThan(distance(before, after), 2000, "the test ran within a quarter second")
    }

    func testAFrameIDInTheFutureWaitsForItsFrameAndOneInThePastIsAMissedService() throws {
        let (fixture, slot, _) = try plugged()
        startStreaming(fixture, slot)
        fixture.store(buffer, [0x5a])
        // 20 frames (20 ms) ahead: nothing happens at the doorbell.
        let frame = Int((mfindex(fixture) >> 3) + 20) & 0x7ff
        let trb = fixture.enqueue(outRing, [isoch(buffer, length: 1, frame: frame)])
        fixture.write(XHCILayout.doorbells + UInt64(4 * slot), 4)
        XCTAssertEqual(fixture.events().filter { $0.type == .transferEvent }, [], "its frame has not come")
        XCTAssertEqual(probe(3), -1, "the plugin has not seen it yet")
        let wait = try XCTUnwrap(fixture.xhci.nanosecondsUntilNextEvent(), "the machine may sleep only until the TD's frame")
        XCTAssertGreaterThan(wait, 0)
        XCTAssertLessThanOrEqual(wait, 20_000_000)
        let events = waitForTransferEvent(fixture)
        XCTAssertNil(fixture.xhci.nanosecondsUntilNextEvent(), "nothing waits any more")
        XCTAssertEqual(events.map(\.parameter), trb)
        XCTAssertEqual(events.first.flatMap(XHCIFixture.code), .success)
        XCTAssertEqual(probe(3), 0x5a)
        XCTAssertEqual(UInt32(bitPattern: probe(2)), UInt32(frame * 8) & 0x3fff, "delivered with the microframe its Frame ID names")

        // 50 frames ago: Missed Service Error (xHCI 1.2 §4.10.3.2), not delivered, and the
        // endpoint keeps running.
        fixture.store(buffer, [0x77])
        let past = Int((mfindex(fixture) >> 3) &+ 2048 - 50) & 0x7ff
        let missed = fixture.enqueue(outRing, [isoch(buffer, length: 1, frame: past)])
        fixture.write(XHCILayout.doorbells + UInt64(4 * slot), 4)
        let missedEvents = fixture.events().filter { $0.type == .transferEvent }
        XCTAssertEqual(missedEvents.map(\.parameter), missed)
        XCTAssertEqual(missedEvents.first.flatMap(XHCIFixture.code), .missedService)
        XCTAssertEqual(probe(3), 0x5a, "the missed TD never reached the plugin")
        XCTAssertEqual(fixture.xhci.slots[slot].endpoints[4]?.state, .running)
    }

    func testStopEndpointDropsATDWaitingForItsFrame() throws {
        let (fixture, slot, _) = try plugged()
        startStreaming(fixture, slot)
        fixture.store(buffer, [0x66])
        let frame = Int((mfindex(fixture) >> 3) + 20) & 0x7ff
        _ = fixture.enqueue(outRing, [isoch(buffer, length: 1, frame: frame)])
        fixture.write(XHCILayout.doorbells + UInt64(4 * slot), 4)
        XCTAssertNotNil(fixture.xhci.nanosecondsUntilNextEvent())
        // Stop Endpoint (xHCI 1.2 §4.6.9): no TD was in progress, so only the command completes.
        let stop = fixture.run(XHCITRB(control: XHCITRB.control(type: .stopEndpoint, cycle: false) | UInt32(slot) << 24 | 4 << 16))
        XCTAssertEqual(stop.flatMap(XHCIFixture.code), .success)
        XCTAssertNil(fixture.xhci.nanosecondsUntilNextEvent(), "the waiting TD is forgotten")
        XCTAssertEqual(waitForTransferEvent(fixture, seconds: 0.05), [], "its frame passes without a transfer")
        XCTAssertEqual(probe(3), -1, "the plugin never saw it")
        XCTAssertEqual(fixture.xhci.slots[slot].endpoints[4]?.state, .stopped)
    }

    func testRemoteWakeupIsRefusedUntilEnabledAndThenResumesTheSuspendedPort() throws {
        let (fixture, slot, device) = try plugged()
        XCTAssertEqual(probe(0), BP_ERR_DISABLED, "the host has not enabled remote wakeup")
        XCTAssertEqual(fixture.control(slot: slot, USBSetupPacket(requestType: 0, request: USBRequest.setFeature, value: USBFeature.deviceRemoteWakeup)).map { XHCIFixture.code($0) }, [.success])
        XCTAssertEqual(probe(0), BP_ERR_STATE, "enabled, but the port is not suspended")

        // The driver suspends the port: PLS = U3 with the Link State Write Strobe (§4.15.1).
        fixture.write(fixture.portsc(1), XHCIPortBit.linkStateWriteStrobe | XHCILinkState.u3 << XHCIPortBit.linkStateShift | XHCIPortBit.power)
        _ = fixture.events()
        XCTAssertEqual(probe(0), BP_OK)
        let status = fixture.read(fixture.portsc(1))
        XCTAssertEqual((status & XHCIPortBit.linkStateMask) >> XHCIPortBit.linkStateShift, XHCILinkState.resume, "PLS = Resume (xHCI 1.2 §4.15.2.1)")
        XCTAssertNotEqual(status & XHCIPortBit.linkStateChange, 0, "Port Link State Change")
        XCTAssertEqual(fixture.events().map(\.type), [.portStatusChangeEvent])
        XCTAssertEqual(probe(0), BP_ERR_STATE, "already resuming")

        // The driver clears PLC and drives the port to U0: PLC again when the link is back.
        fixture.write(fixture.portsc(1), XHCIPortBit.linkStateChange | XHCIPortBit.power)
        fixture.write(fixture.portsc(1), XHCIPortBit.linkStateWriteStrobe | XHCILinkState.u0 << XHCIPortBit.linkStateShift | XHCIPortBit.power)
        XCTAssertEqual((fixture.read(fixture.portsc(1)) & XHCIPortBit.linkStateMask) >> XHCIPortBit.linkStateShift, XHCILinkState.u0)
        XCTAssertEqual(fixture.events().map(\.type), [.portStatusChangeEvent])

        // CLEAR_FEATURE disables it again; a port reset too.
        XCTAssertEqual(fixture.control(slot: slot, USBSetupPacket(requestType: 0, request: USBRequest.clearFeature, value: USBFeature.deviceRemoteWakeup)).map { XHCIFixture.code($0) }, [.success])
        fixture.write(fixture.portsc(1), XHCIPortBit.linkStateWriteStrobe | XHCILinkState.u3 << XHCIPortBit.linkStateShift | XHCIPortBit.power)
        XCTAssertEqual(probe(0), BP_ERR_DISABLED)
        fixture.xhci.detach(port: 1)
        XCTAssertEqual(probe(0), BP_ERR_STATE, "unplugged")
        withExtendedLifetime(device) {}
    }

    func testPCIAndPlatformDevicesSaveAndRestoreThroughTheirHooks() throws {
        let space = AddressSpace() // the bridge holds it unowned
        let bridge = PCIHostBridge(name: "pcie0", space: space, busCount: 1, windows: [], intx: [])
        let function = try bridge.attach(at: PCIAddress(device: 1)) { bus in
            try host.createPCIFunction(type: XCTUnwrap(host.pciType(named: "t.word.pci")), device: "word-pci", properties: [], bus: bus)
        }
        let platform = try host.createPlatformDevice(type: XCTUnwrap(host.platformType(named: "t.word.platform")), device: "word-mmio",
                                                     properties: [], base: 0x1000_0000, size: 0x100, irqs: [])
        XCTAssertNil(host.snapshotRefusal)
        XCTAssertEqual(host.snapshotParticipants.count, 2)
        let pciParticipant = host.snapshotParticipant(for: function)
        function.writeBAR(0, offset: 0, size: 4, value: 0x1111)
        platform.write(offset: 0, size: 4, value: 0x2222)
        var pciState = DeviceStateWriter()
        var platformState = DeviceStateWriter()
        pciParticipant.save(to: &pciState)
        platform.save(to: &platformState)
        function.writeBAR(0, offset: 0, size: 4, value: 0x3333)
        platform.write(offset: 0, size: 4, value: 0x4444)
        var pciReader = DeviceStateReader(pciState.bytes)
        var platformReader = DeviceStateReader(platformState.bytes)
        try pciParticipant.restore(from: &pciReader)
        try platform.restore(from: &platformReader)
        XCTAssertEqual(function.readBAR(0, offset: 0, size: 4), 0x1111)
        XCTAssertEqual(platform.read(offset: 0, size: 4), 0x2222)
        // The saved type travels with the bytes: the PCI state does not restore the platform device.
        var crossed = DeviceStateReader(pciState.bytes)
        XCTAssertThrowsError(try platform.restore(from: &crossed)) { error in
            XCTAssertEqual("\(error)", "saved device state does not fit: device 'word-mmio' (plugin 'isoch_test') is of type 't.word.platform', the snapshot holds a 't.word.pci'")
        }
        withExtendedLifetime(space) {}
    }

    func testSnapshotHooksSaveAndRestoreThePluginsState() throws {
        let device = try host.createUSBDevice(type: XCTUnwrap(host.usbType(named: "t.isoch")), device: "iso0", properties: [])
        XCTAssertNil(host.snapshotRefusal)
        let participant = try XCTUnwrap(host.snapshotParticipants.first)
        XCTAssertTrue(participant.canSaveState)
        XCTAssertEqual(probe(5), 1)
        XCTAssertEqual(probe(5), 2)
        var writer = DeviceStateWriter()
        participant.save(to: &writer)
        XCTAssertEqual(probe(5), 3)
        var reader = DeviceStateReader(writer.bytes)
        try participant.restore(from: &reader)
        XCTAssertTrue(reader.isAtEnd)
        XCTAssertEqual(probe(4), 2, "restore brought back what save wrote")
        XCTAssertEqual(probe(6), BP_ERR_INVALID, "a made-up bp_snapshot is refused")
        XCTAssertEqual(probe(7), BP_ERR_INVALID, "a bp_snapshot kept after save returned is stale")
        XCTAssertEqual(probe(8), BP_ERR_INVALID, "reading a stream being saved is refused")

        // Bytes of another shape: the plugin's restore refuses them, naming the device.
        var bad = DeviceStateWriter()
        bad.put(Array("t.isoch".utf8))
        bad.put(true)
        bad.put([9, 0, 0, 0])
        var badReader = DeviceStateReader(bad.bytes)
        XCTAssertThrowsError(try participant.restore(from: &badReader)) { error in
            XCTAssertEqual("\(error)", "saved device state does not fit: device 'iso0' (plugin 'isoch_test'): its restore hook returned 1")
        }

        withExtendedLifetime(device) {}
    }
}
