/* rpt_html.c - the report as one self-contained HTML file.
 *
 * No script, no font, no image from anywhere: inline CSS and inline SVG, and
 * a Content-Security-Policy that forbids loading anything, so the file opens
 * the same from a mail attachment. Every text from the database goes through
 * rpt_html_escape (app_detail holds what peers sent: SNI, certificate names,
 * HTTP hosts). */
#include "rpt.h"

#include <stdlib.h>
#include <string.h>

static const char *CSS =
    ":root{--ink:#1d2733;--muted:#5b6877;--line:#d8dee6;--bg:#f5f7fa;--ok:#2e7d4f;--bad:#c0392b;"
    "--warn:#b9770e;--info:#2c5d8f}"
    "*{box-sizing:border-box}"
    "body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 'Segoe UI','DejaVu Sans',"
    "'Liberation Sans',Arial,sans-serif}"
    "main{max-width:1180px;margin:0 auto;padding:28px 32px 48px}"
    "header.top{background:#1f3a5a;color:#fff;padding:22px 0}"
    "header.top div{max-width:1180px;margin:0 auto;padding:0 32px}"
    "header.top h1{margin:0 0 4px;font-size:24px;font-weight:600}"
    "header.top p{margin:0;color:#c9d6e5}"
    "h2{font-size:18px;margin:34px 0 10px;padding-bottom:6px;border-bottom:2px solid #1f3a5a}"
    "h3{font-size:15px;margin:18px 0 8px}"
    "p.intro{color:var(--muted);margin:4px 0 12px;max-width:900px}"
    ".cards{display:grid;grid-template-columns:repeat(4,1fr);gap:12px}"
    ".card{background:#fff;border:1px solid var(--line);border-radius:6px;padding:10px 14px}"
    ".card .k{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}"
    ".card .v{font-size:18px;font-weight:600;overflow-wrap:anywhere}"
    ".card .v.small{font-size:13px;font-weight:400}"
    "table{border-collapse:collapse;width:100%;background:#fff;border:1px solid var(--line);font-size:13px}"
    "th,td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top;"
    "overflow-wrap:break-word}"
    "th{background:#eef2f6;font-weight:600;font-size:12px;color:#34414f;overflow-wrap:normal}"
    "table#verdicts{width:auto;min-width:460px}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    "tr.document td{font-weight:600;background:#f8fafc}"
    "code,.mono{font-family:'DejaVu Sans Mono',Consolas,monospace;font-size:12px}"
    ".badge{display:inline-block;padding:1px 7px;border-radius:9px;font-size:11px;font-weight:600;"
    "color:#fff;background:var(--muted);text-transform:uppercase;letter-spacing:.03em}"
    ".b-ok{background:var(--ok)}.b-violation,.b-high,.b-new{background:var(--bad)}"
    ".b-medium{background:var(--warn)}.b-low,.b-unscoped,.b-gone{background:#7f8c99}"
    ".b-resolved{background:var(--ok)}"
    ".vgroup,.finding{background:#fff;border:1px solid var(--line);border-left:5px solid var(--warn);"
    "border-radius:6px;padding:12px 16px;margin:12px 0}"
    ".vgroup.high{border-left-color:var(--bad)}.vgroup.low{border-left-color:#7f8c99}"
    ".finding{border-left-color:var(--info)}"
    ".vgroup h3,.finding h3{margin:0 0 6px}"
    ".path{font-family:'DejaVu Sans Mono',Consolas,monospace;font-size:13px}"
    ".meta{color:var(--muted);font-size:12px}"
    ".cite{background:#f8fafc;border:1px solid var(--line);border-radius:4px;padding:8px 10px;margin:8px 0}"
    "table.row td{font-size:12px;color:#34414f;background:#fdfdfd}"
    ".detail,table.flows td{overflow-wrap:anywhere}.detail{max-width:360px}"
    /* The table of ports to close has seven short columns and the row's text:
     * without a floor the text gets what the role lists and rule ids leave
     * (a narrow column, a page three times as long). */
    "#close-table td{overflow-wrap:anywhere}#close-table td.detail{min-width:380px}"
    "figure{margin:0;background:#fff;border:1px solid var(--line);border-radius:6px;padding:8px}"
    "figure svg{width:100%;height:auto;display:block}"
    "figcaption{color:var(--muted);font-size:12px;padding:4px 8px}"
    "p.empty{color:var(--muted);font-style:italic}"
    "footer{color:var(--muted);font-size:12px;margin-top:40px;border-top:1px solid var(--line);padding-top:8px}"
    "@media print{body{background:#fff;font-size:11px}main{max-width:none;padding:0}"
    "#close-table td.detail{min-width:260px}"
    "header.top{padding:10px 0;-webkit-print-color-adjust:exact;print-color-adjust:exact}"
    ".badge,th,figure,.vgroup,.finding{-webkit-print-color-adjust:exact;print-color-adjust:exact}"
    ".vgroup,.finding,figure,.card,tr{break-inside:avoid}h2{break-after:avoid}"
    ".cards{grid-template-columns:repeat(4,1fr)}@page{size:A4;margin:14mm}}";

/* Length of the valid UTF-8 sequence at s, 0 when it is not one. */
static int utf8_len(const unsigned char *s)
{
    int n = s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 && s[0] < 0xE0 ? 2 : 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if (n == 3 && ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0)))
        return 0; /* overlong, surrogate */
    if (n == 4 && ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90)))
        return 0;
    return n;
}

/* One byte of s that needs escaping in the mode, as its replacement. */
static const char *escape_of(unsigned char c, int md)
{
    switch (c) {
    case '&': return "&amp;";
    case '<': return "&lt;";
    case '>': return "&gt;";
    case '"': return md ? NULL : "&quot;";
    case '\'': return md ? NULL : "&#39;";
    case '|': return md ? "\\|" : NULL;
    case '\\': return md ? "\\\\" : NULL;
    case '*': return md ? "\\*" : NULL;
    case '_': return md ? "\\_" : NULL;
    case '[': return md ? "\\[" : NULL;
    case ']': return md ? "\\]" : NULL;
    case '`': return md ? "\\`" : NULL;
    case '#': return md ? "\\#" : NULL;
    case '~': return md ? "\\~" : NULL;
    default: return NULL;
    }
}

void rpt_escape(FILE *out, const char *s, int md)
{
    for (const unsigned char *p = (const unsigned char *)s; p && *p;) {
        const char *e = escape_of(*p, md);
        int n;
        if (e)
            fputs(e, out);
        else if (*p == '\n' || *p == '\t' || *p == '\r')
            fputc(' ', out);
        else if (*p < 0x20 || *p == 0x7F)
            fprintf(out, "\\x%02X", *p);
        else if (*p < 0x80)
            fputc(*p, out);
        else if ((n = utf8_len(p)) > 0) {
            fwrite(p, 1, (size_t)n, out);
            p += n;
            continue;
        } else
            fputs("\xEF\xBF\xBD", out); /* U+FFFD */
        p++;
    }
}

void rpt_html_escape(FILE *out, const char *s)
{
    rpt_escape(out, s, 0);
}

static void esc(FILE *out, const char *s)
{
    rpt_html_escape(out, s);
}

static void put_int(FILE *out, long long v)
{
    char b[32];
    int n = snprintf(b, sizeof b, "%lld", v < 0 ? -v : v), lead = n % 3 ? n % 3 : 3;
    if (v < 0)
        fputc('-', out);
    fwrite(b, 1, (size_t)lead, out);
    for (int i = lead; i < n; i += 3)
        fprintf(out, ",%.3s", b + i);
}

/* One cell: numbers right-aligned with separators, verdicts as badges,
 * documents by their title. */
static void html_cell(FILE *out, sqlite3_stmt *st, int i, const char *col)
{
    const char *v = rpt_text(st, i);
    if (sqlite3_column_type(st, i) == SQLITE_INTEGER) {
        fputs("<td class=\"num\">", out);
        put_int(out, sqlite3_column_int64(st, i));
    } else if (!strcmp(col, "verdict") || !strcmp(col, "change") || !strcmp(col, "severity")) {
        fprintf(out, "<td><span class=\"badge b-");
        esc(out, v);
        fputs("\">", out);
        esc(out, v);
        fputs("</span>", out);
    } else if (!strcmp(col, "doc") && *v) {
        fputs("<td>", out);
        char cite[512];
        esc(out, rpt_doc_cite(st, v, cite, sizeof cite));
    } else if (strstr(col, "_roles")) { /* "a,b,c": a line may break after each comma */
        fputs("<td>", out);
        for (const char *p = v, *e; p; p = e ? e + 1 : NULL) {
            e = strchr(p, ',');
            char part[128];
            snprintf(part, sizeof part, "%.*s", e ? (int)(e - p) : (int)strlen(p), p);
            esc(out, part);
            if (e)
                fputs(",&#8203;", out);
        }
    } else {
        fprintf(out, "<td%s>", !strcmp(col, "services") || !strcmp(col, "row_text") ? " class=\"detail\"" : "");
        esc(out, v);
    }
    fputs("</td>", out);
}

/* A section table: its columns, in rowid order; `empty` when it has no row. */
static int html_table(struct rpt *r, FILE *out, const struct rpt_table *t, const char *id, const char *empty)
{
    sqlite3_stmt *st = rpt_table_stmt(r, t);
    if (!st)
        return -1;
    int rows = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (!rows++) {
            fprintf(out, "<table id=\"%s\"><thead><tr>", id);
            for (int i = 0; i < t->ncols; i++)
                fprintf(out, "<th>%s</th>", t->cols[i].label);
            fputs("</tr></thead><tbody>\n", out);
        }
        int doc_level = t->ncols < sqlite3_column_count(st) && !strcmp(rpt_text(st, t->ncols), "document");
        fprintf(out, "<tr%s>", doc_level ? " class=\"document\"" : "");
        for (int i = 0; i < t->ncols; i++)
            html_cell(out, st, i, t->cols[i].name);
        fputs("</tr>\n", out);
    }
    sqlite3_finalize(st);
    if (rows)
        fputs("</tbody></table>\n", out);
    else
        fprintf(out, "<p class=\"empty\" id=\"%s\">%s</p>\n", id, empty);
    return 0;
}

static void section(FILE *out, const char *id, const char *title, const char *intro)
{
    fprintf(out, "<section id=\"%s\"><h2>%s</h2>\n", id, title);
    if (intro)
        fprintf(out, "<p class=\"intro\">%s</p>\n", intro);
}

static void card(FILE *out, const char *k, const char *v, int small)
{
    fprintf(out, "<div class=\"card\"><div class=\"k\">%s</div><div class=\"v%s\">", k, small ? " small" : "");
    esc(out, v && *v ? v : "none");
    fputs("</div></div>\n", out);
}

/* The run: what was read, when, with which topology, and what came out. */
static int html_summary(struct rpt *r, FILE *out)
{
    sqlite3_stmt *st = rpt_prepare(r, "SELECT id, status, sources, coalesce(filter, ''),"
                                      " coalesce(capture_start || ' to ' || capture_end, 'no flows'),"
                                      " packets, flows, coalesce(topology_name, ''), coalesce(topology, ''),"
                                      " rules_loaded, violations, started_at, version, ndpi_version,"
                                      " coalesce(message, ''), coalesce(sensor, 'unnamed'), coalesce(label, ''),"
                                      " coalesce(inputs, 'not recorded') FROM r_run");
    if (!st)
        return -1;
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return -1;
    }
    char n[64];
    fputs("<section id=\"run\"><h2>The run</h2><div class=\"cards\">\n", out);
    snprintf(n, sizeof n, "%lld (%s)", (long long)sqlite3_column_int64(st, 0), rpt_text(st, 1));
    card(out, "Run", n, 0);
    card(out, "Sensor", rpt_text(st, 15), 0);
    card(out, "Topology", rpt_text(st, 7), 0);
    snprintf(n, sizeof n, "%lld", (long long)sqlite3_column_int64(st, 9));
    card(out, "Rules loaded", n, 0);
    snprintf(n, sizeof n, "%lld", (long long)sqlite3_column_int64(st, 10));
    card(out, "Violations", n, 0);
    snprintf(n, sizeof n, "%lld", (long long)sqlite3_column_int64(st, 5));
    card(out, "Packets", n, 0);
    snprintf(n, sizeof n, "%lld", (long long)sqlite3_column_int64(st, 6));
    card(out, "Flows", n, 0);
    if (*rpt_text(st, 16))
        card(out, "Label", rpt_text(st, 16), 1);
    card(out, "Sources", rpt_text(st, 2), 1);
    card(out, "Inputs (provenance)", rpt_text(st, 17), 1);
    card(out, "Capture time span (UTC)", rpt_text(st, 4), 1);
    card(out, "BPF filter", rpt_text(st, 3), 1);
    card(out, "Topology file", rpt_text(st, 8), 1);
    card(out, "Audited at (UTC)", rpt_text(st, 11), 1);
    snprintf(n, sizeof n, "lyncaudit %s, nDPI %s", rpt_text(st, 12), rpt_text(st, 13));
    card(out, "Versions", n, 1);
    fputs("</div>\n", out);
    if (*rpt_text(st, 14)) {
        fputs("<p class=\"intro\">Run message: ", out);
        esc(out, rpt_text(st, 14));
        fputs("</p>\n", out);
    }
    sqlite3_finalize(st);
    fputs("<h3>Verdicts and violation kinds</h3>\n", out);
    return html_table(r, out, &RPT_VERDICTS, "verdicts", "No flows in this run.");
}

/* The document row a finding cites: the rule, the row's cells, its note. */
static void html_cite(FILE *out, sqlite3_stmt *st, int rule, int doc, int table, int row, int text, int ref)
{
    fputs("<div class=\"cite\"><div class=\"meta\">", out);
    if (*rpt_text(st, rule)) {
        fputs("Rule <code>", out);
        esc(out, rpt_text(st, rule));
        fputs("</code> &middot; ", out);
        char cite[512];
        esc(out, rpt_doc_cite(st, rpt_text(st, doc), cite, sizeof cite));
        fputs(" &middot; ", out);
        esc(out, rpt_text(st, table));
        fprintf(out, ", row %d</div>", sqlite3_column_int(st, row));
    } else {
        if (ref >= 0 && *rpt_text(st, ref)) {
            fputs("Document reference: ", out);
            esc(out, rpt_text(st, ref));
        } else
            fputs("No row of the documents allows this path", out);
        fputs("</div>", out);
    }
    if (*rpt_text(st, text)) {
        fputs("<table class=\"row\"><tr>", out);
        const char *p = rpt_text(st, text);
        for (const char *e; p; p = e ? e + 3 : NULL) {
            e = strstr(p, " | ");
            char cell[1024];
            snprintf(cell, sizeof cell, "%.*s", e ? (int)(e - p) : (int)strlen(p), p);
            fputs("<td>", out);
            esc(out, cell);
            fputs("</td>", out);
        }
        fputs("</tr></table>", out);
    }
    fputs("</div>\n", out);
}

/* The flows of one violation group. */
static int html_group_flows(struct rpt *r, FILE *out, long long gid)
{
    sqlite3_stmt *st = rpt_prepare(r, "SELECT flow_id, src_ip, src_port, dst_ip, dst_port, first_seen, last_seen,"
                                      " packets, bytes, app, app_detail, ndpi_master || '/' || ndpi_app || ', ' ||"
                                      " ndpi_confidence, end_reason FROM r_vflows WHERE gid = ?3 ORDER BY n");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 3, gid);
    fputs("<table class=\"flows\"><thead><tr><th>Flow</th><th>Source</th><th>Destination</th><th>First seen</th>"
          "<th>Last seen</th><th>Packets</th><th>Bytes</th><th>Label</th><th>How it was reached</th></tr></thead>"
          "<tbody>\n", out);
    while (sqlite3_step(st) == SQLITE_ROW) {
        long long id = sqlite3_column_int64(st, 0);
        fprintf(out, "<tr class=\"vflow\" id=\"flow-%lld\" data-flow-id=\"%lld\"><td class=\"num\">#%lld</td>", id,
                id, id);
        for (int ip = 1; ip <= 3; ip += 2) {
            fputs("<td class=\"mono\">", out);
            esc(out, rpt_text(st, ip));
            fprintf(out, ":%d</td>", sqlite3_column_int(st, ip + 1));
        }
        for (int i = 5; i <= 9; i++)
            html_cell(out, st, i, i == 9 ? "app" : "time");
        fputs("<td class=\"detail\">", out);
        char *detail = rpt_detail_text(rpt_text(st, 10));
        esc(out, detail ? detail : rpt_text(st, 10));
        free(detail);
        fputs("<br><span class=\"meta\">nDPI ", out);
        esc(out, rpt_text(st, 11));
        fputs(", ended: ", out);
        esc(out, rpt_text(st, 12));
        fputs("</span></td></tr>\n", out);
    }
    sqlite3_finalize(st);
    fputs("</tbody></table>\n", out);
    return 0;
}

static int html_violations(struct rpt *r, FILE *out)
{
    section(out, "violations", "Violations",
            "Grouped by kind and path (roles, transport, destination port, label), most severe first; each "
            "group with the rule or reason, the document row it cites, and its flows.");
    sqlite3_stmt *st = rpt_prepare(r, "SELECT gid, kind, severity, src_role, dst_role, transport, dst_port, app,"
                                      " message, flow_count, packets, bytes, rule_id, doc, doc_table, doc_row, row_text,"
                                      " reference, coalesce(note, '') FROM r_vgroups ORDER BY gid");
    if (!st)
        return -1;
    int n = 0, rc = 0;
    while (!rc && sqlite3_step(st) == SQLITE_ROW) {
        n++;
        fprintf(out, "<article class=\"vgroup %s\" id=\"group-%lld\"><h3><span class=\"badge b-", rpt_text(st, 2),
                (long long)sqlite3_column_int64(st, 0));
        esc(out, rpt_text(st, 2));
        fputs("\">", out);
        esc(out, rpt_text(st, 2));
        fputs("</span> <code>", out);
        esc(out, rpt_text(st, 1));
        fputs("</code> <span class=\"path\">", out);
        esc(out, rpt_text(st, 3));
        fputs(" &rarr; ", out);
        esc(out, rpt_text(st, 4));
        fprintf(out, " &middot; %s/%d &middot; ", rpt_text(st, 5), sqlite3_column_int(st, 6));
        esc(out, rpt_text(st, 7));
        fprintf(out, "</span></h3><div class=\"meta\">%lld flow%s, ", (long long)sqlite3_column_int64(st, 9),
                sqlite3_column_int64(st, 9) == 1 ? "" : "s");
        put_int(out, sqlite3_column_int64(st, 10));
        fputs(" packets, ", out);
        put_int(out, sqlite3_column_int64(st, 11));
        fputs(" bytes</div><p>", out);
        esc(out, rpt_text(st, 8));
        fputs("</p>\n", out);
        html_cite(out, st, 12, 13, 14, 15, 16, 17);
        rc = html_group_flows(r, out, sqlite3_column_int64(st, 0));
        fputs("</article>\n", out);
    }
    sqlite3_finalize(st);
    if (!n)
        fputs("<p class=\"empty\">No violations in this run.</p>\n", out);
    fputs("</section>\n", out);
    return rc;
}

static int html_missing(struct rpt *r, FILE *out)
{
    section(out, "missing", RPT_MISSING.title, RPT_MISSING.intro);
    sqlite3_stmt *st = rpt_prepare(r, "SELECT id, title, meaning, rule_id, doc, doc_table, doc_row, row_text,"
                                      " fallback_flows FROM r_missing ORDER BY rowid");
    if (!st)
        return -1;
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        n++;
        fputs("<article class=\"finding\" id=\"missing-", out);
        esc(out, rpt_text(st, 0));
        fputs("\"><h3>", out);
        esc(out, rpt_text(st, 1));
        fputs("</h3><p>", out);
        esc(out, rpt_text(st, 2));
        fputs("</p>\n", out);
        html_cite(out, st, 3, 4, 5, 6, 7, -1);
        fputs("</article>\n", out);
    }
    sqlite3_finalize(st);
    if (!n)
        fputs("<p class=\"empty\">Every documented path checked for the roles of this run appeared.</p>\n", out);
    fputs("</section>\n", out);
    return 0;
}

static int html_excepted(struct rpt *r, FILE *out)
{
    section(out, "excepted", RPT_EXCEPTED.title, RPT_EXCEPTED.intro);
    int rc = html_table(r, out, &RPT_EXCEPTED, "excepted-table", "No flow was excepted.");
    fputs("</section>\n", out);
    return rc;
}

static int html_close(struct rpt *r, FILE *out)
{
    section(out, "close", RPT_CLOSE.title, RPT_CLOSE.intro);
    if (html_table(r, out, &RPT_CLOSE, "close-table", "Every allow rule for the roles of this run was used."))
        return -1;
    sqlite3_stmt *st = rpt_prepare(r, "SELECT close_other_roles, close_covered FROM r_run");
    if (!st)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        fprintf(out, "<p class=\"intro\">Not listed: %d unused rules for roles absent from this run, and %d unused "
                "rules whose path other rules' flows used (the same row in two documents).</p>\n",
                sqlite3_column_int(st, 0), sqlite3_column_int(st, 1));
    sqlite3_finalize(st);
    fputs("</section>\n", out);
    return 0;
}

static int html_since(struct rpt *r, FILE *out)
{
    if (!r->since)
        return 0;
    char intro[160];
    snprintf(intro, sizeof intro, "From run %lld to run %lld. Paths of flows with a server role at one end at least.",
             (long long)r->since, (long long)r->run);
    section(out, "since", "What changed", intro);
    fputs("<h3>Paths new and gone</h3>\n", out);
    if (html_table(r, out, &RPT_DIFF_PATHS, "diff-paths", "The same paths in both runs."))
        return -1;
    fputs("<h3>Violations new and resolved</h3>\n", out);
    if (html_table(r, out, &RPT_DIFF_VIOL, "diff-violations", "The same violations in both runs."))
        return -1;
    fputs("</section>\n", out);
    return 0;
}

int rpt_write_html(struct rpt *r, FILE *out)
{
    sqlite3_stmt *st = rpt_prepare(r, "SELECT coalesce(topology_name, 'no topology'), id, sources FROM r_run");
    if (!st || sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return -1;
    }
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Lync compliance audit: ",
          out);
    esc(out, rpt_text(st, 0));
    fprintf(out, " (run %lld)</title>\n<style>%s</style></head><body>\n", (long long)sqlite3_column_int64(st, 1), CSS);
    fputs("<header class=\"top\"><div><h1>Lync Server compliance audit: ", out);
    esc(out, rpt_text(st, 0));
    fprintf(out, "</h1><p>Run %lld of ", (long long)sqlite3_column_int64(st, 1));
    esc(out, r->db_path);
    fputs(" &middot; traffic checked against Microsoft's Lync Server 2013 port and protocol tables</p></div>"
          "</header>\n<main>\n", out);
    sqlite3_finalize(st);
    int rc = html_summary(r, out);
    fputs("</section>\n", out);
    section(out, "compliance", RPT_COMPLIANCE.title, RPT_COMPLIANCE.intro);
    rc = rc || html_table(r, out, &RPT_COMPLIANCE, "compliance-table", "No rules were loaded for this run.");
    fputs("</section>\n", out);
    section(out, "deployment", "The deployment as seen",
            "Roles as the topology names them, in three columns: internal network, perimeter (Edge), outside. "
            "Arrows go from the initiator; red paths carry violations, green ones only allowed flows, grey ones "
            "flows with no server role.");
    rc = rc || rpt_write_svg(r, out);
    rc = rc || html_table(r, out, &RPT_PATHS, "paths-table", "No flows.");
    fputs("</section>\n", out);
    rc = rc || html_violations(r, out) || html_excepted(r, out) || html_missing(r, out) || html_close(r, out) || html_since(r, out);
    fputs("<footer>Made by <code>lyncaudit report</code> from the database alone; every figure can be checked "
          "with SQL (docs/schema.md). Document rows: the five Microsoft documents the rules encode.</footer>\n"
          "</main></body></html>\n", out);
    return rc ? -1 : 0;
}
