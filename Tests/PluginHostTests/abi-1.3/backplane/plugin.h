/*
 * Backplane plugin ABI, version 1.3: the core of the SDK (C11; usable from C, C++, Rust, Swift).
 *
 * A plugin is a shared library that exports ONE symbol, the function
 *     const bp_plugin_descriptor *backplane_plugin_descriptor(void);
 * (write it with BP_PLUGIN_DEFINE below, or `@_cdecl("backplane_plugin_descriptor")` in Swift).
 * The descriptor names the plugin, the ABI version it was built against, the plugins it uses
 * and its install/exit entry points. `install` receives a versioned host interface (bp_host)
 * whose sub-interfaces follow the buses a plugin sits on: platform MMIO (platform.h), PCI
 * (pci.h), USB (usb.h, since 1.1), virtual time, plugin-to-plugin calls (qpp.h) and logging. There is no flat
 * io_read/io_write/set_irq vtable: a PCI device talks to the PCI core, a platform device to
 * the platform bus. docs/plugins.md walks through writing one.
 *
 * STABILITY PROMISE (docs/plugins.md "Stability"):
 *  - Within major version 1, structs only grow at their end and every struct the two sides
 *    exchange starts with `uint32_t struct_size`. The host reads only the first struct_size
 *    bytes of a plugin's struct (fields past it count as zero/NULL) and a plugin must check
 *    a host sub-interface's struct_size (BP_HAS) before calling a function added in a later
 *    minor version. So a plugin built against 1.m loads on every host 1.n with n >= m.
 *  - A plugin built for a newer minor (1.n on a 1.m host, n > m) or another major is refused
 *    with a message that names the plugin and both versions.
 *  - Reserved sub-interface pointers are NULL until the minor version that fills them; check
 *    for NULL. 1.1 filled `instrument` (instrument.h) and `usb` (usb.h). A plugin built
 *    against 1.0 is handed a host table whose `instrument` is NULL, as its header promised.
 *  - 1.2 added `wake`, BP_ERR_WRONG_THREAD/MASKED/DISABLED, checked handles, PCI config-change
 *    notification, per-instance PCI shapes, scatter-gather DMA (pci.h) and platform DMA
 *    (platform.h).
 *  - 1.3 added snapshot hooks: `save`/`restore` at the end of every device type (pci.h,
 *    platform.h, usb.h) and `host->snapshot` (below); USB remote wakeup and isochronous
 *    transfers with their (micro)frame number (usb.h `remote_wakeup`, `frame_number`,
 *    `isoch_transfer`). A device type without the hooks (every type of a 1.0-1.2 plugin) still
 *    works; only a snapshot of a machine that has one is refused, naming the device.
 *
 * THREADING: unless a function says otherwise, the host calls plugins and expects to be
 * called on the machine thread (the thread running the harts): install, exit, device
 * callbacks and timer callbacks all run there, never concurrently with each other. QPP
 * functions (qpp.h), log->message and host->wake may be called from any thread; another
 * function called from another thread is refused with BP_ERR_WRONG_THREAD.
 */
#ifndef BACKPLANE_PLUGIN_H
#define BACKPLANE_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ABI version of this header. The host provides BP_ABI_MAJOR.BP_ABI_MINOR of its own. */
#define BP_ABI_MAJOR 1
#define BP_ABI_MINOR 3

/* "BPLG": first word of every descriptor, so a stray symbol of the same name is not taken. */
#define BP_PLUGIN_MAGIC 0x42504c47u

/* Name of the one exported symbol. */
#define BP_PLUGIN_ENTRY_SYMBOL "backplane_plugin_descriptor"

#ifdef __cplusplus
#define BP_EXTERN_C extern "C"
#else
#define BP_EXTERN_C
#endif

#if defined(_WIN32)
#define BP_EXPORT __declspec(dllexport)
#else
#define BP_EXPORT __attribute__((visibility("default")))
#endif

/* Result codes. Every host function that can fail returns one (0 = success, negative =
 * error); they never abort the process. */
#define BP_OK 0
/* An argument is NULL, out of range or malformed. */
#define BP_ERR_INVALID (-1)
/* PCI: Bus Master Enable is clear in the function's command register. */
#define BP_ERR_BUS_MASTER_DISABLED (-2)
/* PCI: nothing answered at the DMA address (master abort; the status register records it). */
#define BP_ERR_MASTER_ABORT (-3)
/* A named thing (plugin, function, callback, device type) does not exist. */
#define BP_ERR_NOT_FOUND (-4)
/* A name is already taken (device type, exported function, callback). */
#define BP_ERR_EXISTS (-5)
/* QPP: an import's signature string differs from the export's. */
#define BP_ERR_SIGNATURE (-6)
/* QPP: the target plugin is not in the caller's `uses` list. */
#define BP_ERR_NOT_USED (-7)
/* The call is not allowed now (e.g. registering a device type after install). */
#define BP_ERR_STATE (-8)
/* Since 1.2: a function reserved for the machine thread was called from another thread (use
 * host->wake from a plugin's own thread). Nothing was done. */
#define BP_ERR_WRONG_THREAD (-9)
/* Since 1.2, PCI msi_notify/msix_notify: the vector (or the whole function) is masked; the
 * pending bit is set and the message goes out when software unmasks it (PCI 3.0 §6.8.2.9). */
#define BP_ERR_MASKED (-10)
/* Since 1.2, PCI msi_notify/msix_notify: MSI/MSI-X is disabled, nothing was sent (the
 * function signals with INTx, pci->set_intx, instead). Since 1.3 also usb->remote_wakeup: the
 * host has not enabled remote wakeup (SET_FEATURE(DEVICE_REMOTE_WAKEUP), USB 2.0 §9.4.9) or the
 * configuration does not declare it (bmAttributes bit 5, §9.6.3); nothing was signalled. */
#define BP_ERR_DISABLED (-11)

/* HANDLES (since 1.2 promised, enforced for every version): every handle a plugin passes back
 * is checked. A NULL, stale (a completed packet, a freed timer, a destroyed device), foreign
 * (of another kind) or made-up handle is refused with BP_ERR_INVALID (NULL/0/false from
 * functions that return a value) and one line "backplane: plugin NAME: error: FUNCTION: WHY"
 * on standard error; the process never crashes. Functions reserved for the machine thread
 * refuse a call from another thread with BP_ERR_WRONG_THREAD. Plugins built against 1.0/1.1
 * get BP_OK from msi_notify/msix_notify where a 1.2 plugin gets BP_ERR_MASKED/BP_ERR_DISABLED/
 * BP_ERR_BUS_MASTER_DISABLED, as their headers promised. */

/* Opaque handles. Valid from the moment the host hands them out until the plugin's exit
 * returns (devices: until their destroy callback). */
typedef struct bp_plugin bp_plugin;                 /* one loaded plugin */
typedef struct bp_pci_device bp_pci_device;         /* one instance of a plugin PCI type */
typedef struct bp_platform_device bp_platform_device; /* one instance of a platform type */
typedef struct bp_timer bp_timer;                   /* a virtual-time timer */
typedef struct bp_qpp_callback bp_qpp_callback;     /* a named QPP callback */
typedef struct bp_snapshot bp_snapshot;             /* since 1.3: one device's saved state, during save/restore */

/* ---------------------------------------------------------------------------------------- */
/* Arguments: `--plugin PATH,key=value,...`, a board file's `plugins: [{path, args}]`, and the
 * properties of a device instance. Strings are UTF-8, NUL-terminated, valid only during the
 * call that receives them (copy what you keep). */

typedef struct bp_arg {
    const char *key;
    const char *value;
} bp_arg;

typedef struct bp_args {
    uint32_t count;
    const bp_arg *items;
} bp_args;

/* The value of `key`, or NULL when absent. */
static inline const char *bp_args_get(const bp_args *args, const char *key) {
    if (!args) return NULL;
    for (uint32_t i = 0; i < args->count; i++)
        if (strcmp(args->items[i].key, key) == 0) return args->items[i].value;
    return NULL;
}

/* The value of `key` as an unsigned integer (decimal, 0x hex or 0 octal); `fallback` when
 * absent or not a number. */
static inline uint64_t bp_args_u64(const bp_args *args, const char *key, uint64_t fallback) {
    const char *text = bp_args_get(args, key);
    if (!text || !*text) return fallback;
    char *end = NULL;
    unsigned long long value = strtoull(text, &end, 0);
    return (end && *end == 0) ? (uint64_t)value : fallback;
}

/* A property a device type accepts in a board file (`properties:`) or on `--device`. The
 * board loader checks it like a built-in type's; values reach `create` as strings (integers
 * in decimal, booleans as "true"/"false"). */
#define BP_PROPERTY_INTEGER 1
#define BP_PROPERTY_STRING 2
#define BP_PROPERTY_BOOLEAN 3

typedef struct bp_property_spec {
    const char *name;
    uint32_t kind;              /* BP_PROPERTY_* */
    const char *default_value;  /* NULL: the property is required */
    const char *summary;        /* one line for docs and error messages */
} bp_property_spec;

/* ---------------------------------------------------------------------------------------- */
/* The host interface handed to install. */

struct bp_log_interface;
struct bp_platform_interface;
struct bp_pci_interface;
struct bp_time_interface;
struct bp_qpp_interface;
struct bp_usb_interface;
struct bp_instrument_interface;
struct bp_snapshot_interface;

typedef struct bp_host {
    uint32_t struct_size;
    /* The host's ABI version (at least the plugin's). */
    uint16_t abi_major;
    uint16_t abi_minor;
    /* Refuses the install with `message` (copied): call it, then return non-zero from install.
     * The run stops before the guest starts and prints
     * "plugin 'NAME' failed to install: MESSAGE". */
    void (*set_error)(bp_plugin *self, const char *message);
    /* The plugin's name as declared in its descriptor (valid until exit). */
    const char *(*plugin_name)(bp_plugin *self);

    const struct bp_log_interface *log;
    const struct bp_platform_interface *platform;
    const struct bp_pci_interface *pci;
    const struct bp_time_interface *time;
    const struct bp_qpp_interface *qpp;
    /* USB devices (usb.h), since 1.1. NULL for a plugin built against 1.0. */
    const struct bp_usb_interface *usb;
    /* Instrumentation (instrument.h), since 1.1: block translation/execution, per-instruction,
     * memory-access, trap and hart start/stop callbacks, guest registers by name. NULL for a
     * plugin built against 1.0. */
    const struct bp_instrument_interface *instrument;
    /* Since 1.2 (check BP_HAS(host, wake)). ANY THREAD: queues fire(opaque) to run once on the
     * machine thread, between instruction slices, soon after (within the machine's longest
     * idle sleep, 5 ms, when every hart waits for an interrupt). The one host function a
     * plugin's own thread (a socket or host-device backend) calls to get back onto the machine
     * thread, where it may then use every other function. Calls are run in the order they were
     * queued. BP_OK; BP_ERR_INVALID (NULL fire, bad plugin handle); BP_ERR_STATE once the
     * plugin's exit has started (the callback will not run). */
    int (*wake)(bp_plugin *self, void (*fire)(void *opaque), void *opaque);
    /* Since 1.3 (check BP_HAS(host, snapshot)): the stream a device type's save/restore hooks
     * write and read. */
    const struct bp_snapshot_interface *snapshot;
} bp_host;

/* Whether sub-interface `iface` (a pointer, possibly NULL) has member `member`: use it
 * before calling a function added after 1.0, e.g. BP_HAS(host->pci, msi_notify). */
#define BP_HAS(iface, member) \
    ((iface) != NULL && (iface)->struct_size >= offsetof(__typeof__(*(iface)), member) + sizeof((iface)->member) && \
     (iface)->member != NULL)

/* Log levels. */
#define BP_LOG_INFO 0
#define BP_LOG_WARNING 1
#define BP_LOG_ERROR 2

typedef struct bp_log_interface {
    uint32_t struct_size;
    /* Writes "backplane: plugin NAME: TEXT" (with "warning: "/"error: " for those levels) on
     * the host's standard error. Any thread. */
    void (*message)(bp_plugin *self, int level, const char *text);
} bp_log_interface;

/* Virtual time: the machine's clock in nanoseconds (docs/architecture.md, "Virtual time").
 *
 * Under `--clock virtual` (the default) time is instructions: every instruction a hart retires
 * advances it by 1/ips seconds (the board's `harts: { ips: N }`, default 10^9, so 1 ns each),
 * and while every hart waits in WFI the machine jumps straight to the earliest timer deadline,
 * so a 10 ms delay costs no host time. The same guest, board, images and inputs then give the
 * same run: a timer started `delay_ns` from now fires after exactly the same guest instruction
 * every time, under the interpreter and the JIT. Under `--clock host` it is the host's monotonic
 * clock and idle waits really sleep.
 *
 * Timers fire on the machine thread, earliest deadline first, timers with equal deadlines in
 * the order they were started. Under the virtual clock the harts stop at the deadline exactly
 * (a slice never runs past the earliest deadline), so the firing is at that instruction; a
 * timer started from inside a device access fires at the next slice boundary after its
 * deadline (at most 50,000 instructions later). `mtime` writes by the guest do not move this
 * clock. A guest that polls sees the effect after the delay has elapsed. */
typedef void (*bp_timer_fn)(void *opaque, uint64_t now_ns);

typedef struct bp_time_interface {
    uint32_t struct_size;
    /* Nanoseconds of machine time since the machine was built (0 before): under the virtual
     * clock, counted in retired instructions, exact to the instruction inside a device access. */
    uint64_t (*now_ns)(bp_plugin *self);
    /* A stopped timer that calls fire(opaque, now_ns) when it expires; NULL if fire is NULL. */
    bp_timer *(*timer_new)(bp_plugin *self, bp_timer_fn fire, void *opaque);
    /* (Re)starts the timer: first expiry `delay_ns` from now, then every `period_ns`
     * (0: one-shot). Restarting a running timer moves it. BP_OK or BP_ERR_INVALID. */
    int (*timer_start)(bp_timer *timer, uint64_t delay_ns, uint64_t period_ns);
    /* Stops the timer; it will not fire until started again. No effect if stopped. */
    void (*timer_stop)(bp_timer *timer);
    /* Whether the timer is started and has not yet fired (one-shot) or is periodic. */
    bool (*timer_pending)(bp_timer *timer);
    /* Stops and frees the timer; the handle is invalid afterwards. Timers still alive are
     * freed after the plugin's exit. */
    void (*timer_free)(bp_timer *timer);
} bp_time_interface;

/* ---------------------------------------------------------------------------------------- */
/* Snapshots (since 1.3; docs/plugins.md "Snapshots").
 *
 * Every device type (pci.h, platform.h, usb.h) ends with two optional hooks,
 *     int (*save)(void *instance, bp_snapshot *snapshot);
 *     int (*restore)(void *instance, bp_snapshot *snapshot);
 * which the host calls on the machine thread, between instruction slices, when the machine is
 * saved or restored (the machine lifecycle's save/restore). `save` writes the instance's
 * guest-visible state with snapshot->write; `restore` runs on an instance `create` built from
 * the same board and reads back exactly the bytes `save` wrote, in order. Write a version
 * number first if the layout may change. Return 0, or non-zero when the state cannot be saved
 * or does not fit (the snapshot or restore then fails with a message naming the device).
 * Give both hooks or neither (register_type refuses one alone). A machine with an instance of
 * a type without them (every type of a plugin built against 1.0-1.2) runs as before, but a
 * snapshot of it is refused with "device 'NAME' (plugin 'P', type 'T') has no save/restore
 * hooks". The host saves nothing of a plugin device beyond what the hooks write. */

typedef struct bp_snapshot_interface {
    uint32_t struct_size;
    /* During save: appends `length` bytes. BP_OK; BP_ERR_INVALID (NULL data with a non-zero
     * length, a stream that is not being saved, a stale handle: streams live for one call). */
    int (*write)(bp_snapshot *snapshot, const void *data, size_t length);
    /* During restore: copies the next `length` bytes to `data`. BP_OK; BP_ERR_INVALID when
     * fewer than `length` bytes remain (nothing is read), NULL data, a stream that is not being
     * restored or a stale handle. A restore that leaves bytes unread fails. */
    int (*read)(bp_snapshot *snapshot, void *data, size_t length);
    /* During restore: the bytes not yet read (0 for a stale handle). */
    size_t (*remaining)(bp_snapshot *snapshot);
} bp_snapshot_interface;

/* ---------------------------------------------------------------------------------------- */
/* The descriptor a plugin exports. */

typedef struct bp_plugin_descriptor {
    uint32_t magic;        /* BP_PLUGIN_MAGIC */
    uint32_t struct_size;  /* sizeof(bp_plugin_descriptor) as the plugin was compiled */
    uint16_t abi_major;    /* BP_ABI_MAJOR the plugin was compiled against */
    uint16_t abi_minor;    /* BP_ABI_MINOR the plugin was compiled against */
    /* Unique among loaded plugins: [a-z0-9_.-]+. QPP names plugins by it. */
    const char *name;
    /* One line for `backplane plugin info`. */
    const char *summary;
    /* NULL-terminated list of plugin names this one uses (QPP imports and callbacks); NULL
     * for none. They are installed before this plugin and exit after it. */
    const char *const *uses;
    /* Called once, in dependency order, before the board is loaded. Register device types,
     * QPP exports and callbacks, import from used plugins here. Return 0 on success; non-zero
     * refuses the plugin (call host->set_error first to say why) and the run stops. */
    int (*install)(const bp_host *host, bp_plugin *self, const bp_args *args);
    /* Called once at shutdown, in reverse dependency order, after every device instance of
     * the plugin was destroyed. May be NULL. */
    void (*exit)(bp_plugin *self);
} bp_plugin_descriptor;

typedef const bp_plugin_descriptor *(*bp_plugin_entry_fn)(void);

/* Defines the descriptor and the exported entry function. Example:
 *     static const char *const uses[] = { "qpp_srv", NULL };
 *     BP_PLUGIN_DEFINE("qpp_client", "calls qpp_srv", uses, install, NULL)
 */
#define BP_PLUGIN_DEFINE(NAME, SUMMARY, USES, INSTALL, EXIT)                                   \
    static const bp_plugin_descriptor bp_plugin_descriptor_value = {                           \
        BP_PLUGIN_MAGIC, (uint32_t)sizeof(bp_plugin_descriptor), BP_ABI_MAJOR, BP_ABI_MINOR,   \
        (NAME), (SUMMARY), (USES), (INSTALL), (EXIT)};                                         \
    BP_EXTERN_C BP_EXPORT const bp_plugin_descriptor *backplane_plugin_descriptor(void) {      \
        return &bp_plugin_descriptor_value;                                                    \
    }

#ifdef __cplusplus
}
#endif

#endif /* BACKPLANE_PLUGIN_H */
