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

    /// What no single entry can say: a PLIC and AIA controllers both driving the harts' pins,
    /// and an ISA that names an AIA extension without its IMSIC. (Each `imsic` and `aplic` entry
    /// is checked by its kind.)
    func checkAIA(into diagnostics: BoardDiagnostics) {
        // A PLIC drives MEIP/SEIP from its contexts, an IMSIC or a direct-mode APLIC from its
        // files or IDCs: two of them would fight over the same pins.
        if let plic = devices.first(where: { $0.type == PLICKind.name }),
           let aia = devices.first(where: { [IMSICKind.name, APLICKind.name].contains($0.type) }) {
            diagnostics.error("the board has both a plic ('\(plic.name)') and AIA interrupt controllers ('\(aia.name)'); a hart's external interrupts come from one or the other", at: aia.location)
        }
        for (name, level) in [("smaia", InterruptLevel.machine), ("ssaia", .supervisor)] where harts.has(name) && imsic(level: level) == nil {
            diagnostics.error("ISA extension '\(name)' needs a \(level)-level imsic: without one the hart has no AIA CSRs", at: nil)
        }
    }
}
