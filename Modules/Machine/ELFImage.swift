import Foundation

/// A problem with a file the user asked us to load. The description is one line naming the file.
public struct LoadError: Error, Equatable, CustomStringConvertible {
    public let path: String
    public let reason: String
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
    public var description: String { "\(path): \(reason)" }
}

/// An ELF64 little-endian RISC-V executable: what to copy where, where to start, and its symbols.
///
/// Only what a loader needs (ELF-64 Object File Format 1.5; RISC-V ELF psABI): PT_LOAD segments at
/// their physical addresses, the entry point, and the symbol table for HTIF's `tohost`/`fromhost`.
public struct ELFImage {
    public struct Segment: Equatable {
        /// Guest physical address (p_paddr).
        public let address: UInt64
        /// Bytes from the file; the rest up to `memorySize` is zero.
        public let data: [UInt8]
        public let memorySize: UInt64

        public init(address: UInt64, data: [UInt8], memorySize: UInt64) {
            self.address = address
            self.data = data
            self.memorySize = memorySize
        }
    }

    public let entry: UInt64
    public let segments: [Segment]
    /// Global and local symbols by name (last definition wins), with their values.
    public let symbols: [String: UInt64]

    static let machineRISCV: UInt16 = 243

    /// Whether `bytes` start with the ELF magic, so callers can tell ELF from raw images.
    public static func isELF(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 4 && bytes[0] == 0x7f && bytes[1] == 0x45 && bytes[2] == 0x4c && bytes[3] == 0x46
    }

    /// Parses an ELF file's bytes. `path` only names the file in errors.
    public init(bytes: [UInt8], path: String) throws {
        func fail(_ reason: String) -> LoadError { LoadError(path: path, reason: reason) }
        guard ELFImage.isELF(bytes) else { throw fail("not an ELF file") }
        guard bytes.count >= 64 else { throw fail("truncated ELF header") }
        guard bytes[4] == 2 else { throw fail("not a 64-bit ELF (class \(bytes[4])); Backplane runs RV64 guests") }
        guard bytes[5] == 1 else { throw fail("not a little-endian ELF") }
        let reader = ByteReader(bytes)
        // Every offset and size below comes from the file: compared by subtraction from the file
        // size, never by adding, so a hostile header cannot overflow an Int (issue: ELF fuzzing).
        func inside(_ offset: Int, _ length: Int) -> Bool {
            offset >= 0 && length >= 0 && offset <= bytes.count && length <= bytes.count - offset
        }
        let machine = reader.u16(18)
        guard machine == ELFImage.machineRISCV else {
            throw fail("ELF for the wrong machine (e_machine \(machine), expected \(ELFImage.machineRISCV) RISC-V)")
        }
        let type = reader.u16(16)
        guard type == 2 || type == 3 else { throw fail("not an executable ELF (e_type \(type))") }
        entry = reader.u64(24)
        let programHeaders = Int(clamping: reader.u64(32))
        let sectionHeaders = Int(clamping: reader.u64(40))
        let programEntrySize = Int(reader.u16(54)), programCount = Int(reader.u16(56))
        let sectionEntrySize = Int(reader.u16(58)), sectionCount = Int(reader.u16(60))

        var segments: [Segment] = []
        for index in 0..<programCount {
            let (scaled, overflow1) = index.multipliedReportingOverflow(by: programEntrySize)
            let (header, overflow2) = programHeaders.addingReportingOverflow(scaled)
            guard programEntrySize >= 56, !overflow1, !overflow2, inside(header, 56) else { throw fail("program header \(index) lies outside the file") }
            guard reader.u32(header) == 1 else { continue }   // PT_LOAD
            let offset = reader.u64(header + 8), physical = reader.u64(header + 24)
            let fileSize = reader.u64(header + 32), memorySize = reader.u64(header + 40)
            guard fileSize <= memorySize else { throw fail("segment \(index) has p_filesz larger than p_memsz") }
            guard offset <= UInt64(bytes.count), fileSize <= UInt64(bytes.count) - offset else {
                throw fail("segment \(index) lies outside the file")
            }
            guard memorySize > 0 else { continue }
            segments.append(Segment(address: physical, data: Array(bytes[Int(offset)..<Int(offset + fileSize)]), memorySize: memorySize))
        }
        guard !segments.isEmpty else { throw fail("ELF has no loadable segment") }
        self.segments = segments

        var symbols: [String: UInt64] = [:]
        if sectionEntrySize >= 64, sectionHeaders > 0 {
            for index in 0..<sectionCount {
                let (scaled, overflow1) = index.multipliedReportingOverflow(by: sectionEntrySize)
                let (header, overflow2) = sectionHeaders.addingReportingOverflow(scaled)
                guard !overflow1, !overflow2, inside(header, 64), reader.u32(header + 4) == 2 else { continue }   // SHT_SYMTAB
                let tableOffset = Int(clamping: reader.u64(header + 24)), tableSize = Int(clamping: reader.u64(header + 32))
                let link = Int(reader.u32(header + 40))
                let (linkScaled, overflow3) = link.multipliedReportingOverflow(by: sectionEntrySize)
                let (stringHeader, overflow4) = sectionHeaders.addingReportingOverflow(linkScaled)
                guard !overflow3, !overflow4, inside(stringHeader, 64) else { continue }
                let strings = Int(clamping: reader.u64(stringHeader + 24)), stringsSize = Int(clamping: reader.u64(stringHeader + 32))
                guard inside(tableOffset, tableSize), inside(strings, stringsSize) else { continue }
                let tableEnd = tableOffset + tableSize  // Both inside the file: no overflow.
                var symbol = tableOffset
                while symbol <= tableEnd - 24 {
                    let nameOffset = Int(reader.u32(symbol))
                    if nameOffset > 0, nameOffset < stringsSize {
                        var end = strings + nameOffset
                        while end < strings + stringsSize && bytes[end] != 0 { end += 1 }
                        let name = String(decoding: bytes[(strings + nameOffset)..<end], as: UTF8.self)
                        symbols[name] = reader.u64(symbol + 8)
                    }
                    symbol += 24
                }
            }
        }
        self.symbols = symbols
    }
}

/// Little-endian field reads at byte offsets already checked by the caller.
struct ByteReader {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    func u16(_ at: Int) -> UInt16 { UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8 }
    func u32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[at + $1]) << (8 * UInt32($1)) } }
    func u64(_ at: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) } }
}

/// Reads a whole file, turning every failure into a one-line `LoadError`.
///
/// With stat(2) and read(2) straight into the array: FileManager's first use and the copy from
/// `Data` were a few percent of a trivial run's start-up (docs/jit.md, Start-up), and the copy
/// doubles the work for a large kernel or initrd.
public func readFile(_ path: String) throws -> [UInt8] {
    var info = stat()
    // As FileManager.fileExists(atPath:isDirectory:) did: symlinks followed, any failure is absence.
    guard stat(path, &info) == 0 else { throw LoadError(path: path, reason: "no such file") }
    guard info.st_mode & S_IFMT != S_IFDIR else { throw LoadError(path: path, reason: "is a directory") }
    let unreadable = LoadError(path: path, reason: "cannot read file (permission denied?)")
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw unreadable }
    defer { close(fd) }
    // st_size bytes straight into the array; then, for a file that grew or that stat cannot
    // size, whatever follows, in chunks, up to end of file.
    let size = max(Int(info.st_size), 0)
    var atEnd = false
    var bytes = try [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
        while initialized < size {
            let count = read(fd, buffer.baseAddress! + initialized, size - initialized)
            if count == 0 { atEnd = true; return }
            if count < 0 {
                if errno == EINTR { continue }
                throw unreadable
            }
            initialized += count
        }
    }
    if atEnd { return bytes }
    var chunk = [UInt8](repeating: 0, count: 16384)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
        if count == 0 { return bytes }
        if count < 0 {
            if errno == EINTR { continue }
            throw unreadable
        }
        bytes.append(contentsOf: chunk[..<count])
    }
}
