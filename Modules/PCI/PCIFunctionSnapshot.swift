import Memory

/// A PCI function whose own state can be saved in a snapshot (docs/snapshots.md). The host
/// bridge saves every function's configuration space and INTx level itself and asks a function
/// that conforms for the rest (registers, MSI-X table, queues); a function that does not
/// conform makes a snapshot refuse, naming it, instead of losing its state silently.
///
/// A protocol of its own beside `PCIFunction` (STYLE.md point 1): the bus protocol stays small.
public protocol PCIFunctionSnapshot: AnyObject {
    /// Why the function cannot be saved now (its state is on the host: a passed-through
    /// function, a network backend); nil when `saveFunction` captures it all.
    var snapshotRefusal: String? { get }
    /// Appends the function's state beyond its configuration space.
    func saveFunction(to state: inout DeviceStateWriter)
    /// Restores it, after the bridge restored the configuration space and mapped the BARs.
    func restoreFunction(from state: inout DeviceStateReader) throws(DeviceStateError)
}

extension PCIFunctionSnapshot {
    public var snapshotRefusal: String? { nil }
}

/// Snapshots: every function on the bus, by slot, each its configuration space (BAR mappings
/// follow from it and are made again on restore), its INTx level and its own state.
extension PCIHostBridge {
    public var snapshotRefusal: String? {
        var reasons: [String] = []
        for (index, slot) in slots.enumerated() {
            guard let slot, !(slot.function is HostBridgeFunction) else { continue }
            let place = "PCI function '\(slot.bus.name)' at \(PCIAddress(device: UInt8(index / 8), function: UInt8(index % 8)))"
            if let function = slot.function as? PCIFunctionSnapshot {
                if let reason = function.snapshotRefusal { reasons.append("\(place): \(reason)") }
            } else {
                // Every built-in and plugin function conforms; what is left is host-backed
                // (pci.host, VFIO), whose state is the host device's.
                reasons.append("\(place) (\(type(of: slot.function))) cannot be saved: its state is on the host")
            }
        }
        return reasons.isEmpty ? nil : reasons.joined(separator: "; ")
    }

    public func save(to state: inout DeviceStateWriter) {
        let occupied = slots.indices.filter { slots[$0] != nil }
        state.put(UInt64(occupied.count))
        for index in occupied {
            let slot = slots[index]!
            state.put(UInt64(index))
            slot.function.config.save(to: &state)
            slot.bus.save(to: &state)
            var own = DeviceStateWriter()
            (slot.function as? PCIFunctionSnapshot)?.saveFunction(to: &own)
            state.put(own.bytes)
        }
    }

    public func restore(from state: inout DeviceStateReader) throws(DeviceStateError) {
        let occupied = slots.indices.filter { slots[$0] != nil }
        let count = try state.uint64()
        guard count == UInt64(occupied.count) else { throw .mismatch("\(count) PCI functions saved, this bus has \(occupied.count)") }
        for index in occupied {
            let slot = slots[index]!
            let saved = try state.uint64()
            guard saved == UInt64(index) else {
                throw .mismatch("a PCI function saved in slot \(saved / 8).\(saved % 8), this bus has one in \(index / 8).\(index % 8)")
            }
            try slot.function.config.restore(from: &state)
            updateMappings(slot)
            try slot.bus.restore(from: &state)
            var own = DeviceStateReader(try state.data())
            if let function = slot.function as? PCIFunctionSnapshot { try function.restoreFunction(from: &own) }
            guard own.isAtEnd else { throw .mismatch("PCI function '\(slot.bus.name)': saved state not all read") }
        }
    }
}
