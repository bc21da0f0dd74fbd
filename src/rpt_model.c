/* rpt_model.c - the report's content, built once as TEMP tables (rpt.h).
 *
 * Every figure comes from the database of the run: flows, violations and
 * rules. Paths are keyed by (src_role, dst_role, transport, dst_port, app),
 * the key of role_stats, but computed from flows so that a run without
 * role_stats (interrupted) still has its paths. */
#include "rpt.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define COLS(a) a, (int)(sizeof a / sizeof a[0])

/* Roles by the column they are drawn in, in drawing order. */
static const char *const ROLE_ORDER[] = {
    "front_end", "fe_load_balancer", "director", "director_load_balancer", "mediation",
    "mediation_load_balancer", "pstn_gateway", "sba", "office_web_apps", "persistent_chat",
    "exchange_um", "client_internal", "any",
    /* perimeter */
    "edge_internal", "edge_access", "edge_webconf", "edge_av", "reverse_proxy",
    /* outside */
    "client_external", "federation_partner", "public_im_partner", "xmpp_partner"};
#define FIRST_EDGE 13
#define FIRST_EXTERNAL 18
#define NROLES ((int)(sizeof ROLE_ORDER / sizeof ROLE_ORDER[0]))

static int role_rank(const char *role)
{
    for (int i = 0; i < NROLES; i++)
        if (role && !strcmp(role, ROLE_ORDER[i]))
            return i;
    return NROLES;
}

int rpt_role_column(const char *role)
{
    int k = role_rank(role);
    return k >= FIRST_EXTERNAL && k < NROLES ? 2 : k >= FIRST_EDGE && k < NROLES ? 1 : 0;
}

static const struct {
    const char *prefix, *title;
} DOC_TITLES[] = {
    {"000_", "IPsec exceptions in Lync Server 2013"},
    {"001_", "External A/V firewall and port requirements"},
    {"002_", "Port summary: single consolidated Edge with NAT"},
    {"003_", "Ports and protocols for internal servers"},
    {"004_", "Port summary: SIP, XMPP federation and public IM"},
};

const char *rpt_doc_title(const char *doc)
{
    for (size_t i = 0; doc && i < sizeof DOC_TITLES / sizeof DOC_TITLES[0]; i++)
        if (!strncmp(doc, DOC_TITLES[i].prefix, 4))
            return DOC_TITLES[i].title;
    return doc ? doc : "";
}

/* SQL functions the model's queries use: role_column(r), role_rank(r), doc_title(d). */
static void sql_role_fn(sqlite3_context *c, int n, sqlite3_value **v)
{
    (void)n;
    const char *role = (const char *)sqlite3_value_text(v[0]);
    int which = *(const int *)sqlite3_user_data(c);
    sqlite3_result_int(c, which ? role_rank(role) : rpt_role_column(role));
}

/* The run's citation of a document from r_docs (title, date, asset id),
 * else its short title and file name (a run before schema 5). */
static const char *doc_cite(sqlite3 *db, const char *doc, char *buf, size_t len)
{
    sqlite3_stmt *q = NULL;
    snprintf(buf, len, "%s (%s)", rpt_doc_title(doc), doc ? doc : "");
    if (doc && sqlite3_prepare_v2(db, "SELECT cite FROM r_docs WHERE doc = ?", -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, doc, -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW)
            snprintf(buf, len, "%s", (const char *)sqlite3_column_text(q, 0));
    }
    sqlite3_finalize(q);
    return buf;
}

const char *rpt_doc_cite(sqlite3_stmt *st, const char *doc, char *buf, size_t len)
{
    return doc_cite(sqlite3_db_handle(st), doc, buf, len);
}

static void sql_doc_title(sqlite3_context *c, int n, sqlite3_value **v)
{
    (void)n;
    const char *doc = (const char *)sqlite3_value_text(v[0]);
    if (doc) {
        char buf[512];
        sqlite3_result_text(c, doc_cite(sqlite3_context_db_handle(c), doc, buf, sizeof buf), -1,
                            SQLITE_TRANSIENT);
    } else
        sqlite3_result_null(c);
}

sqlite3_stmt *rpt_prepare(struct rpt *r, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(r->err, sizeof r->err, "%s: %s", r->db_path, sqlite3_errmsg(r->db));
        return NULL;
    }
    if (sqlite3_bind_parameter_count(st) >= 1)
        sqlite3_bind_int64(st, 1, r->run);
    if (sqlite3_bind_parameter_count(st) >= 2) {
        if (r->since)
            sqlite3_bind_int64(st, 2, r->since);
        else
            sqlite3_bind_null(st, 2);
    }
    return st;
}

int rpt_exec(struct rpt *r, const char *sql)
{
    sqlite3_stmt *st = rpt_prepare(r, sql);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        snprintf(r->err, sizeof r->err, "%s: %s", r->db_path, sqlite3_errmsg(r->db));
        return -1;
    }
    return 0;
}

const char *rpt_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

/* A flow on a rule's path: its roles in the rule's lists ("any" is any
 * role), its transport and destination port in the rule's. */
static int in_list(const char *list, const char *item)
{
    size_t n = strlen(item);
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if ((len == 3 && !strncmp(p, "any", 3)) || (len == n && !strncmp(p, item, n)))
            return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

static int port_in(const char *dports, int port)
{
    for (const char *p = dports; p && *p;) {
        char *end;
        long lo = strtol(p, &end, 10), hi = lo;
        if (end == p)
            return 0;
        if (*end == '-')
            hi = strtol(end + 1, &end, 10);
        if (port >= lo && port <= hi)
            return 1;
        p = *end == ',' ? end + 1 : NULL;
    }
    return 0;
}

int rpt_on_path(const char *from_roles, const char *to_roles, const char *transports, const char *dports,
                const char *src_role, const char *dst_role, const char *transport, int dst_port)
{
    return in_list(from_roles, src_role) && in_list(to_roles, dst_role) && in_list(transports, transport) &&
           port_in(dports, dst_port);
}

/* True when the database has the table (a run before schema 5 has no
 * documents or run_sources). */
static bool have_table(struct rpt *r, const char *name)
{
    sqlite3_stmt *st = rpt_prepare(r, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?3");
    if (!st)
        return false;
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    bool have = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return have;
}

/* The run's label and provenance in r_run (label, inputs): the rule set's
 * version and hash, the topology's hash, each input with its size and hash. */
static int build_provenance(struct rpt *r)
{
    if (rpt_exec(r, "ALTER TABLE r_run ADD COLUMN label TEXT") || rpt_exec(r, "ALTER TABLE r_run ADD COLUMN inputs TEXT"))
        return -1;
    if (!have_table(r, "run_sources"))
        return 0;
    return rpt_exec(r, "UPDATE r_run SET label = (SELECT label FROM runs WHERE id = ?1), inputs ="
                       " (SELECT 'rule set ' || coalesce(rules_version, '?') || ', SHA-256 ' || coalesce(rules_sha256, '-')"
                       " || coalesce('; topology SHA-256 ' || topology_sha256, '') FROM runs WHERE id = ?1)"
                       " || coalesce((SELECT '; ' || group_concat(name || ' (' || coalesce(size || ' bytes, SHA-256 '"
                       " || sha256, 'not hashed') || ')', '; ') FROM (SELECT * FROM run_sources WHERE run_id = ?1"
                       " ORDER BY seq)), '')");
}

/* The flows the site's exceptions covered (verdict 'excepted'), by
 * exception and path; empty before schema 5. */
static int build_excepted(struct rpt *r)
{
    if (!have_table(r, "exceptions"))
        return rpt_exec(r, "CREATE TEMP TABLE r_excepted (exception_id TEXT, change_ref TEXT, reason TEXT,"
                           " expires TEXT, src_role TEXT, dst_role TEXT, transport TEXT, dst_port INTEGER, app TEXT,"
                           " flows INTEGER, bytes INTEGER, source TEXT)");
    return rpt_exec(r, "CREATE TEMP TABLE r_excepted AS SELECT f.rule_id AS exception_id, e.change_ref, e.reason,"
                       " e.expires, f.src_role, f.dst_role, f.transport, f.dst_port, f.app, count(*) AS flows,"
                       " sum(f.bytes_src2dst + f.bytes_dst2src) AS bytes, e.source"
                       " FROM flows f LEFT JOIN exceptions e ON e.run_id = f.run_id AND e.id = f.rule_id"
                       " WHERE f.run_id = ?1 AND f.verdict = 'excepted'"
                       " GROUP BY f.rule_id, f.src_role, f.dst_role, f.transport, f.dst_port, f.app"
                       " ORDER BY f.rule_id, f.src_role, f.dst_role, f.transport, f.dst_port, f.app");
}

/* The run's documents (schema 5 on) as the report cites them. */
static int build_docs(struct rpt *r)
{
    return rpt_exec(r, have_table(r, "documents") ? "CREATE TEMP TABLE r_docs AS SELECT doc, title, ms_date, asset_id, url,"
                              " title || ' (' || coalesce(ms_date, 'undated') || coalesce(', asset id ' || asset_id, '')"
                              " || ')' AS cite FROM documents WHERE run_id = ?1"
                            : "CREATE TEMP TABLE r_docs (doc TEXT, title TEXT, ms_date TEXT, asset_id TEXT, url TEXT,"
                              " cite TEXT)");
}

static const char *const BUILD_SQL[] = {
    "CREATE TEMP TABLE r_run AS SELECT r.id, r.status, r.started_at, r.finished_at, r.version,"
    " r.ndpi_version, r.sources, r.filter, r.packets, r.bytes, r.flows, r.violations, r.topology,"
    " r.topology_name, r.rules_loaded, r.message, r.sensor,"
    " (SELECT min(first_seen) FROM flows WHERE run_id = ?1) AS capture_start,"
    " (SELECT max(last_seen) FROM flows WHERE run_id = ?1) AS capture_end,"
    " (SELECT started_at FROM runs WHERE id = ?2) AS since_started_at, ?2 AS since"
    " FROM runs r WHERE r.id = ?1",

    "CREATE TEMP TABLE r_verdicts AS SELECT * FROM ("
    " SELECT 'verdict' AS category, verdict AS name, count(*) AS n FROM flows WHERE run_id = ?1"
    " GROUP BY verdict ORDER BY n DESC) UNION ALL SELECT * FROM ("
    " SELECT 'violation kind', kind, count(*) AS n FROM violations WHERE run_id = ?1"
    " GROUP BY kind ORDER BY n DESC)",

    /* One line per document and per table: rows, rows that apply with the
     * topology's options, rows a flow exercised, rows a flow violated. */
    "CREATE TEMP TABLE r_compliance AS"
    " WITH rr AS (SELECT doc, doc_table, doc_row, max(active) AS active, max(matched > 0) AS exercised,"
    "  max(EXISTS (SELECT 1 FROM violations v WHERE v.run_id = ?1 AND v.rule_id = r.id)) AS violated"
    "  FROM rules r WHERE r.run_id = ?1 GROUP BY doc, doc_table, doc_row),"
    " lines AS (SELECT doc, NULL AS doc_table, count(*) AS doc_rows, sum(active) AS applicable,"
    "  sum(exercised) AS exercised, sum(violated) AS violated FROM rr GROUP BY doc"
    "  UNION ALL SELECT doc, doc_table, count(*), sum(active), sum(exercised), sum(violated)"
    "  FROM rr GROUP BY doc, doc_table)"
    " SELECT CASE WHEN doc_table IS NULL THEN 'document' ELSE 'table' END AS level, doc,"
    "  CASE WHEN doc_table IS NULL THEN doc_title(doc) END AS title, doc_table, doc_rows, applicable, exercised, violated,"
    /* a violation counts where its rule's row is; one with no rule (nat) by
     * the document its reference names (before schema 5: "doc | table") */
    "  (SELECT count(*) FROM violations v LEFT JOIN rules r2 ON r2.run_id = v.run_id AND r2.id = v.rule_id"
    "   WHERE v.run_id = ?1 AND (r2.doc = lines.doc AND (lines.doc_table IS NULL OR r2.doc_table = lines.doc_table)"
    "   OR r2.id IS NULL AND (substr(v.reference, 1, length(lines.doc || ' | ' || coalesce(lines.doc_table, '')))"
    "    = lines.doc || ' | ' || coalesce(lines.doc_table, '') OR lines.doc_table IS NULL AND EXISTS (SELECT 1"
    "    FROM r_docs d WHERE d.doc = lines.doc AND substr(v.reference, 1, length(d.cite)) = d.cite))))"
    "   AS violations"
    " FROM lines ORDER BY doc, doc_table IS NOT NULL, doc_table",

    "CREATE TEMP TABLE r_nodes AS SELECT role, role_column(role) AS col, count(DISTINCT ip) AS addresses,"
    " count(*) AS flow_ends, sum(viol) AS violation_ends FROM ("
    " SELECT src_role AS role, src_ip AS ip, verdict = 'violation' AS viol FROM flows WHERE run_id = ?1"
    " UNION ALL SELECT dst_role, dst_ip, verdict = 'violation' FROM flows WHERE run_id = ?1)"
    " GROUP BY role ORDER BY col, role_rank(role), role",

    /* The role-to-role paths, with their six busiest services. */
    "CREATE TEMP TABLE r_edges AS"
    " WITH s AS (SELECT src_role, dst_role, transport, dst_port, app, count(*) AS n,"
    "  sum(packets_src2dst + packets_dst2src) AS packets, sum(bytes_src2dst + bytes_dst2src) AS bytes,"
    "  sum(verdict = 'violation') AS violations, sum(verdict = 'ok') AS ok"
    "  FROM flows WHERE run_id = ?1 GROUP BY 1, 2, 3, 4, 5),"
    " k AS (SELECT *, row_number() OVER (PARTITION BY src_role, dst_role ORDER BY violations > 0 DESC,"
    "  n DESC, dst_port) AS rk FROM s)"
    " SELECT src_role, dst_role, sum(n) AS flows, sum(packets) AS packets, sum(bytes) AS bytes,"
    "  sum(violations) AS violations,"
    "  CASE WHEN sum(violations) > 0 THEN 'violation' WHEN sum(ok) > 0 THEN 'ok' ELSE 'unscoped' END"
    "   AS verdict,"
    "  group_concat(CASE WHEN rk <= 6 THEN transport || '/' || dst_port || ' ' || app ||"
    "   CASE WHEN n > 1 THEN ' x' || n ELSE '' END END, ', ')"
    "   || CASE WHEN count(*) > 6 THEN ', +' || (count(*) - 6) || ' more' ELSE '' END AS services"
    " FROM (SELECT * FROM k ORDER BY rk) GROUP BY src_role, dst_role"
    " ORDER BY sum(violations) > 0 DESC, role_column(src_role), role_rank(src_role), role_rank(dst_role)",

    "CREATE TEMP TABLE r_vgroups AS SELECT row_number() OVER (ORDER BY sev_rank, kind, src_role,"
    " dst_role, transport, dst_port, app) AS gid, * FROM ("
    " SELECT v.kind, v.severity, CASE v.severity WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END"
    "  AS sev_rank, f.src_role, f.dst_role, f.transport, f.dst_port, f.app, v.rule_id,"
    "  min(v.message) AS message, min(v.reference) AS reference, r.doc, doc_title(r.doc) AS doc_title,"
    "  r.doc_table, r.doc_row, r.row_text, r.note, count(*) AS flow_count,"
    "  sum(f.packets_src2dst + f.packets_dst2src) AS packets, sum(f.bytes_src2dst + f.bytes_dst2src) AS bytes"
    "  FROM violations v JOIN flows f ON f.id = v.flow_id"
    "  LEFT JOIN rules r ON r.run_id = v.run_id AND r.id = v.rule_id WHERE v.run_id = ?1"
    "  GROUP BY v.kind, v.severity, f.src_role, f.dst_role, f.transport, f.dst_port, f.app, v.rule_id)"
    " ORDER BY gid",

    /* At most 1000 flows per group (docs/report.md): the database has all. */
    "CREATE TEMP TABLE r_vflows AS SELECT * FROM (SELECT g.gid, f.id AS flow_id, v.id AS violation_id,"
    " f.src_ip, f.src_port, f.dst_ip, f.dst_port, f.first_seen, f.last_seen,"
    " f.packets_src2dst + f.packets_dst2src AS packets, f.bytes_src2dst + f.bytes_dst2src AS bytes,"
    " f.app, f.app_detail, f.ndpi_master, f.ndpi_app, f.ndpi_confidence, f.end_reason,"
    " row_number() OVER (PARTITION BY g.gid ORDER BY f.first_seen, f.id) AS n"
    " FROM violations v JOIN flows f ON f.id = v.flow_id JOIN r_vgroups g ON g.kind = v.kind"
    " AND g.severity = v.severity AND g.src_role = f.src_role AND g.dst_role = f.dst_role"
    " AND g.transport = f.transport AND g.dst_port = f.dst_port AND g.app = f.app"
    " AND g.rule_id IS v.rule_id WHERE v.run_id = ?1) WHERE n <= 1000 ORDER BY gid, n",

    "CREATE TEMP TABLE r_close (from_roles TEXT, to_roles TEXT, transport TEXT, dports TEXT,"
    " rule_id TEXT, doc TEXT, doc_table TEXT, doc_row INTEGER, row_text TEXT)",
    "ALTER TABLE r_run ADD COLUMN close_other_roles INTEGER DEFAULT 0",
    "ALTER TABLE r_run ADD COLUMN close_covered INTEGER DEFAULT 0",
};

/* Paths with a change between --since RUN (?2) and the run (?1): scoped
 * flows only (a flow with no server role at either end has no fixed path). */
static const char *const DIFF_SQL[] = {
    "CREATE TEMP TABLE r_diff_paths AS"
    " WITH a AS (SELECT src_role, dst_role, transport, dst_port, app, count(*) AS flows FROM flows"
    "  WHERE run_id = ?1 AND verdict <> 'unscoped' GROUP BY 1, 2, 3, 4, 5),"
    " b AS (SELECT src_role, dst_role, transport, dst_port, app, count(*) AS flows FROM flows"
    "  WHERE run_id = ?2 AND verdict <> 'unscoped' GROUP BY 1, 2, 3, 4, 5)"
    " SELECT 'new' AS change, * FROM a WHERE NOT EXISTS (SELECT 1 FROM b WHERE b.src_role = a.src_role"
    "  AND b.dst_role = a.dst_role AND b.transport = a.transport AND b.dst_port = a.dst_port AND b.app = a.app)"
    " UNION ALL SELECT 'gone', * FROM b WHERE NOT EXISTS (SELECT 1 FROM a WHERE b.src_role = a.src_role"
    "  AND b.dst_role = a.dst_role AND b.transport = a.transport AND b.dst_port = a.dst_port AND b.app = a.app)",

    "CREATE TEMP TABLE r_diff_viol AS"
    " WITH k AS (SELECT v.run_id, v.kind, f.src_role, f.dst_role, f.transport, f.dst_port, f.app, v.rule_id,"
    "  count(*) AS flows, min(v.message) AS message FROM violations v JOIN flows f ON f.id = v.flow_id"
    "  WHERE v.run_id IN (?1, ?2) GROUP BY 1, 2, 3, 4, 5, 6, 7, 8)"
    " SELECT CASE WHEN a.run_id = ?1 THEN 'new' ELSE 'resolved' END AS change, a.kind, a.src_role,"
    "  a.dst_role, a.transport, a.dst_port, a.app, a.rule_id, a.flows, a.message FROM k a"
    " WHERE NOT EXISTS (SELECT 1 FROM k b WHERE b.run_id <> a.run_id AND b.kind = a.kind"
    "  AND b.src_role = a.src_role AND b.dst_role = a.dst_role AND b.transport = a.transport"
    "  AND b.dst_port = a.dst_port AND b.app = a.app AND b.rule_id IS a.rule_id)"
    " ORDER BY change, a.kind, a.src_role, a.dst_role",
};

/* True when one of the roles of a rule's list was seen in the run. */
static int list_seen(sqlite3_stmt *nodes, const char *list)
{
    int seen = 0;
    sqlite3_reset(nodes);
    while (!seen && sqlite3_step(nodes) == SQLITE_ROW) {
        const char *role = rpt_text(nodes, 0);
        seen = strcmp(role, "any") && in_list(list, role) && strcmp(list, "any");
    }
    return seen;
}

/* An unused allow rule is a port to close when its roles are in the run and
 * no flow of the run was on its path (another rule encoding the same path,
 * from another document, may have taken the flows). */
static int classify_unused(struct rpt *r, sqlite3_stmt *paths, sqlite3_stmt *nodes, sqlite3_stmt *rule,
                           int *other, int *covered)
{
    const char *from = rpt_text(rule, 0), *to = rpt_text(rule, 1);
    const char *tr = rpt_text(rule, 2), *dp = rpt_text(rule, 3);
    int from_ok = !strcmp(from, "any") || list_seen(nodes, from);
    int to_ok = !strcmp(to, "any") || list_seen(nodes, to);
    if (!from_ok || !to_ok || (!strcmp(from, "any") && !strcmp(to, "any"))) {
        (*other)++;
        return 0;
    }
    sqlite3_reset(paths);
    while (sqlite3_step(paths) == SQLITE_ROW)
        if (rpt_on_path(from, to, tr, dp, rpt_text(paths, 0), rpt_text(paths, 1), rpt_text(paths, 2),
                        sqlite3_column_int(paths, 3))) {
            (*covered)++;
            return 0;
        }
    (void)r;
    return 1;
}

static int build_close(struct rpt *r)
{
    sqlite3_stmt *paths = rpt_prepare(r, "SELECT DISTINCT src_role, dst_role, transport, dst_port FROM flows"
                                         " WHERE run_id = ?1");
    sqlite3_stmt *nodes = rpt_prepare(r, "SELECT role FROM r_nodes");
    sqlite3_stmt *rules = rpt_prepare(r, "SELECT from_roles, to_roles, transport, dports, id, doc, doc_table,"
                                         " doc_row, row_text FROM unused_rules WHERE run_id = ?1"
                                         " ORDER BY from_roles, to_roles, doc, doc_row, id");
    sqlite3_stmt *ins = rpt_prepare(r, "INSERT INTO r_close VALUES (?,?,?,?,?,?,?,?,?)");
    int rc = paths && nodes && rules && ins ? 0 : -1, other = 0, covered = 0;
    while (!rc && sqlite3_step(rules) == SQLITE_ROW) {
        if (!classify_unused(r, paths, nodes, rules, &other, &covered))
            continue;
        sqlite3_reset(ins);
        for (int i = 0; i < 9; i++)
            sqlite3_bind_value(ins, i + 1, sqlite3_column_value(rules, i));
        if (sqlite3_step(ins) != SQLITE_DONE)
            rc = -1;
    }
    sqlite3_finalize(paths);
    sqlite3_finalize(nodes);
    sqlite3_finalize(rules);
    sqlite3_finalize(ins);
    if (rc) {
        snprintf(r->err, sizeof r->err, "%s: %s", r->db_path, sqlite3_errmsg(r->db));
        return -1;
    }
    char sql[160];
    snprintf(sql, sizeof sql, "UPDATE r_run SET close_other_roles = %d, close_covered = %d", other, covered);
    return rpt_exec(r, sql);
}

int rpt_model_build(struct rpt *r)
{
    static const int col = 0, rank = 1;
    sqlite3_create_function(r->db, "role_column", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, (void *)&col,
                            sql_role_fn, NULL, NULL);
    sqlite3_create_function(r->db, "role_rank", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, (void *)&rank,
                            sql_role_fn, NULL, NULL);
    sqlite3_create_function(r->db, "doc_title", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, sql_doc_title,
                            NULL, NULL);
    if (build_docs(r))
        return -1;
    for (size_t i = 0; i < sizeof BUILD_SQL / sizeof BUILD_SQL[0]; i++)
        if (rpt_exec(r, BUILD_SQL[i]))
            return -1;
    for (size_t i = 0; i < sizeof DIFF_SQL / sizeof DIFF_SQL[0]; i++)
        if (rpt_exec(r, DIFF_SQL[i]))
            return -1;
    if (build_provenance(r) || build_excepted(r))
        return -1;
    return build_close(r) || rpt_expect_build(r) ? -1 : 0;
}

/* --- the sections the three writers share ------------------------------ */

static const struct rpt_col VERDICT_COLS[] = {{"category", "What"}, {"name", "Name"}, {"n", "Count"}};
const struct rpt_table RPT_VERDICTS = {"r_verdicts", "Verdicts", NULL, COLS(VERDICT_COLS)};

static const struct rpt_col COMPLIANCE_COLS[] = {
    {"title", "Document"}, {"doc_table", "Table"},      {"doc_rows", "Rows"},          {"applicable", "Apply"},
    {"exercised", "Exercised"}, {"violated", "Violated"}, {"violations", "Violations"}};
const struct rpt_table RPT_COMPLIANCE = {
    "r_compliance", "Compliance by document and table",
    "Rows: the table rows the rules encode. Apply: rows the topology's options make apply. Exercised: rows a "
    "flow of the run matched. Violated: rows a flow broke. Violations: findings citing the document or table.",
    COLS(COMPLIANCE_COLS)};

static const struct rpt_col PATH_COLS[] = {{"src_role", "From"},     {"dst_role", "To"},
                                           {"verdict", "Verdict"},    {"flows", "Flows"},
                                           {"packets", "Packets"},   {"bytes", "Bytes"},
                                           {"violations", "Violating flows"}, {"services", "Services"}};
const struct rpt_table RPT_PATHS = {"r_edges", "Role-to-role paths", NULL, COLS(PATH_COLS)};

static const struct rpt_col EXCEPTED_COLS[] = {
    {"exception_id", "Exception"}, {"change_ref", "Change"}, {"reason", "Reason"}, {"expires", "Expires"},
    {"src_role", "From"},          {"dst_role", "To"},       {"transport", "Transport"}, {"dst_port", "Port"},
    {"app", "Label"},              {"flows", "Flows"},       {"bytes", "Bytes"}};
const struct rpt_table RPT_EXCEPTED = {
    "r_excepted", "Accepted deviations (site exceptions)",
    "Flows the documents do not allow that the site's --exceptions file accepts: each with the change that "
    "accepted it and why. They are not violations; an exception that expired before a flow is a violation "
    "(expired_exception) listed above.",
    COLS(EXCEPTED_COLS)};

static const struct rpt_col CLOSE_COLS[] = {{"from_roles", "From"}, {"to_roles", "To"},
                                            {"transport", "Transport"}, {"dports", "Ports"},
                                            {"rule_id", "Rule"}, {"doc", "Document"},
                                            {"doc_row", "Row"}, {"row_text", "Row text"}};
const struct rpt_table RPT_CLOSE = {
    "r_close", "Ports you can close",
    "Allow rules for roles of this run that no flow used: no flow of the run was on their path (roles, "
    "transport, destination port). Candidates to close on the firewalls between those roles, after a capture "
    "long enough to have seen every service.",
    COLS(CLOSE_COLS)};

static const struct rpt_col MISSING_COLS[] = {{"title", "Finding"},   {"meaning", "What it means"},
                                              {"rule_id", "Rule"},   {"doc", "Document"},
                                              {"doc_row", "Row"},    {"row_text", "Row text"}};
const struct rpt_table RPT_MISSING = {
    "r_missing", "Expected but missing",
    "Paths the documents require for the roles of this run (seen in its flows, or declared by its topology and "
    "never seen) that never appeared.", COLS(MISSING_COLS)};

static const struct rpt_col DIFF_PATH_COLS[] = {{"change", "Change"},  {"src_role", "From"},
                                                {"dst_role", "To"},    {"transport", "Transport"},
                                                {"dst_port", "Port"},  {"app", "Label"},
                                                {"flows", "Flows"}};
const struct rpt_table RPT_DIFF_PATHS = {"r_diff_paths", "Paths new and gone", NULL, COLS(DIFF_PATH_COLS)};

static const struct rpt_col DIFF_VIOL_COLS[] = {{"change", "Change"},   {"kind", "Kind"},
                                                {"src_role", "From"},   {"dst_role", "To"},
                                                {"transport", "Transport"}, {"dst_port", "Port"},
                                                {"rule_id", "Rule"},    {"flows", "Flows"},
                                                {"message", "Message"}};
const struct rpt_table RPT_DIFF_VIOL = {"r_diff_viol", "Violations new and resolved", NULL, COLS(DIFF_VIOL_COLS)};

sqlite3_stmt *rpt_table_stmt(struct rpt *r, const struct rpt_table *t)
{
    char sql[1024] = "SELECT ";
    for (int i = 0; i < t->ncols; i++)
        snprintf(sql + strlen(sql), sizeof sql - strlen(sql), "%s%s", i ? ", " : "", t->cols[i].name);
    snprintf(sql + strlen(sql), sizeof sql - strlen(sql), "%s FROM %s ORDER BY rowid",
             !strcmp(t->table, "r_compliance") ? ", level" : "", t->table);
    return rpt_prepare(r, sql);
}
