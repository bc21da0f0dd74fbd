/* evidence.h - the packets of every violating flow, into a pcapng file (--evidence FILE).
 *
 * The frames of a flow are held in memory from its first packet until its
 * verdict is known, which is when classify has decided its label (roles
 * and ports are known from the first packet): then a violating flow's
 * frames are written, its later frames as they are read, and any other
 * flow's are let go. A flow whose label is decided only at its end is held
 * to its end. The file is pcapng: one Interface Description Block per link
 * type seen, each frame an Enhanced Packet Block as it was captured, and a
 * comment on each flow's first packet naming its violations. A flow's
 * packets are in the file in the order read; flows interleave as their
 * verdicts come, so the file is not sorted by time.
 *
 * Everything here runs on the reader's thread (the caller of ingest_frame
 * and of the pipeline's done callbacks); the classify thread never sees
 * evidence. f->evidence is the flow's slot.
 *
 * The life of a flow's evidence
 * -----------------------------
 *
 *   state    entered by                                          memory
 *   none     its first packet, when audit_in_scope says no       -
 *            rule can apply (the scope callback), or let go
 *   held     evidence_frame() on its first packet                its frames, within the caps
 *   written  evidence_frame() (its next frame) or evidence_sweep none: frames go to the file
 *            (each commit) sees the label decided (an acquire
 *            load of label.done) and the verdict callback says
 *            violation: the held frames are written, the comment
 *            on the first
 *   let go   ... and the verdict says none: the frames freed     -
 *   ended    evidence_flow_end() from record.c with the audit    freed
 *            at the flow's end: held frames written if it is a
 *            violation; returns what flows.evidence says
 *
 * The caps: a flow holds at most flow_bytes, all flows together at most
 * total_bytes. A frame that does not fit is left out, and so is every later
 * frame of its flow: the file holds each flow from its first packet with no
 * gap, and the flow is 'cut'. flows.evidence (docs/schema.md):
 *   NULL        none of its packets are in the file, and it is no violation
 *   'complete'  a violation, every packet of it in the file
 *   'cut'       a violation whose first packets are in the file, up to the one a
 *               cap (or a failed write) left out with all after it: none when
 *               that was its first
 *   'missed'    a violation none of whose packets are in the file because the
 *               verdict when its label was decided found none (a rule's check
 *               that counts packets, a reload in between) and let them go
 *   'cleared'   no violation at its end, but its packets are in the file: the
 *               verdict when its label was decided found one (the comment says
 *               which) */
#ifndef LYNCAUDIT_EVIDENCE_H
#define LYNCAUDIT_EVIDENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "ingest.h"

struct evidence;

/* The memory caps, in bytes (--evidence-flow-bytes, --evidence-bytes). */
struct evidence_caps {
    uint64_t flow_bytes, total_bytes;
};

#define EVIDENCE_FLOW_BYTES (1u << 20)   /* 1 MiB */
#define EVIDENCE_TOTAL_BYTES (64u << 20) /* 64 MiB */

/* False when flow f (on its first packet) can never be a violation. */
typedef bool (*evidence_scope_fn)(void *ctx, const struct flow *f);

/* The verdict on flow f as it stands (its label decided): true for a
 * violation, with the violations in words in why. */
typedef bool (*evidence_verdict_fn)(void *ctx, const struct flow *f, char *why, size_t len);

struct evidence_counts {
    uint64_t flows;          /* flows with packets in the file */
    uint64_t packets;        /* packets written */
    uint64_t cut;            /* packets of violating flows left out by the caps or a failed write */
    uint64_t cut_flow_cap;   /* violating flows cut by the per-flow cap */
    uint64_t cut_total_cap;  /* ... by the total cap */
    uint64_t missed;         /* violating flows let go by an earlier verdict ('missed') */
    uint64_t held, held_peak; /* bytes held in memory now, and at the most */
};

/* Prepares the file at path: a FIFO or a device is opened as it is; else a
 * new file beside it (path.XXXXXX) that evidence_start puts in place, so a
 * run that fails before it starts leaves path as it was. NULL with the
 * reason in err. */
struct evidence *evidence_open(const char *path, const struct evidence_caps *caps, char *err, size_t errlen);

/* The callbacks that judge flows (record.c's); set before the first frame. */
void evidence_set_judge(struct evidence *ev, evidence_scope_fn scope, evidence_verdict_fn verdict, void *ctx);

/* Puts the file in place and writes its Section Header Block, with
 * `comment` (what run of what database). 0 or -1 (evidence_error). */
int evidence_start(struct evidence *ev, const char *comment);

/* ingest_frame_fn: a frame of flow f (is_new: its first). */
void evidence_frame(void *evidence, struct flow *f, bool is_new, const struct ingest_raw *raw);

/* Flow f ended and was audited: `violation` and its words (why). Writes
 * what it held if it is a violation, frees its slot, and returns the value
 * for flows.evidence (NULL or a static string). */
const char *evidence_flow_end(struct evidence *ev, struct flow *f, bool violation, const char *why);

/* True when flow f's frames are held (evidence_flow_end would write them
 * with the words it is given). */
bool evidence_held(const struct evidence *ev, const struct flow *f);

/* Flow f ended and is not stored (dropped): frees its slot. */
void evidence_flow_drop(struct evidence *ev, struct flow *f);

/* Judges the held flows whose label classify has decided since their
 * last frame (a flow that goes quiet, a flow that ended and waits in the
 * pipeline): the written or let-go transitions without a next frame. */
void evidence_sweep(struct evidence *ev);

/* Writes what is buffered (a live reader of the file sees whole blocks). */
void evidence_flush(struct evidence *ev);

/* Flushes and closes the file. 0, or -1 when a write failed during the run
 * or now (evidence_error says why). */
int evidence_close(struct evidence *ev);

void evidence_counts(const struct evidence *ev, struct evidence_counts *out);

/* The last error, as "FILE: what". */
const char *evidence_error(const struct evidence *ev);

/* Frees ev (what flows still hold too); removes the new file if
 * evidence_start never put it in place. */
void evidence_free(struct evidence *ev);

#endif
