#define _GNU_SOURCE /* pthread_setname_np */
/* pipeline.c - classify, then audit and store, on threads (see pipeline.h).
 *
 * Two single-producer single-consumer queues: reader -> classify -> store.
 * A queue moves blocks of records, never single records, so the threads
 * meet (a mutex) once per block, not per packet. Each queue owns a fixed
 * pool of blocks allocated up front: a producer with no free block waits
 * for the consumer to give one back, which is both the memory bound and the
 * back-pressure. A consumer that finds its queue empty first hands on what
 * it has buffered for the next stage, so nothing waits in a half-full block
 * while the stages idle (live capture). */
#include "pipeline.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A block holds the largest packet record (a 256 KiB snapshot) with room to
 * spare; it is handed on once it holds BLOCK_COST of work: bytes of packet
 * copied, or FLOW_COST per ended flow (a flow waiting in a queue still holds
 * its record and, if undecided, nDPI's state: about that much memory). */
#define BLOCK_BYTES (320u * 1024u)
#define BLOCK_COST (128u * 1024u)
#define FLOW_COST 1024u
#define POOL_BLOCKS 16

enum rec_type { REC_PACKET = 1, REC_END, REC_FLOW, REC_COMMIT, REC_AUDIT };

struct rec {
    uint32_t type, size; /* size: of the whole record, a multiple of 8 */
    struct flow *f;
};

/* A packet for classify: the packet with its IP header and payload copied
 * (the reader's buffer is reused for the next packet). */
struct rec_packet {
    struct rec h;
    struct packet pkt;
    uint8_t bytes[];
};

/* A labelled flow for the store stage, with the names that need nDPI's
 * module (which only the classify thread may touch). */
struct rec_flow {
    struct rec h;
    const char *ndpi_master, *ndpi_app, *confidence;
    char app[32];
};

struct rec_audit {
    struct rec h;
    struct audit *a;
};

struct block {
    struct block *next;
    size_t used, cost;
    struct store_counters counters; /* the reader's, when the block left the reader's hands */
    _Alignas(16) uint8_t data[BLOCK_BYTES];
};

struct queue {
    pthread_mutex_t mu;
    pthread_cond_t has_data, has_free;
    struct block *head, *tail; /* handed over, oldest first */
    struct block *free;        /* the pool's unused blocks */
    struct block *cur;         /* the producer's block being filled */
    bool closed;               /* the producer is done */
};

struct pipeline {
    bool threads, quiet;
    struct classify *cls;
    struct audit *audit;
    struct store *store;
    const struct store_counters *reader;
    struct queue to_cls, to_store;
    pthread_t cls_thread, store_thread;
    struct store_counters cls_seen;   /* classify thread: reader counters of its current block */
    struct store_counters store_seen; /* store thread: the same */
    struct pipeline_counts counts;    /* written by the store stage, read with atomics */
    int failed;                       /* atomic */
};

static size_t align8(size_t n)
{
    return (n + 7u) & ~(size_t)7u;
}

/* --- queues ---------------------------------------------------------------- */

static int queue_init(struct queue *q)
{
    memset(q, 0, sizeof *q);
    if (pthread_mutex_init(&q->mu, NULL))
        return -1;
    pthread_cond_init(&q->has_data, NULL);
    pthread_cond_init(&q->has_free, NULL);
    for (int i = 0; i < POOL_BLOCKS; i++) {
        struct block *b = malloc(sizeof *b);
        if (!b)
            return -1;
        b->next = q->free;
        q->free = b;
    }
    q->cur = q->free;
    q->free = q->cur->next;
    q->cur->used = q->cur->cost = 0;
    return 0;
}

static void queue_destroy(struct queue *q)
{
    struct block *lists[3] = {q->head, q->free, q->cur};
    for (int i = 0; i < 3; i++) {
        for (struct block *b = lists[i]; b;) {
            struct block *n = i == 2 ? NULL : b->next;
            free(b);
            b = n;
        }
    }
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->has_data);
    pthread_cond_destroy(&q->has_free);
}

/* Producer: hands over the current block (if it holds anything) with the
 * counters, and takes a free one, waiting for the consumer if need be. */
static void queue_push(struct queue *q, const struct store_counters *counters)
{
    struct block *b = q->cur;
    if (b->used == 0)
        return;
    b->counters = *counters;
    b->next = NULL;
    pthread_mutex_lock(&q->mu);
    if (q->tail)
        q->tail->next = b;
    else
        q->head = b;
    q->tail = b;
    pthread_cond_signal(&q->has_data);
    while (!q->free)
        pthread_cond_wait(&q->has_free, &q->mu);
    b = q->free;
    q->free = b->next;
    pthread_mutex_unlock(&q->mu);
    b->used = b->cost = 0;
    q->cur = b;
}

static void queue_close(struct queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = true;
    pthread_cond_signal(&q->has_data);
    pthread_mutex_unlock(&q->mu);
}

/* Consumer: gives back `done` (the block just handled, or NULL) and takes
 * the next one; NULL when the queue is empty and `wait` is false, or closed
 * and empty. */
static struct block *queue_pop(struct queue *q, struct block *done, bool wait)
{
    pthread_mutex_lock(&q->mu);
    if (done) {
        done->next = q->free;
        q->free = done;
        pthread_cond_signal(&q->has_free);
    }
    while (wait && !q->head && !q->closed)
        pthread_cond_wait(&q->has_data, &q->mu);
    struct block *b = q->head;
    if (b) {
        q->head = b->next;
        if (!q->head)
            q->tail = NULL;
    }
    pthread_mutex_unlock(&q->mu);
    return b;
}

/* Room for a record of `size` bytes in the producer's block. */
static void *reserve(struct queue *q, size_t size, const struct store_counters *counters)
{
    if (q->cur->used + size > BLOCK_BYTES)
        queue_push(q, counters);
    return q->cur->data + q->cur->used;
}

static void commit(struct queue *q, size_t size, size_t cost, const struct store_counters *counters)
{
    q->cur->used += size;
    q->cur->cost += cost;
    if (q->cur->cost >= BLOCK_COST)
        queue_push(q, counters);
}

/* --- the store stage ------------------------------------------------------- */

static bool failed(const struct pipeline *p)
{
    return __atomic_load_n(&p->failed, __ATOMIC_RELAXED) != 0;
}

static void set_failed(struct pipeline *p)
{
    __atomic_store_n(&p->failed, 1, __ATOMIC_RELAXED);
}

static void count_add(uint64_t *c, uint64_t n)
{
    __atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

/* The run row's counters: the reader's as they were when the store stage's
 * current record left the reader, and the store stage's own. */
static void merged(const struct pipeline *p, struct store_counters *c)
{
    *c = p->threads ? p->store_seen : *p->reader;
    c->flows = p->counts.flows;
    c->flows_evicted = p->counts.flows_evicted;
    c->violations = p->counts.violations;
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

static void store_commit_now(struct pipeline *p)
{
    struct store_counters c;
    merged(p, &c);
    if (!failed(p) && store_commit(p->store, &c) != 0)
        set_failed(p);
}

/* Audits and writes one labelled flow, then frees it. */
static void store_flow(struct pipeline *p, struct flow *f, const struct rec_flow *rf)
{
    if (!failed(p)) {
        const uint8_t *src, *dst;
        uint16_t sport, dport;
        flow_endpoints(f, &src, &sport, &dst, &dport);
        char s_ip[INET6_ADDRSTRLEN], d_ip[INET6_ADDRSTRLEN], tbuf[16];
        ip_text(src, f->key.ipver, s_ip);
        ip_text(dst, f->key.ipver, d_ip);
        struct audit_flow af = {src, dst, f->key.ipver, f->key.proto, sport, dport, rf->app, f->label.detail,
                                f->pkts[0] + f->pkts[1], f->bytes[0] + f->bytes[1]};
        struct audit_result ar;
        audit_flow(p->audit, &af, &ar);
        struct store_violation sv[AUDIT_MAX_VIOLATIONS];
        for (int i = 0; i < ar.nviolations; i++)
            sv[i] = (struct store_violation){ar.v[i].kind, ar.v[i].rule_id, ar.v[i].severity, ar.v[i].message,
                                             ar.v[i].ref};
        struct store_flow sf = {
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
            .app = ar.app,
            .app_detail = f->label.detail,
            .ndpi_master = rf->ndpi_master,
            .ndpi_app = rf->ndpi_app,
            .ndpi_confidence = rf->confidence,
            .end_reason = flow_end_name((enum flow_end)f->end),
            .src_role = ar.src_role,
            .dst_role = ar.dst_role,
            .verdict = ar.verdict,
            .rule_id = ar.rule_id,
            .icmp_errors = f->icmp_errors,
            .violations = sv,
            .nviolations = ar.nviolations,
        };
        if (store_add_flow(p->store, &sf) != 0) {
            set_failed(p);
        } else {
            count_add(&p->counts.flows, 1);
            count_add(&p->counts.violations, (uint64_t)ar.nviolations);
            if (f->end == FLOW_END_EVICTED)
                count_add(&p->counts.flows_evicted, 1);
            if (store_batch_full(p->store))
                store_commit_now(p);
        }
    }
    classify_release(f);
    flow_free(f);
}


static void store_reload(struct pipeline *p, struct audit *a)
{
    struct store_counters c;
    merged(p, &c);
    if (failed(p) || store_begin(p->store) || pipeline_write_rules(p->store, p->audit) ||
        store_commit(p->store, &c)) {
        set_failed(p);
        audit_free(a);
        return;
    }
    audit_free(p->audit);
    p->audit = a;
    if (!p->quiet)
        fprintf(stderr, "lyncaudit: reloaded the topology and rules (%zu rules)\n", audit_rule_count(a));
}

/* --- the classify stage ---------------------------------------------------- */

/* Decides the ended flow's label and looks up the names the store needs. */
static void finish_flow(struct pipeline *p, struct flow *f, struct rec_flow *rf)
{
    classify_finish(p->cls, f);
    const char *app = classify_app(p->cls, f, rf->app, sizeof rf->app);
    if (app != rf->app)
        snprintf(rf->app, sizeof rf->app, "%s", app);
    rf->ndpi_master = classify_proto_name(p->cls, f->label.ndpi_master);
    rf->ndpi_app = classify_proto_name(p->cls, f->label.ndpi_app);
    rf->confidence = classify_confidence_name(f);
}

/* --- threads --------------------------------------------------------------- */

static void *store_main(void *arg)
{
    struct pipeline *p = arg;
    pthread_setname_np(pthread_self(), "lyncaudit-store");
    struct block *b = NULL;
    while ((b = queue_pop(&p->to_store, b, true))) {
        p->store_seen = b->counters;
        for (size_t off = 0; off < b->used;) {
            struct rec *r = (struct rec *)(void *)(b->data + off);
            off += r->size;
            switch (r->type) {
            case REC_FLOW: store_flow(p, r->f, (const struct rec_flow *)r); break;
            case REC_COMMIT: store_commit_now(p); break;
            case REC_AUDIT: store_reload(p, ((struct rec_audit *)r)->a); break;
            default: break;
            }
        }
    }
    return NULL;
}

/* Copies a record the classify stage passes on unchanged. */
static void forward(struct pipeline *p, const struct rec *r)
{
    void *d = reserve(&p->to_store, r->size, &p->cls_seen);
    memcpy(d, r, r->size);
    commit(&p->to_store, r->size, 0, &p->cls_seen);
    queue_push(&p->to_store, &p->cls_seen); /* commits and reloads go on at once */
}

static void *cls_main(void *arg)
{
    struct pipeline *p = arg;
    pthread_setname_np(pthread_self(), "lyncaudit-dpi");
    struct block *b = NULL;
    for (;;) {
        struct block *next = queue_pop(&p->to_cls, b, false);
        if (!next) { /* nothing to do: hand on what is ready first */
            queue_push(&p->to_store, &p->cls_seen);
            next = queue_pop(&p->to_cls, NULL, true);
        }
        if (!(b = next))
            break;
        p->cls_seen = b->counters;
        for (size_t off = 0; off < b->used;) {
            struct rec *r = (struct rec *)(void *)(b->data + off);
            off += r->size;
            switch (r->type) {
            case REC_PACKET: classify_packet(p->cls, r->f, &((struct rec_packet *)r)->pkt); break;
            case REC_END: {
                size_t size = align8(sizeof(struct rec_flow));
                struct rec_flow *rf = reserve(&p->to_store, size, &p->cls_seen);
                rf->h = (struct rec){REC_FLOW, (uint32_t)size, r->f};
                finish_flow(p, r->f, rf);
                commit(&p->to_store, size, FLOW_COST / 2, &p->cls_seen);
                break;
            }
            default: forward(p, r); break;
            }
        }
    }
    queue_push(&p->to_store, &p->cls_seen);
    queue_close(&p->to_store);
    return NULL;
}

/* --- the reader's side ----------------------------------------------------- */

struct pipeline *pipeline_new(struct classify *cls, struct audit *audit, struct store *store,
                              const struct store_counters *reader, bool threads, bool quiet, char *err,
                              size_t errlen)
{
    struct pipeline *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->cls = cls;
    p->audit = audit;
    p->store = store;
    p->reader = reader;
    p->quiet = quiet;
    if (!threads)
        return p;
    if (queue_init(&p->to_cls) || queue_init(&p->to_store)) {
        queue_destroy(&p->to_cls);
        queue_destroy(&p->to_store);
        return p; /* no memory for the blocks: run on one thread */
    }
    /* Signals are for the reader (main) thread: SIGINT, SIGHUP, the load alarm. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    p->threads = true;
    bool ok = pthread_create(&p->store_thread, NULL, store_main, p) == 0;
    if (ok && pthread_create(&p->cls_thread, NULL, cls_main, p) != 0) {
        queue_close(&p->to_store);
        pthread_join(p->store_thread, NULL);
        ok = false;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!ok) {
        p->threads = false;
        queue_destroy(&p->to_cls);
        queue_destroy(&p->to_store);
    }
    return p;
}

int pipeline_threads(const struct pipeline *p)
{
    return p->threads ? 3 : 1;
}

void pipeline_packet(struct pipeline *p, struct flow *f, const struct packet *pkt)
{
    if (!p->threads) {
        classify_packet(p->cls, f, pkt);
        return;
    }
    /* Copy the span that holds the IP header (for nDPI) and the payload (for
     * the dissectors); both point into the captured frame. */
    const uint8_t *lo = pkt->l3, *hi = pkt->l3 ? pkt->l3 + pkt->l3len : NULL;
    if (pkt->payload_len) {
        if (!lo || pkt->payload < lo)
            lo = pkt->payload;
        if (!hi || pkt->payload + pkt->payload_len > hi)
            hi = pkt->payload + pkt->payload_len;
    }
    size_t n = lo ? (size_t)(hi - lo) : 0;
    size_t max = BLOCK_BYTES - align8(sizeof(struct rec_packet));
    if (n > max)
        n = max; /* larger than any snapshot libpcap hands out for our link types */
    size_t size = align8(sizeof(struct rec_packet) + n);
    struct rec_packet *r = reserve(&p->to_cls, size, p->reader);
    r->h = (struct rec){REC_PACKET, (uint32_t)size, f};
    r->pkt = *pkt;
    if (n)
        memcpy(r->bytes, lo, n);
    if (pkt->l3) {
        size_t off = (size_t)(pkt->l3 - lo);
        r->pkt.l3 = r->bytes + (off < n ? off : n);
        if (off + r->pkt.l3len > n)
            r->pkt.l3len = (uint16_t)(off < n ? n - off : 0);
    }
    if (pkt->payload_len) {
        size_t off = (size_t)(pkt->payload - lo);
        r->pkt.payload = r->bytes + (off < n ? off : n);
        if (off + r->pkt.payload_len > n)
            r->pkt.payload_len = (uint32_t)(off < n ? n - off : 0);
    } else {
        r->pkt.payload = r->bytes + n;
    }
    commit(&p->to_cls, size, size, p->reader);
}

void pipeline_flow_end(struct flow *f, void *pipeline)
{
    struct pipeline *p = pipeline;
    if (!p->threads) {
        struct rec_flow rf;
        finish_flow(p, f, &rf);
        store_flow(p, f, &rf);
        return;
    }
    struct rec *r = reserve(&p->to_cls, sizeof *r, p->reader);
    *r = (struct rec){REC_END, (uint32_t)sizeof *r, f};
    commit(&p->to_cls, sizeof *r, FLOW_COST, p->reader);
}

void pipeline_commit(struct pipeline *p)
{
    if (!p->threads) {
        store_commit_now(p);
        return;
    }
    struct rec *r = reserve(&p->to_cls, sizeof *r, p->reader);
    *r = (struct rec){REC_COMMIT, (uint32_t)sizeof *r, NULL};
    commit(&p->to_cls, sizeof *r, 0, p->reader);
    queue_push(&p->to_cls, p->reader);
}

void pipeline_reload(struct pipeline *p, struct audit *a)
{
    if (!p->threads) {
        store_reload(p, a);
        return;
    }
    size_t size = align8(sizeof(struct rec_audit));
    struct rec_audit *r = reserve(&p->to_cls, size, p->reader);
    r->h = (struct rec){REC_AUDIT, (uint32_t)size, NULL};
    r->a = a;
    commit(&p->to_cls, size, 0, p->reader);
    queue_push(&p->to_cls, p->reader);
}

void pipeline_flush(struct pipeline *p)
{
    if (p->threads)
        queue_push(&p->to_cls, p->reader);
}

bool pipeline_failed(const struct pipeline *p)
{
    return failed(p);
}

void pipeline_counts(const struct pipeline *p, struct pipeline_counts *out)
{
    out->flows = __atomic_load_n(&p->counts.flows, __ATOMIC_RELAXED);
    out->flows_evicted = __atomic_load_n(&p->counts.flows_evicted, __ATOMIC_RELAXED);
    out->violations = __atomic_load_n(&p->counts.violations, __ATOMIC_RELAXED);
}

struct audit *pipeline_finish(struct pipeline *p, struct pipeline_counts *out, bool *fail)
{
    if (p->threads) {
        queue_push(&p->to_cls, p->reader);
        queue_close(&p->to_cls);
        pthread_join(p->cls_thread, NULL);
        pthread_join(p->store_thread, NULL);
        queue_destroy(&p->to_cls);
        queue_destroy(&p->to_store);
    }
    *out = p->counts;
    *fail = failed(p);
    struct audit *a = p->audit;
    free(p);
    return a;
}

int pipeline_write_rules(struct store *s, const struct audit *a)
{
    for (size_t i = 0; i < audit_rule_count(a); i++) {
        struct audit_rule_info ri;
        audit_rule_info(a, i, &ri);
        struct store_rule sr = {ri.id,   ri.kind,  ri.severity, ri.from, ri.to,  ri.transport, ri.dports,
                                ri.sports, ri.apps, ri.when,    ri.doc,  ri.table, ri.text,    ri.note,
                                ri.row,  ri.active, ri.matched};
        if (store_add_rule(s, &sr))
            return -1;
    }
    return 0;
}
