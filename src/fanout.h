/* fanout.h - a live capture on several threads: one libpcap handle each,
 * joined by the kernel's PACKET_FANOUT, and one writer.
 *
 * `-i IFACE --capture-threads N`: N handles on the same interface in one
 * fanout group (hash with defrag: every packet of a flow, both directions
 * and all fragments, reaches the same handle; source_set_fanout). Each
 * capture thread reads its handle, decodes, keeps a flow table of its own
 * and classifies its flows with its own nDPI module (ingest -> flow table
 * -> classify, as capture.c does on one thread); labelled flows go to the
 * caller's thread, the one writer, which audits and stores them
 * (record_flow) and does the run's periodic work (commits, --stats, SIGHUP
 * reloads, --duration). The order in which flows of different threads are
 * written is the order they reach the writer. */
#ifndef LYNCAUDIT_FANOUT_H
#define LYNCAUDIT_FANOUT_H

#include <stddef.h>

#include "capture.h"
#include "decode.h"
#include "flow.h"
#include "source.h"

/* What each capture thread builds its stages from. */
struct fanout_cfg {
    struct flow_config flows;  /* each thread's flow table (max_flows split between them) */
    struct decode_opts decode;
    size_t dpi_budget;         /* classify_set_budget, per thread */
    /* n slots: each thread's classifier is handed back here at the end, for
     * the caller to free after the record stage is done (flows it still
     * holds name their labels with strings of that nDPI module). */
    struct classify **keep;
};

/* Reads the live sources srcs[0..n-1] (already in one fanout group), one
 * thread each, until *c->stop (a signal, the --duration deadline, a failed
 * write); the caller's thread writes through c->rec and runs c's periodic
 * work. At the end c->in.n holds the sum of every thread's counters,
 * c->live_stats the sum of their capture statistics and c->fan_peak_live the
 * sum of their flow tables' peaks. 0, or -1 when a capture failed or a
 * thread could not start (the reason in msg; the flows read are written). */
int fanout_run(struct capture *c, struct source **srcs, int n, const struct fanout_cfg *cfg, char *msg,
               size_t msglen);

#endif
