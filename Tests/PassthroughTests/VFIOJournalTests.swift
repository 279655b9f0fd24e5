import Foundation
import IRQ
import Memory
import PCI
import XCTest
@testable import Machine
@testable import Passthrough

/// A VFIO function under `--record` / `--replay` (VFIOJournal.swift): a session with the fake
/// VFIO kernel (VFIOFakeKernel.swift, the 82574L recording's configuration) is journaled, then
/// replayed with no kernel at all; the function mirrors the same configuration, the guest reads
/// the same BAR values and gets the same INTx at the same poll, and a different write is a
/// divergence. Enabling bus mastering (DMA the journal cannot see; MSI and MSI-X need it too)
/// stops the run.
final class VFIOJournalTests: XCTestCase {
    private var folder: URL!
    private let address = HostPCIAddress(bus: 0, device: 7, function: 0)

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("vfiojournal-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    private var journalPath: String { folder.appendingPathComponent("vfio.journal").path }
    private func clock() -> Timebase { Timebase(clock: .virtual(instructionsPerSecond: 1_000_000_000)) }

    private func snapshot() throws -> HostPCISnapshot {
        let recorded = try Recordings.pci("synthetic-82574l")
        return HostPCISnapshot(address: address, config: recorded.config, resources: recorded.resources, driver: "vfio-pci", iommuGroup: "7")
    }

    private func fake() throws -> VFIOFakeKernel {
        // BAR 0 mappable: under the journal it is trapped all the same.
        let kernel = VFIOFakeKernel(config: try Recordings.pci("synthetic-82574l").config,
                                    bars: [0: 0x20000, 1: 0x40000, 2: 0x20, 3: 0x4000], mappable: [0])
        kernel.memory[0]!.storeBytes(of: 0x1234_5678, toByteOffset: 0x8, as: UInt32.self)
        return kernel
    }

    private func open(_ kernel: JournaledVFIOKernel) throws -> (VFIOPCIFunction, PCIBusInterface) {
        let (bus, space) = makeBus()
        let container = try VFIOContainer(kernel: kernel, vfioPath: "/dev/vfio", for: address)
        let function = try VFIOPCIFunction(bus: bus, snapshot: try snapshot(), container: container, memory: space)
        function.report = { XCTFail("unexpected report: \($0)") }
        return (function, bus)
    }

    /// The guest's side: enable memory decoding (not bus mastering: see below), read the cause
    /// register, write a control register, then the device raises INTx (`fire`, recording
    /// only) and the machine polls; the handler reads the cause again, which ends the INTx.
    /// Returns what the guest saw.
    private func session(_ function: VFIOPCIFunction, bus: PCIBusInterface, clock: Timebase, journal: InputJournal,
                         fire: () -> Void) throws -> [String] {
        var seen: [String] = []
        clock.advance(units: 100)
        function.config.write(offset: 0x04, size: 2, value: 0x0002)
        function.configWritten(offset: 0x04, size: 2)
        seen.append(function.interruptMode)
        clock.advance(units: 100)
        seen.append(String(function.readBAR(0, offset: 0x8, size: 4), radix: 16))
        function.writeBAR(0, offset: 0x10, size: 4, value: 0x1)
        clock.advance(units: 5_000)
        journal.devicesPolled()
        fire()
        function.poll()
        journal.devicesPolled()
        seen.append("intx \(bus.config.status.contains(.interruptStatus))")
        clock.advance(units: 100)
        seen.append(String(function.readBAR(0, offset: 0x8, size: 4), radix: 16))
        seen.append("intx \(bus.config.status.contains(.interruptStatus))")
        return seen
    }

    func testAFunctionRecordedThroughVFIOReplaysWithoutTheKernel() throws {
        let recordClock = clock()
        let recorder = try InputJournal(recordingTo: journalPath, machine: "m")
        recorder.attach(recordClock)
        let fake = try fake()
        let recording = JournaledVFIOKernel(recording: fake, journal: recorder, name: "nic0", function: address.description)
        let (live, liveBus) = try open(recording)
        XCTAssertEqual(live.mappedBytes(bar: 0), 0, "under the journal no BAR is mapped: every access traps")
        XCTAssertTrue(fake.mappings.isEmpty)
        let recorded = try session(live, bus: liveBus, clock: recordClock, journal: recorder) {
            fake.memory[0]!.storeBytes(of: 0x8000_0001, toByteOffset: 0x8, as: UInt32.self)   // the cause the device sets
            fake.fire(0)
        }
        XCTAssertEqual(recorded, ["INTx", "12345678", "intx true", "80000001", "intx false"])
        XCTAssertEqual(fake.unmasks, 1, "the end of the INTx reached VFIO")
        XCTAssertEqual(fake.word(0, 0x10), 1, "the write reached the device")
        XCTAssertNil(recorder.check())
        XCTAssertNil(recorder.finish("poweroff 0"))
        let text = try String(contentsOfFile: journalPath, encoding: .utf8)
        for source in ["pci:nic0/info", "pci:nic0/region", "pci:nic0/read", "pci:nic0/fired", "pci:nic0/events", "pci:nic0/irq-set", "pci:nic0/unmask"] {
            XCTAssertTrue(text.contains(" \(source) "), "no \(source) in:\n\(text)")
        }
        XCTAssertTrue(text.contains("sent 200 out 0 cbf29ce484222325 pci:nic0/write "), text)

        // Replay: no kernel, no fake; the journal plays the device.
        let replayClock = clock()
        let replayer = try InputJournal(replaying: journalPath, machine: "m")
        replayer.attach(replayClock)
        let (played, playedBus) = try open(JournaledVFIOKernel(replaying: replayer, name: "nic0", function: address.description))
        XCTAssertEqual(played.config.read(offset: 0, size: 4), live.config.read(offset: 0, size: 4), "the same identity")
        XCTAssertEqual(played.msix?.vectors, 5)
        let replayed = try session(played, bus: playedBus, clock: replayClock, journal: replayer) {}
        XCTAssertEqual(replayed, recorded)
        XCTAssertNil(replayer.check())
        XCTAssertNil(replayer.finish("poweroff 0"))

        // The guest writes something else to the device: a divergence naming the write.
        let otherClock = clock()
        let other = try InputJournal(replaying: journalPath, machine: "m")
        other.attach(otherClock)
        let (changed, _) = try open(JournaledVFIOKernel(replaying: other, name: "nic0", function: address.description))
        otherClock.advance(units: 100)
        changed.config.write(offset: 0x04, size: 2, value: 0x0003)
        changed.configWritten(offset: 0x04, size: 2)
        let divergence = try XCTUnwrap(other.check() ?? other.divergence)
        XCTAssertTrue(divergence.contains("to pci:nic0/write at time 100; the recording has"), divergence)
    }

    func testEnablingBusMasteringUnderTheJournalStopsTheRunAndNeverReachesTheDevice() throws {
        let recordClock = clock()
        let recorder = try InputJournal(recordingTo: journalPath, machine: "m")
        recorder.attach(recordClock)
        let fake = try fake()
        let (function, _) = try open(JournaledVFIOKernel(recording: fake, journal: recorder, name: "nic0", function: address.description))
        XCTAssertNil(recorder.check())
        function.config.write(offset: 0x04, size: 2, value: 0x0006)
        function.configWritten(offset: 0x04, size: 2)
        XCTAssertEqual(fake.word(7, 4) & 0x7, 0x2, "memory decoding on, bus mastering kept off")
        XCTAssertEqual(recorder.check(), "--record: device 'nic0' (pci.host, VFIO 0000:00:07.0): the guest enabled bus mastering; the device's DMA into guest RAM goes through the IOMMU where the journal cannot see it, so this run cannot be recorded or replayed (docs/passthrough.md, \"Record and replay\")")
    }

    func testTheFunctionsDescriptionRoundTripsThroughTheJournalAndBadBytesAreRefused() throws {
        let original = try snapshot()
        let decoded = try XCTUnwrap(HostPCISnapshot(journalBytes: original.journalBytes))
        XCTAssertEqual(decoded.address, original.address)
        XCTAssertEqual(decoded.config, original.config)
        XCTAssertEqual(decoded.resources, original.resources)
        XCTAssertEqual(decoded.driver, "vfio-pci")
        XCTAssertEqual(decoded.iommuGroup, "7")
        let bytes = original.journalBytes
        XCTAssertNil(HostPCISnapshot(journalBytes: Array(bytes.dropLast())))
        XCTAssertNil(HostPCISnapshot(journalBytes: bytes + [0]))
        XCTAssertNil(HostPCISnapshot(journalBytes: []))
    }
}
