/* rpt_md.c - the report as Markdown: the sections of the HTML report from
 * the same TEMP tables (the picture is the table of paths). Text from the
 * database goes through rpt_escape's Markdown mode. */
#include "rpt.h"

#include <stdlib.h>
#include <string.h>

static void md(FILE *out, const char *s)
{
    rpt_escape(out, s, 1);
}

static int md_table(struct rpt *r, FILE *out, const struct rpt_table *t, const char *empty)
{
    sqlite3_stmt *st = rpt_table_stmt(r, t);
    if (!st)
        return -1;
    int rows = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (!rows++) {
            for (int i = 0; i < t->ncols; i++)
                fprintf(out, "| %s ", t->cols[i].label);
            fputs("|\n", out);
            for (int i = 0; i < t->ncols; i++)
                fputs(sqlite3_column_type(st, i) == SQLITE_INTEGER ? "| ---: " : "| --- ", out);
            fputs("|\n", out);
        }
        for (int i = 0; i < t->ncols; i++) {
            fputs("| ", out);
            char cite[512];
            md(out, !strcmp(t->cols[i].name, "doc") ? rpt_doc_cite(st, rpt_text(st, i), cite, sizeof cite)
                                                    : rpt_text(st, i));
            fputc(' ', out);
        }
        fputs("|\n", out);
    }
    sqlite3_finalize(st);
    fprintf(out, "%s\n", rows ? "" : empty);
    return 0;
}

static void md_section(FILE *out, const struct rpt_table *t)
{
    fprintf(out, "## %s\n\n", t->title);
    if (t->intro)
        fprintf(out, "%s\n\n", t->intro);
}

static int md_summary(struct rpt *r, FILE *out)
{
    sqlite3_stmt *st = rpt_prepare(r, "SELECT id, status, sources, coalesce(filter, 'none'),"
                                      " coalesce(capture_start || ' to ' || capture_end, 'no flows'), packets,"
                                      " flows, coalesce(topology_name, 'none'), coalesce(topology, 'none'),"
                                      " rules_loaded, violations, started_at, coalesce(sensor, 'unnamed'), coalesce(label, 'none'),"
                                      " coalesce(inputs, 'not recorded') FROM r_run");
    if (!st || sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return -1;
    }
    fputs("# Lync Server compliance audit: ", out);
    md(out, rpt_text(st, 7));
    fprintf(out, "\n\n## The run\n\n- Run: %lld (%s), audited at %s UTC\n",
            (long long)sqlite3_column_int64(st, 0), rpt_text(st, 1), rpt_text(st, 11));
    fputs("- Sensor: ", out);
    md(out, rpt_text(st, 12));
    fputs("\n- Label: ", out);
    md(out, rpt_text(st, 13));
    fputs("\n- Sources: ", out);
    md(out, rpt_text(st, 2));
    fputs("\n- Inputs (provenance): ", out);
    md(out, rpt_text(st, 14));
    fputs("\n- BPF filter: ", out);
    md(out, rpt_text(st, 3));
    fprintf(out, "\n- Capture time span (UTC): %s\n- Packets: %lld, flows: %lld\n- Topology: ", rpt_text(st, 4),
            (long long)sqlite3_column_int64(st, 5), (long long)sqlite3_column_int64(st, 6));
    md(out, rpt_text(st, 7));
    fputs(" (", out);
    md(out, rpt_text(st, 8));
    fprintf(out, ")\n- Rules loaded: %lld\n- Violations: %lld\n\n### Verdicts and violation kinds\n\n",
            (long long)sqlite3_column_int64(st, 9), (long long)sqlite3_column_int64(st, 10));
    sqlite3_finalize(st);
    return md_table(r, out, &RPT_VERDICTS, "No flows in this run.\n");
}

/* The rule and document row of a finding, as a quote. */
static void md_cite(FILE *out, sqlite3_stmt *st, int rule, int doc, int table, int row, int text, int ref)
{
    if (*rpt_text(st, rule)) {
        fputs("> Rule ", out);
        md(out, rpt_text(st, rule));
        fputs(" · ", out);
        char cite[512];
        md(out, rpt_doc_cite(st, rpt_text(st, doc), cite, sizeof cite));
        fputs(" · ", out);
        md(out, rpt_text(st, table));
        fprintf(out, ", row %d\n>\n> ", sqlite3_column_int(st, row));
        md(out, rpt_text(st, text));
    } else {
        if (ref >= 0 && *rpt_text(st, ref)) {
            fputs("> Document reference: ", out);
            md(out, rpt_text(st, ref));
        } else
            fputs("> No row of the documents allows this path", out);
    }
    fputs("\n\n", out);
}

static int md_group_flows(struct rpt *r, FILE *out, long long gid)
{
    sqlite3_stmt *st = rpt_prepare(r, "SELECT flow_id, src_ip || ':' || src_port, dst_ip || ':' || dst_port,"
                                      " first_seen, last_seen, packets, bytes, app, app_detail FROM r_vflows"
                                      " WHERE gid = ?3 ORDER BY n");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 3, gid);
    fputs("| Flow | Source | Destination | First seen | Last seen | Packets | Bytes | Label | How it was reached |\n"
          "| ---: | --- | --- | --- | --- | ---: | ---: | --- | --- |\n", out);
    while (sqlite3_step(st) == SQLITE_ROW) {
        fprintf(out, "| %lld ", (long long)sqlite3_column_int64(st, 0));
        for (int i = 1; i <= 8; i++) {
            char *detail = i == 8 ? rpt_detail_text(rpt_text(st, i)) : NULL; /* app_detail */
            fputs("| ", out);
            md(out, detail ? detail : rpt_text(st, i));
            fputc(' ', out);
            free(detail);
        }
        fputs("|\n", out);
    }
    sqlite3_finalize(st);
    fputc('\n', out);
    return 0;
}

static int md_violations(struct rpt *r, FILE *out)
{
    fputs("## Violations\n\nGrouped by kind and path, most severe first.\n\n", out);
    sqlite3_stmt *st = rpt_prepare(r, "SELECT gid, kind, severity, src_role || ' → ' || dst_role || ' · ' ||"
                                      " transport || '/' || dst_port || ' · ' || app, message, flow_count, packets, bytes,"
                                      " rule_id, doc, doc_table, doc_row, row_text, reference FROM r_vgroups"
                                      " ORDER BY gid");
    if (!st)
        return -1;
    int n = 0, rc = 0;
    while (!rc && sqlite3_step(st) == SQLITE_ROW) {
        n++;
        fputs("### ", out);
        md(out, rpt_text(st, 2));
        fputs(": ", out);
        md(out, rpt_text(st, 1));
        fputs(" · ", out);
        md(out, rpt_text(st, 3));
        fprintf(out, "\n\nFlows: %lld, packets: %lld, bytes: %lld. ", (long long)sqlite3_column_int64(st, 5),
                (long long)sqlite3_column_int64(st, 6), (long long)sqlite3_column_int64(st, 7));
        md(out, rpt_text(st, 4));
        fputs("\n\n", out);
        md_cite(out, st, 8, 9, 10, 11, 12, 13);
        rc = md_group_flows(r, out, sqlite3_column_int64(st, 0));
    }
    sqlite3_finalize(st);
    if (!n)
        fputs("No violations in this run.\n\n", out);
    return rc;
}

static int md_missing(struct rpt *r, FILE *out)
{
    md_section(out, &RPT_MISSING);
    sqlite3_stmt *st = rpt_prepare(r, "SELECT title, meaning, rule_id, doc, doc_table, doc_row, row_text"
                                      " FROM r_missing ORDER BY rowid");
    if (!st)
        return -1;
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        n++;
        fputs("### ", out);
        md(out, rpt_text(st, 0));
        fputs("\n\n", out);
        md(out, rpt_text(st, 1));
        fputs("\n\n", out);
        md_cite(out, st, 2, 3, 4, 5, 6, -1);
    }
    sqlite3_finalize(st);
    if (!n)
        fputs("Every documented path checked for the roles of this run appeared.\n\n", out);
    return 0;
}

int rpt_write_md(struct rpt *r, FILE *out)
{
    int rc = md_summary(r, out);
    if (!rc) {
        md_section(out, &RPT_COMPLIANCE);
        rc = md_table(r, out, &RPT_COMPLIANCE, "No rules were loaded for this run.\n");
    }
    if (!rc) {
        fputs("## The deployment as seen\n\nThe role-to-role paths (the HTML report draws them).\n\n", out);
        rc = md_table(r, out, &RPT_PATHS, "No flows.\n");
    }
    rc = rc || md_violations(r, out);
    if (!rc) {
        md_section(out, &RPT_EXCEPTED);
        rc = md_table(r, out, &RPT_EXCEPTED, "No flow was excepted.\n");
    }
    rc = rc || md_missing(r, out);
    if (!rc) {
        md_section(out, &RPT_CLOSE);
        rc = md_table(r, out, &RPT_CLOSE, "Every allow rule for the roles of this run was used.\n");
    }
    if (!rc && r->since) {
        fprintf(out, "## What changed\n\nFrom run %lld to run %lld.\n\n### Paths new and gone\n\n",
                (long long)r->since, (long long)r->run);
        rc = md_table(r, out, &RPT_DIFF_PATHS, "The same paths in both runs.\n");
        fputs("### Violations new and resolved\n\n", out);
        rc = rc || md_table(r, out, &RPT_DIFF_VIOL, "The same violations in both runs.\n");
    }
    return rc ? -1 : 0;
}
