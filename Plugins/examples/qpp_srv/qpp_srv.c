/*
 * qpp_srv: the exporting half of the QPP example (after the QEMU QPP proposal's test plugins).
 * Exports do_add/do_sub, creates the callbacks "on_tick" and "on_exit" and runs them.
 */
#include <stdio.h>
#include "qpp_srv.h"

static const bp_host *host;
static bp_qpp_callback *on_tick;
static bp_qpp_callback *on_exit;
static bp_timer *ticker;
static qpp_srv_event event;

static int do_add(int x) { return x + 1; }
static int do_sub(int x) { return x - 1; }

static void tick(void *opaque, uint64_t now_ns) {
    (void)opaque;
    event.now_ns = now_ns;
    event.ticks++;
    host->qpp->run_callback(on_tick, &event);
}

static int install(const bp_host *h, bp_plugin *self, const bp_args *args) {
    host = h;
    if (BP_QPP_EXPORT(host, self, qpp_srv, do_add, do_add) != BP_OK) return 1;
    if (BP_QPP_EXPORT(host, self, qpp_srv, do_sub, do_sub) != BP_OK) return 1;
    on_tick = host->qpp->create_callback(self, "on_tick");
    on_exit = host->qpp->create_callback(self, "on_exit");
    uint64_t period = bp_args_u64(args, "tick-ns", 0);
    if (period) {
        ticker = host->time->timer_new(self, tick, NULL);
        host->time->timer_start(ticker, period, period);
    }
    return 0;
}

static void exit_plugin(bp_plugin *self) {
    uint32_t ran = host->qpp->run_callback(on_exit, &event);
    char text[64];
    snprintf(text, sizeof text, "on_exit ran %u function(s)", ran);
    host->log->message(self, BP_LOG_INFO, text);
}

BP_PLUGIN_DEFINE("qpp_srv", "QPP example: exports do_add/do_sub, runs on_tick and on_exit", NULL, install, exit_plugin)
