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

    /// A device added with `--device` is placed at the option and the column of each key, so
    /// that checks of the whole board point there, not at a line of the board file.
    func testCommandLineDevicesCarryTheOptionAndColumnAsTheirLocation() throws {
        let board = try Board.bundled(name: "virt")
        let added = try board.addingDevice("ns16550a,name=u,reg=0x10000000:0x100,irq=plic0@999", catalog: .builtIn, option: 3)
        let device = try XCTUnwrap(added.device(named: "u"))
        XCTAssertEqual(device.location, SourceLocation(option: 3, column: 1))
        XCTAssertEqual(device.regLocation, SourceLocation(option: 3, column: 17))
        XCTAssertEqual(device.irqs.first?.location, SourceLocation(option: 3, column: 38))
        XCTAssertThrowsError(try added.validate(catalog: .builtIn)) { error in
            let errors = (error as? BoardErrors)?.errors.map(\.description) ?? []
            XCTAssertEqual(errors, ["--device #3, column 17: error: 'u' [0x10000000,0x10000100) overlaps 'uart0' [0x10000000,0x10000100)",
                                    "--device #3, column 38: error: irq source 999 of 'u' is out of range for 'plic0': sources are 1...96"])
        }
        XCTAssertThrowsError(try board.addingDevice("ns16550a,reg=0x10001000:0x100,reg-shif=1", catalog: .builtIn, option: 2)) { error in
            XCTAssertEqual("\(error)", "--device #2 'ns16550a,reg=0x10001000:0x100,reg-shif=1', column 31: unknown property 'reg-shif' for device type 'ns16550a'; did you mean 'reg-shift'?")
        }
        // A hot-plugged device (no option) keeps the old form, with no position.
        XCTAssertThrowsError(try board.addingDevice("edu,bogus", catalog: .builtIn)) { error in
            XCTAssertEqual("\(error)", "--device 'edu,bogus': 'bogus' is not key=value")
        }
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
