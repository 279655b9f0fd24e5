import ArgumentParser
import Foundation
import Passthrough

/// `backplane host`: the host devices a board could take (docs/passthrough.md).
struct Host: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "host",
        abstract: "List host PCI and USB devices and whether Backplane could take them.",
        subcommands: [HostPCI.self, HostUSB.self])
}

struct HostPCI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pci",
        abstract: "List host PCI functions (libpci, sysfs): IDs, class, driver, and what pci.host could do with each.")

    @Argument(help: ArgumentHelp("Only this function (DOMAIN:BUS:DEVICE.FUNCTION).", valueName: "ADDRESS"))
    var address: String?

    @Option(help: ArgumentHelp("Open this function through VFIO as 'vfio: true' would, list its regions and interrupts, and close it; or say in one line why it cannot be opened.",
                               valueName: "ADDRESS"))
    var check: String?

    @Option(help: ArgumentHelp("With --check: time this many 32-bit reads of offset 0 of the first BAR, through its mmap and through pread (reads only).",
                               valueName: "N"))
    var latency: Int = 0

    func run() throws {
        let sysfs = HostPCISysfs()
        if let check {
            guard let wanted = HostPCIAddress(check) else { fail(HostPCIError.badAddress(check).description) }
            do throws(VFIOError) { print(try VFIOCheck.run(wanted, sysfs: sysfs, latencyReads: max(latency, 0))) } catch { fail(error.description) }
            return
        }
        var listings = HostPCIListing.all(sysfs: sysfs)
        if let address {
            guard let wanted = HostPCIAddress(address) else { fail(HostPCIError.badAddress(address).description) }
            listings = listings.filter { $0.address == wanted }
            if listings.isEmpty { fail(HostPCIError.notFound(wanted, devicesPath: sysfs.devicesPath).description) }
        }
        if listings.isEmpty {
            print("no host PCI functions (\(sysfs.devicesPath) is empty or missing)")
            return
        }
        print(listings.map(\.text).joined(separator: "\n"))
    }
}

struct HostUSB: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "usb",
        abstract: "List host USB devices (libusb): bus, port, address, IDs, class, product, driver, and whether usb.host could take each.")

    @Option(help: ArgumentHelp("Open this device (VENDOR:PRODUCT or BUS-PORT.PORT) and close it again, reporting why it cannot be opened.",
                               valueName: "DEVICE"))
    var check: String?

    func run() throws {
        let backend: LibUSBBackend
        do { backend = try LibUSBBackend() } catch { fail(error.description) }
        if let check {
            guard let selector = HostUSBSelector(check) else {
                fail("--check: '\(check)' is not VENDOR:PRODUCT (046d:c52b) or BUS-PORT[.PORT...] (1-2.3)")
            }
            do {
                let device = try backend.open(selector, options: HostUSBOpenOptions())
                print(device.info.text)
                device.close()
            } catch {
                fail(error.description)
            }
            return
        }
        let devices: [HostUSBDeviceInfo]
        do { devices = try backend.devices() } catch { fail(error.description) }
        if devices.isEmpty {
            let why = FileManager.default.fileExists(atPath: "/dev/bus/usb") ? "" : " (this host has no USB: /dev/bus/usb is missing)"
            print("no host USB devices\(why)")
            return
        }
        print(devices.map(\.text).joined(separator: "\n"))
    }
}
