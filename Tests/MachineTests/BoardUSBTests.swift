import XCTest
import Foundation
import Devices
@testable import Machine

/// USB in board files: xHCI controllers, devices placed with `at: CONTROLLER/portN`, and the errors
/// for ports out of range, ports taken twice and speeds a port cannot carry.
final class BoardUSBTests: XCTestCase {
    /// A host bridge and an xHCI controller with ports 1-2 (USB 2) and 3-4 (USB 3). Devices
    /// appended start at line 16.
    private let valid = """
    name: t
    harts: { isa: rv64gc, mmu: sv39, timebase-frequency: 10000000 }
    memory:
      - { name: ram, base: 0x80000000, size: 16M }
    devices:
      - { name: plic0, type: plic, reg: [0xc000000, 0x400000], properties: { sources: 40 } }
      - name: pcie0
        type: pci-host-ecam-generic
        reg: [0x30000000, 0x1000000]
        irq: [plic0@32, plic0@33, plic0@34, plic0@35]
        properties: { mmio32-base: 0x40000000, mmio32-size: 0x200000, mmio64-base: 0x400000000, mmio64-size: 0x100000000 }
      - name: xhci0
        type: qemu-xhci
        at: pcie0/04.0
        properties: { usb2-ports: 2, usb3-ports: 2 }

    """

    private func with(_ devices: [(name: String, type: String, at: String)], properties: String = "") -> String {
        valid + devices.map { "  - name: \($0.name)\n    type: \($0.type)\n    at: \($0.at)\n\(properties)" }.joined()
    }

    private func errors(_ yaml: String) -> String {
        do {
            _ = try BoardLoader.load(yaml: yaml, path: "t.yaml")
            return ""
        } catch {
            return error.description
        }
    }

    func testDevicesLoadWithTheirPorts() throws {
        let board = try BoardLoader.load(yaml: with([("kbd0", "usb-kbd", "xhci0/port1"), ("loop0", "usb-loopback", "xhci0/port3")]), path: "t.yaml")
        XCTAssertEqual(board.device(named: "kbd0")?.usbPort, BoardUSBPort(controller: "xhci0", port: 1, location: SourceLocation(line: 18, column: 9)))
        XCTAssertEqual(board.device(named: "loop0")?.usbPort?.description, "xhci0/port3")
        XCTAssertNil(board.device(named: "kbd0")?.pciAddress)
    }

    func testPortOutOfRange() {
        XCTAssertEqual(errors(with([("kbd0", "usb-kbd", "xhci0/port5")])),
                       "t.yaml:18:9: error: port 5 of 'xhci0' is out of range 1...4 (USB 2 ports 1...2, USB 3 ports 3...4)")
    }

    func testPortAlreadyUsed() {
        XCTAssertEqual(errors(with([("kbd0", "usb-kbd", "xhci0/port1"), ("tablet0", "usb-tablet", "xhci0/port1")])),
                       "t.yaml:21:9: error: port 1 of 'xhci0' is already taken by 'kbd0' (line 16)")
    }

    func testFullSpeedDeviceOnAUSB3Port() {
        XCTAssertEqual(errors(with([("kbd0", "usb-kbd", "xhci0/port3")])),
                       "t.yaml:18:9: error: port 3 of 'xhci0' is a USB 3 port (super speed only) and cannot take 'kbd0' of type 'usb-kbd' (full speed); its USB 2 ports are 1...2")
    }

    func testSuperSpeedDeviceOnAUSB2Port() {
        XCTAssertEqual(errors(with([("loop0", "usb-loopback", "xhci0/port2")], properties: "    properties: { speed: super }\n")),
                       "t.yaml:18:9: error: port 2 of 'xhci0' is a USB 2 port (low, full and high speed) and cannot take 'loop0' at super speed; its USB 3 ports are 3...4")
    }

    func testUnknownController() {
        XCTAssertEqual(errors(with([("kbd0", "usb-kbd", "xhc0/port1")])),
                       "t.yaml:18:9: error: 'at' of 'kbd0' names unknown device 'xhc0'; did you mean 'xhci0'?")
    }

    func testUSBDeviceWithoutAPort() {
        XCTAssertEqual(errors(valid + "  - name: kbd0\n    type: usb-kbd\n"),
                       "t.yaml:16:5: error: device 'kbd0' of type 'usb-kbd' needs 'at: CONTROLLER/portN' such as 'xhci0/port1'")
    }

    func testMachineAttachesTheDevicesToTheController() throws {
        let board = try BoardLoader.load(yaml: with([("kbd0", "usb-kbd", "xhci0/port1"), ("loop0", "usb-loopback", "xhci0/port4")]), path: "t.yaml")
        let machine = try Machine(board: board, serial: NullSerialBackend())
        let controller = try XCTUnwrap(machine.xhciControllers["xhci0"])
        XCTAssertEqual(controller.ports.map { $0.device?.speed.description ?? "-" }, ["full", "-", "-", "super"])
    }
}
