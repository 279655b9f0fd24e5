/// `backplane run --device TYPE,key=value,...`: a device added to the board from the command
/// line, for built-in and plugin types alike. Keys: `name` (default TYPE with a number),
/// `at` (PCI address or USB port, as in a board file), `reg` (BASE:SIZE), `irq` (CONTROLLER@SOURCE, may
/// repeat); every other key is a property of the type, checked like a board file's.
extension Board {
    /// A copy with the device `text` describes appended. Call `validate` afterwards.
    public func addingDevice(_ text: String, catalog: DeviceTypeCatalog) throws(MachineError) -> Board {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        func failure(_ reason: String) -> MachineError { MachineError("--device '\(text)': \(reason)") }
        guard let type = parts.first, !type.isEmpty else { throw failure("no device type") }
        guard let spec = catalog.spec(named: type) else {
            let hint = nearest(type, in: catalog.names).map { "; did you mean '\($0)'?" } ?? ""
            throw failure("unknown device type '\(type)'\(hint)")
        }
        var serial = 0
        while self.device(named: "\(type)\(serial)") != nil { serial += 1 }
        var device = BoardDevice(name: "\(type)\(serial)", type: type)
        for part in parts.dropFirst() {
            guard let equals = part.firstIndex(of: "="), equals != part.startIndex else { throw failure("'\(part)' is not key=value") }
            let key = String(part[..<equals])
            let value = String(part[part.index(after: equals)...])
            switch key {
            case "name":
                device.name = value
            case "at":
                if let port = BoardUSBPort.parse(value) {
                    device.usbPort = port
                    continue
                }
                guard let address = BoardPCIAddress.parse(value) else {
                    throw failure("invalid PCI address '\(value)'; expected BUS/DEVICE.FUNCTION such as 'pcie0/02.0'")
                }
                device.pciAddress = address
            case "reg":
                let numbers = value.split(separator: ":").map { BoardNumber.parse(String($0), allowSuffix: true) }
                guard numbers.count == 2, case .success(let base) = numbers[0], case .success(let size) = numbers[1] else {
                    throw failure("invalid reg '\(value)'; expected BASE:SIZE such as 0x10002000:0x1000")
                }
                device.base = base
                device.size = size
                device.regLocation = SourceLocation(line: 0, column: 0)
            case "irq":
                let halves = value.split(separator: "@", omittingEmptySubsequences: false)
                guard halves.count == 2, !halves[0].isEmpty, case .success(let source) = BoardNumber.parse(String(halves[1]), allowSuffix: false),
                      source <= UInt64(UInt32.max) else {
                    throw failure("invalid irq '\(value)'; expected CONTROLLER@SOURCE such as 'plic0@12'")
                }
                device.irqs.append(IRQReference(controller: String(halves[0]), source: UInt32(source)))
            default:
                guard let property = spec.property(named: key) else {
                    let hint = nearest(key, in: spec.properties.map(\.name)).map { "; did you mean '\($0)'?" } ?? ""
                    throw failure("unknown property '\(key)' for device type '\(type)'\(hint)")
                }
                switch property.parse(value) {
                case .success(let parsed): device.properties[key] = parsed
                case .failure(let error): throw failure(error.description)
                }
            }
        }
        for property in spec.properties where device.properties[property.name] == nil {
            guard let defaultValue = property.defaultValue else { throw failure("missing required property '\(property.name)'") }
            device.properties[property.name] = defaultValue
        }
        var board = self
        board.devices.append(device)
        return board
    }
}
