import CPU
import IRQ
import Memory

/// Building the Advanced Interrupt Architecture devices of a board (RISC-V AIA 1.0): IMSIC
/// interrupt files, attached to the harts' Smaia/Ssaia CSRs, and APLIC domains.
extension Machine {
    /// Device types `instantiateAIA()` builds.
    static let aiaTypes: Set<String> = ["imsic", "aplic"]

    /// The wired interrupt controller called `name` (a PLIC or an APLIC domain), for `IRQLine`s.
    func interruptController(named name: String) -> (any InterruptController)? {
        if let plic = plics[name] { return plic }
        return aplics[name]
    }

    /// Builds every `imsic` and `aplic` of the (validated) board, before the devices that take
    /// IRQ lines into them. Root APLIC domains are built before their children.
    func instantiateAIA() throws(MachineError) {
        var machineFiles: [IMSICFile]? = nil
        var supervisorFiles: [IMSICFile]? = nil
        for device in board.devices where device.type == "imsic" {
            let level = board.imsicLevel(device) ?? .machine
            let imsic: IMSIC
            do { imsic = try IMSIC(harts: harts, level: level, identityCount: Int(device.integer("num-ids") ?? 255)) }
            catch { throw MachineError("\(board.sourcePath):\(device.sourceLine): device '\(device.name)': \(error)") }
            imsics[device.name] = imsic
            if level == .machine { machineFiles = imsic.files } else { supervisorFiles = imsic.files }
            // Only the pages of the harts that exist; the rest of the window stays unmapped.
            try mapAIA(device, imsic, size: imsic.regionSize)
        }
        if machineFiles != nil || supervisorFiles != nil {
            for (index, hart) in harts.enumerated() {
                hart.interruptFile = IMSICHart(machine: machineFiles?[index], supervisor: supervisorFiles?[index])
            }
        }
        let domains = board.devices.filter { $0.type == "aplic" }
        for device in domains.filter({ board.aplicParent($0) == nil }) + domains.filter({ board.aplicParent($0) != nil }) {
            let aplic: APLIC
            do {
                aplic = try APLIC(level: board.aplicLevel(device), deliveryMode: board.aplicDelivery(device) ?? .direct,
                                  sourceCount: Int(device.integer("sources") ?? 96), harts: harts, bus: space)
                if let parent = board.aplicParent(device), let parentDomain = aplics[parent.name] {
                    try parentDomain.addChild(aplic)
                }
            } catch {
                throw MachineError("\(board.sourcePath):\(device.sourceLine): device '\(device.name)': \(error)")
            }
            aplics[device.name] = aplic
            try mapAIA(device, aplic, size: device.size)
        }
    }

    private func mapAIA(_ device: BoardDevice, _ mmio: any MMIODevice, size: UInt64?) throws(MachineError) {
        guard let base = device.base, let size else { return }
        do { try space.mapMMIO(name: device.name, base: base, size: size, device: mmio) }
        catch { throw MachineError("\(board.sourcePath):\(device.sourceLine): \(error)") }
    }
}
