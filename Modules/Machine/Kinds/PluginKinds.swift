import DeviceTree
import IRQ
import PCI
import PluginHost
import USB

/// Plugin device types as device kinds (docs/plugins.md): the same kind of value as a built-in
/// type, made from the C descriptor a plugin registered, so board files, `--device`,
/// validation, the device tree and the machine treat both alike.
///
/// A plugin type is fixed once its plugin's `install` returns and the machine uses it on its
/// one thread; that is why these kinds may be `@unchecked Sendable` although the descriptors
/// are classes.
public struct PluginPlatformKind: DeviceKind, @unchecked Sendable {
    public let spec: DeviceTypeSpec
    let type: PluginPlatformType
    let host: PluginHost

    init(_ type: PluginPlatformType, host: PluginHost) throws(MachineError) {
        self.type = type
        self.host = host
        spec = DeviceTypeSpec(
            name: type.name, summary: type.summary,
            registers: .required(minimumSize: type.minimumSize, pageAligned: false),
            irqCount: type.irqCount,
            properties: try pluginProperties(type.properties, type: type.name, plugin: type.plugin),
            nodeName: type.nodeName, compatible: [type.compatible], placement: .soc)
    }

    public func build(_ device: BoardDevice, in machine: Machine) throws {
        guard let base = device.base, let size = device.size else { return }
        let instance = try host.createPlatformDevice(type: type, device: device.name, properties: pluginArguments(device, type.properties),
                                                     base: base, size: size, irqs: try machine.irqLines(of: device),
                                                     memory: machine.space)
        try machine.map(device, instance)
        machine.manage(instance)
    }
}

/// A plugin's PCI function type (`pci->register_type`); its host bridge resets it.
public struct PluginPCIKind: DeviceKind, @unchecked Sendable {
    public let spec: DeviceTypeSpec
    let type: PluginPCIType
    let host: PluginHost

    init(_ type: PluginPCIType, host: PluginHost) throws(MachineError) {
        self.type = type
        self.host = host
        spec = DeviceTypeSpec(
            name: type.name, summary: type.summary, registers: .pciFunction(bars: type.declaredBARs),
            properties: try pluginProperties(type.properties, type: type.name, plugin: type.plugin),
            nodeName: type.name, compatible: [], placement: .omitted)
    }

    public func build(_ device: BoardDevice, in machine: Machine) throws {
        let arguments = pluginArguments(device, type.properties)
        let function = try machine.attachPCI(device) { bus in try host.createPCIFunction(type: type, device: device.name, properties: arguments, bus: bus) }
        // Its host bridge resets it; the lifecycle saves its state through the plugin's hooks.
        machine.manage(host.snapshotParticipant(for: function))
    }
}

/// A plugin's USB device type (`usb->register_type`); the controller resets it with its port.
public struct PluginUSBKind: DeviceKind, @unchecked Sendable {
    public let spec: DeviceTypeSpec
    let type: PluginUSBType
    let host: PluginHost

    init(_ type: PluginUSBType, host: PluginHost) throws(MachineError) {
        self.type = type
        self.host = host
        // Like the built-in USB types: placed with `at: xhci0/portN`, no node (the guest
        // enumerates the bus), and the host's `speed` property unless the plugin has one.
        var properties = try pluginProperties(type.properties, type: type.name, plugin: type.plugin)
        if !properties.contains(where: { $0.name == DevicePropertySpec.usbSpeed.name }) { properties.append(.usbSpeed) }
        spec = DeviceTypeSpec(name: type.name, summary: type.summary, registers: .none, properties: properties,
                              nodeName: type.name, compatible: [], placement: .omitted, usbSpeeds: type.speeds)
    }

    public func build(_ device: BoardDevice, in machine: Machine) throws {
        let usb = try host.createUSBDevice(type: type, device: device.name, properties: pluginArguments(device, type.properties))
        let core = try machine.plugUSB(usb, for: device)
        usb.attached(at: core.speed)
        machine.manage(host.snapshotParticipant(for: usb))
    }
}

extension DeviceTypeCatalog {
    /// This catalog plus every device type the plugins of `host` registered.
    /// - Throws: when a plugin type reuses a built-in name or declares a default that does
    ///   not parse.
    public func registering(pluginTypes host: PluginHost) throws(MachineError) -> DeviceTypeCatalog {
        var catalog = self
        func add(_ kind: any DeviceKind, _ plugin: LoadedPlugin) throws(MachineError) {
            if catalog.kind(named: kind.spec.name) != nil {
                throw MachineError("plugin '\(plugin.name)' registers device type '\(kind.spec.name)', which is a built-in type")
            }
            catalog = catalog.registering(kind)
        }
        for type in host.pciTypes { try add(try PluginPCIKind(type, host: host), type.plugin) }
        for type in host.platformTypes { try add(try PluginPlatformKind(type, host: host), type.plugin) }
        for type in host.usbTypes { try add(try PluginUSBKind(type, host: host), type.plugin) }
        return catalog
    }
}

/// The catalog's property specs of a plugin type's declared properties.
private func pluginProperties(_ properties: [PluginProperty], type: String, plugin: LoadedPlugin) throws(MachineError) -> [DevicePropertySpec] {
    var specs: [DevicePropertySpec] = []
    for property in properties {
        let kind: DevicePropertySpec.Kind
        switch property.kind {
        case .integer: kind = .integer(0...UInt64.max)
        case .string: kind = .string
        case .boolean: kind = .boolean
        }
        var spec = DevicePropertySpec(name: property.name, kind: kind, defaultValue: nil, summary: property.summary)
        // The default is read by the parser board files use, so a plugin's "1" or "maybe" is an
        // error at load time instead of a silent false.
        if let text = property.defaultValue {
            switch spec.parse(text) {
            case .success(let value):
                spec = DevicePropertySpec(name: property.name, kind: kind, defaultValue: value, summary: property.summary)
            case .failure(let error):
                throw MachineError("plugin '\(plugin.name)': device type '\(type)': default: \(error)")
            }
        }
        specs.append(spec)
    }
    return specs
}

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
