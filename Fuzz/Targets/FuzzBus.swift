// Shared by the bus-level libFuzzer targets (Fuzz/README.md): a small machine of real parts
// (AddressSpace, PCIHostBridge, edu, virtio-blk, xHCI with a keyboard, a loopback and a disk) and
// an interpreter that turns fuzz bytes into what a guest driver does: config-space accesses,
// BAR accesses, RAM contents. Whatever the bytes, the host must neither crash nor hang.
import Foundation
import IRQ
import Memory
import PCI
#if canImport(Storage)
import Storage   // DiskImage, once it has its own module
#endif
import USB
import Virtio

/// Counts interrupt levels; nothing else.
final class NullController: InterruptController {
    var sourceCount: Int { 64 }
    func setLevel(source: Int, level: Bool) {}
}

/// An MSI target (an IMSIC stand-in): accepts 32-bit writes.
final class MessageSink: MMIODevice {
    let implementedSizes: AccessSizes = .word
    var messages = 0
    func read(offset: UInt64, size: Int) -> UInt64 { 0 }
    func write(offset: UInt64, size: Int, value: UInt64) { messages &+= 1 }
}

/// Reads the fuzz input front to back; past the end everything is zero.
struct ByteReader {
    let data: UnsafeBufferPointer<UInt8>
    var at = 0
    var isAtEnd: Bool { at >= data.count }
    mutating func u8() -> UInt8 { defer { at += 1 }; return at < data.count ? data[at] : 0 }
    mutating func u16() -> UInt16 { UInt16(u8()) | UInt16(u8()) << 8 }
    mutating func u32() -> UInt32 { UInt32(u16()) | UInt32(u16()) << 16 }
    mutating func u64() -> UInt64 { UInt64(u32()) | UInt64(u32()) << 32 }
    mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in u8() } }
}

final class FuzzBus {
    static let ram: UInt64 = 0x8000_0000
    static let ramSize: UInt64 = 1 << 20
    static let ecam: UInt64 = 0x3000_0000
    static let sink: UInt64 = 0x2400_0000
    let space = AddressSpace()
    /// IRQ lines hold their controller unowned: the bus keeps it alive, as a Machine does.
    let controller: NullController
    let bridge: PCIHostBridge
    /// Device numbers on bus 0 and their BAR addresses once assigned.
    var functions: [(device: UInt64, bars: [(address: UInt64, size: UInt64)])] = []

    /// `edu`, `virtio`, `xhci`: which functions to attach.
    init(edu: Bool = true, virtio: Bool = true, xhci: Bool = true) {
        try! space.mapRAM(name: "ram", base: FuzzBus.ram, size: FuzzBus.ramSize)
        try! space.mapMMIO(name: "sink", base: FuzzBus.sink, size: 0x1000, device: MessageSink())
        let controller = NullController()
        self.controller = controller
        bridge = PCIHostBridge(name: "pcie0", space: space, busCount: 1, windows: [
            PCIWindow(space: .memory32, cpuBase: 0x4000_0000, pciBase: 0x4000_0000, size: 0x4000_0000),
            PCIWindow(space: .memory64, cpuBase: 0x4_0000_0000, pciBase: 0x4_0000_0000, size: 0x4_0000_0000),
        ], intx: (32...35).map { IRQLine(controller: controller, source: $0) })
        try! space.mapMMIO(name: "pcie0", base: FuzzBus.ecam, size: 1 << 20, device: bridge)
        if virtio {
            let image = FuzzBus.scratchDisk("virtio")
            try! bridge.attach(at: PCIAddress(device: 2)) { VirtioPCIFunction(bus: $0, device: VirtioBlock(image: image)) }
            functions.append((2, []))
        }
        if edu {
            try! bridge.attach(at: PCIAddress(device: 3)) { EduFunction(bus: $0) }
            functions.append((3, []))
        }
        if xhci {
            let controller = try! bridge.attach(at: PCIAddress(device: 4)) { XHCIController(bus: $0, usb2Ports: 2, usb3Ports: 2) }
            _ = try! controller.attach(USBKeyboard(), port: 1)
            _ = try! controller.attach(USBLoopback(), port: 2)
            let image = FuzzBus.scratchDisk("usb")
            _ = try! controller.attach(USBMassStorage(image: image), port: 3)
            functions.append((4, []))
        }
        assignBARs()
    }

    /// A 64 KiB disk image that disappears with the process: created, opened, unlinked.
    static func scratchDisk(_ name: String) -> DiskImage {
        let path = (access("/dev/shm", W_OK) == 0 ? "/dev/shm/" : NSTemporaryDirectory()) + "fuzz-\(name)-\(getpid()).img"
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600)
        precondition(fd >= 0 && ftruncate(fd, 64 * 1024) == 0, "cannot create \(path)")
        close(fd)
        let image = try! DiskImage(path: path, readOnly: false)
        unlink(path)   // the open descriptor keeps the file alive; nothing is left behind
        return image
    }

    func config(_ device: UInt64, _ register: UInt64) -> UInt64 { FuzzBus.ecam + (device << 15) + register }

    /// What firmware does: size every BAR, place it, enable decoding and bus mastering.
    func assignBARs() {
        var next: UInt64 = 0x4000_0000
        for index in functions.indices {
            let device = functions[index].device
            var bars: [(UInt64, UInt64)] = []
            var bar = 0
            while bar < 6 {
                let register = config(device, 0x10 + UInt64(4 * bar))
                space.write(register, size: 4, value: 0xffff_ffff)
                let low = space.read(register, size: 4) ?? 0
                guard low != 0, low & 1 == 0 else { bars.append((0, 0)); bar += 1; continue }
                let is64 = (low >> 1) & 3 == 2
                var mask = low & ~0xf
                if is64 {
                    space.write(register + 4, size: 4, value: 0xffff_ffff)
                    mask |= (space.read(register + 4, size: 4) ?? 0) << 32
                } else {
                    mask |= 0xffff_ffff_0000_0000
                }
                let size = ~mask &+ 1
                next = (next + size - 1) & ~(size - 1)
                space.write(register, size: 4, value: next & 0xffff_ffff)
                if is64 { space.write(register + 4, size: 4, value: next >> 32) }
                bars.append((next, size))
                if is64 { bars.append((0, 0)) }
                next += size
                bar += is64 ? 2 : 1
            }
            functions[index].bars = bars
            space.write(config(device, 4), size: 2, value: 0x6)
        }
    }

    /// A 64-bit value a driver might write: often an address in RAM or in a BAR.
    func value(_ reader: inout ByteReader) -> UInt64 {
        let raw = reader.u64()
        switch raw & 7 {
        case 0, 1, 2: return FuzzBus.ram + (raw >> 8) % FuzzBus.ramSize & ~0xf
        case 3: return FuzzBus.sink
        case 4:
            let function = functions[Int(raw >> 8) % functions.count]
            let bar = function.bars.first { $0.size > 0 } ?? (0, 0)
            return bar.address &+ ((raw >> 16) & 0xfc)
        default: return raw >> 3
        }
    }

    static let widths = [1, 2, 4, 8]

    /// One driver action from the input; `weights` biases config vs BAR vs RAM operations.
    func step(_ reader: inout ByteReader, configShare: UInt8 = 64, barShare: UInt8 = 128) {
        let op = reader.u8()
        let function = functions[Int(reader.u8()) % functions.count]
        if op < configShare {
            let register = UInt64(reader.u16() & 0xfff)
            let size = [1, 2, 4][Int(reader.u8() % 3)]
            let aligned = register & ~UInt64(size - 1)
            if op & 1 == 0 { space.write(config(function.device, aligned), size: size, value: UInt64(reader.u32())) }
            else { _ = space.read(config(function.device, aligned), size: size) }
        } else if op < configShare &+ barShare {
            let bars = function.bars.filter { $0.size > 0 }
            guard !bars.isEmpty else { return }
            let bar = bars[Int(reader.u8()) % bars.count]
            let size = FuzzBus.widths[Int(reader.u8() % 4)]
            let offset = UInt64(reader.u16() % 0x4000) & ~UInt64(size - 1)
            if op & 1 == 0 { space.write(bar.address + offset % bar.size, size: size, value: value(&reader)) }
            else { _ = space.read(bar.address + offset % bar.size, size: size) }
        } else {
            let offset = UInt64(reader.u32()) % (FuzzBus.ramSize - 16)
            space.write(FuzzBus.ram + offset, size: 8, value: value(&reader))
            space.write(FuzzBus.ram + offset + 8, size: 8, value: reader.u64())
        }
    }
}
