/* acme_sgdma: the ABI 1.2 calls in one small example (docs/plugins.md "ABI 1.2").
 *
 * PCI type "acme.sgdma": a gather engine. The guest writes a list of {address, length}
 * segments (16 bytes each, little-endian) to RAM, then SEG_LIST, SEG_COUNT and DEST; writing
 * GO gathers the segments (pci->dma_readv) and writes them contiguously at DEST
 * (pci->dma_write), then signals MSI-X vector 0 and records what msix_notify answered in
 * NOTIFY_STATUS (BP_ERR_MASKED, BP_ERR_DISABLED, BP_ERR_BUS_MASTER_DISABLED or 0). The
 * instance's MSI-X vector count and BAR 1 size come from properties (pci->set_msix_vectors,
 * set_bar_size in create). config_changed records which events the guest caused. Writing
 * WAKE starts a host thread that calls host->wake; the callback, on the machine thread,
 * counts in WAKES and signals vector 1.
 *
 * Platform type "acme.copier": platform->dma_read/dma_write between two guest addresses.
 *
 * BAR 0 (4 KiB): 0x00 ID (0x5ed3a), 0x08 SEG_LIST, 0x10 SEG_COUNT, 0x18 DEST, 0x20 GO,
 * 0x28 STATUS (last DMA result), 0x2c NOTIFY_STATUS, 0x30 EVENTS (BP_PCI_CHANGED_* seen),
 * 0x34 COMMAND (command register at the last event), 0x38 WAKE, 0x3c WAKES, 0x40 BYTES.
 * MSI-X table at 0x800, PBA at 0xc00. BAR 1: RAM, size from the `window` property. */
#include <backplane/backplane.h>
#include <pthread.h>

static const bp_host *host;
static bp_plugin *self;

typedef struct sgdma {
    bp_pci_device *device;
    uint64_t list, count, dest;
    int32_t status, notify_status;
    uint32_t events, command, wakes, bytes;
} sgdma;

static const bp_property_spec properties[] = {
    {"vectors", BP_PROPERTY_INTEGER, "2", "MSI-X vectors of this instance (table at 0x800, at most 64)"},
    {"window", BP_PROPERTY_INTEGER, "4096", "bytes of the RAM BAR 1 (a power of two)"},
};

static void gather(sgdma *engine) {
    bp_dma_segment segments[16];
    uint32_t count = engine->count > 16 ? 16 : (uint32_t)engine->count;
    size_t moved = 0;
    engine->status = host->pci->dma_read(engine->device, engine->list, segments, count * sizeof segments[0]);
    if (engine->status == BP_OK) {
        size_t total = 0;
        for (uint32_t i = 0; i < count; i++) total += segments[i].length;
        uint8_t *buffer = total <= 65536 ? malloc(total ? total : 1) : NULL;
        if (!buffer) {
            engine->status = BP_ERR_INVALID;
        } else {
            engine->status = host->pci->dma_readv(engine->device, segments, count, buffer, &moved);
            if (engine->status == BP_OK) engine->status = host->pci->dma_write(engine->device, engine->dest, buffer, total);
            free(buffer);
        }
    }
    engine->bytes = (uint32_t)moved;
    /* Done (or failed): interrupt either way; the status register says which. */
    engine->notify_status = host->pci->msix_notify(engine->device, 0);
}

static void woken(void *opaque) {
    sgdma *engine = opaque;
    engine->wakes++;
    host->pci->msix_notify(engine->device, 1);
}

static void *waker(void *opaque) {
    host->wake(self, woken, opaque);
    return NULL;
}

static uint64_t bar_read(void *instance, uint32_t bar, uint64_t offset, uint32_t size) {
    sgdma *engine = instance;
    (void)bar; (void)size;
    switch (offset) {
    case 0x00: return 0x5ed3a;
    case 0x28: return (uint32_t)engine->status;
    case 0x2c: return (uint32_t)engine->notify_status;
    case 0x30: return engine->events;
    case 0x34: return engine->command;
    case 0x3c: return engine->wakes;
    case 0x40: return engine->bytes;
    default: return 0;
    }
}

static void bar_write(void *instance, uint32_t bar, uint64_t offset, uint32_t size, uint64_t value) {
    sgdma *engine = instance;
    (void)bar; (void)size;
    switch (offset) {
    case 0x08: engine->list = value; break;
    case 0x10: engine->count = value; break;
    case 0x18: engine->dest = value; break;
    case 0x20: gather(engine); break;
    case 0x38: {
        pthread_t thread;
        if (pthread_create(&thread, NULL, waker, engine) == 0) pthread_detach(thread);
        break;
    }
    default: break;
    }
}

static void config_changed(void *instance, uint32_t changes) {
    sgdma *engine = instance;
    engine->events |= changes;
    engine->command = host->pci->command(engine->device);
}

static int create(void *type_opaque, bp_pci_device *device, const bp_args *props, void **instance) {
    (void)type_opaque;
    /* The shape first: after another call for the device it is fixed. */
    if (host->pci->set_msix_vectors(device, (uint32_t)bp_args_u64(props, "vectors", 2)) != BP_OK) return 1;
    if (host->pci->set_bar_size(device, 1, bp_args_u64(props, "window", 4096)) != BP_OK) return 1;
    sgdma *engine = calloc(1, sizeof *engine);
    engine->device = device;
    *instance = engine;
    return 0;
}

static void destroy(void *instance) { free(instance); }

/* --- acme.copier ------------------------------------------------------------------------- */
typedef struct copier {
    bp_platform_device *device;
    uint64_t source, dest, length;
    int32_t status;
} copier;

static uint64_t copier_read(void *instance, uint64_t offset, uint32_t size) {
    (void)size;
    return offset == 0x20 ? (uint32_t)((copier *)instance)->status : 0;
}

static void copier_write(void *instance, uint64_t offset, uint32_t size, uint64_t value) {
    copier *c = instance;
    (void)size;
    switch (offset) {
    case 0x00: c->source = value; break;
    case 0x08: c->dest = value; break;
    case 0x10: c->length = value; break;
    case 0x18: {
        uint8_t buffer[256];
        size_t length = c->length > sizeof buffer ? sizeof buffer : (size_t)c->length;
        c->status = host->platform->dma_read(c->device, c->source, buffer, length);
        if (c->status == BP_OK) c->status = host->platform->dma_write(c->device, c->dest, buffer, length);
        break;
    }
    default: break;
    }
}

static int copier_create(void *type_opaque, bp_platform_device *device, const bp_args *props, void **instance) {
    (void)type_opaque; (void)props;
    copier *c = calloc(1, sizeof *c);
    c->device = device;
    *instance = c;
    return 0;
}

static int install(const bp_host *h, bp_plugin *plugin, const bp_args *args) {
    (void)args;
    host = h;
    self = plugin;
    if (!BP_HAS(h, wake) || !BP_HAS(h->pci, set_msix_vectors) || !BP_HAS(h->platform, dma_write)) {
        h->set_error(plugin, "needs a host with plugin ABI 1.2");
        return 1;
    }
    bp_pci_device_type type;
    memset(&type, 0, sizeof type);
    type.struct_size = sizeof type;
    type.name = "acme.sgdma";
    type.summary = "scatter-gather DMA engine (ABI 1.2 example)";
    type.properties = properties;
    type.property_count = 2;
    type.vendor_id = 0x1234;
    type.device_id = 0x5ed3;
    type.class_code = 0xff0000;
    type.interrupt_pin = BP_PCI_PIN_INTA;
    type.bars[0] = (bp_pci_bar_spec){BP_PCI_BAR_MEM32, 0, 0x1000, BP_ACCESS_4 | BP_ACCESS_8, 0};
    type.bars[1] = (bp_pci_bar_spec){BP_PCI_BAR_MEM32, BP_PCI_BAR_RAM, 0x1000, 0, 0};
    type.msix_vectors = 2;
    type.msix_table_offset = 0x800;
    type.msix_pba_offset = 0xc00;
    type.create = create;
    type.bar_read = bar_read;
    type.bar_write = bar_write;
    type.destroy = destroy;
    type.config_events = BP_PCI_CHANGED_COMMAND | BP_PCI_CHANGED_MSIX;
    type.config_changed = config_changed;
    if (h->pci->register_type(plugin, &type) != BP_OK) return 1;

    bp_platform_device_type platform;
    memset(&platform, 0, sizeof platform);
    platform.struct_size = sizeof platform;
    platform.name = "acme.copier";
    platform.summary = "copies guest memory with platform DMA (ABI 1.2 example)";
    platform.compatible = "acme,copier";
    platform.minimum_size = 0x100;
    platform.access_sizes = BP_ACCESS_4 | BP_ACCESS_8;
    platform.create = copier_create;
    platform.read = copier_read;
    platform.write = copier_write;
    platform.destroy = destroy;
    return h->platform->register_type(plugin, &platform);
}

BP_PLUGIN_DEFINE("acme_sgdma", "ABI 1.2 example: scatter-gather PCI DMA, platform DMA, wake, config events", NULL, install, NULL)
