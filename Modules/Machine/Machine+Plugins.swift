import IRQ
import Memory
import PCI
import PluginHost

/// Plugin device types in the board catalog and their instances in the machine
/// (docs/plugins.md). A plugin type is a catalog entry like a built-in one, so board files,
/// `--device`, validation and the device tree treat both alike.
extension DeviceTypeCatalog {
    /// This catalog plus every device type the plugins of `host` registered.
    /// - Throws: when a plugin type reuses a built-in name or declares a default that does
    ///   not parse.
    public func registering(pluginTypes host: PluginHost) throws(MachineError) -> DeviceTypeCatalog {
        var catalog = self
        func check(_ name: String, _ plugin: LoadedPlugin) throws(MachineError) {
            if spec(named: name) != nil {
                throw MachineError("plugin '\(plugin.name)' registers device type '\(name)', which is a built-in type")
            }
        }
        for type in host.pciTypes {
            try check(type.name, type.plugin)
            catalog = catalog.registering(DeviceTypeSpec(
                name: type.name, summary: type.summary, registers: .pciFunction(bars: type.declaredBARs),
                properties: try Self.properties(type.properties, type: type.name, plugin: type.plugin),
                nodeName: type.name, compatible: [], placement: .omitted))
        }
        for type in host.platformTypes {
            try check(type.name, type.plugin)
            catalog = catalog.registering(DeviceTypeSpec(
                name: type.name, summary: type.summary,
                registers: .required(minimumSize: type.minimumSize, pageAligned: false),
                irqCount: type.irqCount,
                properties: try Self.properties(type.properties, type: type.name, plugin: type.plugin),
                nodeName: type.nodeName, compatible: [type.compatible], placement: .soc))
        }
        for type in host.usbTypes {
            try check(type.name, type.plugin)
            // Like the built-in USB types: placed with `at: xhci0/portN`, no node (the guest
            // enumerates the bus), and the host's `speed` property unless the plugin has one.
            var properties = try Self.properties(type.properties, type: type.name, plugin: type.plugin)
            if !properties.contains(where: { $0.name == USBDeviceTypes.speedProperty.name }) { properties.append(USBDeviceTypes.speedProperty) }
            catalog = catalog.registering(DeviceTypeSpec(
                name: type.name, summary: type.summary, registers: .none, properties: properties,
                nodeName: type.name, compatible: [], placement: .omitted, usbSpeeds: type.speeds))
        }
        return catalog
    }

    private static func properties(_ properties: [PluginProperty], type: String, plugin: LoadedPlugin) throws(MachineError) -> [DevicePropertySpec] {
        var specs: [DevicePropertySpec] = []
        for property in properties {
            let kind: DevicePropertySpec.Kind
            var defaultValue: BoardValue?
            switch property.kind {
            case .integer:
                kind = .integer(0...UInt64.max)
                if let text = property.defaultValue {
                    guard case .success(let number) = BoardNumber.parse(text, allowSuffix: false) else {
                        throw MachineError("plugin '\(plugin.name)': device type '\(type)': default '\(text)' of integer property '\(property.name)' is not a number")
                    }
                    defaultValue = .integer(number)
                }
            case .string:
                kind = .string
                defaultValue = property.defaultValue.map { .string($0) }
            case .boolean:
                kind = .boolean
                defaultValue = property.defaultValue.map { .boolean(["true", "yes", "on", "1"].contains($0.lowercased())) }
            }
            specs.append(DevicePropertySpec(name: property.name, kind: kind, defaultValue: defaultValue, summary: property.summary))
        }
        return specs
    }
}

extension Machine {
    /// The properties of `device` as plugin arguments, in the order the type declares them.
    private func pluginArguments(_ device: BoardDevice, _ declared: [PluginProperty]) -> [(key: String, value: String)] {
        declared.compactMap { property in
            guard let value = device.properties[property.name] else { return nil }
            switch value {
            case .integer(let number): return (property.name, String(number))
            case .string(let text): return (property.name, text)
            case .boolean(let flag): return (property.name, flag ? "true" : "false")
            }
        }
    }

    /// Builds `device` if a plugin registered its platform type; false if none did.
    func instantiatePluginDevice(_ device: BoardDevice) throws(MachineError) -> Bool {
        guard let host = plugins, let type = host.platformType(named: device.type),
              let base = device.base, let size = device.size else { return false }
        var lines: [IRQLine] = []
        for irq in device.irqs {
            guard let controller = interruptController(named: irq.controller) else {
                throw MachineError("\(board.sourcePath):\(device.sourceLine): device '\(device.name)': '\(irq.controller)' cannot take interrupts")
            }
            lines.append(IRQLine(controller: controller, source: Int(irq.source)))
        }
        do {
            let instance = try host.createPlatformDevice(type: type, device: device.name, properties: pluginArguments(device, type.properties),
                                                         base: base, size: size, irqs: lines)
            try map(device, instance)
        } catch let error as MachineError {
            throw error
        } catch {
            throw MachineError("\(board.sourcePath):\(device.sourceLine): \(error)")
        }
        return true
    }

    /// A new instance of `device`'s type if a plugin registered it as a USB type; nil if none did.
    func createPluginUSBDevice(_ device: BoardDevice) throws(PluginError) -> PluginUSBDevice? {
        guard let host = plugins, let type = host.usbType(named: device.type) else { return nil }
        return try host.createUSBDevice(type: type, device: device.name, properties: pluginArguments(device, type.properties))
    }

    /// Attaches `device` at `slot` of `bridge` if a plugin registered its PCI type; false if none did.
    func attachPluginFunction(_ device: BoardDevice, bridge: PCIHostBridge, slot: PCIAddress) throws -> Bool {
        guard let host = plugins, let type = host.pciType(named: device.type) else { return false }
        let arguments = pluginArguments(device, type.properties)
        try bridge.attach(at: slot) { bus in try host.createPCIFunction(type: type, device: device.name, properties: arguments, bus: bus) }
        return true
    }
}
