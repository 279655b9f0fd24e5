import Foundation

/// What backs a range of guest physical addresses.
public enum RegionKind: Sendable, Equatable {
    /// Host memory, read and written directly (the fast path).
    case ram
    /// Host memory that the guest can read and execute but whose writes are ignored.
    case rom
    /// A device answering through `MMIODevice`.
    case mmio
    /// A device's registers that are host memory: a mapping of the device itself (an mmapped
    /// VFIO BAR, docs/passthrough.md). Loads and stores go straight to it, through the harts'
    /// TLBs too, one host access of the guest's width each, so the device sees the access the
    /// guest made. Unlike RAM it is never executed (a fetch faults), never a DMA source or
    /// target, never mapped for a VFIO device's DMA, never saved, never read by debuggers.
    case deviceMemory
}

/// One mapped range of the guest physical address space.
public final class MemoryRegion {
    public let name: String
    /// The device name traces give accesses to this region (the board entry's name; for a PCI
    /// BAR the function's, while `name` also says which BAR).
    public var traceName: String
    public let base: UInt64
    public let size: UInt64
    public let kind: RegionKind
    /// Host memory for RAM and ROM regions; nil for MMIO.
    public let host: UnsafeMutableRawPointer?
    /// The device for MMIO regions; nil for RAM and ROM.
    public let device: (any MMIODevice)?
    /// Cached from the device so the dispatch path does not ask it again per access.
    let implementedSizes: AccessSizes

    /// One byte per 4 KiB page of a RAM region: non-zero while the page holds translated or
    /// pre-decoded code, so writes to it can be detected (self-modifying code).
    let codePages: UnsafeMutablePointer<UInt8>?
    /// Whether `host` was mapped here (and is unmapped with the region) or belongs to `owner`.
    private let ownsHost: Bool
    /// Keeps borrowed host memory alive while the region exists (a PCI function's RAM BAR).
    private let owner: AnyObject?
    /// Added to region offsets in `mmio` trace events: a region that is one part of a PCI BAR
    /// split around directly mapped pages names the BAR offset, not its own.
    public var traceOffset: UInt64 = 0

    public var end: UInt64 { base &+ size }

    init(name: String, base: UInt64, size: UInt64, kind: RegionKind, device: (any MMIODevice)?) throws(RegionReservationError) {
        self.name = name
        self.traceName = name
        self.base = base
        self.size = size
        self.kind = kind
        self.device = device
        self.implementedSizes = device?.implementedSizes ?? .all
        ownsHost = kind != .mmio
        owner = nil
        if kind == .mmio {
            host = nil
            codePages = nil
        } else {
            // Anonymous mappings are zero-filled and only take host memory when touched, so a
            // guest with gigabytes of RAM costs what it uses.
            // More than the host can address is a user error (`--memory 16383T`), reported, not fatal.
            guard size <= UInt64(Int.max) else {
                throw RegionReservationError(name: name, size: size, reason: "larger than the host's address space")
            }
            let mapped = mmap(nil, Int(size), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
            guard let mapped, mapped != MAP_FAILED else {
                throw RegionReservationError(name: name, size: size, reason: String(cString: strerror(errno)))
            }
            host = mapped
            let pages = Int((size + 4095) >> 12)
            codePages = .allocate(capacity: pages)
            codePages!.initialize(repeating: 0, count: pages)
        }
    }

    /// RAM (or device memory) whose host memory `storage` (`size` bytes) belongs to `owner`.
    init(name: String, base: UInt64, size: UInt64, borrowing storage: UnsafeMutableRawPointer, owner: AnyObject,
         kind: RegionKind = .ram) {
        self.name = name
        self.traceName = name
        self.base = base
        self.size = size
        self.kind = kind
        device = nil
        implementedSizes = .all
        host = storage
        ownsHost = false
        self.owner = owner
        if kind == .ram {
            let pages = Int((size + 4095) >> 12)
            codePages = .allocate(capacity: pages)
            codePages!.initialize(repeating: 0, count: pages)
        } else {
            // Device memory never holds code: fetches from it fault (Hart+Run.swift).
            codePages = nil
        }
    }

    deinit {
        if ownsHost, let host { munmap(host, Int(size)) }
        codePages?.deallocate()
    }

    @inline(__always) public func contains(_ address: UInt64) -> Bool {
        address &- base < size
    }
}

/// Two regions that claim the same addresses.
/// The host could not reserve address space for a RAM or ROM region of this size.
public struct RegionReservationError: Error, Equatable, CustomStringConvertible {
    public let name: String
    public let size: UInt64
    public let reason: String
    public var description: String { "cannot reserve \(size) bytes of host memory for '\(name)': \(reason)" }
}

public struct RegionOverlap: Error, Equatable, CustomStringConvertible {
    public let name: String
    public let base: UInt64
    public let size: UInt64
    public let otherName: String
    public let otherBase: UInt64
    public let otherSize: UInt64

    public var description: String {
        "'\(name)' \(formatRange(base, size)) overlaps '\(otherName)' \(formatRange(otherBase, otherSize))"
    }
}

/// A half-open address range in hex, as every memory-map message prints it.
public func formatRange(_ base: UInt64, _ size: UInt64) -> String {
    "[0x\(String(base, radix: 16)),0x\(String(base &+ size, radix: 16)))"
}
