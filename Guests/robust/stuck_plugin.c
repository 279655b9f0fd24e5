/*
 * A plugin whose MMIO read never returns (a C loop the host cannot interrupt), for the test that
 * `--timeout` still ends `backplane run` (the watchdog in Modules/CLI/Watchdog.swift).
 * Device type "stuck.dev": 0x1000 bytes of 32-bit registers, no IRQ.
 */
#include <backplane/backplane.h>

static const bp_host *host;
static bp_plugin *self;

static uint64_t reg_read(void *instance, uint64_t offset, uint32_t size) {
    (void)instance; (void)offset; (void)size;
    for (volatile int spin = 1; spin;) {}
    return 0;
}

static void reg_write(void *instance, uint64_t offset, uint32_t size, uint64_t value) {
    (void)instance; (void)offset; (void)size; (void)value;
}

static int create(void *type_opaque, bp_platform_device *device, const bp_args *properties, void **instance) {
    (void)type_opaque; (void)device; (void)properties;
    *instance = NULL;
    return BP_OK;
}

static int install(const bp_host *h, bp_plugin *plugin, const bp_args *args) {
    (void)args;
    host = h;
    self = plugin;
    bp_platform_device_type type;
    memset(&type, 0, sizeof type);
    type.struct_size = sizeof type;
    type.name = "stuck.dev";
    type.summary = "a register read that never returns";
    type.node_name = "stuck";
    type.compatible = "test,stuck";
    type.minimum_size = 0x1000;
    type.access_sizes = BP_ACCESS_4;
    type.create = create;
    type.read = reg_read;
    type.write = reg_write;
    return host->platform->register_type(self, &type);
}

BP_PLUGIN_DEFINE("stuck", "a plugin whose MMIO read never returns", NULL, install, NULL)
