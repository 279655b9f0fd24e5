/*
 * Backplane plugin ABI 1.1 (1.3 additions marked): USB devices (host->usb; NULL on a 1.0 host, check it).
 *
 * A plugin registers a USB device type (bp_usb_device_type) at install; a board file plugs
 * instances into a port of an xHCI controller with `type: NAME, at: xhci0/port2` (or
 * `--device NAME,at=xhci0/port2`), exactly like the built-in USB devices. The host's USB core
 * (Modules/USB/USBDeviceCore.swift) keeps the state every USB device has and answers the
 * standard requests from the type's descriptors: GET_DESCRIPTOR (device, configuration,
 * string, BOS, device qualifier), SET_ADDRESS, SET/GET_CONFIGURATION, SET/GET_INTERFACE,
 * GET_STATUS, SET/CLEAR_FEATURE including endpoint halt. The plugin sees only class and vendor
 * requests (and standard requests to an interface or endpoint the core does not answer) and
 * the data of its endpoints. docs/usb.md "Writing a USB device plugin" walks through one.
 *
 * Packets: every request and every transfer reaches the plugin as a bp_usb_packet handle. The
 * plugin finishes it with usb->complete, either before its handler returns or later (from a
 * timer, say): until then the endpoint is busy and the guest's driver waits (the host sees
 * NAKs). A handle is valid from the handler call until complete returns, or until the type's
 * `cancel` callback returns for it (the host abandoned it: an endpoint stop, a port reset, a
 * detach). A type without `cancel` keeps every handle valid until it completes it; completing
 * a packet the host abandoned is then ignored.
 *
 * Isochronous endpoints (since 1.3; USB 2.0 §5.6): declare them in the configuration like any
 * other endpoint (register_type checks wMaxPacketSize per speed, §5.6.3/§9.6.6, and bInterval,
 * §9.6.6: 1...16 at full, high and super speed). Each isochronous TD the guest's driver queues
 * (an xHCI Isoch TRB, xHCI 1.2 §4.11.2.5, §4.14.2) reaches `transfer` in the (micro)frame it is
 * scheduled for: the one its Frame ID names, or with Start Isoch ASAP the next service interval
 * not yet used on the endpoint. usb->packet_frame tells the plugin which; usb->frame_number
 * reads the same clock the guest reads in MFINDEX (xHCI 1.2 §5.5.1). A TD whose frame has
 * already passed when the controller reaches it completes with Missed Service Error and never
 * reaches the plugin. Complete isochronous packets at once (there is no retry and no NAK on an
 * isochronous pipe, USB 2.0 §5.6.4); BP_USB_TRANSACTION_ERROR reports a damaged frame.
 *
 * Remote wakeup (since 1.3; USB 2.0 §7.1.7.7, §9.2.5.2): a device the host suspended (the
 * root port is in U3) may call usb->remote_wakeup if its configuration declares it
 * (bmAttributes bit 5) and the host enabled it with SET_FEATURE(DEVICE_REMOTE_WAKEUP). The
 * port goes to Resume and the guest's driver sees a Port Status Change Event with the link
 * state change (xHCI 1.2 §4.15.2.1); it then drives the port back to U0.
 *
 * Threading: every callback and every function here runs on the machine thread.
 */
#ifndef BACKPLANE_USB_H
#define BACKPLANE_USB_H

#include "plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bp_usb_device bp_usb_device; /* one instance of a plugin USB type */
typedef struct bp_usb_packet bp_usb_packet; /* one request or transfer in flight */

/* Speeds, as a mask (USB 2.0 §5.3.1.1, USB 3.2 §3.1). A port takes the fastest speed the
 * device and the port share: USB 2 ports carry low, full and high speed, USB 3 ports super
 * speed (xHCI 1.2 §4.19.7). */
#define BP_USB_SPEED_LOW 0x1u   /* 1.5 Mb/s */
#define BP_USB_SPEED_FULL 0x2u  /* 12 Mb/s */
#define BP_USB_SPEED_HIGH 0x4u  /* 480 Mb/s */
#define BP_USB_SPEED_SUPER 0x8u /* 5 Gb/s */

/* How a packet ends (usb->complete). */
#define BP_USB_SUCCESS 0
/* STALL (USB 2.0 §8.4.5): an unsupported request; on a data endpoint it also halts the
 * endpoint until the host clears the halt (the core handles CLEAR_FEATURE(ENDPOINT_HALT)). */
#define BP_USB_STALL 1
/* No handshake: the transaction failed. */
#define BP_USB_TRANSACTION_ERROR 2

/* The SETUP packet of a control transfer (USB 2.0 §9.3), fields in host byte order. */
typedef struct bp_usb_setup {
    uint8_t request_type; /* bmRequestType: bit 7 = IN, bits 6:5 type (1 class, 2 vendor), 4:0 recipient */
    uint8_t request;      /* bRequest */
    uint16_t value;       /* wValue */
    uint16_t index;       /* wIndex */
    uint16_t length;      /* wLength: bytes of the data stage */
} bp_usb_setup;

/* One configuration descriptor with everything after it (interfaces, class descriptors,
 * endpoints; at super speed every endpoint followed by its companion), exactly the bytes
 * GET_DESCRIPTOR(CONFIGURATION) returns: wTotalLength equals `length`. */
typedef struct bp_usb_configuration {
    /* The speeds this descriptor is for (BP_USB_SPEED_* mask): max packet sizes and
     * intervals differ per speed (USB 2.0 §5.8.3, §9.6.6). */
    uint32_t speeds;
    uint32_t length;
    const uint8_t *bytes;
} bp_usb_configuration;

/* One instance's callbacks receive the `instance` pointer create returned. */
typedef struct bp_usb_device_type {
    uint32_t struct_size;               /* sizeof(bp_usb_device_type) */
    /* Board-file type name ("vendor.thing", [a-z0-9_.-]+), unique in the machine. */
    const char *name;
    const char *summary;
    const bp_property_spec *properties; /* may be NULL when property_count is 0; `speed` is added by the host */
    uint32_t property_count;
    /* Speeds the device runs at: a non-zero BP_USB_SPEED_* mask. */
    uint32_t speeds;

    /* Descriptors, copied at registration. The device descriptor (USB 2.0 §9.6.1), 18 bytes:
     * bNumConfigurations must equal the number of configurations given for each speed. The
     * core adapts it per speed (bMaxPacketSize0 9 and bcdUSB 3.x at super speed). */
    const uint8_t *device_descriptor;
    uint32_t device_descriptor_length;
    /* Configuration descriptors: for each speed of `speeds`, the entries whose mask has that
     * speed, in array order, are configuration indices 0, 1, ... at that speed. */
    const bp_usb_configuration *configurations;
    uint32_t configuration_count;
    /* String descriptors 1...string_count as UTF-8 text (sent as UTF-16LE; index 0, the
     * language list, is US English 0x0409). May be NULL when string_count is 0. */
    const char *const *strings;
    uint32_t string_count;
    /* The BOS descriptor with its device capabilities (USB 3.2 §9.6.2); required when
     * `speeds` has BP_USB_SPEED_SUPER, else may be NULL. */
    const uint8_t *bos;
    uint32_t bos_length;

    /* Builds one instance on `device` (valid until destroy); see bp_pci_device_type.create. */
    int (*create)(void *type_opaque, bp_usb_device *device, const bp_args *properties, void **instance);
    /* A control request the core does not answer. `setup` is valid during the call. For an OUT
     * request `data` holds the setup->length bytes of the data stage (valid until the packet
     * completes or is cancelled); for IN, `data` is NULL and the plugin completes with at most
     * setup->length bytes. Complete with BP_USB_STALL for a request the device does not know.
     * May be NULL (every such request stalls). */
    void (*control)(void *instance, bp_usb_packet *packet, const bp_usb_setup *setup, const uint8_t *data);
    /* A transfer on `endpoint` (number in bits 3:0, bit 7 set for IN) of the current
     * configuration; never endpoint 0, never a halted or absent endpoint (the core stalls
     * those). OUT: `data` holds `length` bytes (valid until completion or cancel). IN: `data`
     * is NULL and `length` is the most the host takes; more is a babble error. */
    void (*transfer)(void *instance, bp_usb_packet *packet, uint8_t endpoint, const uint8_t *data, uint32_t length);
    /* The host abandoned `packet`, which the plugin had not completed: forget it; the handle is
     * invalid once this returns. May be NULL (see "Packets" above). */
    void (*cancel)(void *instance, bp_usb_packet *packet);
    /* Bus reset (port reset, controller reset): back to the default, unconfigured state. Pending
     * packets were cancelled first. May be NULL. */
    void (*reset)(void *instance);
    /* SET_CONFIGURATION succeeded with `value` (0: unconfigured). May be NULL. */
    void (*configuration_changed)(void *instance, uint8_t value);
    /* SET_INTERFACE succeeded. May be NULL. */
    void (*interface_changed)(void *instance, uint8_t interface, uint8_t alternate_setting);
    /* CLEAR_FEATURE(ENDPOINT_HALT) on `endpoint`: reset its state (data toggle). May be NULL. */
    void (*endpoint_reset)(void *instance, uint8_t endpoint);
    /* Frees the instance at shutdown (before the plugin's exit). May be NULL. */
    void (*destroy)(void *instance);
    void *type_opaque;

    /* Since 1.3: snapshot hooks (plugin.h "Snapshots"): both or neither. May be NULL. */
    int (*save)(void *instance, bp_snapshot *snapshot);
    int (*restore)(void *instance, bp_snapshot *snapshot);
} bp_usb_device_type;

typedef struct bp_usb_interface {
    uint32_t struct_size;
    /* Registers a type (copied, descriptors and strings too). Only during install. BP_OK,
     * BP_ERR_INVALID (the message printed names the bad field), BP_ERR_EXISTS, BP_ERR_STATE. */
    int (*register_type)(bp_plugin *self, const bp_usb_device_type *type);
    /* Finishes `packet` with `status` (BP_USB_*). For IN packets with BP_USB_SUCCESS, `data`
     * holds `length` bytes for the host (copied; fewer than asked is a short packet, more is a
     * babble). `data`/`length` are ignored otherwise. The handle is invalid afterwards. BP_OK,
     * or BP_ERR_INVALID (NULL packet, unknown status, NULL data with a non-zero length). */
    int (*complete)(bp_usb_packet *packet, int status, const void *data, uint32_t length);
    /* The instance's board name ("loop1"), valid until destroy. */
    const char *(*device_name)(bp_usb_device *device);
    /* The speed the port runs the device at (one BP_USB_SPEED_* bit); 0 before it is attached. */
    uint32_t (*speed)(bp_usb_device *device);

    /* --- Since 1.3 (check BP_HAS). --- */
    /* Signals remote wakeup (resume signalling, USB 2.0 §7.1.7.7) on the device's port. BP_OK:
     * the port went from U3 to Resume and the guest was told. BP_ERR_DISABLED: the host has not
     * enabled remote wakeup (SET_FEATURE(DEVICE_REMOTE_WAKEUP)) or the current configuration
     * does not declare it (bmAttributes bit 5). BP_ERR_STATE: the device is not attached or its
     * port is not suspended (U3): there is nothing to wake. BP_ERR_INVALID: a bad handle. */
    int (*remote_wakeup)(bp_usb_device *device);
    /* The microframe index of the controller the device is attached to, exactly what the guest
     * reads in MFINDEX at this moment (xHCI 1.2 §5.5.1): 125 µs microframes, 14 bits; the
     * frame number is the value >> 3. 0 while the controller is stopped; UINT32_MAX for a
     * device that is not attached or a bad handle. */
    uint32_t (*frame_number)(bp_usb_device *device);
    /* The microframe index (the same 14-bit MFINDEX count) an isochronous packet is scheduled
     * in, from its TRB's Frame ID or Start Isoch ASAP. The host hands the packet over once
     * MFINDEX has reached it, so frame_number() is never behind it. UINT32_MAX for a packet of
     * a non-isochronous endpoint or a bad handle. */
    uint32_t (*packet_frame)(bp_usb_packet *packet);
} bp_usb_interface;

#ifdef __cplusplus
}
#endif

#endif /* BACKPLANE_USB_H */
