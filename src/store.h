/* store.h - the database: schema, runs, flows; one interface, two back ends.
 *
 * A store is a SQLite file (store.c, the embedded default) or a PostgreSQL
 * database (store_pg.c, many sensors into one place), chosen by the target
 * store_open is given; everything above this header is the same for both.
 * One store per process. Flows are written in batched transactions; each
 * commit also updates the run's counters, so what a reader sees of a run is
 * always consistent with the flows committed for it.
 *
 * Where the two differ:
 *   - another writer: SQLite has one writer at a time (a lock, waited for up
 *     to lock_wait_ms); PostgreSQL takes every sensor's writes at once.
 *   - a server that goes away (PostgreSQL): the open batch is kept, and the
 *     store reconnects with backoff (store_begin and store_commit try for up
 *     to lock_wait_ms); meanwhile store_busy is true, as for SQLite's lock,
 *     so the record stage holds flows in its backlog (record.h).
 *
 * Adding a column: store.c (SCHEMA, a migration, the INSERT and its binds)
 * and store_pg.c (PG_SCHEMA, its migration, the COPY column list and
 * pg_flow_line); export and the report copy every column both have. */
#ifndef LYNCAUDIT_STORE_H
#define LYNCAUDIT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* A document the rules cite (the `documents` table); NULL where unknown. */
struct store_document {
    const char *doc, *title, *date, *asset_id, *url;
};

/* One input of the run (the `run_sources` table): a capture file (its size
 * and SHA-256) or a live interface (size -1, sha256 NULL). */
struct store_source {
    const char *name, *path; /* as given, and absolute (NULL: an interface) */
    int64_t size;
    const char *sha256;
};

/* A site exception of the run (the `exceptions` table); NULL where none. */
struct store_exception {
    const char *id, *change, *reason, *from, *to, *transport, *dports, *apps, *expires, *source;
};

struct store_run {
    const char *version, *ndpi_version, *sources, *filter; /* filter may be NULL */
    const char *topology, *topology_name;                  /* NULL without a topology */
    uint64_t rules_loaded;
    const char *sensor;                                    /* runs.sensor; NULL: none */
    const char *evidence;                                  /* --evidence FILE, or NULL */
    /* Provenance (each may be NULL): --label, the content hashes of what
     * was loaded, the rule language's version; the documents the rules
     * cite and the run's inputs, written with the run's row. */
    const char *label, *topology_sha256, *rules_sha256, *rules_version;
    const struct store_document *documents;
    size_t ndocuments;
    const struct store_source *inputs;
    size_t ninputs;
    const struct store_exception *exceptions; /* --exceptions FILE's */
    size_t nexceptions;
};

struct store_counters {
    uint64_t packets, bytes, undecodable, flows, flows_evicted, violations;
    uint64_t not_ip, truncated, malformed, bad_link, tunnel_depth; /* undecodable, by reason */
    uint64_t flows_dropped;                          /* not written: the database stayed locked too long */
    uint64_t icmp_errors;                            /* counted with the flow they quote */
    uint64_t tunnelled;                              /* decoded packets taken out of a tunnel */
    uint64_t time_outliers;                          /* packets whose time was a spike (flow.h) */
    uint64_t evidence_flows, evidence_packets;       /* flows and packets in the --evidence file */
    uint64_t evidence_cut;                           /* packets of violating flows it left out */
    uint64_t flows_audited;                          /* flows between known roles (verdict ok or violation) */
    uint64_t flows_unconfirmed;                      /* allowed by a port whose rule expects a protocol, the
                                                        label undecided ("unknown") */
    int live;                                        /* the pcap_* figures mean something */
    uint64_t pcap_received, pcap_dropped, pcap_ifdropped;
};

struct store_violation {
    const char *kind, *rule_id, *severity, *message, *reference;
};

/* One loaded rule, for the run's `rules` table. */
struct store_rule {
    const char *id, *kind, *severity, *from, *to, *transport, *dports, *sports, *apps, *when;
    const char *doc, *table, *text, *note;
    int row, active;
    uint64_t matched;
    uint64_t unconfirmed;  /* of the matches, flows allowed by port alone (audit.h) */
};

/* One role the topology declares, for the run's run_roles table. */
struct store_role {
    const char *role, *addresses; /* addresses and prefixes as declared, comma-separated */
    uint64_t flows;               /* flows with an end in the role so far (the row is set, not added to) */
};

/* One finished flow, as plain values. */
struct store_flow {
    uint64_t first_us, last_us;
    const char *transport;
    int ip_version;
    const char *src_ip, *dst_ip;
    unsigned src_port, dst_port;
    uint64_t pkts_fwd, bytes_fwd, pkts_rev, bytes_rev;
    const char *app, *app_detail, *ndpi_master, *ndpi_app, *ndpi_confidence, *end_reason;
    const char *src_role, *dst_role, *verdict, *rule_id;
    uint32_t icmp_errors;
    const char *tunnel;                    /* the first packet's outermost tunnel; NULL: none */
    int tunnel_ipver;                      /* 4 or 6: tunnel_src and tunnel_dst, 16 bytes each */
    const uint8_t *tunnel_src, *tunnel_dst;
    int64_t tunnel_id;                     /* VNI, ERSPAN session, GRE key; -1: none */
    unsigned vlan, vlan_inner;             /* VLAN ids, 0: none */
    const char *community_id;              /* NULL: none (ICMP) */
    /* MS-TURN call identity ([MS-TURNBWM]); NULL: not seen */
    const char *call_id, *dialog_id, *self_location, *peer_location, *federation;
    const char *evidence;                  /* what the --evidence file holds of it (evidence.h), or NULL */
    const struct store_violation *violations;
    int nviolations;
};

struct store_app_row {
    const char *app;
    uint64_t flows, packets, bytes;
};

/* Opens (creating if needed) the database and its schema: a PostgreSQL
 * database when target is a URL (store_is_url), else the SQLite file of that
 * path. A write waits up to lock_wait_ms for another writer's lock or for the
 * server to come back (store_set_lock_wait). NULL on failure, with the
 * reason in err. */
struct store *store_open(const char *target, int lock_wait_ms, char *err, size_t errlen);

/* True when target names a PostgreSQL database: a libpq connection URI
 * (postgresql://..., postgres://...), or "postgresql:" alone for the PG*
 * environment variables. */
bool store_is_url(const char *target);

/* The database as shown to a person: the file's path, or the URL without
 * its password. */
const char *store_name(const struct store *s);

/* "sqlite" or "postgresql". */
const char *store_kind(const struct store *s);

/* Starts a run (a new runs.uuid, the sensor's name); returns its id, or -1. */
int64_t store_begin_run(struct store *s, const struct store_run *r);

/* Queues a flow in the open transaction (opening one if needed). 0 or -1. */
int store_add_flow(struct store *s, const struct store_flow *f);

/* Commits queued flows and the run counters. 0, or -1 (the batch is lost:
 * the run failed), or 1: the PostgreSQL server is away and the batch is
 * kept for the next commit. */
int store_commit(struct store *s, const struct store_counters *c);

/* Commits and closes the run with its status ("complete", "interrupted",
 * "error") and an optional message. 0 or -1. */
int store_end_run(struct store *s, const struct store_counters *c, const char *status,
                  const char *message);

/* Opens a transaction if none is open (commit with store_commit). */
int store_begin(struct store *s);

/* Writes a rule of the run; a rule written again has its match count added
 * (after a reload, counts of the old and new rule sets add up). 0 or -1. */
int store_add_rule(struct store *s, const struct store_rule *r);

/* Writes (or rewrites) a declared role of the run. 0 or -1. */
int store_add_role(struct store *s, const struct store_role *r);

/* Adds what was summed in memory since the last flush to the run's
 * role_stats rows, in the open transaction (opening one if needed). Also
 * done by itself when the sums reach their bound. 0 or -1. */
int store_flush_stats(struct store *s);

/* Calls fn("verdict", name, n) per verdict, then ("violation", kind, n). */
int store_verdict_summary(struct store *s, int64_t run_id,
                          void (*fn)(const char *what, const char *name, uint64_t n, void *ctx), void *ctx);

/* Calls fn for the run's labels, most bytes first, at most `limit` rows. */
int store_app_summary(struct store *s, int64_t run_id, int limit,
                      void (*fn)(const struct store_app_row *row, void *ctx), void *ctx);

/* One stored violation with its flow (the violation_report view); strings
 * NULL where the column is. */
struct store_violation_row {
    int64_t id, flow_id;
    const char *kind, *severity, *rule_id, *message, *reference, *transport, *src_ip;
    unsigned src_port;
    const char *src_role, *dst_ip;
    unsigned dst_port;
    const char *dst_role, *app, *first_seen, *last_seen;
};

/* Calls fn for the run's violations, in the order they were stored, at
 * most `limit`. 0 or -1. */
int store_violation_list(struct store *s, int64_t run_id, int limit,
                         void (*fn)(const struct store_violation_row *row, void *ctx), void *ctx);

/* flows.id of the row the last successful store_add_flow wrote (the event
 * stream names flows by it). */
int64_t store_last_flow_id(const struct store *s);

/* Closes the run as "error" in one small write, when store_end_run could
 * not (a full disk). 0 or -1. */
int store_mark_failed(struct store *s, const char *message);

/* How long a write waits for another writer's lock; a wait past 2 s is
 * said once on stderr. */
void store_set_lock_wait(struct store *s, int ms);

/* True when the last failure was another writer's lock (worth a retry). */
bool store_busy(const struct store *s);

/* Flows of this run committed so far. */
uint64_t store_flows_written(const struct store *s);

/* The last error, as one line. */
const char *store_error(const struct store *s);

void store_close(struct store *s);

/* The SQLite library's version ("3.40.1"). */
const char *store_sqlite_version(void);

/* Formats microseconds since the epoch as 2026-11-21T23:22:55.123456Z. */
void store_format_time(uint64_t us, char out[32]);

/* The time now, formatted as store_format_time does. */
void store_now_text(char out[32]);

/* A new random (version 4) UUID as 36 characters: a run's identity across
 * databases (export). */
void store_new_uuid(char out[37]);

/* The SQLite back end's connection (NULL for PostgreSQL): the report and
 * export read it with SQL. */
struct sqlite3 *store_sqlite_db(struct store *s);

#endif
