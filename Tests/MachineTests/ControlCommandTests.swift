import Control
import Devices
import XCTest
@testable import Machine

/// The control socket's command set (`Machine.execute(command:)`, docs/debugging.md) on a real
/// machine: what a hostile client sends is refused with a message, never plugged elsewhere than
/// the command says, never taken past the checks a board file gets.
final class ControlCommandTests: XCTestCase {
    private func machine() throws -> Machine {
        let board = try Board.bundled(name: "virt").addingDevice("qemu-xhci,name=xhci9,at=pcie0/06.0", catalog: .builtIn)
        return try Machine(board: board, serial: NullSerialBackend())
    }

    private func failure(_ reply: ControlReply) -> String? {
        if case .failure(let message) = reply { return message }
        return nil
    }

    /// `usb attach xhci9/port2 usb-kbd at=xhci9/port3` answered "attached usb-kbd at
    /// xhci9/port2" and plugged the keyboard into port 3; `speed=x`, `reg=` and `irq=` on a USB
    /// device were taken without a word (the hot-plug skipped the board checks).
    func testHotPlugTakesItsPlaceFromTheCommandAndGetsTheBoardChecks() throws {
        let machine = try machine()
        XCTAssertEqual(failure(machine.execute(command: "usb attach xhci9/port2 usb-kbd at=xhci9/port3")),
                       "usb attach: 'at' is not a property here: the device goes at xhci9/port2 and is named xhci9-port2-usb-kbd")
        XCTAssertEqual(failure(machine.execute(command: "usb attach xhci9/port2 usb-kbd input=,at=xhci9/port3")),
                       "usb attach: 'at' is not a property here: the device goes at xhci9/port2 and is named xhci9-port2-usb-kbd")
        XCTAssertEqual(failure(machine.execute(command: "usb attach xhci9/port2 usb-kbd name=plic0")),
                       "usb attach: 'name' is not a property here: the device goes at xhci9/port2 and is named xhci9-port2-usb-kbd")
        for property in ["speed=x", "reg=0x1000:0x1000", "irq=plic0@3"] {
            let message = failure(machine.execute(command: "usb attach xhci9/port2 usb-kbd \(property)"))
            XCTAssertNotNil(message, property)
            XCTAssertTrue(message?.hasPrefix("usb attach: ") == true, message ?? "")
        }
        XCTAssertEqual(machine.execute(command: "info usb"), .output(""), "nothing was plugged in")

        XCTAssertEqual(machine.execute(command: "usb attach xhci9/port2 usb-kbd"), .output("attached usb-kbd at xhci9/port2\n"))
        guard case .output(let usb) = machine.execute(command: "info usb") else { return XCTFail("info usb") }
        XCTAssertTrue(usb.hasPrefix("xhci9/port2: 0x1209:"), usb)
    }

    /// Numbers at and past their edges are refused with a message.
    func testNumbersAtTheirEdges() throws {
        let machine = try machine()
        for command in ["read 0xffffffffffffffff 4096", "read 0x10000000000000000", "read 0x80000000 4097", "read 0x80000000 0",
                        "write 0xffffffffffffffff 0011", "write 0x80000000 +f", "step 0", "step 100000001", "step -1",
                        "usb attach xhci9/port0 usb-kbd", "usb attach xhci9/port99 usb-kbd", "usb detach xhci9/port18446744073709551616"] {
            XCTAssertNotNil(failure(machine.execute(command: command)), command)
        }
    }
}
