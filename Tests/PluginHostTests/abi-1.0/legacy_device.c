/* A plugin built against the frozen ABI 1.0 headers: a PCI function with a RAM-backed BAR and a
 * callback BAR, a platform device, a timer and a QPP export. Must keep loading on every 1.x host. */
#include <backplane/backplane.h>

static const bp_host *host;
static bp_plugin *self;
static uint32_t fired;

static void on_timer(void *opaque, uint64_t now_ns) { (void)opaque; (void)now_ns; fired++; }

static uint64_t bar_read(void *instance, uint32_t bar, uint64_t offset, uint32_t size) {
    (void)instance; (void)size;
    if (bar == 0 && offset == 0) return 0x1e6acu;
    if (bar == 0 && offset == 4) return fired;
    return 0;
}

static int create(void *type_opaque, bp_pci_device *device, const bp_args *properties, void **instance) {
    (void)type_opaque; (void)properties;
    *instance = device;
    bp_timer *timer = host->time->timer_new(self, on_timer, NULL);
    return host->time->timer_start(timer, 0, 0);
}

static int answer(void) { return 42; }
typedef int (*answer_fn)(void);

static int install(const bp_host *h, bp_plugin *plugin, const bp_args *args) {
    (void)args;
    host = h;
    self = plugin;
    if (h->abi_major != 1) return 1;
    bp_pci_device_type type;
    memset(&type, 0, sizeof type);
    type.struct_size = sizeof type;
    type.name = "legacy.pci";
    type.summary = "ABI 1.0 PCI function";
    type.vendor_id = 0x1234;
    type.device_id = 0x1e6a;
    type.class_code = 0xff0000;
    type.bars[0] = (bp_pci_bar_spec){BP_PCI_BAR_MEM32, 0, 0x1000, BP_ACCESS_4, 0};
    type.bars[2] = (bp_pci_bar_spec){BP_PCI_BAR_MEM64, BP_PCI_BAR_RAM | BP_PCI_BAR_PREFETCHABLE, 0x4000, 0, 0};
    type.create = create;
    type.bar_read = bar_read;
    if (host->pci->register_type(self, &type) != BP_OK) return 1;
    return host->qpp->export_function(self, "answer", (bp_qpp_fn)(answer_fn)answer, "int(void)");
}

BP_PLUGIN_DEFINE("legacy_1_0", "built against the frozen ABI 1.0 headers", NULL, install, NULL)
