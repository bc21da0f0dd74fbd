/* record.c - a labelled flow into an audited, stored row (see record.h). */
#include "record.h"

#include "community.h"
#include "dissect/msturn.h" /* struct stun_call: the flow's MS-TURN call identity */

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evidence.h"

#include "eve.h"

/* Ended flows are held, labelled but not yet audited, and written in one
 * short transaction at each commit (every 2 s, or every RECORD_BATCH
 * flows): no write lock is held while the input is waited for. */
#define RECORD_BATCH 1024

/* A flow waiting for the next write. */
struct pending {
    struct flow *f;
    struct classify_names n;
};

/* Flows seen per role, by name (a reload may bring another vocabulary). */
struct role_seen {
    char name[48];
    uint64_t flows, written; /* written: the count run_roles holds; UINT64_MAX: not written */
};
#define RECORD_MAX_ROLES 64

/* A rule's counts as the database holds them. */
struct rule_written {
    uint64_t matched, unconfirmed;
};

struct record {
    struct audit *audit;
    struct store *store;
    record_reader_fn reader;
    void *reader_ctx;
    bool quiet;
    bool failed;
    struct record_counts counts;
    struct rule_written *written; /* per rule of the audit in use: the counts the database holds */
    size_t nwritten;
    struct pending *back; /* ring of ended flows waiting for the next write, oldest at head */
    size_t back_max, back_head, back_n;
    bool may_wait;        /* a live run: flows wait through another writer's lock */
    struct eve *eve;      /* the event stream, or NULL */
    struct evidence *ev;  /* --evidence: the caller's; NULL without */
    const struct classify *cls;
    struct role_seen roles[RECORD_MAX_ROLES];
    int nroles;
    const struct except_set *ex; /* --exceptions, or NULL */
};

static int drain(struct record *r);
static int writable(struct record *r);

struct record *record_new(struct audit *audit, struct store *store, record_reader_fn reader, void *reader_ctx,
                          bool quiet, size_t backlog)
{
    struct record *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->audit = audit;
    r->store = store;
    r->reader = reader;
    r->reader_ctx = reader_ctx;
    r->quiet = quiet;
    r->nwritten = audit_rule_count(audit);
    r->may_wait = backlog > 0;
    r->back_max = backlog ? backlog : RECORD_BATCH;
    if ((r->nwritten && !(r->written = calloc(r->nwritten, sizeof *r->written))) ||
        !(r->back = calloc(r->back_max, sizeof *r->back))) {
        free(r->written);
        free(r);
        return NULL;
    }
    return r;
}

/* Address text; IPv4 by hand (glibc's inet_ntop goes through sprintf, a
 * visible cost at two addresses per flow). */
static void ip_text(const uint8_t *a, int ipver, char out[INET6_ADDRSTRLEN])
{
    if (ipver == 4) {
        char *p = out;
        for (int i = 0; i < 4; i++) {
            unsigned v = a[i];
            if (v >= 100)
                *p++ = (char)('0' + v / 100);
            if (v >= 10)
                *p++ = (char)('0' + v / 10 % 10);
            *p++ = (char)('0' + v % 10);
            *p++ = i < 3 ? '.' : '\0';
        }
        return;
    }
    if (!inet_ntop(AF_INET6, a, out, INET6_ADDRSTRLEN))
        snprintf(out, INET6_ADDRSTRLEN, "?");
}

void record_counters(const struct record *r, struct store_counters *c)
{
    r->reader(r->reader_ctx, c);
    c->flows = r->counts.flows;
    c->flows_evicted = r->counts.flows_evicted;
    c->violations = r->counts.violations;
    c->flows_dropped = r->counts.flows_dropped;
    c->flows_audited = r->counts.audited;
    c->flows_unconfirmed = r->counts.unconfirmed;
    if (r->ev) {
        struct evidence_counts e;
        evidence_counts(r->ev, &e);
        c->evidence_flows = e.flows;
        c->evidence_packets = e.packets;
        c->evidence_cut = e.cut;
    }
}

/* Writes one rule of the run, its match count as what it gained since the
 * last write (the rows add up: across a reload both rule sets' counts do). */
static int write_rule(struct store *s, const struct audit *a, size_t i, const struct rule_written *already)
{
    struct audit_rule_info ri;
    audit_rule_info(a, i, &ri);
    struct store_rule sr = {ri.id,   ri.kind,  ri.severity, ri.from, ri.to,  ri.transport, ri.dports,
                            ri.sports, ri.apps, ri.when,    ri.doc,  ri.table, ri.text,    ri.note,
                            ri.row,  ri.active, ri.matched - already->matched,
                            ri.unconfirmed - already->unconfirmed};
    return store_add_rule(s, &sr);
}

/* The entry of role `name`, made if new (NULL when the table is full). */
static struct role_seen *role_entry(struct record *r, const char *name)
{
    for (int i = 0; i < r->nroles; i++)
        if (!strcmp(r->roles[i].name, name))
            return &r->roles[i];
    if (r->nroles == RECORD_MAX_ROLES)
        return NULL;
    struct role_seen *e = &r->roles[r->nroles++];
    snprintf(e->name, sizeof e->name, "%s", name);
    e->flows = 0;
    e->written = UINT64_MAX;
    return e;
}

/* Counts a flow for the roles at its ends ("any" is no role). */
static void see_roles(struct record *r, const struct audit_result *ar)
{
    struct role_seen *e;
    if (strcmp(ar->src_role, "any") && (e = role_entry(r, ar->src_role)))
        e->flows++;
    if (strcmp(ar->dst_role, "any") && strcmp(ar->dst_role, ar->src_role) && (e = role_entry(r, ar->dst_role)))
        e->flows++;
}

/* Writes the declared roles of the audit in use whose count changed since
 * they were last written (all of them at first, and after a reload). */
static int write_roles(struct record *r)
{
    for (int i = 0; i < audit_role_count(r->audit); i++) {
        const char *declared = audit_role_declared(r->audit, i);
        struct role_seen *e = declared ? role_entry(r, audit_role_name(r->audit, i)) : NULL;
        if (!e || e->written == e->flows)
            continue;
        struct store_role sr = {e->name, declared, e->flows};
        if (store_add_role(r->store, &sr))
            return -1;
        e->written = e->flows;
    }
    return 0;
}

void record_roles_seen(const struct record *r, int *declared, int *unseen_n, char *unseen, size_t len)
{
    *declared = *unseen_n = 0;
    unseen[0] = '\0';
    for (int i = 0; i < audit_role_count(r->audit); i++) {
        if (!audit_role_declared(r->audit, i))
            continue;
        const char *name = audit_role_name(r->audit, i);
        bool seen = false;
        for (int k = 0; k < r->nroles && !seen; k++)
            seen = !strcmp(r->roles[k].name, name) && r->roles[k].flows > 0;
        (*declared)++;
        if (seen)
            continue;
        size_t u = strlen(unseen);
        snprintf(unseen + u, len - u, "%s%s", (*unseen_n)++ ? ", " : "", name);
    }
}

int record_flush(struct record *r)
{
    if (store_begin(r->store) || drain(r) != 0 || write_roles(r))
        return -1;
    for (size_t i = 0; i < r->nwritten; i++) {
        struct audit_rule_info ri;
        audit_rule_info(r->audit, i, &ri);
        if (ri.matched == r->written[i].matched)
            continue;
        if (write_rule(r->store, r->audit, i, &r->written[i]))
            return -1;
        r->written[i] = (struct rule_written){ri.matched, ri.unconfirmed};
    }
    return store_flush_stats(r->store);
}

void record_set_eve(struct record *r, struct eve *e)
{
    r->eve = e;
}

/* Commits the open batch: its rows' events are written once they are in
 * the database, dropped when the batch was rolled back. 0 or -1. */
static int commit(struct record *r, const struct store_counters *c)
{
    int rc = store_commit(r->store, c);
    if (rc == 0)
        eve_commit(r->eve);
    else if (rc < 0)
        eve_discard(r->eve);
    /* 1: the batch is kept for the next commit, and so are its events */
    return rc;
}

void record_commit(void *record, void *unused)
{
    (void)unused;
    struct record *r = record;
    if (r->failed)
        return;
    int w = writable(r);
    if (w == 1)
        return; /* locked by another writer: what ended waits, the next commit tries again */
    struct store_counters c;
    if (w < 0 || record_flush(r) || (record_counters(r, &c), commit(r, &c)) < 0)
        r->failed = true;
    if (r->ev) {
        /* Flows decided since their last packet are judged, and a reader of
         * the file sees them when the database does. */
        evidence_sweep(r->ev);
        evidence_flush(r->ev);
    }
}

/* The row of a flow: its fields, the audit's verdict and the label's words.
 * Strings point into f, n, ar and the two address buffers. */
static void flow_row(struct store_flow *sf, const struct flow *f, const struct classify_names *n,
                     const struct audit_result *ar, const char *s_ip, const char *d_ip, char tbuf[16])
{
    const uint8_t *src, *dst;
    uint16_t sport, dport;
    flow_endpoints(f, &src, &sport, &dst, &dport);
    *sf = (struct store_flow){
        .first_us = f->first_us,
        .last_us = f->last_us,
        .transport = flow_transport_name(f->key.proto, f->key.ipver, tbuf),
        .ip_version = f->key.ipver,
        .src_ip = s_ip,
        .dst_ip = d_ip,
        .src_port = sport,
        .dst_port = dport,
        .pkts_fwd = f->pkts[0],
        .bytes_fwd = f->bytes[0],
        .pkts_rev = f->pkts[1],
        .bytes_rev = f->bytes[1],
        .app = ar->app,
        .app_detail = f->label.detail,
        .ndpi_master = n->ndpi_master,
        .ndpi_app = n->ndpi_app,
        .ndpi_confidence = n->confidence,
        .end_reason = flow_end_name((enum flow_end)f->end),
        .src_role = ar->src_role,
        .dst_role = ar->dst_role,
        .verdict = ar->verdict,
        .rule_id = ar->rule_id,
        .icmp_errors = f->icmp_errors,
        .tunnel = decode_tunnel_name(f->tunnel),
        .tunnel_ipver = f->tun_ipver,
        .tunnel_src = f->tun_src,
        .tunnel_dst = f->tun_dst,
        .tunnel_id = f->tun_has_id ? (int64_t)f->tun_id : -1,
        .vlan = f->vlan[0],
        .vlan_inner = f->vlan[1],
    };
}

/* The audit's view of flow f, labelled app. */
static struct audit_flow audit_input(const struct flow *f, const char *app)
{
    const uint8_t *src, *dst;
    uint16_t sport, dport;
    flow_endpoints(f, &src, &sport, &dst, &dport);
    return (struct audit_flow){src, dst, f->key.ipver, f->key.proto, sport, dport, app, f->label.detail,
                               f->pkts[0] + f->pkts[1], f->bytes[0] + f->bytes[1], f->label.facts};
}

/* The violations in words, one a line, for the evidence file's comment. */
static void violations_text(const struct audit_result *ar, char *out, size_t len)
{
    size_t k = 0;
    out[0] = '\0';
    for (int i = 0; i < ar->nviolations && k < len; i++) {
        const struct audit_violation *v = &ar->v[i];
        int w = snprintf(out + k, len - k, "%s%s (%s%s%s): %s%s%s", i ? "\n" : "", v->kind, v->severity,
                         v->rule_id ? ", rule " : "", v->rule_id ? v->rule_id : "", v->message,
                         v->ref ? " | " : "", v->ref ? v->ref : "");
        k += w > 0 ? (size_t)w : 0;
    }
}

bool record_in_scope(void *record, const struct flow *f)
{
    struct record *r = record;
    const uint8_t *src, *dst;
    uint16_t sport, dport;
    flow_endpoints(f, &src, &sport, &dst, &dport);
    return audit_in_scope(r->audit, src, dst, f->key.ipver);
}

bool record_verdict_now(void *record, const struct flow *f, char *why, size_t len)
{
    struct record *r = record;
    char buf[32];
    /* classify_app reads the decided label and nDPI's protocol names, which
     * nDPI fills at module set-up and only reads after: safe beside the
     * classify thread, which no longer touches a decided flow's label. */
    struct audit_flow af = audit_input(f, classify_app(r->cls, f, buf, sizeof buf));
    struct audit_result ar;
    audit_flow_peek(r->audit, &af, &ar);
    except_apply(r->ex, &af, f->first_us, &ar);
    violations_text(&ar, why, len);
    return ar.nviolations > 0;
}

void record_set_exceptions(struct record *r, const struct except_set *ex)
{
    r->ex = ex;
}

void record_set_evidence(struct record *r, struct evidence *ev, const struct classify *cls)
{
    r->ev = ev;
    r->cls = cls;
}

/* Audits f and queues its row with its violations. 0 or -1. */
static int audit_and_store(struct record *r, struct flow *f, const struct classify_names *n)
{
    struct audit_flow af = audit_input(f, n->app);
    const uint8_t *src = af.src, *dst = af.dst;
    struct audit_result ar;
    audit_flow(r->audit, &af, &ar);
    except_apply(r->ex, &af, f->first_us, &ar);
    struct store_violation sv[AUDIT_MAX_VIOLATIONS];
    for (int i = 0; i < ar.nviolations; i++)
        sv[i] = (struct store_violation){ar.v[i].kind, ar.v[i].rule_id, ar.v[i].severity, ar.v[i].message,
                                         ar.v[i].ref};
    char s_ip[INET6_ADDRSTRLEN], d_ip[INET6_ADDRSTRLEN], tbuf[16];
    ip_text(src, f->key.ipver, s_ip);
    ip_text(dst, f->key.ipver, d_ip);
    struct store_flow sf;
    flow_row(&sf, f, n, &ar, s_ip, d_ip, tbuf);
    char cid[64];
    // cppcheck-suppress variableScope ; sf points into loc until store_add_flow below
    char loc[3][4];
    sf.community_id = community_id(f, cid, sizeof cid) ? cid : NULL;
    const struct stun_call *call = f->label.call;
    if (call) {
        sf.call_id = call->call_id[0] ? call->call_id : NULL;
        sf.dialog_id = call->dialog_id[0] ? call->dialog_id : NULL;
        if (call->has_location) {
            sf.self_location = stun_location_name(call->self_location, loc[0]);
            sf.peer_location = stun_location_name(call->peer_location, loc[1]);
            sf.federation = stun_federation_name(call->federation, loc[2]);
        }
    }
    sf.violations = sv;
    sf.nviolations = ar.nviolations;
    if (r->ev) {
        char why[1024];
        why[0] = '\0';
        if (ar.nviolations && evidence_held(r->ev, f))
            violations_text(&ar, why, sizeof why); /* for the comment of what it writes now */
        sf.evidence = evidence_flow_end(r->ev, f, ar.nviolations > 0, why);
    }
    if (store_add_flow(r->store, &sf) != 0)
        return -1;
    eve_flow(r->eve, store_last_flow_id(r->store), &sf);
    r->counts.flows++;
    r->counts.violations += (uint64_t)ar.nviolations;
    r->counts.audited += strcmp(ar.verdict, "unscoped") != 0;
    r->counts.unconfirmed += ar.unconfirmed;
    see_roles(r, &ar);
    if (f->end == FLOW_END_EVICTED)
        r->counts.flows_evicted++;
    return 0;
}

/* Frees a flow the record stage is done with (its evidence slot too). */
static void drop_flow(struct record *r, struct flow *f)
{
    evidence_flow_drop(r->ev, f);
    classify_release(f);
    flow_free(f);
}

/* The oldest held flow out of the ring (the caller frees or writes it). */
static struct pending *pop(struct record *r)
{
    struct pending *p = &r->back[r->back_head];
    r->back_head = (r->back_head + 1) % r->back_max;
    r->back_n--;
    return p;
}

/* A write transaction: 0; 1 when another writer holds the lock and the
 * flows may wait (a live run's backlog); -1 failed. */
static int writable(struct record *r)
{
    if (store_begin(r->store) == 0)
        return 0;
    return r->may_wait && store_busy(r->store) ? 1 : -1;
}

/* Audits and writes the held flows, oldest first, into the open
 * transaction. 0 or -1. */
static int drain(struct record *r)
{
    int rc = 0;
    while (r->back_n) {
        struct pending *p = pop(r);
        if (rc == 0 && audit_and_store(r, p->f, &p->n) != 0)
            rc = -1;
        drop_flow(r, p->f);
    }
    return rc;
}

void record_flow(void *record, struct flow *f, const struct classify_names *n)
{
    struct record *r = record;
    if (r->failed) {
        drop_flow(r, f);
        return;
    }
    if (r->back_n == r->back_max) {
        record_commit(r, NULL); /* a file run's batch is full; a live run tries its backlog */
        if (r->back_n == r->back_max) { /* still locked: the oldest flow goes */
            if (!r->counts.flows_dropped)
                fprintf(stderr, "lyncaudit: backlog full (%zu flows): the oldest held flows are dropped, and counted "
                                "in runs.flows_dropped, until the database can be written\n", r->back_max);
            drop_flow(r, pop(r)->f);
            r->counts.flows_dropped++;
        }
    }
    r->back[(r->back_head + r->back_n) % r->back_max] = (struct pending){f, *n};
    r->back_n++;
    if (r->back_n % RECORD_BATCH == 0 && r->back_n < r->back_max)
        record_commit(r, NULL);
}

void record_reload(void *record, void *audit)
{
    struct record *r = record;
    struct audit *a = audit;
    struct store_counters c;
    record_counters(r, &c);
    size_t n = audit_rule_count(a);
    struct rule_written *w = n ? calloc(n, sizeof *w) : NULL;
    if (!r->failed && !(n && !w) && writable(r) == 1) {
        fprintf(stderr, "lyncaudit: reload not done: the database is locked by another writer; "
                        "keeping the topology and rules in use\n");
        free(w);
        audit_free(a);
        return;
    }
    if (r->failed || (n && !w) || record_flush(r) || commit(r, &c) < 0) {
        r->failed = true;
        free(w);
        audit_free(a);
        return;
    }
    audit_free(r->audit);
    r->audit = a;
    for (int i = 0; i < r->nroles; i++)
        r->roles[i].written = UINT64_MAX; /* the new topology's addresses are written at the next flush */
    free(r->written);
    r->written = w;
    r->nwritten = n;
    if (!r->quiet)
        fprintf(stderr, "lyncaudit: reloaded the topology and rules (%zu rules)\n", audit_rule_count(a));
}

bool record_failed(const struct record *r)
{
    return r->failed;
}

void record_counts(const struct record *r, struct record_counts *out)
{
    *out = r->counts;
}

const struct audit *record_audit(const struct record *r)
{
    return r->audit;
}

struct audit *record_free(struct record *r)
{
    if (!r)
        return NULL;
    struct audit *a = r->audit;
    while (r->back_n)
        drop_flow(r, pop(r)->f);
    free(r->back);
    free(r->written);
    free(r);
    return a;
}

int record_write_rules(struct store *s, const struct audit *a)
{
    for (size_t i = 0; i < audit_rule_count(a); i++)
        if (write_rule(s, a, i, &(struct rule_written){0, 0}))
            return -1;
    return 0;
}
