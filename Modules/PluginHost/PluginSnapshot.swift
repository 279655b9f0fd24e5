import CBackplane
import Foundation
import Memory

/// A `bp_snapshot *` (plugin.h "Snapshots", ABI 1.3): the bytes one device's `save` hook
/// writes or its `restore` hook reads, during that one call. Its handle is checked like every
/// other (PluginHandles) and retired when the hook returns, so a plugin that keeps it is refused.
final class PluginSnapshotStream {
    let plugin: LoadedPlugin
    /// nil while saving; the saved bytes while restoring.
    private let input: [UInt8]?
    private var position = 0
    private(set) var output: [UInt8] = []
    private(set) lazy var handle: OpaquePointer = PluginHandles.shared.issue(self, kind: .snapshot, owner: plugin.identity)

    init(plugin: LoadedPlugin, restoring input: [UInt8]? = nil) {
        self.plugin = plugin
        self.input = input
    }

    var remaining: Int { input.map { $0.count - position } ?? 0 }

    func write(_ data: UnsafeRawPointer?, _ length: Int) -> Int32 {
        guard input == nil else { return refuse("write", "the stream is being restored, not saved") }
        guard length >= 0, data != nil || length == 0 else { return refuse("write", "data is NULL with length \(length)") }
        if length > 0 { output += UnsafeRawBufferPointer(start: data, count: length) }
        return BP_OK
    }

    func read(_ data: UnsafeMutableRawPointer?, _ length: Int) -> Int32 {
        guard let input else { return refuse("read", "the stream is being saved, not restored") }
        guard length >= 0, data != nil || length == 0 else { return refuse("read", "data is NULL with length \(length)") }
        guard length <= input.count - position else {
            return refuse("read", "\(length) bytes asked, \(input.count - position) left of what save wrote")
        }
        input.withUnsafeBytes { bytes in data?.copyMemory(from: bytes.baseAddress! + position, byteCount: length) }
        position += length
        return BP_OK
    }

    private func refuse(_ function: String, _ why: String) -> Int32 {
        plugin.identity.refuse("snapshot->\(function): \(why); refused with BP_ERR_INVALID")
        return BP_ERR_INVALID
    }
}

/// What the machine lifecycle's snapshot phase asks of a plugin device (`DeviceLifecycle`
/// `save(to:)`, `restore(from:)`, `snapshotRefusal`), the same for PCI, platform and USB
/// instances. The saved bytes are the type's name, whether `save` succeeded, then the bytes it
/// wrote: a restore onto another type, or of a save that failed, is refused naming the device.
struct PluginSnapshotHooks {
    typealias Hook = @convention(c) (UnsafeMutableRawPointer?, OpaquePointer?) -> Int32
    let save: Hook?
    let restore: Hook?
    let device: String
    let type: String
    let plugin: LoadedPlugin

    /// nil when the type has both hooks.
    var refusal: String? {
        guard save == nil || restore == nil else { return nil }
        return "device '\(device)' (plugin '\(plugin.name)', type '\(type)') has no save/restore hooks (ABI 1.3, docs/plugins.md \"Snapshots\"), so its state cannot be saved"
    }

    func save(_ instance: UnsafeMutableRawPointer?, to state: inout DeviceStateWriter) {
        state.put(Array(type.utf8))
        guard let save else {
            state.put(false)
            state.put([UInt8]())
            return
        }
        let stream = PluginSnapshotStream(plugin: plugin)
        let status = save(instance, stream.handle)
        PluginHandles.shared.retire(stream.handle)
        if status != 0 { plugin.log(BP_LOG_ERROR, "device '\(device)': save returned \(status); its snapshot cannot be restored") }
        state.put(status == 0)
        state.put(status == 0 ? stream.output : [])
    }

    func restore(_ instance: UnsafeMutableRawPointer?, from state: inout DeviceStateReader) throws(DeviceStateError) {
        let savedType = String(decoding: try state.data(), as: UTF8.self)
        let saved = try state.bool()
        let bytes = try state.data()
        let what = "device '\(device)' (plugin '\(plugin.name)')"
        guard savedType == type else { throw .mismatch("\(what) is of type '\(type)', the snapshot holds a '\(savedType)'") }
        guard saved else { throw .mismatch("\(what): its save hook failed (or it had none) when the snapshot was taken") }
        guard let restore else { throw .mismatch("\(what): type '\(type)' has no restore hook") }
        let stream = PluginSnapshotStream(plugin: plugin, restoring: bytes)
        let status = restore(instance, stream.handle)
        PluginHandles.shared.retire(stream.handle)
        guard status == 0 else { throw .mismatch("\(what): its restore hook returned \(status)") }
        guard stream.remaining == 0 else { throw .mismatch("\(what): its restore hook left \(stream.remaining) of \(bytes.count) saved bytes unread") }
    }
}

extension PluginPCIType {
    /// Whether the type has the ABI 1.3 `save`/`restore` hooks (registration demands both or neither).
    public var hasSnapshotHooks: Bool { raw.save != nil }
}

extension PluginPlatformType {
    public var hasSnapshotHooks: Bool { raw.save != nil }
}

extension PluginUSBType {
    public var hasSnapshotHooks: Bool { raw.save != nil }
}

extension PluginPCIFunction {
    var snapshotHooks: PluginSnapshotHooks {
        PluginSnapshotHooks(save: type.raw.save, restore: type.raw.restore, device: name, type: type.name, plugin: type.plugin)
    }
}

extension PluginUSBDevice {
    var snapshotHooks: PluginSnapshotHooks {
        PluginSnapshotHooks(save: type.raw.save, restore: type.raw.restore, device: name, type: type.name, plugin: type.plugin)
    }
}

extension PluginPlatformDevice {
    var snapshotHooks: PluginSnapshotHooks {
        PluginSnapshotHooks(save: type.raw.save, restore: type.raw.restore, device: name, type: type.name, plugin: type.plugin)
    }

    /// A platform device is a lifecycle participant already (reset); these add the snapshot phase.
    public var snapshotRefusal: String? { snapshotHooks.refusal }
    public func save(to state: inout DeviceStateWriter) { snapshotHooks.save(instance, to: &state) }
    public func restore(from state: inout DeviceStateReader) throws(DeviceStateError) { try snapshotHooks.restore(instance, from: &state) }
}

/// The snapshot phase of a plugin PCI function or USB device. Their buses reset and poll them
/// (the host bridge, the xHCI port), so the machine does not manage the devices themselves;
/// it manages this participant, which takes part in the snapshot phase only
/// (`PluginHost.snapshotParticipants`).
public final class PluginSnapshotParticipant: DeviceLifecycle {
    enum Device {
        case pci(PluginPCIFunction)
        case usb(PluginUSBDevice)
    }

    let device: Device
    /// The board name of the device.
    public let name: String

    init(_ device: Device) {
        self.device = device
        switch device {
        case .pci(let function): name = function.name
        case .usb(let usb): name = usb.name
        }
    }

    private var hooks: PluginSnapshotHooks {
        switch device {
        case .pci(let function): return function.snapshotHooks
        case .usb(let usb): return usb.snapshotHooks
        }
    }

    private var instance: UnsafeMutableRawPointer? {
        switch device {
        case .pci(let function): return function.instance
        case .usb(let usb): return usb.instance
        }
    }

    public var snapshotRefusal: String? { hooks.refusal }
    public func save(to state: inout DeviceStateWriter) { hooks.save(instance, to: &state) }
    public func restore(from state: inout DeviceStateReader) throws(DeviceStateError) { try hooks.restore(instance, from: &state) }
}

extension PluginHost {
    /// The snapshot participant of a PCI function this host created (`Machine.manage` it after
    /// attaching the function).
    public func snapshotParticipant(for function: PluginPCIFunction) -> PluginSnapshotParticipant { PluginSnapshotParticipant(.pci(function)) }

    /// The snapshot participant of a USB device this host created.
    public func snapshotParticipant(for device: PluginUSBDevice) -> PluginSnapshotParticipant { PluginSnapshotParticipant(.usb(device)) }

    /// Every plugin device instance in the snapshot phase, in creation order per bus (PCI,
    /// platform, USB): platform devices themselves (already lifecycle participants), PCI
    /// functions and USB devices through a `PluginSnapshotParticipant`.
    public var snapshotParticipants: [any DeviceLifecycle] {
        pciFunctions.map { PluginSnapshotParticipant(.pci($0)) } + platformDevices + usbDevices.map { PluginSnapshotParticipant(.usb($0)) }
    }

    /// The first plugin device that makes a snapshot impossible, as one line naming it; nil
    /// when every instance has save/restore hooks (or there are none).
    public var snapshotRefusal: String? { snapshotParticipants.lazy.compactMap(\.snapshotRefusal).first }
}

extension HostInterface {
    /// `bp_snapshot_interface` (plugin.h, ABI 1.3).
    static func makeSnapshot() -> bp_snapshot_interface {
        var table = bp_snapshot_interface()
        table.struct_size = UInt32(MemoryLayout<bp_snapshot_interface>.size)
        table.write = { handle, data, length in
            PluginSnapshotStream.call(handle, in: "snapshot->write") { $0.write(data, length) }
        }
        table.read = { handle, data, length in
            PluginSnapshotStream.call(handle, in: "snapshot->read") { $0.read(data, length) }
        }
        table.remaining = { handle in PluginSnapshotStream.from(handle, in: "snapshot->remaining")?.remaining ?? 0 }
        return table
    }
}
