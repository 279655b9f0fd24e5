import Memory
import PCI

/// Checks of PCI host bridges and the functions placed on them with `at:`.
extension Board {
    /// A window a host bridge declares through its properties (CPU address = bus address, except
    /// I/O whose bus addresses start at 0).
    struct PCIHostWindow {
        let space: PCIWindow.Space
        let base: UInt64
        let size: UInt64
        let what: String
    }

    /// The windows of `device` if it is a PCI host bridge (size 0 when absent).
    func pciWindows(of device: BoardDevice) -> [PCIHostWindow] {
        guard device.type == PCIHostBridgeKind.name else { return [] }
        return PCIHostBridgeKind.windows.map { window in
            PCIHostWindow(space: window.space, base: device.integer(window.base) ?? 0,
                          size: device.integer(window.size) ?? 0, what: window.what)
        }
    }

    func checkPCI(into diagnostics: BoardDiagnostics, catalog: DeviceTypeCatalog) {
        for device in devices {
            guard let spec = catalog.spec(named: device.type) else { continue }
            if spec.isPCIHostBridge { checkHostBridge(device, into: diagnostics) }
            if spec.pciBARs != nil, device.pciAddress == nil, device.atLocation == nil {
                diagnostics.error("device '\(device.name)' of type '\(spec.name)' needs 'at: BUS/DEVICE.FUNCTION' such as 'pcie0/02.0'", at: device.location)
            }
            if spec.pciBARs == nil, let address = device.pciAddress {
                diagnostics.error("device '\(device.name)' of type '\(spec.name)' is not a PCI function; it takes no 'at'", at: address.location)
            }
        }
        checkPlacement(into: diagnostics, catalog: catalog)
    }

    private func checkHostBridge(_ device: BoardDevice, into diagnostics: BoardDiagnostics) {
        let location = device.regLocation ?? device.location
        if let size = device.size, size > 0,
           size % PCIHostBridge.bytesPerBus != 0 || size > 256 * PCIHostBridge.bytesPerBus {
            diagnostics.error("size \(hex(size)) of device '\(device.name)' must be a multiple of 1 MiB (one bus of ECAM) and at most 256 MiB (256 buses)", at: location)
        }
        if !device.irqs.isEmpty && device.irqs.count != 4 {
            diagnostics.error("device '\(device.name)' of type '\(device.type)' needs 4 irqs (INTA, INTB, INTC, INTD) or none, got \(device.irqs.count)",
                              at: device.irqs.first?.location ?? device.location)
        }
        for window in pciWindows(of: device) where window.size > 0 {
            checkEnd(base: window.base, size: window.size, what: "the \(window.what) of '\(device.name)'", at: device.location, into: diagnostics)
            if window.space == .memory32, window.base > UInt64(UInt32.max) - (window.size - 1) {
                diagnostics.error("the 32-bit memory window of '\(device.name)' \(formatRange(window.base, window.size)) must end below 4 GiB", at: device.location)
            }
        }
    }

    /// Slots: the bus exists, numbers are in range, no two functions share one; BARs fit.
    private func checkPlacement(into diagnostics: BoardDiagnostics, catalog: DeviceTypeCatalog) {
        let hostNames = devices.filter { catalog.spec(named: $0.type)?.isPCIHostBridge == true }.map(\.name)
        var taken: [String: BoardDevice] = [:]
        /// Per host and window: BAR sizes placed so far.
        var needs: [String: [UInt64]] = [:]
        var reported: Set<String> = []
        for device in devices {
            guard let address = device.pciAddress, let bars = catalog.spec(named: device.type)?.pciBARs else { continue }
            guard let host = self.device(named: address.bus) else {
                diagnostics.error("'at' of '\(device.name)' names unknown device '\(address.bus)'" + suggestion(address.bus, in: hostNames), at: address.location)
                continue
            }
            guard catalog.spec(named: host.type)?.isPCIHostBridge == true else {
                diagnostics.error("'at' of '\(device.name)' names '\(host.name)', which is not a PCI host bridge", at: address.location)
                continue
            }
            if address.device > 31 {
                diagnostics.error("PCI device number 0x\(String(address.device, radix: 16)) of '\(device.name)' is out of range 0x00...0x1f", at: address.location)
                continue
            }
            if address.function > 7 {
                diagnostics.error("PCI function number \(address.function) of '\(device.name)' is out of range 0...7", at: address.location)
                continue
            }
            if address.device == 0 && address.function == 0 {
                diagnostics.error("slot \(address) of '\(device.name)' is taken by the host bridge of '\(host.name)'", at: address.location)
                continue
            }
            if let other = taken[address.description] {
                let line = other.location.map { " (\($0.reference))" } ?? ""
                diagnostics.error("slot \(address) of '\(device.name)' is already taken by '\(other.name)'\(line)", at: address.location)
                continue
            }
            taken[address.description] = device

            let windows = pciWindows(of: host)
            for bar in bars {
                // 64-bit BARs go to the 64-bit window when there is one; they may also sit below 4 GiB.
                let space: PCIWindow.Space
                switch bar.kind {
                case .io: space = .io
                case .memory32: space = .memory32
                case .memory64: space = windows.contains { $0.space == .memory64 && $0.size > 0 } ? .memory64 : .memory32
                }
                guard let window = windows.first(where: { $0.space == space }) else { continue }
                let key = "\(host.name) \(window.what)"
                if reported.contains(key) { continue }
                guard window.size > 0 else {
                    reported.insert(key)
                    diagnostics.error("BAR of '\(device.name)' (\(bar.summary)) has no window: '\(host.name)' has no \(window.what)", at: address.location)
                    continue
                }
                needs[key, default: []].append(bar.size)
                let need = packedSize(needs[key]!, base: space == .io ? 0 : window.base)
                if need > window.size {
                    reported.insert(key)
                    diagnostics.error("BAR of '\(device.name)' (\(bar.summary)) does not fit the \(window.what) of '\(host.name)' \(formatRange(window.base, window.size)): its functions need \(hex(need)) bytes", at: address.location)
                }
            }
        }
    }

    /// Bytes from `base` that BARs of `sizes` take when placed largest first, each naturally
    /// aligned (how firmware assigns them; for powers of two this packs without gaps).
    private func packedSize(_ sizes: [UInt64], base: UInt64) -> UInt64 {
        var address = base
        for size in sizes.sorted(by: >) {
            let (padded, overflow) = address.addingReportingOverflow(size - 1)
            let (end, overflowEnd) = (padded & ~(size - 1)).addingReportingOverflow(size)
            if overflow || overflowEnd { return UInt64.max }
            address = end
        }
        return address - base
    }
}
