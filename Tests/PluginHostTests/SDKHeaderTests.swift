import Foundation
import XCTest

/// The SDK headers compile cleanly as strict C11 and as C++17 (plugins in either language).
final class SDKHeaderTests: XCTestCase {
    private func compile(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let source = PluginBuilder.directory.appendingPathComponent("sdk-\(UUID().uuidString).c").path
        try "#include <backplane/backplane.h>\nint bp_sdk_probe(void) { return BP_ABI_MAJOR; }\n"
            .write(toFile: source, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments + ["-fsyntax-only", "-Wall", "-Wextra", "-Werror", "-I", PluginBuilder.sdk, source]
        let pipe = Pipe()
        process.standardError = pipe
        try process.run()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
    }

    func testHeadersCompileAsPedanticC11() throws {
        let result = try compile(["cc", "-std=c11", "-pedantic"])
        XCTAssertEqual(result.status, 0, result.output)
    }

    func testHeadersCompileAsCPlusPlus17() throws {
        let result = try compile(["c++", "-x", "c++", "-std=c++17"])
        XCTAssertEqual(result.status, 0, result.output)
    }
}
