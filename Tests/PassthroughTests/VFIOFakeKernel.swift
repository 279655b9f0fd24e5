import Foundation
@testable import Passthrough

/// A fake of the VFIO system calls (`VFIOKernel`) for the cases the real kernel of the nested
/// test machine cannot produce: a BAR that may not be mmapped, sparse mmap areas, a container
/// without type1, an API version mismatch, a failing DMA map. One device in one group; its
/// configuration space is a byte array. Each BAR is a shared file (an unlinked temporary file
/// standing in for the device's memory): `memory` is one mapping of it, which pread/pwrite and
/// `word` use, and "mmap" maps it again, so an access through a direct window lands in the same
/// bytes by another address, as a store into a VFIO mmap lands in the device.
final class VFIOFakeKernel: VFIOKernel {
    var files: Set<String> = ["/dev/vfio/vfio", "/dev/vfio/7"]
    var version: Int32 = 0                  // VFIO_API_VERSION
    var type1 = true
    var viable = true
    var canReset = true
    var dmaError: VFIOErrno?
    var irqCounts: [VFIOIRQIndex: Int] = [.intx: 1, .msi: 1, .msix: 5]
    /// Region infos by index; the config region is index 7.
    var regions: [Int: VFIORegionInfo] = [:]
    /// Backing bytes per region index (BARs and config).
    var memory: [Int: UnsafeMutableRawBufferPointer] = [:]
    /// The file behind each BAR.
    private var barFiles: [Int: Int32] = [:]
    /// Live "device" mappings handed out by `mmap` (and `remap`), by host address.
    var mappings: [UnsafeMutableRawPointer: UInt64] = [:]
    var parks = 0
    var remaps = 0

    // What happened.
    var dmaMaps: [(iova: UInt64, size: UInt64)] = []
    var irqSets: [(index: VFIOIRQIndex, fds: [Int32])] = []
    var unmasks = 0
    var resets = 0
    var preads: [(region: Int, offset: UInt64, size: Int)] = []
    var pwrites: [(region: Int, offset: UInt64, size: Int)] = []
    var closed: [Int32] = []
    /// Pending counts of fake eventfds (fd numbers from 100).
    var events: [Int32: UInt64] = [:]
    private var nextFD: Int32 = 10
    private var nextEventFD: Int32 = 100

    static let regionStride: UInt64 = 1 << 40

    init(config: [UInt8], bars: [Int: UInt64], mappable: Set<Int> = [], sparse: [Int: [Range<UInt64>]] = [:]) {
        for (index, size) in bars {
            regions[index] = VFIORegionInfo(index: index, size: size, offset: UInt64(index) * VFIOFakeKernel.regionStride,
                                            readable: true, writable: true, mappable: mappable.contains(index), sparseAreas: sparse[index])
            var template = Array("/tmp/vfio-fake-bar-XXXXXX".utf8CString)
            let fd = mkstemp(&template)
            precondition(fd >= 0, "mkstemp failed")
            unlink(template)
            let length = Int(VFIOFakeKernel.pageRounded(size))
            precondition(ftruncate(fd, off_t(length)) == 0)
            let mapped = Glibc.mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)!
            barFiles[index] = fd
            memory[index] = UnsafeMutableRawBufferPointer(start: mapped, count: Int(size))
        }
        regions[7] = VFIORegionInfo(index: 7, size: 256, offset: 7 * VFIOFakeKernel.regionStride, readable: true, writable: true, mappable: false)
        memory[7] = .allocate(byteCount: 256, alignment: 8)
        memory[7]!.copyBytes(from: config.prefix(256))
    }

    deinit {
        for (index, buffer) in memory {
            if let fd = barFiles[index] {
                Glibc.munmap(buffer.baseAddress, Int(VFIOFakeKernel.pageRounded(UInt64(buffer.count))))
                Glibc.close(fd)
            } else {
                buffer.deallocate()
            }
        }
    }

    static func pageRounded(_ size: UInt64) -> UInt64 { (size + 4095) & ~4095 }

    func open(_ path: String, writable: Bool) -> Result<Int32, VFIOErrno> {
        guard files.contains(path) else { return .failure(VFIOErrno(ENOENT)) }
        nextFD += 1
        return .success(nextFD)
    }
    func close(_ fd: Int32) { closed.append(fd) }
    func exists(_ path: String) -> Bool { files.contains(path) }
    func apiVersion(container: Int32) -> Int32 { version }
    func checkExtension(container: Int32, _ extensionID: Int32) -> Bool { type1 }
    func setIOMMU(container: Int32, type: Int32) -> VFIOErrno? { nil }
    func groupViable(group: Int32) -> Result<Bool, VFIOErrno> { .success(viable) }
    func setContainer(group: Int32, container: Int32) -> VFIOErrno? { nil }
    func unsetContainer(group: Int32) {}
    func deviceFD(group: Int32, name: String) -> Result<Int32, VFIOErrno> { nextFD += 1; return .success(nextFD) }
    func deviceInfo(device: Int32) -> Result<VFIODeviceInfo, VFIOErrno> {
        .success(VFIODeviceInfo(regions: 9, irqs: 5, canReset: canReset, isPCI: true))
    }
    func regionInfo(device: Int32, index: Int) -> Result<VFIORegionInfo, VFIOErrno> {
        regions[index].map { .success($0) } ?? .failure(VFIOErrno(EINVAL))
    }
    func irqCount(device: Int32, index: VFIOIRQIndex) -> Int { irqCounts[index] ?? 0 }
    func setIRQs(device: Int32, index: VFIOIRQIndex, start: Int, eventfds: [Int32]) -> VFIOErrno? {
        irqSets.append((index, eventfds))
        return nil
    }
    func unmask(device: Int32, index: VFIOIRQIndex, vector: Int) -> VFIOErrno? { unmasks += 1; return nil }
    func reset(device: Int32) -> VFIOErrno? { resets += 1; return nil }
    func mapDMA(container: Int32, host: UnsafeMutableRawPointer, iova: UInt64, size: UInt64) -> VFIOErrno? {
        if let dmaError { return dmaError }
        dmaMaps.append((iova, size))
        return nil
    }
    func unmapDMA(container: Int32, iova: UInt64, size: UInt64) -> VFIOErrno? { nil }

    private func locate(_ offset: UInt64) -> (Int, UInt64) {
        (Int(offset / VFIOFakeKernel.regionStride), offset % VFIOFakeKernel.regionStride)
    }
    func read(device: Int32, offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Result<Int, VFIOErrno> {
        let (region, at) = locate(offset)
        preads.append((region, at, buffer.count))
        guard let bytes = memory[region], at + UInt64(buffer.count) <= UInt64(bytes.count) else { return .failure(VFIOErrno(EINVAL)) }
        buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[Int(at)..<(Int(at) + buffer.count)]))
        return .success(buffer.count)
    }
    func write(device: Int32, offset: UInt64, from buffer: UnsafeRawBufferPointer) -> Result<Int, VFIOErrno> {
        let (region, at) = locate(offset)
        pwrites.append((region, at, buffer.count))
        guard let bytes = memory[region], at + UInt64(buffer.count) <= UInt64(bytes.count) else { return .failure(VFIOErrno(EINVAL)) }
        UnsafeMutableRawBufferPointer(rebasing: bytes[Int(at)..<(Int(at) + buffer.count)]).copyMemory(from: buffer)
        return .success(buffer.count)
    }
    func mmap(device: Int32, offset: UInt64, size: UInt64, writable: Bool) -> Result<UnsafeMutableRawPointer, VFIOErrno> {
        let (region, at) = locate(offset)
        guard let fd = barFiles[region], at & 4095 == 0 else { return .failure(VFIOErrno(EINVAL)) }
        let mapped = Glibc.mmap(nil, Int(size), PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, off_t(at))
        guard let mapped, mapped != MAP_FAILED else { return .failure(VFIOErrno(errno)) }
        mappings[mapped] = size
        return .success(mapped)
    }
    func munmap(_ pointer: UnsafeMutableRawPointer, size: UInt64) {
        mappings[pointer] = nil
        Glibc.munmap(pointer, Int(size))
    }
    func remap(_ pointer: UnsafeMutableRawPointer, device: Int32, offset: UInt64, size: UInt64, writable: Bool) -> VFIOErrno? {
        let (region, at) = locate(offset)
        guard let fd = barFiles[region] else { return VFIOErrno(EINVAL) }
        remaps += 1
        let mapped = Glibc.mmap(pointer, Int(size), PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED | MAP_FIXED, fd, off_t(at))
        return mapped == pointer ? nil : VFIOErrno(errno)
    }
    func park(_ pointer: UnsafeMutableRawPointer, size: UInt64) -> VFIOErrno? {
        parks += 1
        return LinuxVFIOKernel.shared.park(pointer, size: size)
    }
    func eventfd() -> Result<Int32, VFIOErrno> {
        nextEventFD += 1
        events[nextEventFD] = 0
        return .success(nextEventFD)
    }
    func pollReadable(_ fds: UnsafeMutablePointer<pollfd>, count: Int) -> Int {
        var ready = 0
        for index in 0..<count where (events[fds[index].fd] ?? 0) > 0 {
            fds[index].revents = Int16(POLLIN)
            ready += 1
        }
        return ready
    }
    func takeEvents(_ fd: Int32) -> UInt64 {
        let count = events[fd] ?? 0
        events[fd] = 0
        return count
    }

    /// The device signals vector `vector` of the index routed last.
    func fire(_ vector: Int) {
        guard let fd = irqSets.last?.fds[vector] else { return }
        events[fd, default: 0] += 1
    }

    /// The 32-bit word at `offset` of region `region` (what the device holds).
    func word(_ region: Int, _ offset: Int) -> UInt32 { memory[region]!.load(fromByteOffset: offset, as: UInt32.self) }
}
