#define _GNU_SOURCE /* pthread_setname_np */
/* pipeline.c - the classify workers, the queues to them, and the order back (see pipeline.h).
 *
 * One queue of blocks from the reader (the caller's thread) to each classify
 * worker: packets of the worker's undecided flows and its ended flows. A
 * flow goes to the worker its key hashes to (flow_shard), so all of a
 * flow's packets meet one nDPI module and one set of dissector state, in
 * capture order. Ended flows take a slot in one ring, in the order they
 * ended, before they are queued; the worker labels the flow into its slot
 * and flags it ready, and the reader hands the ring's oldest slots to the
 * done callback while they are ready. So the record stage sees the flows in
 * the order they ended whatever the number of workers and however they
 * race: the ring is the reorder step. Marks take a slot too.
 *
 * The threads meet (one mutex) once per block, not per record; a worker
 * flags a finished flow with an atomic store and wakes the reader only
 * when it sleeps. Each queue owns a fixed pool of blocks allocated up front,
 * and the ring has a fixed number of slots: a producer with no room waits,
 * which is both the memory bound and the back-pressure. Before the reader
 * sleeps on a slot it hands every worker its partly filled block (the flow
 * it waits for may be in one), so nothing waits for ever. Signals are the
 * reader's: the workers block them all. */
#include "pipeline.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A block holds the largest packet record (a 256 KiB snapshot) with room to
 * spare; it is handed on once it holds BLOCK_COST of work: bytes of packet
 * copied, or FLOW_COST per ended flow (a flow waiting in a queue still holds
 * its record and, if undecided, nDPI's state: about that much memory). */
#define BLOCK_BYTES (320u * 1024u)
#define BLOCK_COST (128u * 1024u)
#define FLOW_COST 1024u
#define POOL_BLOCKS 12
#define RING_SLOTS 16384u

enum rec_type { REC_PACKET = 1, REC_END };

struct rec {
    uint32_t type, size; /* size: of the whole record, a multiple of 8 */
    struct flow *f;
};

/* A packet for classify: the packet with its IP header and payload copied
 * (the reader's buffer is reused for the next packet). */
struct rec_packet {
    struct rec h;
    int dir;
    struct packet pkt;
    uint8_t bytes[];
};

/* An ended flow, to be labelled into its ring slot. */
struct rec_end {
    struct rec h;
    struct slot *slot;
};

/* An ended flow or a mark, in the order they ended or were placed. */
struct slot {
    struct flow *f;            /* NULL: a mark */
    pipeline_mark_fn fn;
    void *arg;
    struct classify_names n;   /* the flow's label, written by its worker */
    int ready;                 /* atomic: the worker is done with it (a mark: at once) */
};

struct block {
    struct block *next;
    size_t used, cost;
    _Alignas(16) uint8_t data[BLOCK_BYTES];
};

struct queue {
    struct block *head, *tail; /* handed over, oldest first */
    struct block *free;        /* the pool's unused blocks */
    struct block *cur;         /* the reader's block being filled */
    bool closed;               /* the reader is done */
};

struct worker {
    struct pipeline *p;
    struct classify *cls;
    struct queue q;
    pthread_cond_t wake;       /* a block for this worker, or the end */
    pthread_t thread;
    bool running;
    double cpu;                /* the thread's CPU seconds, when it ends */
};

struct pipeline {
    int workers;               /* classify threads (0: everything on the caller's) */
    struct classify *cls0;     /* without threads */
    struct worker *w;
    pipeline_done_fn done;
    void *ctx;
    pthread_mutex_t mu;        /* guards the queues */
    pthread_cond_t wake_reader;
    int reader_sleeps;         /* atomic: the reader waits on wake_reader */
    struct slot *ring;         /* RING_SLOTS, indexed by sequence number modulo */
    uint64_t head, tail;       /* the oldest slot not handed on; the next slot */
    double store_cpu;          /* CPU seconds the reader spent in done and marks */
    double classify_cpu;       /* the workers' CPU seconds, once they ended */
};

static size_t align8(size_t n)
{
    return (n + 7u) & ~(size_t)7u;
}

/* CPU seconds of the calling thread. */
static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- queues ---------------------------------------------------------------- */

/* A pool of POOL_BLOCKS blocks, one of them the producer's. -1: no memory. */
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

/* Frees every block of the pool, wherever it is. */
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

/* With p->mu held: b at the end of the handed-over list. */
static void append(struct queue *q, struct block *b)
{
    b->next = NULL;
    if (q->tail)
        q->tail->next = b;
    else
        q->head = b;
    q->tail = b;
}

/* With p->mu held: the oldest handed-over block, or NULL. */
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

/* --- the ring -------------------------------------------------------------- */

static struct slot *slot_at(struct pipeline *p, uint64_t seq)
{
    return &p->ring[seq % RING_SLOTS];
}

/* True when the oldest slot can be handed on (reader; seq_cst against a
 * worker's ready flag and its look at reader_sleeps). */
static bool head_ready(struct pipeline *p)
{
    return p->head != p->tail && __atomic_load_n(&slot_at(p, p->head)->ready, __ATOMIC_SEQ_CST);
}

/* Reader: hands the oldest slots to the callbacks while they are ready.
 * Returns how many. */
static size_t drain(struct pipeline *p)
{
    if (!head_ready(p))
        return 0;
    double t0 = thread_cpu();
    size_t n = 0;
    for (; head_ready(p); n++) {
        struct slot *s = slot_at(p, p->head);
        p->head++;
        if (s->f)
            p->done(p->ctx, s->f, &s->n);
        else
            s->fn(p->ctx, s->arg);
    }
    p->store_cpu += thread_cpu() - t0;
    return n;
}

/* Reader, with p->mu held: sleeps unless the oldest slot is ready; a
 * worker that flags a slot (while reader_sleeps) or gives back a block
 * wakes it. Callers loop on what they wait for. */
static void reader_sleep(struct pipeline *p)
{
    __atomic_store_n(&p->reader_sleeps, 1, __ATOMIC_SEQ_CST);
    if (!head_ready(p))
        pthread_cond_wait(&p->wake_reader, &p->mu);
    __atomic_store_n(&p->reader_sleeps, 0, __ATOMIC_SEQ_CST);
}

/* Reader: hands on what is ready, or else sleeps once. */
static void drain_or_sleep(struct pipeline *p)
{
    if (drain(p))
        return;
    pthread_mutex_lock(&p->mu);
    reader_sleep(p);
    pthread_mutex_unlock(&p->mu);
}

/* Reader: hands worker w its partly filled block, if any, taking a free
 * one; while there is none, runs the callbacks on what is ready, or sleeps. */
static void push(struct pipeline *p, struct worker *w)
{
    struct block *b = w->q.cur;
    if (!b->used)
        return;
    pthread_mutex_lock(&p->mu);
    append(&w->q, b);
    pthread_cond_signal(&w->wake);
    while (!w->q.free) {
        pthread_mutex_unlock(&p->mu);
        size_t n = drain(p);
        pthread_mutex_lock(&p->mu);
        if (!n && !w->q.free)
            reader_sleep(p);
    }
    b = w->q.free;
    w->q.free = b->next;
    b->used = b->cost = 0;
    w->q.cur = b;
    pthread_mutex_unlock(&p->mu);
}

static void push_all(struct pipeline *p)
{
    for (int i = 0; i < p->workers; i++)
        push(p, &p->w[i]);
}

/* Reader: a free slot for the next ended flow or mark; while the ring is
 * full, every worker gets its block and the reader hands on or sleeps. */
static struct slot *take_slot(struct pipeline *p)
{
    while (p->tail - p->head >= RING_SLOTS) {
        push_all(p);
        drain_or_sleep(p);
    }
    struct slot *s = slot_at(p, p->tail++);
    __atomic_store_n(&s->ready, 0, __ATOMIC_RELAXED);
    return s;
}

/* Room for a record of `size` bytes in worker w's block. */
static void *reserve(struct pipeline *p, struct worker *w, size_t size)
{
    if (w->q.cur->used + size > BLOCK_BYTES)
        push(p, w);
    return w->q.cur->data + w->q.cur->used;
}

static void commit(struct pipeline *p, struct worker *w, size_t size, size_t cost)
{
    w->q.cur->used += size;
    w->q.cur->cost += cost;
    if (w->q.cur->cost >= BLOCK_COST)
        push(p, w);
}

/* --- the classify workers -------------------------------------------------- */

/* Decides the ended flow's label and puts it in words (the worker's nDPI module). */
static void finish_flow(struct classify *cls, struct flow *f, struct classify_names *n)
{
    classify_finish(cls, f);
    classify_names(cls, f, n);
}

/* Worker: gives back `done` and takes its next block; NULL once the reader
 * is done and everything is taken. */
static struct block *worker_pop(struct worker *w, struct block *done)
{
    struct pipeline *p = w->p;
    pthread_mutex_lock(&p->mu);
    if (done) {
        done->next = w->q.free;
        w->q.free = done;
        pthread_cond_signal(&p->wake_reader);
    }
    while (!w->q.head && !w->q.closed)
        pthread_cond_wait(&w->wake, &p->mu);
    struct block *b = take_head(&w->q);
    pthread_mutex_unlock(&p->mu);
    return b;
}

/* Worker: an ended flow labelled into its slot, and the reader woken if it
 * sleeps (it may wait for this very slot). */
static void worker_end(struct worker *w, const struct rec_end *r)
{
    struct pipeline *p = w->p;
    finish_flow(w->cls, r->h.f, &r->slot->n);
    __atomic_store_n(&r->slot->ready, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&p->reader_sleeps, __ATOMIC_SEQ_CST)) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_signal(&p->wake_reader);
        pthread_mutex_unlock(&p->mu);
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    pthread_setname_np(pthread_self(), "lyncaudit-dpi");
    struct block *b = NULL;
    while ((b = worker_pop(w, b))) {
        for (size_t off = 0; off < b->used;) {
            struct rec *r = (struct rec *)(void *)(b->data + off);
            off += r->size;
            if (r->type == REC_PACKET) {
                const struct rec_packet *rp = (const struct rec_packet *)r;
                classify_packet(w->cls, r->f, &rp->pkt, rp->dir);
            } else {
                worker_end(w, (const struct rec_end *)r);
            }
        }
    }
    w->cpu = thread_cpu();
    return NULL;
}

/* --- the reader's side ----------------------------------------------------- */

/* Stops the running workers (their queues closed), frees queues and ring. */
static void stop_workers(struct pipeline *p)
{
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->workers; i++) {
        p->w[i].q.closed = true;
        pthread_cond_signal(&p->w[i].wake);
    }
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->workers; i++) {
        if (p->w[i].running)
            pthread_join(p->w[i].thread, NULL);
        p->classify_cpu += p->w[i].cpu;
        queue_destroy(&p->w[i].q);
        pthread_cond_destroy(&p->w[i].wake);
    }
    free(p->w);
    free(p->ring);
    p->w = NULL;
    p->ring = NULL;
    p->workers = 0;
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake_reader);
}

/* Starts `workers` threads over cls[0..workers-1]; false (nothing left
 * running) when memory or a thread is refused. */
static bool start_workers(struct pipeline *p, struct classify *const *cls, int workers)
{
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake_reader, NULL);
    p->workers = workers;
    p->w = calloc((size_t)workers, sizeof *p->w);
    p->ring = calloc(RING_SLOTS, sizeof *p->ring);
    bool ok = p->w && p->ring;
    for (int i = 0; ok && i < workers; i++) {
        p->w[i].p = p;
        p->w[i].cls = cls[i];
        pthread_cond_init(&p->w[i].wake, NULL);
        ok = queue_init(&p->w[i].q) == 0;
    }
    /* Signals are for the reader (main) thread: SIGINT, SIGHUP. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (int i = 0; ok && i < workers; i++)
        ok = (p->w[i].running = pthread_create(&p->w[i].thread, NULL, worker_main, &p->w[i]) == 0);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!ok && p->w)
        stop_workers(p);
    else if (!ok)
        free(p->ring), p->workers = 0;
    return ok;
}

struct pipeline *pipeline_new(struct classify *const *cls, int workers, pipeline_done_fn done, void *ctx, char *err,
                              size_t errlen)
{
    struct pipeline *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->cls0 = cls[0];
    p->done = done;
    p->ctx = ctx;
    if (workers > 0)
        start_workers(p, cls, workers); /* else, or when refused: on one thread */
    return p;
}

int pipeline_threads(const struct pipeline *p)
{
    return 1 + p->workers;
}

/* Points *field (len bytes at *field, in the span starting at lo that the
 * record copied n bytes of) at the copy, cut to what was copied. */
static void rebase(const uint8_t **field, size_t len, const uint8_t *lo, const uint8_t *copy, size_t n,
                   size_t *cut)
{
    size_t off = (size_t)(*field - lo);
    *field = copy + (off < n ? off : n);
    *cut = off + len > n ? (off < n ? n - off : 0) : len;
}

/* The worker of flow f. */
static struct worker *worker_of(struct pipeline *p, const struct flow *f)
{
    return &p->w[p->workers == 1 ? 0 : flow_shard(&f->key) % (unsigned)p->workers];
}

void pipeline_packet(void *pipeline, struct flow *f, const struct packet *pkt, int dir)
{
    struct pipeline *p = pipeline;
    if (!p->workers) {
        classify_packet(p->cls0, f, pkt, dir);
        return;
    }
    struct worker *w = worker_of(p, f);
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
    struct rec_packet *r = reserve(p, w, size);
    r->h = (struct rec){REC_PACKET, (uint32_t)size, f};
    r->dir = dir;
    r->pkt = *pkt;
    if (n)
        memcpy(r->bytes, lo, n);
    size_t cut;
    if (pkt->l3) {
        rebase(&r->pkt.l3, r->pkt.l3len, lo, r->bytes, n, &cut);
        r->pkt.l3len = (uint16_t)cut;
    }
    if (pkt->payload_len) {
        rebase(&r->pkt.payload, r->pkt.payload_len, lo, r->bytes, n, &cut);
        r->pkt.payload_len = (uint32_t)cut;
    } else {
        r->pkt.payload = r->bytes + n;
    }
    commit(p, w, size, size);
}

void pipeline_flow_end(struct flow *f, void *pipeline)
{
    struct pipeline *p = pipeline;
    if (!p->workers) {
        struct classify_names n;
        finish_flow(p->cls0, f, &n);
        double t0 = thread_cpu();
        p->done(p->ctx, f, &n);
        p->store_cpu += thread_cpu() - t0;
        return;
    }
    struct slot *s = take_slot(p);
    s->f = f;
    struct worker *w = worker_of(p, f);
    size_t size = align8(sizeof(struct rec_end));
    struct rec_end *r = reserve(p, w, size);
    *r = (struct rec_end){{REC_END, (uint32_t)size, f}, s};
    commit(p, w, size, FLOW_COST);
}

void pipeline_mark(struct pipeline *p, pipeline_mark_fn fn, void *arg)
{
    if (!p->workers) {
        fn(p->ctx, arg);
        return;
    }
    struct slot *s = take_slot(p);
    s->f = NULL;
    s->fn = fn;
    s->arg = arg;
    __atomic_store_n(&s->ready, 1, __ATOMIC_RELEASE);
    push_all(p);
    drain(p);
}

void pipeline_flush(struct pipeline *p)
{
    push_all(p);
    drain(p);
}

void pipeline_poll(struct pipeline *p)
{
    if (p->workers)
        drain(p);
}

void pipeline_finish(struct pipeline *p, struct pipeline_cpu *cpu)
{
    if (p->workers) {
        push_all(p);
        /* Every slot handed on, then the workers stopped. */
        while (p->head != p->tail)
            drain_or_sleep(p);
        stop_workers(p);
    }
    if (cpu)
        *cpu = (struct pipeline_cpu){thread_cpu() - p->store_cpu, p->classify_cpu, p->store_cpu};
    free(p);
}
