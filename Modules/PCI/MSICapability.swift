import Trace

/// An MSI capability (PCI Local Bus 3.0 §6.8.1): one message address and data, up to 32
/// vectors, optional 64-bit address and per-vector masking.
///
/// Registers live in the function's configuration space; this type lays them out, keeps the
/// read-only fields read-only and sends messages. A vector signalled while masked sets its
/// pending bit and is sent when unmasked (§6.8.1.7-8).
public final class MSICapability: PCIConfigWriteObserver {
    /// Offset of the capability in configuration space.
    public let offset: Int
    /// Vectors the function asks for (Multiple Message Capable, a power of two ≤ 32).
    public let vectors: Int
    public let is64Bit: Bool
    public let perVectorMasking: Bool
    private let bus: PCIBusInterface

    /// Message control bits (§6.8.1.3).
    enum Control {
        static let enable: UInt16 = 1 << 0
        static let multipleMessageEnableShift: UInt16 = 4
        static let address64: UInt16 = 1 << 7
        static let perVectorMasking: UInt16 = 1 << 8
    }

    /// Adds the capability to `bus.config`.
    public init(bus: PCIBusInterface, vectors: Int = 1, is64Bit: Bool = true, perVectorMasking: Bool = true) {
        precondition(vectors.nonzeroBitCount == 1 && vectors <= 32, "MSI vectors must be 1, 2, 4, 8, 16 or 32")
        self.bus = bus
        self.vectors = vectors
        self.is64Bit = is64Bit
        self.perVectorMasking = perVectorMasking
        let config = bus.config
        let length = (is64Bit ? 0x0e : 0x0a) + (perVectorMasking ? 0x0a : 0)
        offset = config.addCapability(id: PCICapabilityID.msi, length: length)
        var control = UInt16(vectors.trailingZeroBitCount) << 1
        if is64Bit { control |= Control.address64 }
        if perVectorMasking { control |= Control.perVectorMasking }
        config.store16(offset + 2, control)
        config.setWritable(offset + 2, size: 2, mask: UInt32(Control.enable | 0x7 << Control.multipleMessageEnableShift))
        config.setWritable(offset + 4, size: 4, mask: 0xffff_fffc)
        if is64Bit { config.setWritable(offset + 8, size: 4, mask: 0xffff_ffff) }
        config.setWritable(dataOffset, size: 2, mask: 0xffff)
        if perVectorMasking {
            config.setWritable(maskOffset, size: 4, mask: vectors == 32 ? 0xffff_ffff : (1 << UInt32(vectors)) - 1)
        }
        config.observeWrites(offset..<(offset + length), self)
    }

    private var dataOffset: Int { offset + (is64Bit ? 0x0c : 0x08) }
    private var maskOffset: Int { offset + (is64Bit ? 0x10 : 0x0c) }
    private var pendingOffset: Int { maskOffset + 4 }
    private var control: UInt16 { bus.config.load16(offset + 2) }

    public var isEnabled: Bool { control & Control.enable != 0 }

    /// Vectors software enabled (Multiple Message Enable), never more than `vectors`.
    public var enabledVectors: Int {
        min(vectors, 1 << Int((control >> Control.multipleMessageEnableShift) & 0x7))
    }

    /// The message address software programmed.
    public var address: UInt64 {
        let low = UInt64(bus.config.load32(offset + 4))
        return is64Bit ? low | UInt64(bus.config.load32(offset + 8)) << 32 : low
    }

    public func isMasked(_ vector: Int) -> Bool {
        perVectorMasking && bus.config.load32(maskOffset) & (1 << UInt32(vector)) != 0
    }

    /// Pending bits (read-only to software).
    public var pending: UInt32 { perVectorMasking ? bus.config.load32(pendingOffset) : 0 }

    /// Signals `vector`: sends the message, or marks it pending while masked. Ignored while MSI
    /// is disabled or when `vector` is not among the enabled ones.
    public func signal(vector: Int) {
        guard isEnabled, vector >= 0, vector < enabledVectors else { return }
        if isMasked(vector) {
            bus.config.store32(pendingOffset, pending | 1 << UInt32(vector))
            return
        }
        send(vector)
    }

    private func send(_ vector: Int) {
        // With n vectors enabled the function puts the vector number in the low log2(n) bits of
        // the data (§6.8.1.6).
        let low = UInt32(enabledVectors - 1)
        let data = (UInt32(bus.config.load16(dataOffset)) & ~low) | UInt32(vector)
        if Trace.mask & TraceGroup.irq.bit != 0 {
            Trace.emit(.irq, device: bus.name, "msi-vector", ["vector": .number(UInt64(vector))])
        }
        bus.sendMessage(address: address, data: data)
    }

    public func configWritten(offset: Int, size: Int) {
        guard perVectorMasking, isEnabled else { return }
        var bits = pending
        guard bits != 0 else { return }
        for vector in 0..<enabledVectors where bits & (1 << UInt32(vector)) != 0 && !isMasked(vector) {
            bits &= ~(1 << UInt32(vector))
            bus.config.store32(pendingOffset, bits)
            send(vector)
        }
    }
}
