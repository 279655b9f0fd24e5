import CBackplane
import Foundation
import IRQ
import Memory

/// One instance of a plugin platform type: an `MMIODevice` on the platform bus whose accesses
/// go straight to the plugin's C callbacks, with the IRQ lines the board wired.
public final class PluginPlatformDevice: MMIODevice {
    public let name: String
    public let type: PluginPlatformType
    public let implementedSizes: AccessSizes
    public let base: UInt64
    public let size: UInt64
    let irqs: [IRQLine]
    /// Guest physical memory for DMA (ABI 1.2); nil when the machine gave none.
    let memory: AddressSpace?
    var instance: UnsafeMutableRawPointer?
    private let readFunction: @convention(c) (UnsafeMutableRawPointer?, UInt64, UInt32) -> UInt64
    private let writeFunction: @convention(c) (UnsafeMutableRawPointer?, UInt64, UInt32, UInt64) -> Void
    let cName: UnsafeMutablePointer<CChar>

    init(name: String, type: PluginPlatformType, base: UInt64, size: UInt64, irqs: [IRQLine], memory: AddressSpace?) {
        self.memory = memory
        self.name = name
        self.type = type
        self.base = base
        self.size = size
        self.irqs = irqs
        implementedSizes = type.accessSizes
        readFunction = type.raw.read ?? { _, _, _ in 0 }
        writeFunction = type.raw.write ?? { _, _, _, _ in }
        cName = strdup(name)!
    }

    deinit { free(cName) }

    /// The `bp_platform_device *` handed to the plugin: a checked token (PluginHandles), valid
    /// from `create` until `destroy` returns.
    lazy var handle: OpaquePointer = PluginHandles.shared.issue(self, kind: .platformDevice, owner: type.plugin.identity)


    public func read(offset: UInt64, size: Int) -> UInt64 {
        readFunction(instance, offset, UInt32(truncatingIfNeeded: size))
    }

    public func write(offset: UInt64, size: Int, value: UInt64) {
        writeFunction(instance, offset, UInt32(truncatingIfNeeded: size), value)
    }

    // MARK: DMA (ABI 1.2)

    /// `platform->dma_read`: a bus master on the system bus without an IOMMU reads RAM; any
    /// byte outside RAM is a master abort and nothing is transferred.
    func dma(read address: UInt64, into buffer: UnsafeMutableRawPointer?, length: Int) -> Int32 {
        guard length >= 0, buffer != nil || length == 0 else { return invalid("dma_read", "buffer is NULL with length \(length)") }
        guard length > 0 else { return BP_OK }
        guard let memory else { return BP_ERR_MASTER_ABORT }
        if case .failure = DMAAccessor(memory).read(address, into: UnsafeMutableRawBufferPointer(start: buffer, count: length)) {
            return BP_ERR_MASTER_ABORT
        }
        return BP_OK
    }

    func dma(write address: UInt64, from buffer: UnsafeMutableRawPointer?, length: Int) -> Int32 {
        guard length >= 0, buffer != nil || length == 0 else { return invalid("dma_write", "buffer is NULL with length \(length)") }
        guard length > 0 else { return BP_OK }
        guard let memory else { return BP_ERR_MASTER_ABORT }
        if case .failure = DMAAccessor(memory).write(address, from: UnsafeRawBufferPointer(start: buffer, count: length)) {
            return BP_ERR_MASTER_ABORT
        }
        return BP_OK
    }

    /// `platform->dma_readv` / `dma_writev`.
    func dma(segments: UnsafePointer<bp_dma_segment>?, count: UInt32, buffer: UnsafeMutableRawPointer?, write: Bool,
             transferred: UnsafeMutablePointer<Int>?) -> Int32 {
        transferred?.pointee = 0
        guard count <= 1024, count == 0 || (segments != nil && buffer != nil) else {
            return invalid(write ? "dma_writev" : "dma_readv", "\(count) segments, segments or buffer NULL")
        }
        var done = 0
        for index in 0..<Int(count) {
            let segment = segments![index]
            guard segment.length <= UInt64(Int.max - done) else { return BP_ERR_INVALID }
            let status = write ? dma(write: segment.address, from: buffer! + done, length: Int(segment.length))
                               : dma(read: segment.address, into: buffer! + done, length: Int(segment.length))
            guard status == BP_OK else { return status }
            done += Int(segment.length)
            transferred?.pointee = done
        }
        return BP_OK
    }

    private func invalid(_ function: String, _ why: String) -> Int32 {
        type.plugin.identity.refuse("platform->\(function): device '\(name)': \(why); refused with BP_ERR_INVALID")
        return BP_ERR_INVALID
    }

    /// A guest-requested machine reset.
    public func reset() {
        type.raw.reset?(instance)
    }
}

/// A machine reset calls the plugin's `reset` callback (`reset()`).
extension PluginPlatformDevice: DeviceLifecycle {}
