import PCI

/// Why a ring could not be read. Either makes the controller report an error, never crash.
public enum XHCIRingError: Error, Equatable, CustomStringConvertible {
    /// Guest memory did not answer (a bad ring pointer): Host System Error (§4.10.2.9).
    case dma(PCIDMAError)
    /// Link TRBs that point at each other without a TRB in between, or a TD too long to be real.
    case malformed(address: UInt64)

    public var description: String {
        switch self {
        case .dma(let error): return "\(error)"
        case .malformed(let address): return "malformed ring at 0x\(String(address, radix: 16))"
        }
    }
}

/// A TRB read from a ring and where it was.
public struct XHCIRingEntry: Sendable, Equatable {
    public var trb: XHCITRB
    public var address: UInt64
}

/// The consumer side of a command or transfer ring (xHCI 1.2 §4.9.2): a dequeue pointer and the
/// consumer cycle state. A TRB belongs to the controller when its cycle bit equals the CCS; Link
/// TRBs move the dequeue pointer to another segment and, with Toggle Cycle, flip the CCS
/// (§4.11.5.1).
public struct XHCIRing: Sendable, Equatable {
    public var dequeue: UInt64
    public var cycle: Bool

    /// Link TRBs followed in a row before the ring is declared malformed.
    static let linkLimit = 32
    /// TRBs in one TD before the ring is declared malformed (a TD is bounded by its buffer).
    static let tdLimit = 4096

    public init(dequeue: UInt64 = 0, cycle: Bool = true) {
        self.dequeue = dequeue & ~0xf
        self.cycle = cycle
    }

    /// The next TRB the controller owns, following Link TRBs; nil when software has not
    /// produced one yet (the ring is empty).
    public mutating func next(_ bus: PCIBusInterface) -> Result<XHCIRingEntry?, XHCIRingError> {
        for _ in 0..<XHCIRing.linkLimit {
            // Two little-endian qwords read in place: no allocation per TRB.
            var words: (UInt64, UInt64) = (0, 0)
            if case .failure(let error) = withUnsafeMutableBytes(of: &words, { bus.dmaRead(dequeue, into: $0) }) {
                return .failure(.dma(error))
            }
            let high = UInt64(littleEndian: words.1)
            let trb = XHCITRB(parameter: UInt64(littleEndian: words.0), status: UInt32(truncatingIfNeeded: high),
                              control: UInt32(truncatingIfNeeded: high >> 32))
            guard trb.cycle == cycle else { return .success(nil) }
            if trb.type == .link {
                dequeue = trb.parameter & ~0xf
                if trb.toggleCycle { cycle.toggle() }
                continue
            }
            let entry = XHCIRingEntry(trb: trb, address: dequeue)
            dequeue &+= UInt64(XHCITRB.size)
            return .success(entry)
        }
        return .failure(.malformed(address: dequeue))
    }

    /// The next whole TD: TRBs up to and including the first without the Chain bit (Link TRBs
    /// are followed, not returned). nil, with the ring unchanged, while the TD is incomplete.
    public mutating func nextTD(_ bus: PCIBusInterface) -> Result<[XHCIRingEntry]?, XHCIRingError> {
        var copy = self
        var entries: [XHCIRingEntry] = []
        while entries.count < XHCIRing.tdLimit {
            switch copy.next(bus) {
            case .failure(let error): return .failure(error)
            case .success(nil): return .success(nil)
            case .success(let entry?):
                entries.append(entry)
                if !entry.trb.chain {
                    self = copy
                    return .success(entries)
                }
            }
        }
        return .failure(.malformed(address: dequeue))
    }
}
