import CPU
import Memory

/// What to load into the machine before the harts start (board defaults overridden by the CLI).
public struct BootConfiguration: Sendable {
    /// M-mode firmware (OpenSBI); nil runs the kernel itself in M-mode (`--bios none`).
    public var firmware: String?
    /// Kernel or S-mode payload (U-Boot, Linux `Image`), or with no firmware the M-mode program.
    public var kernel: String?
    public var initrd: String?
    /// Kernel command line.
    public var append: String
    /// A device-tree blob to use instead of the one generated from the board.
    public var dtb: String?

    public init(firmware: String?, kernel: String?, initrd: String? = nil, append: String = "", dtb: String? = nil) {
        self.firmware = firmware
        self.kernel = kernel
        self.initrd = initrd
        self.append = append
        self.dtb = dtb
    }

    /// The board's own boot defaults.
    public init(board: Board) {
        self.init(firmware: board.boot.firmware, kernel: board.boot.kernel, initrd: board.boot.initrd,
                  append: board.boot.append)
    }
}

/// Where things went: recorded so `backplane` can print it and a guest reset can redo it.
public struct BootLayout: Sendable {
    public struct Image: Sendable {
        public let name: String
        public let address: UInt64
        public let bytes: [UInt8]
    }
    public var images: [Image] = []
    public var entry: UInt64 = 0
    public var deviceTreeAddress: UInt64 = 0
}

extension Machine {
    private static let megabyte: UInt64 = 1 << 20

    /// Loads firmware, kernel, initrd and device tree as QEMU's `virt` does and resets every hart
    /// to the entry point with a0 = hart id and a1 = device-tree address.
    ///
    /// Placement (QEMU hw/riscv/boot.c): firmware at the start of RAM; the kernel at the next
    /// 2 MiB boundary after the firmware (where OpenSBI's fw_jump jumps); the initrd half-way
    /// into RAM or 128 MiB after the kernel, whichever is lower; the device tree at the end of RAM
    /// (below 3 GiB), 2 MiB aligned.
    @discardableResult
    public func boot(_ configuration: BootConfiguration) throws -> BootLayout {
        guard let ram = board.memory.first else { throw MachineError(file: board.sourcePath, reason: "the board has no RAM") }
        let ramEnd = ram.base + ram.size
        var layout = BootLayout()
        var programSymbols: [String: UInt64] = [:]

        func place(_ path: String, defaultAddress: UInt64, name: String) throws -> (entry: UInt64, end: UInt64, symbols: [String: UInt64]) {
            let bytes = try readFile(path)
            if ELFImage.isELF(bytes) {
                let elf = try ELFImage(bytes: bytes, path: path)
                var end: UInt64 = 0
                for segment in elf.segments {
                    var data = segment.data
                    data.append(contentsOf: [UInt8](repeating: 0, count: Int(segment.memorySize) - data.count))
                    try write(data, at: segment.address, path: path, name: name, into: &layout)
                    end = max(end, segment.address + segment.memorySize)
                }
                return (elf.entry, end, elf.symbols)
            }
            try write(bytes, at: defaultAddress, path: path, name: name, into: &layout)
            return (defaultAddress, defaultAddress + UInt64(bytes.count), [:])
        }

        var kernelStart = ram.base
        if let firmware = configuration.firmware {
            let loaded = try place(firmware, defaultAddress: ram.base, name: "firmware")
            layout.entry = loaded.entry
            programSymbols = loaded.symbols
            kernelStart = alignUp(loaded.end, 2 * Machine.megabyte)
        }
        if let kernel = configuration.kernel {
            let loaded = try place(kernel, defaultAddress: kernelStart, name: "kernel")
            if configuration.firmware == nil {
                layout.entry = loaded.entry
                programSymbols = loaded.symbols
            }
            kernelStart = min(kernelStart, loaded.entry)
        } else if configuration.firmware == nil {
            throw MachineError("nothing to run: the board has no firmware and no kernel was given (--kernel FILE)")
        }

        var initrdRange: (start: UInt64, end: UInt64)?
        if let initrd = configuration.initrd {
            let bytes = try readFile(initrd)
            let start = alignUp(kernelStart + min(ram.size / 2, 128 * Machine.megabyte), 4096)
            try write(bytes, at: start, path: initrd, name: "initrd", into: &layout)
            initrdRange = (start, start + UInt64(bytes.count))
        }

        let deviceTree: [UInt8]
        if let dtb = configuration.dtb {
            deviceTree = try readFile(dtb)
        } else {
            deviceTree = try DeviceTreeGenerator.generate(board: board, bootArgs: configuration.append, initrd: initrdRange, catalog: catalog)
        }
        let top = ram.base < 3072 * Machine.megabyte ? min(ramEnd, 3072 * Machine.megabyte) : ramEnd
        guard UInt64(deviceTree.count) < top - ram.base else { throw MachineError("the device tree does not fit in RAM") }
        layout.deviceTreeAddress = (top - UInt64(deviceTree.count)) & ~(2 * Machine.megabyte - 1)
        try write(deviceTree, at: layout.deviceTreeAddress, path: configuration.dtb ?? "device tree", name: "dtb", into: &layout)

        try bootDevices(symbols: programSymbols)
        bootLayout = layout
        resetHarts()
        return layout
    }

    func resetHarts() {
        for hart in harts {
            hart.reset(pc: bootLayout.entry, a0: hart.state.pointee.hartid, a1: bootLayout.deviceTreeAddress)
        }
    }

    private func write(_ bytes: [UInt8], at address: UInt64, path: String, name: String, into layout: inout BootLayout) throws {
        for other in layout.images where address < other.address + UInt64(other.bytes.count) && other.address < address + UInt64(bytes.count) {
            throw MachineError(file: path, reason: "\(name) \(formatRange(address, UInt64(bytes.count))) overlaps the \(other.name) \(formatRange(other.address, UInt64(other.bytes.count)))")
        }
        if case .failure = space.dma.write(address, bytes: bytes) {
            throw MachineError(file: path, reason: "\(name) \(formatRange(address, UInt64(bytes.count))) does not fit in RAM")
        }
        layout.images.append(.init(name: name, address: address, bytes: bytes))
    }
}

@inline(__always) func alignUp(_ value: UInt64, _ alignment: UInt64) -> UInt64 {
    (value + alignment - 1) & ~(alignment - 1)
}
