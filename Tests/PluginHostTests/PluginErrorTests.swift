import PluginHost
import XCTest

/// Every way loading can fail stops with one message; these are the texts, word for word.
final class PluginErrorTests: XCTestCase {
    private func loadError(_ requests: [PluginRequest]) -> String? {
        let host = PluginHost()
        do {
            try host.load(requests)
            return nil
        } catch {
            return error.description
        }
    }

    func testAMissingFileIsRefused() {
        XCTAssertEqual(loadError([PluginRequest(path: "/nonexistent/libnothing.so")]),
                       "plugin '/nonexistent/libnothing.so': no such file")
    }

    func testAFileThatIsNotASharedLibraryIsRefused() throws {
        let path = PluginBuilder.directory.appendingPathComponent("text.so").path
        try String(repeating: "not an ELF file; ", count: 16).write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertEqual(loadError([PluginRequest(path: path)]), "plugin '\(path)': cannot be loaded: \(path): invalid ELF header")
    }

    func testALibraryWithoutTheDescriptorIsNotAPlugin() throws {
        let path = try PluginBuilder.testPlugin("other", extra: ["NO_DESCRIPTOR"])
        XCTAssertEqual(loadError([PluginRequest(path: path)]),
                       "plugin '\(path)': not a Backplane plugin (it does not export 'backplane_plugin_descriptor')")
    }

    func testAPluginForANewerMinorVersionIsRefused() throws {
        let path = try PluginBuilder.testPlugin("future", extra: ["DESCRIPTOR_MAJOR=1", "DESCRIPTOR_MINOR=5"])
        XCTAssertEqual(loadError([PluginRequest(path: path)]),
                       "plugin 'future' (\(path)) was built for plugin ABI 1.5, but this backplane provides ABI 1.4; it loads plugins built for 1.0 to 1.4")
    }

    func testAPluginForAnotherMajorVersionIsRefused() throws {
        let path = try PluginBuilder.testPlugin("major", extra: ["DESCRIPTOR_MAJOR=2", "DESCRIPTOR_MINOR=0"])
        XCTAssertEqual(loadError([PluginRequest(path: path)]),
                       "plugin 'major' (\(path)) was built for plugin ABI 2.0, but this backplane provides ABI 1.4; it loads plugins built for 1.0 to 1.4")
    }

    func testTwoPluginsWithOneNameAreRefused() throws {
        let first = try PluginBuilder.testPlugin("twin")
        let second = PluginBuilder.directory.appendingPathComponent("libtwin-copy.so").path
        try? FileManager.default.removeItem(atPath: second)
        try FileManager.default.copyItem(atPath: first, toPath: second)
        XCTAssertEqual(loadError([PluginRequest(path: first), PluginRequest(path: second)]),
                       "plugins '\(first)' and '\(second)' are both named 'twin'")
    }

    func testAMissingDependencyIsRefused() throws {
        let path = try PluginBuilder.testPlugin("lonely", uses: ["absent"])
        XCTAssertEqual(loadError([PluginRequest(path: path)]), "plugin 'lonely' uses 'absent', which is not loaded")
    }

    func testACycleIsRefused() throws {
        let a = try PluginBuilder.testPlugin("cyc_a", uses: ["cyc_b"])
        let b = try PluginBuilder.testPlugin("cyc_b", uses: ["cyc_a"])
        XCTAssertEqual(loadError([PluginRequest(path: a), PluginRequest(path: b)]),
                       "plugins use each other in a cycle: 'cyc_a' -> 'cyc_b' -> 'cyc_a'")
    }

    func testAFailingInstallReportsThePluginsMessage() throws {
        let path = try PluginBuilder.testPlugin("grumpy", extra: ["FAIL_MESSAGE=\"no licence key given\""])
        XCTAssertEqual(loadError([PluginRequest(path: path)]), "plugin 'grumpy' failed to install: no licence key given")
    }

    func testAFailingInstallWithoutMessageReportsItsResult() throws {
        let path = try PluginBuilder.testPlugin("quiet", extra: ["FAIL_SILENTLY"])
        XCTAssertEqual(loadError([PluginRequest(path: path)]), "plugin 'quiet' failed to install: install returned 7")
    }

    func testAnImportWithTheWrongSignatureRefusesTheImporter() throws {
        let server = try PluginBuilder.testPlugin("srv", extra: ["EXPORT_ADD"])
        let client = try PluginBuilder.testPlugin("cli", uses: ["srv"], extra: ["IMPORT_SIGNATURE=\"int(int, int)\""])
        XCTAssertEqual(loadError([PluginRequest(path: client), PluginRequest(path: server)]),
                       "plugin 'cli' imports 'srv.do_add' as 'int(int, int)', but 'srv' exports it as 'int(int)'")
    }

    func testAPluginArgumentWithoutEqualsIsRefused() {
        XCTAssertThrowsError(try PluginRequest.parse("libx.so,verbose")) { error in
            XCTAssertEqual("\(error)", "--plugin 'libx.so,verbose': 'verbose' is not key=value")
        }
    }
}
