#if canImport(Glibc)
import Glibc
#endif
import CLibPCI
import PCI

/// What a board asks of a `pci.host` function (docs/passthrough.md).
public struct HostPCIOptions: Sendable, Equatable {
    /// Forward BAR accesses to the device through its sysfs `resourceN` files.
    public var bars: Bool
    /// Allow `bars` on a function bound to a host driver.
    public var force: Bool
    /// Open the `resourceN` files for writing (BAR writes reach the device).
    public var writable: Bool

    public init(bars: Bool = false, force: Bool = false, writable: Bool = false) {
        self.bars = bars
        self.force = force
        self.writable = writable
    }
}

/// One BAR of the host device opened through its sysfs `resourceN` file: memory BARs are
/// mapped (MAP_SHARED), I/O BARs go through pread/pwrite (Linux only offers those for I/O).
/// The file is opened read-only unless the board said `writable: true`.
final class HostBARWindow {
    let size: UInt64
    let writable: Bool
    private let fd: Int32
    /// The mapping of a memory BAR; nil for I/O.
    private let base: UnsafeMutableRawPointer?

    init(address: HostPCIAddress, bar: Int, path: String, size: UInt64, io: Bool, writable: Bool) throws(HostPCIError) {
        fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_SYNC)
        guard fd >= 0 else {
            throw .resourceNotAccessible(address, bar: bar, path: path, mode: writable ? "reading and writing" : "reading",
                                         reason: errnoText(errno))
        }
        self.size = size
        self.writable = writable
        if io {
            base = nil
        } else {
            let mapped = mmap(nil, Int(size), PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0)
            guard let mapped, mapped != MAP_FAILED else {
                let reason = errnoText(errno)
                close(fd)
                throw .mapFailed(address, bar: bar, path: path, reason: reason)
            }
            base = mapped
        }
    }

    deinit {
        if let base { munmap(base, Int(size)) }
        close(fd)
    }

    func read(offset: UInt64, size: Int) -> UInt64 {
        guard offset &+ UInt64(size) <= self.size else { return 0 }
        if let base {
            // SAFETY: offset + size is inside the mapping (checked above); the accessors are
            // volatile so the device sees exactly this access.
            let at = base + Int(offset)
            switch size {
            case 1: return UInt64(bp_mmio_read8(at))
            case 2: return UInt64(bp_mmio_read16(at))
            case 4: return UInt64(bp_mmio_read32(at))
            default: return bp_mmio_read64(at)
            }
        }
        var value: UInt64 = 0
        let count = withUnsafeMutableBytes(of: &value) { pread(fd, $0.baseAddress, size, off_t(offset)) }
        return count == size ? value : 0
    }

    func write(offset: UInt64, size: Int, value: UInt64) {
        guard writable, offset &+ UInt64(size) <= self.size else { return }
        if let base {
            // SAFETY: as in read; the mapping is PROT_WRITE only when `writable`.
            let at = base + Int(offset)
            switch size {
            case 1: bp_mmio_write8(at, UInt8(truncatingIfNeeded: value))
            case 2: bp_mmio_write16(at, UInt16(truncatingIfNeeded: value))
            case 4: bp_mmio_write32(at, UInt32(truncatingIfNeeded: value))
            default: bp_mmio_write64(at, value)
            }
            return
        }
        var bytes = value
        _ = withUnsafeBytes(of: &bytes) { pwrite(fd, $0.baseAddress, size, off_t(offset)) }
    }
}

/// A host PCI function presented to the guest (`pci.host`): configuration space mirrored from
/// the host (`HostConfigMirror`), command register, BAR addresses and MSI/MSI-X emulated.
///
/// BAR accesses: the MSI-X table and PBA are always emulated. The rest of a BAR reaches the
/// device only with `bars: true`; otherwise reads return 0 and writes are dropped. Zero rather
/// than all-ones because drivers that wait for a register to clear after a reset (virtio's
/// device status, virtio 1.2 §4.1.4.3.2) would otherwise spin forever; with zero they fail
/// their feature checks and give up cleanly.
public final class HostPCIFunction: PCIFunction {
    public let bus: PCIBusInterface
    public var config: PCIConfigSpace { bus.config }
    public let snapshot: HostPCISnapshot
    public let options: HostPCIOptions
    public let msi: MSICapability?
    public let msix: MSIXCapability?
    /// Host capabilities the mirror left out.
    public let droppedCapabilities: [String]
    private let windows: [HostBARWindow?]

    /// Mirrors `snapshot` into `bus.config`. With `options.bars`, opens the BARs through
    /// `sysfs` after the same checks `HostPCISysfs.barAccessProblem` makes; on any error
    /// nothing stays open and the host device is untouched.
    public init(bus: PCIBusInterface, snapshot: HostPCISnapshot, options: HostPCIOptions = HostPCIOptions(),
                sysfs: HostPCISysfs = HostPCISysfs()) throws(HostPCIError) {
        self.bus = bus
        self.snapshot = snapshot
        self.options = options
        let declared = try HostConfigMirror.bars(of: snapshot)
        var windows = [HostBARWindow?](repeating: nil, count: 6)
        if options.bars {
            if let problem = sysfs.barAccessProblem(snapshot, force: options.force, writable: options.writable) { throw problem }
            for (index, bar) in declared {
                windows[index] = try HostBARWindow(address: snapshot.address, bar: index,
                                                   path: sysfs.path(of: snapshot.address, "resource\(index)"),
                                                   size: snapshot.resources[index].size, io: bar.kind == .io,
                                                   writable: options.writable)
            }
        }
        self.windows = windows
        let mirrored = try HostConfigMirror.mirror(snapshot, into: bus)
        msi = mirrored.msi
        msix = mirrored.msix
        droppedCapabilities = mirrored.dropped
    }

    /// Whether BAR `bar` reaches the host device.
    public func isForwarded(bar: Int) -> Bool { bar < windows.count && windows[bar] != nil }

    public func readBAR(_ bar: Int, offset: UInt64, size: Int) -> UInt64 {
        if let msix, let value = msix.readBAR(bar, offset: offset, size: size) { return value }
        guard bar < windows.count, let window = windows[bar] else { return 0 }
        return window.read(offset: offset, size: size)
    }

    public func writeBAR(_ bar: Int, offset: UInt64, size: Int, value: UInt64) {
        if let msix, msix.writeBAR(bar, offset: offset, size: size, value: value) { return }
        guard bar < windows.count, let window = windows[bar] else { return }
        window.write(offset: offset, size: size, value: value)
    }

    public func reset() {
        msix?.reset()
    }
}
