/// Why a device's DMA access failed. Devices turn this into the error their hardware reports
/// (a PCI master abort, a virtio device error); it never ends the host process.
public struct DMAError: Error, Equatable, CustomStringConvertible {
    public let address: UInt64
    public let length: Int
    public init(address: UInt64, length: Int) {
        self.address = address
        self.length = length
    }
    public var description: String {
        "DMA of \(length) bytes at 0x\(String(address, radix: 16)) leaves guest RAM"
    }
}

/// How devices read and write guest memory: RAM only, bounds-checked, never a host crash.
///
/// A transfer must lie wholly inside one RAM region; anything else (MMIO, ROM for writes, holes)
/// is refused as a whole before a byte moves, so a failed DMA has no partial effect.
public struct DMAAccessor {
    private unowned let space: AddressSpace

    public init(_ space: AddressSpace) { self.space = space }

    /// Copies `buffer.count` bytes of guest memory at `address` into `buffer`.
    public func read(_ address: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Result<Void, DMAError> {
        guard buffer.count > 0 else { return .success(()) }
        guard let source = space.hostPointer(address, length: UInt64(buffer.count), forWrite: false),
              space.region(containing: address)?.kind == .ram else {
            return .failure(DMAError(address: address, length: buffer.count))
        }
        buffer.baseAddress!.copyMemory(from: source, byteCount: buffer.count)
        return .success(())
    }

    /// Copies `bytes` into guest memory at `address`.
    public func write(_ address: UInt64, from bytes: UnsafeRawBufferPointer) -> Result<Void, DMAError> {
        guard bytes.count > 0 else { return .success(()) }
        guard let region = space.region(containing: address), region.kind == .ram,
              let target = space.hostPointer(address, length: UInt64(bytes.count), forWrite: true) else {
            return .failure(DMAError(address: address, length: bytes.count))
        }
        space.noteWrite(region, offset: address - region.base, length: UInt64(bytes.count))
        target.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        return .success(())
    }

    /// Convenience: reads `count` bytes into a new array.
    public func read(_ address: UInt64, count: Int) -> Result<[UInt8], DMAError> {
        var bytes = [UInt8](repeating: 0, count: count)
        let result = bytes.withUnsafeMutableBytes { read(address, into: $0) }
        return result.map { bytes }
    }

    /// Convenience: writes an array of bytes.
    public func write(_ address: UInt64, bytes: [UInt8]) -> Result<Void, DMAError> {
        bytes.withUnsafeBytes { write(address, from: $0) }
    }
}

extension AddressSpace {
    /// The DMA accessor for devices on this address space.
    public var dma: DMAAccessor { DMAAccessor(self) }
}
