import Foundation
import XCTest
@testable import CPU

/// Interpreter speed on an integer loop. Skipped unless BACKPLANE_BENCHMARK=1; meaningful only
/// in a release build:
///   BACKPLANE_BENCHMARK=1 swift test -c release -Xswiftc -enable-testing --filter BenchmarkTests
final class BenchmarkTests: XCTestCase {
    func testIntegerLoopSpeed() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["BACKPLANE_BENCHMARK"] == "1",
                          "set BACKPLANE_BENCHMARK=1 (release build) to measure")
        let m = try TestMachine("""
            la s0, buffer
            1: addi a0, a0, 1
            xor a1, a1, a0
            add a2, a2, a1
            andi t1, a0, 0xf8
            add t1, t1, s0
            ld t2, 0(t1)
            add t2, t2, a2
            sd t2, 0(t1)
            j 1b
            .align 12              // data on its own page: a page holding code takes the slow store path
            buffer: .space 256
            """)
        let budget = 300_000_000
        let start = DispatchTime.now().uptimeNanoseconds
        XCTAssertEqual(m.hart.run(budget: budget), .budgetExhausted)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let mips = Double(m.hart.state.pointee.instret) / seconds / 1e6
        print("integer loop: \(m.hart.state.pointee.instret) instructions in \(seconds) s = \(Int(mips)) M instructions/s")
        XCTAssertGreaterThanOrEqual(m.hart.state.pointee.instret, UInt64(budget - BlockCache.maxLength))
    }

    /// The worst case for decoded-code invalidation: data written on the page of the loop.
    func testLoopStoringIntoItsOwnCodePage() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["BACKPLANE_BENCHMARK"] == "1",
                          "set BACKPLANE_BENCHMARK=1 (release build) to measure")
        let m = try TestMachine("""
            la s0, buffer
            1: addi a0, a0, 1
            sd a0, 0(s0)
            j 1b
            .align 3
            buffer: .dword 0
            """)
        let budget = 3_000_000
        let start = DispatchTime.now().uptimeNanoseconds
        XCTAssertEqual(m.hart.run(budget: budget), .budgetExhausted)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        print("store into code page: \(Int(Double(m.hart.state.pointee.instret) / seconds / 1e6)) M instructions/s")
    }
}
