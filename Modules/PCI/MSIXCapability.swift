import Memory
import Trace

/// An MSI-X capability (PCI Local Bus 3.0 §6.8.2) with its vector table and pending-bit array
/// in the function's BARs.
///
/// The function forwards its BAR accesses here first (`readBAR`/`writeBAR` answer nil/false
/// outside the table and PBA). A vector signalled while it or the whole function is masked
/// sets its pending bit; the message is sent when the mask clears (§6.8.3.5), as crosvm's
/// `msix.rs` does.
public final class MSIXCapability: PCIConfigWriteObserver {
    public let offset: Int
    public let vectors: Int
    public let tableBAR: Int
    public let tableOffset: UInt64
    public let pbaBAR: Int
    public let pbaOffset: UInt64
    private let bus: PCIBusInterface
    /// Four dwords per entry: address low, address high, data, vector control.
    private var table: [UInt32]
    private var pendingBits: [UInt64]
    /// The Message Control value last traced, to report only changes.
    private var tracedControl: UInt16 = 0

    enum Control {
        static let functionMask: UInt16 = 1 << 14
        static let enable: UInt16 = 1 << 15
    }

    /// Bytes per table entry.
    public static let entrySize: UInt64 = 16

    /// Adds the capability to `bus.config`. Table and PBA offsets must be 8-byte aligned and
    /// inside their BARs (the caller declares the BARs).
    public init(bus: PCIBusInterface, vectors: Int, tableBAR: Int, tableOffset: UInt64, pbaBAR: Int, pbaOffset: UInt64) {
        precondition((1...2048).contains(vectors), "MSI-X supports 1...2048 vectors")
        precondition(tableOffset & 7 == 0 && pbaOffset & 7 == 0, "MSI-X table and PBA must be 8-byte aligned")
        self.bus = bus
        self.vectors = vectors
        self.tableBAR = tableBAR
        self.tableOffset = tableOffset
        self.pbaBAR = pbaBAR
        self.pbaOffset = pbaOffset
        table = [UInt32](repeating: 0, count: 4 * vectors)
        pendingBits = [UInt64](repeating: 0, count: (vectors + 63) / 64)
        let config = bus.config
        offset = config.addCapability(id: PCICapabilityID.msix, length: 12)
        config.store16(offset + 2, UInt16(vectors - 1))
        config.setWritable(offset + 2, size: 2, mask: UInt32(Control.enable | Control.functionMask))
        config.store32(offset + 4, UInt32(tableOffset) | UInt32(tableBAR))
        config.store32(offset + 8, UInt32(pbaOffset) | UInt32(pbaBAR))
        config.observeWrites((offset + 2)..<(offset + 4), self)
        reset()
    }

    /// Bytes the table takes in its BAR.
    public var tableSize: UInt64 { UInt64(vectors) * MSIXCapability.entrySize }
    /// Bytes the PBA takes in its BAR (whole qwords).
    public var pbaSize: UInt64 { UInt64(pendingBits.count) * 8 }

    private var control: UInt16 { bus.config.load16(offset + 2) }
    public var isEnabled: Bool { control & Control.enable != 0 }
    public var isFunctionMasked: Bool { control & Control.functionMask != 0 }

    public func isMasked(_ vector: Int) -> Bool { table[4 * vector + 3] & 1 != 0 }
    public func isPending(_ vector: Int) -> Bool { pendingBits[vector / 64] & (1 << UInt64(vector % 64)) != 0 }

    /// Every vector masked, nothing pending (the power-on state, §6.8.2.9).
    public func reset() {
        for vector in 0..<vectors {
            table[4 * vector] = 0
            table[4 * vector + 1] = 0
            table[4 * vector + 2] = 0
            table[4 * vector + 3] = 1
        }
        for index in pendingBits.indices { pendingBits[index] = 0 }
    }

    /// Signals `vector`: sends its message, or sets its pending bit while it or the function is
    /// masked. Ignored while MSI-X is disabled (the function then uses INTx) or out of range.
    public func notify(vector: Int) {
        guard isEnabled, vector >= 0, vector < vectors else { return }
        if isFunctionMasked || isMasked(vector) {
            pendingBits[vector / 64] |= 1 << UInt64(vector % 64)
            return
        }
        send(vector)
    }

    private func send(_ vector: Int) {
        let address = UInt64(table[4 * vector]) | UInt64(table[4 * vector + 1]) << 32
        if Trace.mask & TraceGroup.irq.bit != 0 {
            Trace.emit(.irq, device: bus.name, "msix-vector", ["vector": .number(UInt64(vector))])
        }
        bus.sendMessage(address: address, data: table[4 * vector + 2])
    }

    /// Sends every pending vector that is no longer masked.
    private func deliverPending() {
        guard isEnabled, !isFunctionMasked else { return }
        for word in pendingBits.indices where pendingBits[word] != 0 {
            for bit in 0..<64 where pendingBits[word] & (1 << UInt64(bit)) != 0 {
                let vector = word * 64 + bit
                if !isMasked(vector) {
                    pendingBits[word] &= ~(1 << UInt64(bit))
                    send(vector)
                }
            }
        }
    }

    public func configWritten(offset: Int, size: Int) {
        if Trace.mask & TraceGroup.pci.bit != 0, tracedControl != control {
            tracedControl = control
            Trace.emit(.pci, device: bus.name, "msix-control", ["enable": .flag(isEnabled), "function-mask": .flag(isFunctionMasked)])
        }
        deliverPending()
    }

    // MARK: BAR access

    /// Answers a read of BAR `bar` that falls in the table or PBA; nil otherwise.
    public func readBAR(_ bar: Int, offset: UInt64, size: Int) -> UInt64? {
        if bar == tableBAR, offset >= tableOffset, offset - tableOffset < tableSize {
            return readDwords(offset - tableOffset, size: size) { $0 < self.table.count ? self.table[$0] : 0 }
        }
        if bar == pbaBAR, offset >= pbaOffset, offset - pbaOffset < pbaSize {
            return readDwords(offset - pbaOffset, size: size) { index in
                guard index / 2 < self.pendingBits.count else { return 0 }
                return UInt32(truncatingIfNeeded: self.pendingBits[index / 2] >> (32 * UInt64(index % 2)))
            }
        }
        return nil
    }

    /// Handles a write to BAR `bar` in the table (the PBA is read-only); false outside both.
    public func writeBAR(_ bar: Int, offset: UInt64, size: Int, value: UInt64) -> Bool {
        if bar == tableBAR, offset >= tableOffset, offset - tableOffset < tableSize {
            let relative = offset - tableOffset
            for byte in 0..<size where relative + UInt64(byte) < tableSize {
                let at = Int(relative) + byte
                let index = at / 4
                let shift = UInt32(8 * (at % 4))
                var word = table[index] & ~(0xff << shift)
                word |= (UInt32(truncatingIfNeeded: value >> UInt64(8 * byte)) & 0xff) << shift
                switch index % 4 {
                case 0: word &= 0xffff_fffc          // message address is dword aligned
                case 3: word &= 1                    // only the mask bit is defined
                default: break
                }
                table[index] = word
            }
            deliverPending()
            return true
        }
        return bar == pbaBAR && offset >= pbaOffset && offset - pbaOffset < pbaSize
    }

    private func readDwords(_ relative: UInt64, size: Int, _ dword: (Int) -> UInt32) -> UInt64 {
        var value: UInt64 = 0
        for byte in 0..<size {
            let at = Int(relative) + byte
            let bits = UInt64(dword(at / 4) >> UInt32(8 * (at % 4))) & 0xff
            value |= bits << UInt64(8 * byte)
        }
        return value
    }
}

/// Snapshots (docs/snapshots.md): the vector table and the pending bits (Message Control is in
/// configuration space, saved with it).
extension MSIXCapability {
    public func save(to state: inout DeviceStateWriter) {
        state.put(words: table)
        state.put(words: pendingBits)
    }

    public func restore(from state: inout DeviceStateReader) throws(DeviceStateError) {
        table = try state.words32(count: table.count, "MSI-X table dwords")
        pendingBits = try state.words64(count: pendingBits.count, "MSI-X pending words")
        tracedControl = control
    }
}
