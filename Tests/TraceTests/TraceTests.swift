import Foundation
import XCTest
@testable import Trace

final class TraceTests: XCTestCase {
    override func tearDown() { Trace.disable() }

    /// Runs `body` with tracing configured to a pipe; returns what was written.
    private func capture(_ configuration: TraceConfiguration, _ body: () -> Void) -> String {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        Trace.configure(configuration, fd: fds[1])
        body()
        Trace.disable()
        close(fds[1])
        let data = FileHandle(fileDescriptor: fds[0], closeOnDealloc: true).readDataToEndOfFile()
        return String(decoding: data, as: UTF8.self)
    }

    func testParsingGroupsDevicesAndTheJITItems() throws {
        let (mmioPCI, none) = try TraceConfiguration.parse("mmio,pci")
        XCTAssertEqual(mmioPCI.groups, TraceGroup.mmio.bit | TraceGroup.pci.bit)
        XCTAssertEqual(mmioPCI.devices, [])
        XCTAssertEqual(none, [])
        let (filtered, others) = try TraceConfiguration.parse("pci,dma,in_asm:nic0,virtio0")
        XCTAssertEqual(filtered.groups, TraceGroup.pci.bit | TraceGroup.dma.bit)
        XCTAssertEqual(filtered.devices, ["nic0", "virtio0"])
        XCTAssertEqual(others, ["in_asm"])
        XCTAssertEqual(try TraceConfiguration.parse("all").0.groups, 0b111111)
        XCTAssertThrowsError(try TraceConfiguration.parse("mmio,disk")) { error in
            XCTAssertEqual("\(error)", "--trace: 'disk' is not one of mmio, pci, dma, irq, usb, plugin, all, in_asm, out_asm")
        }
        XCTAssertThrowsError(try TraceConfiguration.parse("in_asm:uart0"))
        XCTAssertThrowsError(try TraceConfiguration.parse("mmio:"))
    }

    func testTextLinesCarryTimeHartPcAndFields() {
        var configuration = TraceConfiguration()
        configuration.groups = TraceGroup.mmio.bit
        var pc: UInt64 = 0x8000_1234
        let text = capture(configuration) {
            Trace.clock = { 42 }
            Trace.hart = 1
            withUnsafePointer(to: &pc) { pointer in
                Trace.pc = pointer
                Trace.emit(.mmio, device: "uart0", "write", ["offset": .hex(0), "size": .number(1), "value": .hex(0x41)])
            }
            Trace.emit(.irq, device: "uart0", "level", ["line": .number(10)])  // group off
        }
        XCTAssertEqual(text, "[42 hart1 pc=0x80001234] mmio uart0 write offset=0x0 size=1 value=0x41\n")
    }

    func testJSONLinesParseAndKeepNumbersAsNumbers() throws {
        var configuration = TraceConfiguration()
        configuration.groups = TraceGroup.pci.bit | TraceGroup.usb.bit
        configuration.devices = ["nic0"]
        configuration.format = .json
        let text = capture(configuration) {
            Trace.emit(.pci, device: "nic0", "config-write", ["register": .text("command \"x\""), "value": .hex(6), "bus-master": .flag(true)])
            Trace.emit(.pci, device: "disk0", "config-write", [:])  // filtered out
        }
        let lines = text.split(separator: "\n")
        XCTAssertEqual(lines.count, 1)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        XCTAssertEqual(object["group"] as? String, "pci")
        XCTAssertEqual(object["device"] as? String, "nic0")
        XCTAssertEqual(object["event"] as? String, "config-write")
        XCTAssertEqual(object["register"] as? String, "command \"x\"")
        XCTAssertEqual(object["value"] as? Int, 6)
        XCTAssertEqual(object["bus-master"] as? Bool, true)
        XCTAssertNil(object["hart"], "no hart outside a slice")
    }

    func testOffWritesNothing() {
        let text = capture(TraceConfiguration()) {
            Trace.emit(.mmio, device: "uart0", "write", [:])
        }
        XCTAssertEqual(text, "")
        XCTAssertFalse(Trace.wants(.mmio, device: "uart0"))
    }

    func testJSONQuotingOfControlCharacters() {
        XCTAssertEqual(Trace.quoted("a\u{1}b\n\\"), "\"a\\u0001b\\n\\\\\"")
    }
}
