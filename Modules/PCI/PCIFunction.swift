/// A PCI function as the bus sees it: its configuration space and its BARs. Nothing else of the
/// machine is visible; what a function may do toward the machine (DMA, MSI, INTx) goes through
/// the `PCIBusInterface` it was built with.
///
/// The bus maps each BAR into the guest address space while the guest has programmed it and
/// enabled decoding, and forwards accesses to `readBAR`/`writeBAR` with the BAR-relative offset
/// and one of the widths the BAR declared (`PCIBAR.accessSizes`).
public protocol PCIFunction: AnyObject {
    /// The function's configuration space (usually `bus.config`).
    var config: PCIConfigSpace { get }
    /// Reads `size` bytes at `offset` in BAR `bar`; the result is zero-extended.
    func readBAR(_ bar: Int, offset: UInt64, size: Int) -> UInt64
    /// Writes the low `size` bytes of `value` at `offset` in BAR `bar`.
    func writeBAR(_ bar: Int, offset: UInt64, size: Int, value: UInt64)
    /// A guest configuration read; the default returns `config.read`. Override for registers
    /// whose value is computed on read.
    func readConfig(offset: Int, size: Int) -> UInt32
    /// Called after a guest configuration write went through `config.write` (masks applied).
    func configWritten(offset: Int, size: Int)
    /// A conventional reset: the bus has already restored the configuration registers; the
    /// function returns its internal state to power-on.
    func reset()
    /// Host memory behind BAR `bar` when the BAR is plain memory (the BAR's size in bytes, alive
    /// as long as the function): the bus maps it as RAM, so guest accesses go straight to it and
    /// into the harts' TLBs instead of through `readBAR`/`writeBAR`. Nil (the default) for a BAR
    /// of registers.
    func memoryBacking(bar: Int) -> UnsafeMutableRawPointer?
    /// Parts of memory BAR `bar` that are the device's own registers mapped into host memory
    /// (a VFIO BAR's mmap, docs/passthrough.md): the bus maps each as device memory
    /// (`RegionKind.deviceMemory`), so guest loads and stores reach the device with no trap,
    /// and sends the rest of the BAR to `readBAR`/`writeBAR` as usual. Empty (the default) for a
    /// BAR that is all registers. The host memory must stay valid as long as the function.
    func directWindows(bar: Int) -> [PCIDirectWindow]
}

/// A page-aligned part of a BAR whose accesses go straight to host memory that is the device.
public struct PCIDirectWindow: Equatable {
    /// BAR offset and length, both multiples of 4 KiB.
    public var offset: UInt64
    public var size: UInt64
    /// Host address of the window's first byte, 4 KiB aligned.
    public var host: UnsafeMutableRawPointer

    public init(offset: UInt64, size: UInt64, host: UnsafeMutableRawPointer) {
        self.offset = offset
        self.size = size
        self.host = host
    }
}

extension PCIFunction {
    public func readConfig(offset: Int, size: Int) -> UInt32 { config.read(offset: offset, size: size) }
    public func configWritten(offset: Int, size: Int) {}
    public func reset() {}
    public func memoryBacking(bar: Int) -> UnsafeMutableRawPointer? { nil }
    public func directWindows(bar: Int) -> [PCIDirectWindow] { [] }
}
