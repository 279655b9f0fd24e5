/*
 * acme_feed: a platform device whose bytes come from outside the machine (a file, or anything
 * read(2) reads to its end, such as a pipe), brought in through the external-input ABI
 * (plugin.h `host->external`, ABI 1.4) so that `--record` journals them and `--replay` plays
 * them back without the file. The one pattern every such plugin follows:
 *
 *   - in create, open a channel (external->channel_new) named after the device;
 *   - unless external->mode says BP_EXTERNAL_REPLAY, open the source and let a thread of the
 *     plugin's own read it and hand each chunk to external->submit (any thread);
 *   - act on input only in the channel's deliver callback, which the host calls on the machine
 *     thread at the virtual time the machine takes it (recorded, or replayed from the journal).
 *
 * Registers (32-bit):
 *   0x00 ID        read-only: 0x46454544 ("FEED")
 *   0x04 LEVEL     read-only: bytes waiting in the FIFO
 *   0x08 DATA      read: the next byte (0 when the FIFO is empty)
 *   0x0c ARRIVALS  read-only: inputs delivered since reset
 *   0x10 EOF       read-only: 1 once the end of the source was delivered
 * The IRQ line is high while the FIFO holds bytes or EOF is set.
 *
 * Properties: `source` (path; empty: no source), `chunk` (bytes per read, default 16),
 * `gap-us` (host microseconds the reader waits between reads, default 2000, so the input
 * arrives over a stretch of host time and a recording has several inputs).
 */
#define _POSIX_C_SOURCE 200809L
#include <backplane/backplane.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define FIFO_SIZE 65536

static const bp_host *host;
static bp_plugin *self;

typedef struct acme_feed {
    bp_platform_device *device;
    bp_external *channel;
    /* The machine thread's state (deliver, MMIO). */
    uint8_t fifo[FIFO_SIZE];
    uint32_t head, level, arrivals, eof;
    /* The reader thread. */
    int fd;
    uint32_t chunk, gap_us;
    pthread_t reader;
    bool reading;
    atomic_bool stop;
} acme_feed;

static void update_irq(acme_feed *f) { host->platform->set_irq(f->device, 0, f->level > 0 || f->eof); }

/* Machine thread: one input, at the time the machine takes it. A zero-length input is the end
 * of the source. */
static void deliver(void *opaque, const void *data, size_t length, uint64_t now_ns) {
    (void)now_ns;
    acme_feed *f = opaque;
    f->arrivals++;
    if (length == 0) f->eof = 1;
    for (size_t i = 0; i < length && f->level < FIFO_SIZE; i++) {
        f->fifo[(f->head + f->level) % FIFO_SIZE] = ((const uint8_t *)data)[i];
        f->level++;
    }
    update_irq(f);
}

/* The plugin's own thread: reads the source and submits what it reads. It never touches the
 * device state; the host brings each chunk to the machine thread through deliver. */
static void *read_source(void *opaque) {
    acme_feed *f = opaque;
    uint8_t buffer[4096];
    size_t chunk = f->chunk < sizeof buffer ? f->chunk : sizeof buffer;
    while (!atomic_load(&f->stop)) {
        struct pollfd ready = {f->fd, POLLIN, 0};
        int polled = poll(&ready, 1, 100);
        if (polled < 0 && errno != EINTR) break;
        if (polled <= 0) continue;
        ssize_t got = read(f->fd, buffer, chunk);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            host->external->submit(f->channel, NULL, 0); /* end of the source */
            break;
        }
        host->external->submit(f->channel, buffer, (size_t)got);
        struct timespec gap = {f->gap_us / 1000000, (long)(f->gap_us % 1000000) * 1000};
        if (f->gap_us) nanosleep(&gap, NULL);
    }
    return NULL;
}

static uint64_t reg_read(void *instance, uint64_t offset, uint32_t size) {
    (void)size;
    acme_feed *f = instance;
    switch (offset) {
    case 0x00: return 0x46454544u;
    case 0x04: return f->level;
    case 0x08: {
        if (f->level == 0) return 0;
        uint8_t byte = f->fifo[f->head];
        f->head = (f->head + 1) % FIFO_SIZE;
        f->level--;
        update_irq(f);
        return byte;
    }
    case 0x0c: return f->arrivals;
    case 0x10: return f->eof;
    default: return 0;
    }
}

static void reg_write(void *instance, uint64_t offset, uint32_t size, uint64_t value) {
    (void)instance; (void)offset; (void)size; (void)value;
}

static void reset(void *instance) {
    acme_feed *f = instance;
    f->head = f->level = f->arrivals = f->eof = 0;
    update_irq(f);
}

static int create(void *type_opaque, bp_platform_device *device, const bp_args *properties, void **instance) {
    (void)type_opaque;
    acme_feed *f = calloc(1, sizeof *f);
    if (!f) return BP_ERR_INVALID;
    f->device = device;
    f->fd = -1;
    f->chunk = (uint32_t)bp_args_u64(properties, "chunk", 16);
    f->gap_us = (uint32_t)bp_args_u64(properties, "gap-us", 2000);
    if (f->chunk == 0) f->chunk = 1;
    /* One channel per device, named after it: the journal says "plugin:acme_feed/NAME". */
    f->channel = host->external->channel_new(self, host->platform->device_name(device), deliver, f);
    if (!f->channel) {
        free(f);
        return BP_ERR_INVALID;
    }
    const char *source = bp_args_get(properties, "source");
    /* Replaying, the journal plays the source: it is not opened (it may be long gone). */
    if (source && *source && host->external->mode(self) != BP_EXTERNAL_REPLAY) {
        f->fd = open(source, O_RDONLY | O_CLOEXEC);
        if (f->fd < 0) {
            char message[512];
            snprintf(message, sizeof message, "acme.feed: cannot open source '%s': %s", source, strerror(errno));
            host->log->message(self, BP_LOG_ERROR, message);
            host->external->channel_free(f->channel);
            free(f);
            return BP_ERR_INVALID;
        }
        f->reading = pthread_create(&f->reader, NULL, read_source, f) == 0;
    }
    *instance = f;
    return BP_OK;
}

static void destroy(void *instance) {
    acme_feed *f = instance;
    atomic_store(&f->stop, true);
    if (f->reading) pthread_join(f->reader, NULL);
    if (f->fd >= 0) close(f->fd);
    host->external->channel_free(f->channel);
    free(f);
}

static const bp_property_spec properties[] = {
    {"source", BP_PROPERTY_STRING, "", "file or pipe the bytes come from (not opened under --replay)"},
    {"chunk", BP_PROPERTY_INTEGER, "16", "bytes per read of the source"},
    {"gap-us", BP_PROPERTY_INTEGER, "2000", "host microseconds between reads"},
};

static int install(const bp_host *h, bp_plugin *plugin, const bp_args *args) {
    (void)args;
    host = h;
    self = plugin;
    if (!BP_HAS(host, external)) {
        host->set_error(self, "needs a host with plugin ABI 1.4 (external input)");
        return 1;
    }
    bp_platform_device_type type;
    memset(&type, 0, sizeof type);
    type.struct_size = sizeof type;
    type.name = "acme.feed";
    type.summary = "bytes from a host file or pipe, recorded and replayed with the run";
    type.properties = properties;
    type.property_count = 3;
    type.node_name = "feed";
    type.compatible = "acme,feed-1.0";
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

BP_PLUGIN_DEFINE("acme_feed", "a platform device fed from outside through the external-input ABI", NULL, install, NULL)
