import XCTest
@testable import Machine

/// One parser for property values: board files, `--device` and plugin defaults accept the same
/// words and refuse the same ones with the same message.
final class PropertyValueTests: XCTestCase {
    private let flag = DevicePropertySpec(name: "read-only", kind: .boolean, defaultValue: .boolean(false), summary: "")
    private let count = DevicePropertySpec(name: "count", kind: .integer(1...8), defaultValue: .integer(1), summary: "")

    func testBooleanWordsInAnyCase() {
        XCTAssertEqual(try flag.parse("Yes").get(), .boolean(true))
        XCTAssertEqual(try flag.parse("on").get(), .boolean(true))
        XCTAssertEqual(try flag.parse("OFF").get(), .boolean(false))
        XCTAssertEqual(try flag.parse("no").get(), .boolean(false))
    }

    func testABooleanIsNeverOneOrAnUnknownWord() {
        XCTAssertEqual(flag.parse("1"), .failure(.notABoolean(property: "read-only", text: "1")))
        XCTAssertEqual("\(PropertyValueError.notABoolean(property: "read-only", text: "maybe"))",
                       "property 'read-only' must be true or false, got 'maybe'")
    }

    func testIntegersInHexAndTheirRange() {
        XCTAssertEqual(try count.parse("0x8").get(), .integer(8))
        XCTAssertEqual("\(try XCTUnwrap(count.parse("9").failure))", "property 'count' must be in 1...8, got 9")
        XCTAssertEqual("\(try XCTUnwrap(count.parse("eight").failure))",
                       "invalid value of 'count' 'eight'; expected a number such as 4096 or 0x1000")
    }

    func testTheCommandLineRefusesWhatABoardFileRefusesWithTheSameWords() throws {
        let board = try Board.bundled(name: "virt")

        XCTAssertThrowsError(try board.addingDevice("ns16550a,reg=0x10001000:0x100,reg-shift=3", catalog: .builtIn)) { error in
            XCTAssertEqual("\(error)", "--device 'ns16550a,reg=0x10001000:0x100,reg-shift=3': property 'reg-shift' must be in 0...2, got 3")
        }
        let yaml = """
            name: t
            harts: { isa: rv64gc, mmu: sv39, timebase-frequency: 10000000 }
            memory: [{ name: ram, base: 0x80000000, size: 16M }]
            devices:
              - name: uart0
                type: ns16550a
                reg: [0x10000000, 0x100]
                properties: { reg-shift: 3 }
            """
        XCTAssertThrowsError(try BoardLoader.load(yaml: yaml, path: "t.yaml")) { error in
            XCTAssertEqual("\(error)", "t.yaml:8:30: error: property 'reg-shift' must be in 0...2, got 3")
        }
    }
}

private extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
