import CBackplane
@testable import PluginHost
import XCTest

/// A refused `register_type` answers the `BP_ERR_*` code of its case, whatever its message says.
final class PluginTypeErrorTests: XCTestCase {
    typealias TypeError = PluginTypeValidation.TypeError

    func testADuplicateNameIsBPErrExists() {
        let error = TypeError.alreadyRegistered(type: "acme.edu", owner: "acme_edu")

        XCTAssertEqual(error.code, BP_ERR_EXISTS)
        XCTAssertEqual(error.description, "device type 'acme.edu' of plugin 'acme_edu' is already registered")
    }

    func testABadDescriptorIsBPErrInvalidEvenWhenItsReasonEndsLikeADuplicate() {
        let error = TypeError.invalidDescriptor(type: "acme.x", reason: "property 'y' is already registered")

        XCTAssertEqual(error.code, BP_ERR_INVALID)
    }

    func testABadNameAndAMissingNameAreBPErrInvalid() {
        XCTAssertEqual(TypeError.invalidName("Acme").code, BP_ERR_INVALID)
        XCTAssertEqual(TypeError.unnamed(bus: "PCI").code, BP_ERR_INVALID)
        XCTAssertEqual(TypeError.unnamed(bus: "PCI").description, "a PCI device type has no name")
    }
}
