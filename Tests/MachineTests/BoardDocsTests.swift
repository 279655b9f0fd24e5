import XCTest
@testable import Machine

/// docs/boards.md's examples are part of the test suite: `yaml board-example` blocks must load,
/// `yaml board-error-example` blocks must fail with exactly the `text` block after them.
final class BoardDocsTests: XCTestCase {
    private struct Block {
        let info: String
        let body: String
        let line: Int
    }

    private func blocks() throws -> [Block] {
        // Tests/MachineTests/BoardDocsTests.swift → the repository root is two folders up.
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/boards.md")
        let lines = try String(contentsOf: docs, encoding: .utf8).components(separatedBy: "\n")
        var result: [Block] = []
        var index = 0
        while index < lines.count {
            if lines[index].hasPrefix("```"), lines[index].count > 3 {
                let info = String(lines[index].dropFirst(3))
                let start = index + 1
                index += 1
                while index < lines.count, lines[index] != "```" { index += 1 }
                result.append(Block(info: info, body: lines[start..<index].joined(separator: "\n") + "\n", line: start + 1))
            }
            index += 1
        }
        return result
    }

    func testEveryBoardExampleLoads() throws {
        let examples = try blocks().filter { $0.info == "yaml board-example" }

        XCTAssertGreaterThanOrEqual(examples.count, 3)
        for example in examples {
            XCTAssertNoThrow(try BoardLoader.load(yaml: example.body, path: "example.yaml"), "docs/boards.md:\(example.line)")
        }
    }

    func testEveryErrorExampleFailsWithItsDocumentedText() throws {
        let all = try blocks()
        let examples = all.enumerated().filter { $0.element.info == "yaml board-error-example" }

        XCTAssertGreaterThanOrEqual(examples.count, 1)
        for (index, example) in examples {
            let expected = try XCTUnwrap(all.dropFirst(index + 1).first, "docs/boards.md:\(example.line): no text block follows")
            XCTAssertEqual(expected.info, "text", "docs/boards.md:\(expected.line)")
            XCTAssertThrowsError(try BoardLoader.load(yaml: example.body, path: "example.yaml")) { error in
                XCTAssertEqual("\(error)\n", expected.body, "docs/boards.md:\(example.line)")
            }
        }
    }
}

/// docs/boards.md's "Every type" table is the catalog's `referenceTable`, word for word: adding
/// a kind (or changing its spec) without the document fails here, with the table to paste.
final class BoardDocsCatalogTests: XCTestCase {
    func testTheTypeTableIsTheCatalog() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/boards.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        let begin = try XCTUnwrap(text.range(of: "<!-- catalog: begin -->\n"), "docs/boards.md has no catalog table")
        let end = try XCTUnwrap(text.range(of: "<!-- catalog: end -->", range: begin.upperBound..<text.endIndex))

        let table = String(text[begin.upperBound..<end.lowerBound])

        XCTAssertEqual(table, DeviceTypeCatalog.builtIn.referenceTable,
                       "docs/boards.md's type table differs from the catalog; the catalog's:\n\(DeviceTypeCatalog.builtIn.referenceTable)")
    }
}
