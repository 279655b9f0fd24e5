import XCTest
import PCI
import Memory
@testable import USB

/// The controller driven through its registers: commands, ports, control and bulk transfers,
/// stalls, and interrupts (xHCI 1.2 §4.6, §4.10, §4.17, §4.19).
final class XHCIControllerTests: XCTestCase {
    private func command(_ type: XHCITRBType, slot: Int = 0, endpoint: Int = 0, parameter: UInt64 = 0) -> XHCITRB {
        XHCITRB(parameter: parameter, control: XHCITRB.control(type: type, cycle: false) | UInt32(slot) << 24 | UInt32(endpoint) << 16)
    }

    func testCapabilityRegistersDescribeTheController() {
        let fixture = XHCIFixture(usb2Ports: 2, usb3Ports: 3, maxSlots: 8)
        XCTAssertEqual(fixture.read(0) & 0xff, 0x40, "CAPLENGTH")
        XCTAssertEqual(fixture.read(0) >> 16, 0x0120, "HCIVERSION 1.2")
        XCTAssertEqual(fixture.read(XHCICapabilityRegister.structuralParameters1), 8 | 4 << 8 | 5 << 24)
        // Supported Protocol capabilities: USB 2 ports 1-2, USB 3 ports 3-5.
        XCTAssertEqual(fixture.read(0x20) & 0xff00_00ff, 0x0200_0002)
        XCTAssertEqual(fixture.read(0x28), 1 | 2 << 8)
        XCTAssertEqual(fixture.read(0x30) & 0xff00_00ff, 0x0300_0002)
        XCTAssertEqual(fixture.read(0x38), 3 | 3 << 8)
        XCTAssertEqual(fixture.bus.config.read(offset: 8, size: 4) >> 8, 0x0c0330, "class code")
    }

    func testNoOpCommandCompletesAndRaisesINTx() {
        let fixture = XHCIFixture()
        fixture.start()

        let address = fixture.command(command(.noOpCommand))

        XCTAssertEqual(fixture.interrupts.levels[32], true)
        XCTAssertEqual(fixture.read(fixture.interrupter(XHCIInterrupterRegister.management)) & 1, 1, "IMAN.IP")
        let events = fixture.events()
        XCTAssertEqual(events.count, 1)
        XCTAssertEqual(events.first?.type, .commandCompletionEvent)
        XCTAssertEqual(events.first?.parameter, address)
        XCTAssertEqual(events.first.flatMap(XHCIFixture.code), .success)
        // Clearing IP drops the line.
        fixture.write(fixture.interrupter(XHCIInterrupterRegister.management), 3)
        XCTAssertEqual(fixture.interrupts.levels[32], false)
    }

    func testEnableSlotBeyondMaxSlotsEnabledReportsNoSlotsAvailable() {
        let fixture = XHCIFixture()
        fixture.start(slots: 1)
        XCTAssertEqual(fixture.run(command(.enableSlot)).flatMap(XHCIFixture.code), .success)

        let second = fixture.run(command(.enableSlot))

        XCTAssertEqual(second.flatMap(XHCIFixture.code), .noSlotsAvailable)
    }

    func testCommandOnASlotNeverEnabledReportsSlotNotEnabled() {
        let fixture = XHCIFixture()
        fixture.start()
        XCTAssertEqual(fixture.run(command(.stopEndpoint, slot: 3, endpoint: 1)).flatMap(XHCIFixture.code), .slotNotEnabled)
    }

    func testAddressDeviceOnAnEmptyPortReportsTransactionError() {
        let fixture = XHCIFixture()
        fixture.start()
        XCTAssertNil(fixture.addressDevice(port: 1, speed: .full))
        let status = fixture.loadTRB(fixture.eventRingBase + 16)
        XCTAssertEqual(XHCIFixture.code(status), .usbTransactionError)
    }

    func testUnknownCommandTypeIsATRBError() {
        let fixture = XHCIFixture()
        fixture.start()
        XCTAssertEqual(fixture.run(command(.forceHeader)).flatMap(XHCIFixture.code), .trbError)
    }

    // MARK: Ports

    func testAttachingWhileRunningPostsAPortStatusChangeEvent() throws {
        let fixture = XHCIFixture()
        fixture.start()

        try fixture.xhci.attach(USBKeyboard(), port: 2)

        let events = fixture.events()
        XCTAssertEqual(events.map(\.type), [.portStatusChangeEvent])
        XCTAssertEqual(events.first.map { $0.parameter >> 24 }, 2)
        let status = fixture.read(fixture.portsc(2))
        XCTAssertEqual(status & (XHCIPortBit.currentConnect | XHCIPortBit.connectChange | XHCIPortBit.enabled),
                       XHCIPortBit.currentConnect | XHCIPortBit.connectChange, "USB 2: connected, not yet enabled")
        XCTAssertEqual(fixture.read(fixture.op(XHCIOperationalRegister.status)) & XHCIStatusBit.portChangeDetect, XHCIStatusBit.portChangeDetect)
    }

    func testDetachingReportsTheDisconnect() throws {
        let fixture = XHCIFixture()
        fixture.start()
        try fixture.xhci.attach(USBKeyboard(), port: 1)
        _ = fixture.events()
        fixture.write(fixture.portsc(1), XHCIPortBit.connectChange | XHCIPortBit.power)

        fixture.xhci.detach(port: 1)

        XCTAssertEqual(fixture.events().map(\.type), [.portStatusChangeEvent])
        let status = fixture.read(fixture.portsc(1))
        XCTAssertEqual(status & (XHCIPortBit.currentConnect | XHCIPortBit.connectChange), XHCIPortBit.connectChange)
        XCTAssertNil(fixture.xhci.ports[0].device)
    }

    func testUSB2PortResetEnablesThePortAndReportsResetChange() throws {
        let fixture = XHCIFixture()
        fixture.start()
        try fixture.xhci.attach(USBKeyboard(), port: 1)
        _ = fixture.events()
        fixture.write(fixture.portsc(1), XHCIPortBit.connectChange | XHCIPortBit.power)   // clear CSC

        fixture.write(fixture.portsc(1), XHCIPortBit.reset | XHCIPortBit.power)

        let status = fixture.read(fixture.portsc(1))
        XCTAssertEqual(status & XHCIPortBit.enabled, XHCIPortBit.enabled)
        XCTAssertEqual(status & XHCIPortBit.resetChange, XHCIPortBit.resetChange)
        XCTAssertEqual(status & XHCIPortBit.reset, 0)
        XCTAssertEqual((status & XHCIPortBit.speedMask) >> XHCIPortBit.speedShift, 1, "full speed")
        XCTAssertEqual(fixture.events().map(\.type), [.portStatusChangeEvent])
    }

    func testUSB3PortIsEnabledAsSoonAsTheDeviceConnects() throws {
        let fixture = XHCIFixture(usb2Ports: 2, usb3Ports: 2)
        try fixture.xhci.attach(USBLoopback(), port: 3)
        let status = fixture.read(fixture.portsc(3))
        XCTAssertEqual(status & XHCIPortBit.enabled, XHCIPortBit.enabled)
        XCTAssertEqual((status & XHCIPortBit.speedMask) >> XHCIPortBit.speedShift, 4, "SuperSpeed")
    }

    func testSuperSpeedOnlyDeviceIsRefusedOnAUSB2Port() {
        let fixture = XHCIFixture(usb2Ports: 2, usb3Ports: 2)
        XCTAssertThrowsError(try fixture.xhci.attach(USBLoopback(speeds: [.superSpeed]), port: 1)) { error in
            XCTAssertEqual("\(error)", "port 1 is a USB 2 port and cannot take a super-speed device")
        }
        XCTAssertThrowsError(try fixture.xhci.attach(USBKeyboard(), port: 5)) { error in
            XCTAssertEqual("\(error)", "port 5 does not exist; the controller has ports 1...4")
        }
    }

    // MARK: Transfers

    /// A keyboard on port 1, reset and addressed; returns the slot.
    private func addressedKeyboard(_ fixture: XHCIFixture) throws -> Int {
        fixture.start()
        try fixture.xhci.attach(USBKeyboard(), port: 1)
        fixture.write(fixture.portsc(1), XHCIPortBit.reset | XHCIPortBit.power)
        _ = fixture.events()
        return try XCTUnwrap(fixture.addressDevice(port: 1, speed: .full))
    }

    func testAddressDeviceSetsTheAddressAndSlotState() throws {
        let fixture = XHCIFixture()
        let slot = try addressedKeyboard(fixture)
        let slotContext = fixture.load(fixture.outputContext, 16)
        XCTAssertEqual(slotContext[12], UInt8(slot), "USB device address")
        XCTAssertEqual(slotContext[15] >> 3, 2, "Addressed")
        XCTAssertEqual(fixture.xhci.ports[0].device?.address, UInt8(slot))
    }

    func testGetDeviceDescriptorThroughEP0() throws {
        let fixture = XHCIFixture()
        let slot = try addressedKeyboard(fixture)

        let events = fixture.control(slot: slot, USBSetupPacket(requestType: 0x80, request: USBRequest.getDescriptor, value: 0x0100, length: 18))

        XCTAssertEqual(events.count, 1, "one event, for the Status Stage's IOC")
        XCTAssertEqual(events.first.flatMap(XHCIFixture.code), .success)
        XCTAssertEqual(events.first?.endpointID, 1)
        let descriptor = fixture.load(fixture.data, 18)
        XCTAssertEqual(descriptor[0...1], [18, 1])
        XCTAssertEqual(Array(descriptor[8...11]), [0x09, 0x12, 0x01, 0x00], "1209:0001")
    }

    func testShortControlReadReportsShortPacketThenTheStatusStage() throws {
        let fixture = XHCIFixture()
        let slot = try addressedKeyboard(fixture)

        // Ask for 255 bytes of the 18-byte descriptor.
        let events = fixture.control(slot: slot, USBSetupPacket(requestType: 0x80, request: USBRequest.getDescriptor, value: 0x0100, length: 255))

        XCTAssertEqual(events.map { XHCIFixture.code($0) }, [.shortPacket, .success])
        XCTAssertEqual(events.first.map { $0.status & 0xffffff }, 255 - 18, "residual bytes")
    }

    func testUnsupportedRequestStallsAndHaltsEP0UntilResetEndpoint() throws {
        let fixture = XHCIFixture()
        let slot = try addressedKeyboard(fixture)

        let events = fixture.control(slot: slot, USBSetupPacket(requestType: 0xc0, request: 0x42, length: 4))

        XCTAssertEqual(events.map { XHCIFixture.code($0) }, [.stallError])
        XCTAssertEqual(fixture.xhci.slots[slot].endpoints[1]?.state, .halted)
        XCTAssertEqual(fixture.load(fixture.outputContext + 32, 1)[0] & 7, 2, "context says Halted")
        // Set TR Dequeue needs Stopped: Context State Error while halted.
        XCTAssertEqual(fixture.run(command(.setTRDequeuePointer, slot: slot, endpoint: 1, parameter: fixture.ep0Ring | 1))
                        .flatMap(XHCIFixture.code), .contextStateError)
        XCTAssertEqual(fixture.run(command(.resetEndpoint, slot: slot, endpoint: 1)).flatMap(XHCIFixture.code), .success)
        XCTAssertEqual(fixture.xhci.slots[slot].endpoints[1]?.state, .stopped)
    }

    func testResetEndpointOfARunningEndpointIsAContextStateError() throws {
        let fixture = XHCIFixture()
        let slot = try addressedKeyboard(fixture)
        XCTAssertEqual(fixture.run(command(.resetEndpoint, slot: slot, endpoint: 1)).flatMap(XHCIFixture.code), .contextStateError)
    }

    /// Configures the loopback's bulk OUT (DCI 2) and bulk IN (DCI 3) endpoints.
    private func configuredLoopback(_ fixture: XHCIFixture) throws -> Int {
        fixture.start()
        try fixture.xhci.attach(USBLoopback(), port: 3)   // USB 3: enabled at connect
        _ = fixture.events()
        let slot = try XCTUnwrap(fixture.addressDevice(port: 3, speed: .superSpeed))
        XCTAssertEqual(fixture.control(slot: slot, USBSetupPacket(requestType: 0, request: USBRequest.setConfiguration, value: 1))
                        .map { XHCIFixture.code($0) }, [.success])
        fixture.store(fixture.inputContext, [UInt8](repeating: 0, count: 33 * 32))
        fixture.store32(fixture.inputContext + 4, 1 | 1 << 2 | 1 << 3)
        fixture.store32(fixture.inputContext + 32, 3 << 27)
        for (dci, type, ring) in [(2, 2, fixture.ram(0x8000)), (3, 6, fixture.ram(0x9000))] {
            let context = fixture.inputContext + UInt64(32 * (dci + 1))
            fixture.store32(context + 4, UInt32(type) << 3 | 1024 << 16 | 3 << 1)
            fixture.store64(context + 8, ring | 1)
        }
        XCTAssertEqual(fixture.run(XHCITRB(parameter: fixture.inputContext, control: XHCITRB.control(type: .configureEndpoint, cycle: false) | UInt32(slot) << 24))
                        .flatMap(XHCIFixture.code), .success)
        return slot
    }

    func testConfigureEndpointRunsTheAddedEndpoints() throws {
        let fixture = XHCIFixture()
        let slot = try configuredLoopback(fixture)
        XCTAssertEqual(fixture.xhci.slots[slot].state, .configured)
        XCTAssertEqual(fixture.load(fixture.outputContext + 3 * 32, 1)[0] & 7, 1, "bulk IN context says Running")
    }

    func testPendingBulkInCompletesWhenTheDeviceGetsData() throws {
        let fixture = XHCIFixture()
        let slot = try configuredLoopback(fixture)
        let inBuffer = fixture.ram(0x20000)
        let outBuffer = fixture.ram(0x21000)
        let inTRB = fixture.enqueue(fixture.ram(0x9000), [XHCITRB(parameter: inBuffer, status: 512, control: XHCITRB.control(type: .normal, cycle: false) | 1 << 5 | 1 << 2)])
        fixture.write(XHCILayout.doorbells + UInt64(4 * slot), 3)
        XCTAssertEqual(fixture.events(), [], "nothing to read yet: the packet is pending")

        fixture.store(outBuffer, Array("ping".utf8))
        let outTRB = fixture.enqueue(fixture.ram(0x8000), [XHCITRB(parameter: outBuffer, status: 4, control: XHCITRB.control(type: .normal, cycle: false) | 1 << 5)])
        fixture.write(XHCILayout.doorbells + UInt64(4 * slot), 2)

        let events = fixture.events()
        XCTAssertEqual(Set(events.map(\.parameter)), Set([outTRB[0], inTRB[0]]))
        let inEvent = events.first { $0.parameter == inTRB[0] }
        XCTAssertEqual(inEvent.flatMap(XHCIFixture.code), .shortPacket)
        XCTAssertEqual(inEvent.map { $0.status & 0xffffff }, 508)
        XCTAssertEqual(fixture.load(inBuffer, 4), Array("ping".utf8))
    }

    func testStopEndpointCancelsAPendingTransferAndReportsStopped() throws {
        let fixture = XHCIFixture()
        let slot = try configuredLoopback(fixture)
        let inTRB = fixture.enqueue(fixture.ram(0x9000), [XHCITRB(parameter: fixture.ram(0x20000), status: 64, control: XHCITRB.control(type: .normal, cycle: false) | 1 << 5)])
        fixture.write(XHCILayout.doorbells + UInt64(4 * slot), 3)

        let address = fixture.command(command(.stopEndpoint, slot: slot, endpoint: 3))

        let events = fixture.events()
        XCTAssertEqual(events.map(\.type), [.transferEvent, .commandCompletionEvent])
        XCTAssertEqual(events.first?.parameter, inTRB[0])
        XCTAssertEqual(events.first.flatMap(XHCIFixture.code), .stopped)
        XCTAssertEqual(events.last?.parameter, address)
        // The context records the TD's TRB as the dequeue pointer, cycle 1.
        let dequeue = fixture.load(fixture.outputContext + 3 * 32 + 8, 8)
        XCTAssertEqual(dequeue.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }, inTRB[0] | 1)
    }

    func testBadTransferBufferHaltsWithDataBufferError() throws {
        let fixture = XHCIFixture()
        let slot = try configuredLoopback(fixture)
        _ = fixture.enqueue(fixture.ram(0x8000), [XHCITRB(parameter: 0x1000, status: 16, control: XHCITRB.control(type: .normal, cycle: false) | 1 << 5)])
        fixture.write(XHCILayout.doorbells + UInt64(4 * slot), 2)
        XCTAssertEqual(fixture.events().map { XHCIFixture.code($0) }, [.dataBufferError])
        XCTAssertEqual(fixture.xhci.slots[slot].endpoints[2]?.state, .halted)
    }

    func testCommandRingInUnmappedMemoryHaltsWithHostSystemError() {
        let fixture = XHCIFixture()
        fixture.start()
        fixture.write(fixture.op(XHCIOperationalRegister.command), 0)   // stop to move the ring
        fixture.write64(fixture.op(XHCIOperationalRegister.commandRingControl), 0x1000 | 1)
        fixture.write(fixture.op(XHCIOperationalRegister.command), XHCICommandBit.runStop)

        fixture.write(XHCILayout.doorbells, 0)

        let status = fixture.read(fixture.op(XHCIOperationalRegister.status))
        XCTAssertEqual(status & (XHCIStatusBit.hostSystemError | XHCIStatusBit.halted), XHCIStatusBit.hostSystemError | XHCIStatusBit.halted)
    }

    func testMSIXDeliversTheInterruptersVector() {
        let fixture = XHCIFixture()
        // Vector 0 → a RAM word; MSI-X enable in the capability's control register.
        let target = fixture.ram(0x30000)
        fixture.xhci.writeBAR(0, offset: XHCILayout.msixTable, size: 4, value: target)
        fixture.xhci.writeBAR(0, offset: XHCILayout.msixTable + 8, size: 4, value: 0x55)
        fixture.xhci.writeBAR(0, offset: XHCILayout.msixTable + 12, size: 4, value: 0)
        fixture.bus.config.write(offset: fixture.xhci.msix.offset + 2, size: 2, value: 0x8000)
        fixture.start()

        fixture.command(command(.noOpCommand))

        XCTAssertEqual(fixture.load(target, 4), [0x55, 0, 0, 0])
        XCTAssertNotEqual(fixture.interrupts.levels[32], true, "no INTx while MSI-X is on")
        XCTAssertEqual(fixture.read(fixture.op(XHCIOperationalRegister.status)) & XHCIStatusBit.eventInterrupt, XHCIStatusBit.eventInterrupt)
    }
}

extension XHCIFixture {
    func ram(_ offset: UInt64) -> UInt64 { XHCIFixture.ram + offset }
}

/// Snapshots (docs/snapshots.md): a controller restored from a saved one into a fresh controller
/// with the same device, over a copy of guest RAM.
extension XHCIControllerTests {
    /// The loopback holds a bulk IN packet (nothing to read yet) when the controller is saved.
    /// The restored controller hands that TD to the restored device again: once data goes out,
    /// the IN TD completes with it, without another doorbell on its endpoint.
    func testAHeldTransferIsHandedToTheDeviceAgainAfterASnapshot() throws {
        let saved = XHCIFixture()
        let slot = try configuredLoopback(saved)
        let inBuffer = saved.ram(0x20000)
        let inTRB = saved.enqueue(saved.ram(0x9000), [XHCITRB(parameter: inBuffer, status: 512, control: XHCITRB.control(type: .normal, cycle: false) | 1 << 5 | 1 << 2)])
        saved.write(XHCILayout.doorbells + UInt64(4 * slot), 3)
        XCTAssertEqual(saved.events(), [], "the packet is held")
        var writer = DeviceStateWriter()
        saved.xhci.saveFunction(to: &writer)

        let restored = XHCIFixture()
        try restored.xhci.attach(USBLoopback(), port: 3)
        restored.store(XHCIFixture.ram, saved.load(XHCIFixture.ram, 1 << 20))
        var reader = DeviceStateReader(writer.bytes)
        try restored.xhci.restoreFunction(from: &reader)
        XCTAssertTrue(reader.isAtEnd)
        _ = restored.events()  // the saved run's events, in the copied RAM: the driver had read them
        restored.store(restored.ram(0x21000), Array("ping".utf8))
        let outTRB = restored.enqueue(restored.ram(0x8000), [XHCITRB(parameter: restored.ram(0x21000), status: 4, control: XHCITRB.control(type: .normal, cycle: false) | 1 << 5)])
        restored.write(XHCILayout.doorbells + UInt64(4 * slot), 2)

        let events = restored.events()
        XCTAssertEqual(Set(events.map(\.parameter)), Set([outTRB[0], inTRB[0]]))
        XCTAssertEqual(events.first { $0.parameter == inTRB[0] }.flatMap(XHCIFixture.code), .shortPacket)
        XCTAssertEqual(restored.load(inBuffer, 4), Array("ping".utf8))
        XCTAssertEqual(restored.xhci.slots[slot].state, .configured)
    }
}
