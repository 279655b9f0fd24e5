import IRQ
import Memory
import TestSupport
@testable import PCI
@testable import Virtio

/// A guest driver for one virtio PCI function at 00:02.0 behind QEMU virt's ECAM, over 4 MiB
/// of RAM: it initialises every queue (16 entries each), lays descriptor chains out in RAM and
/// reads the used rings back, as Linux's virtio_pci and virtio_ring do.
final class VirtioHarness {
    static let ram: UInt64 = 0x8000_0000
    static let ecam: UInt64 = 0x3000_0000
    let bar4: UInt64 = 0x4_0000_0000
    let bar1: UInt64 = 0x4000_0000
    let queueSize: UInt16 = 16
    let space = AddressSpace()
    let controller = RecordingController()
    let function: VirtioPCIFunction
    /// Next free byte for buffers (bump allocation from 1 MiB up).
    private var heap: UInt64 = VirtioHarness.ram + 0x10_0000
    private var nextDescriptor: [UInt16]
    private var lastUsed: [UInt16]

    init(device: VirtioDeviceModel, initialise: Bool = true) throws {
        let space = self.space, controller = self.controller
        try space.mapRAM(name: "ram", base: VirtioHarness.ram, size: 4 << 20)
        let bridge = PCIHostBridge(name: "pcie0", space: space, busCount: 1, windows: [
            PCIWindow(space: .memory32, cpuBase: 0x4000_0000, pciBase: 0x4000_0000, size: 0x4000_0000),
            PCIWindow(space: .memory64, cpuBase: 0x4_0000_0000, pciBase: 0x4_0000_0000, size: 0x4_0000_0000),
        ], intx: (32...35).map { IRQLine(controller: controller, source: $0) })
        try space.mapMMIO(name: "pcie0", base: VirtioHarness.ecam, size: 1 << 20, device: bridge)
        function = try bridge.attach(at: PCIAddress(device: 2)) { VirtioPCIFunction(bus: $0, device: device) }
        nextDescriptor = Array(repeating: 0, count: device.queueCount)
        lastUsed = Array(repeating: 0, count: device.queueCount)
        configWrite(0x14, bar1)
        configWrite(0x20, bar4 & 0xffff_ffff)
        configWrite(0x24, bar4 >> 32)
        configWrite(0x04, 0x6, size: 2)
        if initialise { start(features: VirtioPCI.featureVersion1 | device.deviceFeatures) }
    }

    func configWrite(_ register: UInt64, _ value: UInt64, size: Int = 4) {
        space.write(VirtioHarness.ecam + (2 << 15) + register, size: size, value: value)
    }

    func common(_ offset: UInt64, _ value: UInt64, size: Int) { space.write(bar4 + offset, size: size, value: value) }

    var status: UInt8 { UInt8(space.read(bar4 + VirtioPCI.Common.deviceStatus, size: 1) ?? 0) }

    func deviceConfig(_ offset: UInt64, size: Int) -> UInt64 { space.read(bar4 + VirtioPCI.Layout.device + offset, size: size) ?? 0 }

    private func descriptors(_ queue: Int) -> UInt64 { VirtioHarness.ram + UInt64(queue) * 0x1000 * 3 + 0x1000 }
    private func available(_ queue: Int) -> UInt64 { descriptors(queue) + 0x1000 }
    private func used(_ queue: Int) -> UInt64 { descriptors(queue) + 0x2000 }

    /// Virtio 1.2 §3.1.1: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queues, DRIVER_OK.
    func start(features: UInt64) {
        common(VirtioPCI.Common.deviceStatus, 0, size: 1)
        common(VirtioPCI.Common.deviceStatus, 1, size: 1)
        common(VirtioPCI.Common.deviceStatus, 3, size: 1)
        common(VirtioPCI.Common.driverFeatureSelect, 0, size: 4)
        common(VirtioPCI.Common.driverFeature, features & 0xffff_ffff, size: 4)
        common(VirtioPCI.Common.driverFeatureSelect, 1, size: 4)
        common(VirtioPCI.Common.driverFeature, features >> 32, size: 4)
        common(VirtioPCI.Common.deviceStatus, 11, size: 1)
        for queue in 0..<nextDescriptor.count {
            common(VirtioPCI.Common.queueSelect, UInt64(queue), size: 2)
            common(VirtioPCI.Common.queueSize, UInt64(queueSize), size: 2)
            common(VirtioPCI.Common.queueDesc, descriptors(queue), size: 8)
            common(VirtioPCI.Common.queueDriver, available(queue), size: 8)
            common(VirtioPCI.Common.queueDevice, used(queue), size: 8)
            common(VirtioPCI.Common.queueEnable, 1, size: 2)
        }
        common(VirtioPCI.Common.deviceStatus, 15, size: 1)
    }

    func allocate(_ count: Int) -> UInt64 {
        let address = heap
        heap += (UInt64(count) + 15) & ~15
        return address
    }

    func write(_ address: UInt64, _ bytes: [UInt8]) {
        for (index, byte) in bytes.enumerated() { space.write(address + UInt64(index), size: 1, value: UInt64(byte)) }
    }

    func read(_ address: UInt64, _ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(space.read(address + UInt64($0), size: 1) ?? 0) }
    }

    /// A chain with one readable descriptor per element of `readable` and one writable
    /// descriptor per element of `writable` (their sizes), made available on `queue`;
    /// notifies unless told not to. Returns the head and the writable buffers' addresses.
    @discardableResult
    func submit(queue: Int, readable: [[UInt8]] = [], writable: [Int] = [], notify: Bool = true) -> (head: UInt16, buffers: [UInt64]) {
        let count = readable.count + writable.count
        let head = nextDescriptor[queue]
        var buffers: [UInt64] = []
        var index = head
        for position in 0..<count {
            let isWritable = position >= readable.count
            let length = isWritable ? writable[position - readable.count] : readable[position].count
            let address = allocate(max(length, 1))
            if isWritable { buffers.append(address) } else { write(address, readable[position]) }
            let next = (index + 1) % queueSize
            let flags: UInt16 = (position < count - 1 ? 1 : 0) | (isWritable ? 2 : 0)
            let at = descriptors(queue) + 16 * UInt64(index)
            space.write(at, size: 8, value: address)
            space.write(at + 8, size: 8, value: UInt64(length) | UInt64(flags) << 32 | UInt64(next) << 48)
            index = next
        }
        nextDescriptor[queue] = index
        makeAvailable(queue: queue, head: head, notify: notify)
        return (head, buffers)
    }

    func makeAvailable(queue: Int, head: UInt16, notify: Bool = true) {
        let ring = available(queue)
        let index = space.read(ring + 2, size: 2)!
        space.write(ring + 4 + 2 * (index % UInt64(queueSize)), size: 2, value: UInt64(head))
        space.write(ring + 2, size: 2, value: index + 1)
        if notify { self.notify(queue: queue) }
    }

    func notify(queue: Int) {
        space.write(bar4 + VirtioPCI.Layout.notify + UInt64(queue) * UInt64(VirtioPCI.Layout.notifyMultiplier), size: 2, value: UInt64(queue))
    }

    /// The used-ring entries added since the last call: (head, bytes written).
    func takeUsed(queue: Int) -> [(head: UInt16, written: UInt32)] {
        let ring = used(queue)
        let index = UInt16(space.read(ring + 2, size: 2)!)
        var entries: [(UInt16, UInt32)] = []
        while lastUsed[queue] != index {
            let slot = ring + 4 + 8 * UInt64(lastUsed[queue] % queueSize)
            entries.append((UInt16(space.read(slot, size: 4)!), UInt32(space.read(slot + 4, size: 4)!)))
            lastUsed[queue] &+= 1
        }
        return entries
    }

    /// Writes a raw descriptor (for malformed-chain tests).
    func rawDescriptor(queue: Int, index: UInt16, address: UInt64, length: UInt32, flags: UInt16, next: UInt16) {
        let at = descriptors(queue) + 16 * UInt64(index)
        space.write(at, size: 8, value: address)
        space.write(at + 8, size: 8, value: UInt64(length) | UInt64(flags) << 32 | UInt64(next) << 48)
    }

    /// INTA of 00:02.0, swizzled onto the bridge's third line (PCI-to-PCI bridge spec §9.1).
    var intxAsserted: Bool { controller.levels[34] == true }
}
