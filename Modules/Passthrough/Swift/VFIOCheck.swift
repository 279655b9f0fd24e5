#if canImport(Glibc)
import Glibc
#endif

/// `backplane host pci --check ADDRESS`: opens one function through VFIO as `pci.host` with
/// `vfio: true` would (container, group, device, regions, interrupt counts) and closes it again,
/// so a user learns before writing a board whether passthrough will work and, if not, the one
/// line saying why. Nothing is written to the device; its DMA mapping is not set up.
public enum VFIOCheck {
    /// - Parameter latencyReads: when non-zero, also time that many 32-bit reads of offset 0 of
    ///   the first memory BAR through its mmap and through pread (reads only; offset 0 of a BAR
    ///   is an ID or capability register on the devices this is meant for).
    public static func run(_ address: HostPCIAddress, sysfs: HostPCISysfs = HostPCISysfs(),
                           kernel: any VFIOKernel = LinuxVFIOKernel.shared, latencyReads: Int = 0) throws(VFIOError) -> String {
        let snapshot: HostPCISnapshot
        do throws(HostPCIError) {
            snapshot = try sysfs.snapshot(of: address)
        } catch {
            throw .bar(address, bar: 0, reason: error.description)
        }
        guard let group = snapshot.iommuGroup else { throw .noIOMMUGroup(address) }
        guard snapshot.driver == "vfio-pci" else { throw .notBoundToVFIO(address, driver: snapshot.driver) }
        let blockers = sysfs.groupBlockers(snapshot)
        let container = try VFIOContainer(kernel: kernel, vfioPath: sysfs.vfioPath, for: address)
        let device: VFIODevice
        do throws(VFIOError) {
            device = try VFIODevice(container: container, snapshot: snapshot)
        } catch {
            if case .groupNotViable = error { throw .groupNotViable(address, group: group, blockers: blockers) }
            throw error
        }
        var lines = ["\(address): VFIO device open (IOMMU group \(group), type1 IOMMU)"]
        lines.append("    reset: " + (device.info.canReset ? "VFIO_DEVICE_RESET" : "none (no FLR or bus reset possible)"))
        for region in device.regions.prefix(VFIODevice.configRegion + 1) where region.size > 0 {
            let name = region.index < 6 ? "BAR \(region.index)" : region.index == 6 ? "ROM" : "config"
            let access = [region.readable ? "r" : "", region.writable ? "w" : ""].joined()
            let areas = region.mappableAreas
            let mmap: String
            if areas.isEmpty {
                mmap = "not mmap-able (pread/pwrite)"
            } else if areas == [0..<region.size] {
                mmap = "mmap-able"
            } else {
                mmap = "mmap-able in " + areas.map { "[0x\(String($0.lowerBound, radix: 16)), 0x\(String($0.upperBound, radix: 16)))" }
                    .joined(separator: " ")
            }
            lines.append("    \(name): 0x\(String(region.size, radix: 16)) bytes, \(access), \(mmap)")
        }
        let irqs = VFIOIRQIndex.allCases.map { index -> String in
            let name = index == .intx ? "INTx" : index == .msi ? "MSI" : "MSI-X"
            return "\(name) \(device.irqCounts[index] ?? 0)"
        }
        lines.append("    interrupts: " + irqs.joined(separator: ", "))
        if latencyReads > 0, let region = device.regions.prefix(6).first(where: { $0.size >= 4 && $0.readable }) {
            lines.append("    " + latency(device, region, reads: latencyReads))
        }
        return lines.joined(separator: "\n")
    }

    /// "BAR 0 read latency: mmap 812 ns, pread 2310 ns (1000 reads)".
    private static func latency(_ device: VFIODevice, _ region: VFIORegionInfo, reads: Int) -> String {
        func nanoseconds(_ body: () -> Void) -> UInt64 {
            var start = timespec(), end = timespec()
            clock_gettime(CLOCK_MONOTONIC, &start)
            body()
            clock_gettime(CLOCK_MONOTONIC, &end)
            let elapsed = (Int64(end.tv_sec) - Int64(start.tv_sec)) * 1_000_000_000 + (Int64(end.tv_nsec) - Int64(start.tv_nsec))
            return UInt64(max(elapsed, 0)) / UInt64(reads)
        }
        var sink: UInt64 = 0
        var parts: [String] = []
        let mapped = VFIORegionAccess(device: device, region: region)
        if mapped.mappedBytes > 0 {
            parts.append("mmap \(nanoseconds { for _ in 0..<reads { sink &+= mapped.read(offset: 0, size: 4) } }) ns")
        }
        var unmapped = region
        unmapped.mappable = false
        let trapped = VFIORegionAccess(device: device, region: unmapped)
        parts.append("pread \(nanoseconds { for _ in 0..<reads { sink &+= trapped.read(offset: 0, size: 4) } }) ns")
        return "BAR \(region.index) read latency: " + parts.joined(separator: ", ") + " (\(reads) reads, value 0x\(String(sink / UInt64(reads * max(parts.count, 1)), radix: 16)))"
    }
}
