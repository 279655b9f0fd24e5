import CPU
import Foundation
import IRQ
import Memory

/// Snapshots (docs/snapshots.md): the whole machine to one file and back, between slices.
///
/// Saved: RAM (only pages that are non-zero; pages the host never touched are skipped without
/// being read, so an untouched GiB costs nothing), every hart's architectural state, the clock
/// and every lifecycle participant's `save(to:)` bytes. Not saved: what the machine is built
/// from (the board, the images, backing files): a snapshot is loaded into a machine built from
/// the same board with the same options, which the header's board hash checks.
extension Machine {
    /// Why this machine cannot be saved now, one line per device; empty when it can.
    public func snapshotRefusals() -> [String] {
        var reasons: [String] = []
        for (index, participant) in lifecycle.enumerated() {
            guard let reason = participant.snapshotRefusal else { continue }
            // Plugin devices name themselves (DeviceLifecycle.snapshotRefusal); built-in ones
            // are named here.
            reasons.append(reason.hasPrefix("device '") ? reason : "device '\(lifecycleNames[index])': \(reason)")
        }
        for (name, place) in hotplugged.sorted(by: { $0.key < $1.key }) {
            reasons.append("device '\(name)': hot-plugged at \(place), which a machine built from the board does not have")
        }
        return reasons
    }

    /// Writes a snapshot of the machine to `path` (in place; an existing file is overwritten).
    /// Call between slices, as the control socket does.
    /// - Throws: `MachineError` naming the device that refuses (nothing is written then) or
    ///   the write that failed (the file is then cut to zero bytes, and the message says so).
    public func saveSnapshot(to path: String) throws(MachineError) {
        let refusals = snapshotRefusals()
        guard refusals.isEmpty else {
            throw MachineError("snapshot refused: " + refusals.joined(separator: "; "))
        }
        let output: SnapshotOutput
        do { output = try SnapshotOutput(path: path) } catch { throw MachineError(error.message) }
        do {
            try output.writePreamble()
            try output.section(.header, snapshotHeader())
            try writeRAM(to: output)
            for hart in harts {
                var writer = DeviceStateWriter()
                hart.saveArchitecturalState(to: &writer)
                try output.section(.hart, writer.bytes)
            }
            var clock = DeviceStateWriter()
            timebase.save(to: &clock)
            // Where the round stands (format 3): 0 between rounds, else the stopped hart + 1 and
            // what is left of its slice (a save at a GDB stop).
            clock.put(UInt64(unfinishedRound.map { $0.hart + 1 } ?? 0))
            clock.put(UInt64(unfinishedRound?.budgetLeft ?? 0))
            // Each hart's exit request: a hart whose interrupt line a device poll raised ends
            // its next slice at once (Hart+Run), so the flag decides where the next round's
            // slices fall. A load restores it as saved, not as the devices' restore leaves it.
            clock.put(UInt64(harts.count))
            for hart in harts { clock.put(UInt64(hart.state.pointee.exitRequest != 0 ? 1 : 0)) }
            try output.section(.clock, clock.bytes)
            var devices = DeviceStateWriter()
            let states = saveDeviceStates()
            devices.put(UInt64(states.count))
            for (name, state) in zip(lifecycleNames, states) {
                devices.put(Array(name.utf8))
                devices.put(state)
            }
            try output.section(.devices, devices.bytes)
            try output.section(.end, [])
            try output.finish()
        } catch {
            let emptied = output.discard()
            throw MachineError("\(error.message); the snapshot was not saved" + (emptied ? " ('\(path)' is left empty)" : ""))
        }
    }

    /// Restores the snapshot at `path` into this machine, which must have been built from the
    /// same board (with the same --smp, --memory and --device options) and booted: RAM, harts,
    /// the clock, then the devices (which drive their interrupt lines to the restored levels).
    /// - Throws: `MachineError` with one line naming the file: not a snapshot, another format
    ///   or Backplane version, another board, truncated or corrupt (checked before anything is
    ///   restored), or a device whose saved state does not fit.
    public func loadSnapshot(from path: String) throws(MachineError) {
        let input: SnapshotInput
        do { input = try SnapshotInput(path: path) } catch { throw MachineError(error.message) }
        let harts = input.payloads(.hart)
        do {
            try checkHeader(input, path: path)
            guard harts.count == self.harts.count else {
                throw SnapshotError("snapshot '\(path)' holds \(harts.count) harts, this machine has \(self.harts.count)")
            }
            try restoreRAM(from: input, path: path)
        } catch let error as SnapshotError { throw MachineError(error.message) }
        catch { throw MachineError("snapshot '\(path)': \(error)") }
        for (hart, range) in zip(self.harts, harts) {
            var reader = DeviceStateReader(input.array(range))
            do {
                try hart.restoreArchitecturalState(from: &reader)
                guard reader.isAtEnd else { throw DeviceStateError.mismatch("hart state is longer than this Backplane's") }
            } catch {
                throw MachineError("snapshot '\(path)': hart \(hart.state.pointee.hartid): \(error)")
            }
        }
        var clock = DeviceStateReader(input.array(input.payloads(.clock)[0]))
        var exitRequests: [Bool] = []
        do {
            try timebase.restore(from: &clock)
            let (hart, left) = (try clock.uint64(), try clock.uint64())
            guard try clock.uint64() == UInt64(harts.count) else { throw DeviceStateError.mismatch("exit requests for another hart count") }
            exitRequests = []
            for _ in harts {
                let flag = try clock.uint64()
                guard flag <= 1 else { throw DeviceStateError.mismatch("exit request \(flag)") }
                exitRequests.append(flag == 1)
            }
            guard clock.isAtEnd else { throw DeviceStateError.mismatch("clock state is longer than this Backplane's") }
            if hart == 0 {
                guard left == 0 else { throw DeviceStateError.mismatch("a slice left (\(left)) between rounds") }
                unfinishedRound = nil
            } else {
                guard hart <= UInt64(harts.count), left > 0, left <= UInt64(Machine.sliceInstructions) else {
                    throw DeviceStateError.mismatch("round stopped at hart \(hart - 1) with \(left) of its slice left")
                }
                unfinishedRound = UnfinishedRound(hart: Int(hart - 1), budgetLeft: Int(left))
            }
        } catch {
            throw MachineError("snapshot '\(path)': clock: \(error)")
        }
        var devices = DeviceStateReader(input.array(input.payloads(.devices)[0]))
        var states: [[UInt8]] = []
        do {
            let count = try devices.uint64()
            guard count == UInt64(lifecycle.count) else {
                throw DeviceStateError.mismatch("\(count) devices saved, this machine has \(lifecycle.count)")
            }
            for name in lifecycleNames {
                let saved = String(decoding: try devices.data(), as: UTF8.self)
                guard saved == name else { throw DeviceStateError.mismatch("device '\(saved)' saved where this machine has '\(name)'") }
                states.append(try devices.data())
            }
        } catch {
            throw MachineError("snapshot '\(path)': devices: \(error)")
        }
        do { try restoreDeviceStates(states) } catch { throw MachineError("snapshot '\(path)': \(error.reason)") }
        // Translations of RAM pages that changed under the harts (the harts were flushed above;
        // BAR regions may have been remapped by the devices since).
        flushedRAMUnmaps = space.ramUnmaps
        for hart in self.harts { hart.flushTranslations() }
        // Last, over what the harts' and devices' restore requested: the next round runs as the
        // saving machine's would have (both engines look at pending interrupts before each
        // block whatever the flag says).
        for (hart, request) in zip(self.harts, exitRequests) { hart.state.pointee.exitRequest = request ? 1 : 0 }
    }

    // MARK: Header

    private func snapshotHeader() -> [UInt8] {
        var header = DeviceStateWriter()
        header.put(Array(SnapshotFile.backplaneVersion.utf8))
        header.put(Array(board.name.utf8))
        header.put(Array(board.snapshotHash.utf8))
        header.put(UInt64(harts.count))
        return header.bytes
    }

    private func checkHeader(_ input: SnapshotInput, path: String) throws {
        var header = DeviceStateReader(input.array(input.payloads(.header)[0]))
        let version = String(decoding: try header.data(), as: UTF8.self)
        let boardName = String(decoding: try header.data(), as: UTF8.self)
        let boardHash = String(decoding: try header.data(), as: UTF8.self)
        _ = try header.uint64()
        guard version == SnapshotFile.backplaneVersion else {
            throw SnapshotError("snapshot '\(path)' was saved by Backplane \(version); this is Backplane \(SnapshotFile.backplaneVersion)")
        }
        guard boardName == board.name, boardHash == board.snapshotHash else {
            let what = boardName == board.name ? "a different board '\(boardName)' (board hash \(boardHash))" : "board '\(boardName)' (board hash \(boardHash))"
            throw SnapshotError("snapshot '\(path)' was saved on \(what); this machine is board '\(board.name)' (board hash \(board.snapshotHash)) from \(board.sourcePath): load it with the board and options it was saved with")
        }
    }

    // MARK: RAM

    /// Runs of non-zero pages of one RAM region: (first page, page count).
    private func nonZeroRuns(_ region: MemoryRegion) -> [(page: Int, count: Int)] {
        guard let host = region.host else { return [] }
        let pageSize = SnapshotFile.pageSize
        let pages = Int(region.size) / pageSize
        let hostPage = Int(getpagesize())
        // mincore (a page the process never touched is not resident and reads as zero: it is
        // anonymous private memory, MemoryRegion.swift) skips untouched memory without reading it.
        var resident = [UInt8](repeating: 1, count: (Int(region.size) + hostPage - 1) / hostPage)
        _ = resident.withUnsafeMutableBufferPointer { mincore(host, Int(region.size), $0.baseAddress) }
        var runs: [(page: Int, count: Int)] = []
        for page in 0..<pages {
            let offset = page * pageSize
            guard resident[offset / hostPage] & 1 != 0 else { continue }
            // SAFETY: the page lies inside the region's host mapping.
            let words = UnsafeRawPointer(host + offset).assumingMemoryBound(to: UInt64.self)
            var zero = true
            for index in 0..<pageSize / 8 where words[index] != 0 { zero = false; break }
            if zero { continue }
            if let last = runs.last, last.page + last.count == page {
                runs[runs.count - 1].count += 1
            } else {
                runs.append((page, 1))
            }
        }
        return runs
    }

    private func ramRegions() -> [MemoryRegion] {
        board.memory.compactMap { space.region(containing: $0.base) }.filter { $0.kind == .ram && $0.host != nil }
    }

    private func writeRAM(to output: SnapshotOutput) throws(SnapshotError) {
        let regions = ramRegions()
        let runs = regions.map(nonZeroRuns)
        // The payload's length first (the section header carries it), then the pages streamed.
        var length: UInt64 = 8
        for (region, regionRuns) in zip(regions, runs) {
            length += 8 + UInt64(region.name.utf8.count) + 8 * 3
            for run in regionRuns { length += 16 + UInt64(run.count * SnapshotFile.pageSize) }
        }
        try output.begin(.ram, length: length)
        var head = DeviceStateWriter()
        head.put(UInt64(regions.count))
        try output.append(head.bytes)
        for (region, regionRuns) in zip(regions, runs) {
            var fields = DeviceStateWriter()
            fields.put(Array(region.name.utf8))
            fields.put(region.base)
            fields.put(region.size)
            fields.put(UInt64(regionRuns.count))
            try output.append(fields.bytes)
            for run in regionRuns {
                var position = DeviceStateWriter()
                position.put(UInt64(run.page))
                position.put(UInt64(run.count))
                try output.append(position.bytes)
                // SAFETY: the run lies inside the region's host mapping.
                try output.append(UnsafeRawBufferPointer(start: region.host! + run.page * SnapshotFile.pageSize,
                                                          count: run.count * SnapshotFile.pageSize))
            }
        }
        try output.end()
    }

    private func restoreRAM(from input: SnapshotInput, path: String) throws {
        let range = input.payloads(.ram)[0]
        let regions = ramRegions()
        var offset = range.lowerBound
        func uint64() throws(SnapshotError) -> UInt64 {
            guard range.upperBound - offset >= 8 else { throw SnapshotError("snapshot '\(path)' is corrupt: the RAM section ends early") }
            defer { offset += 8 }
            return input.bytes(offset..<offset + 8).loadUnaligned(as: UInt64.self).littleEndian
        }
        let count = try uint64()
        guard count == UInt64(regions.count) else {
            throw SnapshotError("snapshot '\(path)' holds \(count) RAM regions, this machine has \(regions.count)")
        }
        // Check the whole section before the first byte of RAM changes.
        var plan: [(region: MemoryRegion, runs: [(page: Int, count: Int, at: Int)])] = []
        for region in regions {
            let nameLength = try uint64()
            guard nameLength <= UInt64(range.upperBound - offset) else { throw SnapshotError("snapshot '\(path)' is corrupt: the RAM section ends early") }
            let name = String(decoding: input.bytes(offset..<offset + Int(nameLength)), as: UTF8.self)
            offset += Int(nameLength)
            let base = try uint64(), size = try uint64()
            guard name == region.name, base == region.base, size == region.size else {
                throw SnapshotError("snapshot '\(path)' holds RAM '\(name)' at \(hex(base)) size \(hex(size)); this machine has '\(region.name)' at \(hex(region.base)) size \(hex(region.size))")
            }
            let runCount = try uint64()
            let pages = UInt64(region.size) / UInt64(SnapshotFile.pageSize)
            var runs: [(page: Int, count: Int, at: Int)] = []
            for _ in 0..<min(runCount, pages) {
                let page = try uint64(), count = try uint64()
                guard page < pages, count <= pages - page,
                      count * UInt64(SnapshotFile.pageSize) <= UInt64(range.upperBound - offset) else {
                    throw SnapshotError("snapshot '\(path)' is corrupt: RAM '\(name)' pages \(page)+\(count) do not fit")
                }
                runs.append((Int(page), Int(count), offset))
                offset += Int(count) * SnapshotFile.pageSize
            }
            guard UInt64(runs.count) == runCount else { throw SnapshotError("snapshot '\(path)' is corrupt: RAM '\(name)' has \(runCount) runs") }
            plan.append((region, runs))
        }
        guard offset == range.upperBound else { throw SnapshotError("snapshot '\(path)' is corrupt: the RAM section is longer than its pages") }
        for (region, runs) in plan {
            guard let host = region.host else { continue }
            // Everything the boot wrote goes: the region is anonymous private memory, so
            // MADV_DONTNEED makes every page read as zero again (and untouched).
            if madvise(host, Int(region.size), MADV_DONTNEED) != 0 { memset(host, 0, Int(region.size)) }
            for run in runs {
                let bytes = input.bytes(run.at..<run.at + run.count * SnapshotFile.pageSize)
                // SAFETY: checked above: the run lies inside the region.
                (host + run.page * SnapshotFile.pageSize).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
            }
        }
    }

    private func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
}

/// `--snapshot-save FILE --snapshot-at TIME` (docs/snapshots.md, "Saving at a virtual time").
public struct ScheduledSnapshot: Sendable {
    /// Where to write it.
    public var path: String
    /// The virtual time asked for, in units (instructions); the snapshot is taken at the first
    /// round boundary at or after it.
    public var units: UInt64
    /// The time as the user wrote it, for the notice.
    public var asked: String

    public init(path: String, units: UInt64, asked: String) {
        self.path = path
        self.units = units
        self.asked = asked
    }
}
