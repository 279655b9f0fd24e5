import XCTest
import PCI
@testable import USB

/// Guest-built rings that never run dry: each doorbell does a bounded amount of work and then
/// reports the error the xHCI spec defines, instead of holding the host in one register write.
final class XHCIRingBoundTests: XCTestCase {
    func testCommandRingLoopingWithoutToggleCycleEndsInHostControllerError() {
        let fixture = XHCIFixture()
        fixture.start()
        // A No-Op command and a Link TRB back to it without Toggle Cycle (xHCI 1.2 §4.11.5.1).
        let base = fixture.commandRingBase
        fixture.storeTRB(base, XHCITRB(control: XHCITRB.control(type: .noOpCommand, cycle: true)))
        fixture.storeTRB(base + 16, XHCITRB(parameter: base, control: XHCITRB.control(type: .link, cycle: true)))

        fixture.write(XHCILayout.doorbells, 0)

        let status = fixture.read(fixture.op(XHCIOperationalRegister.status))
        XCTAssertEqual(status & (XHCIStatusBit.hostControllerError | XHCIStatusBit.halted),
                       XHCIStatusBit.hostControllerError | XHCIStatusBit.halted)
        XCTAssertEqual(fixture.read(fixture.op(XHCIOperationalRegister.command)) & XHCICommandBit.runStop, 0)
        XCTAssertFalse(fixture.xhci.isRunning)
    }

    func testHostControllerErrorStaysUntilReset() {
        let fixture = XHCIFixture()
        fixture.start()
        let base = fixture.commandRingBase
        fixture.storeTRB(base, XHCITRB(control: XHCITRB.control(type: .noOpCommand, cycle: true)))
        fixture.storeTRB(base + 16, XHCITRB(parameter: base, control: XHCITRB.control(type: .link, cycle: true)))
        fixture.write(XHCILayout.doorbells, 0)

        // Run/Stop alone does not restart a controller with HCE (§5.4.2: software must reset it).
        fixture.write(fixture.op(XHCIOperationalRegister.command), XHCICommandBit.runStop)
        XCTAssertFalse(fixture.xhci.isRunning)
        fixture.write(fixture.op(XHCIOperationalRegister.command), XHCICommandBit.hostControllerReset)
        XCTAssertEqual(fixture.read(fixture.op(XHCIOperationalRegister.status)) & XHCIStatusBit.hostControllerError, 0)
        fixture.start()
        XCTAssertTrue(fixture.xhci.isRunning)
    }

    func testAFullCommandRingOfNoOpsStillCompletesEveryCommand() {
        let fixture = XHCIFixture()
        fixture.start()
        // A driver's ordinary ring: well under the bound, one completion per command.
        var completions = 0
        for _ in 0..<(3 * XHCIFixture.commandRingSize) {
            fixture.command(XHCITRB(control: XHCITRB.control(type: .noOpCommand, cycle: false)))
            completions += fixture.events().filter { $0.type == .commandCompletionEvent }.count
        }
        XCTAssertEqual(completions, 3 * XHCIFixture.commandRingSize)
        XCTAssertTrue(fixture.xhci.isRunning)
    }

    func testEventRingSegmentTableIsReadUpToERSTMaxEntries() {
        let fixture = XHCIFixture()
        // 1,000 valid entries, each a 16-TRB segment; ERSTSZ says 1,000 but ERST Max is 16.
        let table = fixture.ram(0x40000)
        for entry in 0..<1000 {
            fixture.store64(table + UInt64(16 * entry), fixture.ram(0x50000) + UInt64(0x100 * (entry % 64)))
            fixture.store32(table + UInt64(16 * entry) + 8, 16)
        }
        fixture.write(fixture.interrupter(XHCIInterrupterRegister.tableSize), 1000)
        fixture.write64(fixture.interrupter(XHCIInterrupterRegister.tableBase), table)

        XCTAssertEqual(fixture.xhci.interrupters[0].ring.segments.count, XHCIInterrupter.segmentTableMaximum)
        XCTAssertEqual(fixture.read(XHCICapabilityRegister.structuralParameters2) >> 4 & 0xf, 4, "ERST Max = 2^4")
    }

    /// The loopback's bulk OUT endpoint (DCI 2) configured with its ring at `ring`.
    private func configuredLoopback(_ fixture: XHCIFixture, ring: UInt64) throws -> Int {
        fixture.start()
        try fixture.xhci.attach(USBLoopback(), port: 3)
        _ = fixture.events()
        let slot = try XCTUnwrap(fixture.addressDevice(port: 3, speed: .superSpeed))
        _ = fixture.control(slot: slot, USBSetupPacket(requestType: 0, request: USBRequest.setConfiguration, value: 1))
        fixture.store(fixture.inputContext, [UInt8](repeating: 0, count: 33 * 32))
        fixture.store32(fixture.inputContext + 4, 1 | 1 << 2)
        fixture.store32(fixture.inputContext + 32, 2 << 27)
        let context = fixture.inputContext + UInt64(32 * 3)
        fixture.store32(context + 4, 2 << 3 | 1024 << 16 | 3 << 1)
        fixture.store64(context + 8, ring | 1)
        let done = fixture.run(XHCITRB(parameter: fixture.inputContext,
                                       control: XHCITRB.control(type: .configureEndpoint, cycle: false) | UInt32(slot) << 24))
        XCTAssertEqual(done.flatMap(XHCIFixture.code), .success)
        return slot
    }

    func testTransferRingLoopingWithoutToggleCycleHaltsTheEndpointWithTRBError() throws {
        let fixture = XHCIFixture()
        let ring = fixture.ram(0x8000)
        let slot = try configuredLoopback(fixture, ring: ring)
        // No-Op transfer TRB, then a Link back to it without Toggle Cycle.
        fixture.storeTRB(ring, XHCITRB(control: XHCITRB.control(type: .noOp, cycle: true)))
        fixture.storeTRB(ring + 16, XHCITRB(parameter: ring, control: XHCITRB.control(type: .link, cycle: true)))

        fixture.write(XHCILayout.doorbells + UInt64(4 * slot), 2)

        let events = fixture.events()
        XCTAssertEqual(events.last?.type, .transferEvent)
        XCTAssertEqual(events.last.flatMap(XHCIFixture.code), .trbError)
        XCTAssertEqual(events.last?.parameter, ring)
        XCTAssertEqual(fixture.xhci.slots[slot].endpoints[2]?.state, .halted)
        XCTAssertEqual(fixture.load(fixture.outputContext + 2 * 32, 1)[0] & 7, 2, "the output context says Halted")
        XCTAssertTrue(fixture.xhci.isRunning, "only the endpoint halts, not the controller")
    }

    func testLoopingOUTRingCannotGrowTheDevicesBuffersPastItsCapacity() throws {
        let fixture = XHCIFixture()
        let ring = fixture.ram(0x8000)
        let slot = try configuredLoopback(fixture, ring: ring)
        let loopback = try XCTUnwrap(fixture.xhci.slots[slot].device?.device as? USBLoopback)
        fixture.store(fixture.ram(0x20000), [UInt8](repeating: 0x5a, count: 1024))
        fixture.storeTRB(ring, XHCITRB(parameter: fixture.ram(0x20000), status: 1024, control: XHCITRB.control(type: .normal, cycle: true)))
        fixture.storeTRB(ring + 16, XHCITRB(parameter: ring, control: XHCITRB.control(type: .link, cycle: true)))

        fixture.write(XHCILayout.doorbells + UInt64(4 * slot), 2)

        XCTAssertLessThanOrEqual(loopback.fifo.count, loopback.capacity)
    }
}
