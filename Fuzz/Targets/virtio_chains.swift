// libFuzzer target: virtio descriptor chains, available and used rings (virtio 1.2 §2.7) of a
// virtio-blk function. The first part of the input becomes the descriptor table and rings in
// guest RAM, queue 0 is set up as a driver does, and the rest is RAM edits and notifications.
import Memory
import Virtio

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVirtioChains(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var reader = ByteReader(data: UnsafeBufferPointer(start: data, count: size))
    let bus = FuzzBus(edu: false, virtio: true, xhci: false)
    _ = bus.space.dma.write(FuzzBus.ram, bytes: reader.bytes(min(size, 0x3000)))
    guard let bar4 = bus.functions.first?.bars.dropFirst(4).first, bar4.size > 0 else { return 0 }
    let common = { (offset: UInt64, size: Int, value: UInt64) in _ = bus.space.write(bar4.address + offset, size: size, value: value) }
    common(VirtioPCI.Common.deviceStatus, 1, 1)
    common(VirtioPCI.Common.deviceStatus, 1, 3)
    common(VirtioPCI.Common.driverFeatureSelect, 4, 1)
    common(VirtioPCI.Common.driverFeature, 4, 1)
    common(VirtioPCI.Common.deviceStatus, 1, 11)
    common(VirtioPCI.Common.queueSelect, 2, 0)
    common(VirtioPCI.Common.queueSize, 2, UInt64(1) << (reader.u8() % 9))
    common(VirtioPCI.Common.queueDesc, 8, FuzzBus.ram)
    common(VirtioPCI.Common.queueDriver, 8, FuzzBus.ram + 0x1000)
    common(VirtioPCI.Common.queueDevice, 8, FuzzBus.ram + 0x2000)
    common(VirtioPCI.Common.queueEnable, 2, 1)
    common(VirtioPCI.Common.deviceStatus, 1, 15)
    var steps = 0
    while !reader.isAtEnd && steps < 2048 {
        switch reader.u8() % 4 {
        case 0: bus.space.write(bar4.address + VirtioPCI.Layout.notify, size: 2, value: 0)
        case 1:
            let offset = UInt64(reader.u16() % 0x3000) & ~1
            bus.space.write(FuzzBus.ram + offset, size: 2, value: UInt64(reader.u16()))
        case 2: common(UInt64(reader.u8() % 0x40), [1, 2, 4][Int(reader.u8() % 3)], bus.value(&reader))
        default: bus.step(&reader, configShare: 16, barShare: 120)
        }
        steps += 1
    }
    return 0
}
