import IRQ
import Memory
import XCTest
@testable import CPU

/// A device whose interrupt line follows what the guest writes to it (1 raises, 0 lowers), like a
/// UART whose line stays high until the driver drains it.
private final class LevelDevice: MMIODevice {
    var line: IRQLine?
    var implementedSizes: AccessSizes { .word }
    func read(offset: UInt64, size: Int) -> UInt64 { 0 }
    func write(offset: UInt64, size: Int, value: UInt64) { line?.set(value != 0) }
}

/// The whole AIA path on the interpreter, as Linux 6.10+ drives it: a level-high source
/// delegated to the S-level APLIC domain, forwarded by MSI to the hart's S-level IMSIC file,
/// taken as a supervisor external interrupt, claimed through `stopei`, and re-raised with
/// `setipnum_le` after handling (RISC-V AIA 1.0 §4.9.2): it comes back while the device still
/// asserts its line and not once the handler has quietened it.
final class AIAInterruptFlowTests: XCTestCase {
    func testLevelInterruptIsReRaisedWhileAssertedAndNotAfter() throws {
        let m = try TestMachine("""
            li t0, 0x0c000028           // root sourcecfg[10] = D, child 0
            li t1, 1 << 10
            sw t1, 0(t0)
            li t0, 0x0c001bc8           // smsiaddrcfg = S-level IMSIC page
            li t1, 0x28000
            sw t1, 0(t0)
            li t1, 0x70                 // S file: eidelivery = 1
            csrw 0x150, t1
            li t1, 1
            csrw 0x151, t1
            li t1, 0xC0                 // S file: eie0 enables identity 33
            csrw 0x150, t1
            li t1, 1
            slli t1, t1, 33
            csrw 0x151, t1
            li t0, 0x0d000028           // child sourcecfg[10] = level high
            li t1, 6
            sw t1, 0(t0)
            li t0, 0x0d003028           // child target[10] = hart 0, EIID 33
            li t1, 33
            sw t1, 0(t0)
            li t0, 0x0d001edc           // child setienum = 10
            li t1, 10
            sw t1, 0(t0)
            li t0, 0x0d000000           // child domaincfg.IE
            li t1, 0x100
            sw t1, 0(t0)
            la t1, shandler
            csrw stvec, t1
            li t1, 1 << 9
            csrw mideleg, t1
            csrw mie, t1
            pmp_allow_all
            enter_mode 1, super
            super: csrsi sstatus, 2
            wait: wfi
            j wait
            .align 2
            shandler: csrrw a0, 0x15C, zero   // claim
            addi s0, s0, 1
            li t0, 2
            bne s0, t0, still_asserted
            li t0, 0x10000000           // second time: the driver quietens the device
            sw zero, 0(t0)
            still_asserted: li t0, 0x0d002000
            li t1, 10
            sw t1, 0(t0)                // setipnum_le = 10: re-raise if still asserted
            sret
            """)
        let harts: [any HartInterruptInputs] = [m.hart]
        let imsic = try IMSIC(harts: harts, level: .supervisor)
        let root = try APLIC(level: .machine, deliveryMode: .msi, harts: harts, bus: m.bus)
        let child = try APLIC(level: .supervisor, deliveryMode: .msi, harts: harts, bus: m.bus)
        try root.addChild(child)
        let device = LevelDevice()
        device.line = IRQLine(controller: root, source: 10)
        try m.bus.mapMMIO(name: "aplic-m", base: 0x0c00_0000, size: 0x8000, device: root)
        try m.bus.mapMMIO(name: "aplic-s", base: 0x0d00_0000, size: 0x8000, device: child)
        try m.bus.mapMMIO(name: "imsic-s", base: 0x2800_0000, size: 0x1000, device: imsic)
        try m.bus.mapMMIO(name: "device", base: 0x1000_0000, size: 0x1000, device: device)
        m.hart.interruptFile = IMSICHart(machine: nil, supervisor: imsic.files[0])
        run(m)
        XCTAssertEqual(m.x(Reg.s0), 0, "no interrupt before the device asserts its line")

        device.line?.raise()
        run(m)

        XCTAssertEqual(m.x(Reg.s0), 2, "taken once, re-raised once while still asserted, then quiet")
        XCTAssertEqual(m.x(Reg.a0), 33 << 16 | 33)
        XCTAssertEqual(m.s.scause, 1 << 63 | 9)
        XCTAssertFalse(imsic.files[0].isPending(identity: 33))
        XCTAssertFalse(child.isPending(source: 10))
    }

    /// Runs until the hart sleeps in WFI (pin changes make `run` return early; the machine would
    /// simply call it again).
    private func run(_ m: TestMachine, file: StaticString = #filePath, line: UInt = #line) {
        var stop = m.hart.run(budget: 100_000)
        for _ in 0..<20 where stop == .exitRequested { stop = m.hart.run(budget: 100_000) }
        XCTAssertEqual(stop, .waitingForInterrupt, "pc=0x\(String(m.pc, radix: 16))", file: file, line: line)
    }
}
