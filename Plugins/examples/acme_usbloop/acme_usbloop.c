/*
 * acme_usbloop: a vendor-specific USB loopback device as a Backplane plugin (usb.h, ABI 1.1),
 * the C twin of the built-in `usb-loopback` (Modules/USB/USBLoopback.swift) with the same
 * protocol, so one guest driver serves both:
 *
 *   Bulk OUT 0x01       bytes are appended to a FIFO of `capacity` bytes; an OUT that does not
 *                       fit stays pending until the host has read enough (back-pressure).
 *   Bulk IN 0x81        returns queued bytes, `latency-ns` of virtual time after data is there
 *                       (completed from a timer: asynchronous completion); with nothing queued
 *                       the packet waits for data.
 *   Interrupt IN 0x82   a 4-byte little-endian count of queued bytes, whenever it changes.
 *   Vendor request 0x01 (IN, device recipient): the queued byte count, 4 bytes LE.
 *   Vendor request 0x02 (OUT): empty the FIFO.
 *
 * The host's USB core answers every standard request from the descriptors below; this file
 * models only the vendor requests and the three endpoints. docs/usb.md walks through it.
 */
#include <backplane/backplane.h>

#define VENDOR_ID 0x1209  /* pid.codes */
#define PRODUCT_ID 0x0005 /* pid.codes test range */
#define REQUEST_QUEUED_BYTES 0x01
#define REQUEST_CLEAR 0x02

static const bp_host *host;
static bp_plugin *self;

/* Device descriptor (USB 2.0 §9.6.1): bcdUSB 3.2 (the core reports 2.1 below super speed),
 * vendor-specific class, 64-byte EP0, strings 1-3, one configuration. */
static const uint8_t device_descriptor[18] = {
    18, 1, 0x20, 0x03, 0xff, 0x00, 0x00, 64,
    VENDOR_ID & 0xff, VENDOR_ID >> 8, PRODUCT_ID & 0xff, PRODUCT_ID >> 8, 0x00, 0x01,
    1, 2, 3, 1,
};

/* Configuration 1 with one vendor-specific interface and three endpoints (USB 2.0 §9.6.3-6):
 * bulk packets are 64 bytes at full speed and 512 at high speed (§5.8.3); the interrupt
 * endpoint polls every 8 ms (bInterval 8 frames, or 2^(7-1) microframes at high speed). */
#define CONFIG_HEADER(total) 9, 2, (total), 0, 1, 1, 0, 0x80, 50, \
                             9, 4, 0, 0, 3, 0xff, 0x00, 0x00, 0
static const uint8_t config_full[39] = {
    CONFIG_HEADER(39),
    7, 5, 0x01, 0x02, 64, 0, 0,
    7, 5, 0x81, 0x02, 64, 0, 0,
    7, 5, 0x82, 0x03, 8, 0, 8,
};
static const uint8_t config_high[39] = {
    CONFIG_HEADER(39),
    7, 5, 0x01, 0x02, 0x00, 0x02, 0,
    7, 5, 0x81, 0x02, 0x00, 0x02, 0,
    7, 5, 0x82, 0x03, 8, 0, 7,
};
/* At super speed every endpoint is followed by its companion (USB 3.2 §9.6.7): no bursts,
 * 1024-byte bulk packets, 8 bytes per interval on the interrupt endpoint. */
static const uint8_t config_super[57] = {
    CONFIG_HEADER(57),
    7, 5, 0x01, 0x02, 0x00, 0x04, 0, 6, 48, 0, 0, 0, 0,
    7, 5, 0x81, 0x02, 0x00, 0x04, 0, 6, 48, 0, 0, 0, 0,
    7, 5, 0x82, 0x03, 8, 0, 7, 6, 48, 0, 0, 8, 0,
};
/* BOS (USB 3.2 §9.6.2): USB 2.0 extension without LPM, SuperSpeed capability (full, high and
 * super speed; full functionality from full speed; U1/U2 exit latencies 10 and 2047 µs). */
static const uint8_t bos[22] = {
    5, 15, 22, 0, 2,
    7, 16, 2, 0, 0, 0, 0,
    10, 16, 3, 0, 0x0e, 0x00, 1, 10, 0xff, 0x07,
};
static const bp_usb_configuration configurations[] = {
    {BP_USB_SPEED_FULL, sizeof config_full, config_full},
    {BP_USB_SPEED_HIGH, sizeof config_high, config_high},
    {BP_USB_SPEED_SUPER, sizeof config_super, config_super},
};
static const char *const strings[] = {"ACME", "ACME USB Loopback", "ACME0001"};

static const bp_property_spec properties[] = {
    {"capacity", BP_PROPERTY_INTEGER, "65536", "FIFO bytes (1...16777216)"},
    {"latency-ns", BP_PROPERTY_INTEGER, "10000", "virtual ns from queued data to the bulk IN completion"},
};

typedef struct loop {
    bp_usb_device *device;
    bp_timer *in_timer;
    uint64_t latency_ns;
    uint8_t *fifo;    /* queued bytes at [0, count) */
    uint8_t *scratch; /* an IN chunk while it is handed over */
    uint32_t capacity;
    uint32_t count;
    uint32_t reported; /* the count the interrupt endpoint last sent */
    /* At most one packet per endpoint is in flight (one TD at a time per xHCI endpoint). */
    bp_usb_packet *out;
    const uint8_t *out_data;
    uint32_t out_length;
    bp_usb_packet *in;
    uint32_t in_length;
    bp_usb_packet *status;
    bool in_timer_armed;
} loop;

static void put_le32(uint8_t *bytes, uint32_t value) {
    for (int i = 0; i < 4; i++) bytes[i] = (uint8_t)(value >> (8 * i));
}

/* Hands queued bytes to the pending IN packet. State is updated before complete, which may
 * give this device its next packet straight away (the host runs the next TD). */
static void deliver_in(loop *l) {
    bp_usb_packet *packet = l->in;
    uint32_t n = l->in_length < l->count ? l->in_length : l->count;
    l->in = NULL;
    memcpy(l->scratch, l->fifo, n);
    memmove(l->fifo, l->fifo + n, l->count - n);
    l->count -= n;
    host->usb->complete(packet, BP_USB_SUCCESS, l->scratch, n);
}

/* Moves data between the pending packets and the FIFO until nothing more can move. */
static void service(loop *l) {
    bool progress = true;
    while (progress) {
        progress = false;
        if (l->out && l->out_length <= l->capacity - l->count) {
            bp_usb_packet *packet = l->out;
            l->out = NULL;
            memcpy(l->fifo + l->count, l->out_data, l->out_length);
            l->count += l->out_length;
            host->usb->complete(packet, BP_USB_SUCCESS, NULL, 0);
            progress = true;
        }
        if (l->in && l->count > 0 && !l->in_timer_armed) {
            if (l->latency_ns == 0) {
                deliver_in(l);
                progress = true;
            } else {
                l->in_timer_armed = true;
                host->time->timer_start(l->in_timer, l->latency_ns, 0);
            }
        }
        if (l->status && l->count != l->reported) {
            bp_usb_packet *packet = l->status;
            uint8_t bytes[4];
            l->status = NULL;
            l->reported = l->count;
            put_le32(bytes, l->count);
            host->usb->complete(packet, BP_USB_SUCCESS, bytes, 4);
            progress = true;
        }
    }
}

static void in_timer_fired(void *opaque, uint64_t now_ns) {
    (void)now_ns;
    loop *l = opaque;
    l->in_timer_armed = false;
    if (l->in && l->count > 0) deliver_in(l);
    service(l);
}

static void control(void *instance, bp_usb_packet *packet, const bp_usb_setup *setup, const uint8_t *data) {
    (void)data;
    loop *l = instance;
    bool is_in = (setup->request_type & 0x80) != 0;
    bool vendor = ((setup->request_type >> 5) & 3) == 2;
    if (vendor && setup->request == REQUEST_QUEUED_BYTES && is_in) {
        uint8_t bytes[4];
        put_le32(bytes, l->count);
        host->usb->complete(packet, BP_USB_SUCCESS, bytes, setup->length < 4 ? setup->length : 4);
    } else if (vendor && setup->request == REQUEST_CLEAR && !is_in) {
        l->count = 0;
        host->usb->complete(packet, BP_USB_SUCCESS, NULL, 0);
        service(l);
    } else {
        host->usb->complete(packet, BP_USB_STALL, NULL, 0);
    }
}

static void transfer(void *instance, bp_usb_packet *packet, uint8_t endpoint, const uint8_t *data, uint32_t length) {
    loop *l = instance;
    switch (endpoint) {
    case 0x01: l->out = packet; l->out_data = data; l->out_length = length; break;
    case 0x81: l->in = packet; l->in_length = length; break;
    case 0x82: l->status = packet; break;
    default: host->usb->complete(packet, BP_USB_STALL, NULL, 0); return;
    }
    service(l);
}

static void cancel(void *instance, bp_usb_packet *packet) {
    loop *l = instance;
    if (l->out == packet) l->out = NULL;
    if (l->in == packet) l->in = NULL;
    if (l->status == packet) l->status = NULL;
}

static void reset(void *instance) {
    loop *l = instance;
    l->count = 0;
    l->reported = 0;
    l->out = l->in = l->status = NULL;
    l->in_timer_armed = false;
    host->time->timer_stop(l->in_timer);
}

static int create(void *type_opaque, bp_usb_device *device, const bp_args *args, void **instance) {
    (void)type_opaque;
    uint64_t capacity = bp_args_u64(args, "capacity", 65536);
    if (capacity == 0 || capacity > (1u << 24)) {
        host->log->message(self, BP_LOG_ERROR, "capacity must be 1...16777216 bytes");
        return 1;
    }
    loop *l = calloc(1, sizeof *l);
    if (!l) return 1;
    l->device = device;
    l->capacity = (uint32_t)capacity;
    l->latency_ns = bp_args_u64(args, "latency-ns", 10000);
    l->fifo = malloc(l->capacity);
    l->scratch = malloc(l->capacity);
    l->in_timer = host->time->timer_new(self, in_timer_fired, l);
    if (!l->fifo || !l->scratch || !l->in_timer) {
        free(l->fifo);
        free(l->scratch);
        free(l);
        return 1;
    }
    *instance = l;
    return 0;
}

static void destroy(void *instance) {
    loop *l = instance;
    host->time->timer_free(l->in_timer);
    free(l->fifo);
    free(l->scratch);
    free(l);
}

static int install(const bp_host *h, bp_plugin *plugin, const bp_args *args) {
    (void)args;
    host = h;
    self = plugin;
    if (!h->usb) {
        h->set_error(plugin, "this backplane has no USB plugin interface (ABI 1.1 needed)");
        return 1;
    }
    bp_usb_device_type type = {
        .struct_size = sizeof type,
        .name = "acme.usbloop",
        .summary = "ACME vendor-specific USB loopback: bulk OUT/IN echo, interrupt IN byte count",
        .properties = properties,
        .property_count = sizeof properties / sizeof properties[0],
        .speeds = BP_USB_SPEED_FULL | BP_USB_SPEED_HIGH | BP_USB_SPEED_SUPER,
        .device_descriptor = device_descriptor,
        .device_descriptor_length = sizeof device_descriptor,
        .configurations = configurations,
        .configuration_count = sizeof configurations / sizeof configurations[0],
        .strings = strings,
        .string_count = sizeof strings / sizeof strings[0],
        .bos = bos,
        .bos_length = sizeof bos,
        .create = create,
        .control = control,
        .transfer = transfer,
        .cancel = cancel,
        .reset = reset,
        .destroy = destroy,
    };
    return h->usb->register_type(plugin, &type) == BP_OK ? 0 : 1;
}

BP_PLUGIN_DEFINE("acme_usbloop", "ACME USB loopback device (acme.usbloop)", NULL, install, NULL)
