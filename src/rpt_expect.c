/* rpt_expect.c - "expected but missing": documented paths a deployment of
 * the run's roles needs, that no flow of the run took.
 *
 * Each expectation names the rule whose document row requires the path (the
 * path is the rule's: roles, transport, ports, read from the run's `rules`),
 * the roles that must have been seen in the run for it to apply, and what
 * its absence means. A role is in the run when a flow of the run had an end
 * in it, or when the run's topology declares it (run_roles, schema 5): a
 * declared service that never appeared at all still needs its paths, and
 * the finding says the role was never seen (docs/report.md). */
#include "rpt.h"

#include <stdbool.h>
#include <string.h>

struct expect {
    const char *id;
    const char *rules;   /* "a|b": the path of any of these rules; the first is cited */
    const char *needs;   /* roles that must be in the run, "a,b|c" = a and (b or c) */
    const char *title;
    const char *meaning;
    const char *alt_rule;    /* when a flow took this rule's path instead ... */
    const char *alt_meaning; /* ... this is what the absence means */
};

static const struct expect EXPECT[] = {
    {"av-udp-3478", "av-edge.dst.udp3478-in", "edge_av", "No media on UDP 3478 to the A/V Edge",
     "No client or partner reached the A/V Edge on UDP 3478 (STUN/TURN): external audio and video through "
     "the Edge was not exercised in this capture, or UDP 3478 is blocked in front of the A/V Edge.",
     "av-edge.dst.tcp443-in",
     "Media reached the A/V Edge only on TCP 443, never on UDP 3478: UDP is blocked somewhere between the "
     "clients and the A/V Edge, and calls fall back to TCP (more delay, worse audio and video under loss)."},
    {"edge-crl-80", "edge-ext.access-crl-http-out", "edge_access|edge_webconf|edge_av",
     "No certificate revocation check from the Edge (HTTP, TCP 80)",
     "The Edge never fetched a certificate revocation list on TCP 80: if outbound HTTP is blocked, revocation "
     "checks fail and TLS/MTLS sessions with federation partners and remote users can be refused once the "
     "cached CRLs expire. A short capture may simply hold no CRL refresh.",
     NULL, NULL},
    {"edge-int-sip-5061", "edge-int.sip-mtls-5061-in", "edge_internal,front_end|director",
     "No SIP from the pool or Director to the Edge internal interface (MTLS 5061)",
     "No SIP session from a Front End or Director reached the Edge internal interface: remote, federated and "
     "public IM users cannot reach internal users through the Edge.",
     NULL, NULL},
    {"edge-int-mras-5062", "edge-int.av-auth-sip-mtls-5062-in", "edge_internal,edge_av,front_end",
     "No A/V authentication request to the Edge (SIP/MTLS 5062)",
     "The Front End never asked the A/V Authentication service on the Edge for media relay credentials: "
     "without them external users get no TURN credentials, and their calls through the A/V Edge fail.",
     NULL, NULL},
    {"edge-int-psom-8057", "edge-int.psom-mtls-8057-in", "edge_internal,edge_webconf,front_end",
     "No web conferencing traffic from the pool to the Edge (PSOM/MTLS 8057)",
     "The Front End never connected to the Web Conferencing Edge on 8057: external users can join meetings "
     "but receive no shared content (PowerPoint, whiteboard, desktop sharing).",
     NULL, NULL},
    {"edge-int-media-3478", "edge-int.av-stun-udp3478-in", "edge_internal,edge_av,client_internal|front_end",
     "No media relay allocation on the Edge internal interface (UDP 3478)",
     "No internal client or server reached the A/V Edge's internal interface on UDP 3478: media between "
     "internal and external users had no relay in this capture, or UDP 3478 is blocked between the internal "
     "network and the Edge (calls then fall back to TCP 443 or fail).",
     "edge-int.av-stun-tcp443-in",
     "Internal media reached the Edge internal interface only on TCP 443, never on UDP 3478: UDP is blocked "
     "between the internal network and the Edge, and calls with external users fall back to TCP."},
    {"xmpp-gateway-23456", "xmpp.002.gateway-mtls-23456-in", "edge_internal,front_end",
     "No XMPP gateway traffic to the Edge (MTLS 23456)",
     "XMPP federation is configured, but the XMPP gateway on the Front End never connected to the Edge "
     "internal interface on 23456: messages between internal users and XMPP partners cannot pass.",
     NULL, NULL},
    {"med-gateway", "srv.med.gateway-sip-5068|srv.med.gateway-sip-tls-5067", "mediation,pstn_gateway",
     "No SIP from the PSTN gateway to the Mediation Server (5067/5068)",
     "The gateway never sent SIP to the Mediation Server: calls from the PSTN cannot reach Lync users.",
     NULL, NULL},
    {"med-fe-5070", "srv.med.sip-5070|srv.med.sip-mtls-5070", "mediation,front_end",
     "No SIP from the Front End to the Mediation Server (5070)",
     "The pool never sent SIP to the Mediation Server: Lync users cannot call PSTN numbers.", NULL, NULL},
    {"fed-5061", "edge-ext.access-sip-mtls-5061-in", "edge_access,federation_partner",
     "No federation SIP to the Access Edge (MTLS 5061)",
     "Federation partners are in the run but never reached the Access Edge on 5061: federated presence, IM "
     "and calls do not work.",
     NULL, NULL},
    {"ext-client-443", "client.ext.sip-tls-443", "edge_access,client_external",
     "No external client sign-in on the Access Edge (TLS 443)",
     "External clients are in the run but none reached the Access Edge on TCP 443: remote users cannot sign in.",
     NULL, NULL},
};

/* The run's declared roles that no flow had an end in (r_unseen: role,
 * addresses); none for a run stored before run_roles existed. 0 or -1. */
static int build_unseen(struct rpt *r)
{
    if (rpt_exec(r, "CREATE TEMP TABLE r_unseen (role TEXT, addresses TEXT)"))
        return -1;
    sqlite3_stmt *has = rpt_prepare(r, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'run_roles'");
    if (!has)
        return -1;
    bool there = sqlite3_step(has) == SQLITE_ROW;
    sqlite3_finalize(has);
    return there ? rpt_exec(r, "INSERT INTO r_unseen SELECT role, addresses FROM run_roles"
                               " WHERE run_id = ?1 AND flows = 0 ORDER BY role") : 0;
}

/* Whether role is in the run: 2 seen in its flows (r_nodes), 1 declared
 * but never seen (its addresses appended to unseen), 0 neither. */
static int role_in_run(sqlite3_stmt *seen, sqlite3_stmt *declared, const char *role, char *unseen, size_t len)
{
    sqlite3_reset(seen);
    sqlite3_bind_text(seen, 3, role, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(seen) == SQLITE_ROW)
        return 2;
    sqlite3_reset(declared);
    sqlite3_bind_text(declared, 3, role, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(declared) != SQLITE_ROW)
        return 0;
    size_t u = strlen(unseen);
    snprintf(unseen + u, len - u, "%s%s (%s)", u ? ", " : "", role, rpt_text(declared, 0));
    return 1;
}

/* True when every comma item of needs has one of its '|' alternatives among
 * the run's roles, seen ones first; the declared roles it had to count
 * though never seen go into unseen ("" when none). */
static int needs_met(struct rpt *r, const char *needs, char *unseen, size_t len)
{
    sqlite3_stmt *seen = rpt_prepare(r, "SELECT 1 FROM r_nodes WHERE role = ?3");
    sqlite3_stmt *declared = rpt_prepare(r, "SELECT addresses FROM r_unseen WHERE role = ?3");
    int met = seen && declared ? 1 : -1;
    unseen[0] = '\0';
    char buf[160];
    snprintf(buf, sizeof buf, "%s", needs);
    for (char *save1 = NULL, *item = strtok_r(buf, ",", &save1); met == 1 && item;
         item = strtok_r(NULL, ",", &save1)) {
        int best = 0;
        char alts[160], one[256] = "";
        snprintf(alts, sizeof alts, "%s", item);
        for (char *save2 = NULL, *alt = strtok_r(alts, "|", &save2); best < 2 && alt;
             alt = strtok_r(NULL, "|", &save2)) {
            char tmp[256] = "";
            int in = role_in_run(seen, declared, alt, tmp, sizeof tmp);
            if (in > best || (in == 1 && !one[0]))
                snprintf(one, sizeof one, "%s", in == 1 ? tmp : "");
            best = in > best ? in : best;
        }
        met = best > 0;
        if (best == 1) {
            size_t u = strlen(unseen);
            snprintf(unseen + u, len - u, "%s%s", u ? ", " : "", one);
        }
    }
    sqlite3_finalize(seen);
    sqlite3_finalize(declared);
    return met;
}

/* Flows of the run on the path of one rule (active in the run), or -1 when
 * the run has no such active rule. */
static int flows_on_rule_path(struct rpt *r, const char *rule_id)
{
    sqlite3_stmt *rule = rpt_prepare(r, "SELECT from_roles, to_roles, transport, dports FROM rules"
                                        " WHERE run_id = ?1 AND id = ?3 AND active = 1");
    sqlite3_stmt *paths = rpt_prepare(r, "SELECT src_role, dst_role, transport, dst_port, count(*) FROM flows"
                                         " WHERE run_id = ?1 GROUP BY 1, 2, 3, 4");
    int n = -1;
    if (rule && paths) {
        sqlite3_bind_text(rule, 3, rule_id, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(rule) == SQLITE_ROW) {
            n = 0;
            while (sqlite3_step(paths) == SQLITE_ROW)
                if (rpt_on_path(rpt_text(rule, 0), rpt_text(rule, 1), rpt_text(rule, 2), rpt_text(rule, 3),
                                rpt_text(paths, 0), rpt_text(paths, 1), rpt_text(paths, 2),
                                sqlite3_column_int(paths, 3)))
                    n += sqlite3_column_int(paths, 4);
        }
    }
    sqlite3_finalize(rule);
    sqlite3_finalize(paths);
    return n;
}

/* Flows on the path of any of the '|' rules; -1 when none of them is active. */
static int flows_on_paths(struct rpt *r, const char *rules, char *first, size_t firstlen)
{
    char buf[160];
    snprintf(buf, sizeof buf, "%s", rules);
    int total = -1;
    first[0] = '\0';
    for (char *save = NULL, *id = strtok_r(buf, "|", &save); id; id = strtok_r(NULL, "|", &save)) {
        int n = flows_on_rule_path(r, id);
        if (n < 0)
            continue;
        if (!first[0])
            snprintf(first, firstlen, "%s", id);
        total = (total < 0 ? 0 : total) + n;
    }
    return total;
}

static int add_finding(struct rpt *r, const struct expect *e, const char *rule_id, const char *meaning,
                       int alt_flows)
{
    sqlite3_stmt *st = rpt_prepare(r, "INSERT INTO r_missing SELECT ?3, ?4, ?5, id, doc, doc_title(doc),"
                                      " doc_table, doc_row, row_text, ?6 FROM rules WHERE run_id = ?1 AND id = ?7");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 3, e->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, e->title, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, meaning, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, alt_flows);
    sqlite3_bind_text(st, 7, rule_id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    if (rc)
        snprintf(r->err, sizeof r->err, "%s: %s", r->db_path, sqlite3_errmsg(r->db));
    sqlite3_finalize(st);
    return rc;
}

int rpt_expect_build(struct rpt *r)
{
    if (build_unseen(r) ||
        rpt_exec(r, "CREATE TEMP TABLE r_missing (id TEXT, title TEXT, meaning TEXT, rule_id TEXT, doc TEXT,"
                    " doc_title TEXT, doc_table TEXT, doc_row INTEGER, row_text TEXT, fallback_flows INTEGER)"))
        return -1;
    for (size_t i = 0; i < sizeof EXPECT / sizeof EXPECT[0]; i++) {
        const struct expect *e = &EXPECT[i];
        char cite[80], alt_cite[80], unseen[512], meaning[1400];
        int met = needs_met(r, e->needs, unseen, sizeof unseen);
        if (met < 0)
            return -1;
        if (!met || flows_on_paths(r, e->rules, cite, sizeof cite) != 0)
            continue; /* not applicable, no active rule (-1), or the path is there */
        int alt = e->alt_rule ? flows_on_paths(r, e->alt_rule, alt_cite, sizeof alt_cite) : 0;
        const char *m = alt > 0 ? e->alt_meaning : e->meaning;
        if (unseen[0]) /* a declared service that never appeared at all */
            snprintf(meaning, sizeof meaning, "The topology declares %s, but no flow of the run had an end there: "
                     "the service is down, the capture point does not see it, or the addresses are wrong. %s",
                     unseen, m);
        if (add_finding(r, e, cite, unseen[0] ? meaning : m, alt > 0 ? alt : 0))
            return -1;
    }
    return 0;
}
