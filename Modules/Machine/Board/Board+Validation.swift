import Memory

/// Consistency checks across a whole board: the ones that still matter after overrides
/// (`withHarts`, `withMemory`) and for boards built in code.
extension Board {
    /// Largest hart count: mhartid values and the CLINT/PLIC layouts the catalog sizes for.
    public static let maximumHarts = 64
    /// Page size that RAM and page-aligned devices must respect (Sv39/Sv48 base pages).
    static let pageSize: UInt64 = 0x1000

    /// Throws every inconsistency at once: hart count, memory sizes and alignment, register
    /// windows, overlapping regions, duplicate names, IRQ references and the console device.
    public func validate(catalog: DeviceTypeCatalog = .builtIn, extraDeviceTypes: Set<String> = []) throws(BoardErrors) {
        let diagnostics = BoardDiagnostics(path: sourcePath)
        check(into: diagnostics, catalog: catalog, extraDeviceTypes: extraDeviceTypes)
        if !diagnostics.errors.isEmpty { throw BoardErrors(diagnostics.sorted) }
    }

    func check(into diagnostics: BoardDiagnostics, catalog: DeviceTypeCatalog, extraDeviceTypes: Set<String>) {
        if !(1...Board.maximumHarts).contains(harts.count) {
            diagnostics.error("hart count \(harts.count) is out of range 1...\(Board.maximumHarts)", at: harts.countLocation)
        }
        checkNames(into: diagnostics)
        checkMemory(into: diagnostics)
        checkDevices(into: diagnostics, catalog: catalog, extraDeviceTypes: extraDeviceTypes)
        checkOverlaps(into: diagnostics)
        checkIRQs(into: diagnostics, catalog: catalog)
        // What each entry's kind checks beyond its spec, then what only the whole board shows.
        for device in devices { catalog.kind(named: device.type)?.check(device, in: self, into: diagnostics) }
        checkAIA(into: diagnostics)
        checkPCI(into: diagnostics, catalog: catalog)
        checkUSB(into: diagnostics, catalog: catalog)
        checkConsole(into: diagnostics, catalog: catalog)
    }

    /// Memory regions and devices share one namespace: both become node names and references.
    private func checkNames(into diagnostics: BoardDiagnostics) {
        var seen: [String: SourceLocation?] = [:]
        let named = memory.map { ($0.name, $0.location) } + devices.map { ($0.name, $0.location) }
        for (name, location) in named {
            if name.isEmpty { continue }
            if let first = seen[name] {
                let line = first.map { " at \($0.reference)" } ?? ""
                diagnostics.error("duplicate name '\(name)'; first used\(line)", at: location)
            } else {
                seen[name] = location
            }
        }
    }

    private func checkMemory(into diagnostics: BoardDiagnostics) {
        for region in memory {
            let sizeLocation = region.sizeLocation ?? region.location
            if region.size == 0 {
                diagnostics.error("memory region '\(region.name)' has size zero", at: sizeLocation)
                continue
            }
            if region.base % Board.pageSize != 0 {
                diagnostics.error("base \(hex(region.base)) of memory region '\(region.name)' is not a multiple of 4 KiB (0x1000)", at: region.location)
            }
            if region.size % Board.pageSize != 0 {
                diagnostics.error("size \(hex(region.size)) of memory region '\(region.name)' is not a multiple of 4 KiB (0x1000)", at: sizeLocation)
            }
            checkEnd(base: region.base, size: region.size, what: "memory region '\(region.name)'", at: region.location, into: diagnostics)
        }
    }

    func checkEnd(base: UInt64, size: UInt64, what: String, at location: SourceLocation?, into diagnostics: BoardDiagnostics) {
        if size > 0, base > UInt64.max - (size - 1) {
            diagnostics.error("\(what) at \(hex(base)) with size \(hex(size)) runs past the end of the 64-bit address space", at: location)
        }
    }

    private func checkDevices(into diagnostics: BoardDiagnostics, catalog: DeviceTypeCatalog, extraDeviceTypes: Set<String>) {
        // An empty type is a `type:` the loader already reported missing.
        for device in devices where !device.type.isEmpty {
            let regLocation = device.regLocation ?? device.location
            guard let spec = catalog.spec(named: device.type) else {
                if !extraDeviceTypes.contains(device.type) {
                    let known = catalog.names + extraDeviceTypes.sorted()
                    let message = nearest(device.type, in: known).map { "unknown device type '\(device.type)'; did you mean '\($0)'?" }
                        ?? "unknown device type '\(device.type)'; known types: \(known.joined(separator: ", "))"
                    diagnostics.error(message, at: device.typeLocation ?? device.location)
                } else if let base = device.base, let size = device.size {
                    if size == 0 { diagnostics.error("device '\(device.name)' has size zero", at: regLocation) }
                    checkEnd(base: base, size: size, what: "device '\(device.name)'", at: regLocation, into: diagnostics)
                }
                continue
            }
            switch spec.registers {
            case .none, .pciFunction:
                if device.regLocation != nil {
                    diagnostics.error("device '\(device.name)' of type '\(spec.name)' takes no 'reg'", at: regLocation)
                }
            case .required(let minimumSize, let pageAligned):
                guard let base = device.base, let size = device.size else {
                    if device.regLocation == nil {
                        diagnostics.error("device '\(device.name)' of type '\(spec.name)' needs 'reg: [BASE, SIZE]'", at: device.location)
                    }
                    break
                }
                if size == 0 {
                    diagnostics.error("device '\(device.name)' has size zero", at: regLocation)
                } else if size < minimumSize {
                    diagnostics.error("size \(hex(size)) of device '\(device.name)' is smaller than the \(hex(minimumSize)) a '\(spec.name)' needs", at: regLocation)
                }
                if pageAligned, base % Board.pageSize != 0 {
                    diagnostics.error("base \(hex(base)) of device '\(device.name)' is not a multiple of 4 KiB (0x1000)", at: regLocation)
                }
                checkEnd(base: base, size: size, what: "device '\(device.name)'", at: regLocation, into: diagnostics)
            }
            if !spec.irqCount.contains(device.irqs.count) {
                let location = device.irqs.first?.location ?? device.location
                let message: String
                if spec.irqCount.upperBound == 0 {
                    message = "device '\(device.name)' of type '\(spec.name)' takes no irq"
                } else if device.irqs.count > spec.irqCount.upperBound {
                    message = "device '\(device.name)' of type '\(spec.name)' takes at most \(spec.irqCount.upperBound) irq, got \(device.irqs.count)"
                } else {
                    message = "device '\(device.name)' of type '\(spec.name)' needs at least \(spec.irqCount.lowerBound) irq, got \(device.irqs.count)"
                }
                diagnostics.error(message, at: location)
            }
        }
    }

    /// Every pair of regions (RAM and device windows) that share an address, reported at the one
    /// that comes later in the file.
    private func checkOverlaps(into diagnostics: BoardDiagnostics) {
        struct Window {
            let name: String
            let base: UInt64
            let size: UInt64
            let location: SourceLocation?
            var last: UInt64 { base &+ (size - 1) }
        }
        var windows = memory.filter { $0.size > 0 }.map { Window(name: $0.name, base: $0.base, size: $0.size, location: $0.location) }
        for device in devices {
            if let base = device.base, let size = device.size, size > 0 {
                windows.append(Window(name: device.name, base: base, size: size, location: device.regLocation ?? device.location))
            }
            for window in pciWindows(of: device) where window.size > 0 && window.base <= UInt64.max - (window.size - 1) {
                windows.append(Window(name: "\(device.name) \(window.what)", base: window.base, size: window.size,
                                      location: device.location))
            }
        }
        for (index, window) in windows.enumerated() {
            for earlier in windows[..<index] where window.base <= earlier.last && earlier.base <= window.last {
                diagnostics.error("'\(window.name)' \(formatRange(window.base, window.size)) overlaps '\(earlier.name)' \(formatRange(earlier.base, earlier.size))",
                                  at: window.location)
            }
        }
    }

    private func checkIRQs(into diagnostics: BoardDiagnostics, catalog: DeviceTypeCatalog) {
        let names = devices.map(\.name)
        for device in devices {
            for irq in device.irqs {
                guard let controller = self.device(named: irq.controller) else {
                    diagnostics.error("irq of '\(device.name)' names unknown device '\(irq.controller)'" + suggestion(irq.controller, in: names), at: irq.location)
                    continue
                }
                guard let spec = catalog.spec(named: controller.type) else { continue }  // run-time type: its owner checks
                guard let sourcesProperty = spec.interruptSourcesProperty else {
                    diagnostics.error("irq of '\(device.name)' names '\(controller.name)', which is not an interrupt controller", at: irq.location)
                    continue
                }
                guard let sources = controller.integer(sourcesProperty) else { continue }
                if irq.source == 0 || UInt64(irq.source) > sources {
                    diagnostics.error("irq source \(irq.source) of '\(device.name)' is out of range for '\(controller.name)': sources are 1...\(sources)", at: irq.location)
                }
            }
        }
    }

    private func checkConsole(into diagnostics: BoardDiagnostics, catalog: DeviceTypeCatalog) {
        guard let stdout = boot.stdout else { return }
        guard let device = device(named: stdout) else {
            diagnostics.error("stdout names unknown device '\(stdout)'" + suggestion(stdout, in: devices.map(\.name)), at: boot.stdoutLocation)
            return
        }
        if let spec = catalog.spec(named: device.type), !spec.isConsole {
            diagnostics.error("stdout device '\(stdout)' of type '\(device.type)' is not a console", at: boot.stdoutLocation)
        }
    }
}
