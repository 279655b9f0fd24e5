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
public final class Hart {
    public let state: UnsafeMutablePointer<HartState>
    public let bus: AddressSpace
    public let timebase: Timebase

    public init(hartID: UInt64, bus: AddressSpace, timebase: Timebase) {
        state = .allocate(capacity: 1)
        state.initialize(to: HartState())
        self.bus = bus
        self.timebase = timebase
        state.pointee.hartid = hartID
    }

    deinit { state.deallocate() }
}
