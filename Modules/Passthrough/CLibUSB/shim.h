// Debian's libusb-1.0-0-dev: user-space access to USB devices (usbfs on Linux).
#include <libusb.h>

// Packet `index` of an isochronous transfer (a flexible array member Swift does not import).
static inline struct libusb_iso_packet_descriptor *bp_usb_iso_packet(struct libusb_transfer *transfer, int index) {
    return &transfer->iso_packet_desc[index];
}
