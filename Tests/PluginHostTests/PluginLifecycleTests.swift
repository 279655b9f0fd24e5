import PluginHost
import QPP
import XCTest

final class PluginLifecycleTests: XCTestCase {
    func testPluginsInstallInDependencyOrderAndExitInReverse() throws {
        let log = PluginBuilder.directory.appendingPathComponent("order-\(UUID().uuidString).log").path
        let base = try PluginBuilder.testPlugin("base")
        let middle = try PluginBuilder.testPlugin("middle", uses: ["base"])
        let top = try PluginBuilder.testPlugin("top", uses: ["middle", "base"])
        let host = PluginHost()
        try host.load([top, middle, base].map { PluginRequest(path: $0, arguments: [("log", log)]) })
        XCTAssertEqual(host.plugins.map(\.name), ["base", "middle", "top"])
        host.shutdown()
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines, ["install base", "install middle", "install top", "exit top", "exit middle", "exit base"])
    }

    func testAFailedInstallExitsThePluginsInstalledBeforeIt() throws {
        let log = PluginBuilder.directory.appendingPathComponent("fail-\(UUID().uuidString).log").path
        let base = try PluginBuilder.testPlugin("base")
        let failing = try PluginBuilder.testPlugin("failing", uses: ["base"], extra: ["FAIL_MESSAGE=\"no\""])
        let host = PluginHost()
        XCTAssertThrowsError(try host.load([failing, base].map { PluginRequest(path: $0, arguments: [("log", log)]) }))
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines, ["install base", "install failing", "exit failing", "exit base"])
    }

    func testArgumentsParseIntoKeyValuePairs() throws {
        let request = try PluginRequest.parse("lib/a.so,greeting=hello,expr=a=b")
        XCTAssertEqual(request, PluginRequest(path: "lib/a.so", arguments: [("greeting", "hello"), ("expr", "a=b")]))
    }

    /// The seed's qpp_srv/qpp_client pair, given client first: the host installs the server
    /// first, the client's imports resolve, and its function runs when the server's callback does.
    func testQPPClientRunsWhenTheServerFiresItsCallback() throws {
        let host = PluginHost()
        try host.load([PluginRequest(path: try PluginBuilder.example("qpp_client")),
                       PluginRequest(path: try PluginBuilder.example("qpp_srv"))])
        XCTAssertEqual(host.plugins.map(\.name), ["qpp_srv", "qpp_client"])
        host.qpp.declare(plugin: "tester", uses: ["qpp_srv"])
        let add = try host.qpp.importFunction(by: "tester", from: "qpp_srv", name: "do_add", signature: "int(int)")
        XCTAssertEqual(unsafeBitCast(add, to: (@convention(c) (Int32) -> Int32).self)(1), 2)
        let onTick = try host.qpp.callback(for: "tester", target: "qpp_srv", name: "on_tick")
        XCTAssertEqual(onTick.count, 1, "qpp_client registered on on_tick")
        // The event qpp_srv passes: { uint64_t now_ns; uint32_t ticks; }.
        var event = (UInt64(0), UInt32(7))
        XCTAssertEqual(withUnsafeMutablePointer(to: &event) { onTick.run(evdata: UnsafeMutableRawPointer($0)) }, 1)
        host.shutdown()
        XCTAssertEqual(onTick.count, 0, "qpp_client unregistered at exit")
    }
}

/// One library named twice (a board's `plugins:` and `--plugin`) is one plugin.
final class PluginRequestMergeTests: XCTestCase {
    func testOneLibraryUnderTwoSpellingsLoadsOnce() throws {
        let path = try PluginBuilder.testPlugin("twice")
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let host = PluginHost()
        defer { host.shutdown() }
        try host.load([PluginRequest(path: path), PluginRequest(path: folder + "/./libtwice.so", arguments: [("greeting", "hi")])])
        XCTAssertEqual(host.plugins.map(\.name), ["twice"])
        XCTAssertEqual(host.plugins.first?.arguments.map(\.value), ["hi"], "the request with arguments wins")
    }

    func testOneLibraryWithTwoDifferentArgumentListsIsStillRefused() throws {
        let path = try PluginBuilder.testPlugin("twice2")
        let host = PluginHost()
        XCTAssertThrowsError(try host.load([PluginRequest(path: path, arguments: [("a", "1")]), PluginRequest(path: path, arguments: [("a", "2")])])) { error in
            XCTAssertEqual("\(error)", "plugins '\(path)' and '\(path)' are both named 'twice2'")
        }
    }
}
