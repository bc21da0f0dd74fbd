/* store_copy.c - runs between the two back ends (see store_copy.h). */
#include "store_copy.h"

#include "store_pg.h"
#include "suggest.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#define MAX_COLS 96

/* The tables of a run, in the order their rows may be written, and the
 * column that names the run in each. */
static const struct {
    const char *name, *run_col;
} TABLES[] = {{"runs", "id"}, {"flows", "run_id"}, {"violations", "run_id"}, {"rules", "run_id"},
              {"role_stats", "run_id"}, {"run_roles", "run_id"}, {"documents", "run_id"}, {"run_sources", "run_id"},
              {"exceptions", "run_id"}};
#define NTABLES ((int)(sizeof TABLES / sizeof TABLES[0]))

/* The columns both databases have (in PostgreSQL's order), with the
 * PostgreSQL type of each; generated columns left out (each side makes its
 * own). */
struct cols {
    int n;
    char name[MAX_COLS][64];
    char type[MAX_COLS][40];
};

struct copy {
    PGconn *pg;
    sqlite3 *db;
    struct store_pg *sp;
    char *err;
    size_t errlen;
};

static int copy_fail(struct copy *c, const char *what, const char *why)
{
    snprintf(c->err, c->errlen, "%s: %s", what, why);
    return -1;
}

static int pg_error(struct copy *c, const char *what)
{
    char m[400];
    snprintf(m, sizeof m, "%s", PQerrorMessage(c->pg));
    m[strcspn(m, "\n")] = '\0';
    return copy_fail(c, what, m);
}

/* True when SQLite's table has the column (and it is not generated). */
static bool sqlite_has(struct copy *c, const char *table, const char *col)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT 1 FROM pragma_table_xinfo('%s') WHERE name = ?1 AND hidden = 0", table);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
        return false;
    sqlite3_bind_text(st, 1, col, -1, SQLITE_STATIC);
    bool yes = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return yes;
}

/* The columns of `table` to copy. 0 or -1. */
static int common_cols(struct copy *c, const char *table, struct cols *out)
{
    const char *v[] = {table};
    PGresult *res = PQexecParams(c->pg,
                                 "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
                                 " WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped"
                                 " AND attgenerated = '' ORDER BY attnum",
                                 1, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        return pg_error(c, table);
    }
    out->n = 0;
    for (int i = 0; i < PQntuples(res) && out->n < MAX_COLS; i++) {
        if (!sqlite_has(c, table, PQgetvalue(res, i, 0)))
            continue;
        snprintf(out->name[out->n], sizeof out->name[0], "%s", PQgetvalue(res, i, 0));
        snprintf(out->type[out->n], sizeof out->type[0], "%s", PQgetvalue(res, i, 1));
        out->n++;
    }
    PQclear(res);
    return 0;
}

/* Runs sql for its effect. 0 or -1 (PQerrorMessage says why). */
static int pg_exec_plain(PGconn *pg, const char *sql)
{
    PGresult *res = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(res);
    PQclear(res);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -1;
}

/* Appends ", " between items of a list being built in buf. */
static void list_add(char *buf, size_t len, const char *item)
{
    size_t used = strlen(buf);
    snprintf(buf + used, len - used, "%s%s", used ? "," : "", item);
}

/* ---- export: SQLite -> PostgreSQL ------------------------------------- */

/* COPY the run's rows of table t (its columns k) from SQLite into the
 * staging table lyncaudit_x_<t>. 0 or -1. */
static int stage_table(struct copy *c, int t, const struct cols *k, int64_t run)
{
    char list[4096] = "", sql[4400];
    for (int i = 0; i < k->n; i++)
        list_add(list, sizeof list, k->name[i]);
    snprintf(sql, sizeof sql, "SELECT %s FROM %s WHERE %s = ?1 ORDER BY rowid", list, TABLES[t].name,
             TABLES[t].run_col);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
        return copy_fail(c, TABLES[t].name, sqlite3_errmsg(c->db));
    sqlite3_bind_int64(st, 1, run);
    struct store_pg_buf b = {0};
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < k->n; i++) {
            if (i)
                store_pg_put(&b, "\t", 1);
            store_pg_put_text(&b, (const char *)sqlite3_column_text(st, i));
        }
        store_pg_put(&b, "\n", 1);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE || b.oom) {
        free(b.p);
        return copy_fail(c, TABLES[t].name, b.oom ? "out of memory" : sqlite3_errmsg(c->db));
    }
    snprintf(sql, sizeof sql, "CREATE TEMP TABLE lyncaudit_x_%s (LIKE %s INCLUDING DEFAULTS) ON COMMIT DROP",
             TABLES[t].name, TABLES[t].name);
    if (pg_exec_plain(c->pg, sql)) {
        free(b.p);
        return pg_error(c, TABLES[t].name);
    }
    snprintf(sql, sizeof sql, "COPY lyncaudit_x_%s(%s) FROM STDIN", TABLES[t].name, list);
    rc = store_pg_copy(c->sp, sql, &b);
    free(b.p);
    return rc ? pg_error(c, TABLES[t].name) : 0;
}

/* INSERT ... SELECT from the staging table into the table, the run and
 * flow ids mapped to the central database's. 0 or -1. */
static int insert_staged(struct copy *c, int t, const struct cols *k, char run_id[24])
{
    char into[4096] = "", from[4600] = "", sql[9000];
    const char *name = TABLES[t].name;
    bool flows = !strcmp(name, "flows"), viols = !strcmp(name, "violations");
    if (flows) {
        list_add(into, sizeof into, "id");
        list_add(from, sizeof from, "m.new");
    }
    for (int i = 0; i < k->n; i++) {
        const char *col = k->name[i];
        char expr[160];
        /* the row ids of runs, flows and violations are the central database's own */
        if ((!strcmp(col, "id") && (flows || viols || !strcmp(name, "runs"))) || !strcmp(col, "run_id"))
            continue;
        snprintf(expr, sizeof expr, viols && !strcmp(col, "flow_id") ? "m.new" : "x.%s", col);
        list_add(into, sizeof into, col);
        list_add(from, sizeof from, expr);
    }
    if (strcmp(name, "runs")) {
        list_add(into, sizeof into, "run_id");
        list_add(from, sizeof from, run_id);
    }
    snprintf(sql, sizeof sql, "INSERT INTO %s(%s) SELECT %s FROM lyncaudit_x_%s x%s%s", name, into, from, name,
             flows ? " JOIN lyncaudit_x_map m ON m.old = x.id ORDER BY x.id"
             : viols ? " JOIN lyncaudit_x_map m ON m.old = x.flow_id ORDER BY x.id" : "",
             strcmp(name, "runs") ? "" : " RETURNING id");
    PGresult *res = PQexec(c->pg, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_TUPLES_OK && PQntuples(res) == 1)
        snprintf(run_id, 24, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : pg_error(c, name);
}

/* The new id of each copied flow (old -> new), in blocks of the flows'
 * sequence, as a sensor takes them (store_pg.c: the sequence steps by the
 * block's size, 65536). */
static const char *ID_MAP =
    "CREATE TEMP TABLE lyncaudit_x_map ON COMMIT DROP AS"
    " WITH f AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS rn FROM lyncaudit_x_flows),"
    " b AS (SELECT array_agg(v ORDER BY v) AS blocks FROM (SELECT nextval(pg_get_serial_sequence('flows', 'id'))"
    "  AS v FROM generate_series(0, (SELECT count(*) FROM f) / 65536)) s)"
    " SELECT f.id AS old, b.blocks[f.rn / 65536 + 1] + f.rn % 65536 AS new FROM f, b";

/* The run's rows, table by table, into the open transaction. The new run's
 * id is written to run_id (24 bytes). 0 or -1. */
static int export_rows(struct copy *c, int64_t run, char run_id[24])
{
    for (int t = 0; t < NTABLES; t++) {
        struct cols k;
        if (common_cols(c, TABLES[t].name, &k) || stage_table(c, t, &k, run))
            return -1;
        if (!strcmp(TABLES[t].name, "flows") &&
            pg_exec_plain(c->pg, ID_MAP))
            return pg_error(c, "flows");
        if (insert_staged(c, t, &k, run_id))
            return -1;
    }
    return 0;
}

/* What the central database holds of the run with this uuid: its id (0:
 * none), status and flow count. 0 or -1. */
static int central_run(struct copy *c, const char *uuid, char id[24], char status[32], char flows[24])
{
    const char *v[] = {uuid};
    PGresult *res = PQexecParams(c->pg, "SELECT id, status, flows FROM runs WHERE uuid = $1::uuid", 1, NULL, v,
                                 NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        return pg_error(c, "runs");
    }
    bool there = PQntuples(res) == 1;
    snprintf(id, 24, "%s", there ? PQgetvalue(res, 0, 0) : "");
    snprintf(status, 32, "%s", there ? PQgetvalue(res, 0, 1) : "");
    snprintf(flows, 24, "%s", there ? PQgetvalue(res, 0, 2) : "");
    PQclear(res);
    return 0;
}

/* Deletes the central copy of a run (its rows first). 0 or -1. */
static int delete_run(struct copy *c, const char *id)
{
    static const char *const sql[] = {"DELETE FROM violations WHERE run_id = $1", "DELETE FROM flows WHERE run_id = $1",
                                      "DELETE FROM rules WHERE run_id = $1", "DELETE FROM role_stats WHERE run_id = $1",
                                      "DELETE FROM run_roles WHERE run_id = $1",
                                      "DELETE FROM documents WHERE run_id = $1", "DELETE FROM run_sources WHERE run_id = $1",
                                      "DELETE FROM exceptions WHERE run_id = $1",
                                      "DELETE FROM runs WHERE id = $1"};
    const char *v[] = {id};
    for (size_t i = 0; i < sizeof sql / sizeof *sql; i++) {
        PGresult *res = PQexecParams(c->pg, sql[i], 1, NULL, v, NULL, NULL, 0);
        bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
        if (!ok)
            return pg_error(c, "runs");
    }
    return 0;
}

/* One run of the SQLite file: skipped when the central database holds it
 * as it is, else copied (replacing an older copy) in one transaction. */
static int export_run(struct copy *c, int64_t run, const char *uuid, const char *status, int64_t flows, FILE *log)
{
    char id[24], st[32], fl[24], fls[24], new_id[24] = "";
    snprintf(fls, sizeof fls, "%" PRId64, flows);
    if (central_run(c, uuid, id, st, fl))
        return -1;
    if (id[0] && !strcmp(st, status) && !strcmp(fl, fls)) {
        if (log)
            fprintf(log, "run %" PRId64 " (%s): already there as run %s\n", run, uuid, id);
        return 0;
    }
    if (pg_exec_plain(c->pg, "BEGIN"))
        return pg_error(c, "export");
    if ((id[0] && delete_run(c, id)) || export_rows(c, run, new_id) || pg_exec_plain(c->pg, "COMMIT")) {
        if (!c->err[0])
            pg_error(c, "export");
        PQclear(PQexec(c->pg, "ROLLBACK"));
        return -1;
    }
    if (log)
        fprintf(log, "run %" PRId64 " (%s): %s run %s, %s, %" PRId64 " flows\n", run, uuid,
                id[0] ? "replaced: now" : "copied as", new_id, status, flows);
    return 0;
}

int store_copy_export(struct store *from, int64_t run, struct store *to, FILE *log, char *err, size_t errlen)
{
    struct copy c = {NULL, store_sqlite_db(from), store_pg_backend(to), err, errlen};
    err[0] = '\0';
    if (!c.db || !c.sp || !(c.pg = store_pg_conn(c.sp)))
        return copy_fail(&c, "export", "from a SQLite database into a PostgreSQL one only");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(c.db, "SELECT id, uuid, status, flows FROM runs WHERE ?1 = 0 OR id = ?1 ORDER BY id", -1,
                           &st, NULL) != SQLITE_OK)
        return copy_fail(&c, store_name(from), sqlite3_errmsg(c.db));
    sqlite3_bind_int64(st, 1, run);
    int rc = 0, n = 0;
    while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
        n++;
        if (sqlite3_column_type(st, 1) == SQLITE_NULL) { /* store_open gave every run one: not ours */
            rc = copy_fail(&c, store_name(from), "a run without a uuid");
            break;
        }
        rc = export_run(&c, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
                        (const char *)sqlite3_column_text(st, 2), sqlite3_column_int64(st, 3), log);
    }
    sqlite3_finalize(st);
    if (!rc && run && !n)
        return copy_fail(&c, store_name(from), "no such run");
    return rc;
}

/* ---- report: PostgreSQL -> SQLite ------------------------------------- */

/* The SELECT list that gives PostgreSQL's values as SQLite's text: times
 * as store_format_time writes them, addresses without a prefix length. */
static void import_select(const struct cols *k, char *sel, size_t len, char *ins, size_t inslen)
{
    sel[0] = ins[0] = '\0';
    for (int i = 0; i < k->n; i++) {
        char e[200];
        if (!strcmp(k->type[i], "timestamp with time zone"))
            snprintf(e, sizeof e, "to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')", k->name[i]);
        else if (!strcmp(k->type[i], "inet"))
            snprintf(e, sizeof e, "host(%s)", k->name[i]);
        else
            snprintf(e, sizeof e, "%s", k->name[i]);
        list_add(sel, len, e);
        list_add(ins, inslen, "?");
    }
}

/* Table t's rows of runs a and b from PostgreSQL into SQLite, streamed a
 * row at a time. 0 or -1. */
static int import_table(struct copy *c, int t, const struct cols *k, const char *a, const char *b)
{
    char sel[8192], marks[400], list[4096] = "", sql[13000];
    import_select(k, sel, sizeof sel, marks, sizeof marks);
    for (int i = 0; i < k->n; i++)
        list_add(list, sizeof list, k->name[i]);
    snprintf(sql, sizeof sql, "INSERT INTO %s(%s) VALUES(%s)", TABLES[t].name, list, marks);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
        return copy_fail(c, TABLES[t].name, sqlite3_errmsg(c->db));
    snprintf(sql, sizeof sql, "SELECT %s FROM %s WHERE %s IN ($1::bigint, $2::bigint)", sel, TABLES[t].name,
             TABLES[t].run_col);
    const char *v[] = {a, b};
    int rc = PQsendQueryParams(c->pg, sql, 2, NULL, v, NULL, NULL, 0) && PQsetSingleRowMode(c->pg) ? 0 : -1;
    PGresult *res;
    while ((res = PQgetResult(c->pg))) {
        ExecStatusType s = PQresultStatus(res);
        for (int r = 0; s == PGRES_SINGLE_TUPLE && !rc && r < PQntuples(res); r++) {
            for (int i = 0; i < k->n; i++)
                if (PQgetisnull(res, r, i))
                    sqlite3_bind_null(st, i + 1);
                else
                    sqlite3_bind_text(st, i + 1, PQgetvalue(res, r, i), -1, SQLITE_TRANSIENT);
            rc = sqlite3_step(st) == SQLITE_DONE ? 0 : copy_fail(c, TABLES[t].name, sqlite3_errmsg(c->db));
            sqlite3_reset(st);
        }
        if (s != PGRES_SINGLE_TUPLE && s != PGRES_TUPLES_OK && !rc)
            rc = pg_error(c, TABLES[t].name);
        PQclear(res);
    }
    sqlite3_finalize(st);
    return rc;
}

/* The run the report is of: *run, or the last (of sensor). 0 or -1. */
static int pick_run(struct copy *c, int64_t *run, const char *sensor)
{
    char want[24];
    snprintf(want, sizeof want, "%" PRId64, *run);
    const char *v[] = {*run ? want : NULL, sensor};
    PGresult *res = PQexecParams(c->pg,
                                 "SELECT coalesce($1::bigint, (SELECT max(id) FROM runs"
                                 " WHERE $2::text IS NULL OR sensor = $2::text))",
                                 2, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        return pg_error(c, "runs");
    }
    *run = PQgetisnull(res, 0, 0) ? 0 : strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return 0;
}

int store_copy_for_report(struct store *from, int64_t *run, int64_t since, const char *sensor, struct store *to,
                          char *err, size_t errlen)
{
    struct copy c = {NULL, store_sqlite_db(to), store_pg_backend(from), err, errlen};
    err[0] = '\0';
    if (!c.db || !c.sp || !(c.pg = store_pg_conn(c.sp)))
        return copy_fail(&c, "report", "from a PostgreSQL database into a SQLite one only");
    if (pick_run(&c, run, sensor))
        return -1;
    if (!*run)
        return 0;
    char a[24], b[24];
    snprintf(a, sizeof a, "%" PRId64, *run);
    snprintf(b, sizeof b, "%" PRId64, since ? since : *run);
    if (sqlite3_exec(c.db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return copy_fail(&c, "report", sqlite3_errmsg(c.db));
    for (int t = 0; t < NTABLES; t++) {
        struct cols k;
        if (common_cols(&c, TABLES[t].name, &k) || import_table(&c, t, &k, a, b)) {
            sqlite3_exec(c.db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    }
    return sqlite3_exec(c.db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0
                                                                       : copy_fail(&c, "report", sqlite3_errmsg(c.db));
}

/* ---- lyncaudit export ------------------------------------------------- */

static void export_usage(FILE *out)
{
    fprintf(out,
            "Usage: lyncaudit export SQLITE_DB postgresql://USER@HOST/DB [--run N] [-q]\n"
            "Copy the runs of a sensor's SQLite database into a PostgreSQL database (for sensors\n"
            "that ran offline). A run is known by its uuid: one already there unchanged is\n"
            "skipped, one that changed since (exported while it ran) is replaced; each run is\n"
            "copied in one transaction. 'postgresql:' alone takes the PG* environment variables.\n"
            "\n"
            "  --run N      only run N of SQLITE_DB\n"
            "  -q, --quiet  say nothing per run\n"
            "  -h, --help   this help\n"
            "\n"
            "Exit codes: 0 done (every run is there), 2 trouble (bad arguments, a database that\n"
            "cannot be read or written).\n");
}

int export_main(int argc, char **argv)
{
    static const struct option longs[] = {{"run", required_argument, NULL, 'R'}, {"quiet", no_argument, NULL, 'q'},
                                          {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int64_t run = 0;
    bool quiet = false;
    int ch;
    optind = 1;
    opterr = 0; /* suggest_option_error says it */
    while ((ch = getopt_long(argc, argv, ":qh", longs, NULL)) != -1) {
        char *end;
        if (ch == 'h') {
            export_usage(stdout);
            return 0;
        } else if (ch == 'q') {
            quiet = true;
        } else if (ch == 'R' && (errno = 0, run = strtoll(optarg, &end, 10), !errno && *end == '\0' && run > 0)) {
            continue;
        } else {
            if (ch == 'R')
                fprintf(stderr, "lyncaudit: export: --run %s: not a run number\n", optarg);
            else
                suggest_option_error("lyncaudit: export", "lyncaudit export", ch, argv, longs);
            return 2;
        }
    }
    if (argc - optind != 2 || store_is_url(argv[optind]) || !store_is_url(argv[optind + 1])) {
        fprintf(stderr, "lyncaudit: export: wants a SQLite database, then a PostgreSQL URL (postgresql://...)\n");
        return 2;
    }
    const char *path = argv[optind];
    char err[1024];
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "lyncaudit: export: %s: %s\n", path, strerror(errno));
        return 2;
    }
    fclose(f);
    struct store *from = store_open(path, 30000, err, sizeof err);
    struct store *to = from ? store_open(argv[optind + 1], 30000, err, sizeof err) : NULL;
    int rc = to ? store_copy_export(from, run, to, quiet ? NULL : stdout, err, sizeof err) : -1;
    if (rc)
        fprintf(stderr, "lyncaudit: export: %s\n", err);
    store_close(to);
    store_close(from);
    return rc ? 2 : 0;
}
