import Memory

/// A USB device model whose state can be saved in a snapshot (docs/snapshots.md). The xHCI
/// controller saves what the bus knows of every attached device (`USBDeviceCore`: address,
/// configuration, alternate settings, halts) and asks a model that conforms for the rest; a
/// model that does not (a passed-through host device, a plugin device) makes a snapshot refuse.
///
/// A packet the model holds (an interrupt IN waiting for input) is not saved: the controller
/// hands the same TD to the model again after the restore, as if it had just been fetched.
public protocol USBDeviceSnapshot: AnyObject {
    func saveDevice(to state: inout DeviceStateWriter)
    func restoreDevice(from state: inout DeviceStateReader) throws(DeviceStateError)
}
