/*
 * acme_edu: QEMU's edu teaching device (QEMU docs/specs/edu.rst) as a Backplane plugin, at the
 * PCI bus's interface level: the PCI core keeps configuration space, BAR sizing, MSI-X tables
 * and INTx routing; this file only models the device's own registers.
 *
 *   BAR 0 (1 MiB, 32/64-bit accesses): registers below, DMA buffer at 0x40000..0x41000
 *   BAR 1 (4 KiB): MSI-X table (1 vector) at 0, PBA at 0x800 (answered by the PCI core)
 *   Vendor capability (8 bytes): byte 4..7 = factorial latency in ns (read/write)
 *
 * Unlike the built-in `edu`, work takes virtual time: a factorial keeps status bit 0
 * ("computing") set for `latency-ns` ns; a DMA keeps command bit 0 set for `dma-latency-ns`.
 * Completion raises MSI-X vector 0 when the guest enabled MSI-X, INTA otherwise.
 */
#include <backplane/backplane.h>

#define REG_ID 0x00
#define REG_LIVENESS 0x04
#define REG_FACTORIAL 0x08
#define REG_STATUS 0x20
#define REG_IRQ_STATUS 0x24
#define REG_IRQ_RAISE 0x60
#define REG_IRQ_ACK 0x64
#define REG_DMA_SRC 0x80
#define REG_DMA_DST 0x88
#define REG_DMA_COUNT 0x90
#define REG_DMA_CMD 0x98

#define STATUS_COMPUTING 0x01u
#define STATUS_IRQ_FACTORIAL 0x80u
#define DMA_START 0x1u
#define DMA_TO_RAM 0x2u
#define DMA_IRQ 0x4u
#define DMA_FAILED 0x8u
#define IRQ_FACTORIAL 0x001u
#define IRQ_DMA 0x100u

#define DMA_BASE 0x40000u
#define DMA_SIZE 4096u

static const bp_host *host;
static bp_plugin *self;

typedef struct edu {
    bp_pci_device *device;
    bp_timer *factorial_timer;
    bp_timer *dma_timer;
    uint64_t latency_ns;
    uint64_t dma_latency_ns;
    uint32_t liveness;
    uint32_t factorial;
    uint32_t pending_input;
    uint32_t status;
    uint32_t irq_status;
    uint64_t dma_src, dma_dst, dma_count, dma_cmd;
    uint8_t buffer[DMA_SIZE];
} edu;

static void update_intx(edu *e) {
    host->pci->set_intx(e->device, !host->pci->msix_enabled(e->device) && e->irq_status != 0);
}

static void raise_irq(edu *e, uint32_t cause) {
    e->irq_status |= cause;
    if (host->pci->msix_enabled(e->device))
        host->pci->msix_notify(e->device, 0);
    else
        update_intx(e);
}

static void factorial_done(void *opaque, uint64_t now_ns) {
    (void)now_ns;
    edu *e = opaque;
    uint32_t n = e->pending_input, result = 1;
    /* From 34 on the 32-bit result is 0 (34! has 32 factors of two). */
    if (n >= 34) result = 0;
    else for (uint32_t i = 2; i <= n; i++) result *= i;
    e->factorial = result;
    e->status &= ~STATUS_COMPUTING;
    if (e->status & STATUS_IRQ_FACTORIAL) raise_irq(e, IRQ_FACTORIAL);
}

static void dma_done(void *opaque, uint64_t now_ns) {
    (void)now_ns;
    edu *e = opaque;
    int to_ram = (e->dma_cmd & DMA_TO_RAM) != 0;
    uint64_t device = to_ram ? e->dma_src : e->dma_dst;
    uint64_t ram = to_ram ? e->dma_dst : e->dma_src;
    int status = BP_ERR_INVALID;
    /* The transfer must lie inside the buffer; compare without overflowing. */
    if (device >= DMA_BASE && device - DMA_BASE < DMA_SIZE && e->dma_count <= DMA_SIZE - (device - DMA_BASE)) {
        uint8_t *at = e->buffer + (device - DMA_BASE);
        status = to_ram ? host->pci->dma_write(e->device, ram, at, (size_t)e->dma_count)
                        : host->pci->dma_read(e->device, ram, at, (size_t)e->dma_count);
    }
    e->dma_cmd &= ~DMA_START;
    if (status != BP_OK) e->dma_cmd |= DMA_FAILED;
    if (e->dma_cmd & DMA_IRQ) raise_irq(e, IRQ_DMA);
}

static uint64_t bar_read(void *instance, uint32_t bar, uint64_t offset, uint32_t size) {
    edu *e = instance;
    if (bar != 0) return 0;
    if (offset >= DMA_BASE && offset - DMA_BASE <= DMA_SIZE - size) {
        uint64_t value = 0;
        memcpy(&value, e->buffer + (offset - DMA_BASE), size);
        return value;
    }
    switch (offset) {
    case REG_ID: return 0x010000edu;
    case REG_LIVENESS: return (uint32_t)~e->liveness;
    case REG_FACTORIAL: return e->factorial;
    case REG_STATUS: return e->status;
    case REG_IRQ_STATUS: return e->irq_status;
    case REG_DMA_SRC: return e->dma_src;
    case REG_DMA_DST: return e->dma_dst;
    case REG_DMA_COUNT: return e->dma_count;
    case REG_DMA_CMD: return e->dma_cmd;
    default: return 0;
    }
}

static void bar_write(void *instance, uint32_t bar, uint64_t offset, uint32_t size, uint64_t value) {
    edu *e = instance;
    if (bar != 0) return;
    if (offset >= DMA_BASE && offset - DMA_BASE <= DMA_SIZE - size) {
        memcpy(e->buffer + (offset - DMA_BASE), &value, size);
        return;
    }
    uint32_t word = (uint32_t)value;
    switch (offset) {
    case REG_LIVENESS: e->liveness = word; break;
    case REG_FACTORIAL:
        if (e->status & STATUS_COMPUTING) break;   /* busy: ignored, as on QEMU */
        e->pending_input = word;
        e->status |= STATUS_COMPUTING;
        host->time->timer_start(e->factorial_timer, e->latency_ns, 0);
        break;
    case REG_STATUS: e->status = (e->status & STATUS_COMPUTING) | (word & STATUS_IRQ_FACTORIAL); break;
    case REG_IRQ_RAISE: raise_irq(e, word); break;
    case REG_IRQ_ACK: e->irq_status &= ~word; update_intx(e); break;
    case REG_DMA_SRC: e->dma_src = value; break;
    case REG_DMA_DST: e->dma_dst = value; break;
    case REG_DMA_COUNT: e->dma_count = value; break;
    case REG_DMA_CMD:
        if (e->dma_cmd & DMA_START) break;
        e->dma_cmd = value & (DMA_START | DMA_TO_RAM | DMA_IRQ);
        if (e->dma_cmd & DMA_START) host->time->timer_start(e->dma_timer, e->dma_latency_ns, 0);
        break;
    default: break;
    }
}

/* Vendor capability bytes 4..7: the factorial latency in ns (low 32 bits). */
static uint32_t config_read(void *instance, uint32_t offset, uint32_t size) {
    edu *e = instance;
    if (offset < 4) return 0;
    uint32_t latency = (uint32_t)e->latency_ns;
    return (latency >> (8 * (offset - 4))) & (size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1);
}

static void config_write(void *instance, uint32_t offset, uint32_t size, uint32_t value) {
    edu *e = instance;
    if (offset == 4 && size == 4) e->latency_ns = value;
}

static void reset(void *instance) {
    edu *e = instance;
    host->time->timer_stop(e->factorial_timer);
    host->time->timer_stop(e->dma_timer);
    bp_pci_device *device = e->device;
    bp_timer *ft = e->factorial_timer, *dt = e->dma_timer;
    uint64_t latency = e->latency_ns, dma_latency = e->dma_latency_ns;
    memset(e, 0, sizeof *e);
    e->device = device; e->factorial_timer = ft; e->dma_timer = dt;
    e->latency_ns = latency; e->dma_latency_ns = dma_latency;
}

static int create(void *type_opaque, bp_pci_device *device, const bp_args *properties, void **instance) {
    (void)type_opaque;
    edu *e = calloc(1, sizeof *e);
    if (!e) return BP_ERR_INVALID;
    e->device = device;
    e->latency_ns = bp_args_u64(properties, "latency-ns", 10000);
    e->dma_latency_ns = bp_args_u64(properties, "dma-latency-ns", 10000);
    e->factorial_timer = host->time->timer_new(self, factorial_done, e);
    e->dma_timer = host->time->timer_new(self, dma_done, e);
    *instance = e;
    return BP_OK;
}

static void destroy(void *instance) {
    edu *e = instance;
    host->time->timer_free(e->factorial_timer);
    host->time->timer_free(e->dma_timer);
    free(e);
}

static const bp_property_spec properties[] = {
    {"latency-ns", BP_PROPERTY_INTEGER, "10000", "virtual ns a factorial takes"},
    {"dma-latency-ns", BP_PROPERTY_INTEGER, "10000", "virtual ns a DMA transfer takes"},
};

static int install(const bp_host *h, bp_plugin *plugin, const bp_args *args) {
    (void)args;
    host = h;
    self = plugin;
    bp_pci_device_type type;
    memset(&type, 0, sizeof type);
    type.struct_size = sizeof type;
    type.name = "acme.edu";
    type.summary = "QEMU-edu-like device (1234:acde): ID, factorial and DMA taking virtual time, MSI-X or INTA";
    type.properties = properties;
    type.property_count = 2;
    type.vendor_id = 0x1234;
    type.device_id = 0xacde;
    type.subsystem_vendor_id = 0x1af4;
    type.subsystem_id = 0x1100;
    type.revision = 0x10;
    type.interrupt_pin = BP_PCI_PIN_INTA;
    type.class_code = 0x00ff00;
    type.bars[0] = (bp_pci_bar_spec){BP_PCI_BAR_MEM32, 0, 1u << 20, BP_ACCESS_4 | BP_ACCESS_8, 0};
    type.bars[1] = (bp_pci_bar_spec){BP_PCI_BAR_MEM32, 0, 0x1000, BP_ACCESS_4 | BP_ACCESS_8, 0};
    type.msix_vectors = 1;
    type.msix_table_bar = 1;
    type.msix_table_offset = 0;
    type.msix_pba_bar = 1;
    type.msix_pba_offset = 0x800;
    type.vendor_capability_length = 8;
    type.create = create;
    type.bar_read = bar_read;
    type.bar_write = bar_write;
    type.vendor_config_read = config_read;
    type.vendor_config_write = config_write;
    type.reset = reset;
    type.destroy = destroy;
    return host->pci->register_type(self, &type);
}

BP_PLUGIN_DEFINE("acme_edu", "an edu-like PCI device with latency in virtual time", NULL, install, NULL)
