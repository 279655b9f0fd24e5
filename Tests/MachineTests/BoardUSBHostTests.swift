import Devices
import Machine
import XCTest

/// `usb.host` in board files: which host device it takes, and that a recording goes with the
/// replay backend. Each message word for word, at the device's line.
final class BoardUSBHostTests: XCTestCase {
    /// A PCIe host bridge and an xHCI controller; the `usb.host` device starts at line 16.
    private func board(_ properties: String) -> String {
        """
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
          - name: host0
            type: usb.host
            at: xhci0/port1
            properties: { \(properties) }

        """
    }

    private func errors(_ properties: String) -> String {
        do {
            _ = try BoardLoader.load(yaml: board(properties), path: "t.yaml")
            return ""
        } catch {
            return "\(error)"
        }
    }

    func testVendorAndProductSelectADevice() {
        XCTAssertEqual(errors("vendor: 0x0781, product: 0x5567"), "")
    }

    func testBusAndPortSelectADevice() {
        XCTAssertEqual(errors("bus: 1, port: \"2.1\""), "")
    }

    func testBothSelectorsAreRefused() {
        XCTAssertEqual(errors("vendor: 0x0781, product: 0x5567, bus: 1, port: \"2\""),
                       "t.yaml:16:5: error: device 'host0' of type 'usb.host' selects the host device by 'vendor'/'product' or by 'bus'/'port', not both")
    }

    func testVendorWithoutProduct() {
        XCTAssertEqual(errors("vendor: 0x0781"),
                       "t.yaml:16:5: error: device 'host0' of type 'usb.host' needs both 'vendor' and 'product' (0x0781 and 0x5567, as `backplane host usb` lists them)")
    }

    func testNoSelector() {
        XCTAssertEqual(errors("detach-driver: true"),
                       "t.yaml:16:5: error: device 'host0' of type 'usb.host' needs 'vendor' and 'product', or 'bus' and 'port', to say which host device it takes")
    }

    func testMalformedPortChain() {
        XCTAssertEqual(errors("bus: 1, port: \"2..1\""),
                       "t.yaml:16:5: error: 'port' of device 'host0': '2..1' is not a hub port chain such as \"2\" or \"2.1\"")
    }

    func testReplayNeedsARecording() {
        XCTAssertEqual(errors("vendor: 0x1209, product: 0x0010, backend: replay"),
                       "t.yaml:16:5: error: 'backend: replay' of device 'host0' needs 'recording: FILE' (a JSON recording, docs/passthrough.md)")
    }

    func testRecordingNeedsTheReplayBackend() {
        XCTAssertEqual(errors("vendor: 0x1209, product: 0x0010, recording: gadget.json"),
                       "t.yaml:16:5: error: 'recording' of device 'host0' needs 'backend: replay'")
    }

    func testUnknownBackend() {
        XCTAssertEqual(errors("vendor: 0x1209, product: 0x0010, backend: vfio"),
                       "t.yaml:16:5: error: 'backend' of device 'host0': 'vfio' is not 'libusb' or 'replay'")
    }
}
