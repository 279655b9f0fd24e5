@testable import Devices
import XCTest

final class SerialBackendTests: XCTestCase {
    func testEscapeFilterPassesOrdinaryBytes() {
        var filter = ConsoleEscapeFilter()
        XCTAssertEqual(filter.feed(0x61), .deliver(0x61))
        XCTAssertEqual(filter.feed(0x03), .deliver(0x03))
    }

    func testCtrlAXQuits() {
        var filter = ConsoleEscapeFilter()
        XCTAssertEqual(filter.feed(0x01), .consumed)
        XCTAssertEqual(filter.feed(UInt8(ascii: "x")), .quit)
    }

    func testCtrlACtrlASendsOneCtrlA() {
        var filter = ConsoleEscapeFilter()
        XCTAssertEqual(filter.feed(0x01), .consumed)
        XCTAssertEqual(filter.feed(0x01), .deliver(0x01))
        XCTAssertEqual(filter.feed(UInt8(ascii: "x")), .deliver(UInt8(ascii: "x")))
    }

    func testUnknownEscapeIsDropped() {
        var filter = ConsoleEscapeFilter()
        _ = filter.feed(0x01)
        XCTAssertEqual(filter.feed(UInt8(ascii: "q")), .consumed)
        XCTAssertEqual(filter.feed(UInt8(ascii: "q")), .deliver(UInt8(ascii: "q")))
    }

    func testUnknownBackendSuggestsNearestName() {
        XCTAssertThrowsError(try makeSerialBackend("stdoi")) { error in
            XCTAssertEqual("\(error)", "unknown serial backend 'stdoi' (did you mean 'stdio'?); expected stdio, none or file:PATH")
        }
    }

    func testFileBackendWritesBytes() throws {
        let path = NSTemporaryDirectory() + "backplane-serial-\(getpid()).txt"
        defer { unlink(path) }
        let backend = try makeSerialBackend("file:" + path)
        for byte in "ok\n".utf8 { backend.write(byte) }
        XCTAssertNil(backend.read())
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "ok\n")
    }

    func testFileBackendReportsUnopenablePath() {
        XCTAssertThrowsError(try makeSerialBackend("file:/nonexistent-dir/x")) { error in
            XCTAssertEqual("\(error)", "cannot open serial output file '/nonexistent-dir/x': No such file or directory")
        }
    }

    func testNoneBackendDiscards() throws {
        let backend = try makeSerialBackend("none")
        backend.write(1)
        XCTAssertNil(backend.read())
        XCTAssertFalse(backend.quitRequested)
    }
}
