import Memory
/// The privilege level an IMSIC interrupt file or an APLIC interrupt domain serves (RISC-V AIA
/// 1.0 §1.3.2: machine and supervisor level; guest files are not modelled).
public enum InterruptLevel: Sendable, Equatable, CustomStringConvertible {
    case machine, supervisor

    /// The `mip` bit this level's external interrupt drives: MEIP (11) or SEIP (9).
    public var externalInterruptBit: Int {
        self == .machine ? InterruptBit.machineExternal : InterruptBit.supervisorExternal
    }

    public var description: String { self == .machine ? "machine" : "supervisor" }
}

/// What a hart with the Smaia/Ssaia extensions asks of its interrupt files (RISC-V AIA 1.0 §2,
/// §3.8–3.9). The hart holds one of these (or nil on a PLIC board, where the AIA CSRs do not
/// exist) and calls it only on an AIA CSR access, never per instruction.
public protocol HartInterruptFile: AnyObject {
    /// Whether the hart has an interrupt file at `level`: without one, `*topei` and the
    /// indirect registers 0x70–0xFF of that level are illegal-instruction CSRs.
    func hasFile(level: InterruptLevel) -> Bool
    /// Reads indirect register `select` (a value of `miselect`/`siselect` in 0x70…0xFF) of the
    /// file at `level`; nil when that register does not exist (the access raises illegal instruction).
    func readIndirect(level: InterruptLevel, select: UInt64) -> UInt64?
    /// Writes indirect register `select`; false when that register does not exist.
    func writeIndirect(level: InterruptLevel, select: UInt64, value: UInt64) -> Bool
    /// `mtopei`/`stopei` as read (§3.9): `identity << 16 | identity` of the top pending-and-enabled
    /// identity under the threshold, or 0.
    func topExternalInterrupt(level: InterruptLevel) -> UInt64
    /// A write to `mtopei`/`stopei` (§3.9): clears the pending bit of the identity a read reports now.
    func claimTopExternalInterrupt(level: InterruptLevel)
}

/// One IMSIC interrupt file (RISC-V AIA 1.0 §3): pending and enable bits for identities
/// 1…`identityCount`, `eidelivery` and `eithreshold`, driving one external-interrupt pin of its hart.
///
/// Identities arrive as MSIs (`setPending(identity:)`, from the file's `seteipnum` page); the hart
/// reads and claims them through its CSRs. The pin is asserted while delivery is enabled and an
/// identity is pending, enabled and below a non-zero threshold (§3.8.2–3.8.3).
public final class IMSICFile {
    /// Indirect register numbers (`*iselect` values, AIA §3.8, table 3.2).
    public enum Register {
        public static let deliveryEnable: UInt64 = 0x70
        public static let threshold: UInt64 = 0x72
        /// `eip0`…`eip63`; on RV64 only the even ones exist, each holding 64 identities.
        public static let pendingBase: UInt64 = 0x80
        /// `eie0`…`eie63`, as the pending registers.
        public static let enableBase: UInt64 = 0xC0
        public static let last: UInt64 = 0xFF
    }

    /// Identity counts an interrupt file may implement: 63…2047, one less than a multiple of 64 (§3.1).
    public static let identityCounts: ClosedRange<Int> = 63...2047

    /// Why a file cannot be built as configured (a board-file error).
    public enum ConfigurationError: Error, Equatable, CustomStringConvertible {
        case identityCount(Int)

        public var description: String {
            switch self {
            case .identityCount(let n):
                return "IMSIC identity count \(n) must be in 63...2047 and one less than a multiple of 64 (AIA §3.1)"
            }
        }
    }

    public let level: InterruptLevel
    /// Highest identity, `riscv,num-ids` (QEMU virt: 255).
    public let identityCount: Int
    /// Bits `eithreshold` implements: enough for 0…identityCount (§3.8.3).
    private let thresholdMask: UInt64
    // The hart outlives nothing here: the hart holds the file (through `IMSICHart`), the file
    // only drives the hart's pin, so a weak reference avoids the cycle.
    private weak var hart: (any HartInterruptInputs)?
    /// 64 identities per word; bit 0 of word 0 (identity 0) is never set.
    private var pending: [UInt64]
    private var enabled: [UInt64]
    /// `eidelivery`: only 0 and 1 are implemented (0x40000000, APLIC direct delivery, is not).
    private var deliveryEnabled = false
    private var threshold: UInt64 = 0
    /// The level last driven onto the pin.
    private var output = false

    /// - Parameters:
    ///   - hart: whose `mip` bit (MEIP or SEIP, by `level`) the file drives.
    ///   - identityCount: 63…2047, one less than a multiple of 64.
    public init(hart: any HartInterruptInputs, level: InterruptLevel, identityCount: Int = 255) throws(ConfigurationError) {
        guard IMSICFile.identityCounts.contains(identityCount), identityCount & 63 == 63 else {
            throw .identityCount(identityCount)
        }
        self.hart = hart
        self.level = level
        self.identityCount = identityCount
        thresholdMask = (UInt64(1) << UInt64(64 - UInt64(identityCount).leadingZeroBitCount)) - 1
        pending = Array(repeating: 0, count: (identityCount + 1) / 64)
        enabled = Array(repeating: 0, count: (identityCount + 1) / 64)
        hart.setInterruptPending(bit: level.externalInterruptBit, false)
    }

    /// An MSI arrived with data `identity` (a write to `seteipnum`, §3.6): sets its pending bit.
    /// Identities 0 and above `identityCount` are ignored.
    public func setPending(identity: UInt32) {
        guard identity >= 1 && identity <= identityCount else { return }
        pending[Int(identity >> 6)] |= 1 << UInt64(identity & 63)
        updateOutput()
    }

    /// Whether `identity` is pending.
    public func isPending(identity: Int) -> Bool {
        guard identity >= 0 && identity <= identityCount else { return false }
        return pending[identity >> 6] & (1 << UInt64(identity & 63)) != 0
    }

    /// The lowest pending-and-enabled identity (the highest priority, §3.8.2) below a non-zero
    /// threshold, or 0. Independent of `eidelivery`, as `*topei` is.
    public var topIdentity: Int {
        for word in 0..<pending.count {
            let candidates = pending[word] & enabled[word]
            guard candidates != 0 else { continue }
            let identity = word * 64 + candidates.trailingZeroBitCount
            return threshold == 0 || UInt64(identity) < threshold ? identity : 0
        }
        return 0
    }

    /// `*topei` (§3.9): identity in bits 26:16 and again, as its priority, in bits 10:0.
    public var topExternalInterrupt: UInt64 {
        let identity = UInt64(topIdentity)
        return identity << 16 | identity
    }

    /// A write to `*topei`: clears the pending bit of the identity `topExternalInterrupt` reports.
    public func claimTop() {
        let identity = topIdentity
        guard identity != 0 else { return }
        pending[identity >> 6] &= ~(1 << UInt64(identity & 63))
        updateOutput()
    }

    /// Reads indirect register `select`; nil for a register that does not exist (§3.8: 0x71,
    /// 0x73…0x7F and the odd `eip`/`eie` numbers on RV64).
    public func read(select: UInt64) -> UInt64? {
        switch select {
        case Register.deliveryEnable: return deliveryEnabled ? 1 : 0
        case Register.threshold: return threshold
        case Register.pendingBase..<Register.enableBase where select & 1 == 0:
            return word(pending, select - Register.pendingBase)
        case Register.enableBase...Register.last where select & 1 == 0:
            return word(enabled, select - Register.enableBase)
        default: return nil
        }
    }

    /// Writes indirect register `select` with its WARL rules; false for one that does not exist.
    public func write(select: UInt64, value: UInt64) -> Bool {
        switch select {
        case Register.deliveryEnable: deliveryEnabled = value & 1 != 0
        case Register.threshold: threshold = value & thresholdMask
        case Register.pendingBase..<Register.enableBase where select & 1 == 0:
            setWord(&pending, select - Register.pendingBase, value)
        case Register.enableBase...Register.last where select & 1 == 0:
            setWord(&enabled, select - Register.enableBase, value)
        default: return false
        }
        updateOutput()
        return true
    }

    /// Back to its reset state (AIA 1.0 §3.8: `eidelivery` and `eithreshold` reset to zero, as do
    /// the `eip*` and `eie*` arrays; QEMU `riscv_imsic_reset`): no identity pending or enabled,
    /// the hart's pin lowered.
    public func reset() {
        for index in pending.indices {
            pending[index] = 0
            enabled[index] = 0
        }
        deliveryEnabled = false
        threshold = 0
        updateOutput()
    }

    /// Whether the file currently interrupts its hart.
    public var isAsserted: Bool { output }

    // MARK: Private

    /// Register `offset` (even) covers identities 32·offset…32·offset+63.
    private func word(_ bits: [UInt64], _ offset: UInt64) -> UInt64 {
        let index = Int(offset >> 1)
        return index < bits.count ? bits[index] : 0
    }

    private func setWord(_ bits: inout [UInt64], _ offset: UInt64, _ value: UInt64) {
        let index = Int(offset >> 1)
        guard index < bits.count else { return } // identities past the count are read-only zero
        bits[index] = index == 0 ? value & ~1 : value // identity 0 does not exist
    }

    private func updateOutput() {
        let asserted = deliveryEnabled && topIdentity != 0
        guard asserted != output else { return }
        output = asserted
        hart?.setInterruptPending(bit: level.externalInterruptBit, asserted)
    }
}

/// A hart's IMSIC interrupt files, machine and supervisor level, as the hart's CSRs see them.
public final class IMSICHart: HartInterruptFile {
    public let machine: IMSICFile?
    public let supervisor: IMSICFile?

    public init(machine: IMSICFile?, supervisor: IMSICFile?) {
        self.machine = machine
        self.supervisor = supervisor
    }

    @inline(__always) private func file(_ level: InterruptLevel) -> IMSICFile? {
        level == .machine ? machine : supervisor
    }

    public func hasFile(level: InterruptLevel) -> Bool { file(level) != nil }

    public func readIndirect(level: InterruptLevel, select: UInt64) -> UInt64? {
        file(level)?.read(select: select)
    }

    public func writeIndirect(level: InterruptLevel, select: UInt64, value: UInt64) -> Bool {
        file(level)?.write(select: select, value: value) ?? false
    }

    public func topExternalInterrupt(level: InterruptLevel) -> UInt64 {
        file(level)?.topExternalInterrupt ?? 0
    }

    public func claimTopExternalInterrupt(level: InterruptLevel) {
        file(level)?.claimTop()
    }
}

/// Snapshots (docs/snapshots.md): the file's `eidelivery`, `eithreshold`, `eip*` and `eie*`
/// (AIA 1.0 §3.8); the restore drives the hart's external-interrupt pin to the level they give.
extension IMSICFile {
    public func save(to state: inout DeviceStateWriter) {
        state.put(deliveryEnabled)
        state.put(threshold)
        state.put(words: pending)
        state.put(words: enabled)
    }

    public func restore(from state: inout DeviceStateReader) throws(DeviceStateError) {
        let delivery = try state.bool()
        let threshold = try state.uint64()
        let pending = try state.words64(count: self.pending.count, "IMSIC eip words")
        let enabled = try state.words64(count: self.enabled.count, "IMSIC eie words")
        deliveryEnabled = delivery
        self.threshold = threshold & thresholdMask
        self.pending = pending
        self.enabled = enabled
        output = deliveryEnabled && topIdentity != 0
        hart?.setInterruptPending(bit: level.externalInterruptBit, output)
    }
}
