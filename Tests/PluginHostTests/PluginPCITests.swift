import Foundation
import IRQ
import TestSupport
import Memory
import PCI
import PluginHost
import XCTest

/// The acme_edu example on a host bridge, driven through ECAM and its BARs as a guest would.
final class PluginPCITests: XCTestCase {
    static let ram: UInt64 = 0x8000_0000
    static let ecam: UInt64 = 0x3000_0000
    static let bar0: UInt64 = 0x4000_0000
    static let bar1: UInt64 = 0x4010_0000
    private var space: AddressSpace!
    private var controller: RecordingController!
    private var bridge: PCIHostBridge!
    private var host: PluginHost!
    private var edu: PluginPCIFunction!

    override func setUpWithError() throws {
        space = AddressSpace()
        controller = RecordingController()
        try space.mapRAM(name: "ram", base: Self.ram, size: 1 << 20)
        bridge = PCIHostBridge(name: "pcie0", space: space, busCount: 1, windows: [
            PCIWindow(space: .memory32, cpuBase: 0x4000_0000, pciBase: 0x4000_0000, size: 0x4000_0000),
        ], intx: (32...35).map { IRQLine(controller: controller, source: $0) })
        try space.mapMMIO(name: "pcie0", base: Self.ecam, size: 1 << 20, device: bridge)
        host = PluginHost()
        try host.load([PluginRequest(path: try PluginBuilder.example("acme_edu"))])
        host.attach(timebase: Timebase())
        edu = try attach(device: 3, latency: 1000)
    }

    override func tearDown() { host.shutdown() }

    private func attach(device: UInt8, latency: UInt64) throws -> PluginPCIFunction {
        let type = try XCTUnwrap(host.pciType(named: "acme.edu"))
        return try bridge.attach(at: PCIAddress(device: device)) { bus in
            try host.createPCIFunction(type: type, device: "edu\(device)", properties: [("latency-ns", String(latency)), ("dma-latency-ns", "1000")], bus: bus)
        }
    }

    private func config(_ register: Int, device: UInt64 = 3, size: Int = 4) -> UInt64 {
        space.read(Self.ecam + (device << 15) + UInt64(register), size: size) ?? 0xdead
    }

    private func setConfig(_ register: Int, _ value: UInt64, device: UInt64 = 3, size: Int = 4) {
        _ = space.write(Self.ecam + (device << 15) + UInt64(register), size: size, value: value)
    }

    /// Programs BAR 0 and 1 and enables memory decoding and bus mastering.
    private func enable(device: UInt64 = 3, bar0: UInt64 = bar0, bar1: UInt64 = bar1, command: UInt64 = 0x6) {
        setConfig(0x10, bar0, device: device)
        setConfig(0x14, bar1, device: device)
        setConfig(0x04, command, device: device, size: 2)
    }

    private func reg(_ offset: UInt64, size: Int = 4) -> UInt64 { space.read(Self.bar0 + offset, size: size) ?? 0xdead }
    private func setReg(_ offset: UInt64, _ value: UInt64, size: Int = 4) { _ = space.write(Self.bar0 + offset, size: size, value: value) }

    /// Lets virtual time pass until the plugin's timers have fired.
    private func waitForTimers() {
        for _ in 0..<200 where host.timers.nanosecondsUntilNext() != nil {
            usleep(200)
            host.timers.fireDue()
        }
    }

    func testTheCoreShowsThePluginIdentityAndSizesItsBARs() {
        XCTAssertEqual(config(0x00), 0xacde_1234)
        XCTAssertEqual(config(0x08), 0x00ff_0010, "class 00ff00, revision 0x10")
        XCTAssertEqual(config(0x2c), 0x1100_1af4)
        XCTAssertEqual(config(0x3d, size: 1), 1, "INTA")
        setConfig(0x10, 0xffff_ffff)
        XCTAssertEqual(config(0x10), 0xfff0_0000, "1 MiB BAR 0")
    }

    func testIdentificationRegisterAnswersAtTheAssignedBAR() {
        enable()
        XCTAssertEqual(reg(0x00), 0x0100_00ed)
        setReg(0x04, 0x1234_5678)
        XCTAssertEqual(reg(0x04), 0xedcb_a987, "liveness reads back the inverse")
    }

    func testFactorialCompletesOnlyAfterItsVirtualTimeDelay() throws {
        host.shutdown()
        host = PluginHost()
        try host.load([PluginRequest(path: try PluginBuilder.example("acme_edu"))])
        host.attach(timebase: Timebase())
        edu = try attach(device: 4, latency: 50_000_000)
        enable(device: 4)
        setReg(0x08, 5)
        XCTAssertEqual(reg(0x20) & 1, 1, "computing")
        XCTAssertEqual(host.timers.fireDue(), 0, "50 ms have not passed")
        XCTAssertEqual(reg(0x20) & 1, 1)
        usleep(60_000)
        XCTAssertEqual(host.timers.fireDue(), 1)
        XCTAssertEqual(reg(0x20) & 1, 0, "done")
        XCTAssertEqual(reg(0x08), 120)
    }

    func testDMACopiesTheBufferIntoGuestMemory() {
        enable()
        setReg(0x40000, 0x0123_4567_89ab_cdef, size: 8)
        setReg(0x80, 0x40000, size: 8)
        setReg(0x88, Self.ram + 0x2000, size: 8)
        setReg(0x90, 8, size: 8)
        setReg(0x98, 0x3, size: 8)
        XCTAssertEqual(reg(0x98, size: 8) & 1, 1, "busy until the DMA latency passed")
        waitForTimers()
        XCTAssertEqual(reg(0x98, size: 8), 0x2, "start cleared, not failed")
        XCTAssertEqual(space.read(Self.ram + 0x2000, size: 8), 0x0123_4567_89ab_cdef)
    }

    func testDMAWithoutBusMasteringFailsInsteadOfCrashing() {
        enable(command: 0x2)
        setReg(0x80, Self.ram, size: 8)
        setReg(0x88, 0x40000, size: 8)
        setReg(0x90, 16, size: 8)
        setReg(0x98, 0x1, size: 8)
        waitForTimers()
        XCTAssertEqual(reg(0x98, size: 8), 0x8, "failed bit set")
    }

    func testDMAToAnAddressWithoutRAMFails() {
        enable()
        setReg(0x80, 0x40000, size: 8)
        setReg(0x88, 0xdead_0000_0000, size: 8)
        setReg(0x90, 16, size: 8)
        setReg(0x98, 0x3, size: 8)
        waitForTimers()
        XCTAssertEqual(reg(0x98, size: 8), 0xa, "to-RAM with failed bit")
        XCTAssertNotEqual(config(0x06, size: 2) & 0x2000, 0, "Received Master Abort")
    }

    func testRaisedInterruptUsesINTxUntilMSIXIsEnabled() {
        enable()
        setReg(0x60, 0x1)
        XCTAssertEqual(controller.levels[35], true, "INTA of device 3 is line 3 (source 35)")
        setReg(0x64, 0x1)
        XCTAssertEqual(controller.levels[35], false)
    }

    func testRaisedInterruptSendsTheMSIXMessage() throws {
        enable()
        let msix = try XCTUnwrap(edu.msix)
        _ = space.write(Self.bar1 + 0x0, size: 4, value: Self.ram + 0x100)
        _ = space.write(Self.bar1 + 0x4, size: 4, value: 0)
        _ = space.write(Self.bar1 + 0x8, size: 4, value: 0x2a)
        _ = space.write(Self.bar1 + 0xc, size: 4, value: 0)
        setConfig(msix.offset + 2, 0x8000, size: 2)
        setReg(0x60, 0x1)
        XCTAssertEqual(space.read(Self.ram + 0x100, size: 4), 0x2a)
        XCTAssertEqual(controller.levels[35] ?? false, false, "no INTx while MSI-X is on")
    }

    func testVendorCapabilityRegistersReachThePlugin() throws {
        let capability = try XCTUnwrap(edu.config.findCapability(0x09))
        XCTAssertEqual(config(capability + 2, size: 1), 8, "length written by the core")
        XCTAssertEqual(config(capability + 4), 1000, "latency-ns as created")
        setConfig(capability + 4, 2500)
        XCTAssertEqual(config(capability + 4), 2500)
    }

    func testTwoInstancesKeepSeparateState() throws {
        _ = try attach(device: 5, latency: 1000)
        enable()
        enable(device: 5, bar0: 0x4100_0000, bar1: 0x4110_0000)
        setReg(0x04, 0)
        _ = space.write(0x4100_0004, size: 4, value: 0xffff_ffff)
        XCTAssertEqual(reg(0x04), 0xffff_ffff)
        XCTAssertEqual(space.read(0x4100_0004, size: 4), 0)
        XCTAssertEqual(host.pciFunctions.map(\.name), ["edu3", "edu5"])
    }

    func testAnInvalidBARIsRefusedWithTheReason() throws {
        let path = try PluginBuilder.testPlugin("badbar", extra: ["REGISTER_PCI_SIZE=24"])
        let other = PluginHost()
        XCTAssertThrowsError(try other.load([PluginRequest(path: path)])) { error in
            XCTAssertEqual("\(error)", "plugin 'badbar' failed to install: device type 'bad.pci': BAR 0 of 0x18 bytes: the size is not a power of two")
        }
    }
}
