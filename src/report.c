/* report.c - end-of-run summary (see report.h). */
#include "report.h"

#include <inttypes.h>
#include <string.h>

#define TOP_APPS 10

/* 1234567 -> "1,234,567" */
static const char *grouped(uint64_t v, char buf[32])
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%" PRIu64, v);
    int j = 0;
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0)
            buf[j++] = ',';
        buf[j++] = tmp[i];
    }
    buf[j] = '\0';
    return buf;
}

static const char *human_bytes(uint64_t v, char buf[32])
{
    const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double d = (double)v;
    int u = 0;
    while (d >= 1024 && u < 4) {
        d /= 1024;
        u++;
    }
    snprintf(buf, 32, u ? "%.1f %s" : "%.0f %s", d, unit[u]);
    return buf;
}

static void text_row(const struct store_app_row *row, void *ctx)
{
    FILE *out = ctx;
    char a[32], b[32], c[32];
    fprintf(out, "  %-14s %8s flows %12s packets %12s\n", row->app, grouped(row->flows, a),
            grouped(row->packets, b), human_bytes(row->bytes, c));
}

struct verdict_text {
    char verdicts[256], kinds[256];
};

/* Appends "name n" to the verdicts or the violation kinds line. */
static void verdict_collect(const char *what, const char *name, uint64_t n, void *ctx)
{
    struct verdict_text *v = ctx;
    char *buf = strcmp(what, "verdict") ? v->kinds : v->verdicts;
    size_t used = strlen(buf);
    snprintf(buf + used, sizeof v->kinds - used, "%s%s %" PRIu64, used ? ", " : "", name, n);
}

/* The verdict and violation lines of an audited run. */
static void text_verdicts(FILE *out, struct store *s, const struct report_run *r)
{
    struct verdict_text vt = {"", ""};
    if (!r->audited || store_verdict_summary(s, r->run_id, verdict_collect, &vt) != 0)
        return;
    fprintf(out, "verdicts: %s\n", vt.verdicts[0] ? vt.verdicts : "none");
    if (vt.kinds[0])
        fprintf(out, "violations: %s (SELECT * FROM violation_report WHERE run_id = %" PRId64 ")\n", vt.kinds,
                r->run_id);
}

void report_text(FILE *out, struct store *s, const struct report_run *r)
{
    char a[32], b[32], c[32], d[32], e[32];
    double pps = r->seconds > 0 ? (double)r->counters.packets / r->seconds : 0;
    char from[32];
    if (r->files)
        snprintf(from, sizeof from, "%d file%s", r->files, r->files == 1 ? "" : "s");
    else
        snprintf(from, sizeof from, "live capture");
    fprintf(out, "lyncaudit: %s packets (%s), %s flows, %s undecodable, %s in %.2f s (%s packets/s)\n",
            grouped(r->counters.packets, a), human_bytes(r->counters.bytes, b),
            grouped(r->counters.flows, c), grouped(r->counters.undecodable, d), from, r->seconds,
            grouped((uint64_t)pps, e));
    if (r->counters.live)
        fprintf(out, "capture: %s received, %s dropped by the kernel, %s by the interface\n",
                grouped(r->counters.pcap_received, a), grouped(r->counters.pcap_dropped, b),
                grouped(r->counters.pcap_ifdropped, c));
    if (r->counters.flows_evicted)
        fprintf(out, "lyncaudit: %s flows evicted by --max-flows\n", grouped(r->counters.flows_evicted, a));
    if (r->counters.flows) {
        fprintf(out, "top applications by bytes:\n");
        store_app_summary(s, r->run_id, TOP_APPS, text_row, out);
    }
    fprintf(out, "database: %s (run %" PRId64 ", %s)\n", r->db_path, r->run_id, r->status);
    text_verdicts(out, s, r);
}

static void json_string(FILE *out, const char *v)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

struct json_ctx {
    FILE *out;
    int n;
};

static void json_row(const struct store_app_row *row, void *ctx)
{
    struct json_ctx *j = ctx;
    fprintf(j->out, "%s{\"app\":", j->n++ ? "," : "");
    json_string(j->out, row->app);
    fprintf(j->out, ",\"flows\":%" PRIu64 ",\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 "}",
            row->flows, row->packets, row->bytes);
}

struct json_counts {
    FILE *out;
    const char *want; /* "verdict" or "violation" */
    int n;
};

/* One "name":count member of the object being written, for rows of `want`. */
static void json_count(const char *what, const char *name, uint64_t n, void *ctx)
{
    struct json_counts *j = ctx;
    if (strcmp(what, j->want))
        return;
    fprintf(j->out, "%s", j->n++ ? "," : "");
    json_string(j->out, name);
    fprintf(j->out, ":%" PRIu64, n);
}

void report_json(FILE *out, struct store *s, const struct report_run *r)
{
    fprintf(out, "{\"run_id\":%" PRId64 ",\"database\":", r->run_id);
    json_string(out, r->db_path);
    fprintf(out, ",\"status\":");
    json_string(out, r->status);
    fprintf(out,
            ",\"files\":%d,\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"undecodable\":%" PRIu64
            ",\"flows\":%" PRIu64 ",\"flows_evicted\":%" PRIu64 ",\"peak_live_flows\":%" PRIu64
            ",\"seconds\":%.6f,\"packets_per_second\":%.0f,\"apps\":[",
            r->files, r->counters.packets, r->counters.bytes, r->counters.undecodable,
            r->counters.flows, r->counters.flows_evicted, r->peak_live_flows, r->seconds,
            r->seconds > 0 ? (double)r->counters.packets / r->seconds : 0.0);
    struct json_ctx j = {out, 0};
    store_app_summary(s, r->run_id, 1000, json_row, &j);
    fprintf(out, "],\"verdicts\":{");
    struct json_counts v = {out, "verdict", 0};
    store_verdict_summary(s, r->run_id, json_count, &v);
    fprintf(out, "},\"violations\":{");
    struct json_counts k = {out, "violation", 0};
    store_verdict_summary(s, r->run_id, json_count, &k);
    fprintf(out, "}}\n");
}
