import XCTest
@testable import Machine

final class BoardNumberTests: XCTestCase {
    private func size(_ text: String) -> Result<UInt64, BoardNumber.Problem> {
        BoardNumber.parse(text, allowSuffix: true)
    }

    func testDecimalHexBinaryAndSeparators() {
        XCTAssertEqual(size("4096"), .success(4096))
        XCTAssertEqual(size("0x8000_0000"), .success(0x8000_0000))
        XCTAssertEqual(size("0X1F"), .success(0x1f))
        XCTAssertEqual(size("0b101"), .success(5))
    }

    func testSuffixesAreBinaryMultiples() {
        XCTAssertEqual(size("64K"), .success(64 << 10))
        XCTAssertEqual(size("128M"), .success(128 << 20))
        XCTAssertEqual(size("2GiB"), .success(2 << 30))
        XCTAssertEqual(size("1TB"), .success(1 << 40))
        XCTAssertEqual(size("0x10M"), .success(16 << 20))
    }

    /// What Foundation's `trimmingCharacters(in: .whitespaces)` trimmed: tabs and every space
    /// separator (Zs) at either end, never a newline; underscores go wherever they are.
    func testSpacesAndTabsAtTheEndsAndUnderscoresAnywhereAreIgnored() {
        XCTAssertEqual(size(" \t64M\t "), .success(64 << 20))
        XCTAssertEqual(size("\u{00A0}64M\u{2003}"), .success(64 << 20))
        XCTAssertEqual(size("_6_4_M_"), .success(64 << 20))
        XCTAssertEqual(size(" - 4K"), .failure(.negative))
        XCTAssertEqual(size("64 M"), .failure(.notANumber))
        XCTAssertEqual(size("64M\n"), .failure(.notANumber))
        XCTAssertEqual(size(" \t "), .failure(.notANumber))
    }

    /// Suffixes in either case; a letter whose upper case is two letters (ß → SS) is no suffix.
    func testSuffixCaseAndLettersThatAreNoSuffix() {
        XCTAssertEqual(size("64m"), .success(64 << 20))
        XCTAssertEqual(size("2gib"), .failure(.notANumber))
        XCTAssertEqual(size("1ß"), .failure(.notANumber))
        XCTAssertEqual(size("1\u{212A}"), .success(1 << 10))  // KELVIN SIGN is canonically "K"
    }

    func testSuffixNotAllowedForPlainIntegers() {
        XCTAssertEqual(BoardNumber.parse("10M", allowSuffix: false), .failure(.notANumber))
    }

    func testProblems() {
        XCTAssertEqual(size("-4K"), .failure(.negative))
        XCTAssertEqual(size("-x"), .failure(.notANumber))
        XCTAssertEqual(size("M"), .failure(.notANumber))
        XCTAssertEqual(size("0x"), .failure(.notANumber))
        XCTAssertEqual(size("12a"), .failure(.notANumber))
        XCTAssertEqual(size("18446744073709551616"), .failure(.tooLarge))
        XCTAssertEqual(size("16777216T"), .failure(.tooLarge))
        XCTAssertEqual(size("18446744073709551615"), .success(UInt64.max))
    }
}
