/// `backplane run --device TYPE,key=value,...`: a device added to the board from the command
/// line, for built-in and plugin types alike. Keys: `name` (default TYPE with a number),
/// `at` (PCI address or USB port, as in a board file), `reg` (BASE:SIZE), `irq` (CONTROLLER@SOURCE, may
/// repeat); every other key is a property of the type, checked like a board file's.
extension Board {
    /// A copy with the device `text` describes appended. Call `validate` afterwards. With
    /// `option` (the option's 1-based place among the `--device` options), the device and each of
    /// its keys carry a `SourceLocation(option:column:)`, so that an error found later
    /// (validation, building) names the option and the column of the key at fault.
    public func addingDevice(_ text: String, catalog: DeviceTypeCatalog, option: Int? = nil) throws(MachineError) -> Board {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let prefix = option.map { "--device #\($0) '\(text)'" } ?? "--device '\(text)'"
        func failure(_ reason: String, column: Int = 1) -> MachineError {
            MachineError(option == nil ? "\(prefix): \(reason)" : "\(prefix), column \(column): \(reason)")
        }
        // Without an option (a control-socket hot-plug) there is no place to point at; `reg`
        // still needs a location, which validation reads as "reg was given".
        func place(_ column: Int) -> SourceLocation {
            option.map { SourceLocation(option: $0, column: column) } ?? SourceLocation(line: 0, column: column)
        }
        guard let type = parts.first, !type.isEmpty else { throw failure("no device type") }
        guard let spec = catalog.spec(named: type) else {
            let hint = nearest(type, in: catalog.names).map { "; did you mean '\($0)'?" } ?? ""
            throw failure("unknown device type '\(type)'\(hint)")
        }
        var serial = 0
        while self.device(named: "\(type)\(serial)") != nil { serial += 1 }
        var device = BoardDevice(name: "\(type)\(serial)", type: type)
        if option != nil {
            device.location = place(1)
            device.typeLocation = place(1)
        }
        var column = 1 + type.count + 1  // Where the part after the type's comma starts.
        for part in parts.dropFirst() {
            defer { column += part.count + 1 }
            guard let equals = part.firstIndex(of: "="), equals != part.startIndex else { throw failure("'\(part)' is not key=value", column: column) }
            let key = String(part[..<equals])
            let value = String(part[part.index(after: equals)...])
            switch key {
            case "name":
                device.name = value
            case "at":
                device.atLocation = option.map { _ in place(column) }
                if let port = BoardUSBPort.parse(value, location: device.atLocation) {
                    device.usbPort = port
                    continue
                }
                guard let address = BoardPCIAddress.parse(value, location: device.atLocation) else {
                    throw failure("invalid PCI address '\(value)'; expected BUS/DEVICE.FUNCTION such as 'pcie0/02.0'", column: column)
                }
                device.pciAddress = address
            case "reg":
                let numbers = value.split(separator: ":").map { BoardNumber.parse(String($0), allowSuffix: true) }
                guard numbers.count == 2, case .success(let base) = numbers[0], case .success(let size) = numbers[1] else {
                    throw failure("invalid reg '\(value)'; expected BASE:SIZE such as 0x10002000:0x1000", column: column)
                }
                device.base = base
                device.size = size
                device.regLocation = place(column)
            case "irq":
                let halves = value.split(separator: "@", omittingEmptySubsequences: false)
                guard halves.count == 2, !halves[0].isEmpty, case .success(let source) = BoardNumber.parse(String(halves[1]), allowSuffix: false),
                      source <= UInt64(UInt32.max) else {
                    throw failure("invalid irq '\(value)'; expected CONTROLLER@SOURCE such as 'plic0@12'", column: column)
                }
                device.irqs.append(IRQReference(controller: String(halves[0]), source: UInt32(source),
                                                location: option.map { _ in place(column) }))
            default:
                guard let property = spec.property(named: key) else {
                    let hint = nearest(key, in: spec.properties.map(\.name)).map { "; did you mean '\($0)'?" } ?? ""
                    throw failure("unknown property '\(key)' for device type '\(type)'\(hint)", column: column)
                }
                switch property.parse(value) {
                case .success(let parsed): device.properties[key] = parsed
                case .failure(let error): throw failure(error.description, column: column)
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
