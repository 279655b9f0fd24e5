import Memory
import PCI

/// A virtio device type behind the PCI transport: what it offers and how it serves requests.
public protocol VirtioDeviceModel: AnyObject {
    /// Virtio device ID (virtio 1.2 §5: 2 = block); the PCI device ID is 0x1040 + this.
    var deviceType: UInt16 { get }
    /// PCI class code (0x010000 for a SCSI-class storage controller, as QEMU uses for blk).
    var classCode: UInt32 { get }
    /// Device-specific feature bits; the transport adds VIRTIO_F_VERSION_1.
    var deviceFeatures: UInt64 { get }
    /// Number of virtqueues.
    var queueCount: Int { get }
    /// Reads `size` bytes of the device-specific configuration at `offset` (zero past its end).
    func readConfig(offset: Int, size: Int) -> UInt64
    /// Writes the device-specific configuration.
    func writeConfig(offset: Int, size: Int, value: UInt64)
    /// Serves one request; returns the bytes written into the chain's writable buffers, or nil
    /// when the chain is so malformed that the device must be reset (no status byte to write).
    func process(_ chain: DescriptorChain, queue: Int) -> UInt32?
    /// Returns to the power-on state after the driver wrote 0 to device_status.
    func reset()
    /// Whether a notification of `queue` makes the transport serve its chains through
    /// `process` (true: request queues such as virtio-blk's) or only tells the device through
    /// `queueNotified` (false: queues of buffers the device fills when it has data, such as
    /// virtio-net's receive queue, which it drains through `VirtioQueueAccess`).
    func servesOnNotify(queue: Int) -> Bool
    /// The driver made buffers available on a queue the transport does not serve itself.
    func queueNotified(_ queue: Int)
    /// Called once by the transport, so the device can fill buffers later.
    func attach(_ access: VirtioQueueAccess)
    /// Runs the device's host side (sockets, timers); the machine calls it between slices.
    func poll()
}

extension VirtioDeviceModel {
    public func servesOnNotify(queue: Int) -> Bool { true }
    public func queueNotified(_ queue: Int) {}
    public func attach(_ access: VirtioQueueAccess) {}
    public func poll() {}
}

/// What a device sees of its transport when it fills buffers on its own schedule.
public protocol VirtioQueueAccess: AnyObject {
    /// Whether the driver set DRIVER_OK and the device does not need a reset.
    var isLive: Bool { get }
    /// Takes the next available chain of `queue`, or nil when there is none (or the ring is
    /// malformed: the transport then sets DEVICE_NEEDS_RESET).
    func takeChain(queue: Int) -> DescriptorChain?
    /// Returns a chain to the driver with `written` bytes in its writable buffers.
    func complete(queue: Int, head: UInt16, written: UInt32)
    /// Sends the used-buffer notification for `queue` unless the driver suppressed it.
    func signalUsed(queue: Int)
}

/// Constants of the virtio PCI transport (virtio 1.2 §4.1).
public enum VirtioPCI {
    public static let vendorID: UInt16 = 0x1af4
    /// "No MSI-X vector" in config_msix_vector and queue_msix_vector (§4.1.5.1.2).
    public static let noVector: UInt16 = 0xffff

    /// cfg_type of the vendor capabilities (§4.1.4).
    public enum CapabilityType: UInt8 {
        case common = 1, notify = 2, isr = 3, device = 4, pciConfig = 5
    }

    /// Device status bits (§2.1).
    public enum Status {
        public static let acknowledge: UInt8 = 1
        public static let driver: UInt8 = 2
        public static let driverOK: UInt8 = 4
        public static let featuresOK: UInt8 = 8
        public static let needsReset: UInt8 = 64
        public static let failed: UInt8 = 128
    }

    /// VIRTIO_F_VERSION_1 (§6).
    public static let featureVersion1: UInt64 = 1 << 32

    /// Offsets of the common configuration structure (§4.1.4.3).
    public enum Common {
        public static let deviceFeatureSelect: UInt64 = 0x00
        public static let deviceFeature: UInt64 = 0x04
        public static let driverFeatureSelect: UInt64 = 0x08
        public static let driverFeature: UInt64 = 0x0c
        public static let configMSIXVector: UInt64 = 0x10
        public static let numQueues: UInt64 = 0x12
        public static let deviceStatus: UInt64 = 0x14
        public static let configGeneration: UInt64 = 0x15
        public static let queueSelect: UInt64 = 0x16
        public static let queueSize: UInt64 = 0x18
        public static let queueMSIXVector: UInt64 = 0x1a
        public static let queueEnable: UInt64 = 0x1c
        public static let queueNotifyOff: UInt64 = 0x1e
        public static let queueDesc: UInt64 = 0x20
        public static let queueDriver: UInt64 = 0x28
        public static let queueDevice: UInt64 = 0x30
    }

    /// Where the structures sit in BAR 4 (QEMU's layout): one 4 KiB page each.
    public enum Layout {
        public static let bar = 4
        public static let barSize: UInt64 = 0x4000
        public static let common: UInt64 = 0x0000
        public static let isr: UInt64 = 0x1000
        public static let device: UInt64 = 0x2000
        public static let notify: UInt64 = 0x3000
        public static let regionSize: UInt64 = 0x1000
        /// queue_notify_off × this is a queue's notification address (§4.1.4.4).
        public static let notifyMultiplier: UInt32 = 4
        /// MSI-X table at 0 and PBA at 0x800 of BAR 1.
        public static let msixBAR = 1
    }
}

/// The virtio 1.x modern PCI transport (virtio 1.2 §4.1), no legacy interface: common,
/// notification, ISR and device configuration structures in BAR 4, MSI-X table in BAR 1, INTA
/// when MSI-X is off. Requests are served synchronously when the driver notifies a queue.
public final class VirtioPCIFunction: PCIFunction, VirtioQueueAccess {
    /// The BARs by index: none at 0, the MSI-X table at 1, the virtio structures at 4 (a
    /// 64-bit BAR taking 4 and 5), as QEMU lays them out.
    public static let bars: [PCIBAR] = [
        .memory32(size: 0x1000, accessSizes: [.word, .doubleword]),
        .memory64(size: VirtioPCI.Layout.barSize, prefetchable: true, accessSizes: [.byte, .halfword, .word]),
    ]

    public let bus: PCIBusInterface
    public var config: PCIConfigSpace { bus.config }
    public let device: any VirtioDeviceModel
    public let msix: MSIXCapability
    public private(set) var queues: [SplitVirtqueue]

    private var deviceFeatureSelect: UInt32 = 0
    private var driverFeatureSelect: UInt32 = 0
    public private(set) var driverFeatures: UInt64 = 0
    private var configVector = VirtioPCI.noVector
    public private(set) var status: UInt8 = 0
    private var configGeneration: UInt8 = 0
    private var queueSelect: UInt16 = 0
    private var isr: UInt8 = 0
    /// Offset of the VIRTIO_PCI_CAP_PCI_CFG capability: a window onto the BARs through
    /// configuration space (§4.1.4.9).
    private var configWindow = 0

    public var offeredFeatures: UInt64 { device.deviceFeatures | VirtioPCI.featureVersion1 }

    /// - Parameter queueSize: the largest queue the device offers (a power of two).
    public init(bus: PCIBusInterface, device: any VirtioDeviceModel, queueSize: UInt16 = 256) {
        self.bus = bus
        self.device = device
        queues = (0..<device.queueCount).map { _ in SplitVirtqueue(maximumSize: queueSize) }
        let config = bus.config
        // Modern-only devices: device ID 0x1040 + type, revision ≥ 1, subsystem ID ≥ 0x40 (§4.1.2.1).
        config.setIdentity(PCIIdentity(vendorID: VirtioPCI.vendorID, deviceID: 0x1040 + device.deviceType, revision: 1,
                                       classCode: device.classCode, subsystemVendorID: VirtioPCI.vendorID, subsystemID: 0x1100))
        config.declareBAR(VirtioPCI.Layout.msixBAR, VirtioPCIFunction.bars[0])
        config.declareBAR(VirtioPCI.Layout.bar, VirtioPCIFunction.bars[1])
        config.interruptPin = .intA
        let vectors = device.queueCount + 1
        msix = MSIXCapability(bus: bus, vectors: vectors, tableBAR: VirtioPCI.Layout.msixBAR, tableOffset: 0,
                              pbaBAR: VirtioPCI.Layout.msixBAR, pbaOffset: 0x800)
        addCapability(.common, offset: VirtioPCI.Layout.common)
        addCapability(.isr, offset: VirtioPCI.Layout.isr)
        addCapability(.device, offset: VirtioPCI.Layout.device)
        addCapability(.notify, offset: VirtioPCI.Layout.notify)
        configWindow = config.addVendorCapability(length: 20)
        config.store8(configWindow + 3, VirtioPCI.CapabilityType.pciConfig.rawValue)
        // bar, offset, length and pci_cfg_data are the driver's to write.
        config.setWritable(configWindow + 4, size: 1, mask: 0xff)
        config.setWritable(configWindow + 8, size: 4, mask: 0xffff_ffff)
        config.setWritable(configWindow + 12, size: 4, mask: 0xffff_ffff)
        config.setWritable(configWindow + 16, size: 4, mask: 0xffff_ffff)
        config.addPCIExpressCapability(portType: .rootComplexIntegratedEndpoint)
        config.addPowerManagementCapability()
        device.attach(self)
    }

    /// struct virtio_pci_cap (§4.1.4): cfg_type, bar, id, offset, length (+ multiplier).
    private func addCapability(_ type: VirtioPCI.CapabilityType, offset: UInt64) {
        let length = type == .notify ? 20 : 16
        let at = config.addVendorCapability(length: length)
        config.store8(at + 3, type.rawValue)
        config.store8(at + 4, UInt8(VirtioPCI.Layout.bar))
        config.store32(at + 8, UInt32(offset))
        config.store32(at + 12, UInt32(VirtioPCI.Layout.regionSize))
        if type == .notify { config.store32(at + 16, VirtioPCI.Layout.notifyMultiplier) }
    }

    public func reset() {
        resetDevice()
        msix.reset()
    }

    // MARK: Configuration access window (§4.1.4.9)

    /// The BAR access the window's bar/offset/length fields describe, if valid: length 1, 2
    /// or 4, offset aligned to it, inside a BAR of this function.
    private var windowTarget: (bar: Int, offset: UInt64, size: Int)? {
        let bar = Int(config.load8(configWindow + 4))
        let offset = UInt64(config.load32(configWindow + 8))
        let length = Int(config.load32(configWindow + 12))
        guard [1, 2, 4].contains(length), offset % UInt64(length) == 0, bar < config.bars.count,
              let declared = config.bars[bar], offset + UInt64(length) <= declared.size else { return nil }
        return (bar, offset, length)
    }

    private func isWindowData(_ offset: Int, _ size: Int) -> Bool {
        (configWindow + 16..<configWindow + 20).overlaps(offset..<(offset + size))
    }

    public func readConfig(offset: Int, size: Int) -> UInt32 {
        if isWindowData(offset, size), let target = windowTarget {
            let value = readBAR(target.bar, offset: target.offset, size: target.size)
            config.store32(configWindow + 16, UInt32(truncatingIfNeeded: value))
        }
        return config.read(offset: offset, size: size)
    }

    public func configWritten(offset: Int, size: Int) {
        guard isWindowData(offset, size), let target = windowTarget else { return }
        writeBAR(target.bar, offset: target.offset, size: target.size, value: UInt64(config.load32(configWindow + 16)))
    }

    private func resetDevice() {
        deviceFeatureSelect = 0
        driverFeatureSelect = 0
        driverFeatures = 0
        configVector = VirtioPCI.noVector
        status = 0
        queueSelect = 0
        isr = 0
        bus.setINTx(false)
        for queue in queues { queue.reset() }
        device.reset()
    }

    // MARK: BAR access

    public func readBAR(_ bar: Int, offset: UInt64, size: Int) -> UInt64 {
        if let value = msix.readBAR(bar, offset: offset, size: size) { return value }
        guard bar == VirtioPCI.Layout.bar else { return 0 }
        switch offset {
        case VirtioPCI.Layout.common..<VirtioPCI.Layout.isr:
            let aligned = offset & ~3
            var value = UInt64(commonDword(aligned - VirtioPCI.Layout.common))
            if (offset & 3) + UInt64(size) > 4 { value |= UInt64(commonDword(aligned + 4 - VirtioPCI.Layout.common)) << 32 }
            return (value >> ((offset & 3) * 8)) & mask(size)
        case VirtioPCI.Layout.isr..<VirtioPCI.Layout.device:
            // Reading the ISR status clears it and deasserts INTx (§4.1.4.5).
            guard offset == VirtioPCI.Layout.isr else { return 0 }
            let value = isr
            isr = 0
            bus.setINTx(false)
            return UInt64(value)
        case VirtioPCI.Layout.device..<VirtioPCI.Layout.notify:
            return device.readConfig(offset: Int(offset - VirtioPCI.Layout.device), size: size)
        default:
            return 0
        }
    }

    public func writeBAR(_ bar: Int, offset: UInt64, size: Int, value: UInt64) {
        if msix.writeBAR(bar, offset: offset, size: size, value: value) { return }
        guard bar == VirtioPCI.Layout.bar else { return }
        switch offset {
        case VirtioPCI.Layout.common..<VirtioPCI.Layout.isr:
            writeCommon(offset - VirtioPCI.Layout.common, size: size, value: value)
        case VirtioPCI.Layout.device..<VirtioPCI.Layout.notify:
            device.writeConfig(offset: Int(offset - VirtioPCI.Layout.device), size: size, value: value)
        case VirtioPCI.Layout.notify..<(VirtioPCI.Layout.notify + VirtioPCI.Layout.regionSize):
            let queue = Int((offset - VirtioPCI.Layout.notify) / UInt64(VirtioPCI.Layout.notifyMultiplier))
            notify(queue: queue)
        default:
            break
        }
    }

    private var selectedQueue: SplitVirtqueue? {
        Int(queueSelect) < queues.count ? queues[Int(queueSelect)] : nil
    }

    /// The dword of the common structure at `offset` (a multiple of 4).
    private func commonDword(_ offset: UInt64) -> UInt32 {
        let queue = selectedQueue
        switch offset {
        case VirtioPCI.Common.deviceFeatureSelect: return deviceFeatureSelect
        case VirtioPCI.Common.deviceFeature:
            return deviceFeatureSelect < 2 ? UInt32(truncatingIfNeeded: offeredFeatures >> (32 * UInt64(deviceFeatureSelect))) : 0
        case VirtioPCI.Common.driverFeatureSelect: return driverFeatureSelect
        case VirtioPCI.Common.driverFeature:
            return driverFeatureSelect < 2 ? UInt32(truncatingIfNeeded: driverFeatures >> (32 * UInt64(driverFeatureSelect))) : 0
        case VirtioPCI.Common.configMSIXVector: return UInt32(configVector) | UInt32(queues.count) << 16
        case VirtioPCI.Common.deviceStatus:
            return UInt32(status) | UInt32(configGeneration) << 8 | UInt32(queueSelect) << 16
        case VirtioPCI.Common.queueSize:
            // A queue that does not exist reads size 0 (§4.1.4.3.2).
            return UInt32(queue?.size ?? 0) | UInt32(queue?.msixVector ?? VirtioPCI.noVector) << 16
        case VirtioPCI.Common.queueEnable:
            return UInt32(queue?.enabled == true ? 1 : 0) | UInt32(queueSelect) << 16
        case VirtioPCI.Common.queueDesc: return UInt32(truncatingIfNeeded: queue?.descriptorTable ?? 0)
        case VirtioPCI.Common.queueDesc + 4: return UInt32(truncatingIfNeeded: (queue?.descriptorTable ?? 0) >> 32)
        case VirtioPCI.Common.queueDriver: return UInt32(truncatingIfNeeded: queue?.driverRing ?? 0)
        case VirtioPCI.Common.queueDriver + 4: return UInt32(truncatingIfNeeded: (queue?.driverRing ?? 0) >> 32)
        case VirtioPCI.Common.queueDevice: return UInt32(truncatingIfNeeded: queue?.deviceRing ?? 0)
        case VirtioPCI.Common.queueDevice + 4: return UInt32(truncatingIfNeeded: (queue?.deviceRing ?? 0) >> 32)
        default: return 0
        }
    }

    private func writeCommon(_ offset: UInt64, size: Int, value: UInt64) {
        let word = UInt32(truncatingIfNeeded: value)
        let half = UInt16(truncatingIfNeeded: value)
        let queue = selectedQueue
        // Queue registers may only change while the queue is disabled (§4.1.4.3.2).
        let queueWritable = queue != nil && queue!.enabled == false
        switch offset {
        case VirtioPCI.Common.deviceFeatureSelect: deviceFeatureSelect = word
        case VirtioPCI.Common.driverFeatureSelect: driverFeatureSelect = word
        case VirtioPCI.Common.driverFeature:
            guard driverFeatureSelect < 2, status & VirtioPCI.Status.featuresOK == 0 else { return }
            let shift = 32 * UInt64(driverFeatureSelect)
            driverFeatures = (driverFeatures & ~(0xffff_ffff << shift)) | UInt64(word) << shift
        case VirtioPCI.Common.configMSIXVector: configVector = validVector(half)
        case VirtioPCI.Common.deviceStatus: writeStatus(UInt8(truncatingIfNeeded: value))
        case VirtioPCI.Common.queueSelect: queueSelect = half
        case VirtioPCI.Common.queueSize:
            if queueWritable, half > 0, half <= queue!.maximumSize, half.nonzeroBitCount == 1 { queue!.size = half }
        case VirtioPCI.Common.queueMSIXVector: queue?.msixVector = validVector(half)
        case VirtioPCI.Common.queueEnable: if queueWritable, half == 1 { queue!.enabled = true }
        case VirtioPCI.Common.queueDesc: if queueWritable { queue!.descriptorTable = setLow(queue!.descriptorTable, value, size) }
        case VirtioPCI.Common.queueDesc + 4: if queueWritable { queue!.descriptorTable = setHigh(queue!.descriptorTable, word) }
        case VirtioPCI.Common.queueDriver: if queueWritable { queue!.driverRing = setLow(queue!.driverRing, value, size) }
        case VirtioPCI.Common.queueDriver + 4: if queueWritable { queue!.driverRing = setHigh(queue!.driverRing, word) }
        case VirtioPCI.Common.queueDevice: if queueWritable { queue!.deviceRing = setLow(queue!.deviceRing, value, size) }
        case VirtioPCI.Common.queueDevice + 4: if queueWritable { queue!.deviceRing = setHigh(queue!.deviceRing, word) }
        default: break
        }
    }

    private func setLow(_ old: UInt64, _ value: UInt64, _ size: Int) -> UInt64 {
        size == 8 ? value : (old & 0xffff_ffff_0000_0000) | (value & 0xffff_ffff)
    }

    private func setHigh(_ old: UInt64, _ word: UInt32) -> UInt64 { (old & 0xffff_ffff) | UInt64(word) << 32 }

    /// A vector the MSI-X table has, else NO_VECTOR: the driver reads back to learn that the
    /// mapping failed (§4.1.5.1.2).
    private func validVector(_ vector: UInt16) -> UInt16 {
        Int(vector) < msix.vectors ? vector : VirtioPCI.noVector
    }

    private func writeStatus(_ value: UInt8) {
        if value == 0 {
            resetDevice()
            return
        }
        var value = value
        // FEATURES_OK sticks only for a subset of what was offered that includes VERSION_1:
        // this device has no legacy interface (§2.2.1, §6.1).
        if value & VirtioPCI.Status.featuresOK != 0, status & VirtioPCI.Status.featuresOK == 0 {
            let acceptable = driverFeatures & ~offeredFeatures == 0 && driverFeatures & VirtioPCI.featureVersion1 != 0
            if !acceptable { value &= ~VirtioPCI.Status.featuresOK }
        }
        // DEVICE_NEEDS_RESET belongs to the device; the driver cannot set or clear it.
        status = (value & ~VirtioPCI.Status.needsReset) | (status & VirtioPCI.Status.needsReset)
    }

    // MARK: Requests

    /// Serves every available request of `queue` (the driver wrote its notification address).
    public func notify(queue index: Int) {
        guard index < queues.count, status & VirtioPCI.Status.driverOK != 0,
              status & VirtioPCI.Status.needsReset == 0 else { return }
        let queue = queues[index]
        guard queue.enabled else { return }
        guard device.servesOnNotify(queue: index) else { return device.queueNotified(index) }
        var served = 0
        while true {
            switch queue.next(bus) {
            case .failure:
                return deviceNeedsReset()
            case .success(nil):
                if served > 0 && !queue.interruptSuppressed(bus) { interrupt(vector: queue.msixVector, isrBit: 1) }
                return
            case .success(let chain?):
                // The driver cannot run while the device serves a notification, so at most a
                // queue's worth of chains can be available (§2.7.6: idx runs at most Queue Size
                // ahead). More means the ring is rewritten under the device, by its own DMA (a
                // read request's buffer over the available ring's idx) or its used-ring writes:
                // a loop that would hold the host, so the device stops and asks for a reset.
                served += 1
                guard served <= Int(queue.size) else { return deviceNeedsReset() }
                guard let written = device.process(chain, queue: index) else { return deviceNeedsReset() }
                if case .failure = queue.complete(bus, head: chain.head, written: written) { return deviceNeedsReset() }
            }
        }
    }

    // MARK: Buffers the device fills on its own schedule (VirtioQueueAccess)

    public var isLive: Bool {
        status & VirtioPCI.Status.driverOK != 0 && status & VirtioPCI.Status.needsReset == 0
    }

    public func takeChain(queue index: Int) -> DescriptorChain? {
        guard isLive, index < queues.count, queues[index].enabled else { return nil }
        switch queues[index].next(bus) {
        case .success(let chain): return chain
        case .failure: deviceNeedsReset(); return nil
        }
    }

    public func complete(queue index: Int, head: UInt16, written: UInt32) {
        guard isLive, index < queues.count else { return }
        if case .failure = queues[index].complete(bus, head: head, written: written) { deviceNeedsReset() }
    }

    public func signalUsed(queue index: Int) {
        guard isLive, index < queues.count, !queues[index].interruptSuppressed(bus) else { return }
        interrupt(vector: queues[index].msixVector, isrBit: 1)
    }

    /// Runs the device's host side; the machine calls it between slices.
    public func poll() { device.poll() }

    /// The driver broke the ring format: stop serving and tell it (§2.1.2).
    private func deviceNeedsReset() {
        status |= VirtioPCI.Status.needsReset
        if status & VirtioPCI.Status.driverOK != 0 {
            configGeneration &+= 1
            interrupt(vector: configVector, isrBit: 2)
        }
    }

    /// Signals a used-buffer (ISR bit 0) or configuration-change (bit 1) notification.
    private func interrupt(vector: UInt16, isrBit: UInt8) {
        if msix.isEnabled {
            if vector != VirtioPCI.noVector { msix.notify(vector: Int(vector)) }
            return
        }
        isr |= isrBit
        bus.setINTx(true)
    }
}

@inline(__always) private func mask(_ size: Int) -> UInt64 { size >= 8 ? ~0 : (1 << UInt64(size * 8)) - 1 }

/// The machine polls the function between slices (its device's host side: sockets, timers)
/// and resets it with the others.
extension VirtioPCIFunction: DeviceLifecycle {}

/// A virtio device model whose own state can be saved in a snapshot (docs/snapshots.md). A
/// model that does not conform (virtio-net, whose user-mode network lives in libslirp on the
/// host; virtio-9p, whose open files are host descriptors) makes a snapshot refuse, naming it.
public protocol VirtioDeviceSnapshot: AnyObject {
    /// Appends the model's state (nothing for a stateless one).
    func saveModel(to state: inout DeviceStateWriter)
    func restoreModel(from state: inout DeviceStateReader) throws(DeviceStateError)
}

/// Snapshots: the common configuration registers, the ISR, every queue, the MSI-X table, then
/// the model's own state. The restore sends no interrupt: the ISR, the INTx level (the bridge's)
/// and the MSI-X pending bits come back as they were.
extension VirtioPCIFunction: PCIFunctionSnapshot {
    public var snapshotRefusal: String? {
        device is VirtioDeviceSnapshot ? nil : "\(type(of: device)) cannot be saved (its state is on the host or not saved yet)"
    }

    public func saveFunction(to state: inout DeviceStateWriter) {
        state.put(deviceFeatureSelect)
        state.put(driverFeatureSelect)
        state.put(driverFeatures)
        state.put(configVector)
        state.put(status)
        state.put(configGeneration)
        state.put(queueSelect)
        state.put(isr)
        state.put(UInt64(queues.count))
        for queue in queues { queue.save(to: &state) }
        msix.save(to: &state)
        (device as? VirtioDeviceSnapshot)?.saveModel(to: &state)
    }

    public func restoreFunction(from state: inout DeviceStateReader) throws(DeviceStateError) {
        let selects = (try state.uint32("device feature select"), try state.uint32("driver feature select"))
        let features = try state.uint64()
        let vector = try state.uint16("config MSI-X vector")
        let status = try state.uint8("device status")
        let generation = try state.uint8("config generation")
        let select = try state.uint16("queue select")
        let isr = try state.uint8("ISR")
        let count = try state.uint64()
        guard count == UInt64(queues.count) else { throw .mismatch("\(count) virtqueues saved, this device has \(queues.count)") }
        for queue in queues { try queue.restore(from: &state) }
        try msix.restore(from: &state)
        (deviceFeatureSelect, driverFeatureSelect) = selects
        driverFeatures = features
        configVector = vector
        self.status = status
        configGeneration = generation
        queueSelect = select
        self.isr = isr
        try (device as? VirtioDeviceSnapshot)?.restoreModel(from: &state)
    }
}

/// virtio-blk keeps no state of its own between requests (each is served whole when notified);
/// the image file is the host's.
extension VirtioBlock: VirtioDeviceSnapshot {
    public func saveModel(to state: inout DeviceStateWriter) {}
    public func restoreModel(from state: inout DeviceStateReader) throws(DeviceStateError) {}
}
