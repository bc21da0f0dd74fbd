/* rpt_main.c - `lyncaudit report DB [--run N] [--since RUN] [--sensor NAME]
 * [-o FILE] [--format html|json|md]`: the command line, the database, the
 * output file.
 *
 * A SQLite database is opened read-only; a PostgreSQL one is read through
 * the store, which copies the run (and the --since run) into a SQLite
 * database in memory (store_copy.h): the report's SQL is SQLite's either
 * way. The output is written to a temporary file beside FILE and renamed
 * over it at the end, so a failed report leaves no half-written file. */
#define _GNU_SOURCE
#include "rpt.h"
#include "suggest.h"
#include "store.h"
#include "store_copy.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RPT_OK 0
#define RPT_TROUBLE 2

struct rpt_opts {
    const char *db, *out, *format, *sensor;
    int64_t run, since;
};

static void rpt_usage(FILE *out)
{
    fprintf(out,
            "Usage: lyncaudit report DB [--run N] [--since RUN] [--sensor NAME] [-o FILE] [--format html|json|md]\n"
            "Write the audit report of a run of the database DB (a SQLite file, or PostgreSQL:\n"
            "postgresql://USER@HOST/DB): the run, compliance per document\n"
            "and table, a picture of the deployment, violations with their flows and document rows,\n"
            "ports you can close, paths expected but missing; with --since, what changed.\n"
            "\n"
            "  --run N          the run to report (default: the last run)\n"
            "  --sensor NAME    the last run of sensor NAME (runs.sensor), not the last of all\n"
            "  --since RUN      also report what changed from run RUN to the run\n"
            "  -o, --output F   write to F (default: standard output)\n"
            "  --format FMT     html (default; one self-contained file), json or md; by default\n"
            "                   taken from F's extension (.json, .md)\n"
            "  -h, --help       this help\n"
            "\n"
            "Exit codes: 0 the report was written, 2 trouble (bad arguments, a database that\n"
            "cannot be read or has no such run, a write error).\n"
            "The report: docs/report.md\n");
}

static int parse_run(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v <= 0)
        return -1;
    *out = v;
    return 0;
}

static const char *format_from_name(const char *out)
{
    size_t n = out ? strlen(out) : 0;
    if (n > 5 && !strcmp(out + n - 5, ".json"))
        return "json";
    if (n > 3 && !strcmp(out + n - 3, ".md"))
        return "md";
    return "html";
}

/* -1: exit 0 (help); 1: usage error (reported); 0: go. */
static int rpt_parse(int argc, char **argv, struct rpt_opts *o)
{
    enum { O_RUN = 1000, O_SINCE, O_FORMAT, O_SENSOR };
    static const struct option longs[] = {{"run", required_argument, NULL, O_RUN},
                                          {"sensor", required_argument, NULL, O_SENSOR},
                                          {"since", required_argument, NULL, O_SINCE},
                                          {"format", required_argument, NULL, O_FORMAT},
                                          {"output", required_argument, NULL, 'o'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    opterr = 0; /* suggest_option_error says it */
    while ((c = getopt_long(argc, argv, ":o:h", longs, NULL)) != -1) {
        if (c == 'h') {
            rpt_usage(stdout);
            return -1;
        }
        if (c == 'o')
            o->out = optarg;
        else if (c == O_SENSOR)
            o->sensor = optarg;
        else if (c == O_FORMAT)
            o->format = optarg;
        else if ((c == O_RUN || c == O_SINCE) && parse_run(optarg, c == O_RUN ? &o->run : &o->since) == 0)
            continue;
        else if (c == O_RUN || c == O_SINCE) {
            fprintf(stderr, "lyncaudit: report: --%s %s: not a run number\n", c == O_RUN ? "run" : "since", optarg);
            return 1;
        } else {
            suggest_option_error("lyncaudit: report", "lyncaudit report", c, argv, longs);
            return 1;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "lyncaudit: report: %s\n", optind >= argc ? "no database named" : "one database only");
        return 1;
    }
    o->db = argv[optind];
    if (!o->format)
        o->format = format_from_name(o->out && strcmp(o->out, "-") ? o->out : NULL);
    if (strcmp(o->format, "html") && strcmp(o->format, "json") && strcmp(o->format, "md")) {
        fprintf(stderr, "lyncaudit: report: --format %s: html, json or md\n", o->format);
        return 1;
    }
    return 0;
}

/* Opens the database read-only and checks that it is lyncaudit's and holds
 * the runs asked for. */
static int rpt_open(struct rpt *r, struct rpt_opts *o)
{
    if (r->db) /* a PostgreSQL run, copied into memory */
        goto check;
    if (access(o->db, R_OK) != 0) {
        snprintf(r->err, sizeof r->err, "%s: %s", o->db, strerror(errno));
        return -1;
    }
    if (sqlite3_open_v2(o->db, &r->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(r->err, sizeof r->err, "%s: cannot open database: %s", o->db,
                 r->db ? sqlite3_errmsg(r->db) : "out of memory");
        return -1;
    }
    sqlite3_busy_timeout(r->db, 5000);
check:
    r->db_path = o->db;
    sqlite3_stmt *st = rpt_prepare(r, "SELECT coalesce(?1, max(id)), (SELECT count(*) FROM runs WHERE id = ?1),"
                                      " (SELECT count(*) FROM runs WHERE id = ?2) FROM runs"
                                      " WHERE ?3 IS NULL OR sensor = ?3");
    if (!st) {
        snprintf(r->err, sizeof r->err, "%s: not a lyncaudit database (%s)", o->db, sqlite3_errmsg(r->db));
        return -1;
    }
    if (!o->run)
        sqlite3_bind_null(st, 1);
    else
        sqlite3_bind_int64(st, 1, o->run);
    if (o->sensor)
        sqlite3_bind_text(st, 3, o->sensor, -1, SQLITE_STATIC);
    int ok = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL;
    r->run = ok ? sqlite3_column_int64(st, 0) : 0;
    int run_found = !o->run || sqlite3_column_int(st, 1), since_found = !o->since || sqlite3_column_int(st, 2);
    sqlite3_finalize(st);
    if (!ok && o->sensor)
        snprintf(r->err, sizeof r->err, "%s: no run of sensor '%s'", o->db, o->sensor);
    else if (!ok)
        snprintf(r->err, sizeof r->err, "%s: the database holds no run", o->db);
    else if (!run_found)
        snprintf(r->err, sizeof r->err, "%s: no run %lld", o->db, (long long)o->run);
    else if (!since_found)
        snprintf(r->err, sizeof r->err, "%s: --since: no run %lld", o->db, (long long)o->since);
    else if (o->since && o->since == r->run)
        snprintf(r->err, sizeof r->err, "--since %lld: the run itself", (long long)o->since);
    return r->err[0] ? -1 : 0;
}

static int rpt_write(struct rpt *r, const char *format, FILE *out)
{
    int rc = !strcmp(format, "json") ? rpt_write_json(r, out)
             : !strcmp(format, "md") ? rpt_write_md(r, out)
                                     : rpt_write_html(r, out);
    if (!rc && (fflush(out) != 0 || ferror(out))) {
        snprintf(r->err, sizeof r->err, "write error: %s", strerror(errno));
        rc = -1;
    }
    return rc;
}

/* Writes the report to o->out through a temporary file renamed at the end. */
static int rpt_output(struct rpt *r, const struct rpt_opts *o)
{
    if (!o->out || !strcmp(o->out, "-"))
        return rpt_write(r, o->format, stdout);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", o->out);
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        snprintf(r->err, sizeof r->err, "%s: %s", o->out, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask); /* mkstemp's 0600 is for the temporary name only */
    int rc = rpt_write(r, o->format, f);
    if (fclose(f) != 0 && !rc) {
        snprintf(r->err, sizeof r->err, "%s: %s", o->out, strerror(errno));
        rc = -1;
    }
    if (!rc && rename(tmp, o->out) != 0) {
        snprintf(r->err, sizeof r->err, "%s: %s", o->out, strerror(errno));
        rc = -1;
    }
    if (rc)
        unlink(tmp);
    return rc;
}

/* A PostgreSQL database: the run asked for (or the last, of --sensor) and
 * the --since run, copied into a SQLite database in memory, which r reads.
 * o->db becomes the URL without its password. 0 or -1 with r->err. */
static int rpt_from_pg(struct rpt *r, struct rpt_opts *o, struct store **pg, struct store **mem)
{
    char err[1024];
    if (!(*pg = store_open(o->db, 5000, err, sizeof err)) || !(*mem = store_open(":memory:", 0, err, sizeof err)) ||
        store_copy_for_report(*pg, &o->run, o->since, o->sensor, *mem, err, sizeof err)) {
        snprintf(r->err, sizeof r->err, "%.500s", err);
        return -1;
    }
    o->db = store_name(*pg);
    r->db = store_sqlite_db(*mem); /* without a run (o->run 0), rpt_open says so */
    return 0;
}

int report_main(int argc, char **argv)
{
    struct rpt_opts o = {0};
    int pa = rpt_parse(argc, argv, &o);
    if (pa)
        return pa < 0 ? RPT_OK : RPT_TROUBLE;
    struct rpt r = {0};
    r.since = o.since;
    struct store *pg = NULL, *mem = NULL;
    int rc = store_is_url(o.db) && rpt_from_pg(&r, &o, &pg, &mem);
    rc = rc || rpt_open(&r, &o) || rpt_model_build(&r) || rpt_output(&r, &o);
    if (rc)
        fprintf(stderr, "lyncaudit: report: %s\n", r.err);
    if (mem)
        store_close(mem);
    else
        sqlite3_close(r.db);
    store_close(pg);
    return rc ? RPT_TROUBLE : RPT_OK;
}
