/* Backplane plugin SDK, ABI 1.3: every header (docs/plugins.md). */
#ifndef BACKPLANE_BACKPLANE_H
#define BACKPLANE_BACKPLANE_H
#include "plugin.h"
#include "pci.h"
#include "platform.h"
#include "qpp.h"
#include "usb.h"
#include "instrument.h"
#endif
