/// The files `backplane plugin new NAME --bus BUS` writes: a plugin that builds against the
/// installed SDK with pkg-config, a board that places one instance, and a bare-metal guest
/// program (M-mode, `--bios none`) that finds the device the way a driver would and exits
/// through sifive_test with 0 on success. Tests build and run all three (PluginSDKTests).
struct PluginSkeleton {
    enum Bus: String { case pci, usb, platform }

    let name: String
    let bus: Bus

    var files: [(path: String, text: String)] {
        [("\(name).c", pluginSource), ("Makefile", makefile), ("board.yaml", board), ("guest/start.S", Self.start),
         ("guest/link.ld", Self.link), ("guest/guest.c", guestSource), ("README.md", readme)]
    }

    private func fill(_ text: String) -> String {
        text.replacingOccurrences(of: "@NAME@", with: name)
    }

    var readme: String {
        fill("""
        # @NAME@: a Backplane \(bus.rawValue) device plugin

        `make` builds `lib@NAME@.so` against the installed SDK (`pkg-config --cflags backplane-plugin`)
        and `guest.elf`, a bare-metal program that finds and checks the device; `make run` runs it on
        `board.yaml` (exit status 0: the guest passed). Plugin ABI reference: docs/plugins.md and the
        comments in `backplane/*.h`. `backplane plugin info lib@NAME@.so` shows what the plugin registers.

        """)
    }

    var makefile: String {
        fill("""
        # Builds the plugin against the installed SDK and the guest with a bare-metal RISC-V compiler.
        PKG_CONFIG ?= pkg-config
        CC ?= cc
        GUEST_CC ?= riscv64-unknown-elf-gcc
        BACKPLANE ?= backplane
        CFLAGS ?= -O2 -Wall
        GUEST_CFLAGS = -march=rv64gc -mabi=lp64d -mcmodel=medany -O2 -ffreestanding -fno-builtin -nostdlib -nostartfiles -static -Wl,--no-warn-rwx-segments

        all: lib@NAME@.so guest.elf

        lib@NAME@.so: @NAME@.c
        \t$(CC) -std=c11 $(CFLAGS) -shared -fPIC $$($(PKG_CONFIG) --cflags backplane-plugin) -o $@ $<

        guest.elf: guest/start.S guest/guest.c guest/link.ld
        \t$(GUEST_CC) $(GUEST_CFLAGS) -T guest/link.ld guest/start.S guest/guest.c -o $@

        run: all
        \t$(BACKPLANE) run board.yaml --bios none --kernel guest.elf --serial stdio --timeout 60

        clean:
        \trm -f lib@NAME@.so guest.elf

        .PHONY: all run clean

        """)
    }

    var board: String {
        let device: String
        switch bus {
        case .platform:
            device = """
              - name: dev0
                type: @NAME@.dev
                reg: [0x10003000, 0x1000]
                irq: plic0@13
            """
        case .pci:
            device = """
              - name: dev0
                type: @NAME@.dev
                at: pcie0/02.0
            """
        case .usb:
            device = """
              - name: xhci0
                type: qemu-xhci
                at: pcie0/03.0
                properties: { usb2-ports: 2, usb3-ports: 2 }
              - name: dev0
                type: @NAME@.dev
                at: xhci0/port1
            """
        }
        return fill("""
        # A small QEMU-virt-like board with one @NAME@.dev (format: docs/boards.md).
        name: @NAME@
        description: @NAME@ plugin test board
        plugins:
          - lib@NAME@.so
        harts:
          count: 1
          isa: rv64imafdc_zicsr_zifencei_zicntr
          mmu: sv48
          timebase-frequency: 10000000
        memory:
          - name: ram
            base: 0x80000000
            size: 64M
        devices:
          - name: test0
            type: sifive_test
            reg: [0x100000, 0x1000]
          - name: clint0
            type: aclint
            reg: [0x2000000, 0x10000]
          - name: plic0
            type: plic
            reg: [0xc000000, 0x600000]
            properties: { sources: 96 }
          - name: uart0
            type: ns16550a
            reg: [0x10000000, 0x100]
            irq: plic0@10
            properties: { clock-frequency: 3686400 }
          - name: pcie0
            type: pci-host-ecam-generic
            reg: [0x30000000, 0x10000000]
            irq: [plic0@32, plic0@33, plic0@34, plic0@35]
            properties:
              pio-base: 0x3000000
              pio-size: 0x10000
              mmio32-base: 0x40000000
              mmio32-size: 0x40000000
              mmio64-base: 0x400000000
              mmio64-size: 0x400000000
        \(device)
        boot:
          stdout: uart0

        """)
    }

    var pluginSource: String {
        switch bus {
        case .platform: return fill(Self.platformPlugin)
        case .pci: return fill(Self.pciPlugin)
        case .usb: return fill(Self.usbPlugin)
        }
    }

    var guestSource: String {
        let body: String
        switch bus {
        case .platform: body = Self.platformGuest
        case .pci: body = Self.pciGuest
        case .usb: body = Self.usbGuest
        }
        return fill(Self.guestCommon + body)
    }

    static let platformPlugin = """
    /* @NAME@: a platform (MMIO) device. Registers: 0x0 ID (0x0b0a0001, read-only), 0x4 SCRATCH
     * (read/write), 0x8 IRQ (write 1 raises line 0, 0 lowers it). */
    #include <backplane/backplane.h>

    static const bp_host *host;

    typedef struct device {
        bp_platform_device *handle;
        uint32_t scratch;
    } device;

    static int create(void *type_opaque, bp_platform_device *handle, const bp_args *properties, void **instance) {
        (void)type_opaque; (void)properties;
        device *dev = calloc(1, sizeof *dev);
        if (!dev) return 1;
        dev->handle = handle;
        *instance = dev;
        return 0;
    }

    static uint64_t read_register(void *instance, uint64_t offset, uint32_t size) {
        device *dev = instance;
        (void)size;
        switch (offset) {
        case 0x0: return 0x0b0a0001u;
        case 0x4: return dev->scratch;
        default: return 0;
        }
    }

    static void write_register(void *instance, uint64_t offset, uint32_t size, uint64_t value) {
        device *dev = instance;
        (void)size;
        if (offset == 0x4) dev->scratch = (uint32_t)value;
        if (offset == 0x8) host->platform->set_irq(dev->handle, 0, value & 1);
    }

    static void destroy(void *instance) { free(instance); }

    /* Snapshot hooks (ABI 1.3, docs/plugins.md "Snapshots"): the guest-visible state, versioned.
     * Without them a snapshot of a machine with this device is refused. */
    static int save(void *instance, bp_snapshot *snapshot) {
        device *dev = instance;
        uint32_t version = 1;
        if (host->snapshot->write(snapshot, &version, sizeof version) != BP_OK) return 1;
        return host->snapshot->write(snapshot, &dev->scratch, sizeof dev->scratch) == BP_OK ? 0 : 1;
    }

    static int restore(void *instance, bp_snapshot *snapshot) {
        device *dev = instance;
        uint32_t version = 0;
        if (host->snapshot->read(snapshot, &version, sizeof version) != BP_OK || version != 1) return 1;
        return host->snapshot->read(snapshot, &dev->scratch, sizeof dev->scratch) == BP_OK ? 0 : 1;
    }

    static int install(const bp_host *h, bp_plugin *self, const bp_args *args) {
        (void)args;
        host = h;
        bp_platform_device_type type;
        memset(&type, 0, sizeof type);
        type.struct_size = sizeof type;
        type.name = "@NAME@.dev";
        type.summary = "@NAME@ platform device";
        type.compatible = "example,@NAME@";
        type.minimum_size = 0x1000;
        type.access_sizes = BP_ACCESS_4;
        type.irq_count_min = 1;
        type.irq_count_max = 1;
        type.create = create;
        type.read = read_register;
        type.write = write_register;
        type.destroy = destroy;
        type.save = save;
        type.restore = restore;
        return h->platform->register_type(self, &type) == BP_OK ? 0 : 1;
    }

    BP_PLUGIN_DEFINE("@NAME@", "@NAME@ platform device", NULL, install, NULL)

    """

    static let pciPlugin = """
    /* @NAME@: a PCI function 1234:0b0a. BAR 0 (4 KiB): 0x0 ID (0x0b0a0001), 0x4 SCRATCH,
     * 0x8 DMA address, 0xc write N: copies SCRATCH N times to the DMA address (pci->dma_write),
     * then signals MSI-X vector 0 (table at 0x800 in BAR 0) or, with MSI-X off, INTA. */
    #include <backplane/backplane.h>

    static const bp_host *host;

    typedef struct device {
        bp_pci_device *handle;
        uint32_t scratch;
        uint64_t dma_address;
    } device;

    static int create(void *type_opaque, bp_pci_device *handle, const bp_args *properties, void **instance) {
        (void)type_opaque; (void)properties;
        device *dev = calloc(1, sizeof *dev);
        if (!dev) return 1;
        dev->handle = handle;
        *instance = dev;
        return 0;
    }

    static uint64_t bar_read(void *instance, uint32_t bar, uint64_t offset, uint32_t size) {
        device *dev = instance;
        (void)bar; (void)size;
        switch (offset) {
        case 0x0: return 0x0b0a0001u;
        case 0x4: return dev->scratch;
        case 0x8: return (uint32_t)dev->dma_address;
        default: return 0;
        }
    }

    static void bar_write(void *instance, uint32_t bar, uint64_t offset, uint32_t size, uint64_t value) {
        device *dev = instance;
        (void)bar; (void)size;
        if (offset == 0x4) dev->scratch = (uint32_t)value;
        if (offset == 0x8) dev->dma_address = (uint32_t)value;
        if (offset == 0xc) {
            for (uint64_t i = 0; i < value && i < 64; i++)
                if (host->pci->dma_write(dev->handle, dev->dma_address + 4 * i, &dev->scratch, 4) != BP_OK) return;
            if (host->pci->msix_enabled(dev->handle)) host->pci->msix_notify(dev->handle, 0);
            else host->pci->set_intx(dev->handle, true);
        }
        if (offset == 0x10) host->pci->set_intx(dev->handle, false);
    }

    static void destroy(void *instance) { free(instance); }

    /* Snapshot hooks (ABI 1.3, docs/plugins.md "Snapshots"): the guest-visible state, versioned
     * (configuration space and the MSI-X table are the PCI core's). */
    static int save(void *instance, bp_snapshot *snapshot) {
        device *dev = instance;
        uint32_t version = 1;
        if (host->snapshot->write(snapshot, &version, sizeof version) != BP_OK) return 1;
        if (host->snapshot->write(snapshot, &dev->scratch, sizeof dev->scratch) != BP_OK) return 1;
        return host->snapshot->write(snapshot, &dev->dma_address, sizeof dev->dma_address) == BP_OK ? 0 : 1;
    }

    static int restore(void *instance, bp_snapshot *snapshot) {
        device *dev = instance;
        uint32_t version = 0;
        if (host->snapshot->read(snapshot, &version, sizeof version) != BP_OK || version != 1) return 1;
        if (host->snapshot->read(snapshot, &dev->scratch, sizeof dev->scratch) != BP_OK) return 1;
        return host->snapshot->read(snapshot, &dev->dma_address, sizeof dev->dma_address) == BP_OK ? 0 : 1;
    }

    static int install(const bp_host *h, bp_plugin *self, const bp_args *args) {
        (void)args;
        host = h;
        bp_pci_device_type type;
        memset(&type, 0, sizeof type);
        type.struct_size = sizeof type;
        type.name = "@NAME@.dev";
        type.summary = "@NAME@ PCI function";
        type.vendor_id = 0x1234;
        type.device_id = 0x0b0a;
        type.class_code = 0xff0000;
        type.interrupt_pin = BP_PCI_PIN_INTA;
        type.bars[0] = (bp_pci_bar_spec){BP_PCI_BAR_MEM32, 0, 0x1000, BP_ACCESS_4, 0};
        type.msix_vectors = 1;
        type.msix_table_offset = 0x800;
        type.msix_pba_offset = 0xc00;
        type.create = create;
        type.bar_read = bar_read;
        type.bar_write = bar_write;
        type.destroy = destroy;
        type.save = save;
        type.restore = restore;
        return h->pci->register_type(self, &type) == BP_OK ? 0 : 1;
    }

    BP_PLUGIN_DEFINE("@NAME@", "@NAME@ PCI function", NULL, install, NULL)

    """

    static let usbPlugin = """
    /* @NAME@: a USB 2.0 vendor-class device 1209:0b0a (full and high speed) with no data
     * endpoints; vendor IN request 1 answers 4 bytes 'b0a\\\\0'. The host's USB core answers the
     * standard requests from these descriptors. */
    #include <backplane/backplane.h>

    static const bp_host *host;

    static const uint8_t device_descriptor[18] = {
        18, 1, 0x00, 0x02, 0xff, 0, 0, 64, 0x09, 0x12, 0x0a, 0x0b, 0x00, 0x01, 1, 2, 0, 1};
    static const uint8_t configuration[18] = {
        9, 2, 18, 0, 1, 1, 0, 0x80, 50, /* configuration 1, bus-powered, 100 mA */
        9, 4, 0, 0, 0, 0xff, 0, 0, 0};  /* interface 0: vendor class, no endpoints */
    static const bp_usb_configuration configurations[] = {
        {BP_USB_SPEED_FULL | BP_USB_SPEED_HIGH, sizeof configuration, configuration}};
    static const char *const strings[] = {"Example", "@NAME@"};

    static void control(void *instance, bp_usb_packet *packet, const bp_usb_setup *setup, const uint8_t *data) {
        (void)instance; (void)data;
        if (setup->request_type == 0xc0 && setup->request == 1) {
            static const char answer[4] = "b0a";
            host->usb->complete(packet, BP_USB_SUCCESS, answer, setup->length < 4 ? setup->length : 4);
        } else {
            host->usb->complete(packet, BP_USB_STALL, NULL, 0);
        }
    }

    /* Snapshot hooks (ABI 1.3, docs/plugins.md "Snapshots"): this device keeps no state of its
     * own (the USB core keeps address and configuration), so it saves only a version. */
    static int save(void *instance, bp_snapshot *snapshot) {
        (void)instance;
        uint32_t version = 1;
        return host->snapshot->write(snapshot, &version, sizeof version) == BP_OK ? 0 : 1;
    }

    static int restore(void *instance, bp_snapshot *snapshot) {
        (void)instance;
        uint32_t version = 0;
        return host->snapshot->read(snapshot, &version, sizeof version) == BP_OK && version == 1 ? 0 : 1;
    }

    static int install(const bp_host *h, bp_plugin *self, const bp_args *args) {
        (void)args;
        host = h;
        if (!h->usb) { h->set_error(self, "needs a host with USB (plugin ABI 1.1 or later)"); return 1; }
        bp_usb_device_type type;
        memset(&type, 0, sizeof type);
        type.struct_size = sizeof type;
        type.name = "@NAME@.dev";
        type.summary = "@NAME@ USB device";
        type.speeds = BP_USB_SPEED_FULL | BP_USB_SPEED_HIGH;
        type.device_descriptor = device_descriptor;
        type.device_descriptor_length = sizeof device_descriptor;
        type.configurations = configurations;
        type.configuration_count = 1;
        type.strings = strings;
        type.string_count = 2;
        type.control = control;
        type.save = save;
        type.restore = restore;
        return h->usb->register_type(self, &type) == BP_OK ? 0 : 1;
    }

    BP_PLUGIN_DEFINE("@NAME@", "@NAME@ USB device", NULL, install, NULL)

    """

    static let start = """
    /* M-mode entry: hart 0 only, a stack, bss cleared, main(). */
        .section .text.init
        .globl _start
    _start:
        csrr t0, mhartid
        bnez t0, park
        la sp, stack_top
        la t0, __bss_start
        la t1, _end
    1:  bgeu t0, t1, 2f
        sd zero, 0(t0)
        addi t0, t0, 8
        j 1b
    2:  call main
    park:
        wfi
        j park

        .bss
        .align 4
        .space 16384
    stack_top:

    """

    static let link = """
    OUTPUT_ARCH("riscv")
    ENTRY(_start)
    SECTIONS {
      . = 0x80000000;
      .text.init : { *(.text.init) }
      .text : { *(.text) *(.text.*) }
      .data : { *(.data) *(.data.*) *(.sdata) *(.sdata.*) *(.rodata) *(.rodata.*) *(.srodata*) }
      .bss : { __bss_start = .; *(.sbss) *(.sbss.*) *(.bss) *(.bss.*) *(COMMON) }
      . = ALIGN(8);
      _end = .;
    }

    """

    static let guestCommon = """
    /* Bare-metal guest for @NAME@ (M-mode, --bios none): prints on the UART and exits through
     * sifive_test, 0 on success, the failing step otherwise. Addresses are board.yaml's. */
    #include <stdint.h>

    #define UART ((volatile uint8_t *)0x10000000UL)
    #define TEST ((volatile uint32_t *)0x100000UL)
    #define ECAM 0x30000000UL
    #define PLIC 0x0c000000UL

    static void putc_(char c) {
        while (!(UART[5] & 0x20)) {}
        UART[0] = (uint8_t)c;
    }
    static void puts_(const char *s) { while (*s) putc_(*s++); }
    static void puthex(uint64_t v) {
        puts_("0x");
        for (int i = 60; i >= 0; i -= 4) putc_("0123456789abcdef"[(v >> i) & 0xf]);
    }
    static void finish(uint32_t step) {
        if (step == 0) { puts_("PASS\\n"); *TEST = 0x5555; }
        else { puts_("FAIL step "); puthex(step); putc_('\\n'); *TEST = (step << 16) | 0x3333; }
        for (;;) {}
    }
    static void check(int ok, uint32_t step, const char *what, uint64_t got) {
        if (ok) return;
        puts_(what); puts_(": got "); puthex(got); putc_('\\n');
        finish(step);
    }
    static inline uint8_t r8(uint64_t a) { return *(volatile uint8_t *)a; }
    static inline uint32_t r32(uint64_t a) { return *(volatile uint32_t *)a; }
    static inline void w32(uint64_t a, uint32_t v) { *(volatile uint32_t *)a = v; }
    /* Configuration space of bus 0 device `dev` through ECAM (PCIe Base 4.0 §7.2.2). */
    static inline uint64_t cfg(uint32_t dev, uint32_t reg) { return ECAM + ((uint64_t)dev << 15) + reg; }

    """

    static let platformGuest = """
    #define DEV 0x10003000UL

    int main(void) {
        puts_("@NAME@ guest\\n");
        check(r32(DEV + 0x0) == 0x0b0a0001u, 1, "ID", r32(DEV));
        w32(DEV + 0x4, 0xa5a5f00du);
        check(r32(DEV + 0x4) == 0xa5a5f00du, 2, "SCRATCH", r32(DEV + 0x4));
        /* IRQ line 0 is PLIC source 13: raise it and see it pending (PLIC 1.0 §5, pending bits). */
        w32(DEV + 0x8, 1);
        check(r32(PLIC + 0x1000) & (1u << 13), 3, "PLIC pending", r32(PLIC + 0x1000));
        w32(DEV + 0x8, 0);
        finish(0);
        return 0;
    }

    """

    static let pciGuest = """
    #define BAR0 0x40000000UL

    static uint32_t buffer[8];

    int main(void) {
        puts_("@NAME@ guest\\n");
        /* Scan bus 0 for 1234:0b0a. */
        uint32_t dev = 32;
        for (uint32_t d = 0; d < 32; d++) if (r32(cfg(d, 0)) == 0x0b0a1234u) { dev = d; break; }
        check(dev < 32, 1, "1234:0b0a not found", 0);
        /* Size BAR 0 (write all ones, read the mask back), place it, enable memory and bus mastering. */
        w32(cfg(dev, 0x10), 0xffffffffu);
        check(r32(cfg(dev, 0x10)) == 0xfffff000u, 2, "BAR0 size mask", r32(cfg(dev, 0x10)));
        w32(cfg(dev, 0x10), (uint32_t)BAR0);
        w32(cfg(dev, 0x04), 0x6);
        check(r32(BAR0) == 0x0b0a0001u, 3, "ID", r32(BAR0));
        w32(BAR0 + 0x4, 0x600dcafeu);
        /* DMA: the device writes SCRATCH four times into `buffer`, then raises INTA (MSI-X is off). */
        w32(BAR0 + 0x8, (uint32_t)(uint64_t)buffer);
        w32(BAR0 + 0xc, 4);
        for (int i = 0; i < 4; i++) check(((volatile uint32_t *)buffer)[i] == 0x600dcafeu, 4, "DMA data", buffer[i]);
        /* INTA of device d reaches PLIC source 32 + d % 4 (the swizzle in the device tree). */
        check(r32(PLIC + 0x1000 + 4 * ((32 + dev % 4) / 32)) & (1u << ((32 + dev % 4) % 32)), 5, "INTA pending", dev);
        w32(BAR0 + 0x10, 1);
        finish(0);
        return 0;
    }

    """

    static let usbGuest = """
    #define BAR0 0x40000000UL

    int main(void) {
        puts_("@NAME@ guest\\n");
        /* Find the xHCI controller by class code 0c0330 (xHCI 1.2 §5.2.1). */
        uint32_t dev = 32;
        for (uint32_t d = 0; d < 32; d++) if ((r32(cfg(d, 0x08)) >> 8) == 0x0c0330u) { dev = d; break; }
        check(dev < 32, 1, "no xHCI", 0);
        /* BAR 0 is 64-bit memory: low word, high word 0; then memory and bus mastering on. */
        w32(cfg(dev, 0x10), (uint32_t)BAR0);
        w32(cfg(dev, 0x14), 0);
        w32(cfg(dev, 0x04), 0x6);
        uint32_t caplength = r8(BAR0);
        uint32_t ports = r32(BAR0 + 0x04) >> 24;                      /* HCSPARAMS1 MaxPorts */
        check(ports >= 1, 2, "MaxPorts", ports);
        /* PORTSC of port 1 (xHCI 1.2 §5.4.8): Current Connect Status, and the speed the port took. */
        uint32_t portsc = r32(BAR0 + caplength + 0x400);
        check(portsc & 1, 3, "no device on port 1", portsc);
        uint32_t speed = (portsc >> 10) & 0xf;
        check(speed == 3, 4, "port speed (3 = high speed)", speed);
        puts_("device connected at high speed on port 1\\n");
        finish(0);
        return 0;
    }

    """
}
