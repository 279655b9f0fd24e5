#if canImport(Glibc)
import Glibc
#endif
import CVFIO

/// One region of a VFIO device (VFIO_DEVICE_GET_REGION_INFO): where it is in the device file,
/// how big, what may be done with it, and which parts may be mmapped.
public struct VFIORegionInfo: Sendable, Equatable {
    public var index: Int
    public var size: UInt64
    /// Offset of the region in the device file descriptor (pread/pwrite/mmap).
    public var offset: UInt64
    public var readable: Bool
    public var writable: Bool
    /// The region (or the `sparseAreas` of it) may be mmapped.
    public var mappable: Bool
    /// The sparse-mmap capability: the only parts that may be mapped; nil when absent (then
    /// the whole region may be, if `mappable`).
    public var sparseAreas: [Range<UInt64>]?
    /// VFIO_REGION_INFO_CAP_MSIX_MAPPABLE: the MSI-X table may be mapped (not written through).
    public var msixMappable: Bool

    public init(index: Int, size: UInt64, offset: UInt64, readable: Bool, writable: Bool, mappable: Bool,
                sparseAreas: [Range<UInt64>]? = nil, msixMappable: Bool = false) {
        self.index = index
        self.size = size
        self.offset = offset
        self.readable = readable
        self.writable = writable
        self.mappable = mappable
        self.sparseAreas = sparseAreas
        self.msixMappable = msixMappable
    }

    /// The parts of the region that may be mmapped, in region offsets.
    public var mappableAreas: [Range<UInt64>] {
        guard mappable, size > 0 else { return [] }
        return sparseAreas ?? [0..<size]
    }
}

/// What VFIO_DEVICE_GET_INFO says.
public struct VFIODeviceInfo: Sendable, Equatable {
    public var regions: Int
    public var irqs: Int
    public var canReset: Bool
    public var isPCI: Bool

    public init(regions: Int, irqs: Int, canReset: Bool, isPCI: Bool) {
        self.regions = regions
        self.irqs = irqs
        self.canReset = canReset
        self.isPCI = isPCI
    }
}

/// The PCI interrupt indexes of VFIO (vfio.h `VFIO_PCI_*_IRQ_INDEX`).
public enum VFIOIRQIndex: Int, Sendable, CaseIterable {
    case intx = 0
    case msi = 1
    case msix = 2
}

/// The system calls VFIO passthrough makes, behind one protocol so the bookkeeping above them
/// can be tested with a fake where the real kernel cannot produce a case (a BAR that may not be
/// mmapped, a group that is not viable). Every failure is a positive errno value.
public protocol VFIOKernel: AnyObject {
    func open(_ path: String, writable: Bool) -> Result<Int32, VFIOErrno>
    func close(_ fd: Int32)
    func exists(_ path: String) -> Bool
    func apiVersion(container: Int32) -> Int32
    func checkExtension(container: Int32, _ extensionID: Int32) -> Bool
    func setIOMMU(container: Int32, type: Int32) -> VFIOErrno?
    /// nil when the ioctl failed; otherwise whether every device of the group is bound to VFIO.
    func groupViable(group: Int32) -> Result<Bool, VFIOErrno>
    func setContainer(group: Int32, container: Int32) -> VFIOErrno?
    func unsetContainer(group: Int32)
    func deviceFD(group: Int32, name: String) -> Result<Int32, VFIOErrno>
    func deviceInfo(device: Int32) -> Result<VFIODeviceInfo, VFIOErrno>
    func regionInfo(device: Int32, index: Int) -> Result<VFIORegionInfo, VFIOErrno>
    /// The number of vectors of an interrupt index (0 when the device has none of that kind).
    func irqCount(device: Int32, index: VFIOIRQIndex) -> Int
    /// Routes vectors `start...` to `eventfds` (-1: unrouted); an empty array disables the index.
    func setIRQs(device: Int32, index: VFIOIRQIndex, start: Int, eventfds: [Int32]) -> VFIOErrno?
    func unmask(device: Int32, index: VFIOIRQIndex, vector: Int) -> VFIOErrno?
    func reset(device: Int32) -> VFIOErrno?
    func mapDMA(container: Int32, host: UnsafeMutableRawPointer, iova: UInt64, size: UInt64) -> VFIOErrno?
    func unmapDMA(container: Int32, iova: UInt64, size: UInt64) -> VFIOErrno?
    /// Reads `buffer.count` bytes at `offset` of the device file; the count read or an errno.
    func read(device: Int32, offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Result<Int, VFIOErrno>
    func write(device: Int32, offset: UInt64, from buffer: UnsafeRawBufferPointer) -> Result<Int, VFIOErrno>
    func mmap(device: Int32, offset: UInt64, size: UInt64, writable: Bool) -> Result<UnsafeMutableRawPointer, VFIOErrno>
    func munmap(_ pointer: UnsafeMutableRawPointer, size: UInt64)
    /// Maps `size` bytes at `offset` of the device file at `pointer` (MAP_FIXED), replacing
    /// what `park` put there: the same host address reaches the device again.
    func remap(_ pointer: UnsafeMutableRawPointer, device: Int32, offset: UInt64, size: UInt64, writable: Bool) -> VFIOErrno?
    /// Replaces `size` bytes of a device mapping at `pointer` with private zero-filled memory
    /// (MAP_FIXED): while the device's memory decoding is off, vfio-pci answers a touch of its
    /// mapping with SIGBUS, and a hart may still hold a TLB entry for the page until the
    /// machine flushes it. Parked, such a stale access lands in scratch memory instead.
    func park(_ pointer: UnsafeMutableRawPointer, size: UInt64) -> VFIOErrno?
    func eventfd() -> Result<Int32, VFIOErrno>
    /// How often the eventfd fired since the last call (non-blocking; 0 when it did not).
    func takeEvents(_ fd: Int32) -> UInt64
    /// poll(2) with a zero timeout: sets `revents` of each entry that is readable; returns how
    /// many are (0 when none, so the caller reads no eventfd in the common case).
    func pollReadable(_ fds: UnsafeMutablePointer<pollfd>, count: Int) -> Int
}

/// A positive errno value with its text.
public struct VFIOErrno: Error, Sendable, Equatable, CustomStringConvertible {
    public let code: Int32
    public init(_ code: Int32) { self.code = code }
    public var description: String { String(cString: strerror(code)) }
}

/// The real thing: open(2), ioctl(2) through CVFIO, pread/pwrite/mmap on the device fd.
public final class LinuxVFIOKernel: VFIOKernel, Sendable {
    /// The one instance (it has no state); `VFIOContainer.shared` compares kernels by identity.
    public static let shared = LinuxVFIOKernel()

    public init() {}

    private func result(_ value: Int32) -> VFIOErrno? { value < 0 ? VFIOErrno(-value) : nil }

    public func open(_ path: String, writable: Bool) -> Result<Int32, VFIOErrno> {
        let fd = Glibc.open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC)
        return fd >= 0 ? .success(fd) : .failure(VFIOErrno(errno))
    }

    public func close(_ fd: Int32) { _ = Glibc.close(fd) }
    public func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }
    public func apiVersion(container: Int32) -> Int32 { bp_vfio_api_version(container) }
    public func checkExtension(container: Int32, _ extensionID: Int32) -> Bool { bp_vfio_check_extension(container, extensionID) > 0 }
    public func setIOMMU(container: Int32, type: Int32) -> VFIOErrno? { result(bp_vfio_set_iommu(container, type)) }

    public func groupViable(group: Int32) -> Result<Bool, VFIOErrno> {
        var flags: UInt32 = 0
        let value = bp_vfio_group_status(group, &flags)
        if value < 0 { return .failure(VFIOErrno(-value)) }
        return .success(flags & bp_vfio_group_viable_flag() != 0)
    }

    public func setContainer(group: Int32, container: Int32) -> VFIOErrno? { result(bp_vfio_group_set_container(group, container)) }
    public func unsetContainer(group: Int32) { _ = bp_vfio_group_unset_container(group) }

    public func deviceFD(group: Int32, name: String) -> Result<Int32, VFIOErrno> {
        let value = bp_vfio_group_device_fd(group, name)
        return value >= 0 ? .success(value) : .failure(VFIOErrno(-value))
    }

    public func deviceInfo(device: Int32) -> Result<VFIODeviceInfo, VFIOErrno> {
        var flags: UInt32 = 0, regions: UInt32 = 0, irqs: UInt32 = 0
        let value = bp_vfio_device_info(device, &flags, &regions, &irqs)
        if value < 0 { return .failure(VFIOErrno(-value)) }
        return .success(VFIODeviceInfo(regions: Int(regions), irqs: Int(irqs), canReset: flags & bp_vfio_device_flag_reset() != 0,
                                       isPCI: flags & bp_vfio_device_flag_pci() != 0))
    }

    public func regionInfo(device: Int32, index: Int) -> Result<VFIORegionInfo, VFIOErrno> {
        var raw = bp_vfio_region()
        let value = bp_vfio_region_info(device, UInt32(index), &raw)
        if value < 0 { return .failure(VFIOErrno(-value)) }
        var sparse: [Range<UInt64>]?
        if raw.sparse_count >= 0 {
            let offsets = withUnsafeBytes(of: raw.sparse_offset) { Array($0.bindMemory(to: UInt64.self)) }
            let sizes = withUnsafeBytes(of: raw.sparse_size) { Array($0.bindMemory(to: UInt64.self)) }
            sparse = (0..<Int(raw.sparse_count)).map { offsets[$0]..<(offsets[$0] &+ sizes[$0]) }
        }
        return .success(VFIORegionInfo(index: index, size: raw.size, offset: raw.offset,
                                       readable: raw.flags & bp_vfio_region_flag_read() != 0,
                                       writable: raw.flags & bp_vfio_region_flag_write() != 0,
                                       mappable: raw.flags & bp_vfio_region_flag_mmap() != 0,
                                       sparseAreas: sparse, msixMappable: raw.msix_mappable != 0))
    }

    public func irqCount(device: Int32, index: VFIOIRQIndex) -> Int {
        var flags: UInt32 = 0, count: UInt32 = 0
        return bp_vfio_irq_info(device, UInt32(index.rawValue), &flags, &count) < 0 ? 0 : Int(count)
    }

    public func setIRQs(device: Int32, index: VFIOIRQIndex, start: Int, eventfds: [Int32]) -> VFIOErrno? {
        eventfds.withUnsafeBufferPointer {
            result(bp_vfio_set_irq_eventfds(device, UInt32(index.rawValue), UInt32(start), UInt32($0.count), $0.baseAddress))
        }
    }

    public func unmask(device: Int32, index: VFIOIRQIndex, vector: Int) -> VFIOErrno? {
        result(bp_vfio_unmask_irq(device, UInt32(index.rawValue), UInt32(vector)))
    }

    public func reset(device: Int32) -> VFIOErrno? { result(bp_vfio_reset(device)) }

    public func mapDMA(container: Int32, host: UnsafeMutableRawPointer, iova: UInt64, size: UInt64) -> VFIOErrno? {
        result(bp_vfio_map_dma(container, UInt64(UInt(bitPattern: host)), iova, size))
    }

    public func unmapDMA(container: Int32, iova: UInt64, size: UInt64) -> VFIOErrno? {
        result(bp_vfio_unmap_dma(container, iova, size))
    }

    public func read(device: Int32, offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Result<Int, VFIOErrno> {
        let count = pread(device, buffer.baseAddress, buffer.count, off_t(Int64(bitPattern: offset)))
        return count >= 0 ? .success(count) : .failure(VFIOErrno(errno))
    }

    public func write(device: Int32, offset: UInt64, from buffer: UnsafeRawBufferPointer) -> Result<Int, VFIOErrno> {
        let count = pwrite(device, buffer.baseAddress, buffer.count, off_t(Int64(bitPattern: offset)))
        return count >= 0 ? .success(count) : .failure(VFIOErrno(errno))
    }

    public func mmap(device: Int32, offset: UInt64, size: UInt64, writable: Bool) -> Result<UnsafeMutableRawPointer, VFIOErrno> {
        let mapped = Glibc.mmap(nil, Int(size), PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, device, off_t(Int64(bitPattern: offset)))
        guard let mapped, mapped != MAP_FAILED else { return .failure(VFIOErrno(errno)) }
        return .success(mapped)
    }

    public func munmap(_ pointer: UnsafeMutableRawPointer, size: UInt64) { _ = Glibc.munmap(pointer, Int(size)) }

    public func remap(_ pointer: UnsafeMutableRawPointer, device: Int32, offset: UInt64, size: UInt64, writable: Bool) -> VFIOErrno? {
        let mapped = Glibc.mmap(pointer, Int(size), PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED | MAP_FIXED,
                                device, off_t(Int64(bitPattern: offset)))
        return mapped == pointer ? nil : VFIOErrno(errno)
    }

    public func park(_ pointer: UnsafeMutableRawPointer, size: UInt64) -> VFIOErrno? {
        let mapped = Glibc.mmap(pointer, Int(size), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0)
        return mapped == pointer ? nil : VFIOErrno(errno)
    }

    public func eventfd() -> Result<Int32, VFIOErrno> {
        let fd = bp_vfio_eventfd()
        return fd >= 0 ? .success(fd) : .failure(VFIOErrno(-fd))
    }

    public func takeEvents(_ fd: Int32) -> UInt64 { bp_vfio_eventfd_take(fd) }

    public func pollReadable(_ fds: UnsafeMutablePointer<pollfd>, count: Int) -> Int {
        max(0, Int(Glibc.poll(fds, nfds_t(count), 0)))
    }
}
