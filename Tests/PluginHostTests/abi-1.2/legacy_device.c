/* A plugin built against the frozen ABI 1.2 headers: a USB device type and a PCI function, with
 * no snapshot hooks (1.3 added them). Must keep loading and working on every 1.x host; a
 * snapshot of a machine with one of its devices is refused, naming the device. */
#include <backplane/backplane.h>

static const bp_host *host;

static const uint8_t device_descriptor[18] = {18, 1, 0x00, 0x02, 0, 0, 0, 64, 0x09, 0x12, 0x12, 0x00, 0, 1, 0, 0, 0, 1};
static const uint8_t configuration[9] = {9, 2, 9, 0, 0, 1, 0, 0x80, 50};
static const bp_usb_configuration configurations[] = {{BP_USB_SPEED_FULL, sizeof configuration, configuration}};

static void control(void *instance, bp_usb_packet *packet, const bp_usb_setup *setup, const uint8_t *data) {
    (void)instance; (void)data;
    uint8_t answer = (uint8_t)(setup->request + 2);
    host->usb->complete(packet, BP_USB_SUCCESS, &answer, 1);
}

static uint64_t bar_read(void *instance, uint32_t bar, uint64_t offset, uint32_t size) {
    (void)instance; (void)bar; (void)size;
    return offset == 0 ? 0x12aa : 0;
}

static int install(const bp_host *h, bp_plugin *self, const bp_args *args) {
    (void)args;
    host = h;
    if (!BP_HAS(h, wake)) return 1;
    bp_usb_device_type usb;
    memset(&usb, 0, sizeof usb);
    usb.struct_size = sizeof usb;
    usb.name = "legacy12.usb";
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
    pci.name = "legacy12.pci";
    pci.vendor_id = 0x1234;
    pci.device_id = 0x1212;
    pci.bars[0] = (bp_pci_bar_spec){BP_PCI_BAR_MEM32, 0, 0x1000, 0, 0};
    pci.bar_read = bar_read;
    return h->pci->register_type(self, &pci);
}

BP_PLUGIN_DEFINE("legacy_1_2", "built against ABI 1.2", NULL, install, NULL)
