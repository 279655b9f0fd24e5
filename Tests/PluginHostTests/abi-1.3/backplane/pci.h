/*
 * Backplane plugin ABI 1.0: PCI functions.
 *
 * A plugin registers a PCI device type (bp_pci_device_type) at install; a board file places
 * instances with `type: NAME, at: pcie0/03.0` (or `--device NAME,at=pcie0/03.0`). The PCI core
 * does all standard configuration-space work for plugin functions exactly as for built-in
 * ones (Modules/PCI: PCIConfigSpace, MSICapability, MSIXCapability): header and IDs, BAR
 * sizing and mapping, command/status, the capability list, a PCI Express capability, MSI and
 * MSI-X registers, vector tables, pending bits and masking. The plugin answers only its own
 * BAR registers and, if it asks for one, the registers of a vendor-specific capability.
 *
 * Threading: every callback and every function here runs on the machine thread.
 */
#ifndef BACKPLANE_PCI_H
#define BACKPLANE_PCI_H

#include "plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* BAR kinds (PCI Local Bus 3.0 §6.2.5.1). */
#define BP_PCI_BAR_NONE 0
#define BP_PCI_BAR_MEM32 1   /* memory below 4 GiB */
#define BP_PCI_BAR_MEM64 2   /* 64-bit memory; takes BAR n and n + 1 (leave n + 1 NONE) */
#define BP_PCI_BAR_IO 3      /* I/O space, 4...256 bytes */

/* BAR flags. */
#define BP_PCI_BAR_PREFETCHABLE 0x1u
/* RAM-backed: the host keeps `size` bytes of storage the guest reads and writes directly,
 * without calling bar_read/bar_write; the plugin reaches it with pci->bar_memory. */
#define BP_PCI_BAR_RAM 0x2u

/* Access widths, in bytes, as a mask: the bus splits or widens other accesses so callbacks
 * only see these widths (naturally aligned). */
#define BP_ACCESS_1 0x1u
#define BP_ACCESS_2 0x2u
#define BP_ACCESS_4 0x4u
#define BP_ACCESS_8 0x8u
#define BP_ACCESS_ALL 0xfu

typedef struct bp_pci_bar_spec {
    uint32_t kind;          /* BP_PCI_BAR_* ; NONE: no BAR at this index */
    uint32_t flags;         /* BP_PCI_BAR_PREFETCHABLE | BP_PCI_BAR_RAM */
    uint64_t size;          /* bytes, a power of two: >= 16 for memory, 4...256 for I/O */
    uint32_t access_sizes;  /* BP_ACCESS_* mask; 0 means BP_ACCESS_ALL */
    uint32_t reserved;      /* 0 */
} bp_pci_bar_spec;

/* Interrupt pins (configuration register 0x3d). */
#define BP_PCI_PIN_NONE 0
#define BP_PCI_PIN_INTA 1
#define BP_PCI_PIN_INTB 2
#define BP_PCI_PIN_INTC 3
#define BP_PCI_PIN_INTD 4

/* One instance's callbacks receive the `instance` pointer create returned. */
typedef struct bp_pci_device_type {
    uint32_t struct_size;               /* sizeof(bp_pci_device_type) */
    /* Type name used in board files: "vendor.thing" ([a-z0-9_.-]+), unique in the machine. */
    const char *name;
    const char *summary;
    const bp_property_spec *properties; /* may be NULL when property_count is 0 */
    uint32_t property_count;

    /* Identity (PCI 3.0 §6.2.1). class_code is base class << 16 | subclass << 8 | prog-if. */
    uint16_t vendor_id;
    uint16_t device_id;
    uint16_t subsystem_vendor_id;
    uint16_t subsystem_id;
    uint8_t revision;
    uint8_t interrupt_pin;              /* BP_PCI_PIN_*; INTx needs a pin */
    uint16_t reserved0;
    uint32_t class_code;

    bp_pci_bar_spec bars[6];

    /* MSI (PCI 3.0 §6.8.1): vectors 0 (no MSI capability) or 1, 2, 4, 8, 16, 32; 64-bit
     * address with per-vector masking. */
    uint32_t msi_vectors;
    /* MSI-X (§6.8.2): 0 (none) or 1...2048 vectors; table and PBA in memory BARs of this
     * type, 8-byte aligned, not overlapping the plugin's own registers (the core answers
     * accesses there and never calls bar_read/bar_write for them). */
    uint32_t msix_vectors;
    uint32_t msix_table_bar;
    uint32_t msix_pba_bar;
    uint64_t msix_table_offset;
    uint64_t msix_pba_offset;
    /* Bytes of a vendor-specific capability (PCI 3.0 Appendix H), 0 for none, else 4...64:
     * device-specific configuration registers. The core writes its ID, next pointer and
     * length (bytes 0-2); guest accesses to bytes 3 and up go to vendor_config_read/write. */
    uint32_t vendor_capability_length;

    /* Builds one instance on `device` (valid until destroy). `properties` holds every
     * declared property (defaults applied). Store the instance state in *instance. Return 0,
     * or non-zero to fail the machine build (log why). Called while the machine is built,
     * before the guest runs. */
    int (*create)(void *type_opaque, bp_pci_device *device, const bp_args *properties, void **instance);
    /* A guest read of `size` bytes (one of the BAR's access sizes) at `offset` in BAR `bar`;
     * return the value zero-extended. */
    uint64_t (*bar_read)(void *instance, uint32_t bar, uint64_t offset, uint32_t size);
    /* A guest write of the low `size` bytes of `value` at `offset` in BAR `bar`. */
    void (*bar_write)(void *instance, uint32_t bar, uint64_t offset, uint32_t size, uint64_t value);
    /* Reads vendor-capability bytes: `offset` counts from the capability start (>= 3),
     * `size` is 1, 2 or 4 and the access does not cross the capability end. May be NULL
     * (reads 0). */
    uint32_t (*vendor_config_read)(void *instance, uint32_t offset, uint32_t size);
    /* Writes vendor-capability bytes (same rules). May be NULL (writes are ignored). */
    void (*vendor_config_write)(void *instance, uint32_t offset, uint32_t size, uint32_t value);
    /* A conventional reset (guest reboot): the core has already restored the configuration
     * registers and MSI/MSI-X state; return the device to its power-on state. May be NULL. */
    void (*reset)(void *instance);
    /* Frees the instance at shutdown (before the plugin's exit). May be NULL. */
    void (*destroy)(void *instance);
    /* Passed to create as type_opaque. */
    void *type_opaque;

    /* Since 1.2. BP_PCI_CHANGED_* events the device wants to hear about through
     * config_changed (it declines the others). */
    uint32_t config_events;
    /* The guest changed what `changes` (BP_PCI_CHANGED_* bits, only those in config_events)
     * names: read the new state with pci->command, msi_enabled, msix_enabled and
     * vector_masked. Lets a device raise INTx for a condition it could not signal while MSI-X
     * was off, or start DMA queued while bus mastering was off. May be NULL. */
    void (*config_changed)(void *instance, uint32_t changes);

    /* Since 1.3: snapshot hooks (plugin.h "Snapshots"): both or neither. May be NULL. */
    int (*save)(void *instance, bp_snapshot *snapshot);
    int (*restore)(void *instance, bp_snapshot *snapshot);
} bp_pci_device_type;

/* config_changed events (since 1.2). */
/* The command register (PCI 3.0 §6.2.2): I/O or memory enable, Bus Master Enable, INTx
 * Disable. */
#define BP_PCI_CHANGED_COMMAND 0x1u
/* The MSI capability (§6.8.1): MSI Enable, Multiple Message Enable or a per-vector mask bit. */
#define BP_PCI_CHANGED_MSI 0x2u
/* MSI-X (§6.8.2): MSI-X Enable, Function Mask, or a vector's mask bit in the table. */
#define BP_PCI_CHANGED_MSIX 0x4u

/* One piece of a scatter-gather DMA (since 1.2): `length` bytes at bus address `address`. */
typedef struct bp_dma_segment {
    uint64_t address;
    uint64_t length;
} bp_dma_segment;

typedef struct bp_pci_interface {
    uint32_t struct_size;
    /* Registers a device type (copied; strings too). Only during install. BP_OK,
     * BP_ERR_INVALID (the message printed names the bad field), BP_ERR_EXISTS, BP_ERR_STATE. */
    int (*register_type)(bp_plugin *self, const bp_pci_device_type *type);

    /* Bus-master DMA: copies `length` bytes between guest memory at bus address `address`
     * and `buffer`. BP_OK; BP_ERR_BUS_MASTER_DISABLED when the guest has not enabled bus
     * mastering; BP_ERR_MASTER_ABORT when any byte is not RAM (the Received Master Abort
     * status bit is then set). Never crashes on a guest-chosen address. */
    int (*dma_read)(bp_pci_device *device, uint64_t address, void *buffer, size_t length);
    int (*dma_write)(bp_pci_device *device, uint64_t address, const void *buffer, size_t length);

    /* Drives the INTx pin (true = asserted, level-triggered). The core sets Interrupt Status
     * and honours Interrupt Disable (PCI 3.0 §6.2.2-3); the host bridge swizzles and shares
     * the line. No effect without an interrupt_pin. */
    void (*set_intx)(bp_pci_device *device, bool level);
    /* Whether the guest enabled MSI / MSI-X (then a device normally does not use INTx). */
    bool (*msi_enabled)(bp_pci_device *device);
    bool (*msix_enabled)(bp_pci_device *device);
    /* Signals MSI vector `vector`: sent, or pending while masked, dropped when MSI is
     * disabled or the vector is not enabled. BP_OK or BP_ERR_INVALID (no MSI capability, or
     * `vector` past msi_vectors). Since 1.2 (a plugin built against 1.2 or later) it also says
     * what became of a message that was not sent: BP_ERR_DISABLED (MSI off or the vector not
     * enabled: use INTx), BP_ERR_MASKED (pending; sent on unmask), BP_ERR_BUS_MASTER_DISABLED
     * (dropped: a function without Bus Master Enable cannot write a message, PCI 3.0 §6.2.2). */
    int (*msi_notify)(bp_pci_device *device, uint32_t vector);
    /* Signals MSI-X vector `vector` the same way (pending bit while masked, PCI 3.0
     * §6.8.3.5). BP_OK, or BP_ERR_INVALID (no MSI-X or vector out of range); since 1.2 also
     * BP_ERR_DISABLED, BP_ERR_MASKED (vector or function masked) or BP_ERR_BUS_MASTER_DISABLED
     * as for msi_notify. */
    int (*msix_notify)(bp_pci_device *device, uint32_t vector);
    /* The storage of RAM-backed BAR `bar` (BP_PCI_BAR_RAM), size bytes, zeroed at creation
     * and on reset; NULL for other BARs. Valid until destroy. */
    void *(*bar_memory)(bp_pci_device *device, uint32_t bar);
    /* The instance's board name ("edu1"), valid until destroy. */
    const char *(*device_name)(bp_pci_device *device);

    /* --- Since 1.2 (check BP_HAS). --- */
    /* Scatter-gather DMA: the segments in order, to/from `buffer` contiguously (sum of their
     * lengths bytes). Stops at the first refused segment; *transferred (may be NULL) says how
     * many bytes moved before it. Errors as dma_read, plus BP_ERR_INVALID for count > 1024 or
     * NULL segments/buffer. */
    int (*dma_readv)(bp_pci_device *device, const bp_dma_segment *segments, uint32_t count, void *buffer, size_t *transferred);
    int (*dma_writev)(bp_pci_device *device, const bp_dma_segment *segments, uint32_t count, const void *buffer, size_t *transferred);
    /* The command register as the guest last wrote it (PCI 3.0 §6.2.2; bit 2 Bus Master). */
    uint16_t (*command)(bp_pci_device *device);
    /* Whether MSI-X vector `vector` is masked (its own mask bit or Function Mask); with
     * vector == UINT32_MAX, whether Function Mask is set. False without MSI-X. */
    bool (*vector_masked)(bp_pci_device *device, uint32_t vector);
    /* Only during the type's create (else BP_ERR_STATE): gives this instance a BAR size other
     * than the type's (a power of two, same kind and limits) and/or another MSI-X vector
     * count (1...2048, table and PBA must still fit their BARs), decided from its properties.
     * The checks of register_type apply; a refusal names the device and the field. */
    int (*set_bar_size)(bp_pci_device *device, uint32_t bar, uint64_t size);
    int (*set_msix_vectors)(bp_pci_device *device, uint32_t vectors);
} bp_pci_interface;

#ifdef __cplusplus
}
#endif

#endif /* BACKPLANE_PCI_H */
