import CPU
import Foundation
import IRQ
import Memory
import PCI
@testable import PluginHost
import XCTest

/// A RAM-backed BAR (`BP_PCI_BAR_RAM`) is RAM in the address space, as pci.h promises: a guest
/// load from it is entered in the hart's TLB and reads the plugin's storage directly, never
/// through MMIO dispatch.
final class RAMBARTests: XCTestCase {
    private let ram: UInt64 = 0x8000_0000
    private let ecam: UInt64 = 0x3000_0000
    private let window: UInt64 = 0x4_0000_0000

    func testAGuestLoadFromARAMBARStaysOnTheTLBFastPath() throws {
        let folder = PluginBuilder.packageRoot.appendingPathComponent("Tests/PluginHostTests/abi-1.0")
        let path = try PluginBuilder.build("legacy_1_0", sources: [folder.appendingPathComponent("legacy_device.c").path], include: [folder.path])
        let host = PluginHost()
        defer { host.shutdown() }
        try host.load([PluginRequest(path: path)])
        host.attach(timebase: Timebase())
        let type = try XCTUnwrap(host.pciType(named: "legacy.pci"))   // BAR 2: 16 KiB, 64-bit, RAM-backed
        let space = AddressSpace()
        try space.mapRAM(name: "ram", base: ram, size: 0x10000)
        let bridge = PCIHostBridge(name: "pcie0", space: space, busCount: 1,
                                   windows: [PCIWindow(space: .memory64, cpuBase: window, pciBase: window, size: 0x1_0000_0000)], intx: [])
        try space.mapMMIO(name: "pcie0", base: ecam, size: 1 << 20, device: bridge)
        let function = try bridge.attach(at: PCIAddress(device: 1)) { bus in
            try host.createPCIFunction(type: type, device: "legacy0", properties: [], bus: bus)
        }
        // As firmware assigns it: BAR 2 (64-bit, config 0x18/0x1c) at the window, memory decoding on.
        space.write(ecam + (1 << 15) + 0x18, size: 4, value: window & 0xffff_ffff)
        space.write(ecam + (1 << 15) + 0x1c, size: 4, value: window >> 32)
        space.write(ecam + (1 << 15) + 0x04, size: 2, value: 0x2)
        let storage = try XCTUnwrap(function.barMemory(2))
        storage.storeBytes(of: 0x1122_3344_5566_7788, toByteOffset: 8, as: UInt64.self)  // as the plugin, via bar_memory
        // ld a2, 0(a0); j .
        _ = space.dma.write(ram, bytes: [0x03, 0x36, 0x05, 0x00, 0x6f, 0x00, 0x00, 0x00])
        let hart = Hart(hartID: 0, bus: space, timebase: Timebase())
        hart.reset(pc: ram, a0: window + 8, a1: 0)

        _ = hart.run(budget: 1)

        let region = try XCTUnwrap(space.region(containing: window + 8))
        XCTAssertEqual(region.kind, .ram)
        XCTAssertEqual(region.host, storage, "the BAR's RAM is the plugin's storage")
        XCTAssertEqual(hart.state.pointee.x.12, 0x1122_3344_5566_7788)
        let entry = hart.state.pointee.tlbLoad.0   // index (vaddr >> 12) & 255 = 0
        XCTAssertEqual(entry.tag, window >> 12, "the load filled the TLB: the next one is a host load")
        XCTAssertEqual(UInt(bitPattern: Int(truncatingIfNeeded: Int64(window) &+ entry.addend)), UInt(bitPattern: storage))
    }
}
