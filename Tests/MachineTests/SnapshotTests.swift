import Devices
import XCTest
import Memory
@testable import Machine

/// The snapshot file (docs/snapshots.md) through `Machine.saveSnapshot`/`loadSnapshot`: what it
/// restores, what it costs, and that every bad file is one clear error, never a crash. Harts
/// and whole guests are covered by `GuestTests/SnapshotTests` (a bare-metal guest and Linux
/// resumed in a new process).
final class SnapshotTests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("backplane-snapshot-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    private func path(_ name: String) -> String { scratch.appendingPathComponent(name).path }

    /// The bundled virt board with 16 MiB of RAM and an edu function at 00:01.0.
    private func smallVirt(memory: UInt64 = 16 << 20, harts: Int = 1) throws -> Board {
        try Board.bundled(name: "virt").withMemory(size: memory).withHarts(count: harts)
            .addingDevice("edu,name=edu0,at=pcie0/01.0", catalog: .builtIn)
    }

    private func machine(_ board: Board) throws -> Machine {
        try Machine(board: board, serial: MemorySerialBackend())
    }

    /// A machine whose RAM, interrupt controller, timer, UART and edu function the "guest" (these
    /// bus writes) has changed.
    private func usedMachine() throws -> Machine {
        let machine = try machine(try smallVirt())
        machine.space.write(0x8000_0000, size: 8, value: 0x1122_3344_5566_7788)
        machine.space.write(0x80ff_fff8, size: 8, value: 0xdead_beef)
        machine.space.write(0xc00_0028, size: 4, value: 5)         // PLIC priority of source 10
        machine.space.write(0xc00_2000, size: 4, value: 1 << 10)   // context 0 enables source 10
        machine.space.write(0x200_4000, size: 8, value: 0x1234_5678_9abc)  // mtimecmp of hart 0
        machine.space.write(0x1000_0007, size: 1, value: 0x5a)     // UART scratch register
        machine.space.write(0x1000_0001, size: 1, value: 0x02)     // UART IER: THRE interrupt
        // edu at 00:01.0: BAR0 at 0x40000000, memory decoding on, liveness written.
        machine.space.write(0x3000_8010, size: 4, value: 0x4000_0000)
        machine.space.write(0x3000_8004, size: 2, value: 0x2)
        machine.space.write(0x4000_0004, size: 4, value: 0x1234_5678)
        return machine
    }

    // MARK: Round trip

    func testALoadedSnapshotHasTheSavedRAMAndDeviceState() throws {
        let saved = try usedMachine()
        try saved.saveSnapshot(to: path("a.snap"))
        let restored = try machine(try smallVirt())
        restored.space.write(0x8010_0000, size: 8, value: 42)  // what a boot wrote: gone after the load

        try restored.loadSnapshot(from: path("a.snap"))

        XCTAssertEqual(restored.space.read(0x8000_0000, size: 8), 0x1122_3344_5566_7788)
        XCTAssertEqual(restored.space.read(0x80ff_fff8, size: 8), 0xdead_beef)
        XCTAssertEqual(restored.space.read(0x8010_0000, size: 8), 0, "RAM the snapshot holds as zero reads zero")
        XCTAssertEqual(restored.space.read(0xc00_0028, size: 4), 5)
        XCTAssertEqual(restored.space.read(0xc00_2000, size: 4), 1 << 10)
        XCTAssertEqual(restored.space.read(0xc00_1000, size: 4), 1 << 10, "the UART's THRE interrupt is pending at the PLIC again")
        XCTAssertEqual(restored.space.read(0x200_4000, size: 8), 0x1234_5678_9abc)
        XCTAssertEqual(restored.space.read(0x1000_0007, size: 1), 0x5a)
        XCTAssertEqual(restored.space.read(0x3000_8010, size: 4), 0x4000_0000, "edu's BAR0 register")
        XCTAssertEqual(restored.space.read(0x4000_0004, size: 4), UInt64(~UInt32(0x1234_5678)),
                       "edu's BAR0 is mapped again and its liveness register restored")
    }

    func testTheClockGoesOnFromTheSavedTime() throws {
        let saved = try usedMachine()
        saved.space.write(0x200_bff8, size: 8, value: 5_000_000_000)  // mtime
        try saved.saveSnapshot(to: path("t.snap"))
        let restored = try machine(try smallVirt())

        try restored.loadSnapshot(from: path("t.snap"))

        let mtime = restored.space.read(0x200_bff8, size: 8) ?? 0
        XCTAssertGreaterThanOrEqual(mtime, 5_000_000_000)
        XCTAssertLessThan(mtime, 5_000_000_000 + 10_000_000 * 60, "mtime jumped by more than a minute")
    }

    func testUntouchedRAMCostsNothing() throws {
        let machine = try machine(try smallVirt(memory: 1 << 30))
        machine.space.write(0x8000_0000, size: 8, value: 1)
        machine.space.write(0x8000_2000, size: 8, value: 0)   // touched, but zero: not saved either

        try machine.saveSnapshot(to: path("big.snap"))

        let size = try FileManager.default.attributesOfItem(atPath: path("big.snap"))[.size] as? Int ?? .max
        XCTAssertLessThan(size, 32 * 1024, "a 1 GiB guest with one non-zero page")
    }

    func testASnapshotIsWrittenInPlaceOverAnExistingFile() throws {
        let machine = try usedMachine()
        let file = path("in-place.snap")
        FileManager.default.createFile(atPath: file, contents: Data(repeating: 0xff, count: 10 << 20))
        let before = try FileManager.default.attributesOfItem(atPath: file)[.systemFileNumber] as? Int

        try machine.saveSnapshot(to: file)

        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: file)[.systemFileNumber] as? Int, before, "same inode")
        XCTAssertLessThan(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int ?? .max, 10 << 20, "truncated first")
        XCTAssertNoThrow(try self.machine(try smallVirt()).loadSnapshot(from: file))
    }

    // MARK: Refusals and mismatches

    func testAFunctionThatCannotBeSavedMakesTheSnapshotRefuseAndWriteNothing() throws {
        let board = try smallVirt().addingDevice("virtio-9p-pci,name=fs0,at=pcie0/02.0,path=\(scratch.path)", catalog: .builtIn)
        let machine = try machine(board)

        XCTAssertThrowsError(try machine.saveSnapshot(to: path("refused.snap"))) { error in
            XCTAssertEqual("\(error)", "snapshot refused: device 'pcie0': PCI function 'fs0' at 00:02.0: Virtio9P cannot be saved (its state is on the host or not saved yet)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("refused.snap")))
    }

    func testAHotPluggedUSBDeviceMakesTheSnapshotRefuse() throws {
        let board = try smallVirt().addingDevice("qemu-xhci,name=xhci0,at=pcie0/02.0", catalog: .builtIn)
        let machine = try machine(board)
        XCTAssertNoThrow(try machine.saveSnapshot(to: path("xhci.snap")), "an xHCI controller alone is saved")

        XCTAssertEqual(machine.execute(command: "usb attach xhci0/port1 usb-kbd"), .output("attached usb-kbd at xhci0/port1\n"))

        XCTAssertThrowsError(try machine.saveSnapshot(to: path("hotplug.snap"))) { error in
            XCTAssertEqual("\(error)", "snapshot refused: device 'xhci0-port1-usb-kbd': hot-plugged at xhci0/port1, which a machine built from the board does not have")
        }
    }

    func testAVirtioFunctionComesBackWithItsQueues() throws {
        let board = try smallVirt().addingDevice("virtio-rng-pci,name=rng0,at=pcie0/02.0", catalog: .builtIn)
        let saved = try machine(board)
        // BAR4 (virtio regions) at 0x40100000, memory decoding on; queue 0: size 16 at 0x80001000.
        saved.space.write(0x3001_0020, size: 4, value: 0x4010_0004)
        saved.space.write(0x3001_0024, size: 4, value: 0)
        saved.space.write(0x3001_0004, size: 2, value: 0x2)
        saved.space.write(0x4010_0014, size: 1, value: 0x03)      // device status: ACKNOWLEDGE|DRIVER
        saved.space.write(0x4010_0016, size: 2, value: 0)         // queue_select 0
        saved.space.write(0x4010_0018, size: 2, value: 16)        // queue_size
        saved.space.write(0x4010_0020, size: 8, value: 0x8000_1000) // queue_desc
        saved.space.write(0x4010_001c, size: 2, value: 1)         // queue_enable
        try saved.saveSnapshot(to: path("virtio.snap"))
        let restored = try machine(board)

        try restored.loadSnapshot(from: path("virtio.snap"))

        XCTAssertEqual(restored.space.read(0x4010_0014, size: 1), 0x03, "device status through the re-mapped BAR4")
        XCTAssertEqual(restored.space.read(0x4010_0018, size: 2), 16)
        XCTAssertEqual(restored.space.read(0x4010_0020, size: 8), 0x8000_1000)
        XCTAssertEqual(restored.space.read(0x4010_001c, size: 2), 1)
    }

    func testAnUnwritablePathIsOneError() throws {
        let machine = try usedMachine()
        XCTAssertThrowsError(try machine.saveSnapshot(to: path("no/such/dir.snap"))) { error in
            XCTAssertEqual("\(error)", "snapshot '\(self.path("no/such/dir.snap"))': No such file or directory")
        }
    }

    func testAFailedWriteSaysTheSnapshotWasNotSaved() throws {
        let machine = try usedMachine()
        XCTAssertThrowsError(try machine.saveSnapshot(to: "/dev/full")) { error in
            XCTAssertEqual("\(error)", "snapshot '/dev/full': write failed after 0 bytes: No space left on device; the snapshot was not saved")
        }
    }

    func testASnapshotOfAnotherBoardIsRefusedNamingBoth() throws {
        try usedMachine().saveSnapshot(to: path("virt.snap"))
        let other = try machine(try Board.bundled(name: "virt-aia").withMemory(size: 16 << 20))

        XCTAssertThrowsError(try other.loadSnapshot(from: path("virt.snap"))) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("snapshot '\(self.path("virt.snap"))' was saved on board 'virt' (board hash "), text)
            XCTAssertTrue(text.contains("; this machine is board 'virt-aia' (board hash "), text)
        }
    }

    func testASnapshotOfTheSameBoardWithOtherOptionsIsRefused() throws {
        try usedMachine().saveSnapshot(to: path("one-hart.snap"))
        let twoHarts = try machine(try smallVirt(harts: 2))

        XCTAssertThrowsError(try twoHarts.loadSnapshot(from: path("one-hart.snap"))) { error in
            XCTAssertTrue("\(error)".contains("was saved on a different board 'virt'"), "\(error)")
        }
    }

    /// Where the run loop stands comes back exactly: a round stopped part-way (a GDB stop) and
    /// each hart's exit request, whatever the harts' and devices' restore requested.
    func testTheRoundAndTheExitRequestsComeBack() throws {
        let saved = try machine(try smallVirt(harts: 2))
        saved.unfinishedRound = UnfinishedRound(hart: 1, budgetLeft: 1234)
        saved.harts[0].state.pointee.exitRequest = 1
        saved.harts[1].state.pointee.exitRequest = 0
        try saved.saveSnapshot(to: path("round.snap"))
        saved.unfinishedRound = nil
        saved.harts[0].state.pointee.exitRequest = 0
        saved.harts[1].state.pointee.exitRequest = 1
        try saved.saveSnapshot(to: path("between.snap"))

        let loaded = try machine(try smallVirt(harts: 2))
        try loaded.loadSnapshot(from: path("round.snap"))
        XCTAssertEqual(loaded.unfinishedRound, UnfinishedRound(hart: 1, budgetLeft: 1234))
        XCTAssertEqual(loaded.harts.map { $0.state.pointee.exitRequest }, [1, 0])
        try loaded.loadSnapshot(from: path("between.snap"))
        XCTAssertNil(loaded.unfinishedRound)
        XCTAssertEqual(loaded.harts.map { $0.state.pointee.exitRequest }, [0, 1])
    }

    func testAnotherFormatVersionIsRefused() throws {
        try usedMachine().saveSnapshot(to: path("v.snap"))
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path("v.snap"))))
        bytes[8] = 4
        try Data(bytes).write(to: URL(fileURLWithPath: path("v4.snap")))

        XCTAssertThrowsError(try machine(try smallVirt()).loadSnapshot(from: path("v4.snap"))) { error in
            XCTAssertEqual("\(error)", "snapshot '\(self.path("v4.snap"))' has format version 4; this Backplane (\(SnapshotFile.backplaneVersion)) reads version 3")
        }
    }

    func testAnotherBackplaneVersionIsRefused() throws {
        try usedMachine().saveSnapshot(to: path("b.snap"))
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path("b.snap"))))
        // HEAD's payload starts with the version string (length, bytes); change one digit and
        // the section's checksum with it, so only the version differs.
        let payload = SnapshotFile.preambleSize + SnapshotFile.sectionHeaderSize
        let length = Int(bytes[payload - 8])
        bytes[payload + 8] = UInt8(ascii: "9")
        var checksum = SnapshotChecksum()
        checksum.add(Array(bytes[payload..<payload + length]))
        withUnsafeBytes(of: checksum.finish(length: UInt64(length)).littleEndian) { bytes.replaceSubrange(payload + length..<payload + length + 8, with: $0) }
        try Data(bytes).write(to: URL(fileURLWithPath: path("b9.snap")))

        XCTAssertThrowsError(try machine(try smallVirt()).loadSnapshot(from: path("b9.snap"))) { error in
            XCTAssertTrue("\(error)".hasPrefix("snapshot '\(self.path("b9.snap"))' was saved by Backplane 9"), "\(error)")
            XCTAssertTrue("\(error)".hasSuffix("; this is Backplane \(SnapshotFile.backplaneVersion)"), "\(error)")
        }
    }

    // MARK: Fuzzing the loader

    /// Where each section of a good file begins and ends.
    private func sectionBoundaries(_ bytes: [UInt8]) -> [Int] {
        var boundaries = [0, 8, SnapshotFile.preambleSize]
        var offset = SnapshotFile.preambleSize
        while offset + SnapshotFile.sectionHeaderSize <= bytes.count {
            var length = 0
            for index in 0..<8 { length |= Int(bytes[offset + 8 + index]) << (8 * index) }
            let end = offset + SnapshotFile.sectionHeaderSize + length + SnapshotFile.sectionTrailerSize
            boundaries += [offset + 4, offset + 8, offset + SnapshotFile.sectionHeaderSize, end - 8, end - 1, end]
            offset = end
        }
        return boundaries
    }

    func testATruncatedFileIsOneErrorAtEverySectionBoundary() throws {
        try usedMachine().saveSnapshot(to: path("whole.snap"))
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path("whole.snap"))))
        let boundaries = sectionBoundaries(bytes)
        XCTAssertEqual(boundaries.last, bytes.count, "the walk reaches the end of a good file")
        let target = try machine(try smallVirt())

        for length in Set(boundaries.filter { $0 < bytes.count } + stride(from: 0, to: bytes.count, by: 4093)) {
            try Data(bytes[0..<length]).write(to: URL(fileURLWithPath: path("cut.snap")))
            XCTAssertThrowsError(try target.loadSnapshot(from: path("cut.snap")), "cut at \(length)") { error in
                let text = "\(error)"
                XCTAssertTrue(text.hasPrefix("snapshot '\(self.path("cut.snap"))' is truncated")
                              || text == "snapshot '\(self.path("cut.snap"))' is not a Backplane snapshot", "cut at \(length): \(text)")
            }
        }
    }

    func testFlippedBytesAreFoundBeforeAnythingIsRestored() throws {
        let machine = try usedMachine()
        try machine.saveSnapshot(to: path("good.snap"))
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path("good.snap"))))
        let target = try self.machine(try smallVirt())
        target.space.write(0x8000_0100, size: 8, value: 77)
        var generator = SystemRandomNumberGenerator()
        let positions = sectionBoundaries(bytes).filter { $0 < bytes.count } + (0..<300).map { _ in Int.random(in: 0..<bytes.count, using: &generator) }

        for position in positions {
            var flipped = bytes
            flipped[position] ^= UInt8.random(in: 1...255, using: &generator)
            try Data(flipped).write(to: URL(fileURLWithPath: path("flipped.snap")))
            XCTAssertThrowsError(try target.loadSnapshot(from: path("flipped.snap")), "byte \(position)") { error in
                XCTAssertTrue("\(error)".hasPrefix("snapshot '\(self.path("flipped.snap"))'"), "byte \(position): \(error)")
                XCTAssertFalse("\(error)".contains("\n"), "one line")
            }
        }
        XCTAssertEqual(target.space.read(0x8000_0100, size: 8), 77, "no bad file changed the machine's RAM")
    }

    func testGarbageAndEmptyFilesAreNotSnapshots() throws {
        let target = try machine(try smallVirt())
        for (name, contents) in [("empty", Data()), ("text", Data("hello world, not a snapshot\n".utf8))] {
            try contents.write(to: URL(fileURLWithPath: path(name)))
            XCTAssertThrowsError(try target.loadSnapshot(from: path(name))) { error in
                XCTAssertEqual("\(error)", "snapshot '\(self.path(name))' is not a Backplane snapshot")
            }
        }
        XCTAssertThrowsError(try target.loadSnapshot(from: scratch.path)) { error in
            XCTAssertEqual("\(error)", "snapshot '\(self.scratch.path)': not a regular file")
        }
    }
}
