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

    init() {
        headers = .allocate(capacity: Self.blockCount + 1)
        headers.initialize(repeating: Header(host: 0, count: 0, generation: 0), count: Self.blockCount + 1)
        pageGenerations = .allocate(capacity: Self.generationCount)
        pageGenerations.initialize(repeating: 0, count: Self.generationCount)
        let total = (Self.blockCount + 1) * Self.maxLength
        instructions = .allocate(capacity: total)
        instructions.initialize(repeating: .illegal(0, length: 4), count: total)
    }

    deinit {
        headers.deallocate()
        instructions.deallocate()
        pageGenerations.deallocate()
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
        for index in 0..<Self.blockCount { headers[index].host = 0 }
    }

    /// Forgets the blocks that start in the 4 KiB page at host address `hostPage`.
    func invalidate(hostPage: UInt) {
        generation(forHost: hostPage).pointee &+= 1
    }
}
