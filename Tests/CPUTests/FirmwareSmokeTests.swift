import Foundation
import IRQ
import Memory
import XCTest
@testable import CPU

// Boots Debian's OpenSBI (fw_jump) + U-Boot (S-mode) on a bare hart with stub devices, as a
// smoke test of the CPU alone (the real machine lives in the Machine module). Skipped unless
// BACKPLANE_SMOKE_DTB names a device tree for QEMU-virt-like hardware with only a ns16550a at
// 0x10000000, a CLINT at 0x2000000, a PLIC at 0xc000000 and a sifive,test at 0x100000, e.g.
// QEMU's `-M virt,dumpdtb=` output with the other nodes removed and riscv,isa set to
// rv64imafdc_zicsr_zifencei. Needs the F/D implementation: OpenSBI zeroes the FP registers
// with fmv.w.x at hart init and hangs if that is illegal. (With FP ignored instead of illegal,
// this reached U-Boot's autoboot prompt in 1.2 s of a debug build.)

private final class StubUART: MMIODevice {
    var output: [UInt8] = []
    var implementedSizes: AccessSizes { .byte }
    func read(offset: UInt64, size: Int) -> UInt64 { offset == 5 ? 0x60 : 0 } // LSR: transmitter empty
    func write(offset: UInt64, size: Int, value: UInt64) { if offset == 0 { output.append(UInt8(truncatingIfNeeded: value)) } }
}

private final class StubCLINT: MMIODevice {
    unowned let hart: Hart
    let timebase: Timebase
    var timeCompare: UInt64 = ~0
    init(hart: Hart, timebase: Timebase) { self.hart = hart; self.timebase = timebase }
    var implementedSizes: AccessSizes { [.word, .doubleword] }
    func read(offset: UInt64, size: Int) -> UInt64 {
        switch offset {
        case 0: return (hart.state.pointee.mipExternal >> 3) & 1
        case 0x4000: return size == 8 ? timeCompare : timeCompare & 0xFFFF_FFFF
        case 0x4004: return timeCompare >> 32
        case 0xBFF8: return size == 8 ? timebase.now() : timebase.now() & 0xFFFF_FFFF
        case 0xBFFC: return timebase.now() >> 32
        default: return 0
        }
    }
    func write(offset: UInt64, size: Int, value: UInt64) {
        switch offset {
        case 0: hart.setInterruptPending(bit: 3, value & 1 != 0)
        case 0x4000: timeCompare = size == 8 ? value : timeCompare & ~0xFFFF_FFFF | value
        case 0x4004: timeCompare = timeCompare & 0xFFFF_FFFF | value << 32
        default: break
        }
        update()
    }
    func update() {
        let pending = timebase.now() >= timeCompare
        if pending != ((hart.state.pointee.mipExternal >> 7) & 1 != 0) { hart.setInterruptPending(bit: 7, pending) }
    }
}

private final class ZeroDevice: MMIODevice {
    var implementedSizes: AccessSizes { .all }
    func read(offset: UInt64, size: Int) -> UInt64 { 0 }
    func write(offset: UInt64, size: Int, value: UInt64) {}
}

final class FirmwareSmokeTests: XCTestCase {
    func testOpenSBIAndUBootReachTheUBootBanner() throws {
        guard let dtbPath = ProcessInfo.processInfo.environment["BACKPLANE_SMOKE_DTB"] else {
            throw XCTSkip("set BACKPLANE_SMOKE_DTB to a device tree (see the file comment)")
        }
        let bus = AddressSpace()
        let timebase = Timebase()
        try bus.mapRAM(name: "ram", base: 0x8000_0000, size: 128 << 20)
        let hart = Hart(hartID: 0, bus: bus, timebase: timebase)
        let uart = StubUART()
        let clint = StubCLINT(hart: hart, timebase: timebase)
        try bus.mapMMIO(name: "uart", base: 0x1000_0000, size: 0x100, device: uart)
        try bus.mapMMIO(name: "clint", base: 0x200_0000, size: 0x10000, device: clint)
        try bus.mapMMIO(name: "plic", base: 0xC00_0000, size: 0x60_0000, device: ZeroDevice())
        try bus.mapMMIO(name: "test", base: 0x10_0000, size: 0x1000, device: ZeroDevice())
        func load(_ path: String, at address: UInt64) throws {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            _ = bus.dma.write(address, bytes: bytes)
        }
        try load("/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin", at: 0x8000_0000)
        try load("/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin", at: 0x8020_0000)
        try load(dtbPath, at: 0x8220_0000)
        hart.reset(pc: 0x8000_0000, a0: 0, a1: 0x8220_0000)

        let deadline = Date().addingTimeInterval(Double(ProcessInfo.processInfo.environment["BACKPLANE_SMOKE_SECONDS"] ?? "") ?? 20)
        let until = ProcessInfo.processInfo.environment["BACKPLANE_SMOKE_UNTIL"] ?? "Hit any key"
        var text = ""
        var instructions: UInt64 = 0
        let start = Date()
        while Date() < deadline {
            clint.update()
            let stop = hart.run(budget: 200_000)
            if stop == .waitingForInterrupt { usleep(100) }
            text = String(decoding: uart.output, as: UTF8.self)
            if text.contains(until) { break }
            instructions = hart.state.pointee.instret
        }
        let elapsed = Date().timeIntervalSince(start)
        print(text)
        print("pc=0x\(String(hart.state.pointee.pc, radix: 16)) priv=\(hart.state.pointee.privilege) " +
              "mcause=\(hart.state.pointee.mcause) mepc=0x\(String(hart.state.pointee.mepc, radix: 16)) mtval=0x\(String(hart.state.pointee.mtval, radix: 16)) scause=\(hart.state.pointee.scause) " +
              "\(instructions) instructions in \(elapsed) s")
        XCTAssertTrue(text.contains("OpenSBI"))
        XCTAssertTrue(text.contains("U-Boot"))
    }
}
