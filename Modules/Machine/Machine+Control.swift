import Control
import CPU
import Foundation
import Memory
import PCI
import USB

/// The machine's command set (docs/debugging.md): what `--control` clients and GDB's `monitor`
/// run. One place: both front ends call `execute(command:)` on the machine thread between
/// slices, where every device and hart is at rest.
extension Machine {
    /// Listens for control clients at `path` (`--control unix:PATH`).
    public func attachControl(path: String) throws(MachineError) {
        let server: ControlServer
        do throws(ControlError) { server = try ControlServer(path: path) } catch { throw MachineError("\(error)") }
        control = server
        server.start()
    }

    /// GDB's `monitor COMMAND`: the same commands, errors as text.
    func monitor(_ line: String) -> String {
        switch execute(command: line) {
        case .output(let text): return text
        case .failure(let message): return "error: \(message)\n"
        }
    }

    /// Stops listening and removes the socket (end of run).
    public func detachControl() {
        control?.close()
        control = nil
    }

    /// At a slice boundary: serve waiting commands; while paused, wait for more (until
    /// `deadline`). Returns an exit when a command (`quit`) or the deadline ends the run.
    func serveControl(deadline: UInt64?) -> MachineExit? {
        guard let control else { return nil }
        if control.commandPending.load(ordering: .acquiring) {
            control.serve { execute(command: $0) }
        }
        while controlState.paused && !controlState.quit {
            // A GDB client that connects (or interrupts) while the machine is paused here would
            // otherwise wait for its stop reply until someone resumed the machine from the control
            // socket (found by Fuzz/sockets.py). The run loop serves it next, the machine being
            // stopped as GDB expects; GDB then holds the run control, and whatever it does next
            // (continue, step, detach) runs the machine on, so the control pause ends here.
            if let debugger, debugger.stopRequested {
                controlState.paused = false
                return nil
            }
            // Commands wake the wait at once; a debugger is looked for every 20 ms.
            let poll = DispatchTime.now().uptimeNanoseconds + 20_000_000
            control.serve(wait: true, deadline: debugger == nil ? deadline : min(deadline ?? poll, poll)) { execute(command: $0) }
            if let deadline, DispatchTime.now().uptimeNanoseconds >= deadline { return .timeout }
        }
        return controlState.quit ? .userQuit : nil
    }

    /// Runs one command line and says what it produced.
    public func execute(command line: String) -> ControlReply {
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let verb = words.first else { return .failure("empty command") }
        let arguments = Array(words.dropFirst())
        switch verb {
        case "help": return .output(Self.controlHelp)
        case "info": return info(arguments)
        case "pause":
            controlState.paused = true
            return .output("paused\n" + describeHarts())
        case "resume", "continue":
            controlState.paused = false
            return .output("running\n")
        case "step": return step(arguments)
        case "read": return readPhysical(arguments)
        case "write": return writePhysical(arguments)
        case "usb": return usbCommand(arguments)
        case "quit":
            controlState.quit = true
            return .output("quitting\n")
        case "snapshot": return snapshotCommand(arguments)
        default:
            return .failure("unknown command '\(verb)' (try 'help')")
        }
    }

    static let controlHelp = """
        info harts|pci|usb|devices|memory   what the machine has and where its harts are
        pause | resume                      stop or restart the harts (devices keep their state)
        step [N]                            while paused: run each hart N instructions (default 1)
        read ADDR [LEN]                     physical RAM/ROM, LEN bytes (default 16, at most 4096), as hex
        write ADDR HEX                      physical RAM, the bytes HEX spells
        usb attach CTRL/portN TYPE [k=v,..] plug a USB device in (a type `backplane boards` lists)
        usb detach CTRL/portN               unplug it
        snapshot save FILE                  save the machine to FILE (load it with run --snapshot-load FILE)
        quit                                end the run (exit status 0)

        """

    // MARK: info

    private func info(_ arguments: [String]) -> ControlReply {
        switch arguments.first {
        case "harts": return .output(describeHarts())
        case "memory":
            var text = ""
            for region in space.regions.sorted(by: { $0.base < $1.base }) {
                text += "\(hex(region.base, width: 16))-\(hex(region.end &- 1, width: 16)) \(region.kind) \(region.name)\n"
            }
            return .output(text)
        case "devices":
            var text = ""
            for device in board.devices {
                var place = ""
                if let base = device.base { place = " at \(hex(base, width: 8))" }
                if let address = device.pciAddress { place = " at \(address)" }
                if let port = device.usbPort { place = " at \(port)" }
                text += "\(device.name): \(device.type)\(place)\n"
            }
            for (name, place) in hotplugged.sorted(by: { $0.key < $1.key }) { text += "\(name): hot-plugged at \(place)\n" }
            return .output(text)
        case "pci": return .output(describePCI())
        case "usb": return .output(describeUSB())
        default:
            return .failure("info what? harts, pci, usb, devices or memory")
        }
    }

    private func describeHarts() -> String {
        var text = ""
        for (index, hart) in harts.enumerated() {
            let state = hart.state.pointee
            let mode = ["U", "S", "?", "M"][Int(state.privilege & 3)]
            let waiting = state.waitingForInterrupt != 0 ? " wfi" : ""
            text += "hart \(index): pc=\(hex(state.pc, width: 16)) \(mode)-mode\(waiting)\n"
        }
        return text
    }

    private func describePCI() -> String {
        var text = ""
        for device in board.devices {
            guard let address = device.pciAddress, let bridge = pciBuses[address.bus] else { continue }
            let pciAddress = PCIAddress(device: UInt8(address.device), function: UInt8(address.function))
            guard let function = bridge.function(at: pciAddress) else { continue }
            let config = function.config
            text += "\(address) \(device.name): \(hex(UInt64(config.load16(0)), width: 4)):\(hex(UInt64(config.load16(2)), width: 4))"
            text += " command=\(hex(UInt64(config.command.rawValue), width: 4))\n"
            for bar in 0..<6 {
                if let region = bridge.mappedRegion(of: pciAddress, bar: bar) {
                    text += "  BAR\(bar) \(hex(region.base, width: 16)) size \(hex(region.size, width: 1))\n"
                }
            }
        }
        return text
    }

    private func describeUSB() -> String {
        var text = ""
        for (name, controller) in xhciControllers.sorted(by: { $0.key < $1.key }) {
            for port in controller.ports {
                guard let core = port.device else { continue }
                // idVendor and idProduct are bytes 8-11 of the device descriptor (USB 2.0 §9.6.1).
                let descriptor = core.device.descriptors.device
                let vendor = descriptor.count >= 12 ? UInt64(descriptor[8]) | UInt64(descriptor[9]) << 8 : 0
                let product = descriptor.count >= 12 ? UInt64(descriptor[10]) | UInt64(descriptor[11]) << 8 : 0
                text += "\(name)/port\(port.number): \(hex(vendor, width: 4)):\(hex(product, width: 4))"
                text += " \(core.speed) address \(core.address)\n"
            }
        }
        return text
    }

    // MARK: run control

    private func step(_ arguments: [String]) -> ControlReply {
        guard controlState.paused else { return .failure("step: pause the machine first") }
        let count = arguments.first.map { Int($0) } ?? 1
        guard let count, count > 0, count <= 100_000_000 else { return .failure("step: N must be 1...100000000") }
        for hart in harts { _ = runSlice(hart, budget: count) }
        pollDevices()
        return .output(describeHarts())
    }

    // MARK: memory

    private func readPhysical(_ arguments: [String]) -> ControlReply {
        guard let address = arguments.first.flatMap(parseNumber) else { return .failure("read ADDR [LEN]") }
        let length = arguments.count > 1 ? parseNumber(arguments[1]) : 16
        guard let length, length > 0, length <= 4096 else { return .failure("read: LEN must be 1...4096") }
        var bytes: [UInt8] = []
        for offset in 0..<length {
            // RAM and ROM only: reading a device register can change it (a FIFO pops).
            guard let region = space.region(containing: address &+ offset), region.kind == .ram || region.kind == .rom,
                  let value = space.read(address &+ offset, size: 1) else {
                if bytes.isEmpty { return .failure("read: \(hex(address &+ offset, width: 1)) is not RAM or ROM") }
                break
            }
            bytes.append(UInt8(truncatingIfNeeded: value))
        }
        var text = ""
        for row in stride(from: 0, to: bytes.count, by: 16) {
            text += hex(address &+ UInt64(row), width: 16) + ":"
            for byte in bytes[row..<min(row + 16, bytes.count)] { text += " " + hex(UInt64(byte), width: 2) }
            text += "\n"
        }
        return .output(text)
    }

    private func writePhysical(_ arguments: [String]) -> ControlReply {
        guard arguments.count == 2, let address = parseNumber(arguments[0]) else { return .failure("write ADDR HEX") }
        let digits = Array(arguments[1].utf8)
        // Hex digits only: UInt8(_:radix:) alone would take "+f" as 0x0f.
        let isHex = digits.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x66) }
        guard isHex, digits.count % 2 == 0, digits.count <= 8192,
              let bytes = stride(from: 0, to: digits.count, by: 2).map({ UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16) }) as [UInt8?]?,
              !bytes.contains(nil) else {
            return .failure("write: HEX must be an even number of hex digits (at most 4096 bytes)")
        }
        for offset in 0..<UInt64(bytes.count) {
            guard let region = space.region(containing: address &+ offset), region.kind == .ram else {
                return .failure("write: \(hex(address &+ offset, width: 1)) is not RAM; nothing was written")
            }
        }
        // Through the bus, so decoded and translated code there is dropped as after a store.
        for (offset, byte) in bytes.enumerated() { _ = space.write(address &+ UInt64(offset), size: 1, value: UInt64(byte!)) }
        return .output("wrote \(bytes.count) bytes\n")
    }

    // MARK: USB hot-plug

    private func usbCommand(_ arguments: [String]) -> ControlReply {
        guard arguments.count >= 2 else { return .failure("usb attach CTRL/portN TYPE [key=value,...] | usb detach CTRL/portN") }
        let place = arguments[1]
        let parts = place.split(separator: "/")
        guard parts.count == 2, let controller = xhciControllers[String(parts[0])], parts[1].hasPrefix("port"),
              let port = Int(parts[1].dropFirst(4)), port >= 1, port <= controller.ports.count else {
            return .failure("usb: '\(place)' is not CTRL/portN of a USB host controller here (\(xhciControllers.keys.sorted().joined(separator: ", ")))")
        }
        switch arguments[0] {
        case "attach":
            guard arguments.count >= 3 else { return .failure("usb attach CTRL/portN TYPE [key=value,...]") }
            guard controller.ports[port - 1].device == nil else { return .failure("usb attach: \(place) is in use") }
            let type = arguments[2]
            guard let kind = catalog.kind(named: type), kind.spec.usbSpeeds != nil else {
                return .failure("usb attach: '\(type)' is not a USB device type")
            }
            let name = "\(parts[0])-port\(port)-\(type)"
            // The place and the name are the command's: an `at` or `name` among the properties
            // (also after a comma inside one) would plug the device elsewhere than it says.
            for property in arguments.dropFirst(3).flatMap({ $0.split(separator: ",", omittingEmptySubsequences: false) }) {
                let key = property.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
                if key == "at" || key == "name" {
                    return .failure("usb attach: '\(key)' is not a property here: the device goes at \(place) and is named \(name)")
                }
            }
            let extra = arguments.dropFirst(3).joined(separator: ",")
            let text = "\(type),name=\(name),at=\(place)" + (extra.isEmpty ? "" : "," + extra)
            do {
                // The same checks a --device option gets (the option's text, then the board with
                // the device: a `reg` or `irq` a USB device cannot have, a speed it does not
                // support), then the kind builds and plugs it.
                let checked = try board.addingDevice(text, catalog: catalog)
                guard let device = checked.devices.last else { return .failure("usb attach: nothing to attach") }
                try checked.validate(catalog: catalog)
                try kind.build(device, in: self)
            } catch let errors as BoardErrors {
                return .failure("usb attach: " + errors.errors.map(\.message).joined(separator: "; "))
            } catch {
                return .failure("usb attach: \(error)")
            }
            hotplugged[name] = place
            return .output("attached \(type) at \(place)\n")
        case "detach":
            guard controller.ports[port - 1].device != nil else { return .failure("usb detach: nothing at \(place)") }
            controller.detach(port: port)
            hotplugged = hotplugged.filter { $0.value != place }
            return .output("detached \(place)\n")
        default:
            return .failure("usb: attach or detach")
        }
    }

    // MARK: snapshots

    /// `snapshot save FILE` (docs/snapshots.md): between slices, where every hart and device is
    /// at rest. A relative FILE is relative to the machine's working directory.
    private func snapshotCommand(_ arguments: [String]) -> ControlReply {
        guard arguments.first == "save" else {
            if arguments.first == "load" {
                return .failure("snapshot load: a snapshot is loaded when the machine starts (backplane run ... --snapshot-load FILE)")
            }
            return .failure("snapshot save FILE")
        }
        guard arguments.count == 2 else { return .failure("snapshot save FILE (one path, without spaces)") }
        do throws(MachineError) {
            try saveSnapshot(to: arguments[1])
        } catch {
            return .failure("\(error)")
        }
        return .output("saved \(arguments[1])\n")
    }

    // MARK: helpers

    private func parseNumber(_ text: String) -> UInt64? {
        text.hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
    }

    private func hex(_ value: UInt64, width: Int) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}

/// What control commands changed about the run.
struct ControlState {
    var paused = false
    var quit = false
}
