// Debian's libusb-1.0-0-dev: user-space access to USB devices (usbfs on Linux).
#include <libusb.h>
