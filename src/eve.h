/* eve.h - the event stream: EVE JSON lines (--eve) and syslog alerts (--syslog).
 *
 * One JSON object per line, field names after Suricata's EVE where it has
 * one (timestamp, flow_id, src_ip ... app_proto, alert.*, flow.*, stats.*)
 * and lyncaudit's own under "lync" (docs/usage.md, "Events").
 *
 * The stream and the database agree. A flow's events (a `flow`, and an
 * `alert` per violation) are built from the row record.c gave the store,
 * right after store_add_flow, and held here until the transaction holding
 * that row ends: eve_commit() writes them once it is in the database,
 * eve_discard() drops them when it was rolled back. So a reader never sees
 * an event whose row the database does not hold, and each event's flow_id
 * is that row's flows.id. `run` and `stats` events are written at once.
 *
 * A writer that cannot write (a full disk, a closed pipe) says so once on
 * stderr and writes no more events for the run; the database goes on
 * (eve_trouble says what happened, for runs.message). Runs on the reader's
 * thread only. */
#ifndef LYNCAUDIT_EVE_H
#define LYNCAUDIT_EVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct eve;

struct eve_config {
    const char *path;      /* --eve: a file (appended to), "-" for stdout, NULL: none */
    uint64_t rotate_bytes; /* --eve-rotate: a file past this size is renamed and a new one begun; 0: never */
    bool syslog;           /* --syslog: alerts to the local syslog socket (RFC 5424) */
    int facility;          /* syslog facility code (0-23: 16 is local0 ...) */
};

/* Opens the EVE file and the syslog socket (before privileges are
 * dropped). NULL with the reason in err, or when c asks for nothing (no
 * err then). */
struct eve *eve_open(const struct eve_config *c, char *err, size_t errlen);

/* What a `run` event says of the run that starts. */
struct eve_run {
    int64_t id;
    const char *database;
    const char *const *sources; /* capture files, or "interface:NAME" */
    int nsources;
    const struct store_run *row; /* as written in the runs table */
};

/* The `run` event of a run that starts. */
void eve_run_start(struct eve *e, const struct eve_run *r);

/* Builds the `flow` event of the row f (flows.id flow_id) and an `alert`
 * per violation in it, held until eve_commit or eve_discard. */
void eve_flow(struct eve *e, int64_t flow_id, const struct store_flow *f);

/* The transaction that held the rows of the held events is committed:
 * writes them (and sends their alerts to syslog). */
void eve_commit(struct eve *e);

/* It was rolled back: drops them. */
void eve_discard(struct eve *e);

/* A `stats` event: the run's counters as they are now, flows in the flow
 * table, seconds since the run began. */
void eve_stats(struct eve *e, const struct store_counters *c, uint64_t live_flows, double uptime);

/* The `run` event of the run that ended, as its row was closed. */
void eve_run_end(struct eve *e, const char *status, const char *message, const struct store_counters *c);

/* SIGHUP: opens the EVE file again by its name (after logrotate renamed
 * it); when that fails, events go on into the file as it was open. */
void eve_reopen(struct eve *e);

/* What went wrong with the writer or syslog so far, or NULL. */
const char *eve_trouble(const struct eve *e);

/* Says what was lost (syslog alerts not sent) and closes; held events are
 * dropped. NULL is fine. */
void eve_close(struct eve *e);

/* A syslog facility by name (daemon, user, local0 ... local7): its code,
 * or -1. */
int eve_facility(const char *name);

/* A size with an optional K, M or G (powers of 1024): bytes, or 0 when the
 * text is not one. */
uint64_t eve_size(const char *text);

#endif
