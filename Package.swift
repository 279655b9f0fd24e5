// swift-tools-version:6.0
import PackageDescription

// One target per folder of the layout (DEVELOPERS.md). Layers: Memory depends on nothing; IRQ and
// Devices sit on Memory; the CPU on Memory and the IRQ protocols; Machine wires a board file into a
// running machine; the `backplane` CLI sits on top.
let hotPathFlags: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-enforce-exclusivity=unchecked"], .when(configuration: .release))]

/// C example plugins find the SDK as <backplane/...> (Plugins/include), as third-party ones do.
let pluginSDK: [CSetting] = [.unsafeFlags(["-I\(Context.packageDirectory)/Plugins/include", "-std=c11", "-Wall"])]

let package = Package(
    name: "Backplane",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "backplane", targets: ["backplane"]),
        // Example plugins (docs/plugins.md): shared libraries `backplane run --plugin` loads.
        .library(name: "acme_edu", type: .dynamic, targets: ["acme_edu"]),
        .library(name: "acme_timer", type: .dynamic, targets: ["acme_timer"]),
        .library(name: "acme_usbloop", type: .dynamic, targets: ["acme_usbloop"]),
        .library(name: "qpp_srv", type: .dynamic, targets: ["qpp_srv"]),
        .library(name: "qpp_client", type: .dynamic, targets: ["qpp_client"]),
        .library(name: "swift_scratch", type: .dynamic, targets: ["swift_scratch"]),
        .library(name: "insn_count", type: .dynamic, targets: ["insn_count"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        // Device-level tracing (docs/debugging.md): at the bottom, so every layer can emit events.
        .target(name: "Trace", path: "Modules/Trace"),
        .target(name: "Memory", dependencies: ["Trace"], path: "Modules/Memory", swiftSettings: hotPathFlags),
        .target(name: "IRQ", dependencies: ["Memory", "Trace"], path: "Modules/IRQ"),
        .target(name: "CHartState", path: "Modules/CPU/CHartState",
                cSettings: [.unsafeFlags(["-O2", "-frounding-math"])]),
        // Instrumentation: what an observer of a hart sees (the CPU reports, the plugin host forwards).
        .target(name: "Instrumentation", path: "Modules/Instrumentation"),
        .target(name: "CPU", dependencies: ["CHartState", "Memory", "IRQ", "Trace", "Instrumentation"], path: "Modules/CPU/Hart",
                swiftSettings: hotPathFlags),
        .target(name: "Devices", dependencies: ["Memory", "IRQ"], path: "Modules/Devices"),
        .target(name: "PCI", dependencies: ["Memory", "IRQ", "Trace"], path: "Modules/PCI"),
        // Storage: backing files of block devices (raw disk images), shared by virtio-blk and USB
        // mass storage.
        .target(name: "Storage", path: "Modules/Storage"),
        .target(name: "Virtio", dependencies: ["PCI", "Memory", "IRQ", "Storage"], path: "Modules/Virtio"),
        // USB: the device model, the xHCI controller (a PCI function) and built-in devices.
        .target(name: "USB", dependencies: ["PCI", "Memory", "IRQ", "Storage", "Trace"], path: "Modules/USB"),
        .systemLibrary(name: "CLibFDT", path: "Modules/DeviceTree/CLibFDT"),
        .target(name: "DeviceTree", dependencies: ["CLibFDT"], path: "Modules/DeviceTree/Swift"),
        // Plugins (docs/plugins.md): the C SDK as a module, QPP between plugins, the host that
        // loads plugins and adapts their devices to the bus protocols.
        .systemLibrary(name: "CBackplane", path: "Plugins/include"),
        .target(name: "QPP", dependencies: ["Trace"], path: "Modules/QPP"),
        // The GDB remote serial protocol (docs/debugging.md): packets, the target description and
        // the session; it knows no hart, only the GDBTarget protocol the machine implements. Its
        // unix sockets are made as the control socket's are (Control's UnixSocket).
        .target(name: "GDB", dependencies: ["Control"], path: "Modules/GDB"),
        // The control socket (docs/debugging.md): a line-in, JSON-line-out command channel into a
        // running machine, and its client for `backplane ctl`.
        .target(name: "Control", path: "Modules/Control"),
        .target(name: "PluginHost", dependencies: ["CBackplane", "QPP", "PCI", "USB", "Memory", "IRQ", "Instrumentation", "Trace"], path: "Modules/PluginHost"),
        .target(name: "acme_edu", dependencies: ["CBackplane"], path: "Plugins/examples/acme_edu", exclude: ["linux"], publicHeadersPath: ".",
                cSettings: pluginSDK),
        .target(name: "acme_timer", dependencies: ["CBackplane"], path: "Plugins/examples/acme_timer", publicHeadersPath: ".",
                cSettings: pluginSDK),
        .target(name: "acme_usbloop", dependencies: ["CBackplane"], path: "Plugins/examples/acme_usbloop", publicHeadersPath: ".",
                cSettings: pluginSDK),
        .target(name: "qpp_srv", dependencies: ["CBackplane"], path: "Plugins/examples/qpp_srv", cSettings: pluginSDK),
        // qpp_client includes qpp_srv's public header but must not link its code.
        .target(name: "qpp_client", dependencies: ["CBackplane"], path: "Plugins/examples/qpp_client",
                publicHeadersPath: ".", cSettings: pluginSDK + [.headerSearchPath("srv_include")]),
        .target(name: "swift_scratch", dependencies: ["CBackplane"], path: "Plugins/examples/swift_scratch"),
        .target(name: "insn_count", dependencies: ["CBackplane"], path: "Plugins/examples/insn_count", publicHeadersPath: ".", cSettings: pluginSDK),
        // Host devices (docs/passthrough.md): libpci and libusb behind thin system-library targets.
        .systemLibrary(name: "CLibPCI", path: "Modules/Passthrough/CLibPCI", pkgConfig: "libpci",
                       providers: [.apt(["libpci-dev"])]),
        .systemLibrary(name: "CLibUSB", path: "Modules/Passthrough/CLibUSB", pkgConfig: "libusb-1.0",
                       providers: [.apt(["libusb-1.0-0-dev"])]),
        // The VFIO ioctls (linux/vfio.h, from the kernel headers in linux-libc-dev) as C functions.
        .systemLibrary(name: "CVFIO", path: "Modules/Passthrough/CVFIO"),
        .target(name: "Passthrough", dependencies: ["PCI", "USB", "Memory", "CLibPCI", "CLibUSB", "CVFIO"], path: "Modules/Passthrough/Swift"),
        // User-mode networking for virtio-net (docs/dev-guest.md): libslirp behind a thin system-library target.
        .systemLibrary(name: "CSlirp", path: "Modules/UserNet/CSlirp", providers: [.apt(["libslirp-dev"])]),
        .target(name: "UserNet", dependencies: ["CSlirp", "Virtio"], path: "Modules/UserNet/Swift"),
        .target(name: "Machine",
                dependencies: ["Memory", "IRQ", "CPU", "Devices", "PCI", "Virtio", "UserNet", "USB", "Storage", "DeviceTree", "PluginHost", "Passthrough",
                               "GDB", "Control", "Trace",
                               .product(name: "Yams", package: "Yams")],
                path: "Modules/Machine",
                // The top-level Boards/ folder is copied next to the binary, so the bundled
                // board files are found wherever it runs (Board.bundled(name:)).
                resources: [.copy("../../Boards")]),
        .executableTarget(name: "backplane",
                          dependencies: ["Machine", "PluginHost", "Passthrough", "CPU", "Devices", "IRQ", "GDB", "Control", "Trace", "Memory",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Modules/CLI",
                          exclude: ["StaticLibraries"],
                          // The Swift runtime and Foundation linked in statically: dynamic linking
                          // (symbol lookup and relocation of libswiftCore, libFoundation*) was about a
                          // third of a trivial run's start-up (docs/jit.md, Start-up). Plugins are C
                          // ABI libraries found with dlopen/dlsym and resolve nothing from here.
                          // `-static-stdlib` alone leaves Foundation's static libraries unresolved
                          // (their own dependencies are not autolinked), so they are named here, in
                          // one group because they refer to each other.
                          //
                          // Two more start-up costs of the loader go the same way (docs/jit.md,
                          // Start-up): libstdc++ is linked statically too (StaticLibraries/ holds a
                          // linker script that turns the driver's -lstdc++ into GCC's libstdc++.a;
                          // -l:libstdc++.a after Foundation's group serves ICU's references), and the
                          // executable is not position-independent, so the loader has none of its
                          // ~82,000 relative relocations to apply and no pages of its data to copy
                          // for them. The executable's own code loses address randomisation
                          // (libraries, stack, heap and the JIT's buffers keep theirs). Nor does it
                          // export its ~10,000 Swift symbols (-static-stdlib asks for
                          // -export-dynamic; nothing loaded resolves against them): the Swift
                          // runtime's one dladdr at start-up scans every exported symbol.
                          linkerSettings: [.unsafeFlags(["-static-stdlib", "-Xlinker", "--start-group",
                                                         "-lFoundation", "-lCoreFoundation", "-lFoundationEssentials",
                                                         "-lFoundationInternationalization", "-l_FoundationICU",
                                                         "-l_FoundationCollections", "-l_FoundationCShims",
                                                         "-lBlocksRuntime", "-ldispatch", "-Xlinker", "--end-group",
                                                         "-L\(Context.packageDirectory)/Modules/CLI/StaticLibraries",
                                                         "-Xlinker", "-l:libstdc++.a", "-Xclang-linker", "-no-pie",
                                                         "-Xlinker", "--no-export-dynamic"],
                                                        .when(platforms: [.linux], configuration: .release))]),

        // What several test targets share: the recording interrupt controller.
        .target(name: "TestSupport", dependencies: ["IRQ"], path: "Tests/Support"),
        .testTarget(name: "MemoryTests", dependencies: ["Memory"], path: "Tests/MemoryTests"),
        .testTarget(name: "IRQTests", dependencies: ["IRQ", "Memory"], path: "Tests/IRQTests"),
        .testTarget(name: "CPUTests", dependencies: ["CPU", "CHartState", "Memory", "IRQ"], path: "Tests/CPUTests"),
        .testTarget(name: "DevicesTests", dependencies: ["TestSupport", "Devices", "IRQ", "Memory"], path: "Tests/DevicesTests"),
        .testTarget(name: "PCITests", dependencies: ["TestSupport", "PCI", "Virtio", "Storage", "IRQ", "Memory"], path: "Tests/PCITests"),
        .testTarget(name: "VirtioTests", dependencies: ["TestSupport", "Virtio", "UserNet", "PCI", "IRQ", "Memory"], path: "Tests/VirtioTests"),
        .testTarget(name: "USBTests", dependencies: ["TestSupport", "USB", "Passthrough", "PCI", "Storage", "IRQ", "Memory"], path: "Tests/USBTests"),
        .testTarget(name: "DeviceTreeTests", dependencies: ["DeviceTree"], path: "Tests/DeviceTreeTests"),
        .testTarget(name: "QPPTests", dependencies: ["QPP"], path: "Tests/QPPTests"),
        .testTarget(name: "GDBTests", dependencies: ["GDB", "CPU"], path: "Tests/GDBTests"),
        .testTarget(name: "ControlTests", dependencies: ["Control"], path: "Tests/ControlTests"),
        .testTarget(name: "TraceTests", dependencies: ["Trace"], path: "Tests/TraceTests"),
        .testTarget(name: "PluginHostTests", dependencies: ["TestSupport", "PluginHost", "QPP", "Machine", "PCI", "USB", "Memory", "IRQ", "Devices", "DeviceTree", "CPU"],
                    path: "Tests/PluginHostTests", exclude: ["abi-1.0", "abi-1.1", "abi-1.2", "abi-1.3", "Fixtures"]),
        .testTarget(name: "PassthroughTests", dependencies: ["Passthrough", "PCI", "Memory", "Machine", "Devices"], path: "Tests/PassthroughTests",
                    exclude: ["Recordings"]),
        .testTarget(name: "MachineTests", dependencies: ["Machine", "DeviceTree", "Devices", "IRQ", "Memory"], path: "Tests/MachineTests"),
        // Guest-level tests (ISA suite, differential runs against QEMU, firmware and Linux boots):
        // they drive the release `backplane` binary ($BACKPLANE; scripts/test.sh builds it) and
        // Debian's cross toolchains, and link no module.
        .testTarget(name: "GuestTests", dependencies: [], path: "Tests/GuestTests"),
    ]
)
