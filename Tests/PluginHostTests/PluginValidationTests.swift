import Foundation
import PluginHost
import XCTest

/// Descriptors are checked as strictly as the USB and PCI specifications: each refusal names
/// the plugin, the type and the field, and an install reports all of its refusals.
final class PluginValidationTests: XCTestCase {
    private func installError(_ name: String, _ defines: [String]) throws -> String? {
        let usb = ["USB_SPEEDS=BP_USB_SPEED_HIGH", "NUM_ENDPOINTS=1", "BULK_SIZE=512", "STRING_COUNT=1", "STRING_MANUFACTURER=1"]
        let merged = usb.filter { entry in !defines.contains { $0.hasPrefix(entry.split(separator: "=")[0] + "=") } } + defines
        let path = try PluginBuilder.build(name, sources: [PluginBuilder.packageRoot.appendingPathComponent("Tests/PluginHostTests/Fixtures/validation_plugin.c").path],
                                           defines: ["PLUGIN_NAME=\"\(name)\""] + merged)
        let host = PluginHost()
        defer { host.shutdown() }
        do { try host.load([PluginRequest(path: path)]) } catch { return "\(error)" }
        return nil
    }

    func testAGoodUSBTypeIsAccepted() throws {
        XCTAssertNil(try installError("vgood", ["USB_TYPE"]))
    }

    func testBNumEndpointsMustMatchTheEndpointsThatFollow() throws {
        XCTAssertEqual(try installError("vnum", ["USB_TYPE", "NUM_ENDPOINTS=2"]),
                       "plugin 'vnum' failed to install: device type 'v.usb': configuration #0 interface 0 alternate 0: bNumEndpoints is 2 but 1 endpoint descriptors follow it (USB 2.0 §9.6.5)")
    }

    func testAFullSpeedBulkEndpointOf512BytesIsRefused() throws {
        XCTAssertEqual(try installError("vfull", ["USB_TYPE", "USB_SPEEDS=BP_USB_SPEED_FULL"]),
                       "plugin 'vfull' failed to install: device type 'v.usb': configuration #0 endpoint 0x81 wMaxPacketSize 512: a full-speed bulk endpoint takes 8, 16, 32 or 64 bytes (USB 2.0 §5.8.3)")
    }

    func testAHighSpeedBulkEndpointMustBe512Bytes() throws {
        XCTAssertEqual(try installError("vhigh", ["USB_TYPE", "BULK_SIZE=64"]),
                       "plugin 'vhigh' failed to install: device type 'v.usb': configuration #0 endpoint 0x81 wMaxPacketSize 64: a high-speed bulk endpoint takes exactly 512 bytes (USB 2.0 §5.8.3)")
    }

    func testAStringIndexWithoutAStringIsRefused() throws {
        XCTAssertEqual(try installError("vstr", ["USB_TYPE", "STRING_COUNT=0"]),
                       "plugin 'vstr' failed to install: device type 'v.usb': device descriptor iManufacturer is 1 but the type has 0 strings")
    }

    func testAnMSIXPBAOverlappingTheTableIsRefused() throws {
        XCTAssertEqual(try installError("vpba", ["PCI_VECTORS=8", "PCI_PBA=0x40"]),
                       "plugin 'vpba' failed to install: device type 'v.pci': msix_pba_offset: the MSI-X PBA [0x40, 0x48) overlaps the table [0x0, 0x80) in BAR 0 (PCI 3.0 §6.8.2)")
    }

    func testTooManyVectorsForTheBARSayHowManyFit() throws {
        XCTAssertEqual(try installError("vmany", ["PCI_VECTORS=300", "PCI_PBA=0xf00"]),
                       "plugin 'vmany' failed to install: device type 'v.pci': msix_vectors 300: the MSI-X table (0x12c0 bytes at 0x0) does not fit in BAR 0 of 0x1000 bytes; 256 vectors fit there")
    }

    func testEveryRefusalOfAnInstallIsReported() throws {
        XCTAssertEqual(try installError("vall", ["USB_TYPE", "NUM_ENDPOINTS=0", "PCI_VECTORS=8", "PCI_PBA=0x40", "SECOND_PCI_VECTORS=2000"]),
                       "plugin 'vall' failed to install: device type 'v.usb': configuration #0 interface 0 alternate 0: bNumEndpoints is 0 but 1 endpoint descriptors follow it (USB 2.0 §9.6.5)"
                       + "; device type 'v.pci': msix_pba_offset: the MSI-X PBA [0x40, 0x48) overlaps the table [0x0, 0x80) in BAR 0 (PCI 3.0 §6.8.2)"
                       + "; device type 'v.pci2': msix_vectors 2000: the MSI-X table (0x7d00 bytes at 0x0) does not fit in BAR 0 of 0x1000 bytes; 256 vectors fit there")
    }
}
