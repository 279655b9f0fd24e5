import Foundation
import XCTest
@testable import Passthrough

/// The libusb backend on this machine: it must initialise, enumerate and report a missing
/// device cleanly with or without USB; a test with a real device runs only when one is here.
final class LibUSBTests: XCTestCase {
    func testInitialisesAndEnumerates() throws {
        let backend = try LibUSBBackend()
        let devices = try backend.devices()
        if !FileManager.default.fileExists(atPath: "/dev/bus/usb") {
            XCTAssertEqual(devices, [], "no usbfs: nothing to list")
        }
        for device in devices { XCTAssertFalse(device.location.isEmpty) }
    }

    func testMissingDeviceIsReportedWithTheCountPresent() throws {
        let backend = try LibUSBBackend()
        let present = try backend.devices()
        let selector = HostUSBSelector.ids(vendor: 0xffff, product: 0xfffe)
        XCTAssertFalse(present.contains { selector.matches($0) })
        XCTAssertThrowsError(try backend.open(selector, options: HostUSBOpenOptions())) { error in
            let plural = present.count == 1 ? "" : "s"
            XCTAssertEqual("\(error)", "host USB device ffff:fffe not found (\(present.count) USB device\(plural) present; see `backplane host usb`)")
        }
    }

    func testPermissionErrorCarriesTheUdevRule() {
        let error = HostUSBError.permissionDenied(node: "/dev/bus/usb/001/005", rule: HostUSBError.udevRule(vendor: 0x0781, product: 0x5567))
        XCTAssertEqual(error.description, "permission denied opening /dev/bus/usb/001/005; a udev rule would fix it: SUBSYSTEM==\"usb\", ATTR{idVendor}==\"0781\", ATTR{idProduct}==\"5567\", MODE=\"0660\", GROUP=\"plugdev\" (in /etc/udev/rules.d/70-backplane.rules, then `udevadm control --reload && udevadm trigger`)")
    }

    func testARealDeviceOpensAndShowsItsDescriptor() throws {
        let backend = try LibUSBBackend()
        guard let info = try backend.devices().first(where: { $0.problem == nil && $0.deviceClass != 9 }) else {
            throw XCTSkip("no openable host USB device here (no USB, or only hubs, or no permission): real-device test skipped")
        }
        let device = try backend.open(.location(bus: info.bus, ports: info.ports), options: HostUSBOpenOptions())
        defer { device.close() }
        XCTAssertEqual(device.deviceDescriptor.vendorID, info.vendorID)
        XCTAssertEqual(device.deviceDescriptor.productID, info.productID)
        let configuration = try device.configuration(index: 0)
        XCTAssertFalse(configuration.interfaces.isEmpty)
    }
}
