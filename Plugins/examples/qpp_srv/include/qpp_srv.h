/*
 * qpp_srv's public interface: what other plugins may import from it (through QPP) and the
 * event its callbacks carry. Ship this header with the plugin.
 */
#ifndef QPP_SRV_H
#define QPP_SRV_H

#include <backplane/qpp.h>

/* do_add(x) = x + 1; do_sub(x) = x - 1. */
BP_QPP_FUN_PROTOTYPE(qpp_srv, int, do_add, int)
BP_QPP_FUN_PROTOTYPE(qpp_srv, int, do_sub, int)

/* Callback "on_tick": runs every `tick-ns` virtual ns (plugin argument; none by default).
 * Callback "on_exit": runs when qpp_srv exits.
 * Both pass a qpp_srv_event as evdata. */
typedef struct qpp_srv_event {
    uint64_t now_ns;
    uint32_t ticks;
} qpp_srv_event;

#endif
