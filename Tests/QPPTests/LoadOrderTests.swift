import QPP
import XCTest

final class LoadOrderTests: XCTestCase {
    private func names(_ nodes: [LoadOrder.Node]) throws -> [String] {
        try LoadOrder.resolve(nodes).map { nodes[$0].name }
    }

    func testAPluginComesAfterThePluginsItUses() throws {
        let order = try names([.init(name: "client", uses: ["srv"]), .init(name: "srv", uses: [])])
        XCTAssertEqual(order, ["srv", "client"])
    }

    func testGivenOrderDoesNotMatterForDependencies() throws {
        let nodes: [LoadOrder.Node] = [.init(name: "a", uses: ["b", "c"]), .init(name: "b", uses: ["c"]), .init(name: "c", uses: [])]
        XCTAssertEqual(try names(nodes), ["c", "b", "a"])
        XCTAssertEqual(try names(nodes.reversed()), ["c", "b", "a"])
    }

    func testIndependentPluginsKeepTheirGivenOrder() throws {
        XCTAssertEqual(try names([.init(name: "x", uses: []), .init(name: "w", uses: [])]), ["x", "w"])
    }

    func testAMissingDependencyNamesBothPlugins() {
        XCTAssertThrowsError(try LoadOrder.resolve([.init(name: "qpp_client", uses: ["qpp_srv"])])) { error in
            XCTAssertEqual("\(error)", "plugin 'qpp_client' uses 'qpp_srv', which is not loaded")
        }
    }

    func testACycleNamesEveryPluginOnIt() {
        let nodes: [LoadOrder.Node] = [.init(name: "a", uses: ["b"]), .init(name: "b", uses: ["c"]), .init(name: "c", uses: ["a"])]
        XCTAssertThrowsError(try LoadOrder.resolve(nodes)) { error in
            XCTAssertEqual("\(error)", "plugins use each other in a cycle: 'a' -> 'b' -> 'c' -> 'a'")
        }
    }

    func testAPluginUsingItselfIsACycle() {
        XCTAssertThrowsError(try LoadOrder.resolve([.init(name: "a", uses: ["a"])])) { error in
            XCTAssertEqual("\(error)", "plugins use each other in a cycle: 'a' -> 'a'")
        }
    }
}
