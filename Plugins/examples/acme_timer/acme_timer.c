/*
 * acme_timer: a platform MMIO device with one interrupt line, at the platform bus's interface
 * level (a window of 32-bit registers, an IRQ output the board wires, a device-tree node).
 *
 *   0x00 ID       read-only: the `id` property (default 0x41434d45, "ACME")
 *   0x04 ALARM    write N: raise the IRQ N virtual ns from now (0 cancels); read: pending (0/1)
 *   0x08 STATUS   bit 0: the alarm fired (the IRQ is asserted while set)
 *   0x0c ACK      write 1: clear STATUS bit 0 and lower the IRQ
 *   0x10 COUNT    read-only: alarms fired since reset
 *   0x14 SCRATCH  read/write
 */
#include <backplane/backplane.h>

static const bp_host *host;
static bp_plugin *self;

typedef struct acme_timer {
    bp_platform_device *device;
    bp_timer *timer;
    uint32_t id, status, count, scratch;
} acme_timer;

static void fired(void *opaque, uint64_t now_ns) {
    (void)now_ns;
    acme_timer *t = opaque;
    t->status |= 1;
    t->count++;
    host->platform->set_irq(t->device, 0, true);
}

static uint64_t reg_read(void *instance, uint64_t offset, uint32_t size) {
    (void)size;
    acme_timer *t = instance;
    switch (offset) {
    case 0x00: return t->id;
    case 0x04: return host->time->timer_pending(t->timer) ? 1 : 0;
    case 0x08: return t->status;
    case 0x10: return t->count;
    case 0x14: return t->scratch;
    default: return 0;
    }
}

static void reg_write(void *instance, uint64_t offset, uint32_t size, uint64_t value) {
    (void)size;
    acme_timer *t = instance;
    switch (offset) {
    case 0x04:
        if (value == 0) host->time->timer_stop(t->timer);
        else host->time->timer_start(t->timer, (uint32_t)value, 0);
        break;
    case 0x0c:
        if (value & 1) {
            t->status &= ~1u;
            host->platform->set_irq(t->device, 0, false);
        }
        break;
    case 0x14: t->scratch = (uint32_t)value; break;
    default: break;
    }
}

static void reset(void *instance) {
    acme_timer *t = instance;
    host->time->timer_stop(t->timer);
    t->status = 0;
    t->count = 0;
    t->scratch = 0;
    host->platform->set_irq(t->device, 0, false);
}

static int create(void *type_opaque, bp_platform_device *device, const bp_args *properties, void **instance) {
    (void)type_opaque;
    acme_timer *t = calloc(1, sizeof *t);
    if (!t) return BP_ERR_INVALID;
    t->device = device;
    t->id = (uint32_t)bp_args_u64(properties, "id", 0x41434d45);
    t->timer = host->time->timer_new(self, fired, t);
    *instance = t;
    return BP_OK;
}

static void destroy(void *instance) {
    acme_timer *t = instance;
    host->time->timer_free(t->timer);
    free(t);
}

static const bp_property_spec properties[] = {
    {"id", BP_PROPERTY_INTEGER, "1094929733", "value of the ID register (default 0x41434d45)"},
};

static int install(const bp_host *h, bp_plugin *plugin, const bp_args *args) {
    (void)args;
    host = h;
    self = plugin;
    bp_platform_device_type type;
    memset(&type, 0, sizeof type);
    type.struct_size = sizeof type;
    type.name = "acme.timer";
    type.summary = "alarm timer in virtual time with one interrupt line";
    type.properties = properties;
    type.property_count = 1;
    type.node_name = "timer";
    type.compatible = "acme,timer-1.0";
    type.minimum_size = 0x20;
    type.access_sizes = BP_ACCESS_4;
    type.irq_count_min = 1;
    type.irq_count_max = 1;
    type.create = create;
    type.read = reg_read;
    type.write = reg_write;
    type.reset = reset;
    type.destroy = destroy;
    return host->platform->register_type(self, &type);
}

BP_PLUGIN_DEFINE("acme_timer", "a platform alarm timer with an IRQ line", NULL, install, NULL)
