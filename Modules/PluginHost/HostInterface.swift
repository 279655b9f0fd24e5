import CBackplane
import Foundation
import QPP

/// The C host interface (`bp_host` and its per-bus sub-interfaces) one host hands to every
/// plugin. The tables live at fixed addresses for the host's lifetime; each function finds
/// its Swift object from the opaque handle it is given (plugin, device, timer, callback).
final class HostInterface {
    /// The table for plugins built against 1.1 or later.
    let host: UnsafeMutablePointer<bp_host>
    /// The table for plugins built against 1.0: the same, with `usb` and `instrument` NULL as
    /// the 1.0 header promised (it declared both members `const void *`, reserved).
    let host10: UnsafeMutablePointer<bp_host>
    private let instrument: UnsafeMutablePointer<bp_instrument_interface>
    private let log: UnsafeMutablePointer<bp_log_interface>
    private let platform: UnsafeMutablePointer<bp_platform_interface>
    private let pci: UnsafeMutablePointer<bp_pci_interface>
    private let time: UnsafeMutablePointer<bp_time_interface>
    private let qpp: UnsafeMutablePointer<bp_qpp_interface>
    private let usb: UnsafeMutablePointer<bp_usb_interface>
    private let snapshot: UnsafeMutablePointer<bp_snapshot_interface>
    private let external: UnsafeMutablePointer<bp_external_interface>

    init() {
        log = .allocate(capacity: 1)
        log.initialize(to: HostInterface.makeLog())
        platform = .allocate(capacity: 1)
        platform.initialize(to: HostInterface.makePlatform())
        pci = .allocate(capacity: 1)
        pci.initialize(to: HostInterface.makePCI())
        time = .allocate(capacity: 1)
        time.initialize(to: HostInterface.makeTime())
        qpp = .allocate(capacity: 1)
        qpp.initialize(to: HostInterface.makeQPP())
        usb = .allocate(capacity: 1)
        usb.initialize(to: HostInterface.makeUSB())
        instrument = .allocate(capacity: 1)
        instrument.initialize(to: HostInterface.makeInstrument())
        snapshot = .allocate(capacity: 1)
        snapshot.initialize(to: HostInterface.makeSnapshot())
        external = .allocate(capacity: 1)
        external.initialize(to: HostInterface.makeExternal())
        var table = bp_host()
        table.struct_size = UInt32(MemoryLayout<bp_host>.size)
        table.abi_major = UInt16(BP_ABI_MAJOR)
        table.abi_minor = UInt16(BP_ABI_MINOR)
        table.set_error = { handle, message in
            LoadedPlugin.from(handle, in: "set_error")?.record(message.map { String(cString: $0) } ?? "(no message)")
        }
        table.plugin_name = { handle in UnsafePointer(LoadedPlugin.from(handle, in: "plugin_name")?.cName) }
        table.log = UnsafePointer(log)
        table.platform = UnsafePointer(platform)
        table.pci = UnsafePointer(pci)
        table.time = UnsafePointer(time)
        table.qpp = UnsafePointer(qpp)
        // ABI 1.2: any thread.
        table.wake = { handle, fire, opaque in
            guard let fire, let plugin = PluginHandles.shared.resolve(handle, .plugin, as: LoadedPlugin.self, in: "wake") else { return BP_ERR_INVALID }
            return plugin.host.wakes.enqueue(fire, opaque, plugin: plugin.identity)
        }
        // ABI 1.3.
        table.snapshot = UnsafePointer(snapshot)
        // ABI 1.4.
        table.external = UnsafePointer(external)
        // A plugin built against 1.0 sees its reserved members NULL, as its header promised.
        table.usb = nil
        table.instrument = nil
        host10 = .allocate(capacity: 1)
        host10.initialize(to: table)
        table.usb = UnsafePointer(usb)
        table.instrument = UnsafePointer(instrument)
        host = .allocate(capacity: 1)
        host.initialize(to: table)
    }

    /// The table a plugin built against minor version `minor` of major 1 receives.
    func host(forMinor minor: Int) -> UnsafeMutablePointer<bp_host> { minor >= 1 ? host : host10 }

    deinit {
        host.deallocate()
        host10.deallocate()
        instrument.deallocate()
        log.deallocate()
        platform.deallocate()
        pci.deallocate()
        time.deallocate()
        qpp.deallocate()
        usb.deallocate()
        snapshot.deallocate()
        external.deallocate()
    }

    private static func makeExternal() -> bp_external_interface {
        var table = bp_external_interface()
        table.struct_size = UInt32(MemoryLayout<bp_external_interface>.size)
        table.mode = { handle in LoadedPlugin.from(handle, in: "external->mode")?.host.externalMode.rawValue ?? BP_ERR_INVALID }
        table.channel_new = { handle, name, deliver, opaque in
            guard let plugin = LoadedPlugin.from(handle, in: "external->channel_new"),
                  MachineThread.check(plugin.host, plugin: plugin.identity, function: "external->channel_new") else { return nil }
            guard let name, let deliver else {
                plugin.identity.refuse("external->channel_new: \(name == nil ? "name" : "deliver") is NULL; refused")
                return nil
            }
            switch plugin.host.externalInputs.open(name: String(cString: name), plugin: plugin, deliver: deliver, opaque: opaque) {
            case .success(let channel): return channel.handle
            case .failure(let error):
                plugin.identity.refuse("external->channel_new: \(error.message); refused")
                return nil
            }
        }
        // Any thread: the handle is checked, not the thread.
        table.submit = { handle, data, length in
            guard let channel = PluginHandles.shared.resolve(handle, .external, as: PluginExternalChannel.self, in: "external->submit") else {
                return BP_ERR_INVALID
            }
            guard length <= PluginExternalInputs.largestInput, data != nil || length == 0 else {
                channel.plugin.identity.refuse(data == nil
                    ? "external->submit: NULL data with length \(length); refused with BP_ERR_INVALID"
                    : "external->submit: \(length) bytes is more than one input's \(PluginExternalInputs.largestInput); refused with BP_ERR_INVALID")
                return BP_ERR_INVALID
            }
            let bytes = length == 0 ? [] : Array(UnsafeRawBufferPointer(start: data, count: length))
            return channel.plugin.host.externalInputs.submit(channel, bytes: bytes)
        }
        table.channel_free = { handle in
            guard let channel = PluginExternalChannel.from(handle, in: "external->channel_free") else { return }
            channel.plugin.host.externalInputs.close(channel)
        }
        return table
    }

    private static func makeLog() -> bp_log_interface {
        var table = bp_log_interface()
        table.struct_size = UInt32(MemoryLayout<bp_log_interface>.size)
        table.message = { handle, level, text in
            guard let plugin = LoadedPlugin.from(handle, in: "log->message") else { return }
            plugin.log(level, text.map { String(cString: $0) } ?? "")
        }
        return table
    }

    private static func makePlatform() -> bp_platform_interface {
        var table = bp_platform_interface()
        table.struct_size = UInt32(MemoryLayout<bp_platform_interface>.size)
        table.register_type = { handle, type in
            guard let plugin = LoadedPlugin.from(handle, in: "platform->register_type"), let type else { return BP_ERR_INVALID }
            let copy = copyVersioned(UnsafeRawPointer(type), as: bp_platform_device_type.self, zero: bp_platform_device_type())
            return plugin.host.register(platform: copy, by: plugin)
        }
        table.set_irq = { handle, index, level in
            PluginPlatformDevice.call(handle, in: "platform->set_irq") { device in
                guard Int(index) < device.irqs.count else {
                    device.type.plugin.identity.refuse("platform->set_irq: device '\(device.name)' has \(device.irqs.count) IRQ lines, no line \(index); refused with BP_ERR_INVALID")
                    return BP_ERR_INVALID
                }
                device.irqs[Int(index)].set(level)
                return BP_OK
            }
        }
        table.irq_count = { handle in UInt32(PluginPlatformDevice.from(handle, in: "platform->irq_count")?.irqs.count ?? 0) }
        table.base = { handle in PluginPlatformDevice.from(handle, in: "platform->base")?.base ?? 0 }
        table.size = { handle in PluginPlatformDevice.from(handle, in: "platform->size")?.size ?? 0 }
        table.device_name = { handle in UnsafePointer(PluginPlatformDevice.from(handle, in: "platform->device_name")?.cName) }
        // ABI 1.2.
        table.dma_read = { handle, address, buffer, length in
            PluginPlatformDevice.call(handle, in: "platform->dma_read") { $0.dma(read: address, into: buffer, length: length) }
        }
        table.dma_write = { handle, address, buffer, length in
            PluginPlatformDevice.call(handle, in: "platform->dma_write") {
                $0.dma(write: address, from: UnsafeMutableRawPointer(mutating: buffer), length: length)
            }
        }
        table.dma_readv = { handle, segments, count, buffer, transferred in
            PluginPlatformDevice.call(handle, in: "platform->dma_readv") {
                $0.dma(segments: segments, count: count, buffer: buffer, write: false, transferred: transferred)
            }
        }
        table.dma_writev = { handle, segments, count, buffer, transferred in
            PluginPlatformDevice.call(handle, in: "platform->dma_writev") {
                $0.dma(segments: segments, count: count, buffer: UnsafeMutableRawPointer(mutating: buffer), write: true, transferred: transferred)
            }
        }
        return table
    }

    private static func makePCI() -> bp_pci_interface {
        var table = bp_pci_interface()
        table.struct_size = UInt32(MemoryLayout<bp_pci_interface>.size)
        table.register_type = { handle, type in
            guard let plugin = LoadedPlugin.from(handle, in: "pci->register_type"), let type else { return BP_ERR_INVALID }
            let copy = copyVersioned(UnsafeRawPointer(type), as: bp_pci_device_type.self, zero: bp_pci_device_type())
            return plugin.host.register(pci: copy, by: plugin)
        }
        table.dma_read = { handle, address, buffer, length in
            PluginPCIFunction.call(handle, in: "pci->dma_read") { $0.dma(read: address, into: buffer, length: length) }
        }
        table.dma_write = { handle, address, buffer, length in
            PluginPCIFunction.call(handle, in: "pci->dma_write") { $0.dma(write: address, from: buffer, length: length) }
        }
        table.set_intx = { handle, level in PluginPCIFunction.from(handle, in: "pci->set_intx")?.bus.setINTx(level) }
        table.msi_enabled = { handle in PluginPCIFunction.from(handle, in: "pci->msi_enabled")?.msi?.isEnabled ?? false }
        table.msix_enabled = { handle in PluginPCIFunction.from(handle, in: "pci->msix_enabled")?.msix?.isEnabled ?? false }
        table.msi_notify = { handle, vector in
            PluginPCIFunction.call(handle, in: "pci->msi_notify") { $0.msiNotify(vector: vector) }
        }
        table.msix_notify = { handle, vector in
            PluginPCIFunction.call(handle, in: "pci->msix_notify") { $0.msixNotify(vector: vector) }
        }
        table.bar_memory = { handle, bar in PluginPCIFunction.from(handle, in: "pci->bar_memory")?.barMemory(Int(bar)) }
        table.device_name = { handle in UnsafePointer(PluginPCIFunction.from(handle, in: "pci->device_name")?.cName) }
        // ABI 1.2.
        table.dma_readv = { handle, segments, count, buffer, transferred in
            PluginPCIFunction.call(handle, in: "pci->dma_readv") {
                $0.dma(segments: segments, count: count, buffer: buffer, write: false, transferred: transferred)
            }
        }
        table.dma_writev = { handle, segments, count, buffer, transferred in
            PluginPCIFunction.call(handle, in: "pci->dma_writev") {
                $0.dma(segments: segments, count: count, buffer: UnsafeMutableRawPointer(mutating: buffer), write: true, transferred: transferred)
            }
        }
        table.command = { handle in PluginPCIFunction.from(handle, in: "pci->command")?.config.command.rawValue ?? 0 }
        table.vector_masked = { handle, vector in
            guard let function = PluginPCIFunction.from(handle, in: "pci->vector_masked") else { return false }
            function.fixShape()
            guard let msix = function.msix else { return false }
            if vector == UInt32.max { return msix.isFunctionMasked }
            return Int(vector) < msix.vectors && (msix.isFunctionMasked || msix.isMasked(Int(vector)))
        }
        table.set_bar_size = { handle, bar, size in
            PluginPCIFunction.call(handle, in: "pci->set_bar_size") { $0.setBARSize(bar, size) }
        }
        table.set_msix_vectors = { handle, vectors in
            PluginPCIFunction.call(handle, in: "pci->set_msix_vectors") { $0.setMSIXVectors(vectors) }
        }
        return table
    }

    private static func makeTime() -> bp_time_interface {
        var table = bp_time_interface()
        table.struct_size = UInt32(MemoryLayout<bp_time_interface>.size)
        table.now_ns = { handle in LoadedPlugin.from(handle, in: "time->now_ns")?.host.timers.now() ?? 0 }
        table.timer_new = { handle, fire, opaque in
            guard let plugin = LoadedPlugin.from(handle, in: "time->timer_new"), let fire,
                  MachineThread.check(plugin.host, plugin: plugin.identity, function: "time->timer_new") else { return nil }
            let host = plugin.host
            let timer = PluginTimer(fire: fire, opaque: opaque, queue: host.timers, plugin: plugin)
            host.timers.add(timer)
            return timer.handle
        }
        table.timer_start = { handle, delay, period in
            PluginTimer.call(handle, in: "time->timer_start") { timer in
                timer.queue.start(timer, delay: delay, period: period)
                return BP_OK
            }
        }
        table.timer_stop = { handle in PluginTimer.from(handle, in: "time->timer_stop")?.active = false }
        table.timer_pending = { handle in PluginTimer.from(handle, in: "time->timer_pending")?.active ?? false }
        table.timer_free = { handle in
            guard let timer = PluginTimer.from(handle, in: "time->timer_free") else { return }
            timer.queue.remove(timer)
        }
        return table
    }

    private static func makeQPP() -> bp_qpp_interface {
        var table = bp_qpp_interface()
        table.struct_size = UInt32(MemoryLayout<bp_qpp_interface>.size)
        table.export_function = { handle, name, function, signature in
            guard let plugin = LoadedPlugin.from(handle, in: "qpp"), let name, let function else { return BP_ERR_INVALID }
            do throws(QPPError) {
                try plugin.host.qpp.export(plugin: plugin.name, name: String(cString: name),
                                           function: unsafeBitCast(function, to: UnsafeRawPointer.self),
                                           signature: signature.map { String(cString: $0) } ?? "")
                return BP_OK
            } catch {
                plugin.log(BP_LOG_ERROR, error.description)
                return BP_ERR_EXISTS
            }
        }
        table.import_function = { handle, target, name, signature, result in
            result?.pointee = nil
            guard let plugin = LoadedPlugin.from(handle, in: "qpp"), let target, let name else { return BP_ERR_INVALID }
            do throws(QPPError) {
                let pointer = try plugin.host.qpp.importFunction(by: plugin.name, from: String(cString: target), name: String(cString: name),
                                                                 signature: signature.map { String(cString: $0) })
                result?.pointee = unsafeBitCast(pointer, to: bp_qpp_fn.self)
                return BP_OK
            } catch {
                if plugin.qppError == nil { plugin.qppError = error }
                switch error {
                case .notUsed: return BP_ERR_NOT_USED
                case .signatureMismatch: return BP_ERR_SIGNATURE
                default: return BP_ERR_NOT_FOUND
                }
            }
        }
        table.create_callback = { handle, name in
            guard let plugin = LoadedPlugin.from(handle, in: "qpp"), let name,
                  let callback = plugin.host.qpp.createCallback(plugin: plugin.name, name: String(cString: name)) else { return nil }
            // The registry keeps the callback alive for the host's lifetime.
            return OpaquePointer(Unmanaged.passUnretained(callback).toOpaque())
        }
        table.run_callback = { handle, evdata in
            guard let handle else { return 0 }
            let callback = Unmanaged<QPPCallback>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
            return UInt32(callback.run(evdata: evdata))
        }
        table.register_callback = { handle, target, name, function, udata in
            guard let plugin = LoadedPlugin.from(handle, in: "qpp"), let target, let name, let function else { return BP_ERR_INVALID }
            do throws(QPPError) {
                let callback = try plugin.host.qpp.callback(for: plugin.name, target: String(cString: target), name: String(cString: name))
                callback.register(plugin: plugin.name, function: function, udata: udata)
                return BP_OK
            } catch {
                plugin.log(BP_LOG_ERROR, error.description)
                if case .notUsed = error { return BP_ERR_NOT_USED }
                return BP_ERR_NOT_FOUND
            }
        }
        table.unregister_callback = { handle, target, name, function in
            guard let plugin = LoadedPlugin.from(handle, in: "qpp"), let target, let name, let function,
                  let callback = try? plugin.host.qpp.callback(for: plugin.name, target: String(cString: target), name: String(cString: name))
            else { return false }
            return callback.unregister(plugin: plugin.name, function: function)
        }
        return table
    }
}
