import IRQ

/// The Advanced Interrupt Architecture devices of a board (RISC-V AIA 1.0): `imsic` interrupt
/// files and `aplic` domains, read from their board-file properties.
extension Board {
    /// Bytes of one hart's IMSIC interrupt file page (AIA §3.6; no guest files).
    static let imsicPageSize: UInt64 = 0x1000

    /// The privilege level an `imsic` device's property `level` names; nil when invalid.
    public func imsicLevel(_ device: BoardDevice) -> InterruptLevel? {
        switch device.properties["level"]?.string {
        case "machine": return .machine
        case "supervisor": return .supervisor
        default: return nil
        }
    }

    /// An `aplic` device's parent domain (property `parent`), nil for a root domain.
    public func aplicParent(_ device: BoardDevice) -> BoardDevice? {
        guard let name = device.properties["parent"]?.string, !name.isEmpty else { return nil }
        return self.device(named: name)
    }

    /// An `aplic` device's level: the root domain is machine level, its children supervisor level
    /// (as QEMU's virt lays them out).
    public func aplicLevel(_ device: BoardDevice) -> InterruptLevel {
        device.properties["parent"]?.string?.isEmpty ?? true ? .machine : .supervisor
    }

    /// An `aplic` device's delivery mode (property `delivery`); nil when invalid.
    public func aplicDelivery(_ device: BoardDevice) -> APLIC.DeliveryMode? {
        switch device.properties["delivery"]?.string {
        case "direct": return .direct
        case "msi": return .msi
        default: return nil
        }
    }

    /// The `aplic` devices whose property `parent` names `device`, in file order.
    public func aplicChildren(_ device: BoardDevice) -> [BoardDevice] {
        devices.filter { $0.type == APLICKind.name && $0.properties["parent"]?.string == device.name }
    }

    /// The `imsic` device serving `level`, if any.
    public func imsic(level: InterruptLevel) -> BoardDevice? {
        devices.first { $0.type == IMSICKind.name && imsicLevel($0) == level }
    }

    /// Bytes an `imsic`'s pages take for this board's harts (the mapped size and the device
    /// tree's `reg`, which may be less than the window the board file reserves).
    public var imsicRegionSize: UInt64 { Board.imsicPageSize * UInt64(harts.count) }

    /// Checks what the catalog's property kinds cannot: levels, delivery modes, the domain
    /// tree, MSI parents and window sizes for the current hart count.
    func checkAIA(into diagnostics: BoardDiagnostics) {
        var firstIMSIC: [InterruptLevel: String] = [:]
        for device in devices where device.type == IMSICKind.name {
            let location = device.location
            guard let level = imsicLevel(device) else {
                if let value = device.properties["level"] {
                    diagnostics.error("property 'level' of imsic '\(device.name)' must be 'machine' or 'supervisor', got \(value)", at: location)
                }
                continue
            }
            if let first = firstIMSIC[level] {
                diagnostics.error("imsic '\(device.name)' is a second \(level)-level imsic ('\(first)' is the first)", at: location)
            } else {
                firstIMSIC[level] = device.name
            }
            if let ids = device.integer("num-ids"), ids & 63 != 63 {
                diagnostics.error("property 'num-ids' of imsic '\(device.name)' must be one less than a multiple of 64 (63, 127, 255, …), got \(ids)", at: location)
            }
            if let size = device.size, size < imsicRegionSize, size >= Board.imsicPageSize {
                diagnostics.error("size \(hex(size)) of imsic '\(device.name)' holds \(size / Board.imsicPageSize) interrupt file(s) but the board has \(harts.count) harts (needs \(hex(imsicRegionSize)))",
                                  at: device.regLocation ?? location)
            }
        }
        for device in devices where device.type == APLICKind.name {
            checkAPLIC(device, into: diagnostics)
        }
        // A PLIC drives MEIP/SEIP from its contexts, an IMSIC or a direct-mode APLIC from its
        // files or IDCs: two of them would fight over the same pins.
        if let plic = devices.first(where: { $0.type == PLICKind.name }),
           let aia = devices.first(where: { [IMSICKind.name, APLICKind.name].contains($0.type) }) {
            diagnostics.error("the board has both a plic ('\(plic.name)') and AIA interrupt controllers ('\(aia.name)'); a hart's external interrupts come from one or the other", at: aia.location)
        }
        for (name, level) in [("smaia", InterruptLevel.machine), ("ssaia", .supervisor)] where harts.has(name) && firstIMSIC[level] == nil {
            diagnostics.error("ISA extension '\(name)' needs a \(level)-level imsic: without one the hart has no AIA CSRs", at: nil)
        }
    }

    private func checkAPLIC(_ device: BoardDevice, into diagnostics: BoardDiagnostics) {
        let location = device.location
        let level = aplicLevel(device)
        if let parentName = device.properties["parent"]?.string, !parentName.isEmpty {
            if let parent = self.device(named: parentName) {
                if parent.type != APLICKind.name {
                    diagnostics.error("parent '\(parentName)' of aplic '\(device.name)' is a '\(parent.type)', not an aplic", at: location)
                } else if aplicParent(parent) != nil {
                    diagnostics.error("parent '\(parentName)' of aplic '\(device.name)' is itself a child domain; only a machine-level root with supervisor-level children is supported", at: location)
                } else if let sources = device.integer("sources"), let parentSources = parent.integer("sources"), sources > parentSources {
                    diagnostics.error("aplic '\(device.name)' has \(sources) sources, more than the \(parentSources) of its parent '\(parentName)'", at: location)
                }
            } else {
                diagnostics.error("parent of aplic '\(device.name)' names unknown device '\(parentName)'" + suggestion(parentName, in: devices.map(\.name)), at: location)
            }
        }
        guard let delivery = aplicDelivery(device) else {
            if let value = device.properties["delivery"] {
                diagnostics.error("property 'delivery' of aplic '\(device.name)' must be 'direct' or 'msi', got \(value)", at: location)
            }
            return
        }
        let msiParentName = device.properties["msi-parent"]?.string ?? ""
        switch delivery {
        case .msi:
            guard !msiParentName.isEmpty else {
                diagnostics.error("aplic '\(device.name)' delivers by MSI but names no 'msi-parent' imsic", at: location)
                return
            }
            guard let imsic = self.device(named: msiParentName) else {
                diagnostics.error("msi-parent of aplic '\(device.name)' names unknown device '\(msiParentName)'" + suggestion(msiParentName, in: devices.map(\.name)), at: location)
                return
            }
            guard imsic.type == IMSICKind.name else {
                diagnostics.error("msi-parent '\(msiParentName)' of aplic '\(device.name)' is a '\(imsic.type)', not an imsic", at: location)
                return
            }
            if let imsicLevel = imsicLevel(imsic), imsicLevel != level {
                diagnostics.error("msi-parent '\(msiParentName)' of \(level)-level aplic '\(device.name)' is a \(imsicLevel)-level imsic", at: location)
            }
        case .direct:
            if !msiParentName.isEmpty {
                diagnostics.error("aplic '\(device.name)' delivers directly but names msi-parent '\(msiParentName)'; set 'delivery: msi'", at: location)
            }
            let needed = APLIC.Layout.regionSize(harts: harts.count)
            if let size = device.size, size < needed, size >= 0x4000 {
                diagnostics.error("size \(hex(size)) of direct-mode aplic '\(device.name)' has no room for the interrupt delivery controls of \(harts.count) harts (needs \(hex(needed)))",
                                  at: device.regLocation ?? location)
            }
        }
    }
}
