import Foundation
import Memory

/// The snapshot file format (docs/snapshots.md): what `Machine.saveSnapshot` writes and
/// `Machine.loadSnapshot` reads.
///
/// ```
/// magic "BPSNAP\r\n" (8 bytes) · format version u32 · 0 u32
/// sections, each: tag (4 ASCII bytes) · 0 u32 · payload length u64 · payload · checksum u64
///   HEAD  Backplane version, board name, board hash, hart count, device names
///   RAM   per region: name, base, size, then runs of non-zero 4 KiB pages (offset, count, bytes)
///   HART  one per hart: mhartid and the architectural fields (Hart+Snapshot.swift)
///   CLOK  the machine's Timebase (Timebase.save(to:)), then where the round stands
///   DEVS  every lifecycle participant's saved state, in lifecycle order: name, bytes
///   END   empty: a file without it was cut short
/// ```
/// Integers are little-endian; the payloads are `DeviceStateWriter` fields. The checksum is
/// `SnapshotChecksum` of the payload, so a flipped byte anywhere is found before anything is
/// restored.
public enum SnapshotFile {
    /// The first 8 bytes of every snapshot ("\r\n" catches a text-mode transfer).
    static let magic: [UInt8] = Array("BPSNAP\r\n".utf8)
    /// The layout this Backplane writes and reads. Bump it when a section's layout or any saved
    /// device's field list changes.
    public static let formatVersion: UInt32 = 3
    /// The Backplane release that writes the file (`BackplaneVersion`).
    public static var backplaneVersion: String { BackplaneVersion.string }
    /// Guest page size the RAM section counts in.
    static let pageSize = 4096

    enum Tag: String, CaseIterable {
        case header = "HEAD"
        case ram = "RAM "
        case hart = "HART"
        case clock = "CLOK"
        case devices = "DEVS"
        case end = "END "

        var bytes: [UInt8] { Array(rawValue.utf8) }
        /// How messages name the section.
        var name: String { rawValue.trimmingCharacters(in: .whitespaces) }
    }

    /// Bytes before the first section: magic, version, reserved word.
    static let preambleSize = 16
    /// Bytes around each payload: tag, reserved word, length before it; checksum after it.
    static let sectionHeaderSize = 16
    static let sectionTrailerSize = 8
}

/// A 64-bit checksum of section payloads: words of 8 bytes mixed by multiply and xor-shift (not
/// cryptographic: it finds corruption, not tampering). Fast enough for GiBs of RAM pages.
struct SnapshotChecksum {
    private(set) var value: UInt64 = 0x9e37_79b9_7f4a_7c15
    /// Bytes carried over until a whole word is there.
    private var pending: UInt64 = 0
    private var pendingCount = 0

    mutating func add(_ bytes: UnsafeRawBufferPointer) {
        var index = 0
        let count = bytes.count
        while pendingCount != 0 && index < count {
            addByte(bytes[index])
            index += 1
        }
        // SAFETY: loads stay inside `bytes` (index + 8 <= count).
        while index + 8 <= count {
            mix(bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            index += 8
        }
        while index < count {
            addByte(bytes[index])
            index += 1
        }
    }

    mutating func add(_ bytes: [UInt8]) { bytes.withUnsafeBytes { add($0) } }

    private mutating func addByte(_ byte: UInt8) {
        pending |= UInt64(byte) << UInt64(8 * pendingCount)
        pendingCount += 1
        if pendingCount == 8 {
            mix(pending)
            pending = 0
            pendingCount = 0
        }
    }

    @inline(__always) private mutating func mix(_ word: UInt64) {
        value = (value ^ word) &* 0x0000_0100_0000_01b3
        value ^= value >> 29
    }

    /// The checksum of everything added, including a final partial word and the length.
    func finish(length: UInt64) -> UInt64 {
        var copy = self
        if copy.pendingCount != 0 { copy.mix(copy.pending ^ UInt64(copy.pendingCount) << 56) }
        copy.mix(length)
        return copy.value
    }
}

/// Why a snapshot could not be written or read: one line that names the file.
public struct SnapshotError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

// MARK: Writing

/// Writes a snapshot file in place (opened with O_TRUNC, never renamed over), buffered, with a
/// running checksum per section.
final class SnapshotOutput {
    let path: String
    private let descriptor: Int32
    private var buffer: [UInt8] = []
    private(set) var bytesWritten: UInt64 = 0
    private var checksum = SnapshotChecksum()
    private var sectionLength: UInt64 = 0
    private var sectionExpected: UInt64 = 0

    init(path: String) throws(SnapshotError) {
        self.path = path
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SnapshotError("snapshot '\(path)': \(String(cString: strerror(errno)))") }
        descriptor = fd
        buffer.reserveCapacity(1 << 20)
    }

    deinit { close(descriptor) }

    func writePreamble() throws(SnapshotError) {
        raw(SnapshotFile.magic)
        raw(littleEndian: UInt64(SnapshotFile.formatVersion))
        try flushIfFull()
    }

    /// A whole section whose payload is in memory.
    func section(_ tag: SnapshotFile.Tag, _ payload: [UInt8]) throws(SnapshotError) {
        try begin(tag, length: UInt64(payload.count))
        try append(payload)
        try end()
    }

    /// Starts a section of `length` payload bytes, which `append` then supplies.
    func begin(_ tag: SnapshotFile.Tag, length: UInt64) throws(SnapshotError) {
        raw(tag.bytes)
        raw([0, 0, 0, 0])
        raw(littleEndian: length)
        checksum = SnapshotChecksum()
        sectionLength = 0
        sectionExpected = length
        try flushIfFull()
    }

    func append(_ bytes: [UInt8]) throws(SnapshotError) {
        checksum.add(bytes)
        sectionLength += UInt64(bytes.count)
        buffer += bytes
        try flushIfFull()
    }

    func append(_ bytes: UnsafeRawBufferPointer) throws(SnapshotError) {
        checksum.add(bytes)
        sectionLength += UInt64(bytes.count)
        buffer.append(contentsOf: bytes)
        try flushIfFull()
    }

    func end() throws(SnapshotError) {
        precondition(sectionLength == sectionExpected, "snapshot section length computed wrongly")
        raw(littleEndian: checksum.finish(length: sectionLength))
        try flushIfFull()
    }

    /// Writes what is buffered and makes it durable.
    func finish() throws(SnapshotError) {
        try flush()
        guard fsync(descriptor) == 0 || errno == EINVAL else { throw failure() }
    }

    /// After a failure: a regular file is cut to zero bytes, so no half snapshot stays behind
    /// looking like a whole one (the loader would reject it anyway: no END section).
    /// Returns whether the file was cut (false for a device or pipe, which is left alone).
    @discardableResult
    func discard() -> Bool {
        var status = stat()
        guard fstat(descriptor, &status) == 0 && (status.st_mode & S_IFMT) == S_IFREG else { return false }
        return ftruncate(descriptor, 0) == 0
    }

    private func raw(_ bytes: [UInt8]) { buffer += bytes }

    private func raw(littleEndian value: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { buffer.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    private func flushIfFull() throws(SnapshotError) {
        if buffer.count >= 1 << 20 { try flush() }
    }

    private func flush() throws(SnapshotError) {
        var offset = 0
        while offset < buffer.count {
            let written = buffer.withUnsafeBytes { write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { throw failure() }
            offset += written
            bytesWritten += UInt64(written)
        }
        buffer.removeAll(keepingCapacity: true)
    }

    private func failure() -> SnapshotError {
        SnapshotError("snapshot '\(path)': write failed after \(bytesWritten) bytes: \(String(cString: strerror(errno)))")
    }
}

// MARK: Reading

/// A snapshot file mapped read-only, its sections found and their checksums checked before
/// anything is restored.
final class SnapshotInput {
    let path: String
    private let base: UnsafeRawPointer?
    let size: Int
    /// Sections in file order: tag and payload range.
    private(set) var sections: [(tag: SnapshotFile.Tag, range: Range<Int>)] = []

    init(path: String) throws(SnapshotError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SnapshotError("snapshot '\(path)': \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw SnapshotError("snapshot '\(path)': \(String(cString: strerror(errno)))") }
        guard (status.st_mode & S_IFMT) == S_IFREG else { throw SnapshotError("snapshot '\(path)': not a regular file") }
        size = Int(status.st_size)
        if size == 0 {
            base = nil
        } else {
            let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
            guard let mapped, mapped != MAP_FAILED else {
                throw SnapshotError("snapshot '\(path)': cannot map \(size) bytes: \(String(cString: strerror(errno)))")
            }
            base = UnsafeRawPointer(mapped)
        }
        try parse()
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), size) }
    }

    /// The bytes `range` of the file (inside it: `parse` checked every range it hands out).
    func bytes(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base.map { $0 + range.lowerBound }, count: range.count)
    }

    func array(_ range: Range<Int>) -> [UInt8] { Array(bytes(range)) }

    func payloads(_ tag: SnapshotFile.Tag) -> [Range<Int>] { sections.filter { $0.tag == tag }.map(\.range) }

    private func uint64(at offset: Int) -> UInt64 {
        bytes(offset..<offset + 8).loadUnaligned(as: UInt64.self).littleEndian
    }

    private func parse() throws(SnapshotError) {
        let magic = SnapshotFile.magic
        guard size >= magic.count, Array(bytes(0..<magic.count)) == magic else {
            throw SnapshotError("snapshot '\(path)' is not a Backplane snapshot")
        }
        guard size >= SnapshotFile.preambleSize else {
            throw SnapshotError("snapshot '\(path)' is truncated: it ends at byte \(size), inside its preamble")
        }
        let version = uint64(at: 8)
        guard version == UInt64(SnapshotFile.formatVersion) else {
            throw SnapshotError("snapshot '\(path)' has format version \(version); this Backplane (\(SnapshotFile.backplaneVersion)) reads version \(SnapshotFile.formatVersion)")
        }
        var offset = SnapshotFile.preambleSize
        while true {
            guard size - offset >= SnapshotFile.sectionHeaderSize else {
                throw SnapshotError("snapshot '\(path)' is truncated: it ends at byte \(size) before its END section")
            }
            let tagBytes = Array(bytes(offset..<offset + 4))
            guard let tag = SnapshotFile.Tag.allCases.first(where: { $0.bytes == tagBytes }),
                  uint64(at: offset + 4) & 0xffff_ffff == 0 else {
                throw SnapshotError("snapshot '\(path)' is corrupt: no valid section at byte \(offset)")
            }
            let length = uint64(at: offset + 8)
            let start = offset + SnapshotFile.sectionHeaderSize
            guard length <= UInt64(size - start), UInt64(size - start) - length >= UInt64(SnapshotFile.sectionTrailerSize) else {
                throw SnapshotError("snapshot '\(path)' is truncated: section \(tag.name) at byte \(offset) needs \(length) bytes, the file ends at byte \(size)")
            }
            let range = start..<start + Int(length)
            var checksum = SnapshotChecksum()
            checksum.add(bytes(range))
            guard checksum.finish(length: length) == uint64(at: range.upperBound) else {
                throw SnapshotError("snapshot '\(path)' is corrupt: section \(tag.name) at byte \(offset) fails its checksum")
            }
            sections.append((tag, range))
            offset = range.upperBound + SnapshotFile.sectionTrailerSize
            if tag == .end { break }
        }
        guard offset == size else {
            throw SnapshotError("snapshot '\(path)' is corrupt: \(size - offset) bytes follow its END section")
        }
        guard sections.first?.tag == .header else {
            throw SnapshotError("snapshot '\(path)' is corrupt: it does not begin with a HEAD section")
        }
        for tag in [SnapshotFile.Tag.header, .ram, .clock, .devices, .end] where payloads(tag).count != 1 {
            throw SnapshotError("snapshot '\(path)' is corrupt: it has \(payloads(tag).count) \(tag.name) sections, not one")
        }
    }
}

// MARK: The board a snapshot belongs to

extension Board {
    /// What of the board a snapshot depends on, as canonical text: harts, memory map, every
    /// device with its type, registers, interrupts, place and properties, and the console.
    /// Comments, layout, descriptions and the file's path are not part of it.
    var snapshotIdentity: String {
        var text = "harts \(harts.count) \(harts.isa) \(harts.mmu.rawValue) \(harts.timebaseFrequency)\n"
        for region in memory { text += "memory \(region.name) \(region.base) \(region.size)\n" }
        for device in devices {
            text += "device \(device.name) \(device.type) reg=\(device.base.map(String.init) ?? "-"):\(device.size.map(String.init) ?? "-")"
            text += " irq=\(device.irqs.map(\.description).joined(separator: ","))"
            if let address = device.pciAddress { text += " at=\(address)" }
            if let port = device.usbPort { text += " at=\(port)" }
            for key in device.properties.keys.sorted() { text += " \(key)=\(device.properties[key]!)" }
            text += "\n"
        }
        text += "stdout \(boot.stdout ?? "-")\n"
        return text
    }

    /// A 64-bit hash of `snapshotIdentity` (FNV-1a), as 16 hex digits.
    var snapshotHash: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in snapshotIdentity.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        let digits = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
