// swift-tools-version:6.0
import PackageDescription

// One target per folder of the layout (DEVELOPERS.md). Layers: Memory depends on nothing; IRQ and
// Devices sit on Memory; the CPU on Memory and the IRQ protocols; Machine wires a board file into a
// running machine; the `backplane` CLI sits on top.
let hotPathFlags: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "Backplane",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "backplane", targets: ["backplane"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        .target(name: "Memory", path: "Modules/Memory", swiftSettings: hotPathFlags),
        .target(name: "IRQ", dependencies: ["Memory"], path: "Modules/IRQ"),
        .target(name: "CHartState", path: "Modules/CPU/CHartState",
                cSettings: [.unsafeFlags(["-O2", "-frounding-math"])]),
        .target(name: "CPU", dependencies: ["CHartState", "Memory", "IRQ"], path: "Modules/CPU/Hart",
                swiftSettings: hotPathFlags),
        .target(name: "Devices", dependencies: ["Memory", "IRQ"], path: "Modules/Devices"),
        .target(name: "PCI", dependencies: ["Memory", "IRQ"], path: "Modules/PCI"),
        .target(name: "Virtio", dependencies: ["PCI", "Memory", "IRQ"], path: "Modules/Virtio"),
        // USB: the device model, the xHCI controller (a PCI function) and built-in devices; the
        // mass-storage device reuses Virtio's DiskImage.
        .target(name: "USB", dependencies: ["PCI", "Memory", "IRQ", "Virtio"], path: "Modules/USB"),
        .systemLibrary(name: "CLibFDT", path: "Modules/DeviceTree/CLibFDT"),
        .target(name: "DeviceTree", dependencies: ["CLibFDT"], path: "Modules/DeviceTree/Swift"),
        .target(name: "Machine",
                dependencies: ["Memory", "IRQ", "CPU", "Devices", "PCI", "Virtio", "USB", "DeviceTree",
                               .product(name: "Yams", package: "Yams")],
                path: "Modules/Machine",
                // Modules/Machine/Boards is a symlink to the top-level Boards/ folder, so the
                // bundled board files ship next to the binary (Board.bundled(name:)).
                resources: [.copy("../../Boards")]),
        .executableTarget(name: "backplane",
                          dependencies: ["Machine", .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Modules/CLI"),

        .testTarget(name: "MemoryTests", dependencies: ["Memory"], path: "Tests/MemoryTests"),
        .testTarget(name: "IRQTests", dependencies: ["IRQ", "Memory"], path: "Tests/IRQTests"),
        .testTarget(name: "CPUTests", dependencies: ["CPU", "CHartState", "Memory", "IRQ"], path: "Tests/CPUTests"),
        .testTarget(name: "DevicesTests", dependencies: ["Devices", "IRQ", "Memory"], path: "Tests/DevicesTests"),
        .testTarget(name: "PCITests", dependencies: ["PCI", "Virtio", "IRQ", "Memory"], path: "Tests/PCITests"),
        .testTarget(name: "USBTests", dependencies: ["USB", "PCI", "Virtio", "IRQ", "Memory"], path: "Tests/USBTests"),
        .testTarget(name: "DeviceTreeTests", dependencies: ["DeviceTree"], path: "Tests/DeviceTreeTests"),
        .testTarget(name: "MachineTests", dependencies: ["Machine", "DeviceTree"], path: "Tests/MachineTests"),
        // Guest-level tests (ISA suite, differential runs against QEMU, firmware boots): they drive
        // the release `backplane` binary and Debian's cross toolchain, so run them with `-c release`.
        .testTarget(name: "GuestTests", dependencies: [], path: "Tests/GuestTests"),
    ]
)
