// libFuzzer target: the checks on what a plugin declares for a PCI device type
// (`PluginTypeValidation` in Modules/PluginHost/PluginDeviceTypes.swift, compiled into this target):
// a `bp_pci_device_type` whose numbers (BAR kinds, sizes, flags, MSI/MSI-X vectors, table and PBA
// placement, vendor capability, interrupt pin) come from the input. Whatever passes validation is
// then built the way PluginPCIFunction builds it (BARs, MSI, MSI-X, vendor capability), so a
// type the host accepts can never trip a precondition later.
import CBackplane
import Memory
import PCI

/// PluginDeviceTypes.swift names the plugin that registered a type; the checks never use it.
public final class LoadedPlugin {}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPluginTypes(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var reader = ByteReader(data: UnsafeBufferPointer(start: data, count: size))
    var type = bp_pci_device_type()
    type.struct_size = UInt32(MemoryLayout<bp_pci_device_type>.size)
    withUnsafeMutableBytes(of: &type.bars) { raw in
        let specs = raw.bindMemory(to: bp_pci_bar_spec.self)
        for index in specs.indices {
            specs[index].kind = UInt32(reader.u8() % 6)
            specs[index].size = reader.u8() & 1 == 0 ? 1 << UInt64(reader.u8() % 64) : reader.u64()
            specs[index].flags = UInt32(reader.u8())
            specs[index].access_sizes = UInt32(reader.u8())
        }
    }
    type.msi_vectors = UInt32(reader.u8() & 1 == 0 ? UInt32(reader.u8() % 40) : reader.u32())
    type.msix_vectors = UInt32(reader.u8() & 1 == 0 ? UInt32(reader.u16() % 2100) : reader.u32())
    type.msix_table_bar = UInt32(reader.u8() % 8)
    type.msix_table_offset = reader.u8() & 1 == 0 ? UInt64(reader.u16()) << 3 : reader.u64()
    type.msix_pba_bar = UInt32(reader.u8() % 8)
    type.msix_pba_offset = reader.u8() & 1 == 0 ? UInt64(reader.u16()) << 3 : reader.u64()
    type.vendor_capability_length = UInt32(reader.u8() % 80)
    type.interrupt_pin = UInt8(reader.u8() % 6)
    _ = PluginTypeValidation.isValidName(String(decoding: reader.bytes(Int(reader.u8() % 32)), as: UTF8.self))
    guard let (bars, _) = try? PluginTypeValidation.bars(of: type, name: "fuzz"),
          (try? PluginTypeValidation.capabilities(of: type, bars: bars, name: "fuzz")) != nil else { return 0 }
    // Accepted: build it as PluginPCIFunction does.
    let space = AddressSpace()
    let config = PCIConfigSpace()
    let bus = PCIBusInterface(address: PCIAddress(device: 1), config: config, memory: space)
    for (index, bar) in bars.enumerated() { if let bar { config.declareBAR(index, bar) } }
    config.interruptPin = PCIInterruptPin(rawValue: type.interrupt_pin)
    config.addPCIExpressCapability(portType: .rootComplexIntegratedEndpoint)
    if type.msi_vectors != 0 { _ = MSICapability(bus: bus, vectors: Int(type.msi_vectors)) }
    if type.msix_vectors != 0 {
        _ = MSIXCapability(bus: bus, vectors: Int(type.msix_vectors), tableBAR: Int(type.msix_table_bar),
                           tableOffset: type.msix_table_offset, pbaBAR: Int(type.msix_pba_bar), pbaOffset: type.msix_pba_offset)
    }
    if type.vendor_capability_length != 0 { _ = config.addVendorCapability(length: Int(type.vendor_capability_length)) }
    return 0
}
