// The Linux VFIO ioctls (include/uapi/linux/vfio.h, Documentation/driver-api/vfio.rst) as plain
// functions: ioctl(2) is variadic and its request numbers are macros, neither of which Swift can
// import. Each wrapper returns 0 (or the value the ioctl returns) on success and -errno on failure,
// so the caller never reads errno after another call could have changed it.
#ifndef BACKPLANE_CVFIO_SHIM_H
#define BACKPLANE_CVFIO_SHIM_H

#include <errno.h>
#include <linux/vfio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

static inline int bp_vfio_result(int value) { return value < 0 ? -errno : value; }

static inline int bp_vfio_api_version(int container) { return bp_vfio_result(ioctl(container, VFIO_GET_API_VERSION)); }
static inline int bp_vfio_expected_api_version(void) { return VFIO_API_VERSION; }
static inline int bp_vfio_type1_iommu(void) { return VFIO_TYPE1v2_IOMMU; }
static inline int bp_vfio_type1v1_iommu(void) { return VFIO_TYPE1_IOMMU; }

/// 1 when the container supports extension `extension` (an IOMMU type), 0 when not.
static inline int bp_vfio_check_extension(int container, int extension) {
    return bp_vfio_result(ioctl(container, VFIO_CHECK_EXTENSION, extension));
}

static inline int bp_vfio_set_iommu(int container, int type) { return bp_vfio_result(ioctl(container, VFIO_SET_IOMMU, type)); }

/// The group's flags (VFIO_GROUP_FLAGS_VIABLE, _CONTAINER_SET) in *flags.
static inline int bp_vfio_group_status(int group, uint32_t *flags) {
    struct vfio_group_status status = { .argsz = sizeof(status) };
    int result = bp_vfio_result(ioctl(group, VFIO_GROUP_GET_STATUS, &status));
    *flags = status.flags;
    return result;
}
static inline uint32_t bp_vfio_group_viable_flag(void) { return VFIO_GROUP_FLAGS_VIABLE; }

static inline int bp_vfio_group_set_container(int group, int container) {
    return bp_vfio_result(ioctl(group, VFIO_GROUP_SET_CONTAINER, &container));
}
static inline int bp_vfio_group_unset_container(int group) { return bp_vfio_result(ioctl(group, VFIO_GROUP_UNSET_CONTAINER)); }

/// A new file descriptor for the device named `name` (its PCI address) in the group.
static inline int bp_vfio_group_device_fd(int group, const char *name) {
    return bp_vfio_result(ioctl(group, VFIO_GROUP_GET_DEVICE_FD, name));
}

static inline int bp_vfio_device_info(int device, uint32_t *flags, uint32_t *regions, uint32_t *irqs) {
    struct vfio_device_info info = { .argsz = sizeof(info) };
    int result = bp_vfio_result(ioctl(device, VFIO_DEVICE_GET_INFO, &info));
    *flags = info.flags;
    *regions = info.num_regions;
    *irqs = info.num_irqs;
    return result;
}
static inline uint32_t bp_vfio_device_flag_reset(void) { return VFIO_DEVICE_FLAGS_RESET; }
static inline uint32_t bp_vfio_device_flag_pci(void) { return VFIO_DEVICE_FLAGS_PCI; }

/// One region as VFIO_DEVICE_GET_REGION_INFO describes it, with the two capabilities Backplane
/// uses: the sparse-mmap areas (the parts of a BAR that may be mapped; the MSI-X table is often
/// left out) and MSIX_MAPPABLE.
struct bp_vfio_region {
    uint32_t flags;
    uint64_t size;
    uint64_t offset;
    /// -1: no sparse-mmap capability (the whole region is mappable if flags say MMAP).
    int32_t sparse_count;
    uint64_t sparse_offset[16];
    uint64_t sparse_size[16];
    int32_t msix_mappable;
};

static inline int bp_vfio_region_info(int device, uint32_t index, struct bp_vfio_region *out) {
    memset(out, 0, sizeof(*out));
    out->sparse_count = -1;
    struct vfio_region_info first = { .argsz = sizeof(first), .index = index };
    int result = bp_vfio_result(ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &first));
    if (result < 0) return result;
    out->flags = first.flags;
    out->size = first.size;
    out->offset = first.offset;
    if (!(first.flags & VFIO_REGION_INFO_FLAG_CAPS) || first.argsz <= sizeof(first)) return 0;
    // The capability chain needs a bigger buffer; the kernel said how big in argsz.
    uint32_t argsz = first.argsz;
    struct vfio_region_info *info = calloc(1, argsz);
    if (!info) return -ENOMEM;
    info->argsz = argsz;
    info->index = index;
    result = bp_vfio_result(ioctl(device, VFIO_DEVICE_GET_REGION_INFO, info));
    if (result == 0 && (info->flags & VFIO_REGION_INFO_FLAG_CAPS) && info->cap_offset) {
        uint32_t at = info->cap_offset;
        for (int guard = 0; at && at + sizeof(struct vfio_info_cap_header) <= argsz && guard < 32; guard++) {
            struct vfio_info_cap_header *header = (struct vfio_info_cap_header *)((char *)info + at);
            if (header->id == VFIO_REGION_INFO_CAP_SPARSE_MMAP) {
                struct vfio_region_info_cap_sparse_mmap *sparse = (struct vfio_region_info_cap_sparse_mmap *)header;
                uint32_t count = sparse->nr_areas < 16 ? sparse->nr_areas : 16;
                out->sparse_count = (int32_t)count;
                for (uint32_t i = 0; i < count; i++) {
                    out->sparse_offset[i] = sparse->areas[i].offset;
                    out->sparse_size[i] = sparse->areas[i].size;
                }
            } else if (header->id == VFIO_REGION_INFO_CAP_MSIX_MAPPABLE) {
                out->msix_mappable = 1;
            }
            at = header->next;
        }
    }
    free(info);
    return result;
}
static inline uint32_t bp_vfio_region_flag_read(void) { return VFIO_REGION_INFO_FLAG_READ; }
static inline uint32_t bp_vfio_region_flag_write(void) { return VFIO_REGION_INFO_FLAG_WRITE; }
static inline uint32_t bp_vfio_region_flag_mmap(void) { return VFIO_REGION_INFO_FLAG_MMAP; }
static inline uint32_t bp_vfio_pci_config_region(void) { return VFIO_PCI_CONFIG_REGION_INDEX; }
static inline uint32_t bp_vfio_pci_intx_irq(void) { return VFIO_PCI_INTX_IRQ_INDEX; }
static inline uint32_t bp_vfio_pci_msi_irq(void) { return VFIO_PCI_MSI_IRQ_INDEX; }
static inline uint32_t bp_vfio_pci_msix_irq(void) { return VFIO_PCI_MSIX_IRQ_INDEX; }

static inline int bp_vfio_irq_info(int device, uint32_t index, uint32_t *flags, uint32_t *count) {
    struct vfio_irq_info info = { .argsz = sizeof(info), .index = index };
    int result = bp_vfio_result(ioctl(device, VFIO_DEVICE_GET_IRQ_INFO, &info));
    *flags = info.flags;
    *count = info.count;
    return result;
}

/// Routes vectors start..<start+count of IRQ `index` to the eventfds `fds` (-1 leaves a vector
/// unrouted); count 0 disables the index (DATA_NONE with count 0, vfio.h).
static inline int bp_vfio_set_irq_eventfds(int device, uint32_t index, uint32_t start, uint32_t count, const int32_t *fds) {
    size_t argsz = sizeof(struct vfio_irq_set) + sizeof(int32_t) * count;
    struct vfio_irq_set *set = calloc(1, argsz);
    if (!set) return -ENOMEM;
    set->argsz = (uint32_t)argsz;
    set->index = index;
    set->start = start;
    set->count = count;
    set->flags = VFIO_IRQ_SET_ACTION_TRIGGER | (count ? VFIO_IRQ_SET_DATA_EVENTFD : VFIO_IRQ_SET_DATA_NONE);
    if (count) memcpy(set->data, fds, sizeof(int32_t) * count);
    int result = bp_vfio_result(ioctl(device, VFIO_DEVICE_SET_IRQS, set));
    free(set);
    return result;
}

/// Unmasks vector `start` of IRQ `index` (INTx is masked by the kernel when it fires).
static inline int bp_vfio_unmask_irq(int device, uint32_t index, uint32_t start) {
    struct vfio_irq_set set = { .argsz = sizeof(set), .flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
                                .index = index, .start = start, .count = 1 };
    return bp_vfio_result(ioctl(device, VFIO_DEVICE_SET_IRQS, &set));
}

static inline int bp_vfio_reset(int device) { return bp_vfio_result(ioctl(device, VFIO_DEVICE_RESET)); }

/// Maps `size` bytes of process memory at `vaddr` for device DMA at bus address `iova`.
static inline int bp_vfio_map_dma(int container, uint64_t vaddr, uint64_t iova, uint64_t size) {
    struct vfio_iommu_type1_dma_map map = { .argsz = sizeof(map), .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
                                            .vaddr = vaddr, .iova = iova, .size = size };
    return bp_vfio_result(ioctl(container, VFIO_IOMMU_MAP_DMA, &map));
}

static inline int bp_vfio_unmap_dma(int container, uint64_t iova, uint64_t size) {
    struct vfio_iommu_type1_dma_unmap unmap = { .argsz = sizeof(unmap), .iova = iova, .size = size };
    return bp_vfio_result(ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap));
}

/// A non-blocking eventfd for one interrupt vector.
static inline int bp_vfio_eventfd(void) { return bp_vfio_result(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)); }

/// The eventfd's counter (how often the vector fired since the last call), 0 when it did not.
static inline uint64_t bp_vfio_eventfd_take(int fd) {
    uint64_t count = 0;
    return read(fd, &count, sizeof(count)) == sizeof(count) ? count : 0;
}

#endif
