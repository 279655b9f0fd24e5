import Memory
/// A virtio entropy device (virtio 1.2 §5.4): every device-writable buffer the driver offers on
/// its one queue is filled with bytes from the host's system generator. No
/// features, no configuration.
public final class VirtioRNG: VirtioDeviceModel {
    /// Most bytes one request gets: a driver that offers more receives this many (it must cope
    /// with short fills, §5.4.6.1), so a huge chain costs the host a bounded amount of work.
    public static let maximumRequestBytes = 64 * 1024

    public var deviceType: UInt16 { 4 }
    /// "Other" class, as QEMU uses for virtio-rng.
    public var classCode: UInt32 { 0x00ff00 }
    public var deviceFeatures: UInt64 { 0 }
    public var queueCount: Int { 1 }
    /// Where the bytes come from; tests substitute a known pattern.
    private let source: (UnsafeMutableRawBufferPointer) -> Void

    /// The seeded generator behind `source`, when there is one (virtual-clock runs): its state
    /// is part of a snapshot, so a resumed run gives the guest the bytes the uninterrupted one would.
    public private(set) var entropy: SeededEntropy?

    public init(source: ((UnsafeMutableRawBufferPointer) -> Void)? = nil) {
        self.source = source ?? VirtioRNG.hostRandom
    }

    /// Bytes from `entropy`, whose state snapshots save.
    public convenience init(entropy: SeededEntropy) {
        self.init(source: entropy.fill)
        self.entropy = entropy
    }

    /// The standard library's system generator: getrandom(2) on Linux, arc4random on Darwin.
    static func hostRandom(_ buffer: UnsafeMutableRawBufferPointer) {
        var generator = SystemRandomNumberGenerator()
        var index = 0
        while index < buffer.count {
            var word = generator.next()
            let piece = min(8, buffer.count - index)
            withUnsafeBytes(of: &word) { buffer[index..<(index + piece)].copyBytes(from: $0[0..<piece]) }
            index += piece
        }
    }

    public func readConfig(offset: Int, size: Int) -> UInt64 { 0 }
    public func writeConfig(offset: Int, size: Int, value: UInt64) {}
    public func reset() {}

    public func process(_ chain: DescriptorChain, queue: Int) -> UInt32? {
        let count = Int(min(chain.writableLength, UInt64(VirtioRNG.maximumRequestBytes)))
        guard count > 0 else { return 0 }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 8)
        defer { buffer.deallocate() }
        source(buffer)
        guard case .success = chain.write(at: 0, from: UnsafeRawBufferPointer(buffer)) else { return 0 }
        return UInt32(count)
    }
}

/// A reproducible entropy source for virtual-clock runs: SplitMix64 (Steele, Lea and Flood,
/// "Fast splittable pseudorandom number generators", 2014) from a seed, so the same seed gives
/// the guest the same bytes every run. Not for secrets; `--clock host` uses the host's generator.
public final class SeededEntropy {
    fileprivate var state: UInt64

    public init(seed: UInt64) { state = seed }

    public func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// Fills `buffer` with the next bytes of the sequence.
    public func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        var index = 0
        while index < buffer.count {
            var word = next()
            let piece = min(8, buffer.count - index)
            withUnsafeBytes(of: &word) { buffer[index..<(index + piece)].copyBytes(from: $0[0..<piece]) }
            index += piece
        }
    }
}

/// Snapshots (docs/snapshots.md): the seeded generator's position; the host's generator has
/// nothing to save.
extension VirtioRNG: VirtioDeviceSnapshot {
    public func saveModel(to state: inout DeviceStateWriter) {
        state.put(entropy != nil)
        if let entropy { state.put(entropy.state) }
    }

    public func restoreModel(from state: inout DeviceStateReader) throws(DeviceStateError) {
        let seeded = try state.bool()
        guard seeded == (entropy != nil) else {
            throw .mismatch(seeded ? "virtio-rng was seeded when saved (--clock virtual)" : "virtio-rng used the host's generator when saved (--clock host)")
        }
        if seeded { entropy?.state = try state.uint64() }
    }
}
