/* Registers device types with one descriptor mistake each (ValidationTests), chosen by
 * defines; every register_type result is ignored, so the host must report all refusals. */
#include <backplane/backplane.h>

#ifndef ENDPOINT_ATTRIBUTES
#define ENDPOINT_ATTRIBUTES 2 /* bulk */
#endif
#ifndef INTERVAL
#define INTERVAL 0
#endif
#ifndef ALTERNATE
#define ALTERNATE 0
#endif

static const uint8_t device_descriptor[18] = {18, 1, 0x00, 0x02, 0, 0, 0, 64, 0x09, 0x12, 0x78, 0x00, 0, 1, STRING_MANUFACTURER, 0, 0, 1};
/* One interface (alternate ALTERNATE) with NUM_ENDPOINTS declared and one IN endpoint of
 * BULK_SIZE bytes (wMaxPacketSize, with bits 12:11), ENDPOINT_ATTRIBUTES and INTERVAL. */
static const uint8_t configuration[25] = {
    9, 2, 25, 0, 1, 1, 0, 0x80, 50,
    9, 4, 0, ALTERNATE, NUM_ENDPOINTS, 0xff, 0, 0, 0,
    7, 5, 0x81, ENDPOINT_ATTRIBUTES, BULK_SIZE & 0xff, BULK_SIZE >> 8, INTERVAL};
static int dummy_hook(void *instance, bp_snapshot *snapshot) { (void)instance; (void)snapshot; return 0; }
static const bp_usb_configuration configurations[] = {{USB_SPEEDS, sizeof configuration, configuration}};
static const char *const strings[] = {"one"};

__attribute__((unused)) static void usb_type(const bp_host *host, bp_plugin *self, const char *name) {
    bp_usb_device_type usb;
    memset(&usb, 0, sizeof usb);
    usb.struct_size = sizeof usb;
    usb.name = name;
    usb.speeds = USB_SPEEDS;
    usb.device_descriptor = device_descriptor;
    usb.device_descriptor_length = sizeof device_descriptor;
    usb.configurations = configurations;
    usb.configuration_count = 1;
    usb.strings = strings;
    usb.string_count = STRING_COUNT;
#ifdef SAVE_ONLY
    usb.save = dummy_hook;
#endif
    (void)host->usb->register_type(self, &usb);
}

__attribute__((unused)) static void pci_type(const bp_host *host, bp_plugin *self, const char *name, uint32_t vectors, uint64_t pba) {
    bp_pci_device_type pci;
    memset(&pci, 0, sizeof pci);
    pci.struct_size = sizeof pci;
    pci.name = name;
    pci.bars[0] = (bp_pci_bar_spec){BP_PCI_BAR_MEM32, 0, 0x1000, 0, 0};
    pci.msix_vectors = vectors;
    pci.msix_pba_offset = pba;
    (void)host->pci->register_type(self, &pci);
}

__attribute__((unused)) static void pci_bad_type(const bp_host *host, bp_plugin *self) {
    bp_pci_device_type pci;
    memset(&pci, 0, sizeof pci);
    pci.struct_size = sizeof pci;
    pci.name = "v.pcibad";
    pci.bars[0] = (bp_pci_bar_spec){BP_PCI_BAR_MEM32, 0, 0x1000, 0, 0};
    pci.bars[1] = (bp_pci_bar_spec){BP_PCI_BAR_IO, 0, 0x18, 0, 0};
    pci.msi_vectors = 3;
    pci.msix_vectors = 8;
    pci.msix_pba_offset = 0x40;
    pci.interrupt_pin = 7;
    pci.restore = dummy_hook;
    (void)host->pci->register_type(self, &pci);
}

static int install(const bp_host *host, bp_plugin *self, const bp_args *args) {
    (void)args;
#ifdef USB_TYPE
    usb_type(host, self, "v.usb");
#endif
#ifdef PCI_VECTORS
    pci_type(host, self, "v.pci", PCI_VECTORS, PCI_PBA);
#endif
#ifdef BAD_PCI
    pci_bad_type(host, self);
#endif
#ifdef SECOND_PCI_VECTORS
    pci_type(host, self, "v.pci2", SECOND_PCI_VECTORS, 0x800);
#endif
    return 0;
}

BP_PLUGIN_DEFINE(PLUGIN_NAME, "descriptor mistakes", NULL, install, NULL)
