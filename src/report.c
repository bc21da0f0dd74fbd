/* report.c - end-of-run summary (see report.h). */
#include "report.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>
#include <pcap/pcap.h>
#include <sqlite3.h>

#include "classify.h"

#define TOP_APPS 10
#define TEXT_CITED 5         /* document rows the text summary names at most */
#define TEXT_CITE_SCAN 10000 /* the violations it reads for them */

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

/* The distinct references of the first violations, with how many cite each. */
struct cited {
    char *ref[TEXT_CITED];
    uint64_t n[TEXT_CITED];
    int count;
    uint64_t more;  /* violations citing a reference past the first TEXT_CITED */
};

static void cite_collect(const struct store_violation_row *row, void *ctx)
{
    struct cited *c = ctx;
    const char *ref = row->reference ? row->reference : "no row of the documents allows this path";
    for (int i = 0; i < c->count; i++)
        if (!strcmp(c->ref[i], ref)) {
            c->n[i]++;
            return;
        }
    if (c->count < TEXT_CITED && (c->ref[c->count] = strdup(ref)))
        c->n[c->count++] = 1;
    else
        c->more++;
}

/* The verdict and violation lines of an audited run, and the document rows
 * the first violations cite (title, date, asset id, table, row). */
static void text_verdicts(FILE *out, struct store *s, const struct report_run *r)
{
    struct verdict_text vt = {"", ""};
    if (!r->audited || store_verdict_summary(s, r->run_id, verdict_collect, &vt) != 0)
        return;
    fprintf(out, "verdicts: %s\n", vt.verdicts[0] ? vt.verdicts : "none");
    const struct store_counters *c = &r->counters;
    char a[32];
    fprintf(out, "audited: %s flows between known roles", grouped(c->flows_audited, a));
    if (c->flows_unconfirmed) {
        char b[32];
        fprintf(out, "; %s of them allowed by port alone, the protocol a rule expects not recognised (rules.unconfirmed)",
                grouped(c->flows_unconfirmed, b));
    }
    fprintf(out, "\n");
    if (r->roles_unseen && r->roles_unseen[0])
        fprintf(out, "roles never seen: %s\n", r->roles_unseen);
    if (!vt.kinds[0])
        return;
    fprintf(out, "violations: %s (SELECT * FROM violation_report WHERE run_id = %" PRId64 ")\n", vt.kinds,
            r->run_id);
    struct cited ct = {{NULL}, {0}, 0, 0};
    if (store_violation_list(s, r->run_id, TEXT_CITE_SCAN, cite_collect, &ct) == 0)
        for (int i = 0; i < ct.count; i++)
            fprintf(out, "  cites (%" PRIu64 "): %s\n", ct.n[i], ct.ref[i]);
    if (ct.more)
        fprintf(out, "  and %" PRIu64 " more violations citing other rows (violation_report.reference)\n", ct.more);
    for (int i = 0; i < ct.count; i++)
        free(ct.ref[i]);
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

/* The version words of a library's own text: "libpcap version 1.10.3 (...)" -> "1.10.3". */
static json_t *version_word(const char *text, const char *after)
{
    const char *p = strstr(text, after);
    p = p ? p + strlen(after) : text;
    return json_stringn(p, strcspn(p, " "));
}

json_t *report_versions(void)
{
    return json_pack("{s:s, s:s, s:o, s:s, s:o}", "lyncaudit", LYNCAUDIT_VERSION, "ndpi", classify_ndpi_version(),
                     "libpcap", version_word(pcap_lib_version(), "version "), "sqlite", sqlite3_libversion(), "lua",
                     version_word(LUA_RELEASE, "Lua "));
}

/* One label's row into the "apps" array (ctx). */
static void json_app(const struct store_app_row *row, void *ctx)
{
    json_array_append_new(ctx, json_pack("{s:s, s:I, s:I, s:I}", "app", row->app, "flows", (json_int_t)row->flows,
                                         "packets", (json_int_t)row->packets, "bytes", (json_int_t)row->bytes));
}

struct json_counts {
    json_t *verdicts, *violations;
};

/* One count: a verdict, or a violation kind. */
static void json_count(const char *what, const char *name, uint64_t n, void *ctx)
{
    struct json_counts *j = ctx;
    json_object_set_new(strcmp(what, "verdict") ? j->violations : j->verdicts, name, json_integer((json_int_t)n));
}

struct json_list {
    json_t *list;
    size_t n;
};

/* One stored violation into the list (ctx: struct json_list), counted. */
static void json_violation(const struct store_violation_row *v, void *ctx)
{
    struct json_list *l = ctx;
    l->n++;
    json_array_append_new(
        l->list, json_pack("{s:I, s:I, s:s, s:s, s:s?, s:s, s:s?, s:s, s:s, s:i, s:s, s:s, s:i, s:s, s:s, s:s, s:s}",
                           "violation_id", (json_int_t)v->id, "flow_id", (json_int_t)v->flow_id, "kind", v->kind,
                           "severity", v->severity, "rule_id", v->rule_id, "message", v->message, "reference",
                           v->reference, "transport", v->transport, "src_ip", v->src_ip, "src_port", (int)v->src_port,
                           "src_role", v->src_role, "dst_ip", v->dst_ip, "dst_port", (int)v->dst_port, "dst_role",
                           v->dst_role, "app", v->app, "first_seen", v->first_seen, "last_seen", v->last_seen));
}

/* The run's identity: who read what, with which topology and versions. */
static json_t *json_identity(const struct report_run *r)
{
    json_t *src = json_array();
    for (int i = 0; src && i < r->nsources; i++)
        json_array_append_new(src, json_string(r->sources[i]));
    json_t *topo = r->topology ? json_pack("{s:s, s:s?}", "path", r->topology, "name", r->topology_name)
                               : json_null();
    return json_pack("{s:I, s:s, s:s?, s:s?, s:i, s:s?, s:o, s:s?, s:o, s:I, s:o}", "run_id", (json_int_t)r->run_id,
                     "database", r->db_path, "status", r->status, "message", r->message, "exit_code", r->exit_code,
                     "error", r->error, "sources", src, "filter", r->filter, "topology", topo, "rules_loaded",
                     (json_int_t)r->rules_loaded, "versions", report_versions());
}

/* The counters and timing of the run, into o. */
static void json_counters(json_t *o, const struct report_run *r)
{
    const struct store_counters *c = &r->counters;
    json_t *n = json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:I}", "files", r->files, "packets",
                          (json_int_t)c->packets, "bytes", (json_int_t)c->bytes, "undecodable",
                          (json_int_t)c->undecodable, "flows", (json_int_t)c->flows, "flows_evicted",
                          (json_int_t)c->flows_evicted, "flows_dropped", (json_int_t)c->flows_dropped,
                          "peak_live_flows", (json_int_t)r->peak_live_flows, "seconds", r->seconds,
                          "packets_per_second",
                          (json_int_t)(r->seconds > 0 ? (double)c->packets / r->seconds : 0.0));
    json_object_update(o, n);
    json_decref(n);
    json_object_set_new(o, "flows_audited", json_integer((json_int_t)c->flows_audited));
    json_object_set_new(o, "flows_unconfirmed", json_integer((json_int_t)c->flows_unconfirmed));
    json_object_set_new(o, "roles_declared", json_integer(r->roles_declared));
    json_t *unseen = json_array();
    for (const char *p = r->roles_unseen; unseen && p && *p;) {
        size_t len = strcspn(p, ",");
        json_array_append_new(unseen, json_stringn(p, len));
        p += len;
        p += strspn(p, ", ");
    }
    json_object_set_new(o, "roles_unseen", unseen ? unseen : json_null());
}

/* Writes o as one line and frees it. */
static void json_put(FILE *out, json_t *o)
{
    if (o && json_dumpf(o, out, JSON_COMPACT | JSON_REAL_PRECISION(6)) == 0)
        fputc('\n', out);
    fflush(out);
    json_decref(o);
}

void report_json(FILE *out, struct store *s, const struct report_run *r)
{
    json_t *o = json_identity(r), *apps = json_array();
    struct json_counts k = {json_object(), json_object()};
    struct json_list l = {json_array(), 0};
    if (!o || !apps || !k.verdicts || !k.violations || !l.list) {
        json_decref(apps);
        json_decref(k.verdicts);
        json_decref(k.violations);
        json_decref(l.list);
        json_put(out, o);
        return;
    }
    json_counters(o, r);
    store_app_summary(s, r->run_id, 1000, json_app, apps);
    store_verdict_summary(s, r->run_id, json_count, &k);
    store_violation_list(s, r->run_id, REPORT_JSON_VIOLATIONS + 1, json_violation, &l);
    bool more = l.n > REPORT_JSON_VIOLATIONS;
    if (more)
        json_array_remove(l.list, REPORT_JSON_VIOLATIONS);
    json_object_set_new(o, "apps", apps);
    json_object_set_new(o, "verdicts", k.verdicts);
    json_object_set_new(o, "violations", k.violations);
    json_object_set_new(o, "violation_list", l.list);
    json_object_set_new(o, "violation_list_truncated", json_boolean(more));
    json_put(out, o);
}

void report_json_trouble(FILE *out, const struct report_run *r)
{
    json_t *o = json_identity(r);
    if (o && !r->run_id)
        json_object_set_new(o, "run_id", json_null());
    json_put(out, o);
}
