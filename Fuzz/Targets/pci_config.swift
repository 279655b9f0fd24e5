// libFuzzer target: PCI configuration space and BARs of edu, virtio-blk and xHCI behind a real
// ECAM host bridge: sizing, moving and overlapping BARs, capability lists, MSI-X tables and
// enables, command bits, then BAR accesses, all from the input bytes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPCIConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var reader = ByteReader(data: UnsafeBufferPointer(start: data, count: size))
    let bus = FuzzBus()
    var steps = 0
    while !reader.isAtEnd && steps < 4096 {
        bus.step(&reader, configShare: 160, barShare: 80)
        steps += 1
    }
    return 0
}
