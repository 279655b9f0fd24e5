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
        var table = bp_host()
        table.struct_size = UInt32(MemoryLayout<bp_host>.size)
        table.abi_major = UInt16(BP_ABI_MAJOR)
        table.abi_minor = UInt16(BP_ABI_MINOR)
        table.set_error = { handle, message in
            LoadedPlugin.from(handle)?.record(message.map { String(cString: $0) } ?? "(no message)")
        }
        table.plugin_name = { handle in UnsafePointer(LoadedPlugin.from(handle)?.cName) }
        table.log = UnsafePointer(log)
        table.platform = UnsafePointer(platform)
        table.pci = UnsafePointer(pci)
        table.time = UnsafePointer(time)
        table.qpp = UnsafePointer(qpp)
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
    }

    private static func makeLog() -> bp_log_interface {
        var table = bp_log_interface()
        table.struct_size = UInt32(MemoryLayout<bp_log_interface>.size)
        table.message = { handle, level, text in
            guard let plugin = LoadedPlugin.from(handle) else { return }
            plugin.log(level, text.map { String(cString: $0) } ?? "")
        }
        return table
    }

    private static func makePlatform() -> bp_platform_interface {
        var table = bp_platform_interface()
        table.struct_size = UInt32(MemoryLayout<bp_platform_interface>.size)
        table.register_type = { handle, type in
            guard let plugin = LoadedPlugin.from(handle), let type else { return BP_ERR_INVALID }
            let copy = copyVersioned(UnsafeRawPointer(type), as: bp_platform_device_type.self, zero: bp_platform_device_type())
            return plugin.host.register(platform: copy, by: plugin)
        }
        table.set_irq = { handle, index, level in
            guard let device = PluginPlatformDevice.from(handle), Int(index) < device.irqs.count else { return BP_ERR_INVALID }
            device.irqs[Int(index)].set(level)
            return BP_OK
        }
        table.irq_count = { handle in UInt32(PluginPlatformDevice.from(handle)?.irqs.count ?? 0) }
        table.base = { handle in PluginPlatformDevice.from(handle)?.base ?? 0 }
        table.size = { handle in PluginPlatformDevice.from(handle)?.size ?? 0 }
        table.device_name = { handle in UnsafePointer(PluginPlatformDevice.from(handle)?.cName) }
        return table
    }

    private static func makePCI() -> bp_pci_interface {
        var table = bp_pci_interface()
        table.struct_size = UInt32(MemoryLayout<bp_pci_interface>.size)
        table.register_type = { handle, type in
            guard let plugin = LoadedPlugin.from(handle), let type else { return BP_ERR_INVALID }
            let copy = copyVersioned(UnsafeRawPointer(type), as: bp_pci_device_type.self, zero: bp_pci_device_type())
            return plugin.host.register(pci: copy, by: plugin)
        }
        table.dma_read = { handle, address, buffer, length in
            PluginPCIFunction.from(handle)?.dma(read: address, into: buffer, length: length) ?? BP_ERR_INVALID
        }
        table.dma_write = { handle, address, buffer, length in
            PluginPCIFunction.from(handle)?.dma(write: address, from: buffer, length: length) ?? BP_ERR_INVALID
        }
        table.set_intx = { handle, level in PluginPCIFunction.from(handle)?.bus.setINTx(level) }
        table.msi_enabled = { handle in PluginPCIFunction.from(handle)?.msi?.isEnabled ?? false }
        table.msix_enabled = { handle in PluginPCIFunction.from(handle)?.msix?.isEnabled ?? false }
        table.msi_notify = { handle, vector in
            guard let msi = PluginPCIFunction.from(handle)?.msi, vector < 32 else { return BP_ERR_INVALID }
            msi.signal(vector: Int(vector))
            return BP_OK
        }
        table.msix_notify = { handle, vector in
            guard let msix = PluginPCIFunction.from(handle)?.msix, Int(vector) < msix.vectors else { return BP_ERR_INVALID }
            msix.notify(vector: Int(vector))
            return BP_OK
        }
        table.bar_memory = { handle, bar in PluginPCIFunction.from(handle)?.barMemory(Int(bar)) }
        table.device_name = { handle in UnsafePointer(PluginPCIFunction.from(handle)?.cName) }
        return table
    }

    private static func makeTime() -> bp_time_interface {
        var table = bp_time_interface()
        table.struct_size = UInt32(MemoryLayout<bp_time_interface>.size)
        table.now_ns = { handle in LoadedPlugin.from(handle)?.host.timers.now() ?? 0 }
        table.timer_new = { handle, fire, opaque in
            guard let plugin = LoadedPlugin.from(handle), let fire else { return nil }
            let host = plugin.host
            let timer = PluginTimer(fire: fire, opaque: opaque, queue: host.timers)
            host.timers.add(timer)
            return timer.handle
        }
        table.timer_start = { handle, delay, period in
            guard let timer = PluginTimer.from(handle) else { return BP_ERR_INVALID }
            timer.queue.start(timer, delay: delay, period: period)
            return BP_OK
        }
        table.timer_stop = { handle in PluginTimer.from(handle)?.active = false }
        table.timer_pending = { handle in PluginTimer.from(handle)?.active ?? false }
        table.timer_free = { handle in
            guard let timer = PluginTimer.from(handle) else { return }
            timer.queue.remove(timer)
        }
        return table
    }

    private static func makeQPP() -> bp_qpp_interface {
        var table = bp_qpp_interface()
        table.struct_size = UInt32(MemoryLayout<bp_qpp_interface>.size)
        table.export_function = { handle, name, function, signature in
            guard let plugin = LoadedPlugin.from(handle), let name, let function else { return BP_ERR_INVALID }
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
            guard let plugin = LoadedPlugin.from(handle), let target, let name else { return BP_ERR_INVALID }
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
            guard let plugin = LoadedPlugin.from(handle), let name,
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
            guard let plugin = LoadedPlugin.from(handle), let target, let name, let function else { return BP_ERR_INVALID }
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
            guard let plugin = LoadedPlugin.from(handle), let target, let name, let function,
                  let callback = try? plugin.host.qpp.callback(for: plugin.name, target: String(cString: target), name: String(cString: name))
            else { return false }
            return callback.unregister(plugin: plugin.name, function: function)
        }
        return table
    }
}
