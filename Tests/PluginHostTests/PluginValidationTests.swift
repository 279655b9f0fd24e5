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
                       + "\nplugin 'vall' failed to install: device type 'v.pci': msix_pba_offset: the MSI-X PBA [0x40, 0x48) overlaps the table [0x0, 0x80) in BAR 0 (PCI 3.0 §6.8.2)"
                       + "\nplugin 'vall' failed to install: device type 'v.pci2': msix_vectors 2000: the MSI-X table (0x7d00 bytes at 0x0) does not fit in BAR 0 of 0x1000 bytes; 256 vectors fit there")
    }

    func testEveryBadFieldOfOneUSBTypeIsReportedOnALineOfItsOwn() throws {
        XCTAssertEqual(try installError("vmulti", ["USB_TYPE", "USB_SPEEDS=BP_USB_SPEED_FULL", "NUM_ENDPOINTS=2", "STRING_COUNT=0", "SAVE_ONLY"]),
                       """
                       plugin 'vmulti' failed to install: device type 'v.usb': device descriptor iManufacturer is 1 but the type has 0 strings
                       plugin 'vmulti' failed to install: device type 'v.usb': configuration #0 endpoint 0x81 wMaxPacketSize 512: a full-speed bulk endpoint takes 8, 16, 32 or 64 bytes (USB 2.0 §5.8.3)
                       plugin 'vmulti' failed to install: device type 'v.usb': configuration #0 interface 0 alternate 0: bNumEndpoints is 2 but 1 endpoint descriptors follow it (USB 2.0 §9.6.5)
                       plugin 'vmulti' failed to install: device type 'v.usb': save is set but restore is NULL; give both snapshot hooks or neither
                       """)
    }

    func testEveryBadFieldOfOnePCITypeIsReportedOnALineOfItsOwn() throws {
        XCTAssertEqual(try installError("vpcibad", ["BAD_PCI"]),
                       """
                       plugin 'vpcibad' failed to install: device type 'v.pcibad': BAR 1 of 0x18 bytes: the size is not a power of two
                       plugin 'vpcibad' failed to install: device type 'v.pcibad': msi_vectors 3 is not 0, 1, 2, 4, 8, 16 or 32
                       plugin 'vpcibad' failed to install: device type 'v.pcibad': msix_pba_offset: the MSI-X PBA [0x40, 0x48) overlaps the table [0x0, 0x80) in BAR 0 (PCI 3.0 §6.8.2)
                       plugin 'vpcibad' failed to install: device type 'v.pcibad': interrupt_pin 7 is not 0...4
                       plugin 'vpcibad' failed to install: device type 'v.pcibad': restore is set but save is NULL; give both snapshot hooks or neither
                       """)
    }

    // Isochronous endpoints (USB 2.0 §5.6, §9.6.6).

    func testAnIsochronousEndpointInAnAlternateSettingIsAccepted() throws {
        XCTAssertNil(try installError("visook", ["USB_TYPE", "ENDPOINT_ATTRIBUTES=5", "BULK_SIZE=1024", "INTERVAL=1", "ALTERNATE=1"]))
        XCTAssertNil(try installError("visohb", ["USB_TYPE", "ENDPOINT_ATTRIBUTES=5", "BULK_SIZE=(1024|1<<12)", "INTERVAL=1", "ALTERNATE=1"]),
                     "3 transactions of 1024 bytes per microframe (high bandwidth)")
    }

    func testAnIsochronousEndpointWithBandwidthInTheDefaultSettingIsRefused() throws {
        XCTAssertEqual(try installError("visodef", ["USB_TYPE", "ENDPOINT_ATTRIBUTES=5", "BULK_SIZE=192", "INTERVAL=4"]),
                       "plugin 'visodef' failed to install: device type 'v.usb': configuration #0 endpoint 0x81: an isochronous endpoint in interface 0's default setting (alternate 0) must have wMaxPacketSize 0; put the bandwidth in an alternate setting (USB 2.0 §5.6.3)")
    }

    func testIsochronousBIntervalAndHighBandwidthPacketSizesAreChecked() throws {
        XCTAssertEqual(try installError("visoint", ["USB_TYPE", "ENDPOINT_ATTRIBUTES=5", "BULK_SIZE=(400|1<<11)", "INTERVAL=17", "ALTERNATE=1"]),
                       """
                       plugin 'visoint' failed to install: device type 'v.usb': configuration #0 endpoint 0x81 wMaxPacketSize 400: 2 transactions per microframe (bits 12:11 = 1) take 513...1024 bytes each (USB 2.0 Table 9-14)
                       plugin 'visoint' failed to install: device type 'v.usb': configuration #0 endpoint 0x81 bInterval 17: an isochronous endpoint takes 1...16 (a period of 2^(bInterval-1) microframes, USB 2.0 §9.6.6)
                       """)
        XCTAssertEqual(try installError("visofull", ["USB_TYPE", "USB_SPEEDS=BP_USB_SPEED_FULL", "ENDPOINT_ATTRIBUTES=5", "BULK_SIZE=(600|1<<11)", "INTERVAL=0", "ALTERNATE=1"]),
                       """
                       plugin 'visofull' failed to install: device type 'v.usb': configuration #0 endpoint 0x81 wMaxPacketSize 600: bits 12:11 (additional transactions per microframe) are 1; only high-speed isochronous and interrupt endpoints have them (USB 2.0 §9.6.6)
                       plugin 'visofull' failed to install: device type 'v.usb': configuration #0 endpoint 0x81 bInterval 0: an isochronous endpoint takes 1...16 (a period of 2^(bInterval-1) frames, USB 2.0 §9.6.6)
                       """)
    }

    func testAHighSpeedInterruptEndpointTakesBInterval1To16() throws {
        XCTAssertEqual(try installError("vintr", ["USB_TYPE", "ENDPOINT_ATTRIBUTES=3", "BULK_SIZE=64", "INTERVAL=32"]),
                       "plugin 'vintr' failed to install: device type 'v.usb': configuration #0 endpoint 0x81 bInterval 32: a high-speed interrupt endpoint takes 1...16 (2^(bInterval-1) microframes, USB 2.0 §9.6.6)")
    }
}
