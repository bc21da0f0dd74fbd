#define _GNU_SOURCE /* pthread_setname_np */
/* pipeline.c - classify on a thread of its own (see pipeline.h).
 *
 * Two queues of blocks between the reader (the caller's thread) and the
 * classify thread: packets and ended flows go one way, labelled flows come
 * back, and the reader audits and writes them (the store stage) between
 * packets. Two threads for two stages that cost about the same keep two
 * CPUs busy; a third thread for the store made three runnable threads share
 * two CPUs, and nDPI's thread lost a fifth of its time to the others.
 *
 * The threads meet (one mutex) once per block, not per record. Each queue
 * owns a fixed pool of blocks allocated up front: a producer with no free
 * block waits for the consumer to give one back, which is both the memory
 * bound and the back-pressure. While the reader waits for a free block it
 * does the store stage's work, so neither thread can wait for the other
 * for ever. The classify thread, when it has nothing to do, first hands
 * back what it has finished, so nothing waits in a half-full block while
 * the capture is quiet (live). */
#include "pipeline.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dissect/msturn.h" /* struct stun_call: the flow's MS-TURN call identity */

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
    int dir; /* flow_packet()'s: 0 from the initiator */
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
    _Alignas(16) uint8_t data[BLOCK_BYTES];
};

struct queue {
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
    pthread_mutex_t mu;                   /* guards both queues */
    pthread_cond_t wake_reader, wake_cls; /* something for the reader / the classify thread */
    struct queue to_cls, to_store;
    int store_ready;                      /* blocks in to_store (atomic: read without the lock) */
    pthread_t cls_thread;
    /* The store stage's, on the reader's thread like everything below. */
    struct pipeline_counts counts;
    bool failed;
};

static size_t align8(size_t n)
{
    return (n + 7u) & ~(size_t)7u;
}

/* --- queues ---------------------------------------------------------------- */

static int queue_init(struct queue *q)
{
    memset(q, 0, sizeof *q);
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
    memset(q, 0, sizeof *q);
}

/* With p->mu held. */
static void append(struct queue *q, struct block *b)
{
    b->next = NULL;
    if (q->tail)
        q->tail->next = b;
    else
        q->head = b;
    q->tail = b;
}

static struct block *take_head(struct queue *q)
{
    struct block *b = q->head;
    if (b) {
        q->head = b->next;
        if (!q->head)
            q->tail = NULL;
    }
    return b;
}

static void give_back(struct queue *q, struct block *b)
{
    b->next = q->free;
    q->free = b;
}

static void take_free(struct queue *q)
{
    struct block *b = q->free;
    q->free = b->next;
    b->used = b->cost = 0;
    q->cur = b;
}

static void store_block(struct pipeline *p, struct block *b);

/* Reader, with p->mu held: the store stage on a block just taken from
 * to_store (the lock is let go meanwhile), then the block goes back. */
static void store_taken(struct pipeline *p, struct block *b)
{
    __atomic_sub_fetch(&p->store_ready, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&p->mu);
    store_block(p, b);
    pthread_mutex_lock(&p->mu);
    give_back(&p->to_store, b);
    pthread_cond_signal(&p->wake_cls);
}

/* Reader: the store stage's work on every labelled flow handed back so far. */
static void reader_drain(struct pipeline *p)
{
    if (__atomic_load_n(&p->store_ready, __ATOMIC_ACQUIRE) == 0)
        return;
    pthread_mutex_lock(&p->mu);
    struct block *b;
    while ((b = take_head(&p->to_store)))
        store_taken(p, b);
    pthread_mutex_unlock(&p->mu);
}

/* Reader: hands the current block to the classify thread and takes a free
 * one; while there is none, does the store stage's work or waits. */
static void reader_push(struct pipeline *p)
{
    struct block *b = p->to_cls.cur;
    if (b->used) {
        pthread_mutex_lock(&p->mu);
        append(&p->to_cls, b);
        pthread_cond_signal(&p->wake_cls);
        while (!p->to_cls.free) {
            struct block *s = take_head(&p->to_store);
            if (s)
                store_taken(p, s);
            else
                pthread_cond_wait(&p->wake_reader, &p->mu);
        }
        take_free(&p->to_cls);
        pthread_mutex_unlock(&p->mu);
    }
    reader_drain(p);
}

/* Classify thread: hands its finished flows to the reader, and takes a
 * free block, waiting while the reader is behind. */
static void cls_push(struct pipeline *p)
{
    struct block *b = p->to_store.cur;
    if (!b->used)
        return;
    pthread_mutex_lock(&p->mu);
    append(&p->to_store, b);
    __atomic_add_fetch(&p->store_ready, 1, __ATOMIC_RELEASE);
    pthread_cond_signal(&p->wake_reader);
    while (!p->to_store.free)
        pthread_cond_wait(&p->wake_cls, &p->mu);
    take_free(&p->to_store);
    pthread_mutex_unlock(&p->mu);
}

/* Classify thread: gives back `done` and takes the reader's next block;
 * when there is none, first hands back what it has finished. NULL once the
 * reader is done and everything is taken. */
static struct block *cls_pop(struct pipeline *p, struct block *done)
{
    pthread_mutex_lock(&p->mu);
    if (done) {
        give_back(&p->to_cls, done);
        pthread_cond_signal(&p->wake_reader);
    }
    if (!p->to_cls.head && !p->to_cls.closed) {
        pthread_mutex_unlock(&p->mu);
        cls_push(p);
        pthread_mutex_lock(&p->mu);
    }
    while (!p->to_cls.head && !p->to_cls.closed)
        pthread_cond_wait(&p->wake_cls, &p->mu);
    struct block *b = take_head(&p->to_cls);
    pthread_mutex_unlock(&p->mu);
    return b;
}

/* Room for a record of `size` bytes in a producer's block; `push` hands
 * the block over when it is full. */
static void *reserve(struct pipeline *p, struct queue *q, size_t size, void (*push)(struct pipeline *))
{
    if (q->cur->used + size > BLOCK_BYTES)
        push(p);
    return q->cur->data + q->cur->used;
}

static void commit(struct pipeline *p, struct queue *q, size_t size, size_t cost, void (*push)(struct pipeline *))
{
    q->cur->used += size;
    q->cur->cost += cost;
    if (q->cur->cost >= BLOCK_COST)
        push(p);
}

/* --- the store stage ------------------------------------------------------- */

/* The run row's counters: the reader's as they are now, and the store
 * stage's own. */
static void merged(const struct pipeline *p, struct store_counters *c)
{
    *c = *p->reader;
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
    if (!p->failed && store_commit(p->store, &c) != 0)
        p->failed = true;
}

/* Audits and writes one labelled flow, then frees it. */
static void store_flow(struct pipeline *p, struct flow *f, const struct rec_flow *rf)
{
    if (!p->failed) {
        const uint8_t *src, *dst;
        uint16_t sport, dport;
        flow_endpoints(f, &src, &sport, &dst, &dport);
        char s_ip[INET6_ADDRSTRLEN], d_ip[INET6_ADDRSTRLEN], tbuf[16];
        ip_text(src, f->key.ipver, s_ip);
        ip_text(dst, f->key.ipver, d_ip);
        struct audit_flow af = {src, dst, f->key.ipver, f->key.proto, sport, dport, rf->app, f->label.detail,
                                f->pkts[0] + f->pkts[1], f->bytes[0] + f->bytes[1], f->label.facts};
        struct audit_result ar;
        audit_flow(p->audit, &af, &ar);
        const struct stun_call *call = f->label.call;
        char loc[3][4];
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
            .tunnel = decode_tunnel_name(f->tunnel),
            .tunnel_ipver = f->tun_ipver,
            .tunnel_src = f->tun_src,
            .tunnel_dst = f->tun_dst,
            .tunnel_id = f->tun_has_id ? (int64_t)f->tun_id : -1,
            .vlan = f->vlan[0],
            .vlan_inner = f->vlan[1],
            .call_id = call && call->call_id[0] ? call->call_id : NULL,
            .dialog_id = call && call->dialog_id[0] ? call->dialog_id : NULL,
            .self_location = call && call->has_location ? stun_location_name(call->self_location, loc[0]) : NULL,
            .peer_location = call && call->has_location ? stun_location_name(call->peer_location, loc[1]) : NULL,
            .federation = call && call->has_location ? stun_federation_name(call->federation, loc[2]) : NULL,
            .violations = sv,
            .nviolations = ar.nviolations,
        };
        if (store_add_flow(p->store, &sf) != 0) {
            p->failed = true;
        } else {
            p->counts.flows++;
            p->counts.violations += (uint64_t)ar.nviolations;
            if (f->end == FLOW_END_EVICTED)
                p->counts.flows_evicted++;
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
    if (p->failed || store_begin(p->store) || pipeline_write_rules(p->store, p->audit) ||
        store_commit(p->store, &c)) {
        p->failed = true;
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

/* The store stage on one block of records from the classify thread. */
static void store_block(struct pipeline *p, struct block *b)
{
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

/* Copies a record the classify stage passes on unchanged (commits and
 * reloads: they go on at once). */
static void forward(struct pipeline *p, const struct rec *r)
{
    void *d = reserve(p, &p->to_store, r->size, cls_push);
    memcpy(d, r, r->size);
    commit(p, &p->to_store, r->size, 0, cls_push);
    cls_push(p);
}

static void *cls_main(void *arg)
{
    struct pipeline *p = arg;
    pthread_setname_np(pthread_self(), "lyncaudit-dpi");
    struct block *b = NULL;
    while ((b = cls_pop(p, b))) {
        for (size_t off = 0; off < b->used;) {
            struct rec *r = (struct rec *)(void *)(b->data + off);
            off += r->size;
            switch (r->type) {
            case REC_PACKET: {
                struct rec_packet *rp = (struct rec_packet *)r;
                classify_packet(p->cls, r->f, &rp->pkt, rp->dir);
                break;
            }
            case REC_END: {
                size_t size = align8(sizeof(struct rec_flow));
                struct rec_flow *rf = reserve(p, &p->to_store, size, cls_push);
                rf->h = (struct rec){REC_FLOW, (uint32_t)size, r->f};
                finish_flow(p, r->f, rf);
                commit(p, &p->to_store, size, FLOW_COST / 2, cls_push);
                break;
            }
            default: forward(p, r); break;
            }
        }
    }
    cls_push(p);
    pthread_mutex_lock(&p->mu);
    p->to_store.closed = true;
    pthread_cond_signal(&p->wake_reader);
    pthread_mutex_unlock(&p->mu);
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
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake_reader, NULL);
    pthread_cond_init(&p->wake_cls, NULL);
    /* Signals are for the reader (main) thread: SIGINT, SIGHUP, the load alarm. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    p->threads = true;
    bool ok = pthread_create(&p->cls_thread, NULL, cls_main, p) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!ok) {
        p->threads = false;
        queue_destroy(&p->to_cls);
        queue_destroy(&p->to_store);
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->wake_reader);
        pthread_cond_destroy(&p->wake_cls);
    }
    return p;
}

int pipeline_threads(const struct pipeline *p)
{
    return p->threads ? 2 : 1;
}

void pipeline_packet(struct pipeline *p, struct flow *f, const struct packet *pkt, int dir)
{
    if (!p->threads) {
        classify_packet(p->cls, f, pkt, dir);
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
    struct rec_packet *r = reserve(p, &p->to_cls, size, reader_push);
    r->h = (struct rec){REC_PACKET, (uint32_t)size, f};
    r->pkt = *pkt;
    r->dir = dir;
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
    commit(p, &p->to_cls, size, size, reader_push);
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
    struct rec *r = reserve(p, &p->to_cls, sizeof *r, reader_push);
    *r = (struct rec){REC_END, (uint32_t)sizeof *r, f};
    commit(p, &p->to_cls, sizeof *r, FLOW_COST, reader_push);
}

void pipeline_commit(struct pipeline *p)
{
    if (!p->threads) {
        store_commit_now(p);
        return;
    }
    struct rec *r = reserve(p, &p->to_cls, sizeof *r, reader_push);
    *r = (struct rec){REC_COMMIT, (uint32_t)sizeof *r, NULL};
    commit(p, &p->to_cls, sizeof *r, 0, reader_push);
    reader_push(p);
}

void pipeline_reload(struct pipeline *p, struct audit *a)
{
    if (!p->threads) {
        store_reload(p, a);
        return;
    }
    size_t size = align8(sizeof(struct rec_audit));
    struct rec_audit *r = reserve(p, &p->to_cls, size, reader_push);
    r->h = (struct rec){REC_AUDIT, (uint32_t)size, NULL};
    r->a = a;
    commit(p, &p->to_cls, size, 0, reader_push);
    reader_push(p);
}

void pipeline_flush(struct pipeline *p)
{
    if (p->threads)
        reader_push(p);
}

void pipeline_poll(struct pipeline *p)
{
    if (p->threads)
        reader_drain(p);
}

bool pipeline_failed(const struct pipeline *p)
{
    return p->failed;
}

void pipeline_counts(const struct pipeline *p, struct pipeline_counts *out)
{
    *out = p->counts;
}

struct audit *pipeline_finish(struct pipeline *p, struct pipeline_counts *out, bool *fail)
{
    if (p->threads) {
        reader_push(p);
        pthread_mutex_lock(&p->mu);
        p->to_cls.closed = true;
        pthread_cond_signal(&p->wake_cls);
        /* The store stage until the classify thread is done too. */
        for (;;) {
            struct block *b = take_head(&p->to_store);
            if (b)
                store_taken(p, b);
            else if (p->to_store.closed)
                break;
            else
                pthread_cond_wait(&p->wake_reader, &p->mu);
        }
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->cls_thread, NULL);
        queue_destroy(&p->to_cls);
        queue_destroy(&p->to_store);
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->wake_reader);
        pthread_cond_destroy(&p->wake_cls);
    }
    *out = p->counts;
    *fail = p->failed;
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
