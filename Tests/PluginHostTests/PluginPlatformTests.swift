import Foundation
import IRQ
import TestSupport
import Memory
import PluginHost
import XCTest

final class PluginPlatformTests: XCTestCase {
    func testAlarmRaisesTheWiredLineAfterItsDelayAndAckLowersIt() throws {
        let host = PluginHost()
        defer { host.shutdown() }
        try host.load([PluginRequest(path: try PluginBuilder.example("acme_timer"))])
        host.attach(timebase: Timebase())
        let controller = RecordingController()
        let type = try XCTUnwrap(host.platformType(named: "acme.timer"))
        XCTAssertEqual(type.compatible, "acme,timer-1.0")
        let timer = try host.createPlatformDevice(type: type, device: "timer0", properties: [("id", "7")], base: 0x1000_2000,
                                                  size: 0x1000, irqs: [IRQLine(controller: controller, source: 12)])
        XCTAssertEqual(timer.read(offset: 0x00, size: 4), 7)
        timer.write(offset: 0x04, size: 4, value: 1_000_000)
        XCTAssertEqual(timer.read(offset: 0x04, size: 4), 1, "pending")
        XCTAssertFalse(controller.level(12))
        usleep(3_000)
        XCTAssertEqual(host.timers.fireDue(), 1)
        XCTAssertTrue(controller.level(12))
        XCTAssertEqual(timer.read(offset: 0x08, size: 4), 1)
        timer.write(offset: 0x0c, size: 4, value: 1)
        XCTAssertFalse(controller.level(12))
        XCTAssertEqual(timer.read(offset: 0x10, size: 4), 1, "one alarm fired")
    }

    func testTimersWithEqualDeadlinesFireInStartOrder() throws {
        let host = PluginHost()
        defer { host.shutdown() }
        try host.load([PluginRequest(path: try PluginBuilder.example("acme_timer"))])
        host.attach(timebase: Timebase())
        let controller = RecordingController()
        let type = try XCTUnwrap(host.platformType(named: "acme.timer"))
        let devices = try (0..<3).map { index in
            try host.createPlatformDevice(type: type, device: "t\(index)", properties: [], base: 0, size: 0x20,
                                          irqs: [IRQLine(controller: controller, source: 1 + index)])
        }
        for device in devices.reversed() { device.write(offset: 0x04, size: 4, value: 1) }
        usleep(1_000)
        XCTAssertEqual(host.timers.fireDue(), 3)
        XCTAssertEqual((1...3).map(controller.level), [true, true, true])
    }

    /// The Swift example (Plugins/examples/swift_scratch), built by `swift build` as a dynamic library.
    func testTheSwiftPluginServesItsRegisters() throws {
        // The products folder: where the test bundle sits (Linux: .build/debug/X.xctest).
        let bundle = Bundle(for: PluginPlatformTests.self).bundleURL
        let candidates = [bundle, bundle.deletingLastPathComponent()].map { $0.appendingPathComponent("libswift_scratch.so").path }
        let path = candidates.first { FileManager.default.fileExists(atPath: $0) } ?? candidates[0]
        guard FileManager.default.fileExists(atPath: path) else {
            return XCTFail("\(path) is missing: run `swift build --product swift_scratch` first")
        }
        let host = PluginHost()
        defer { host.shutdown() }
        try host.load([PluginRequest(path: path)])
        let type = try XCTUnwrap(host.platformType(named: "swift.scratch"))
        let device = try host.createPlatformDevice(type: type, device: "scratch0", properties: [], base: 0, size: 0x20, irqs: [])
        XCTAssertEqual(device.read(offset: 0x00, size: 4), 0x5357_4654)
        device.write(offset: 0x08, size: 8, value: 40)
        device.write(offset: 0x08, size: 8, value: 2)
        XCTAssertEqual(device.read(offset: 0x10, size: 8), 42)
        XCTAssertEqual(device.read(offset: 0x18, size: 8), 2)
    }
}
