import CBackplane
import Foundation
import IRQ
import Memory
import PCI
import PluginHost
import TestSupport
import USB
import XCTest

/// A plugin that misuses handles (Fixtures/misuse_plugin.c): stale, double-completed, foreign,
/// made-up and NULL handles, calls from another thread and calls during create/destroy/exit.
/// Each is refused with an error code and one log line naming the plugin; the process lives.
final class PluginMisuseTests: XCTestCase {
    private var host: PluginHost!
    private var path: String!
    private var run: (@convention(c) (Int32) -> Int32)!
    private var usb: PluginUSBDevice!
    private var core: USBDeviceCore!
    private var controller: RecordingController!
    private var space: AddressSpace!
    private var bridge: PCIHostBridge!

    override func setUpWithError() throws {
        path = try PluginBuilder.build("misuse", sources: [PluginBuilder.packageRoot.appendingPathComponent("Tests/PluginHostTests/Fixtures/misuse_plugin.c").path])
        host = PluginHost()
        try host.load([PluginRequest(path: path)])
        host.attach(timebase: Timebase())
        host.qpp.declare(plugin: "tester", uses: ["misuse"])
        run = unsafeBitCast(try host.qpp.importFunction(by: "tester", from: "misuse", name: "misuse_run", signature: "int(int)"),
                            to: (@convention(c) (Int32) -> Int32).self)
        usb = try host.createUSBDevice(type: XCTUnwrap(host.usbType(named: "misuse.usb")), device: "m1", properties: [])
        core = USBDeviceCore(device: usb, speed: .high)
        usb.attached(at: .high)
        controller = RecordingController()
        _ = try host.createPlatformDevice(type: XCTUnwrap(host.platformType(named: "misuse.platform")), device: "p0", properties: [],
                                          base: 0x1000_0000, size: 0x100, irqs: [IRQLine(controller: controller, source: 3)])
        let space = AddressSpace() // the bridge holds it unowned
        let bridge = PCIHostBridge(name: "pcie0", space: space, busCount: 1, windows: [], intx: [])
        _ = try bridge.attach(at: PCIAddress(device: 1)) { bus in
            try host.createPCIFunction(type: XCTUnwrap(host.pciType(named: "misuse.pci")), device: "x0", properties: [], bus: bus)
        }
        self.space = space
        self.bridge = bridge
    }

    override func tearDown() { _ = try? captureStandardError { host?.shutdown() } }

    private func vendorRequest(_ request: UInt8) -> USBPacket {
        let packet = USBPacket(endpoint: 0x80, setup: USBSetupPacket(requestType: 0xc0, request: request, value: 0, index: 0, length: 1), length: 1)
        core.submit(packet)
        return packet
    }

    /// What `misuse_results[index]` holds (written by the plugin's create/destroy/exit).
    private func recorded(_ index: Int) throws -> Int32 {
        let library = try XCTUnwrap(dlopen(path, RTLD_NOW | RTLD_NOLOAD))
        defer { dlclose(library) }
        let results = try XCTUnwrap(dlsym(library, "misuse_results")).assumingMemoryBound(to: Int32.self)
        return results[index]
    }

    func testCompletingAUSBPacketTwiceIsRefusedAndLogged() throws {
        let (packet, log) = try captureStandardError { vendorRequest(1) }
        XCTAssertEqual(packet.status, .success)
        XCTAssertEqual(packet.data, [0x5a], "the first completion counts")
        XCTAssertEqual(run(1), BP_ERR_INVALID, "the second completion, inside the handler")
        XCTAssertTrue(log.contains("backplane: plugin misuse: error: usb->complete: bp_usb_packet 0x"), log)
        XCTAssertTrue(log.contains("was already completed or cancelled; refused with BP_ERR_INVALID"), log)
        let (again, laterLog) = try captureStandardError { run(2) }
        XCTAssertEqual(again, BP_ERR_INVALID, "a third completion, long after")
        XCTAssertTrue(laterLog.contains("plugin misuse: error: usb->complete"), laterLog)
    }

    func testAFreedTimerIsRefused() throws {
        let (result, log) = try captureStandardError { run(3) }
        XCTAssertEqual(result, BP_ERR_INVALID)
        XCTAssertTrue(log.contains("plugin misuse: error: time->timer_start: bp_timer 0x"), log)
        XCTAssertTrue(log.contains("is no longer valid (freed or destroyed)"), log)
    }

    func testAHandleOfAnotherKindIsRefused() throws {
        let (result, log) = try captureStandardError { run(4) }
        XCTAssertEqual(result, BP_ERR_INVALID)
        XCTAssertTrue(log.contains("plugin misuse: error: platform->set_irq: 0x"), log)
        XCTAssertTrue(log.contains("is a bp_timer handle, not a bp_platform_device"), log)
        XCTAssertEqual(run(9), BP_ERR_INVALID, "a PCI device handle given as a USB packet")
    }

    func testMadeUpAndNULLHandlesAreRefused() throws {
        let (result, log) = try captureStandardError { run(5) }
        XCTAssertEqual(result, BP_ERR_INVALID)
        XCTAssertTrue(log.contains("platform->set_irq: 0x1230 is not a bp_platform_device handle the host gave out"), log)
        let (null, nullLog) = try captureStandardError { run(6) }
        XCTAssertEqual(null, BP_ERR_INVALID)
        XCTAssertTrue(nullLog.contains("usb->complete: the bp_usb_packet handle is NULL"), nullLog)
    }

    func testACallFromAnotherThreadIsRefused() throws {
        let (result, log) = try captureStandardError { run(7) }
        XCTAssertEqual(result, BP_ERR_WRONG_THREAD)
        XCTAssertFalse(controller.level(3), "nothing was done")
        XCTAssertTrue(log.contains("plugin misuse: error: platform->set_irq called from a thread other than the machine thread"), log)
    }

    func testTheABI13USBCallsRefuseAnotherThreadAForeignHandleAndNULL() throws {
        let (thread, threadLog) = try captureStandardError { run(15) }
        XCTAssertEqual(thread, BP_ERR_WRONG_THREAD)
        XCTAssertTrue(threadLog.contains("plugin misuse: error: usb->remote_wakeup called from a thread other than the machine thread"), threadLog)
        let (foreign, foreignLog) = try captureStandardError { run(16) }
        XCTAssertEqual(foreign, BP_ERR_INVALID)
        XCTAssertTrue(foreignLog.contains("usb->remote_wakeup: 0x"), foreignLog)
        XCTAssertTrue(foreignLog.contains("is a bp_pci_device handle, not a bp_usb_device"), foreignLog)
        // (NULL handles are logged for "(unknown plugin)", whose lines are capped per process.)
        XCTAssertEqual(run(17), 1, "frame_number and packet_frame answer UINT32_MAX for NULL")
    }

    func testOutOfRangeArgumentsNameTheDevice() throws {
        let (msix, log) = try captureStandardError { run(8) }
        XCTAssertEqual(msix, BP_ERR_INVALID)
        XCTAssertTrue(log.contains("pci->msix_notify: vector 7 of device 'x0' is out of range (it has 2)"), log)
        let (irq, irqLog) = try captureStandardError { run(11) }
        XCTAssertEqual(irq, BP_ERR_INVALID)
        XCTAssertTrue(irqLog.contains("platform->set_irq: device 'p0' has 1 IRQ lines, no line 3"), irqLog)
    }

    func testABadCompletionLeavesThePacketPendingAndAGoodOneFinishesIt() throws {
        let packet = vendorRequest(2)
        XCTAssertNil(packet.status)
        XCTAssertEqual(run(12), BP_ERR_INVALID, "unknown status")
        XCTAssertEqual(run(13), BP_ERR_INVALID, "NULL data with a length")
        XCTAssertNil(packet.status, "still pending")
        XCTAssertEqual(run(14), BP_OK)
        XCTAssertEqual(packet.status, .stall)
        XCTAssertEqual(run(14), BP_ERR_INVALID, "now stale")
    }

    func testCallsDuringCreateAnswerWithTheDevicesState() throws {
        XCTAssertEqual(try recorded(0), BP_ERR_DISABLED, "msix_notify before the guest enabled MSI-X (a 1.2 plugin hears why)")
        XCTAssertEqual(try recorded(1), BP_ERR_BUS_MASTER_DISABLED, "DMA before the guest enabled bus mastering")
        XCTAssertEqual(run(10), 1, "the USB device handle works after create")
    }

    func testHandlesAreValidUntilDestroyReturnsAndRefusedAfter() throws {
        _ = vendorRequest(2) // a packet the plugin never completes
        let (_, log) = try captureStandardError { host.shutdown() }
        XCTAssertEqual(try recorded(2), BP_OK, "the platform handle during its destroy")
        XCTAssertEqual(try recorded(3), BP_ERR_INVALID, "the platform handle after destroy")
        XCTAssertEqual(try recorded(4), BP_ERR_INVALID, "the PCI handle after destroy")
        XCTAssertEqual(try recorded(5), BP_ERR_INVALID, "a packet of a destroyed device")
        XCTAssertEqual(try recorded(6), BP_OK, "timers live until exit returns")
        XCTAssertEqual(try recorded(7), 1, "the plugin's own handle during exit")
        XCTAssertTrue(log.contains("plugin misuse: error: platform->set_irq: bp_platform_device 0x"), log)
        XCTAssertTrue(log.contains("plugin misuse: error: pci->dma_read: bp_pci_device 0x"), log)
    }

    func testRefusalsOfOnePluginAreLoggedAtMostABoundedNumberOfTimes() throws {
        let (_, log) = try captureStandardError { for _ in 0..<200 { _ = run(5) } }
        let lines = log.split(separator: "\n")
        XCTAssertLessThanOrEqual(lines.count, 33)
        XCTAssertGreaterThan(lines.count, 0)
    }
}

/// Runs `body` with the process's standard error sent to a file; returns what was written.
func captureStandardError<R>(_ body: () throws -> R) throws -> (R, String) {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("stderr-\(getpid())-\(UUID().uuidString)")
    FileManager.default.createFile(atPath: url.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: url) }
    let file = open(url.path, O_WRONLY)
    guard file >= 0 else { throw XCTSkip("cannot open \(url.path)") }
    let saved = dup(2)
    dup2(file, 2)
    close(file)
    let result: R
    do { result = try body() } catch {
        dup2(saved, 2)
        close(saved)
        throw error
    }
    dup2(saved, 2)
    close(saved)
    return (result, (try? String(contentsOf: url, encoding: .utf8)) ?? "")
}
