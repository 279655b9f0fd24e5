// libFuzzer target: xHCI TRB and context parsing. The first part of the input becomes guest RAM
// (command ring, event ring segment table, device contexts, transfer rings: whatever the bytes
// say); the controller is started the way a driver starts it with its pointers in that RAM;
// the rest of the input is register writes and doorbells.
import Memory

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzXHCIRings(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var reader = ByteReader(data: UnsafeBufferPointer(start: data, count: size))
    let bus = FuzzBus(edu: false, virtio: false, xhci: true)
    let ramBytes = min(size, 16 * 1024)
    _ = bus.space.dma.write(FuzzBus.ram, bytes: reader.bytes(ramBytes))
    guard let bar = bus.functions.first?.bars.first, bar.size > 0 else { return 0 }
    let base = bar.address
    // Operational registers at CAPLENGTH; runtime and doorbells at RTSOFF and DBOFF (xHCI 1.2 §5.3).
    let operational = base + ((bus.space.read(base, size: 4) ?? 0) & 0xff)
    let runtime = base + ((bus.space.read(base + 0x18, size: 4) ?? 0) & ~0x1f)
    let doorbells = base + ((bus.space.read(base + 0x14, size: 4) ?? 0) & ~0x3)
    let ram = FuzzBus.ram
    bus.space.write(operational + 0x38, size: 4, value: 8)                                 // CONFIG: 8 slots
    bus.space.write(operational + 0x30, size: 8, value: ram + 0x1000)                      // DCBAAP
    bus.space.write(operational + 0x18, size: 8, value: ram + 0x2000 | 1)                  // CRCR
    bus.space.write(runtime + 0x28, size: 4, value: UInt64(1 + reader.u8() % 4))           // ERSTSZ
    bus.space.write(runtime + 0x38, size: 8, value: ram + 0x4000)                          // ERDP
    bus.space.write(runtime + 0x30, size: 8, value: ram + 0x3000)                          // ERSTBA
    bus.space.write(runtime + 0x20, size: 4, value: 2)                                     // IMAN.IE
    bus.space.write(operational, size: 4, value: 5)                                        // R/S, INTE
    var steps = 0
    while !reader.isAtEnd && steps < 2048 {
        switch reader.u8() % 4 {
        case 0: bus.space.write(doorbells + 4 * UInt64(reader.u8() % 9), size: 4, value: UInt64(reader.u8() % 32))
        case 1: bus.space.write(operational + UInt64(reader.u8() & 0x3c), size: 4, value: bus.value(&reader))
        case 2: bus.space.write(runtime + 0x20 + UInt64(reader.u8() & 0x7c), size: 4, value: bus.value(&reader))
        default: bus.step(&reader, configShare: 8, barShare: 160)
        }
        steps += 1
    }
    return 0
}
