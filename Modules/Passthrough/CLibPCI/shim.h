// Debian's libpci-dev (pciutils): enumerate host PCI functions and name their IDs.
#ifndef BACKPLANE_CLIBPCI_SHIM_H
#define BACKPLANE_CLIBPCI_SHIM_H

#include <pci/pci.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

// libpci reports fatal errors through `pci_access.error`, which must not return (its default
// calls exit(1)). Swift cannot be that callback, so these wrappers catch the error with
// setjmp/longjmp: both ends are in C frames, no Swift frame is skipped.
// (Function-local statics: Swift's Clang importer emits the inline functions it uses but not
// file-scope static variables.)
static inline jmp_buf *bp_pci_jump_buffer(void) { static _Thread_local jmp_buf buffer; return &buffer; }
static inline char *bp_pci_message_buffer(void) { static _Thread_local char buffer[256]; return buffer; }
#define bp_pci_jump (*bp_pci_jump_buffer())
#define bp_pci_error_message bp_pci_message_buffer()

static void bp_pci_error(char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(bp_pci_error_message, 256, format, arguments);
    va_end(arguments);
    longjmp(bp_pci_jump, 1);
}

static void bp_pci_quiet(char *format, ...) { (void)format; }

/// The message of the last error a `bp_pci_*` wrapper returned -1 for.
static inline const char *bp_pci_last_error(void) { return bp_pci_error_message; }

/// pci_alloc + pci_init with errors caught; NULL on failure (see bp_pci_last_error).
static inline struct pci_access *bp_pci_open(void) {
    struct pci_access *access = pci_alloc();
    if (!access) return NULL;
    access->error = bp_pci_error;
    access->warning = bp_pci_quiet;
    access->debug = bp_pci_quiet;
    if (setjmp(bp_pci_jump)) { return NULL; }  // the access is leaked: libpci may be half-initialised
    pci_init(access);
    return access;
}

/// pci_scan_bus with errors caught; 0 on success, -1 on failure.
static inline int bp_pci_scan(struct pci_access *access) {
    if (setjmp(bp_pci_jump)) return -1;
    pci_scan_bus(access);
    return 0;
}

/// pci_fill_info with errors caught; the known fields, or -1 on failure.
static inline int bp_pci_fill(struct pci_dev *device, int flags) {
    if (setjmp(bp_pci_jump)) return -1;
    return pci_fill_info(device, flags);
}

/// Vendor and device names from the ids database (Debian's pci.ids), or NULL.
static inline const char *bp_pci_device_name(struct pci_access *access, char *buffer, int size, int vendor, int device) {
    if (setjmp(bp_pci_jump)) return NULL;
    return pci_lookup_name(access, buffer, size, PCI_LOOKUP_VENDOR | PCI_LOOKUP_DEVICE | PCI_LOOKUP_NO_NUMBERS, vendor, device);
}

/// The class name ("Ethernet controller") from the ids database, or NULL.
static inline const char *bp_pci_class_name(struct pci_access *access, char *buffer, int size, int deviceClass) {
    if (setjmp(bp_pci_jump)) return NULL;
    return pci_lookup_name(access, buffer, size, PCI_LOOKUP_CLASS | PCI_LOOKUP_NO_NUMBERS, deviceClass);
}

// MMIO through a mapped `resourceN` file: volatile so each guest access is exactly one host
// access of the same width, never merged, split or elided.
static inline uint8_t bp_mmio_read8(const void *address) { return *(const volatile uint8_t *)address; }
static inline uint16_t bp_mmio_read16(const void *address) { return *(const volatile uint16_t *)address; }
static inline uint32_t bp_mmio_read32(const void *address) { return *(const volatile uint32_t *)address; }
static inline uint64_t bp_mmio_read64(const void *address) { return *(const volatile uint64_t *)address; }
static inline void bp_mmio_write8(void *address, uint8_t value) { *(volatile uint8_t *)address = value; }
static inline void bp_mmio_write16(void *address, uint16_t value) { *(volatile uint16_t *)address = value; }
static inline void bp_mmio_write32(void *address, uint32_t value) { *(volatile uint32_t *)address = value; }
static inline void bp_mmio_write64(void *address, uint64_t value) { *(volatile uint64_t *)address = value; }

#endif
