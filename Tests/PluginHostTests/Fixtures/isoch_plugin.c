/* An ABI 1.3 USB device for PluginUSBIsochTests: a high-speed audio-like function with an
 * isochronous IN and OUT endpoint in alternate setting 1 of interface 0 (USB 2.0 §5.6.3: the
 * default setting claims no isochronous bandwidth), remote wakeup declared in bmAttributes,
 * and snapshot hooks. QPP exports let the test look inside. Beside it a PCI function
 * (t.word.pci) and a platform device (t.word.platform), each one 32-bit register at offset 0
 * of BAR 0 / its window, with snapshot hooks that save it. */
#include <backplane/backplane.h>

static const bp_host *host;

static const uint8_t device_descriptor[18] = {18, 1, 0x00, 0x02, 0, 0, 0, 64, 0x09, 0x12, 0x13, 0x00, 0, 1, 0, 0, 0, 1};
/* Configuration 1: remote wakeup (bmAttributes 0xa0); interface 0 alternate 0 without
 * endpoints, alternate 1 with isochronous IN 0x81 and OUT 0x02, 192 bytes every 2^(4-1) = 8
 * microframes (bInterval 4). */
static const uint8_t configuration[] = {
    9, 2, 41, 0, 1, 1, 0, 0xa0, 50,
    9, 4, 0, 0, 0, 0xff, 0, 0, 0,
    9, 4, 0, 1, 2, 0xff, 0, 0, 0,
    7, 5, 0x81, 0x05, 192, 0, 4,
    7, 5, 0x02, 0x05, 192, 0, 4};
static const bp_usb_configuration configurations[] = {{BP_USB_SPEED_HIGH, sizeof configuration, configuration}};

static bp_usb_device *last_device;
/* What the plugin saw: IN packets served, the last OUT packet's microframe and first byte. */
static int in_packets;
static uint32_t out_packets;
static uint32_t last_out_frame = UINT32_MAX;
static int last_out_byte = -1;
/* State the snapshot hooks carry. */
static uint32_t counter;
/* Misuse: the stream handle kept after save returned, and a read tried during save. */
static bp_snapshot *kept;
static int read_during_save = 12345;

static int create(void *type_opaque, bp_usb_device *device, const bp_args *properties, void **instance) {
    (void)type_opaque; (void)properties;
    last_device = device;
    *instance = device;
    /* A test process loads the library once: start each instance from scratch. */
    in_packets = 0;
    out_packets = 0;
    last_out_frame = UINT32_MAX;
    last_out_byte = -1;
    counter = 0;
    return 0;
}

static void transfer(void *instance, bp_usb_packet *packet, uint8_t endpoint, const uint8_t *data, uint32_t length) {
    bp_usb_device *device = instance;
    uint32_t frame = host->usb->packet_frame(packet);
    if (endpoint & 0x80) {
        /* IN: the microframe the packet is scheduled in, MFINDEX as the plugin reads it now, the
         * OUT packets seen so far and the first byte of the last one. */
        uint32_t answer[4] = {frame, host->usb->frame_number(device), out_packets, (uint32_t)last_out_byte};
        in_packets++;
        host->usb->complete(packet, BP_USB_SUCCESS, answer, length < sizeof answer ? length : (uint32_t)sizeof answer);
    } else {
        out_packets++;
        last_out_frame = frame;
        last_out_byte = length > 0 ? data[0] : -1;
        host->usb->complete(packet, BP_USB_SUCCESS, NULL, 0);
    }
}

static int save(void *instance, bp_snapshot *snapshot) {
    (void)instance;
    uint32_t version = 1, scratch;
    kept = snapshot;
    read_during_save = host->snapshot->read(snapshot, &scratch, sizeof scratch);
    if (host->snapshot->write(snapshot, &version, sizeof version) != BP_OK) return 1;
    return host->snapshot->write(snapshot, &counter, sizeof counter) == BP_OK ? 0 : 1;
}

static int restore(void *instance, bp_snapshot *snapshot) {
    (void)instance;
    uint32_t version = 0;
    if (host->snapshot->read(snapshot, &version, sizeof version) != BP_OK || version != 1) return 1;
    return host->snapshot->read(snapshot, &counter, sizeof counter) == BP_OK ? 0 : 2;
}

/* One register per PCI or platform instance, saved by word_save. */
static uint32_t words[8];
static int word_count;

static int word_create(void *type_opaque, void *device, const bp_args *properties, void **instance) {
    (void)type_opaque; (void)device; (void)properties;
    if (word_count == 8) return 1;
    words[word_count] = 0;
    *instance = &words[word_count++];
    return 0;
}
static int pci_word_create(void *o, bp_pci_device *d, const bp_args *p, void **i) { return word_create(o, d, p, i); }
static int platform_word_create(void *o, bp_platform_device *d, const bp_args *p, void **i) { return word_create(o, d, p, i); }
static uint64_t bar_read(void *instance, uint32_t bar, uint64_t offset, uint32_t size) {
    (void)bar; (void)size;
    return offset == 0 ? *(uint32_t *)instance : 0;
}
static void bar_write(void *instance, uint32_t bar, uint64_t offset, uint32_t size, uint64_t value) {
    (void)bar; (void)size;
    if (offset == 0) *(uint32_t *)instance = (uint32_t)value;
}
static uint64_t mmio_read(void *instance, uint64_t offset, uint32_t size) { return bar_read(instance, 0, offset, size); }
static void mmio_write(void *instance, uint64_t offset, uint32_t size, uint64_t value) { bar_write(instance, 0, offset, size, value); }
static int word_save(void *instance, bp_snapshot *snapshot) {
    return host->snapshot->write(snapshot, instance, sizeof(uint32_t)) == BP_OK ? 0 : 1;
}
static int word_restore(void *instance, bp_snapshot *snapshot) {
    return host->snapshot->read(snapshot, instance, sizeof(uint32_t)) == BP_OK ? 0 : 1;
}

/* QPP: 0 remote_wakeup's result, 1 IN packets served, 2 last OUT microframe, 3 last OUT byte,
 * 4 the counter, 5 counter += 1; misuse that must be refused: 6 a snapshot->write on a made-up
 * handle, 7 on the handle of a save that has returned, 8 what a read during save returned. */
static int probe(int what) {
    switch (what) {
    case 0: return host->usb->remote_wakeup(last_device);
    case 1: return in_packets;
    case 2: return (int)last_out_frame;
    case 3: return last_out_byte;
    case 4: return (int)counter;
    case 5: return (int)++counter;
    case 6: return host->snapshot->write((bp_snapshot *)(uintptr_t)0x1234, &counter, sizeof counter);
    case 7: return host->snapshot->write(kept, &counter, sizeof counter);
    case 8: return read_during_save;
    default: return -100;
    }
}
typedef int (*probe_fn)(int);

static int install(const bp_host *h, bp_plugin *self, const bp_args *args) {
    (void)args;
    host = h;
    if (!BP_HAS(h, snapshot) || !BP_HAS(h->usb, packet_frame)) return 1;
    bp_usb_device_type usb;
    memset(&usb, 0, sizeof usb);
    usb.struct_size = sizeof usb;
    usb.name = "t.isoch";
    usb.speeds = BP_USB_SPEED_HIGH;
    usb.device_descriptor = device_descriptor;
    usb.device_descriptor_length = sizeof device_descriptor;
    usb.configurations = configurations;
    usb.configuration_count = 1;
    usb.create = create;
    usb.transfer = transfer;
    usb.save = save;
    usb.restore = restore;
    if (h->usb->register_type(self, &usb) != BP_OK) return 1;
    word_count = 0;
    bp_pci_device_type pci;
    memset(&pci, 0, sizeof pci);
    pci.struct_size = sizeof pci;
    pci.name = "t.word.pci";
    pci.vendor_id = 0x1234;
    pci.device_id = 0x1313;
    pci.bars[0] = (bp_pci_bar_spec){BP_PCI_BAR_MEM32, 0, 0x1000, 0, 0};
    pci.create = pci_word_create;
    pci.bar_read = bar_read;
    pci.bar_write = bar_write;
    pci.save = word_save;
    pci.restore = word_restore;
    if (h->pci->register_type(self, &pci) != BP_OK) return 1;
    bp_platform_device_type platform;
    memset(&platform, 0, sizeof platform);
    platform.struct_size = sizeof platform;
    platform.name = "t.word.platform";
    platform.compatible = "test,word";
    platform.minimum_size = 0x100;
    platform.create = platform_word_create;
    platform.read = mmio_read;
    platform.write = mmio_write;
    platform.save = word_save;
    platform.restore = word_restore;
    if (h->platform->register_type(self, &platform) != BP_OK) return 1;
    return h->qpp->export_function(self, "probe", (bp_qpp_fn)(probe_fn)probe, "int(int)") == BP_OK ? 0 : 1;
}

BP_PLUGIN_DEFINE("isoch_test", "isochronous endpoints, remote wakeup and snapshot hooks", NULL, install, NULL)
