#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The cache of pre-decoded blocks, keyed by the *host* address of a block's first instruction.
///
/// Why host addresses: every RAM/ROM byte has exactly one host address, so keying by it is
/// keying by physical address (the fetch TLB yields it without another lookup), and blocks
/// survive address-space switches (satp writes, SFENCE.VMA), which only flush the fetch TLB.
///
/// Direct-mapped: block `i` owns headers[i] and instructions[i*maxLength ..< (i+1)*maxLength].
/// A block never crosses a 4 KiB page. Invalidating a page is O(1): each block records the
/// generation of its page (in a small table hashed by host page number) when decoded, and is
/// valid only while that generation is unchanged; invalidation bumps it. (A hash collision
/// only drops some extra blocks.) This matters for pages holding both code and written data,
/// where every write invalidates. The extra slot at index `blockCount` is scratch space for single
/// instructions that are not cached (a 32-bit instruction straddling two pages, a page whose
/// PMP permissions are not uniform).
final class BlockCache {
    struct Header {
        /// Host address of the first instruction; 0 = empty.
        var host: UInt
        /// Number of instructions.
        var count: Int32
        /// `pageGenerations` entry of the block's page when it was decoded.
        var generation: UInt32
    }

    static let blockCount = 8192
    static let maxLength = 32
    static let generationCount = 4096
    static var scratchSlot: Int { blockCount }

    let headers: UnsafeMutablePointer<Header>
    let instructions: UnsafeMutablePointer<DecodedInstruction>
    let pageGenerations: UnsafeMutablePointer<UInt32>

    /// Reserves the three arrays as anonymous memory, untouched: zero is an empty header
    /// (host 0) and generation 0, and instruction slots are written before a valid header points
    /// at them. Eager initialisation was ~4 MiB of page faults at every start (docs/jit.md).
    init() {
        headers = Self.reserve(Self.blockCount + 1)
        pageGenerations = Self.reserve(Self.generationCount)
        instructions = Self.reserve((Self.blockCount + 1) * Self.maxLength)
    }

    private static func reserve<T>(_ count: Int) -> UnsafeMutablePointer<T> {
        let bytes = count * MemoryLayout<T>.stride
        let memory = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let memory, memory != MAP_FAILED else { fatalError("BlockCache: cannot map \(bytes) bytes (errno \(errno))") }
        return memory.bindMemory(to: T.self, capacity: count)
    }

    private static func release<T>(_ pointer: UnsafeMutablePointer<T>, _ count: Int) {
        munmap(pointer, count * MemoryLayout<T>.stride)
    }

    deinit {
        Self.release(headers, Self.blockCount + 1)
        Self.release(instructions, (Self.blockCount + 1) * Self.maxLength)
        Self.release(pageGenerations, Self.generationCount)
    }

    /// The slot a block starting at `host` lives in.
    @inline(__always) static func slot(forHost host: UInt) -> Int {
        Int(truncatingIfNeeded: ((host >> 1) ^ (host >> 14)) & UInt(blockCount - 1))
    }

    /// The generation-table entry for the page holding host address `host`.
    @inline(__always) func generation(forHost host: UInt) -> UnsafeMutablePointer<UInt32> {
        pageGenerations + Int(truncatingIfNeeded: (host >> 12) & UInt(Self.generationCount - 1))
    }

    /// The valid block starting at `host`, as (slot, instruction count), if cached.
    @inline(__always) func lookup(host: UInt) -> (slot: Int, count: Int)? {
        let slot = Self.slot(forHost: host)
        let header = headers[slot]
        guard header.host == host, header.generation == generation(forHost: host).pointee else { return nil }
        return (slot, Int(header.count))
    }

    @inline(__always) func instructions(ofSlot slot: Int) -> UnsafeMutablePointer<DecodedInstruction> {
        instructions + slot * Self.maxLength
    }

    /// Forgets every block (FENCE.I, reset).
    func invalidateAll() {
        // Hands the pages back (they read as zero: every header empty) instead of touching them,
        // so a reset at start-up costs no page faults.
        let bytes = (Self.blockCount + 1) * MemoryLayout<Header>.stride
        if madvise(headers, bytes, MADV_DONTNEED) != 0 {
            for index in 0..<Self.blockCount { headers[index].host = 0 }
        }
    }

    /// Forgets the blocks that start in the 4 KiB page at host address `hostPage`.
    func invalidate(hostPage: UInt) {
        generation(forHost: hostPage).pointee &+= 1
    }
}
