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
    var instance: UnsafeMutableRawPointer?
    private let readFunction: @convention(c) (UnsafeMutableRawPointer?, UInt64, UInt32) -> UInt64
    private let writeFunction: @convention(c) (UnsafeMutableRawPointer?, UInt64, UInt32, UInt64) -> Void
    let cName: UnsafeMutablePointer<CChar>

    init(name: String, type: PluginPlatformType, base: UInt64, size: UInt64, irqs: [IRQLine]) {
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

    var handle: OpaquePointer { OpaquePointer(Unmanaged.passUnretained(self).toOpaque()) }

    static func from(_ handle: OpaquePointer?) -> PluginPlatformDevice? {
        guard let handle else { return nil }
        return Unmanaged<PluginPlatformDevice>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
    }

    public func read(offset: UInt64, size: Int) -> UInt64 {
        readFunction(instance, offset, UInt32(truncatingIfNeeded: size))
    }

    public func write(offset: UInt64, size: Int, value: UInt64) {
        writeFunction(instance, offset, UInt32(truncatingIfNeeded: size), value)
    }

    /// A guest-requested machine reset.
    public func reset() {
        type.raw.reset?(instance)
    }
}

/// A machine reset calls the plugin's `reset` callback (`reset()`).
extension PluginPlatformDevice: DeviceLifecycle {}
