import Foundation
import QPP
import XCTest

private func addOne(_ x: Int32) -> Int32 { x + 1 }

/// Counts calls through udata (an UnsafeMutablePointer<Int> owned by the test).
private let countCall: QPPCallbackFunction = { _, udata in
    udata!.assumingMemoryBound(to: Int.self).pointee += 1
}

private let otherCall: QPPCallbackFunction = { _, _ in }

/// Thread-safe counters for the concurrency test (two functions, so unregistering one never
/// touches the other).
private let permanentCall: QPPCallbackFunction = { _, udata in
    let counter = Unmanaged<Counter>.fromOpaque(udata!).takeUnretainedValue()
    counter.lock.lock()
    counter.value += 1
    counter.lock.unlock()
}

private let atomicCall: QPPCallbackFunction = { _, udata in
    let counter = Unmanaged<Counter>.fromOpaque(udata!).takeUnretainedValue()
    counter.lock.lock()
    counter.value += 1
    counter.lock.unlock()
}

private final class Counter: @unchecked Sendable {
    let lock = NSLock()
    var value = 0
}

final class QPPRegistryTests: XCTestCase {
    private var registry: QPPRegistry!
    private let function = unsafeBitCast(addOne as @convention(c) (Int32) -> Int32, to: UnsafeRawPointer.self)

    override func setUp() {
        registry = QPPRegistry()
        registry.declare(plugin: "srv", uses: [])
        registry.declare(plugin: "client", uses: ["srv"])
    }

    func testAnImportWithTheExportedSignatureReturnsTheFunction() throws {
        try registry.export(plugin: "srv", name: "do_add", function: function, signature: "int(int)")
        let found = try registry.importFunction(by: "client", from: "srv", name: "do_add", signature: "int(int)")
        let call = unsafeBitCast(found, to: (@convention(c) (Int32) -> Int32).self)
        XCTAssertEqual(call(41), 42)
    }

    func testAnImportWithAnotherSignatureIsRefused() throws {
        try registry.export(plugin: "srv", name: "do_add", function: function, signature: "int(int)")
        XCTAssertThrowsError(try registry.importFunction(by: "client", from: "srv", name: "do_add", signature: "int(int, int)")) { error in
            XCTAssertEqual("\(error)", "plugin 'client' imports 'srv.do_add' as 'int(int, int)', but 'srv' exports it as 'int(int)'")
        }
    }

    func testAnImportOfAFunctionNotExportedIsRefused() {
        XCTAssertThrowsError(try registry.importFunction(by: "client", from: "srv", name: "nope", signature: nil)) { error in
            XCTAssertEqual("\(error)", "plugin 'client' imports 'srv.nope', which 'srv' does not export")
        }
    }

    func testAnImportFromAPluginNotInUsesIsRefused() throws {
        try registry.export(plugin: "client", name: "f", function: function, signature: "int(int)")
        XCTAssertThrowsError(try registry.importFunction(by: "srv", from: "client", name: "f", signature: nil)) { error in
            XCTAssertEqual("\(error)", "plugin 'srv' reaches 'client.f' but does not list 'client' in its uses")
        }
    }

    func testExportingANameTwiceIsRefused() throws {
        try registry.export(plugin: "srv", name: "do_add", function: function, signature: "int(int)")
        XCTAssertThrowsError(try registry.export(plugin: "srv", name: "do_add", function: function, signature: "int(int)")) { error in
            XCTAssertEqual("\(error)", "plugin 'srv' exports 'do_add' twice")
        }
    }

    func testRunCallsEveryRegistrationWithItsOwnUdata() throws {
        let callback = try XCTUnwrap(registry.createCallback(plugin: "srv", name: "on_tick"))
        var first = 0, second = 0
        try registry.callback(for: "client", target: "srv", name: "on_tick").register(plugin: "client", function: countCall, udata: &first)
        try registry.callback(for: "client", target: "srv", name: "on_tick").register(plugin: "client", function: countCall, udata: &second)
        XCTAssertEqual(callback.run(evdata: nil), 2)
        XCTAssertEqual([first, second], [1, 1])
    }

    func testUnregisterReportsWhetherItFoundTheFunction() throws {
        let callback = try XCTUnwrap(registry.createCallback(plugin: "srv", name: "on_tick"))
        callback.register(plugin: "client", function: countCall, udata: nil)
        XCTAssertFalse(callback.unregister(plugin: "client", function: otherCall))
        XCTAssertTrue(callback.unregister(plugin: "client", function: countCall))
        XCTAssertFalse(callback.unregister(plugin: "client", function: countCall))
        XCTAssertEqual(callback.run(evdata: nil), 0)
    }

    func testCreatingACallbackTwiceFails() {
        XCTAssertNotNil(registry.createCallback(plugin: "srv", name: "on_tick"))
        XCTAssertNil(registry.createCallback(plugin: "srv", name: "on_tick"))
    }

    func testRegisteringOnAMissingCallbackIsRefused() {
        XCTAssertThrowsError(try registry.callback(for: "client", target: "srv", name: "on_nothing")) { error in
            XCTAssertEqual("\(error)", "plugin 'client' registers on 'srv.on_nothing', which 'srv' has not created")
        }
    }

    /// One thread runs the callback in a loop while another registers and unregisters: every
    /// run sees a whole list (the permanent registration always runs) and nothing crashes.
    func testRegistrationIsSafeWhileAnotherThreadRunsTheCallback() throws {
        let callback = try XCTUnwrap(registry.createCallback(plugin: "srv", name: "on_tick"))
        let permanent = Counter(), transient = Counter()
        callback.register(plugin: "client", function: permanentCall, udata: Unmanaged.passUnretained(permanent).toOpaque())
        let runs = 20_000
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            for _ in 0..<runs { callback.run(evdata: nil) }
            done.signal()
        }
        var unregistered = 0
        for _ in 0..<5_000 {
            callback.register(plugin: "client", function: atomicCall, udata: Unmanaged.passUnretained(transient).toOpaque())
            if callback.unregister(plugin: "client", function: atomicCall) { unregistered += 1 }
        }
        done.wait()
        XCTAssertEqual(unregistered, 5_000)
        XCTAssertEqual(callback.count, 1)
        XCTAssertEqual(permanent.value, runs, "every run saw the permanent registration")
        XCTAssertLessThanOrEqual(transient.value, runs)
    }
}
