import CBackplane
import Foundation
import IRQ
import Memory
import PCI
import PluginHost
import TestSupport
import XCTest

/// The ABI 1.2 calls through the acme_sgdma example (Plugins/examples/acme_sgdma), driven
/// through ECAM and BARs as a guest would: scatter-gather and platform DMA, msix_notify's
/// precise answers, config-change events, per-instance shapes and `wake` from another thread.
final class PluginABI12Tests: XCTestCase {
    static let ram: UInt64 = 0x8000_0000
    static let ecam: UInt64 = 0x3000_0000
    static let bar0: UInt64 = 0x4000_0000
    static let bar1: UInt64 = 0x4010_0000
    private var space: AddressSpace!
    private var bridge: PCIHostBridge!
    private var host: PluginHost!
    private var engine: PluginPCIFunction!

    override func setUpWithError() throws {
        space = AddressSpace()
        try space.mapRAM(name: "ram", base: Self.ram, size: 1 << 20)
        bridge = PCIHostBridge(name: "pcie0", space: space, busCount: 1, windows: [
            PCIWindow(space: .memory32, cpuBase: 0x4000_0000, pciBase: 0x4000_0000, size: 0x4000_0000),
        ], intx: (32...35).map { IRQLine(controller: RecordingController(), source: $0) })
        try space.mapMMIO(name: "pcie0", base: Self.ecam, size: 1 << 20, device: bridge)
        host = PluginHost()
        try host.load([PluginRequest(path: try PluginBuilder.example("acme_sgdma"))])
        host.attach(timebase: Timebase())
        engine = try attach(device: 2, properties: [("vectors", "4"), ("window", "8192")])
    }

    override func tearDown() { host.shutdown() }

    private func attach(device: UInt8, properties: [(key: String, value: String)]) throws -> PluginPCIFunction {
        let type = try XCTUnwrap(host.pciType(named: "acme.sgdma"))
        return try bridge.attach(at: PCIAddress(device: device)) { bus in
            try host.createPCIFunction(type: type, device: "sg\(device)", properties: properties, bus: bus)
        }
    }

    private func setConfig(_ register: Int, _ value: UInt64, size: Int = 4) {
        _ = space.write(Self.ecam + (2 << 15) + UInt64(register), size: size, value: value)
    }

    private func reg(_ offset: UInt64) -> UInt64 { space.read(Self.bar0 + offset, size: 4) ?? 0xdead }
    private func setReg(_ offset: UInt64, _ value: UInt64) { _ = space.write(Self.bar0 + offset, size: 8, value: value) }

    private func enable(command: UInt64 = 0x6) {
        setConfig(0x10, Self.bar0)
        setConfig(0x14, Self.bar1)
        setConfig(0x04, command, size: 2)
    }

    /// Points MSI-X vector `vector` at RAM address `target` with data `data` and unmasks it.
    private func program(vector: UInt64, target: UInt64, data: UInt64) {
        let entry = Self.bar0 + 0x800 + 16 * vector
        _ = space.write(entry, size: 4, value: target)
        _ = space.write(entry + 4, size: 4, value: 0)
        _ = space.write(entry + 8, size: 4, value: data)
        _ = space.write(entry + 12, size: 4, value: 0)
    }

    private func enableMSIX() throws {
        setConfig(try XCTUnwrap(engine.msix).offset + 2, 0x8000, size: 2)
    }

    /// Writes a segment list at ram+0x1000 for the pieces, fills them with bytes.
    private func writeSegments(_ pieces: [(UInt64, [UInt8])]) {
        for (index, (address, bytes)) in pieces.enumerated() {
            _ = space.dma.write(address, bytes: bytes)
            _ = space.write(Self.ram + 0x1000 + 16 * UInt64(index), size: 8, value: address)
            _ = space.write(Self.ram + 0x1008 + 16 * UInt64(index), size: 8, value: UInt64(bytes.count))
        }
        setReg(0x08, Self.ram + 0x1000)
        setReg(0x10, UInt64(pieces.count))
        setReg(0x18, Self.ram + 0x8000)
    }

    func testTheShapeComesFromTheInstancesProperties() throws {
        XCTAssertEqual(engine.msix?.vectors, 4)
        XCTAssertEqual(engine.bars[1]?.size, 8192)
        let other = try attach(device: 3, properties: [])
        XCTAssertEqual(other.msix?.vectors, 2, "the default")
        XCTAssertEqual(other.bars[1]?.size, 4096)
    }

    func testAShapeThatDoesNotFitIsRefusedNamingTheDeviceAndField() throws {
        let (result, log) = try captureStandardError { Result { try attach(device: 4, properties: [("vectors", "300")]) } }
        XCTAssertThrowsError(try result.get()) { error in
            XCTAssertEqual("\(error)", "device 'sg4' of plugin type 'acme.sgdma': create returned 1")
        }
        XCTAssertTrue(log.contains("backplane: plugin acme_sgdma: error: pci->set_msix_vectors: device 'sg4': device type 'acme.sgdma': msix_vectors 300: the MSI-X table (0x12c0 bytes at 0x800) does not fit in BAR 0 of 0x1000 bytes; 128 vectors fit there"), log)
    }

    func testGatherReadsEverySegmentAndSignalsMSIX() throws {
        enable()
        try enableMSIX()
        program(vector: 0, target: Self.ram + 0x100, data: 0x77)
        writeSegments([(Self.ram + 0x2000, Array("scatter-".utf8)), (Self.ram + 0x3000, Array("gather".utf8))])
        setReg(0x20, 1)
        XCTAssertEqual(reg(0x28), 0, "DMA status")
        XCTAssertEqual(reg(0x40), 14, "bytes gathered")
        XCTAssertEqual(try space.dma.read(Self.ram + 0x8000, count: 14).get(), Array("scatter-gather".utf8))
        XCTAssertEqual(reg(0x2c), 0, "msix_notify sent the message")
        XCTAssertEqual(space.read(Self.ram + 0x100, size: 4), 0x77)
    }

    func testMSIXNotifySaysWhyAMessageWasNotSent() throws {
        enable()
        writeSegments([(Self.ram + 0x2000, [1, 2, 3])])
        setReg(0x20, 1)
        XCTAssertEqual(Int32(truncatingIfNeeded: reg(0x2c)), BP_ERR_DISABLED, "MSI-X off")
        try enableMSIX()
        setReg(0x20, 1)
        XCTAssertEqual(Int32(truncatingIfNeeded: reg(0x2c)), BP_ERR_MASKED, "vector 0 masked since reset (PCI 3.0 §6.8.2.9)")
        program(vector: 0, target: Self.ram + 0x100, data: 0x1)
        setConfig(0x04, 0x2, size: 2) // memory on, bus mastering off
        setReg(0x20, 1)
        XCTAssertEqual(Int32(truncatingIfNeeded: reg(0x28)), BP_ERR_BUS_MASTER_DISABLED, "the gather itself is refused")
        XCTAssertEqual(Int32(truncatingIfNeeded: reg(0x2c)), BP_ERR_BUS_MASTER_DISABLED)
    }

    func testScatterGatherStopsAtTheFirstRefusedSegment() throws {
        enable()
        writeSegments([(Self.ram + 0x2000, [1, 2, 3, 4]), (0x10, [])])
        _ = space.write(Self.ram + 0x1018, size: 8, value: 8) // the second segment: 8 bytes at 0x10, no RAM
        setReg(0x20, 1)
        XCTAssertEqual(Int32(truncatingIfNeeded: reg(0x28)), BP_ERR_MASTER_ABORT)
        XCTAssertEqual(reg(0x40), 4, "the first segment moved")
    }

    func testConfigChangesReachThePlugin() throws {
        enable(command: 0x2)
        XCTAssertEqual(reg(0x30), UInt64(BP_PCI_CHANGED_COMMAND))
        XCTAssertEqual(reg(0x34), 0x2)
        setConfig(0x04, 0x6, size: 2)
        XCTAssertEqual(reg(0x34), 0x6, "bus mastering turned on")
        try enableMSIX()
        XCTAssertEqual(reg(0x30), UInt64(BP_PCI_CHANGED_COMMAND | BP_PCI_CHANGED_MSIX))
    }

    func testWakeFromAnotherThreadRunsOnTheMachineThread() throws {
        enable()
        try enableMSIX()
        program(vector: 1, target: Self.ram + 0x200, data: 0x99)
        setReg(0x38, 1)
        let deadline = Date().addingTimeInterval(5)
        while host.wakes.runQueued() == 0, Date() < deadline { usleep(1000) }
        XCTAssertEqual(reg(0x3c), 1, "the wake callback ran")
        XCTAssertEqual(space.read(Self.ram + 0x200, size: 4), 0x99, "and could signal MSI-X from the machine thread")
        XCTAssertEqual(host.timers.nanosecondsUntilNextEvent(), nil, "nothing queued any more")
    }

    func testPlatformDMACopiesRAMAndReportsAMasterAbort() throws {
        let type = try XCTUnwrap(host.platformType(named: "acme.copier"))
        let copier = try host.createPlatformDevice(type: type, device: "copy0", properties: [], base: 0x1000_0000, size: 0x100,
                                                   irqs: [], memory: space)
        _ = space.dma.write(Self.ram + 0x4000, bytes: Array("platform dma".utf8))
        copier.write(offset: 0x00, size: 8, value: Self.ram + 0x4000)
        copier.write(offset: 0x08, size: 8, value: Self.ram + 0x5000)
        copier.write(offset: 0x10, size: 8, value: 12)
        copier.write(offset: 0x18, size: 8, value: 1)
        XCTAssertEqual(copier.read(offset: 0x20, size: 4), 0)
        XCTAssertEqual(try space.dma.read(Self.ram + 0x5000, count: 12).get(), Array("platform dma".utf8))
        copier.write(offset: 0x00, size: 8, value: 0x20)
        copier.write(offset: 0x18, size: 8, value: 1)
        XCTAssertEqual(Int32(truncatingIfNeeded: copier.read(offset: 0x20, size: 4)), BP_ERR_MASTER_ABORT)
    }
}
