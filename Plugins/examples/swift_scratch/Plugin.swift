// swift_scratch: a platform device plugin written in Swift against the C SDK (the CBackplane
// module map over Plugins/include), exporting its entry with @_cdecl.
//
//   0x00 ID      read-only 0x53574654 ("SWFT")
//   0x04 INVERT  reads back the bitwise inverse of what was written
//   0x08 ADD     write: adds the value to SUM
//   0x10 SUM     64-bit running sum (read; write resets it)
//   0x18 WRITES  number of guest writes since reset
import CBackplane
import Foundation

/// State of one instance; the host only sees it as the opaque `instance` pointer.
final class Scratch {
    var inverted: UInt32 = 0
    var sum: UInt64 = 0
    var writes: UInt64 = 0

    func read(_ offset: UInt64) -> UInt64 {
        switch offset {
        case 0x00: return 0x5357_4654
        case 0x04: return UInt64(~inverted)
        case 0x10: return sum
        case 0x18: return writes
        default: return 0
        }
    }

    func write(_ offset: UInt64, _ value: UInt64) {
        writes &+= 1
        switch offset {
        case 0x04: inverted = UInt32(truncatingIfNeeded: value)
        case 0x08: sum &+= value
        case 0x10: sum = 0
        default: break
        }
    }
}

nonisolated(unsafe) private var host: UnsafePointer<bp_host>?

@inline(__always) private func scratch(_ instance: UnsafeMutableRawPointer?) -> Scratch {
    Unmanaged<Scratch>.fromOpaque(instance!).takeUnretainedValue()
}

private func install(_ h: UnsafePointer<bp_host>?, _ plugin: OpaquePointer?, _ args: UnsafePointer<bp_args>?) -> Int32 {
    host = h
    var type = bp_platform_device_type()
    type.struct_size = UInt32(MemoryLayout<bp_platform_device_type>.size)
    type.name = UnsafePointer(strdup("swift.scratch"))
    type.summary = UnsafePointer(strdup("scratch registers and an adder, written in Swift"))
    type.node_name = UnsafePointer(strdup("scratch"))
    type.compatible = UnsafePointer(strdup("backplane,swift-scratch"))
    type.minimum_size = 0x20
    type.access_sizes = UInt32(BP_ACCESS_4 | BP_ACCESS_8)
    type.create = { _, _, _, instance in
        instance?.pointee = Unmanaged.passRetained(Scratch()).toOpaque()
        return BP_OK
    }
    type.read = { instance, offset, _ in scratch(instance).read(offset) }
    type.write = { instance, offset, _, value in scratch(instance).write(offset, value) }
    type.reset = { instance in
        let state = scratch(instance)
        state.inverted = 0
        state.sum = 0
        state.writes = 0
    }
    type.destroy = { instance in Unmanaged<Scratch>.fromOpaque(instance!).release() }
    return h!.pointee.platform.pointee.register_type(plugin, &type)
}

/// The descriptor, built once at a stable address.
nonisolated(unsafe) private let descriptor: UnsafeMutablePointer<bp_plugin_descriptor> = {
    let pointer = UnsafeMutablePointer<bp_plugin_descriptor>.allocate(capacity: 1)
    var value = bp_plugin_descriptor()
    value.magic = BP_PLUGIN_MAGIC
    value.struct_size = UInt32(MemoryLayout<bp_plugin_descriptor>.size)
    value.abi_major = UInt16(BP_ABI_MAJOR)
    value.abi_minor = UInt16(BP_ABI_MINOR)
    value.name = UnsafePointer(strdup("swift_scratch"))
    value.summary = UnsafePointer(strdup("a platform device written in Swift"))
    value.uses = nil
    value.install = install
    value.exit = nil
    pointer.initialize(to: value)
    return pointer
}()

@_cdecl("backplane_plugin_descriptor")
public func backplanePluginDescriptor() -> UnsafePointer<bp_plugin_descriptor> {
    UnsafePointer(descriptor)
}
