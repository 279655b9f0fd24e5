import IRQ
import Memory
import XCTest
@testable import CPU

/// A device that records writes and answers reads with a fixed pattern.
private final class RecordingDevice: MMIODevice {
    var writes: [(UInt64, Int, UInt64)] = []
    var implementedSizes: AccessSizes { .all }
    func read(offset: UInt64, size: Int) -> UInt64 { 0xA5A5_A5A5_A5A5_A5A5 & (size == 8 ? ~0 : (1 << UInt64(size * 8)) - 1) }
    func write(offset: UInt64, size: Int, value: UInt64) { writes.append((offset, size, value)) }
}

final class MemoryAccessTests: XCTestCase {
    func testPMPDeniesSupervisorLoadOutsideAllowedRegion() throws {
        // Entry 0: NAPOT 0x80000000..+1MiB RWX; entry 1: TOR up to 0x80200000 with no permissions.
        let m = try TestMachine("""
            la t0, handler
            csrw mtvec, t0
            li t0, (0x80000000 >> 2) | ((0x100000 >> 3) - 1)
            csrw pmpaddr0, t0
            li t0, 0x80200000 >> 2
            csrw pmpaddr1, t0
            li t0, 0x081f
            csrw pmpcfg0, t0
            enter_mode 1, supervisor
            supervisor:
            li t0, 0x80080000
            ld a0, 0(t0)
            li t0, 0x80180000
            ld a1, 0(t0)
            handler: wfi
            """)
        m.runToWFI()
        XCTAssertEqual(m.s.mcause, 5)
        XCTAssertEqual(m.s.mtval, 0x8018_0000)
    }

    func testWithoutMatchingPMPEntrySupervisorCannotFetch() throws {
        let m = try TestMachine("""
            la t0, handler
            csrw mtvec, t0
            enter_mode 1, supervisor
            supervisor: nop
            handler: wfi
            """)
        m.runToWFI()
        XCTAssertEqual(m.s.mcause, 1)
        XCTAssertEqual(m.s.privilege, 3)
    }

    func testLockedPMPEntryAppliesToMachineMode() throws {
        let m = try TestMachine("""
            la t0, handler
            csrw mtvec, t0
            li t0, 0x80100000 >> 2
            csrw pmpaddr0, t0
            li t0, 0x80180000 >> 2
            csrw pmpaddr1, t0
            li t0, 0x8d00          // entry 1: locked TOR, RX (no W) over [0x80100000, 0x80180000)
            csrw pmpcfg0, t0
            li t0, 0x80100000
            ld a0, 0(t0)
            sd a0, 0(t0)
            handler: wfi
            """)
        m.runToWFI()
        XCTAssertEqual(m.s.mcause, 7)
        XCTAssertEqual(m.s.mtval, 0x8010_0000)
    }

    func testLoadReservedStoreConditionalSucceedsOnce() throws {
        let m = try TestMachine("""
            la t0, data
            lr.d a0, (t0)
            addi a0, a0, 1
            sc.d a1, a0, (t0)
            sc.d a2, a0, (t0)
            ld a3, 0(t0)
            lr.w a4, (t0)
            sw zero, 0(t0)
            sc.w a5, a0, (t0)
            wfi
            .align 3
            data: .dword 0xffffffff
            """)
        m.runToWFI()
        XCTAssertEqual(m.x(Reg.a1), 0)
        XCTAssertEqual(m.x(Reg.a2), 1, "reservation is gone after an SC")
        XCTAssertEqual(m.x(Reg.a3), 0x1_0000_0000)
        XCTAssertEqual(m.x(Reg.a4), 0, "lr.w sign-extends the low word (0)")
        XCTAssertEqual(m.x(Reg.a5), 1, "a store to the reserved address breaks the reservation")
    }

    func testTrapClearsReservation() throws {
        let m = try TestMachine("""
            la t0, handler
            csrw mtvec, t0
            la t1, data
            lr.d a0, (t1)
            ecall
            handler: la t0, after
            csrw mepc, t0
            mret
            after: sc.d a1, a0, (t1)
            wfi
            .align 3
            data: .dword 0
            """)
        m.runToWFI()
        XCTAssertEqual(m.x(Reg.a1), 1)
    }

    func testAtomicsReturnOldValueAndWordResultsAreSignExtended() throws {
        let m = try TestMachine("""
            la t0, data
            li t1, 1
            amoadd.w a0, t1, (t0)         // 0x7fffffff + 1
            lw a1, 0(t0)
            li t1, -1
            amomaxu.w a2, t1, (t0)        // max(0x80000000, 0xffffffff) unsigned
            lwu a3, 0(t0)
            li t1, 5
            amomin.w a4, t1, (t0)         // min(-1, 5) signed = -1
            lw a5, 0(t0)
            addi t2, t0, 8
            li t1, 0x0f
            amoswap.d a6, t1, (t2)
            amoor.d a7, t1, (t2)
            li t1, 3
            amoand.d s2, t1, (t2)
            amoxor.d s3, t1, (t2)
            ld s4, 0(t2)
            li t1, -2
            amomax.d s5, t1, (t2)
            amominu.d s6, t1, (t2)
            ld s7, 0(t2)
            wfi
            .align 3
            data: .dword 0x7fffffff, 0x1234
            """)
        m.runToWFI()
        XCTAssertEqual(m.x(Reg.a0), 0x7FFF_FFFF)
        XCTAssertEqual(m.x(Reg.a1), 0xFFFF_FFFF_8000_0000)
        XCTAssertEqual(m.x(Reg.a2), 0xFFFF_FFFF_8000_0000)
        XCTAssertEqual(m.x(Reg.a3), 0xFFFF_FFFF)
        XCTAssertEqual(m.x(Reg.a4), ~0)
        XCTAssertEqual(m.x(Reg.a5), ~0)
        XCTAssertEqual(m.x(Reg.a6), 0x1234)
        XCTAssertEqual(m.x(Reg.a7), 0x0F)
        XCTAssertEqual(m.x(18), 0x0F)
        XCTAssertEqual(m.x(19), 0x03)
        XCTAssertEqual(m.x(20), 0)
        XCTAssertEqual(m.x(21), 0, "max(0, -2) = 0, old value 0")
        XCTAssertEqual(m.x(22), 0)
        XCTAssertEqual(m.x(23), 0, "minu(0, 2^64-2) = 0")
    }

    func testMisalignedAtomicRaisesStoreAddressMisaligned() throws {
        let m = try TestMachine("""
            la t0, handler
            csrw mtvec, t0
            la t1, handler
            addi t1, t1, 2
            amoadd.w a0, zero, (t1)
            handler: wfi
            """)
        m.runToWFI()
        XCTAssertEqual(m.s.mcause, 6)
        XCTAssertEqual(m.s.mtval & 3, 2)
    }

    func testMisalignedLoadReservedRaisesLoadAddressMisaligned() throws {
        let m = try TestMachine("""
            la t0, handler
            csrw mtvec, t0
            li t1, 0x80001001
            lr.d a0, (t1)
            handler: wfi
            """)
        m.runToWFI()
        XCTAssertEqual(m.s.mcause, 4)
        XCTAssertEqual(m.s.mtval, 0x8000_1001)
    }

    func testMisalignedAccessesAcrossAPageBoundaryAreEmulated() throws {
        let m = try TestMachine("""
            li t0, 0x80010ffd
            li t1, 0x0102030405060708
            sd t1, 0(t0)
            ld a0, 0(t0)
            lw a1, 1(t0)
            lh a2, 2(t0)
            li t2, 0x80020003
            sw t1, 0(t2)
            lwu a3, 0(t2)
            wfi
            """)
        m.runToWFI()
        XCTAssertEqual(m.x(Reg.a0), 0x0102_0304_0506_0708)
        XCTAssertEqual(m.x(Reg.a1), 0x0405_0607)
        XCTAssertEqual(m.x(Reg.a2), 0x0506)
        XCTAssertEqual(m.x(Reg.a3), 0x0506_0708)
        XCTAssertEqual(m.bus.read(0x8001_0FFF, size: 1), 0x06)
        XCTAssertEqual(m.bus.read(0x8001_1000, size: 1), 0x05)
    }

    func testPageCrossingStoreChecksBothPagesBeforeWriting() throws {
        // The second half of the store falls outside RAM (end at 0x80200000): nothing is written.
        let m = try TestMachine("""
            la t0, handler
            csrw mtvec, t0
            li t0, 0x801ffffc
            li t1, -1
            sd t1, 0(t0)
            handler: wfi
            """)
        m.runToWFI()
        XCTAssertEqual(m.s.mcause, 7)
        XCTAssertEqual(m.bus.read(0x801F_FFFC, size: 4), 0)
    }

    func testMMIOLoadsAndStoresGoToTheDevice() throws {
        let m = try TestMachine("""
            li t0, 0x10000000
            li t1, 0x42
            sb t1, 3(t0)
            lw a0, 4(t0)
            wfi
            """)
        let device = RecordingDevice()
        try m.bus.mapMMIO(name: "rec", base: 0x1000_0000, size: 0x100, device: device)
        m.runToWFI()
        XCTAssertEqual(device.writes.count, 1)
        XCTAssertEqual(device.writes.first?.0, 3)
        XCTAssertEqual(device.writes.first?.2, 0x42)
        XCTAssertEqual(m.x(Reg.a0), 0xFFFF_FFFF_A5A5_A5A5)
    }

    func testUnmappedLoadIsAccessFault() throws {
        let m = try TestMachine("""
            la t0, handler
            csrw mtvec, t0
            li t0, 0x20000000
            ld a0, 0(t0)
            handler: wfi
            """)
        m.runToWFI()
        XCTAssertEqual(m.s.mcause, 5)
        XCTAssertEqual(m.s.mtval, 0x2000_0000)
    }

    func testSelfModifyingCodeIsSeenAfterFenceI() throws {
        // Run `target` once (li a0, 1), patch it to `li a0, 2`, fence.i, run it again.
        let m = try TestMachine("""
            jal ra, target
            mv s2, a0
            la t0, target
            la t1, patch
            lw t1, 0(t1)
            sw t1, 0(t0)
            fence.i
            jal ra, target
            wfi
            target: li a0, 1
            ret
            patch: li a0, 2
            """)
        m.runToWFI()
        XCTAssertEqual(m.x(18), 1)
        XCTAssertEqual(m.x(Reg.a0), 2)
    }

    func testWriteFromOutsideTheHartInvalidatesDecodedCode() throws {
        let m = try TestMachine("""
            1: li a0, 1
            wfi
            j 1b
            """)
        m.runToWFI()
        XCTAssertEqual(m.x(Reg.a0), 1)
        // A device (DMA) rewrites the first instruction to `li a0, 7` (addi a0, zero, 7).
        _ = m.bus.dma.write(ramBase, bytes: [0x13, 0x05, 0x70, 0x00])
        m.hart.state.pointee.waitingForInterrupt = 0
        m.runToWFI()
        XCTAssertEqual(m.x(Reg.a0), 7)
    }

    func testSatpChangeReusesNothingStale() throws {
        // Two address spaces mapping VA 0x40000000 to different pages; switch satp between loads.
        let m = try TestMachine("""
            la t0, handler
            csrw mtvec, t0
            pmp_allow_all
            li t0, (8 << 60) | (0x80100000 >> 12)
            csrw satp, t0
            enter_mode 1, supervisor
            supervisor:
            li s1, 0x40000000
            ld a0, 0(s1)
            li t0, (8 << 60) | (0x80110000 >> 12)
            csrw satp, t0
            ld a1, 0(s1)
            wfi
            handler: wfi
            """)
        let gigapage: UInt64 = (0x8000_0000 >> 12) << 10 | 0xCF
        for (root, data, value) in [(UInt64(0x8010_0000), UInt64(0x8018_0000), UInt64(1)),
                                    (0x8011_0000, 0x8019_0000, 2)] {
            m.write64(root + 16, gigapage)                               // code: identity
            // VA 0x40000000 → three-level walk to a 4 KiB leaf (V R A) at `data`.
            m.write64(root + 8, ((root + 0x1000) >> 12) << 10 | 1)
            m.write64(root + 0x1000, ((root + 0x2000) >> 12) << 10 | 1)
            m.write64(root + 0x2000, (data >> 12) << 10 | 0x43)
            m.write64(data, value)
        }
        m.runToWFI()
        XCTAssertEqual(m.x(Reg.a0), 1)
        XCTAssertEqual(m.x(Reg.a1), 2)
    }
}

final class CodePageTests: XCTestCase {
    func testStoreToAPageThatBecameCodeIsSeenByLaterBlocks() throws {
        // The first store fills the store TLB for the page; executing code there must evict
        // that entry so the later patch (without FENCE.I) still reaches the decoded blocks.
        let m = try TestMachine("""
            la t0, target
            sw zero, 8(t0)          // store TLB now maps the page
            jal ra, target
            mv s2, a0
            la t1, patch
            lw t1, 0(t1)
            sw t1, 0(t0)
            jal ra, target
            wfi
            .align 12
            target: li a0, 1
            ret
            .word 0
            patch: li a0, 3
            """)
        m.runToWFI()
        XCTAssertEqual(m.x(18), 1)
        XCTAssertEqual(m.x(Reg.a0), 3)
    }

    func testUserCountersNeedScounterenToo() throws {
        let m = try TestMachine("""
            la t0, handler
            csrw mtvec, t0
            pmp_allow_all
            li t0, 7
            csrw mcounteren, t0
            li t0, 2
            csrw scounteren, t0
            enter_mode 0, user
            user:
            rdtime a0
            li a1, 1
            rdcycle a2
            li a3, 1
            handler: wfi
            """)
        m.runToWFI()
        XCTAssertEqual(m.x(Reg.a1), 1, "time is enabled for U")
        XCTAssertEqual(m.x(Reg.a3), 0, "cycle is not")
        XCTAssertEqual(m.s.mcause, 2)
    }
}

final class MultiHartTests: XCTestCase {
    func testStoreByOneHartInvalidatesAnotherHartsDecodedCode() throws {
        let m = try TestMachine("""
            1: li a0, 1
            wfi
            j 1b
            """)
        let other = Hart(hartID: 1, bus: m.bus, timebase: Timebase())
        // Hart 1 writes `li a0, 5` over hart 0's code, after hart 0 decoded it.
        let patcher = try assemble("""
            li t0, 0x80000000
            li t1, 0x00500513
            sw t1, 0(t0)
            wfi
            """, base: 0x8010_0000)
        m.load(patcher, at: 0x8010_0000)
        m.runToWFI()
        XCTAssertEqual(m.x(Reg.a0), 1)
        other.reset(pc: 0x8010_0000, a0: 1, a1: 0)
        XCTAssertEqual(other.run(budget: 100), .waitingForInterrupt)
        m.hart.state.pointee.waitingForInterrupt = 0
        m.runToWFI()
        XCTAssertEqual(m.x(Reg.a0), 5)
    }
}
