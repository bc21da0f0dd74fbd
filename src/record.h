/* record.h - a labelled flow into an audited, stored row.
 *
 * The one place that maps a finished flow to audit_flow() and to a stored
 * row (with its violations), and the audit's rule list to stored rules.
 * It runs on the reader's thread as the pipeline's done and mark callbacks
 * (pipeline.h); it owns the audit in use (a reload swaps it) and the
 * counts of what it stored. With --evidence it also judges flows for the
 * evidence capture before they end (record_verdict_now) and tells it each
 * flow's end (evidence.h). */
#ifndef LYNCAUDIT_RECORD_H
#define LYNCAUDIT_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#include "audit.h"
#include "classify.h"
#include "except.h"
#include "flow.h"
#include "store.h"

struct record;
struct eve;

/* Fills the reader's part of the run counters (packets, decode reasons,
 * capture statistics) as they are now; record adds its own counts. */
typedef void (*record_reader_fn)(void *ctx, struct store_counters *out);

/* What record stored so far: flows written, evicted ones among them,
 * violations. */
struct record_counts {
    uint64_t flows, flows_evicted, violations;
    uint64_t audited;      /* flows between known roles: verdict ok or violation */
    uint64_t unconfirmed;  /* flows allowed by port alone (audit_result.unconfirmed) */
    uint64_t flows_dropped;  /* held while the database was locked, and dropped when the backlog was full */
};

/* Takes over audit; store and the reader callback stay the caller's. Ended
 * flows are held and written (audited, then stored) in one transaction at
 * each commit. With backlog > 0 (live), while another writer holds the
 * database's lock they stay held (up to backlog flows; past it the oldest
 * is dropped and counted) and are written at a later commit: the capture
 * goes on through a lock. With 0, a lock that outlasts the store's wait
 * fails the run. */
struct record *record_new(struct audit *audit, struct store *store, record_reader_fn reader, void *reader_ctx,
                          bool quiet, size_t backlog);

/* pipeline_done_fn: holds the flow for the next commit (which audits and
 * stores it, then frees it); commits when enough are held. Does nothing but
 * free it once a write failed. */
void record_flow(void *record, struct flow *f, const struct classify_names *n);

/* pipeline_mark_fn: commits what was queued, with the run counters, the
 * rules' match counts and the role statistics as they are now (a query
 * during a live capture sees them current). */
void record_commit(void *record, void *unused);

/* Writes into the open transaction (opening one if needed) the held flows,
 * what the rules matched since the last write, and the role statistics
 * summed since. 0 or -1 (store_error says why). */
int record_flush(struct record *r);

/* pipeline_mark_fn: writes the old rules' match counts, then takes the
 * audit `audit` (struct audit *) for the flows that follow. */
void record_reload(void *record, void *audit);

/* The event stream (eve.h) for the flows stored from now on, or NULL: each
 * stored row gives its events, written when the commit holding the row
 * succeeds and dropped when it is rolled back. The caller keeps e. */
void record_set_eve(struct record *r, struct eve *e);

/* True once a write failed: nothing more is written. */
bool record_failed(const struct record *r);

void record_counts(const struct record *r, struct record_counts *out);

/* The run counters as they are now: the reader's and record's. */
void record_counters(const struct record *r, struct store_counters *out);

/* The roles the audit in use declares (a topology address or prefix),
 * and how many of them no stored flow had an end in; the names of those,
 * comma-separated, in unseen (cut to len). */
void record_roles_seen(const struct record *r, int *declared, int *unseen_n, char *unseen, size_t len);

/* The audit in use. */
const struct audit *record_audit(const struct record *r);

/* Frees r; returns the audit in use (the caller frees it). */
struct audit *record_free(struct record *r);

/* Writes every loaded rule of the run with its match count so far (the
 * run's first write, before a record exists). 0 or -1. */
int record_write_rules(struct store *s, const struct audit *a);

struct evidence;

/* --evidence: every flow's end goes to evidence_flow_end (its value in
 * flows.evidence), each commit flushes the file, and the run counters carry
 * its counts. cls names labels for record_verdict_now. Both stay the
 * caller's. */
void record_set_evidence(struct record *r, struct evidence *ev, const struct classify *cls);

/* The site exceptions applied after the audit (except.h); the caller's,
 * kept until the record stage is freed. */
void record_set_exceptions(struct record *r, const struct except_set *ex);

/* evidence_scope_fn: false when the audit in use can never find a
 * violation on flow f (its roles are out of scope). */
bool record_in_scope(void *record, const struct flow *f);

/* evidence_verdict_fn: the audit of flow f as it stands (its label
 * decided), counting no rule match; true for a violation, why in words. */
bool record_verdict_now(void *record, const struct flow *f, char *why, size_t len);

#endif
