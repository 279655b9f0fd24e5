#if canImport(Glibc)
import Glibc
#endif
import CVFIO

/// One PCI function opened through VFIO: its device file descriptor, its regions (BARs 0-5,
/// the ROM, configuration space; vfio.h `VFIO_PCI_*_REGION_INDEX`), its interrupt counts and
/// reset. Accesses to a region go through pread/pwrite on the device fd, or through a mapping
/// of the parts the kernel allows to be mmapped (`VFIORegionAccess`).
public final class VFIODevice {
    public let address: HostPCIAddress
    public let kernel: any VFIOKernel
    public let group: VFIOGroup
    /// Held so the container (and the group's membership in it) outlives the device fd.
    public let container: VFIOContainer
    public let info: VFIODeviceInfo
    /// Regions by index (BAR 0-5, ROM 6, config 7); absent ones have size 0.
    public let regions: [VFIORegionInfo]
    /// Vectors per interrupt index.
    public let irqCounts: [VFIOIRQIndex: Int]
    let fd: Int32

    /// vfio.h: BAR0..5 are regions 0-5, the ROM 6, configuration space 7.
    public static let configRegion = 7

    /// Opens the function's group in `container` (joining it) and the device in it.
    public init(container: VFIOContainer, snapshot: HostPCISnapshot) throws(VFIOError) {
        let address = snapshot.address
        guard let number = snapshot.iommuGroup else { throw .noIOMMUGroup(address) }
        guard snapshot.driver == "vfio-pci" else { throw .notBoundToVFIO(address, driver: snapshot.driver) }
        let group = try container.group(number, for: address)
        let fd = try group.deviceFD(for: address)
        let kernel = container.kernel
        let info: VFIODeviceInfo
        switch kernel.deviceInfo(device: fd) {
        case let .success(value): info = value
        case let .failure(reason):
            kernel.close(fd)
            throw .ioctl(address, what: "VFIO_DEVICE_GET_INFO", reason: reason)
        }
        var regions: [VFIORegionInfo] = []
        for index in 0..<max(info.regions, VFIODevice.configRegion + 1) {
            switch kernel.regionInfo(device: fd, index: index) {
            case let .success(region): regions.append(region)
            case .failure:
                // Regions the device does not have (a missing BAR, no ROM) fail with EINVAL.
                regions.append(VFIORegionInfo(index: index, size: 0, offset: 0, readable: false, writable: false, mappable: false))
            }
        }
        guard regions[VFIODevice.configRegion].size >= 256 else {
            kernel.close(fd)
            throw .ioctl(address, what: "VFIO_DEVICE_GET_REGION_INFO (configuration space)", reason: VFIOErrno(EINVAL))
        }
        var counts: [VFIOIRQIndex: Int] = [:]
        for index in VFIOIRQIndex.allCases { counts[index] = kernel.irqCount(device: fd, index: index) }
        self.address = address
        self.kernel = kernel
        self.group = group
        self.container = container
        self.info = info
        self.regions = regions
        self.irqCounts = counts
        self.fd = fd
    }

    deinit {
        for index in VFIOIRQIndex.allCases where (irqCounts[index] ?? 0) > 0 {
            _ = kernel.setIRQs(device: fd, index: index, start: 0, eventfds: [])
        }
        kernel.close(fd)
    }

    /// Bytes of configuration space VFIO shows (256 or 4096).
    public var configSize: Int { Int(min(regions[VFIODevice.configRegion].size, 4096)) }

    /// The whole configuration space as VFIO shows it: the device's, with vfio-pci's virtualised
    /// fields (BARs read as the host assigned them, the MSI/MSI-X enables as VFIO manages them).
    public func readConfig() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: configSize)
        let count = bytes.withUnsafeMutableBytes { buffer in
            (try? kernel.read(device: fd, offset: regions[VFIODevice.configRegion].offset, into: buffer).get()) ?? 0
        }
        return Array(bytes.prefix(count))
    }

    /// Writes `size` bytes of configuration space at `offset` through the config region.
    @discardableResult
    public func writeConfig(offset: Int, size: Int, value: UInt32) -> Bool {
        var bytes = value.littleEndian
        let done = withUnsafeBytes(of: &bytes) { raw in
            kernel.write(device: fd, offset: regions[VFIODevice.configRegion].offset + UInt64(offset),
                         from: UnsafeRawBufferPointer(rebasing: raw.prefix(size)))
        }
        return (try? done.get()) == size
    }

    public func readConfig(offset: Int, size: Int) -> UInt32 {
        var value: UInt32 = 0
        _ = withUnsafeMutableBytes(of: &value) { raw in
            kernel.read(device: fd, offset: regions[VFIODevice.configRegion].offset + UInt64(offset),
                        into: UnsafeMutableRawBufferPointer(rebasing: raw.prefix(size)))
        }
        return UInt32(littleEndian: value)
    }

    /// VFIO_DEVICE_RESET (a function-level or bus reset the kernel picks); false when the device
    /// cannot be reset or the kernel refused.
    @discardableResult
    public func reset() -> VFIOErrno? {
        guard info.canReset else { return VFIOErrno(ENOTTY) }
        return kernel.reset(device: fd)
    }

    /// Routes interrupt vectors to eventfds (`[]` disables the index).
    public func setIRQs(_ index: VFIOIRQIndex, eventfds: [Int32]) -> VFIOErrno? {
        kernel.setIRQs(device: fd, index: index, start: 0, eventfds: eventfds)
    }

    /// Unmasks INTx after the guest handled it (the kernel masks it when it fires).
    public func unmaskINTx() { _ = kernel.unmask(device: fd, index: .intx, vector: 0) }
}
