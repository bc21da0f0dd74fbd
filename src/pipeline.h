/* pipeline.h - moving flows between the reader and the classify workers.
 *
 * The pipeline only moves work between threads: it knows the classify
 * stage (whose workers it runs) and hands every labelled flow to a `done`
 * callback on the caller's thread (src/record.c: audit, store, free). The
 * data still flows one way (DESIGN.md): the caller's thread reads, decodes
 * and keeps the flow table; packets of undecided flows and ended flows go
 * to the flow's classify worker (flows are sharded by a symmetric hash of
 * their key, flow_shard: each worker has its own nDPI module and dissector
 * state); labelled flows come back in the order they ended. Bounded queues
 * of blocks and a bounded ring of ended flows join them: memory stays
 * bounded, and a slower side makes the other wait instead of piling up work.
 *
 * The record stage sees the same flows in the same order whatever the
 * number of workers, and each flow is classified from the same packets in
 * the same order, so the database does not depend on it; only what nDPI
 * caches across the flows of one module (docs/usage.md, Threads) may label
 * a non-Lync flow differently (e2e.threads).
 *
 * The life of a flow
 * ------------------
 *
 *   state      entered by                           thread      file
 *   created    flow_packet() on its first packet    reader      flow.c (from ingest.c)
 *   fed        pipeline_packet() -> classify_packet() while !classify_decided()
 *                                                   its worker  classify.c
 *   ended      the flow table's end callback, pipeline_flow_end(): a slot
 *              in the ring, in end order            reader      flow.c
 *   labelled   classify_finish() + classify_names() into the slot
 *                                                   its worker  pipeline.c
 *   handed on  the ring's oldest slot, once labelled
 *                                                   reader      pipeline.c
 *   audited    audit_flow()                         reader      record.c (the done callback)
 *   stored     store_add_flow(), committed by a mark reader     record.c, store.c
 *   freed      classify_release() + flow_free()     reader      record.c
 *
 * Between "ended" and "freed" the flow belongs to the pipeline: the flow
 * table has forgotten it, and only the thread holding its record touches it
 * (its worker until the slot is flagged ready, then the reader).
 *
 * Marks (commits, reloads) take a slot in the same ring, so a mark runs on
 * the caller's thread after every flow that ended before it was placed has
 * been handed to `done`.
 *
 * While the caller waits for room (a full queue or a full ring, in
 * pipeline_packet, pipeline_flow_end, pipeline_mark), it runs `done` for
 * the flows the workers have labelled: no thread can then wait for another
 * for ever. So these calls may audit and store flows. */
#ifndef LYNCAUDIT_PIPELINE_H
#define LYNCAUDIT_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>

#include "classify.h"
#include "decode.h"
#include "flow.h"

struct pipeline;

/* A labelled flow, on the caller's thread: the callee owns f from now on. */
typedef void (*pipeline_done_fn)(void *ctx, struct flow *f, const struct classify_names *n);

/* A mark reached, on the caller's thread. */
typedef void (*pipeline_mark_fn)(void *ctx, void *arg);

/* `workers` classify threads over cls[0..workers-1] (one each), which stay
 * the caller's but must not be used by it until pipeline_finish. With 0
 * workers (or when a thread cannot start) every record is handled at once
 * on the caller's thread with cls[0]. */
struct pipeline *pipeline_new(struct classify *const *cls, int workers, pipeline_done_fn done, void *ctx, char *err,
                              size_t errlen);

/* Threads the pipeline uses: the caller's and its workers. */
int pipeline_threads(const struct pipeline *p);

/* CPU seconds per stage: the caller's thread (reading, decoding, the flow
 * table; classify too without workers), the classify workers together, and
 * the done and mark callbacks on the caller's thread (audit and store). */
struct pipeline_cpu {
    double reader, classify, store;
};

/* ingest's classify gate (ingest_classify_fn): a packet of flow f, which
 * classify_decided(f) said was still undecided, and its direction. */
void pipeline_packet(void *pipeline, struct flow *f, const struct packet *pkt, int dir);

/* The flow table's end callback (flow_config.handover must be set). */
void pipeline_flow_end(struct flow *f, void *pipeline);

/* fn(ctx, arg) runs on the caller's thread once every flow that ended
 * before this call has been handed to `done`. */
void pipeline_mark(struct pipeline *p, pipeline_mark_fn fn, void *arg);

/* Hands over what the caller has buffered (live capture, no packets). */
void pipeline_flush(struct pipeline *p);

/* Runs `done` for the flows the classify thread has labelled so far.
 * Cheap when there is nothing. */
void pipeline_poll(struct pipeline *p);

/* Waits until every record is handled, stops the workers, frees p; the CPU
 * seconds of each stage into *cpu (NULL: not wanted). */
void pipeline_finish(struct pipeline *p, struct pipeline_cpu *cpu);

#endif
