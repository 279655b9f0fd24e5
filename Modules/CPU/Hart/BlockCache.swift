/// The cache of pre-decoded blocks, keyed by the *host* address of a block's first instruction.
///
/// Why host addresses: every RAM/ROM byte has exactly one host address, so keying by it is
/// keying by physical address (the fetch TLB yields it without another lookup), and blocks
/// survive address-space switches (satp writes, SFENCE.VMA), which only flush the fetch TLB.
///
/// Direct-mapped: block `i` owns headers[i] and instructions[i*maxLength ..< (i+1)*maxLength].
/// A block never crosses a 4 KiB page, so invalidating a page drops exactly the blocks whose
/// first byte is in it. The extra slot at index `blockCount` is scratch space for single
/// instructions that are not cached (a 32-bit instruction straddling two pages, a page whose
/// PMP permissions are not uniform).
final class BlockCache {
    struct Header {
        /// Host address of the first instruction; 0 = empty.
        var host: UInt
        /// Number of instructions.
        var count: Int
    }

    static let blockCount = 8192
    static let maxLength = 32
    static var scratchSlot: Int { blockCount }

    let headers: UnsafeMutablePointer<Header>
    let instructions: UnsafeMutablePointer<DecodedInstruction>

    init() {
        headers = .allocate(capacity: Self.blockCount + 1)
        headers.initialize(repeating: Header(host: 0, count: 0), count: Self.blockCount + 1)
        let total = (Self.blockCount + 1) * Self.maxLength
        instructions = .allocate(capacity: total)
        instructions.initialize(repeating: .illegal(0, length: 4), count: total)
    }

    deinit {
        headers.deallocate()
        instructions.deallocate()
    }

    /// The slot a block starting at `host` lives in.
    @inline(__always) static func slot(forHost host: UInt) -> Int {
        Int(truncatingIfNeeded: ((host >> 1) ^ (host >> 14)) & UInt(blockCount - 1))
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
        for index in 0..<Self.blockCount where headers[index].host & ~0xFFF == hostPage {
            headers[index].host = 0
        }
    }
}
