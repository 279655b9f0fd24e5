import CHartState
import IRQ
import Memory

/// One RV64GC hart: the interpreter that is Backplane's reference CPU.
///
/// CONTRACT (other files and modules rely on these names; keep them):
/// - `state`: the C-layout `HartState`, preallocated, reached only through this pointer.
/// - `loadData(_:size:)` / `storeData(_:size:value:)`: a data access at a guest *virtual*
///   address with translation, PMP and alignment rules applied; they throw `Trap`.
/// - `run(budget:)`: executes up to `budget` instructions and says why it stopped.
/// - `HartInterruptInputs`: how the PLIC/ACLINT drive `mip`.
///
/// How it runs: instructions are decoded once into blocks (`BlockCache`, keyed by the host
/// address of the first instruction, i.e. by physical address) and executed by a `switch` over
/// `Operation` (`Hart+Execute.swift`). Loads, stores and fetches go through the direct-mapped
/// software TLBs in `HartState` and fall back to the page walk (`Hart+MMU.swift`) and PMP
/// (`Hart+PMP.swift`) on a miss (`Hart+Memory.swift`).
///
/// Single-hart assumption (see `Hart+Memory.swift`): the bus has one `codeWriteObserver`, so
/// self-modifying code is tracked for the hart registered last; a machine with several harts
/// must fan the notification out.
public final class Hart {
    public let state: UnsafeMutablePointer<HartState>
    public let bus: AddressSpace
    public let timebase: Timebase

    /// Decoded code.
    let blocks = BlockCache()
    // SAFETY: these point into `*state`, which lives as long as the hart.
    /// `state.x` as an array of 32 registers.
    let registers: UnsafeMutablePointer<UInt64>
    let tlbLoad: UnsafeMutablePointer<BPTLBEntry>
    let tlbStore: UnsafeMutablePointer<BPTLBEntry>
    let tlbFetch: UnsafeMutablePointer<BPTLBEntry>
    /// What the TLB entries were filled under (privilege, MPRV/MPP/SUM/MXR, satp); a change
    /// flushes them (see `noteTranslationContextChange`).
    var translationContext: (UInt64, UInt64, UInt64) = (~0, 0, 0)

    public init(hartID: UInt64, bus: AddressSpace, timebase: Timebase) {
        state = .allocate(capacity: 1)
        state.initialize(to: HartState())
        self.bus = bus
        self.timebase = timebase
        let raw = UnsafeMutableRawPointer(state)
        registers = raw.advanced(by: MemoryLayout<HartState>.offset(of: \HartState.x)!)
            .assumingMemoryBound(to: UInt64.self)
        tlbLoad = raw.advanced(by: MemoryLayout<HartState>.offset(of: \HartState.tlbLoad)!)
            .assumingMemoryBound(to: BPTLBEntry.self)
        tlbStore = raw.advanced(by: MemoryLayout<HartState>.offset(of: \HartState.tlbStore)!)
            .assumingMemoryBound(to: BPTLBEntry.self)
        tlbFetch = raw.advanced(by: MemoryLayout<HartState>.offset(of: \HartState.tlbFetch)!)
            .assumingMemoryBound(to: BPTLBEntry.self)
        state.pointee.hartid = hartID
        bus.codeWriteObserver = self
        reset(pc: 0, a0: 0, a1: 0)
    }

    deinit { state.deallocate() }
}

/// Why `Hart.run(budget:)` returned.
public enum HartStop: Equatable, Sendable {
    /// The budget of instructions was used up.
    case budgetExhausted
    /// The hart executed WFI with no interrupt pending and enabled; it sleeps until
    /// `pendingAndEnabledInterrupts` becomes non-zero.
    case waitingForInterrupt
    /// `state.exitRequest` was set (by the machine or an interrupt controller).
    case exitRequested
}

extension Hart: CodeWriteObserver {
    /// A write reached a page holding decoded code: drop its blocks (the bus already unmarked it).
    public func codeWritten(physicalPage: UInt64) {
        guard let host = bus.hostPointer(physicalPage << 12, length: 1, forWrite: false) else { return }
        blocks.invalidate(hostPage: UInt(bitPattern: host) & ~0xFFF)
    }
}

extension Hart: HartInterruptInputs {
    /// Drives one of the controller-owned mip bits (MEIP, SEIP, MTIP, MSIP) and asks the run
    /// loop to look at interrupts again.
    public func setInterruptPending(bit: Int, _ level: Bool) {
        let mask: UInt64 = 1 << UInt64(bit)
        if level { state.pointee.mipExternal |= mask } else { state.pointee.mipExternal &= ~mask }
        state.pointee.exitRequest = 1
    }
}
