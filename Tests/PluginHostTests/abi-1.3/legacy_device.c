/* A plugin built against the frozen ABI 1.3 headers: a PCI function whose BAR0 holds one
 * register, saved and restored through the 1.3 snapshot hooks. Must keep loading, working and
 * snapshotting on every 1.x host. */
#include <stdlib.h>
#include <backplane/backplane.h>

static const bp_host *host;

typedef struct { uint32_t value; } legacy_instance;

static int create(void *type_opaque, bp_pci_device *device, const bp_args *properties, void **instance) {
    (void)type_opaque; (void)device; (void)properties;
    legacy_instance *self = calloc(1, sizeof *self);
    if (!self) return 1;
    self->value = 0x13aa;
    *instance = self;
    return 0;
}

static void destroy(void *instance) { free(instance); }

static uint64_t bar_read(void *instance, uint32_t bar, uint64_t offset, uint32_t size) {
    (void)bar; (void)size;
    return offset == 0 ? ((legacy_instance *)instance)->value : 0;
}

static void bar_write(void *instance, uint32_t bar, uint64_t offset, uint32_t size, uint64_t value) {
    (void)bar; (void)size;
    if (offset == 0) ((legacy_instance *)instance)->value = (uint32_t)value;
}

/* The saved layout: a version byte, then the register. */
static int save(void *instance, bp_snapshot *snapshot) {
    const uint8_t version = 1;
    if (host->snapshot->write(snapshot, &version, 1) != BP_OK) return 1;
    return host->snapshot->write(snapshot, &((legacy_instance *)instance)->value, 4) != BP_OK;
}

static int restore(void *instance, bp_snapshot *snapshot) {
    uint8_t version = 0;
    if (host->snapshot->read(snapshot, &version, 1) != BP_OK || version != 1) return 1;
    return host->snapshot->read(snapshot, &((legacy_instance *)instance)->value, 4) != BP_OK;
}

static int install(const bp_host *h, bp_plugin *self, const bp_args *args) {
    (void)args;
    host = h;
    if (!BP_HAS(h, snapshot)) return 1;
    bp_pci_device_type pci;
    memset(&pci, 0, sizeof pci);
    pci.struct_size = sizeof pci;
    pci.name = "legacy13.pci";
    pci.vendor_id = 0x1234;
    pci.device_id = 0x1313;
    pci.bars[0] = (bp_pci_bar_spec){BP_PCI_BAR_MEM32, 0, 0x1000, 0, 0};
    pci.create = create;
    pci.destroy = destroy;
    pci.bar_read = bar_read;
    pci.bar_write = bar_write;
    pci.save = save;
    pci.restore = restore;
    return h->pci->register_type(self, &pci);
}

BP_PLUGIN_DEFINE("legacy_1_3", "built against ABI 1.3", NULL, install, NULL)
