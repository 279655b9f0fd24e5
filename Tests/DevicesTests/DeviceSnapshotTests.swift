import Devices
import IRQ
import Memory
import TestSupport
import XCTest

/// Snapshots (docs/snapshots.md) of the platform devices: restored into a freshly built device,
/// each reads as the saved one did and drives its interrupt line to the restored level.
final class DeviceSnapshotTests: XCTestCase {
    private func saved(_ save: (inout DeviceStateWriter) -> Void) -> [UInt8] {
        var writer = DeviceStateWriter()
        save(&writer)
        return writer.bytes
    }

    func testAUARTComesBackWithItsFIFOBytesInOrderAndItsInterruptRaised() throws {
        let savedController = RecordingController()
        let uart = UART16550(backend: MemorySerialBackend(), irq: savedController.line(10))
        uart.write(offset: 2, size: 1, value: 0x01)   // FCR: FIFOs on, trigger level 1
        uart.write(offset: 1, size: 1, value: 0x01)   // IER: received data
        uart.write(offset: 7, size: 1, value: 0x5a)   // scratch
        for byte in "abc".utf8 { _ = uart.receive(byte) }
        _ = uart.read(offset: 0, size: 1)             // 'a' read: "bc" stay in the FIFO
        let state = saved(uart.save)

        let controller = RecordingController()
        let fresh = UART16550(backend: MemorySerialBackend(), irq: controller.line(10))
        var reader = DeviceStateReader(state)
        try fresh.restore(from: &reader)

        XCTAssertTrue(reader.isAtEnd)
        XCTAssertTrue(controller.level(10), "the received-data interrupt is driven again")
        XCTAssertEqual(fresh.read(offset: 7, size: 1), 0x5a)
        XCTAssertEqual(fresh.read(offset: 2, size: 1), 0xc4, "IIR: received data, FIFOs enabled")
        XCTAssertEqual([fresh.read(offset: 0, size: 1), fresh.read(offset: 0, size: 1)], [0x62, 0x63])
        XCTAssertEqual(fresh.read(offset: 5, size: 1) & 1, 0, "FIFO empty after the saved bytes")
        XCTAssertFalse(controller.level(10))
    }

    func testAUARTRefusesAFIFOLongerThanItsDepth() throws {
        var writer = DeviceStateWriter()
        writer.put([UInt8](repeating: 0x41, count: 17))
        var reader = DeviceStateReader(writer.bytes)
        XCTAssertThrowsError(try UART16550(backend: MemorySerialBackend()).restore(from: &reader)) { error in
            XCTAssertEqual("\(error)", "saved device state does not fit: UART FIFO holds 17 bytes, at most 16")
        }
    }

    func testAGoldfishRTCGoesOnFromTheSavedTimeWithItsAlarmPendingInterruptRaised() throws {
        var now: UInt64 = 1_000_000
        let savedController = RecordingController()
        let rtc = GoldfishRTC(irq: savedController.line(11), clock: { now })
        rtc.write(offset: 0x10, size: 4, value: 1)           // interrupt enabled
        rtc.write(offset: 0x08, size: 4, value: 500)         // alarm already past: fires
        rtc.write(offset: 0x00, size: 4, value: 7_000)       // guest sets TIME low
        let state = saved(rtc.save)

        now = 9_999_999_999                                   // the host clock of another process
        let controller = RecordingController()
        let fresh = GoldfishRTC(irq: controller.line(11), clock: { now })
        var reader = DeviceStateReader(state)
        try fresh.restore(from: &reader)

        XCTAssertEqual(fresh.now, 7_000, "the guest's time goes on from where it was saved")
        XCTAssertTrue(controller.level(11))
    }
}
