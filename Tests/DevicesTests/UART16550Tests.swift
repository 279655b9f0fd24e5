import Devices
import IRQ
import TestSupport
import Memory
import XCTest

final class UART16550Tests: XCTestCase {
    let base: UInt64 = 0x1000_0000
    var backend: MemorySerialBackend!
    var controller: RecordingController!
    var uart: UART16550!
    var space: AddressSpace!

    // Register offsets (reg-shift 0).
    let rbr: UInt64 = 0, ier: UInt64 = 1, iir: UInt64 = 2, fcr: UInt64 = 2, lcr: UInt64 = 3
    let mcr: UInt64 = 4, lsr: UInt64 = 5, msr: UInt64 = 6, scr: UInt64 = 7

    override func setUpWithError() throws {
        backend = MemorySerialBackend()
        controller = RecordingController()
        uart = UART16550(backend: backend, regShift: 0, irq: controller.line(10))
        space = AddressSpace()
        try space.mapMMIO(name: "uart0", base: base, size: 0x100, device: uart)
    }

    func r(_ offset: UInt64) -> UInt64? { space.read(base + offset, size: 1) }
    func w(_ offset: UInt64, _ value: UInt64) { space.write(base + offset, size: 1, value: value) }

    func testResetRegisterValues() {
        XCTAssertEqual(r(iir), 0x01)
        XCTAssertEqual(r(lsr), 0x60)
        XCTAssertEqual(r(mcr), 0x08)
        XCTAssertEqual(r(msr), 0xb0)
        XCTAssertEqual(r(ier), 0)
    }

    /// A machine reset is the 16550's master reset: every register back to the values above,
    /// the FIFO empty, the divisor back, the interrupt line low.
    func testMachineResetRestoresTheResetValues() {
        w(lcr, 0x80); w(rbr, 0x34); w(ier, 0x12); w(lcr, 0x1b)
        w(fcr, 0x07); w(mcr, 0x0b); w(scr, 0x5a); w(ier, 0x0f)
        uart.receive(0x41)
        XCTAssertTrue(controller.level(10))

        uart.reset()

        XCTAssertEqual([r(iir), r(lsr), r(mcr), r(msr), r(ier), r(lcr), r(scr)], [0x01, 0x60, 0x08, 0xb0, 0, 0, 0])
        w(lcr, 0x80)
        XCTAssertEqual([r(rbr), r(ier)], [0x0c, 0x00], "divisor latch back to QEMU's 0x000c")
        XCTAssertFalse(controller.level(10))
    }

    func testTransmittedBytesReachBackend() {
        for byte in "hi\n".utf8 { w(rbr, UInt64(byte)) }
        XCTAssertEqual(backend.outputString, "hi\n")
        XCTAssertEqual(r(lsr)! & 0x60, 0x60)
    }

    func testEnablingTHREInterruptWhileEmptyRaisesIt() {
        w(ier, 0x02)
        XCTAssertTrue(controller.level(10))
        XCTAssertEqual(r(iir), 0x02)
    }

    func testReadingIIRThatReportsTHREClearsIt() {
        w(ier, 0x02)
        XCTAssertEqual(r(iir), 0x02)
        XCTAssertFalse(controller.level(10))
        XCTAssertEqual(r(iir), 0x01)
    }

    func testTHRWriteRearmsTHREInterrupt() {
        w(ier, 0x02)
        _ = r(iir)
        w(rbr, 0x41)
        XCTAssertTrue(controller.level(10))
        XCTAssertEqual(r(iir), 0x02)
    }

    func testReenablingETBEIRaisesTHREAgainAfterIIRRead() {
        w(ier, 0x02)
        _ = r(iir)
        w(ier, 0x00)
        w(ier, 0x02)
        XCTAssertEqual(r(iir), 0x02)
    }

    func testReceivedByteSetsDataReadyAndInterrupt() {
        w(ier, 0x01)
        backend.inject("a")
        uart.poll()
        XCTAssertEqual(r(lsr), 0x61)
        XCTAssertEqual(r(iir), 0x04)
        XCTAssertTrue(controller.level(10))
        XCTAssertEqual(r(rbr), 0x61)
        XCTAssertEqual(r(lsr), 0x60)
        XCTAssertFalse(controller.level(10))
    }

    func testReceivedDataOutranksTHRE() {
        w(ier, 0x03)
        uart.receive(0x30)
        XCTAssertEqual(r(iir), 0x04)
        _ = r(rbr)
        XCTAssertEqual(r(iir), 0x02)
    }

    func testWithoutFIFOsOnlyOneByteIsPulledFromBackend() {
        backend.inject("abc")
        uart.poll()
        XCTAssertEqual(uart.receivedCount, 1)
        XCTAssertEqual(backend.pendingInput, 2)
    }

    func testFIFOHoldsSixteenBytesAndLeavesTheRestInBackend() {
        w(fcr, 0x01)
        backend.inject(Array(0..<20))
        uart.poll()
        XCTAssertEqual(uart.receivedCount, 16)
        XCTAssertEqual(backend.pendingInput, 4)
        XCTAssertEqual((0..<16).map { _ in r(rbr)! }, (0..<16).map(UInt64.init))
        XCTAssertEqual(r(lsr)! & 0x01, 0)
        uart.poll()
        XCTAssertEqual((0..<4).map { _ in r(rbr)! }, [16, 17, 18, 19])
    }

    func testIIRReportsFIFOsEnabled() {
        w(fcr, 0x01)
        XCTAssertEqual(r(iir), 0xc1)
    }

    func testFIFOTriggerLevelGatesDataInterrupt() {
        w(fcr, 0x81) // FIFO on, trigger level 8
        w(ier, 0x01)
        for byte in 0..<7 { uart.receive(UInt8(byte)) }
        XCTAssertEqual(r(iir), 0xc1)
        uart.receive(7)
        XCTAssertEqual(r(iir), 0xc4)
    }

    func testQuietPollBelowTriggerLevelGivesCharacterTimeout() {
        w(fcr, 0x81)
        w(ier, 0x01)
        backend.inject("ab")
        uart.poll() // bytes arrive during this interval
        XCTAssertEqual(r(iir), 0xc1)
        uart.poll() // a quiet interval
        XCTAssertEqual(r(iir), 0xcc)
        XCTAssertTrue(controller.level(10))
        _ = r(rbr)
        XCTAssertEqual(r(iir), 0xc1)
    }

    func testFCRClearsReceiveFIFO() {
        w(fcr, 0x01)
        uart.receive(1)
        uart.receive(2)
        w(fcr, 0x03)
        XCTAssertEqual(uart.receivedCount, 0)
        XCTAssertEqual(r(lsr), 0x60)
    }

    func testOverrunSetsLSRBitThatClearsOnRead() {
        XCTAssertTrue(uart.receive(1))
        XCTAssertFalse(uart.receive(2))
        XCTAssertEqual(r(lsr), 0x63)
        XCTAssertEqual(r(lsr), 0x61)
    }

    func testOverrunRaisesLineStatusInterruptAboveData() {
        w(ier, 0x05)
        uart.receive(1)
        uart.receive(2)
        XCTAssertEqual(r(iir), 0x06)
        _ = r(lsr)
        XCTAssertEqual(r(iir), 0x04)
    }

    func testLoopbackReturnsTransmittedBytesAndSendsNothing() {
        w(mcr, 0x10)
        w(rbr, 0x5a)
        XCTAssertEqual(backend.output, [])
        XCTAssertEqual(r(lsr), 0x61)
        XCTAssertEqual(r(rbr), 0x5a)
    }

    func testLoopbackFeedsModemControlIntoModemStatus() {
        w(mcr, 0x10 | 0x0b) // loop, DTR, RTS, OUT2
        XCTAssertEqual(r(msr)! & 0xf0, 0xb0)
        w(mcr, 0x10 | 0x04) // loop, OUT1 only
        XCTAssertEqual(r(msr), 0x40 | 0x0b) // RI; deltas of CTS, DSR, DCD
        XCTAssertEqual(r(msr), 0x40)
    }

    func testDivisorLatchShadowsDataAndInterruptEnable() {
        w(lcr, 0x83)
        w(rbr, 0x01)
        w(ier, 0x02)
        XCTAssertEqual(r(rbr), 0x01)
        XCTAssertEqual(r(ier), 0x02)
        XCTAssertEqual(backend.output, [])
        w(lcr, 0x03)
        XCTAssertEqual(r(ier), 0)
        XCTAssertEqual(r(lcr), 0x03)
        XCTAssertFalse(controller.level(10))
    }

    func testScratchRegisterHoldsAByte() {
        w(scr, 0xa5)
        XCTAssertEqual(r(scr), 0xa5)
    }

    func testRegisterShiftSpacesRegistersAndIgnoresInnerBytes() throws {
        let wide = UART16550(backend: backend, regShift: 2)
        let space = AddressSpace()
        try space.mapMMIO(name: "uart", base: 0, size: 0x20, device: wide)
        space.write(0x1c, size: 4, value: 0x77)
        XCTAssertEqual(space.read(0x1c, size: 4), 0x77)
        XCTAssertEqual(space.read(0x14, size: 4), 0x60)
        XCTAssertEqual(space.read(0x15, size: 1), 0)
        space.write(0, size: 4, value: 0x42)
        XCTAssertEqual(backend.output, [0x42])
    }
}
