import Foundation
import Memory
import XCTest
@testable import CPU

/// Harts on device memory (`RegionKind.deviceMemory`, a VFIO BAR mapped into the guest): loads
/// and stores reach it with their widths on both engines, and an instruction fetch from it is an
/// instruction access fault (it is never translated). An anonymous mapping stands in for the device.
final class DeviceMemoryAccessTests: XCTestCase {
    private static let base: UInt64 = 0x4000_0000

    private func machine(_ accelerator: Accelerator, storage: UnsafeMutableRawPointer) throws -> TestMachine {
        let m = try TestMachine("""
            la t0, handler
            csrw mtvec, t0
            li t1, 0x40000000
            li t2, 0x11223344
            sw t2, 8(t1)            // one 4-byte store
            li t3, 0x40001002
            sh t2, 0(t3)            // a 2-byte store on the second page
            lw a0, 8(t1)
            lhu a1, 0(t3)
            ld a2, 0x10(t1)         // the device's own value
            li t4, 100              // a loop: after the first access, the TLB (JIT: inline) path
            loop:
            lw t5, 0x20(t1)
            addi t5, t5, 1
            sw t5, 0x20(t1)
            addi t4, t4, -1
            bnez t4, loop
            jr t1                   // fetch from device memory
            handler: wfi
            """)
        m.hart.accelerator = accelerator
        try m.bus.mapDeviceMemory(name: "bar", base: Self.base, size: 0x2000, storage: storage, owner: self)
        return m
    }

    private func run(_ accelerator: Accelerator) throws {
        let storage = try XCTUnwrap(mmap(nil, 0x2000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
        defer { munmap(storage, 0x2000) }
        storage.storeBytes(of: 0x0102_0304_0506_0708, toByteOffset: 0x10, as: UInt64.self)
        let m = try machine(accelerator, storage: storage)
        m.runToWFI()
        XCTAssertEqual(storage.load(fromByteOffset: 8, as: UInt64.self), 0x1122_3344, "the bytes around the word untouched")
        XCTAssertEqual(storage.load(fromByteOffset: 0x1000, as: UInt64.self), 0x3344_0000)
        XCTAssertEqual(m.x(10), 0x1122_3344)
        XCTAssertEqual(m.x(11), 0x3344)
        XCTAssertEqual(m.x(12), 0x0102_0304_0506_0708)
        XCTAssertEqual(storage.load(fromByteOffset: 0x20, as: UInt32.self), 100)
        XCTAssertEqual(m.s.mcause, 1, "instruction access fault")
        XCTAssertEqual(m.s.mtval, Self.base)
    }

    func testTheInterpreterLoadsAndStoresButNeverFetches() throws { try run(.interpreter) }

    func testTheJITLoadsAndStoresButNeverFetches() throws {
#if arch(x86_64)
        try run(.jit)
#else
        throw XCTSkip("the JIT is x86-64 only")
#endif
    }
}
