import CHartState
import IRQ
import Memory
import XCTest
@testable import CPU

/// A hart's architectural state saved mid-program and restored into another hart (docs/snapshots.md):
/// the restored hart, under either engine, finishes the program exactly as the original does.
final class HartSnapshotTests: XCTestCase {
    private let program = """
        .option arch, +d
        li t6, 1 << 13
        csrs mstatus, t6          // FS on
        li t0, 0
        li t1, 3000
        li t2, 3
        fcvt.d.l f1, t2
        fcvt.d.l f2, zero
    loop:
        addi t0, t0, 1
        fadd.d f2, f2, f1
        fdiv.d f3, f2, f1
        csrw mscratch, t0
        mul t3, t0, t0
        add t4, t4, t3
        blt t0, t1, loop
        wfi
    """

    private func snapshot(_ hart: Hart) -> [UInt8] {
        var writer = DeviceStateWriter()
        hart.saveArchitecturalState(to: &writer)
        return writer.bytes
    }

    private func finishRestored(accelerator: Accelerator) throws {
        let original = try TestMachine(program)
        XCTAssertEqual(original.hart.run(budget: 5_000), .budgetExhausted)
        let saved = snapshot(original.hart)
        let restored = try TestMachine(program)
        restored.hart.accelerator = accelerator
        _ = restored.hart.run(budget: 100)   // some translation state to throw away

        var reader = DeviceStateReader(saved)
        try restored.hart.restoreArchitecturalState(from: &reader)
        XCTAssertTrue(reader.isAtEnd)
        original.runToWFI()
        // The restore asks the run loop to look at interrupts first (exitRequest), as a device does.
        XCTAssertEqual(restored.hart.run(budget: 100_000), .exitRequested)
        restored.runToWFI()

        for index in 0..<32 { XCTAssertEqual(restored.x(index), original.x(index), "x\(index)") }
        XCTAssertEqual(restored.x(Reg.t0), 3000)
        XCTAssertEqual(withUnsafeBytes(of: restored.s.f) { Array($0) }, withUnsafeBytes(of: original.s.f) { Array($0) })
        XCTAssertEqual(restored.pc, original.pc)
        XCTAssertEqual(restored.s.mscratch, 3000)
        XCTAssertEqual(restored.s.instret, original.s.instret, "minstret counts on from the saved value")
        XCTAssertEqual(restored.s.mstatus, original.s.mstatus)
    }

    func testARestoredHartFinishesTheProgramAsTheOriginalUnderTheInterpreter() throws {
        try finishRestored(accelerator: .interpreter)
    }

    func testARestoredHartFinishesTheProgramAsTheOriginalUnderTheJIT() throws {
        try finishRestored(accelerator: .jit)
    }

    func testAnotherHartsStateIsRefused() throws {
        let saved = snapshot(TestMachine().hart)
        let other = Hart(hartID: 1, bus: AddressSpace(), timebase: Timebase())
        var reader = DeviceStateReader(saved)
        XCTAssertThrowsError(try other.restoreArchitecturalState(from: &reader)) { error in
            XCTAssertEqual("\(error)", "saved device state does not fit: hart 0 saved where hart 1 is")
        }
    }

    func testAPrivilegeLevelThatDoesNotExistIsRefused() throws {
        let machine = TestMachine()
        var bytes = snapshot(machine.hart)
        // Field order (Hart+Snapshot.swift): hartid, count, x[32], f[32], pc, fflags, frm, privilege.
        bytes[8 * (2 + 32 + 32 + 3)] = 2
        var reader = DeviceStateReader(bytes)
        XCTAssertThrowsError(try machine.hart.restoreArchitecturalState(from: &reader)) { error in
            XCTAssertEqual("\(error)", "saved device state does not fit: privilege level 2 does not exist")
        }
        XCTAssertEqual(machine.s.privilege, 3, "left in M-mode")
    }
}
