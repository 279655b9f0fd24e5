import Foundation
import Passthrough
import USB

/// Building `usb.host` devices (docs/passthrough.md). The host is asked here, when the machine is
/// built: a device that is missing, not accessible (with the udev rule) or busy stops the run
/// with one error naming the board line; nothing is left open or detached after a failure.
extension Machine {
    /// Opens the host device `device` names and wraps it for `controller`'s port `port`; a host
    /// unplug detaches that port (the guest sees a disconnect).
    func makeHostUSB(_ device: BoardDevice, controller: XHCIController, port: Int) throws -> USBHostPassthrough {
        let backend: any HostUSBBackend
        if device.properties["backend"]?.string == "replay" {
            var path = device.properties["recording"]?.string ?? ""
            if !path.hasPrefix("/") { path = ((board.sourcePath as NSString).deletingLastPathComponent as NSString).appendingPathComponent(path) }
            backend = ReplayUSBBackend([try USBRecording.load(path: path)])
        } else {
            backend = try LibUSBBackend()
        }
        let selector: HostUSBSelector
        if let vendor = device.integer("vendor"), vendor != 0 {
            selector = .ids(vendor: UInt16(vendor), product: UInt16(device.integer("product") ?? 0))
        } else {
            selector = .location(bus: UInt8(device.integer("bus") ?? 0),
                                 ports: USBHostDeviceTypes.ports(device.properties["port"]?.string ?? "") ?? [])
        }
        let options = HostUSBOpenOptions(detachKernelDriver: device.properties["detach-driver"]?.boolean ?? false)
        let host = try backend.open(selector, options: options)
        let usb: USBHostPassthrough
        do { usb = try USBHostPassthrough(host: host) } catch {
            host.close()
            throw error
        }
        usb.onUnplug = { [weak controller] in controller?.detach(port: port) }
        let name = device.name
        usb.onHostError = { error in FileHandle.standardError.write(Data("backplane: usb.host '\(name)': \(error)\n".utf8)) }
        return usb
    }
}
