import XCTest
@testable import USB

/// TRB layout, transfer/command ring consumption and event ring production (xHCI 1.2 §4.9, §6.4).
final class XHCIRingTests: XCTestCase {
    func testTRBFieldsComeFromTheirBits() {
        let trb = XHCITRB(bytes: [0x00, 0x10, 0x00, 0x80, 0, 0, 0, 0,
                                  0x00, 0x02, 0x00, 0x00,
                                  0x35, 0x04, 0x03, 0x05])
        XCTAssertEqual(trb.parameter, 0x8000_1000)
        XCTAssertEqual(trb.transferLength, 0x200)
        XCTAssertTrue(trb.cycle)
        XCTAssertTrue(trb.chain)
        XCTAssertTrue(trb.interruptOnCompletion)
        XCTAssertFalse(trb.immediateData)
        XCTAssertEqual(trb.type, .normal)
        XCTAssertEqual(trb.endpointID, 3)
        XCTAssertEqual(trb.slotID, 5)
        XCTAssertEqual(XHCITRB(bytes: trb.bytes), trb)
    }

    func testRingFollowsLinkTRBAndTogglesCycle() {
        let fixture = XHCIFixture()
        let base = XHCIFixture.ram + 0x8000
        // Four-TRB ring: three No-Ops with cycle 1, then a Link with Toggle Cycle.
        for i in 0..<3 { fixture.storeTRB(base + UInt64(16 * i), XHCITRB(parameter: UInt64(i), control: XHCITRB.control(type: .noOp, cycle: true))) }
        fixture.storeTRB(base + 48, XHCITRB(parameter: base, control: XHCITRB.control(type: .link, cycle: true) | 2))
        var ring = XHCIRing(dequeue: base, cycle: true)
        for i in 0..<3 { XCTAssertEqual(try ring.next(fixture.bus).get()?.trb.parameter, UInt64(i)) }
        // The producer wrapped and now writes cycle 0.
        fixture.storeTRB(base, XHCITRB(parameter: 7, control: XHCITRB.control(type: .noOp, cycle: false)))

        let wrapped = try? ring.next(fixture.bus).get()

        XCTAssertEqual(wrapped?.trb.parameter, 7)
        XCTAssertEqual(wrapped?.address, base)
        XCTAssertFalse(ring.cycle)
    }

    func testRingIsEmptyAtATRBSoftwareStillOwns() {
        let fixture = XHCIFixture()
        let base = XHCIFixture.ram + 0x8000
        fixture.storeTRB(base, XHCITRB(control: XHCITRB.control(type: .noOp, cycle: false)))
        var ring = XHCIRing(dequeue: base, cycle: true)

        XCTAssertNil(try ring.next(fixture.bus).get())
        XCTAssertEqual(ring.dequeue, base)
    }

    func testNextTDWaitsUntilTheChainIsComplete() {
        let fixture = XHCIFixture()
        let base = XHCIFixture.ram + 0x8000
        fixture.storeTRB(base, XHCITRB(status: 8, control: XHCITRB.control(type: .normal, cycle: true) | 1 << 4))
        var ring = XHCIRing(dequeue: base, cycle: true)

        XCTAssertNil(try ring.nextTD(fixture.bus).get())
        XCTAssertEqual(ring.dequeue, base, "an incomplete TD leaves the ring where it was")

        fixture.storeTRB(base + 16, XHCITRB(status: 4, control: XHCITRB.control(type: .normal, cycle: true)))
        XCTAssertEqual(try ring.nextTD(fixture.bus).get()?.map(\.trb.transferLength), [8, 4])
        XCTAssertEqual(ring.dequeue, base + 32)
    }

    func testLinkTRBsPointingAtEachOtherAreMalformed() {
        let fixture = XHCIFixture()
        let base = XHCIFixture.ram + 0x8000
        fixture.storeTRB(base, XHCITRB(parameter: base + 16, control: XHCITRB.control(type: .link, cycle: true)))
        fixture.storeTRB(base + 16, XHCITRB(parameter: base, control: XHCITRB.control(type: .link, cycle: true)))
        var ring = XHCIRing(dequeue: base, cycle: true)

        XCTAssertThrowsError(try ring.next(fixture.bus).get()) { error in
            XCTAssertEqual(error as? XHCIRingError, .malformed(address: base))
        }
    }

    func testRingPointerOutsideRAMIsADMAError() {
        let fixture = XHCIFixture()
        var ring = XHCIRing(dequeue: 0x1000, cycle: true)
        XCTAssertThrowsError(try ring.next(fixture.bus).get()) { error in
            XCTAssertEqual("\(error)", "DMA of 16 bytes at 0x1000 got a master abort: no RAM there")
        }
    }

    // MARK: Event ring

    private func eventRing(_ fixture: XHCIFixture, size: Int) -> XHCIEventRing {
        fixture.store64(fixture.erst, fixture.eventRingBase)
        fixture.store32(fixture.erst + 8, UInt32(size))
        var ring = XHCIEventRing()
        XCTAssertNoThrow(try ring.configure(fixture.bus, tableBase: fixture.erst, count: 1).get())
        return ring
    }

    func testEventRingWrapsAndTogglesTheProducerCycle() {
        let fixture = XHCIFixture()
        var ring = eventRing(fixture, size: 16)
        for i in 0..<16 {
            XCTAssertEqual(try ring.enqueue(XHCIEvent.portStatusChange(port: i), fixture.bus).get(), .written)
            if i == 7 { ring.setDequeue(fixture.eventRingBase + 16 * 8) }   // software consumed 8
        }
        XCTAssertEqual(ring.enqueue, fixture.eventRingBase)
        XCTAssertFalse(ring.cycle)

        XCTAssertEqual(try ring.enqueue(XHCIEvent.portStatusChange(port: 99), fixture.bus).get(), .written)

        let first = fixture.loadTRB(fixture.eventRingBase)
        XCTAssertFalse(first.cycle, "second pass writes cycle 0")
        XCTAssertEqual(first.parameter >> 24, 99)
    }

    func testFullEventRingGetsEventRingFullErrorThenDropsEvents() {
        let fixture = XHCIFixture()
        var ring = eventRing(fixture, size: 16)
        for i in 0..<15 { XCTAssertEqual(try ring.enqueue(XHCIEvent.portStatusChange(port: i), fixture.bus).get(), .written) }

        XCTAssertEqual(try ring.enqueue(XHCIEvent.portStatusChange(port: 15), fixture.bus).get(), .ringFull)
        XCTAssertEqual(try ring.enqueue(XHCIEvent.portStatusChange(port: 16), fixture.bus).get(), .dropped)

        let last = fixture.loadTRB(fixture.eventRingBase + 16 * 15)
        XCTAssertEqual(last.type, .hostControllerEvent)
        XCTAssertEqual(XHCIFixture.code(last), .eventRingFull)
        // Software frees space: events flow again.
        ring.setDequeue(fixture.eventRingBase + 16 * 4)
        XCTAssertEqual(try ring.enqueue(XHCIEvent.portStatusChange(port: 17), fixture.bus).get(), .written)
    }
}
