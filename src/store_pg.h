/* store_pg.h - the store's PostgreSQL back end (store.h says what each call
 * does; these are the same calls on a PostgreSQL database).
 *
 * A batch is buffered in memory as COPY lines and sent at commit in one
 * transaction: flow ids taken from the flows sequence, COPY of the flows and
 * their violations, the rules' and role statistics' sums through staging
 * tables, the run's counters, COMMIT. When the server goes away the batch is
 * kept, store_pg_busy is true, and the connection is made again with backoff
 * (0.25 s doubling to 4 s) by the next begin or commit, each trying for up to
 * the lock wait. docs/schema.md, "PostgreSQL". */
#ifndef LYNCAUDIT_STORE_PG_H
#define LYNCAUDIT_STORE_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct store_pg;
struct pg_conn; /* libpq's PGconn */

/* The schema version both back ends write (store.c's SCHEMA_VERSION). */
#define STORE_PG_SCHEMA_VERSION 5

struct store_pg *store_pg_open(const char *target, int lock_wait_ms, char *err, size_t errlen);
int64_t store_pg_begin_run(struct store_pg *p, const struct store_run *r);
int store_pg_add_flow(struct store_pg *p, const struct store_flow *f);
bool store_pg_batch_full(const struct store_pg *p);
int store_pg_commit(struct store_pg *p, const struct store_counters *c);
int store_pg_end_run(struct store_pg *p, const struct store_counters *c, const char *status, const char *message);
int store_pg_begin(struct store_pg *p);
int store_pg_add_rule(struct store_pg *p, const struct store_rule *r);
int store_pg_flush_stats(struct store_pg *p);
int store_pg_verdict_summary(struct store_pg *p, int64_t run_id,
                             void (*fn)(const char *what, const char *name, uint64_t n, void *ctx), void *ctx);
int store_pg_app_summary(struct store_pg *p, int64_t run_id, int limit,
                         void (*fn)(const struct store_app_row *row, void *ctx), void *ctx);
int store_pg_mark_failed(struct store_pg *p, const char *message);
void store_pg_set_lock_wait(struct store_pg *p, int ms);
bool store_pg_busy(const struct store_pg *p);
uint64_t store_pg_flows_written(const struct store_pg *p);
const char *store_pg_error(const struct store_pg *p);
void store_pg_close(struct store_pg *p);

/* The PostgreSQL back end of a store, or NULL (store.c). */
struct store_pg *store_pg_backend(struct store *s);

/* The connection, for store_copy.c (NULL while the server is away). */
struct pg_conn *store_pg_conn(struct store_pg *p);

/* The target as shown in messages (without a password). */
const char *store_pg_target(const struct store_pg *p);

/* COPY sql FROM STDIN with the bytes of b, on the open connection. 0 or -1. */
struct store_pg_buf;
int store_pg_copy(struct store_pg *p, const char *sql, const struct store_pg_buf *b);

/* A growing byte buffer of COPY text; oom is set when a put failed. */
struct store_pg_buf {
    char *p;
    size_t n, cap;
    bool oom;
};

/* Appends n raw bytes. */
void store_pg_put(struct store_pg_buf *b, const char *s, size_t n);

/* Appends v as a COPY text field (NULL: \N): backslash, tab, newline and
 * carriage return escaped, a byte that is not UTF-8 as U+FFFD (the database
 * takes UTF-8 only). */
void store_pg_put_text(struct store_pg_buf *b, const char *v);

#endif
