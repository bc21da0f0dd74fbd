/* pipeline.h - moving flows between the reader and the classify thread.
 *
 * The pipeline only moves work between threads: it knows the classify
 * stage (whose thread it runs) and hands every labelled flow to a `done`
 * callback on the caller's thread (src/record.c: audit, store, free). The
 * data still flows one way (DESIGN.md): the caller's thread reads, decodes
 * and keeps the flow table; packets of undecided flows and ended flows go
 * to the classify thread; labelled flows come back. Bounded queues of
 * blocks join the two: memory stays bounded, and a slower side makes the
 * other wait instead of piling up work.
 *
 * Every stage sees the same records in the same order with or without the
 * thread, so a run's results do not depend on `threads` (e2e.threads).
 *
 * The life of a flow
 * ------------------
 *
 *   state      entered by                           thread      file
 *   created    flow_packet() on its first packet    reader      flow.c (from ingest.c)
 *   fed        pipeline_packet() -> classify_packet() while !classify_decided()
 *                                                   classify    classify.c
 *   ended      the flow table's end callback, pipeline_flow_end()
 *                                                   reader      flow.c
 *   labelled   classify_finish() + classify_names() classify    pipeline.c
 *   audited    audit_flow()                         reader      record.c (the done callback)
 *   stored     store_add_flow(), committed by a mark reader     record.c, store.c
 *   freed      classify_release() + flow_free()     reader      record.c
 *
 * Between "ended" and "freed" the flow belongs to the pipeline: the flow
 * table has forgotten it, and only the thread holding its record touches it.
 *
 * Marks (commits, reloads) travel in the same queues as flows, so a mark
 * runs on the caller's thread after every flow that ended before it was
 * placed has been handed to `done`.
 *
 * While the caller waits for room in a full queue (in pipeline_packet,
 * pipeline_flow_end, pipeline_mark), it runs `done` for the flows the
 * classify thread has handed back: neither thread can then wait for the
 * other for ever. So these calls may audit and store flows. */
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

/* cls stays the caller's but must not be used by it until pipeline_finish.
 * With threads false (or when the thread cannot start) every record is
 * handled at once on the caller's thread. */
struct pipeline *pipeline_new(struct classify *cls, bool threads, pipeline_done_fn done, void *ctx, char *err,
                              size_t errlen);

/* Threads the pipeline uses: 2 (the caller's and classify) or 1. */
int pipeline_threads(const struct pipeline *p);

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

/* Waits until every record is handled, stops the thread, frees p. */
void pipeline_finish(struct pipeline *p);

#endif
