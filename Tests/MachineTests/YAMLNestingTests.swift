import XCTest
@testable import Machine

final class YAMLNestingTests: XCTestCase {
    func testBundledBoardsAreFarBelowTheLimit() throws {
        for name in ["virt", "virt-aia", "spike"] {
            let path = try XCTUnwrap(Board.bundledPath(name: name))
            XCTAssertNil(YAMLNesting.firstTooDeep(try String(contentsOfFile: path, encoding: .utf8), limit: 8), name)
        }
    }

    func testFlowNestingIsCountedOutsideQuotesAndComments() {
        XCTAssertEqual(YAMLNesting.firstTooDeep("a: [[[x]]]", limit: 3), SourceLocation(line: 1, column: 6))
        XCTAssertNil(YAMLNesting.firstTooDeep("a: [[x]]", limit: 3))
        XCTAssertNil(YAMLNesting.firstTooDeep("a: \"[[[[[[\"  # [[[[[[", limit: 2))
        XCTAssertNil(YAMLNesting.firstTooDeep("a: '[[[[[['", limit: 2))
    }

    func testBlockNestingAndDashesCount() {
        let deep = (0..<6).map { String(repeating: " ", count: 2 * $0) + "k\($0):" }.joined(separator: "\n")
        XCTAssertEqual(YAMLNesting.firstTooDeep(deep, limit: 5), SourceLocation(line: 6, column: 11))
        XCTAssertNil(YAMLNesting.firstTooDeep(deep, limit: 6))
        XCTAssertEqual(YAMLNesting.firstTooDeep("- - - - x", limit: 3)?.line, 1)
        XCTAssertNil(YAMLNesting.firstTooDeep("a:\n  b: 1\nc:\n  d: 2\n", limit: 2), "siblings do not add up")
    }
}
