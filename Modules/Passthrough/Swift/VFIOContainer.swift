#if canImport(Glibc)
import Glibc
#endif
import CVFIO

/// A VFIO container with the type1 IOMMU (Documentation/driver-api/vfio.rst, "VFIO Usage
/// Example"): the IOMMU context every passed-through group joins, and the DMA mappings of guest
/// RAM in it. IOVA = guest physical address, so a bus address the guest driver programs into the
/// device is where the device's DMA lands in guest RAM.
///
/// One container serves every passed-through function of a machine: groups join it
/// (`group(_:for:)`), and RAM is mapped once, after the first group has set the IOMMU type.
public final class VFIOContainer {
    public let kernel: any VFIOKernel
    /// Usually /dev/vfio.
    public let vfioPath: String
    let fd: Int32
    private var groups: [String: VFIOGroup] = [:]
    private var iommuSet = false
    /// What is mapped: (iova, host, size).
    public private(set) var mappings: [(iova: UInt64, host: UnsafeMutableRawPointer, size: UInt64)] = []

    /// Opens /dev/vfio/vfio and checks the API version and type1 support. `address` only names
    /// the function in errors.
    public init(kernel: any VFIOKernel = LinuxVFIOKernel.shared, vfioPath: String = "/dev/vfio",
                for address: HostPCIAddress) throws(VFIOError) {
        let path = "\(vfioPath)/vfio"
        guard kernel.exists(path) else { throw .noVFIO(address, path: path) }
        let fd: Int32
        switch kernel.open(path, writable: true) {
        case let .success(value): fd = value
        case let .failure(reason): throw .openFailed(address, path: path, reason: reason)
        }
        let version = kernel.apiVersion(container: fd)
        guard version == bp_vfio_expected_api_version() else {
            kernel.close(fd)
            throw .apiVersion(address, found: version, expected: bp_vfio_expected_api_version())
        }
        guard kernel.checkExtension(container: fd, bp_vfio_type1_iommu()) else {
            kernel.close(fd)
            throw .noType1IOMMU(address)
        }
        self.kernel = kernel
        self.vfioPath = vfioPath
        self.fd = fd
    }

    nonisolated(unsafe) private static weak var current: VFIOContainer?

    /// The container every VFIO function of this process shares (a group can be in only one
    /// container, and guest RAM is then mapped once): the live one, or a new one. Machines are
    /// built on one thread.
    public static func shared(kernel: any VFIOKernel = LinuxVFIOKernel.shared, vfioPath: String = "/dev/vfio",
                              for address: HostPCIAddress) throws(VFIOError) -> VFIOContainer {
        if let current, current.vfioPath == vfioPath, current.kernel === kernel { return current }
        let container = try VFIOContainer(kernel: kernel, vfioPath: vfioPath, for: address)
        current = container
        return container
    }

    deinit {
        for mapping in mappings { _ = kernel.unmapDMA(container: fd, iova: mapping.iova, size: mapping.size) }
        for group in groups.values { group.detach() }
        kernel.close(fd)
    }

    /// The group `number`, opened and joined to this container on first use. The first group
    /// sets the IOMMU type (VFIO_SET_IOMMU needs a group in the container).
    public func group(_ number: String, for address: HostPCIAddress) throws(VFIOError) -> VFIOGroup {
        if let group = groups[number] { return group }
        let group = try VFIOGroup(container: self, number: number, for: address)
        if !iommuSet {
            if let reason = kernel.setIOMMU(container: fd, type: bp_vfio_type1_iommu()) {
                group.detach()
                throw .ioctl(address, what: "VFIO_SET_IOMMU (type1v2)", reason: reason)
            }
            iommuSet = true
        }
        groups[number] = group
        return group
    }

    /// Maps `size` bytes at `host` for device DMA at bus address `iova` (VFIO_IOMMU_MAP_DMA,
    /// read and write). The pages are pinned by the kernel until unmapped.
    public func map(iova: UInt64, host: UnsafeMutableRawPointer, size: UInt64, for address: HostPCIAddress) throws(VFIOError) {
        if mappings.contains(where: { $0.iova == iova && $0.size == size && $0.host == host }) { return }
        if let reason = kernel.mapDMA(container: fd, host: host, iova: iova, size: size) {
            throw .dmaMap(address, iova: iova, size: size, reason: reason)
        }
        mappings.append((iova, host, size))
    }

    /// Removes the mapping at `iova` (when guest RAM moves or goes away).
    public func unmap(iova: UInt64) {
        guard let index = mappings.firstIndex(where: { $0.iova == iova }) else { return }
        _ = kernel.unmapDMA(container: fd, iova: iova, size: mappings[index].size)
        mappings.remove(at: index)
    }
}

/// An IOMMU group opened through /dev/vfio/GROUP: the unit of ownership. It is viable only when
/// every device in it is bound to vfio-pci (or to no driver); then it joins the container and
/// hands out device file descriptors.
public final class VFIOGroup {
    public let number: String
    private let kernel: any VFIOKernel
    let fd: Int32
    private var attached = false

    init(container: VFIOContainer, number: String, for address: HostPCIAddress) throws(VFIOError) {
        let kernel = container.kernel
        let path = "\(container.vfioPath)/\(number)"
        let fd: Int32
        switch kernel.open(path, writable: true) {
        case let .success(value): fd = value
        case let .failure(reason):
            throw .openFailed(address, path: path, reason: reason)
        }
        switch kernel.groupViable(group: fd) {
        case .success(true): break
        case .success(false):
            kernel.close(fd)
            throw .groupNotViable(address, group: number, blockers: [])
        case let .failure(reason):
            kernel.close(fd)
            throw .ioctl(address, what: "VFIO_GROUP_GET_STATUS on \(path)", reason: reason)
        }
        if let reason = kernel.setContainer(group: fd, container: container.fd) {
            kernel.close(fd)
            throw .ioctl(address, what: "VFIO_GROUP_SET_CONTAINER on \(path)", reason: reason)
        }
        self.number = number
        self.kernel = kernel
        self.fd = fd
        attached = true
    }

    /// A device file descriptor for the function (VFIO_GROUP_GET_DEVICE_FD with its address).
    func deviceFD(for address: HostPCIAddress) throws(VFIOError) -> Int32 {
        switch kernel.deviceFD(group: fd, name: address.description) {
        case let .success(fd): return fd
        case let .failure(reason): throw .ioctl(address, what: "VFIO_GROUP_GET_DEVICE_FD", reason: reason)
        }
    }

    /// Leaves the container and closes the group file.
    func detach() {
        guard attached else { return }
        attached = false
        kernel.unsetContainer(group: fd)
        kernel.close(fd)
    }
}
