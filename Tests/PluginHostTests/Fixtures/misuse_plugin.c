/* A plugin that misuses every kind of handle (MisuseTests): each misuse must be refused with an
 * error code and a log line, never crash the host. `misuse_run(N)` (a QPP export) performs
 * misuse N and returns the host's answer; misuse during create/destroy/exit is recorded in
 * `misuse_results` (read by the test with dlsym). */
#include <backplane/backplane.h>
#include <pthread.h>

static const bp_host *host;
static bp_plugin *self;

/* Results recorded outside misuse_run: [0] msix_notify during create, [1] dma_read during
 * create, [2] set_irq on the own handle during destroy, [3] set_irq with the platform handle
 * after destroy (in exit), [4] dma_read with the PCI handle after destroy (in exit),
 * [5] usb->complete of a packet kept past destroy (in exit), [6] timer_start in exit on a
 * timer after the host freed it, [7] plugin_name on the own handle in exit. */
BP_EXPORT int misuse_results[8];

static bp_usb_packet *kept_packet;      /* completed once already */
static bp_usb_packet *pending_packet;   /* never completed by the plugin */
static bp_timer *freed_timer;
static bp_timer *live_timer;
static bp_pci_device *pci_device;
static bp_platform_device *platform_device;
static bp_usb_device *usb_device;
static int second_completion = 1;

static void on_timer(void *opaque, uint64_t now_ns) { (void)opaque; (void)now_ns; }

/* --- USB: vendor request 1 completes twice; vendor request 2 is kept pending. ------------ */
static const uint8_t device_descriptor[18] = {18, 1, 0x00, 0x02, 0, 0, 0, 64, 0x09, 0x12, 0x77, 0x00, 0, 1, 0, 0, 0, 1};
static const uint8_t configuration[18] = {9, 2, 18, 0, 1, 1, 0, 0x80, 50, 9, 4, 0, 0, 0, 0xff, 0, 0, 0};
static const bp_usb_configuration configurations[] = {{BP_USB_SPEED_FULL | BP_USB_SPEED_HIGH, sizeof configuration, configuration}};

static void usb_control(void *instance, bp_usb_packet *packet, const bp_usb_setup *setup, const uint8_t *data) {
    (void)instance; (void)data;
    if (setup->request == 1) {
        static const uint8_t answer = 0x5a;
        host->usb->complete(packet, BP_USB_SUCCESS, &answer, 1);
        second_completion = host->usb->complete(packet, BP_USB_SUCCESS, &answer, 1);
        kept_packet = packet;
    } else if (setup->request == 2) {
        pending_packet = packet;
    } else {
        host->usb->complete(packet, BP_USB_STALL, NULL, 0);
    }
}

static int usb_create(void *opaque, bp_usb_device *device, const bp_args *properties, void **instance) {
    (void)opaque; (void)properties;
    usb_device = device;
    *instance = NULL;
    return 0;
}

/* --- PCI: two MSI-X vectors in BAR 0. ----------------------------------------------------- */
static int pci_create(void *opaque, bp_pci_device *device, const bp_args *properties, void **instance) {
    (void)opaque; (void)properties;
    pci_device = device;
    misuse_results[0] = host->pci->msix_notify(device, 0);
    uint8_t byte;
    misuse_results[1] = host->pci->dma_read(device, 0x80000000u, &byte, 1);
    *instance = NULL;
    return 0;
}

/* --- Platform. ---------------------------------------------------------------------------- */
static int platform_create(void *opaque, bp_platform_device *device, const bp_args *properties, void **instance) {
    (void)opaque; (void)properties;
    platform_device = device;
    *instance = device;
    return 0;
}

static void platform_destroy(void *instance) {
    misuse_results[2] = host->platform->set_irq((bp_platform_device *)instance, 0, false);
}

static void *other_thread(void *argument) {
    int *result = argument;
    *result = host->platform->set_irq(platform_device, 0, true);
    return NULL;
}

static void *other_thread_wakeup(void *argument) {
    int *result = argument;
    *result = host->usb->remote_wakeup(usb_device);
    return NULL;
}

static int misuse_run(int what) {
    switch (what) {
    case 1: return second_completion;
    case 2: return host->usb->complete(kept_packet, BP_USB_SUCCESS, NULL, 0);
    case 3: return host->time->timer_start(freed_timer, 10, 0);
    case 4: return host->platform->set_irq((bp_platform_device *)live_timer, 0, true);
    case 5: return host->platform->set_irq((bp_platform_device *)(uintptr_t)0x1230, 0, true);
    case 6: return host->usb->complete(NULL, BP_USB_SUCCESS, NULL, 0);
    case 7: {
        int result = 12345;
        pthread_t thread;
        pthread_create(&thread, NULL, other_thread, &result);
        pthread_join(thread, NULL);
        return result;
    }
    case 8: return host->pci->msix_notify(pci_device, 7);
    case 9: return host->usb->complete((bp_usb_packet *)pci_device, BP_USB_SUCCESS, NULL, 0);
    case 10: return host->usb->speed(usb_device) != 0;
    case 11: return host->platform->set_irq(platform_device, 3, true);
    case 12: return host->usb->complete(pending_packet, 99, NULL, 0);
    case 13: return host->usb->complete(pending_packet, BP_USB_SUCCESS, NULL, 4);
    case 14: return host->usb->complete(pending_packet, BP_USB_STALL, NULL, 0);
    /* ABI 1.3 calls with a wrong thread, a foreign handle, NULL. */
    case 15: {
        int result = 12345;
        pthread_t thread;
        pthread_create(&thread, NULL, other_thread_wakeup, &result);
        pthread_join(thread, NULL);
        return result;
    }
    case 16: return host->usb->remote_wakeup((bp_usb_device *)pci_device);
    case 17: return host->usb->frame_number(NULL) == UINT32_MAX && host->usb->packet_frame(NULL) == UINT32_MAX;
    default: return -100;
    }
}
typedef int (*run_fn)(int);

static void on_exit(bp_plugin *plugin) {
    misuse_results[3] = host->platform->set_irq(platform_device, 0, true);
    uint8_t byte;
    misuse_results[4] = host->pci->dma_read(pci_device, 0, &byte, 1);
    misuse_results[5] = host->usb->complete(pending_packet, BP_USB_SUCCESS, NULL, 0);
    misuse_results[6] = host->time->timer_start(live_timer, 1, 0);
    misuse_results[7] = host->plugin_name(plugin) != NULL;
}

static int install(const bp_host *h, bp_plugin *plugin, const bp_args *args) {
    (void)args;
    host = h;
    self = plugin;
    bp_usb_device_type usb;
    memset(&usb, 0, sizeof usb);
    usb.struct_size = sizeof usb;
    usb.name = "misuse.usb";
    usb.speeds = BP_USB_SPEED_FULL | BP_USB_SPEED_HIGH;
    usb.device_descriptor = device_descriptor;
    usb.device_descriptor_length = sizeof device_descriptor;
    usb.configurations = configurations;
    usb.configuration_count = 1;
    usb.create = usb_create;
    usb.control = usb_control;
    if (host->usb->register_type(plugin, &usb) != BP_OK) return 1;

    bp_pci_device_type pci;
    memset(&pci, 0, sizeof pci);
    pci.struct_size = sizeof pci;
    pci.name = "misuse.pci";
    pci.vendor_id = 0x1234;
    pci.device_id = 0x5678;
    pci.bars[0] = (bp_pci_bar_spec){BP_PCI_BAR_MEM32, 0, 0x1000, 0, 0};
    pci.msix_vectors = 2;
    pci.msix_table_bar = 0;
    pci.msix_table_offset = 0;
    pci.msix_pba_bar = 0;
    pci.msix_pba_offset = 0x800;
    pci.create = pci_create;
    if (host->pci->register_type(plugin, &pci) != BP_OK) return 1;

    bp_platform_device_type platform;
    memset(&platform, 0, sizeof platform);
    platform.struct_size = sizeof platform;
    platform.name = "misuse.platform";
    platform.compatible = "misuse,platform";
    platform.minimum_size = 0x100;
    platform.irq_count_min = 1;
    platform.irq_count_max = 1;
    platform.create = platform_create;
    platform.destroy = platform_destroy;
    if (host->platform->register_type(plugin, &platform) != BP_OK) return 1;

    freed_timer = host->time->timer_new(plugin, on_timer, NULL);
    host->time->timer_free(freed_timer);
    live_timer = host->time->timer_new(plugin, on_timer, NULL);
    return host->qpp->export_function(plugin, "misuse_run", (bp_qpp_fn)(run_fn)misuse_run, "int(int)") == BP_OK ? 0 : 1;
}

BP_PLUGIN_DEFINE("misuse", "misuses handles", NULL, install, on_exit)
