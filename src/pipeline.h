/* pipeline.h - the stages after the flow table: classify on a thread of its own.
 *
 * The data still flows one way (DESIGN.md). The caller's thread reads,
 * decodes and keeps the flow table; it hands every packet of a flow that
 * classify has not decided yet, and every ended flow, to the classify
 * thread (nDPI and the Lync dissectors); that thread hands each labelled
 * flow back, and the caller's thread audits it (Lua), writes it (SQLite)
 * and frees it, between packets. Bounded queues of blocks join them:
 * memory stays bounded, and a slower stage makes the other wait instead of
 * piling up work.
 *
 * Every stage sees the same records in the same order as without threads,
 * so a run's results do not depend on `threads`: with threads false each
 * record is handled at once on the caller's thread (one CPU, tests that
 * compare the two). */
#ifndef LYNCAUDIT_PIPELINE_H
#define LYNCAUDIT_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>

#include "audit.h"
#include "classify.h"
#include "flow.h"
#include "store.h"

struct pipeline;

/* What the store stage counted: flows written, evicted ones among them,
 * violations. */
struct pipeline_counts {
    uint64_t flows, flows_evicted, violations;
};

/* Takes over audit (reload may replace it: pipeline_finish returns the one
 * in use); cls and store stay the caller's but must not be used by it until
 * pipeline_finish. `reader` is the caller's own counters (packets, bytes,
 * undecodable, ICMP errors, capture statistics): they are copied into the
 * run row at each commit. */
struct pipeline *pipeline_new(struct classify *cls, struct audit *audit, struct store *store,
                              const struct store_counters *reader, bool threads, bool quiet, char *err,
                              size_t errlen);

/* Threads the run uses: 2 (reader with audit and store, classify) or 1. */
int pipeline_threads(const struct pipeline *p);

/* A packet of flow f, which classify_decided(f) said was still undecided;
 * dir is flow_packet()'s (0: from the initiator). */
void pipeline_packet(struct pipeline *p, struct flow *f, const struct packet *pkt, int dir);

/* The flow table's end callback (flow_config.handover must be set): the
 * flow goes down the pipeline and is freed at its end. */
void pipeline_flow_end(struct flow *f, void *pipeline);

/* Commits what has been written so far, with the reader's counters as they
 * are now (live capture: every few seconds). */
void pipeline_commit(struct pipeline *p);

/* The topology and rules in `a` apply to flows that end from now on; the
 * old rules' match counts are written first. Takes `a`. */
void pipeline_reload(struct pipeline *p, struct audit *a);

/* Hands over what the reader has buffered (live capture, no packets). */
void pipeline_flush(struct pipeline *p);

/* Writes the flows the classify thread has labelled so far (the store stage
 * runs on the caller's thread). Called every few thousand packets, and
 * every packet live; cheap when there is nothing. */
void pipeline_poll(struct pipeline *p);

/* True once a write failed: the reader should stop (nothing more is written). */
bool pipeline_failed(const struct pipeline *p);

/* The store stage's counts so far (for statistics during a run). */
void pipeline_counts(const struct pipeline *p, struct pipeline_counts *out);

/* Waits until every record is handled, stops the threads, frees p. Returns
 * the audit in use and the final counts; *failed says whether a write failed. */
struct audit *pipeline_finish(struct pipeline *p, struct pipeline_counts *out, bool *failed);

/* Writes every loaded rule of the run with its match count so far. 0 or -1. */
int pipeline_write_rules(struct store *s, const struct audit *a);

#endif
