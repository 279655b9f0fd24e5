import Foundation
import IRQ
import TestSupport
import XCTest

/// Builds plugins for the tests with the system C compiler, as a third-party plugin author
/// would (`cc -shared -fPIC -I Plugins/include`), into a per-process temporary folder.
enum PluginBuilder {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let sdk = packageRoot.appendingPathComponent("Plugins/include").path
    static let directory: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("plugin-tests-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    /// Compiles `sources` into `lib<name>.so` with `defines` (NAME or NAME=VALUE); returns its path.
    static func build(_ name: String, sources: [String], defines: [String] = [], include: [String] = [sdk]) throws -> String {
        let output = directory.appendingPathComponent("lib\(name).so").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["cc", "-std=c11", "-Wall", "-Werror", "-shared", "-fPIC", "-o", output]
            + include.map { "-I\($0)" } + defines.map { "-D\($0)" } + sources
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        process.waitUntilExit()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard process.terminationStatus == 0 else { throw XCTSkip("cc failed for \(name): \(text)") }
        return output
    }

    /// An example plugin from Plugins/examples.
    static func example(_ name: String) throws -> String {
        let folder = packageRoot.appendingPathComponent("Plugins/examples/\(name)")
        return try build(name, sources: [folder.appendingPathComponent("\(name).c").path],
                         include: [sdk, packageRoot.appendingPathComponent("Plugins/examples/qpp_srv/include").path])
    }

    /// The test plugin template (Tests/PluginHostTests/Fixtures/test_plugin.c) as plugin `name`.
    static func testPlugin(_ name: String, uses: [String] = [], extra: [String] = []) throws -> String {
        let usesList = uses.map { "\"\($0)\"," }.joined()
        return try build(name, sources: [packageRoot.appendingPathComponent("Tests/PluginHostTests/Fixtures/test_plugin.c").path],
                         defines: ["PLUGIN_NAME=\"\(name)\"", "USES=\(usesList)"] + extra)
    }
}

