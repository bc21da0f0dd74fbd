/* rpt.h - `lyncaudit report`: an audit a person can hand over.
 *
 * The report reads only the database (docs/schema.md). rpt_model builds the
 * content once, as TEMP tables of a read-only connection (r_run, r_compliance,
 * r_nodes, r_edges, r_vgroups, r_vflows, r_close, r_missing, r_diff_paths,
 * r_diff_viol); the HTML, JSON and Markdown writers all read those tables,
 * so the three formats carry the same content. docs/report.md. */
#ifndef LYNCAUDIT_RPT_H
#define LYNCAUDIT_RPT_H

#include <stdint.h>
#include <stdio.h>

#include <sqlite3.h>

/* `lyncaudit report ...` (argv[0] is "report"); returns the exit code. */
int report_main(int argc, char **argv);

struct rpt {
    sqlite3 *db;
    int64_t run, since;   /* since: 0 when no --since */
    const char *db_path;
    char err[512];
};

/* One column of a section table: the TEMP table's column and its label. */
struct rpt_col {
    const char *name, *label;
};

/* A section the writers render the same way: a TEMP table, in rowid order. */
struct rpt_table {
    const char *table, *title, *intro;
    const struct rpt_col *cols;
    int ncols;
};

/* SELECT of the table's columns in rowid order (r_compliance adds `level`
 * after them: "document" or "table"). NULL with r->err. */
sqlite3_stmt *rpt_table_stmt(struct rpt *r, const struct rpt_table *t);

/* Builds every TEMP table for r->run (and r->since). 0, or -1 with r->err. */
int rpt_model_build(struct rpt *r);

/* Evaluates the documented paths a deployment of the run's roles needs into
 * r_missing (rpt_expect.c). 0 or -1. */
int rpt_expect_build(struct rpt *r);

/* True when a flow on (src_role, dst_role, transport, dst_port) falls on
 * the path of a rule (its roles, transports and destination ports). */
int rpt_on_path(const char *from_roles, const char *to_roles, const char *transports, const char *dports,
                const char *src_role, const char *dst_role, const char *transport, int dst_port);

/* Prepares sql, records the error in r->err on failure. */
sqlite3_stmt *rpt_prepare(struct rpt *r, const char *sql);

/* Runs sql with ?1 = run and ?2 = since; 0 or -1 with r->err. */
int rpt_exec(struct rpt *r, const char *sql);

/* The column of a row as text, "" for NULL. */
const char *rpt_text(sqlite3_stmt *st, int i);

/* The shared sections (rpt_model.c), in report order; the writers add the
 * run header, the picture and the violation groups around them. */
extern const struct rpt_table RPT_COMPLIANCE, RPT_PATHS, RPT_CLOSE, RPT_MISSING, RPT_EXCEPTED, RPT_DIFF_PATHS,
    RPT_DIFF_VIOL, RPT_VERDICTS;

/* The writers: 0, or -1 with r->err (a write error). */
int rpt_write_html(struct rpt *r, FILE *out);
int rpt_write_json(struct rpt *r, FILE *out);
int rpt_write_md(struct rpt *r, FILE *out);

/* flows.app_detail as `key=value; ...` text (rpt_detail.c), malloc'd;
 * NULL when stored is not a JSON object (an older run's text: show it as
 * it is). */
char *rpt_detail_text(const char *stored);

/* The deployment picture as inline SVG (rpt_svg.c). */
int rpt_write_svg(struct rpt *r, FILE *out);

/* Writes s with &, <, >, " and ' as entities, invalid UTF-8 as U+FFFD and
 * control bytes as \xNN (rpt_html.c). */
void rpt_html_escape(FILE *out, const char *s);

/* The same for md != 0: Markdown (HTML's &, <, > as entities, and Markdown's
 * punctuation and | behind a backslash), for md == 0: rpt_html_escape. */
void rpt_escape(FILE *out, const char *s, int md);

/* The column a role is drawn in: 0 internal, 1 Edge (perimeter), 2 external. */
int rpt_role_column(const char *role);

/* A person's short name for a document file (the five seeds), or the file name. */
const char *rpt_doc_title(const char *doc);

/* How the report cites a document (its title, date and asset id, from the
 * run's `documents` rows, else the short name and file name), in buf. st:
 * any statement of the report's connection. */
const char *rpt_doc_cite(sqlite3_stmt *st, const char *doc, char *buf, size_t len);

#endif
