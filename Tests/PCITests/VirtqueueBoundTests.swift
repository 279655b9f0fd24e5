import XCTest
import Memory
@testable import PCI
@testable import Virtio

/// A device model whose every request writes the next available index over the driver's ring,
/// the way a read request whose buffer covers `avail.idx` would: without a bound the device
/// would find a new request after each one, forever, inside one notification.
private final class RingRewritingDevice: VirtioDeviceModel {
    let deviceType: UInt16 = 0x7f
    let classCode: UInt32 = 0xff0000
    let deviceFeatures: UInt64 = 0
    let queueCount = 1
    var processed = 0
    func readConfig(offset: Int, size: Int) -> UInt64 { 0 }
    func writeConfig(offset: Int, size: Int, value: UInt64) {}
    func reset() {}
    func process(_ chain: DescriptorChain, queue: Int) -> UInt32? {
        processed += 1
        // The chain's one writable buffer is avail.idx: publish one more request.
        var next = UInt16(truncatingIfNeeded: processed + 1).littleEndian
        guard case .success = withUnsafeBytes(of: &next, { chain.write(at: 0, from: $0) }) else { return nil }
        return 2
    }
}

final class VirtqueueBoundTests: XCTestCase {
    private let bar4: UInt64 = 0x4_0000_0000
    private let ram = PCIFixture.ram

    func testRingRewrittenUnderTheDeviceEndsInNeedsResetAfterOneQueueOfRequests() throws {
        let fixture = PCIFixture()
        let model = RingRewritingDevice()
        _ = try fixture.bridge.attach(at: PCIAddress(device: 2)) { VirtioPCIFunction(bus: $0, device: model) }
        fixture.configWrite(device: 2, register: 0x20, value: bar4 & 0xffff_ffff)
        fixture.configWrite(device: 2, register: 0x24, value: bar4 >> 32)
        fixture.configWrite(device: 2, register: 0x04, size: 2, value: 0x6)
        let common = { (offset: UInt64, size: Int, value: UInt64) in _ = fixture.space.write(self.bar4 + offset, size: size, value: value) }
        let descriptors = ram + 0x1000, available = ram + 0x2000, used = ram + 0x3000
        common(VirtioPCI.Common.deviceStatus, 1, 1)
        common(VirtioPCI.Common.deviceStatus, 1, 3)
        common(VirtioPCI.Common.driverFeatureSelect, 4, 1)
        common(VirtioPCI.Common.driverFeature, 4, 1)          // VERSION_1
        common(VirtioPCI.Common.deviceStatus, 1, 11)
        common(VirtioPCI.Common.queueSelect, 2, 0)
        common(VirtioPCI.Common.queueSize, 2, 8)
        common(VirtioPCI.Common.queueDesc, 8, descriptors)
        common(VirtioPCI.Common.queueDriver, 8, available)
        common(VirtioPCI.Common.queueDevice, 8, used)
        common(VirtioPCI.Common.queueEnable, 2, 1)
        common(VirtioPCI.Common.deviceStatus, 1, 15)
        // Descriptor 0: two device-writable bytes at avail.idx; every ring entry names it.
        fixture.space.write(descriptors, size: 8, value: available + 2)
        fixture.space.write(descriptors + 8, size: 8, value: 2 | UInt64(2) << 32)
        fixture.space.write(available + 2, size: 2, value: 1)

        fixture.space.write(bar4 + VirtioPCI.Layout.notify, size: 2, value: 0)

        XCTAssertEqual(model.processed, 8, "one queue's worth of requests, then the bound")
        XCTAssertEqual(fixture.space.read(bar4 + VirtioPCI.Common.deviceStatus, size: 1), 15 | UInt64(VirtioPCI.Status.needsReset))
    }
}
