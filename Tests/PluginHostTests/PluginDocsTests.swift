import Foundation
import PluginHost
import XCTest

/// docs/plugins.md's tutorial plugin compiles, loads and behaves as the text says.
final class PluginDocsTests: XCTestCase {
    func testTheTutorialPluginCountsGuestWrites() throws {
        let docs = try String(contentsOf: PluginBuilder.packageRoot.appendingPathComponent("docs/plugins.md"), encoding: .utf8)
        let marker = try XCTUnwrap(docs.range(of: "<!-- tested: tutorial"))
        let start = try XCTUnwrap(docs.range(of: "```c\n", range: marker.upperBound..<docs.endIndex))
        let end = try XCTUnwrap(docs.range(of: "```", range: start.upperBound..<docs.endIndex))
        let source = PluginBuilder.directory.appendingPathComponent("hello.c").path
        try String(docs[start.upperBound..<end.lowerBound]).write(toFile: source, atomically: true, encoding: .utf8)
        let library = try PluginBuilder.build("hello", sources: [source])

        let host = PluginHost()
        defer { host.shutdown() }
        try host.load([PluginRequest(path: library)])
        let type = try XCTUnwrap(host.platformType(named: "hello.counter"))
        XCTAssertEqual(type.compatible, "hello,counter")
        let device = try host.createPlatformDevice(type: type, device: "counter0", properties: [], base: 0x1000_3000, size: 0x1000, irqs: [])
        device.write(offset: 0, size: 4, value: 1)
        device.write(offset: 4, size: 4, value: 1)
        XCTAssertEqual(device.read(offset: 0, size: 4), 2)
    }
}
