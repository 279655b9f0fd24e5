/*
 * Backplane plugin ABI 1.0: platform (MMIO) devices.
 *
 * A platform device has one MMIO window the board places with `reg: [BASE, SIZE]` and up to
 * irq_count_max interrupt outputs the board wires with `irq: [plic0@12, ...]`; it never
 * learns which controller is behind them (PLIC or APLIC). The board's device tree gets a node
 * `/soc/NODE_NAME@BASE` with the plugin's compatible string, reg and interrupts.
 *
 * Threading: every callback and every function here runs on the machine thread.
 */
#ifndef BACKPLANE_PLATFORM_H
#define BACKPLANE_PLATFORM_H

#include "plugin.h"
#include "pci.h" /* BP_ACCESS_* */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bp_platform_device_type {
    uint32_t struct_size;               /* sizeof(bp_platform_device_type) */
    const char *name;                   /* board-file type name, unique in the machine */
    const char *summary;
    const bp_property_spec *properties;
    uint32_t property_count;
    /* Device-tree node name before the @ ("timer") and `compatible` ("acme,timer-1.0"). */
    const char *node_name;
    const char *compatible;
    /* Smallest `reg` size the board may give, bytes (> 0). */
    uint64_t minimum_size;
    /* Widths read/write receive (BP_ACCESS_* mask; 0 means all). */
    uint32_t access_sizes;
    /* How many `irq:` lines a board must / may give. */
    uint32_t irq_count_min;
    uint32_t irq_count_max;

    /* Builds one instance (see bp_pci_device_type.create). */
    int (*create)(void *type_opaque, bp_platform_device *device, const bp_args *properties, void **instance);
    /* A guest read of `size` bytes at `offset` from the window base; zero-extended result. */
    uint64_t (*read)(void *instance, uint64_t offset, uint32_t size);
    /* A guest write of the low `size` bytes of `value` at `offset`. */
    void (*write)(void *instance, uint64_t offset, uint32_t size, uint64_t value);
    /* Guest-requested machine reset: back to power-on state. May be NULL. */
    void (*reset)(void *instance);
    /* Frees the instance at shutdown. May be NULL. */
    void (*destroy)(void *instance);
    void *type_opaque;

    /* Since 1.3: snapshot hooks (plugin.h "Snapshots"): both or neither. May be NULL. */
    int (*save)(void *instance, bp_snapshot *snapshot);
    int (*restore)(void *instance, bp_snapshot *snapshot);
} bp_platform_device_type;

typedef struct bp_platform_interface {
    uint32_t struct_size;
    /* Registers a type (copied). Only during install. BP_OK, BP_ERR_INVALID, BP_ERR_EXISTS,
     * BP_ERR_STATE. */
    int (*register_type)(bp_plugin *self, const bp_platform_device_type *type);
    /* Drives interrupt output `index` (0 = the first `irq:` of the board entry), level
     * triggered. BP_OK, or BP_ERR_INVALID when the board wired fewer lines. */
    int (*set_irq)(bp_platform_device *device, uint32_t index, bool level);
    /* The number of lines the board wired. */
    uint32_t (*irq_count)(bp_platform_device *device);
    /* Window base (guest physical) and size the board gave. */
    uint64_t (*base)(bp_platform_device *device);
    uint64_t (*size)(bp_platform_device *device);
    /* The instance's board name, valid until destroy. */
    const char *(*device_name)(bp_platform_device *device);

    /* --- Since 1.2 (check BP_HAS). --- */
    /* DMA for a platform device (a bus master on the system bus, no IOMMU): copies `length`
     * bytes between guest physical memory at `address` and `buffer`. BP_OK;
     * BP_ERR_MASTER_ABORT when any byte is not RAM (nothing is transferred); BP_ERR_INVALID
     * for a NULL buffer with a non-zero length. */
    int (*dma_read)(bp_platform_device *device, uint64_t address, void *buffer, size_t length);
    int (*dma_write)(bp_platform_device *device, uint64_t address, const void *buffer, size_t length);
    /* Scatter-gather, as pci->dma_readv/dma_writev. */
    int (*dma_readv)(bp_platform_device *device, const struct bp_dma_segment *segments, uint32_t count, void *buffer, size_t *transferred);
    int (*dma_writev)(bp_platform_device *device, const struct bp_dma_segment *segments, uint32_t count, const void *buffer, size_t *transferred);
} bp_platform_interface;

#ifdef __cplusplus
}
#endif

#endif /* BACKPLANE_PLATFORM_H */
