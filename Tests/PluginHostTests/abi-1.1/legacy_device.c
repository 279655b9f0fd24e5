/* A plugin built against the frozen ABI 1.1 headers: a USB device type, a PCI function with
 * MSI-X and the instrumentation table. Must keep loading on every 1.x host, and keep the 1.1
 * meaning of msix_notify (BP_OK even when the message was not sent). */
#include <backplane/backplane.h>

static const bp_host *host;
static int create_notify = 12345;
static int had_instrument;

static const uint8_t device_descriptor[18] = {18, 1, 0x00, 0x02, 0, 0, 0, 64, 0x09, 0x12, 0x11, 0x00, 0, 1, 0, 0, 0, 1};
static const uint8_t configuration[9] = {9, 2, 9, 0, 0, 1, 0, 0x80, 50};
static const bp_usb_configuration configurations[] = {{BP_USB_SPEED_FULL, sizeof configuration, configuration}};

static void control(void *instance, bp_usb_packet *packet, const bp_usb_setup *setup, const uint8_t *data) {
    (void)instance; (void)data;
    uint8_t answer = (uint8_t)(setup->request + 1);
    host->usb->complete(packet, BP_USB_SUCCESS, &answer, 1);
}

static int pci_create(void *type_opaque, bp_pci_device *device, const bp_args *properties, void **instance) {
    (void)type_opaque; (void)properties;
    create_notify = host->pci->msix_notify(device, 0);
    *instance = device;
    return 0;
}

static int report(int what) { return what == 0 ? create_notify : had_instrument; }
typedef int (*report_fn)(int);

static int install(const bp_host *h, bp_plugin *self, const bp_args *args) {
    (void)args;
    host = h;
    had_instrument = h->instrument != NULL && h->usb != NULL;
    bp_usb_device_type usb;
    memset(&usb, 0, sizeof usb);
    usb.struct_size = sizeof usb;
    usb.name = "legacy11.usb";
    usb.speeds = BP_USB_SPEED_FULL;
    usb.device_descriptor = device_descriptor;
    usb.device_descriptor_length = sizeof device_descriptor;
    usb.configurations = configurations;
    usb.configuration_count = 1;
    usb.control = control;
    if (h->usb->register_type(self, &usb) != BP_OK) return 1;
    bp_pci_device_type pci;
    memset(&pci, 0, sizeof pci);
    pci.struct_size = sizeof pci;
    pci.name = "legacy11.pci";
    pci.vendor_id = 0x1234;
    pci.device_id = 0x1111;
    pci.bars[0] = (bp_pci_bar_spec){BP_PCI_BAR_MEM32, 0, 0x1000, 0, 0};
    pci.msix_vectors = 1;
    pci.msix_pba_offset = 0x800;
    pci.create = pci_create;
    if (h->pci->register_type(self, &pci) != BP_OK) return 1;
    return h->qpp->export_function(self, "report", (bp_qpp_fn)(report_fn)report, "int(int)") == BP_OK ? 0 : 1;
}

BP_PLUGIN_DEFINE("legacy_1_1", "built against ABI 1.1", NULL, install, NULL)
