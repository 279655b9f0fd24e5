import Memory
import Trace

/// A RISC-V Platform-Level Interrupt Controller (RISC-V PLIC specification 1.0.0), laid out as on
/// QEMU's `virt` board: two contexts per hart, machine mode first (hart 0 M, hart 0 S, hart 1 M, ...).
///
/// Sources are level-triggered. The gateway (spec §"Interrupt Gateways") forwards one request
/// per level: a source is pending while its line is high and it is not claimed; a claim clears
/// the pending bit and holds the gateway closed until the matching completion, after which a
/// line that is still high makes the source pending again. As in QEMU, lowering the line
/// withdraws a request that nobody has claimed yet.
///
/// The controller drives each context's external-interrupt pin (MEIP for M contexts, SEIP for S
/// contexts) and re-evaluates every pin after each register write and each line change.
public final class PLIC: InterruptController, MMIODevice {
    /// The device's name in traces (its board entry's name, set by its kind).
    public var traceName = "plic"
    /// Register map (spec §"Memory Map"; QEMU `hw/intc/sifive_plic.c` offsets).
    public enum Layout {
        /// Source priorities, 4 bytes per source; source 0 is reserved and reads 0.
        public static let priorityBase: UInt64 = 0x0
        /// Pending bits, one bit per source, 32 sources per word. Read-only.
        public static let pendingBase: UInt64 = 0x1000
        /// Enable bits of context `c` start at `enableBase + enableStride * c`.
        public static let enableBase: UInt64 = 0x2000
        public static let enableStride: UInt64 = 0x80
        /// Threshold of context `c` at `contextBase + contextStride * c`, claim/complete 4 bytes after.
        public static let contextBase: UInt64 = 0x20_0000
        public static let contextStride: UInt64 = 0x1000
        public static let claimOffset: UInt64 = 0x4
        /// Source IDs are 10 bits wide in the claim register: at most 1023 sources.
        public static let maximumSources = 1023
    }

    /// Privilege level a context interrupts.
    public enum ContextMode: Sendable, Equatable {
        case machine, supervisor

        /// The `mip` bit the context drives (privileged spec §3.1.9).
        public var interruptBit: Int {
            self == .machine ? InterruptBit.machineExternal : InterruptBit.supervisorExternal
        }
    }

    /// One interrupt target: a hart in one privilege mode.
    public struct Context: Sendable, Equatable {
        public let hart: Int
        public let mode: ContextMode

        public init(hart: Int, mode: ContextMode) {
            self.hart = hart
            self.mode = mode
        }
    }

    /// Why a PLIC cannot be built as configured (a board-file error, never a guest one).
    public enum ConfigurationError: Error, Equatable, CustomStringConvertible {
        case sourceCount(Int)
        case maximumPriority(UInt32)

        public var description: String {
            switch self {
            case .sourceCount(let n):
                return "PLIC source count \(n) is outside 1...\(Layout.maximumSources)"
            case .maximumPriority(let p):
                return "PLIC maximum priority \(p) is outside 1...\(UInt32.max)"
            }
        }
    }

    public let sourceCount: Int
    /// Highest priority a source can hold; writes above it are ignored (QEMU: 7).
    public let maximumPriority: UInt32
    /// Contexts in register order.
    public let contexts: [Context]
    /// Bytes of MMIO space the register map needs for these contexts (QEMU `VIRT_PLIC_SIZE`).
    public var regionSize: UInt64 { Layout.contextBase + Layout.contextStride * UInt64(contexts.count) }

    public var implementedSizes: AccessSizes { .word }

    private let harts: [any HartInterruptInputs]
    /// 32-bit words per bit vector (sources 0...sourceCount).
    private let words: Int
    private var priority: [UInt32]
    private var pending: [UInt32]
    private var claimed: [UInt32]
    /// Current level of every input line.
    private var level: [UInt32]
    /// `words` words per context.
    private var enable: [UInt32]
    private var threshold: [UInt32]
    /// The level last driven onto each context's pin.
    private var output: [Bool]

    /// Builds a PLIC with two contexts (M then S) for each hart in `harts`, in order.
    /// - Parameters:
    ///   - sourceCount: number of sources, `riscv,ndev` (QEMU virt: 95); IDs are 1...sourceCount.
    ///   - maximumPriority: highest priority level (QEMU virt: 7).
    public init(harts: [any HartInterruptInputs], sourceCount: Int = 95, maximumPriority: UInt32 = 7) throws {
        guard (1...Layout.maximumSources).contains(sourceCount) else { throw ConfigurationError.sourceCount(sourceCount) }
        guard maximumPriority >= 1 else { throw ConfigurationError.maximumPriority(maximumPriority) }
        self.harts = harts
        self.sourceCount = sourceCount
        self.maximumPriority = maximumPriority
        contexts = harts.indices.flatMap { [Context(hart: $0, mode: .machine), Context(hart: $0, mode: .supervisor)] }
        words = (sourceCount + 1 + 31) / 32
        priority = Array(repeating: 0, count: sourceCount + 1)
        pending = Array(repeating: 0, count: words)
        claimed = Array(repeating: 0, count: words)
        level = Array(repeating: 0, count: words)
        enable = Array(repeating: 0, count: words * contexts.count)
        threshold = Array(repeating: 0, count: contexts.count)
        output = Array(repeating: false, count: contexts.count)
        for (index, context) in contexts.enumerated() {
            harts[context.hart].setInterruptPending(bit: context.mode.interruptBit, false)
            output[index] = false
        }
    }

    // MARK: InterruptController

    public func setLevel(source: Int, level high: Bool) {
        guard source >= 1 && source <= sourceCount else { return }
        let word = source >> 5, bit = UInt32(1) << UInt32(source & 31)
        if Trace.mask & TraceGroup.irq.bit != 0 && (level[word] & bit != 0) != high {
            Trace.emit(.irq, device: traceName, "level", ["source": .number(UInt64(source)), "level": .flag(high)])
        }
        if high {
            level[word] |= bit
            if claimed[word] & bit == 0 { pending[word] |= bit }
        } else {
            level[word] &= ~bit
            pending[word] &= ~bit
        }
        updateOutputs()
    }

    // MARK: MMIODevice

    public func read(offset: UInt64, size: Int) -> UInt64 {
        guard offset & 3 == 0 else { return 0 }
        if offset < Layout.pendingBase {
            let source = Int(offset >> 2)
            return source <= sourceCount ? UInt64(priority[source]) : 0
        }
        if offset < Layout.enableBase {
            let word = Int((offset - Layout.pendingBase) >> 2)
            return word < words ? UInt64(pending[word]) : 0
        }
        if offset < Layout.contextBase {
            guard let (context, word) = enableWord(offset) else { return 0 }
            return UInt64(enable[context * words + word])
        }
        guard let (context, register) = contextRegister(offset) else { return 0 }
        if register == 0 { return UInt64(threshold[context]) }
        if register == Layout.claimOffset { return UInt64(claim(context: context)) }
        return 0
    }

    public func write(offset: UInt64, size: Int, value: UInt64) {
        guard offset & 3 == 0 else { return }
        let value = UInt32(truncatingIfNeeded: value)
        if offset < Layout.pendingBase {
            // Priorities are WARL: a value above the maximum leaves the old one (as QEMU).
            let source = Int(offset >> 2)
            guard source >= 1 && source <= sourceCount && value <= maximumPriority else { return }
            priority[source] = value
        } else if offset < Layout.enableBase {
            return // pending bits are read-only (spec §"Interrupt Pending Bits")
        } else if offset < Layout.contextBase {
            guard let (context, word) = enableWord(offset) else { return }
            enable[context * words + word] = value & validMask(word: word)
        } else {
            guard let (context, register) = contextRegister(offset) else { return }
            if register == 0 {
                guard value <= maximumPriority else { return }
                threshold[context] = value
            } else if register == Layout.claimOffset {
                complete(context: context, source: Int(value))
            } else {
                return
            }
        }
        updateOutputs()
    }

    // MARK: Claim and complete (spec §"Interrupt Claim Process", §"Interrupt Completion")

    /// Claims the highest-priority pending source enabled for `context` (ties: lowest ID), or 0.
    /// The spec makes a claim independent of the threshold; priority 0 never interrupts.
    private func claim(context: Int) -> UInt32 {
        var best = 0
        var bestPriority: UInt32 = 0
        let base = context * words
        for word in 0..<words {
            var candidates = pending[word] & ~claimed[word] & enable[base + word]
            while candidates != 0 {
                let source = word * 32 + candidates.trailingZeroBitCount
                candidates &= candidates &- 1
                if priority[source] > bestPriority {
                    best = source
                    bestPriority = priority[source]
                }
            }
        }
        if best != 0 {
            let bit = UInt32(1) << UInt32(best & 31)
            pending[best >> 5] &= ~bit
            claimed[best >> 5] |= bit
        }
        if Trace.mask & TraceGroup.irq.bit != 0 {
            Trace.emit(.irq, device: traceName, "claim", ["context": .number(UInt64(context)), "source": .number(UInt64(best))])
        }
        updateOutputs()
        return UInt32(best)
    }

    /// Re-opens the gateway of `source`. A completion for a source that is not enabled for the
    /// context is silently ignored (spec §"Interrupt Completion").
    private func complete(context: Int, source: Int) {
        guard source >= 1 && source <= sourceCount else { return }
        let word = source >> 5, bit = UInt32(1) << UInt32(source & 31)
        guard enable[context * words + word] & bit != 0 else { return }
        if Trace.mask & TraceGroup.irq.bit != 0 {
            Trace.emit(.irq, device: traceName, "complete", ["context": .number(UInt64(context)), "source": .number(UInt64(source))])
        }
        claimed[word] &= ~bit
        if level[word] & bit != 0 { pending[word] |= bit }
    }

    // MARK: Outputs

    /// Whether `context` has a pending, enabled, unclaimed source above its threshold.
    public func isAsserted(context: Int) -> Bool {
        let base = context * words
        let limit = threshold[context]
        for word in 0..<words {
            var candidates = pending[word] & ~claimed[word] & enable[base + word]
            while candidates != 0 {
                let source = word * 32 + candidates.trailingZeroBitCount
                candidates &= candidates &- 1
                if priority[source] > limit { return true }
            }
        }
        return false
    }

    private func updateOutputs() {
        for index in 0..<contexts.count {
            let asserted = isAsserted(context: index)
            guard asserted != output[index] else { continue }
            output[index] = asserted
            let context = contexts[index]
            harts[context.hart].setInterruptPending(bit: context.mode.interruptBit, asserted)
        }
    }

    // MARK: Decoding

    private func enableWord(_ offset: UInt64) -> (context: Int, word: Int)? {
        let relative = offset - Layout.enableBase
        let context = Int(relative / Layout.enableStride)
        let word = Int((relative % Layout.enableStride) >> 2)
        guard context < contexts.count && word < words else { return nil }
        return (context, word)
    }

    private func contextRegister(_ offset: UInt64) -> (context: Int, register: UInt64)? {
        let relative = offset - Layout.contextBase
        let context = relative / Layout.contextStride
        guard context < UInt64(contexts.count) else { return nil }
        return (Int(context), relative % Layout.contextStride)
    }

    /// Bits of enable word `word` that name real sources (source 0 and IDs past the count are 0).
    private func validMask(word: Int) -> UInt32 {
        var mask: UInt32 = ~0
        if word == 0 { mask &= ~1 }
        let last = sourceCount - word * 32 // highest valid bit index in this word
        if last < 31 { mask &= (UInt32(1) << UInt32(last + 1)) &- 1 }
        return mask
    }
}

/// A machine reset (PLIC spec 1.0.0 §4, "reset values"; QEMU `sifive_plic_reset`): priorities,
/// enables and thresholds zero, no claim in progress. The input wires keep their levels (their
/// devices drive them), so a source whose line is still high is pending again at once, as a
/// gateway that comes out of reset sees it.
extension PLIC: DeviceLifecycle {
    public func reset() {
        for index in priority.indices { priority[index] = 0 }
        for index in enable.indices { enable[index] = 0 }
        for index in threshold.indices { threshold[index] = 0 }
        for word in 0..<words {
            claimed[word] = 0
            pending[word] = level[word]
        }
        updateOutputs()
    }
}

/// Snapshots (docs/snapshots.md): every register and gateway bit plus the input levels; a
/// restore drives every context's pin to the level the restored registers give, whatever the
/// hart's `mip` said before.
extension PLIC {
    public func save(to state: inout DeviceStateWriter) {
        state.put(words: priority)
        state.put(words: pending)
        state.put(words: claimed)
        state.put(words: level)
        state.put(words: enable)
        state.put(words: threshold)
    }

    public func restore(from state: inout DeviceStateReader) throws(DeviceStateError) {
        let priority = try state.words32(count: self.priority.count, "PLIC priorities")
        let pending = try state.words32(count: words, "PLIC pending words")
        let claimed = try state.words32(count: words, "PLIC claimed words")
        let level = try state.words32(count: words, "PLIC input levels")
        let enable = try state.words32(count: self.enable.count, "PLIC enable words")
        let threshold = try state.words32(count: contexts.count, "PLIC thresholds")
        self.priority = priority
        self.pending = pending
        self.claimed = claimed
        self.level = level
        self.enable = enable
        self.threshold = threshold
        for index in contexts.indices {
            output[index] = isAsserted(context: index)
            let context = contexts[index]
            harts[context.hart].setInterruptPending(bit: context.mode.interruptBit, output[index])
        }
    }
}
