import CHartState
import Memory

/// Snapshots (docs/snapshots.md): a hart's architectural state only.
///
/// What is saved is a fixed list of `HartState` fields (registers, pc, privilege, counters, every
/// CSR including PMP and the AIA selectors, fflags/frm, the LR reservation, WFI, and the
/// controller-driven `mip` bits), each as a 64-bit little-endian field. What is *not* saved: the
/// software TLBs, the JIT's budget, return stack and fetch generation, the host pointer to the
/// `Hart` and the decoded-block and translation caches. They hold host addresses or derived
/// data; a restore starts them empty, as `reset` does, and they refill on demand.
extension Hart {
    /// One saved field: its name (for messages), its byte offset in `HartState` and its width.
    private struct Field {
        let name: String
        let offset: Int
        let width: Int
    }

    /// The saved fields, in file order. Appending keeps older snapshots' prefix but changes the
    /// count, which `restoreArchitecturalState` checks: change it together with the snapshot
    /// format version.
    private static let architecturalFields: [Field] = {
        var fields: [Field] = []
        func add(_ name: String, _ path: PartialKeyPath<HartState>, width: Int = 8, count: Int = 1) {
            let base = MemoryLayout<HartState>.offset(of: path)!
            for index in 0..<count {
                fields.append(Field(name: count == 1 ? name : "\(name)[\(index)]", offset: base + index * width, width: width))
            }
        }
        add("x", \HartState.x, count: 32)
        add("f", \HartState.f, count: 32)
        add("pc", \HartState.pc)
        add("fflags", \HartState.fflags, width: 4)
        add("frm", \HartState.frm, width: 4)
        add("privilege", \HartState.privilege)
        add("mcycle", \HartState.cycle)
        add("minstret", \HartState.instret)
        add("mstatus", \HartState.mstatus)
        add("misa", \HartState.misa)
        add("medeleg", \HartState.medeleg)
        add("mideleg", \HartState.mideleg)
        add("mie", \HartState.mie)
        add("mip", \HartState.mip)
        add("mtvec", \HartState.mtvec)
        add("mscratch", \HartState.mscratch)
        add("mepc", \HartState.mepc)
        add("mcause", \HartState.mcause)
        add("mtval", \HartState.mtval)
        add("mcounteren", \HartState.mcounteren)
        add("mcountinhibit", \HartState.mcountinhibit)
        add("menvcfg", \HartState.menvcfg)
        add("mseccfg", \HartState.mseccfg)
        add("stvec", \HartState.stvec)
        add("sscratch", \HartState.sscratch)
        add("sepc", \HartState.sepc)
        add("scause", \HartState.scause)
        add("stval", \HartState.stval)
        add("satp", \HartState.satp)
        add("scounteren", \HartState.scounteren)
        add("senvcfg", \HartState.senvcfg)
        add("pmpcfg", \HartState.pmpcfg, count: 2)
        add("pmpaddr", \HartState.pmpaddr, count: 16)
        add("reservationAddress", \HartState.reservationAddress)
        add("reservationValid", \HartState.reservationValid)
        add("waitingForInterrupt", \HartState.waitingForInterrupt)
        add("mipExternal", \HartState.mipExternal)
        add("miselect", \HartState.miselect)
        add("siselect", \HartState.siselect)
        add("stimecmp", \HartState.stimecmp)
        return fields
    }()

    /// Writes `mhartid` and the architectural fields. Call between slices (the JIT has brought
    /// minstret and mcycle up to date when `run(budget:)` returns).
    public func saveArchitecturalState(to state: inout DeviceStateWriter) {
        let raw = UnsafeRawPointer(self.state)
        state.put(self.state.pointee.hartid)
        state.put(UInt64(Self.architecturalFields.count))
        for field in Self.architecturalFields {
            // SAFETY: every offset and width comes from MemoryLayout<HartState> above.
            let value = field.width == 8 ? raw.load(fromByteOffset: field.offset, as: UInt64.self)
                                         : UInt64(raw.load(fromByteOffset: field.offset, as: UInt32.self))
            state.put(value)
        }
    }

    /// Restores what `saveArchitecturalState` wrote and leaves the hart in a clean translation
    /// state, as `reset` does: TLBs, decoded blocks and translated code dropped, the JIT's
    /// budget and return stack cleared. Interrupt controllers restored afterwards re-drive the
    /// `mip` bits they own.
    /// - Throws: `mismatch` for another hart id, another field list, or a value no field takes.
    public func restoreArchitecturalState(from state: inout DeviceStateReader) throws(DeviceStateError) {
        let hartID = try state.uint64()
        guard hartID == self.state.pointee.hartid else {
            throw .mismatch("hart \(hartID) saved where hart \(self.state.pointee.hartid) is")
        }
        let count = try state.uint64()
        guard count == UInt64(Self.architecturalFields.count) else {
            throw .mismatch("hart state has \(count) fields, this Backplane saves \(Self.architecturalFields.count)")
        }
        var values: [UInt64] = []
        values.reserveCapacity(Self.architecturalFields.count)
        for field in Self.architecturalFields {
            let value = try state.uint64()
            guard field.width == 8 || value <= UInt64(UInt32.max) else { throw .mismatch("\(field.name) \(value) does not fit 32 bits") }
            values.append(value)
        }
        let raw = UnsafeMutableRawPointer(self.state)
        for (field, value) in zip(Self.architecturalFields, values) {
            // SAFETY: as in saveArchitecturalState.
            if field.width == 8 { raw.storeBytes(of: value, toByteOffset: field.offset, as: UInt64.self) }
            else { raw.storeBytes(of: UInt32(value), toByteOffset: field.offset, as: UInt32.self) }
        }
        // Values no CSR write can produce (the WARL fields that name a privilege level) are
        // refused rather than run with (privileged spec 1.12 §3.1.6.1: MPP never holds 2).
        let privilege = self.state.pointee.privilege, previous = (self.state.pointee.mstatus >> 11) & 3
        guard [privilegeUser, privilegeSupervisor, privilegeMachine].contains(privilege), previous != 2 else {
            self.state.pointee.privilege = privilegeMachine
            self.state.pointee.mstatus &= ~(UInt64(3) << 11)
            throw .mismatch(previous == 2 ? "mstatus.MPP 2 does not exist" : "privilege level \(privilege) does not exist")
        }
        // menvcfg.STCE is read-only zero on a hart without Sstc (Hart+Sstc.swift).
        guard implementsSstc || self.state.pointee.menvcfg & EnvironmentConfig.stce == 0 else {
            self.state.pointee.menvcfg &= ~EnvironmentConfig.stce
            throw .mismatch("menvcfg.STCE is set but this hart has no Sstc")
        }
        registers[0] = 0
        // Host-side bookkeeping starts clean (HartState.h: "never architecturally visible").
        self.state.pointee.jitBudget = 0
        self.state.pointee.jitBudgetBase = 0
        _ = withUnsafeMutableBytes(of: &self.state.pointee.jitReturnStack) { $0.initializeMemory(as: UInt8.self, repeating: 0) }
        self.state.pointee.jitReturnTop = 0
        dropAllTranslations()
        // Look at interrupts before the first block.
        self.state.pointee.exitRequest = 1
    }
}
