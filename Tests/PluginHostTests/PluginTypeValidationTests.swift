import CBackplane
import XCTest
@testable import PluginHost

/// What a plugin declares for a PCI type is checked before anything is built from it; the
/// libFuzzer target Fuzz/Targets/plugin_types.swift found a declaration that passed the checks
/// and then trapped in MSIXCapability (Fuzz/regressions/plugin_types/msix-table-offset-past-4g).
final class PluginTypeValidationTests: XCTestCase {
    private func typeWithMSIX(tableOffset: UInt64) -> bp_pci_device_type {
        var type = bp_pci_device_type()
        type.struct_size = UInt32(MemoryLayout<bp_pci_device_type>.size)
        type.bars.0 = bp_pci_bar_spec(kind: UInt32(BP_PCI_BAR_MEM64), flags: 0, size: 1 << 34, access_sizes: 0, reserved: 0)
        type.msix_vectors = 4
        type.msix_table_bar = 0
        type.msix_table_offset = tableOffset
        type.msix_pba_bar = 0
        type.msix_pba_offset = 0x1000
        return type
    }

    func testMSIXTableBeyondTheFirst4GiBOfALargeBARIsRefused() throws {
        let type = typeWithMSIX(tableOffset: 1 << 33)
        let (bars, _) = try PluginTypeValidation.bars(of: type, name: "acme.big")
        XCTAssertThrowsError(try PluginTypeValidation.capabilities(of: type, bars: bars, name: "acme.big")) { error in
            let text = String(describing: error)
            XCTAssertTrue(text.contains("acme.big"), text)
            XCTAssertTrue(text.contains("the MSI-X table at 0x200000000 is past the 4 GiB its offset register can express"), text)
        }
    }

    func testMSIXTableInTheFirst4GiBOfALargeBARIsAccepted() throws {
        let type = typeWithMSIX(tableOffset: 0x2000)
        let (bars, _) = try PluginTypeValidation.bars(of: type, name: "acme.big")
        XCTAssertNoThrow(try PluginTypeValidation.capabilities(of: type, bars: bars, name: "acme.big"))
    }
}
