#define _GNU_SOURCE /* pthread_setname_np */
/* pipeline.c - the classify thread and the queues to and from it (see pipeline.h).
 *
 * Two queues of blocks between the reader (the caller's thread) and the
 * classify thread: packets, ended flows and marks go one way, labelled
 * flows and marks come back, and the reader hands them to the done and
 * mark callbacks (audit and store) between packets. Two threads for two
 * stages that cost about the same keep two CPUs busy; a third thread for
 * the store made three runnable threads share two CPUs, and nDPI's thread
 * lost a fifth of its time to the others.
 *
 * The threads meet (one mutex) once per block, not per record. Each queue
 * owns a fixed pool of blocks allocated up front: a producer with no free
 * block waits for the consumer to give one back, which is both the memory
 * bound and the back-pressure. While the reader waits for a free block it
 * runs the callbacks on what came back, so neither thread can wait for the
 * other for ever. The classify thread, when it has nothing to do, first
 * hands back what it has finished, so nothing waits in a half-full block
 * while the capture is quiet (live). Signals are the reader's: the classify
 * thread blocks them all. */
#include "pipeline.h"

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

enum rec_type { REC_PACKET = 1, REC_END, REC_FLOW, REC_MARK };

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

/* A labelled flow for the done callback, in words (classify_names). */
struct rec_flow {
    struct rec h;
    struct classify_names n;
};

/* A mark: fn(ctx, arg) on the reader once everything before it is done. */
struct rec_mark {
    struct rec h;
    pipeline_mark_fn fn;
    void *arg;
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
    bool threads;
    struct classify *cls;
    pipeline_done_fn done;
    void *ctx;
    pthread_mutex_t mu;                   /* guards both queues */
    pthread_cond_t wake_reader, wake_cls; /* something for the reader / the classify thread */
    struct queue to_cls, back;
    int back_ready;                       /* blocks in `back` (atomic: read without the lock) */
    pthread_t cls_thread;
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

static void reader_run(struct pipeline *p, struct block *b);

/* Reader, with p->mu held: the callbacks on a block just taken from `back`
 * (the lock is let go meanwhile), then the block goes back to its pool. */
static void reader_taken(struct pipeline *p, struct block *b)
{
    __atomic_sub_fetch(&p->back_ready, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&p->mu);
    reader_run(p, b);
    pthread_mutex_lock(&p->mu);
    give_back(&p->back, b);
    pthread_cond_signal(&p->wake_cls);
}

/* Reader: the callbacks on every block handed back so far. */
static void reader_drain(struct pipeline *p)
{
    if (__atomic_load_n(&p->back_ready, __ATOMIC_ACQUIRE) == 0)
        return;
    pthread_mutex_lock(&p->mu);
    struct block *b;
    while ((b = take_head(&p->back)))
        reader_taken(p, b);
    pthread_mutex_unlock(&p->mu);
}

/* Reader: hands the current block to the classify thread and takes a free
 * one; while there is none, runs the callbacks on what came back, or waits. */
static void reader_push(struct pipeline *p)
{
    struct block *b = p->to_cls.cur;
    if (b->used) {
        pthread_mutex_lock(&p->mu);
        append(&p->to_cls, b);
        pthread_cond_signal(&p->wake_cls);
        while (!p->to_cls.free) {
            struct block *s = take_head(&p->back);
            if (s)
                reader_taken(p, s);
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
    struct block *b = p->back.cur;
    if (!b->used)
        return;
    pthread_mutex_lock(&p->mu);
    append(&p->back, b);
    __atomic_add_fetch(&p->back_ready, 1, __ATOMIC_RELEASE);
    pthread_cond_signal(&p->wake_reader);
    while (!p->back.free)
        pthread_cond_wait(&p->wake_cls, &p->mu);
    take_free(&p->back);
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

/* --- the classify thread --------------------------------------------------- */

/* Decides the ended flow's label and puts it in words (nDPI's module is
 * the classify thread's). */
static void finish_flow(struct pipeline *p, struct flow *f, struct classify_names *n)
{
    classify_finish(p->cls, f);
    classify_names(p->cls, f, n);
}

/* The reader's callbacks on one block of records from the classify thread. */
static void reader_run(struct pipeline *p, struct block *b)
{
    for (size_t off = 0; off < b->used;) {
        struct rec *r = (struct rec *)(void *)(b->data + off);
        off += r->size;
        if (r->type == REC_FLOW) {
            p->done(p->ctx, r->f, &((const struct rec_flow *)r)->n);
        } else if (r->type == REC_MARK) {
            const struct rec_mark *m = (const struct rec_mark *)r;
            m->fn(p->ctx, m->arg);
        }
    }
}

/* Classify thread: passes a mark on at once, behind the flows before it. */
static void forward(struct pipeline *p, const struct rec *r)
{
    void *d = reserve(p, &p->back, r->size, cls_push);
    memcpy(d, r, r->size);
    commit(p, &p->back, r->size, 0, cls_push);
    cls_push(p);
}

/* Classify thread: one ended flow labelled and queued for the reader. */
static void cls_end(struct pipeline *p, struct flow *f)
{
    size_t size = align8(sizeof(struct rec_flow));
    struct rec_flow *rf = reserve(p, &p->back, size, cls_push);
    rf->h = (struct rec){REC_FLOW, (uint32_t)size, f};
    finish_flow(p, f, &rf->n);
    commit(p, &p->back, size, FLOW_COST / 2, cls_push);
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
            if (r->type == REC_PACKET) {
                const struct rec_packet *rp = (const struct rec_packet *)r;
                classify_packet(p->cls, r->f, &rp->pkt, rp->dir);
            } else if (r->type == REC_END) {
                cls_end(p, r->f);
            } else {
                forward(p, r);
            }
        }
    }
    cls_push(p);
    pthread_mutex_lock(&p->mu);
    p->back.closed = true;
    pthread_cond_signal(&p->wake_reader);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* --- the reader's side ----------------------------------------------------- */

/* Frees the queues and the lock of a pipeline whose thread is not running. */
static void destroy_queues(struct pipeline *p)
{
    queue_destroy(&p->to_cls);
    queue_destroy(&p->back);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake_reader);
    pthread_cond_destroy(&p->wake_cls);
}

struct pipeline *pipeline_new(struct classify *cls, bool threads, pipeline_done_fn done, void *ctx, char *err,
                              size_t errlen)
{
    struct pipeline *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->cls = cls;
    p->done = done;
    p->ctx = ctx;
    if (!threads)
        return p;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake_reader, NULL);
    pthread_cond_init(&p->wake_cls, NULL);
    if (queue_init(&p->to_cls) || queue_init(&p->back)) {
        destroy_queues(p);
        return p; /* no memory for the blocks: run on one thread */
    }
    /* Signals are for the reader (main) thread: SIGINT, SIGHUP, the load alarm. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    p->threads = pthread_create(&p->cls_thread, NULL, cls_main, p) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!p->threads)
        destroy_queues(p);
    return p;
}

int pipeline_threads(const struct pipeline *p)
{
    return p->threads ? 2 : 1;
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

void pipeline_packet(void *pipeline, struct flow *f, const struct packet *pkt, int dir)
{
    struct pipeline *p = pipeline;
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
    commit(p, &p->to_cls, size, size, reader_push);
}

void pipeline_flow_end(struct flow *f, void *pipeline)
{
    struct pipeline *p = pipeline;
    if (!p->threads) {
        struct classify_names n;
        finish_flow(p, f, &n);
        p->done(p->ctx, f, &n);
        return;
    }
    struct rec *r = reserve(p, &p->to_cls, sizeof *r, reader_push);
    *r = (struct rec){REC_END, (uint32_t)sizeof *r, f};
    commit(p, &p->to_cls, sizeof *r, FLOW_COST, reader_push);
}

void pipeline_mark(struct pipeline *p, pipeline_mark_fn fn, void *arg)
{
    if (!p->threads) {
        fn(p->ctx, arg);
        return;
    }
    size_t size = align8(sizeof(struct rec_mark));
    struct rec_mark *r = reserve(p, &p->to_cls, size, reader_push);
    r->h = (struct rec){REC_MARK, (uint32_t)size, NULL};
    r->fn = fn;
    r->arg = arg;
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

void pipeline_finish(struct pipeline *p)
{
    if (p->threads) {
        reader_push(p);
        pthread_mutex_lock(&p->mu);
        p->to_cls.closed = true;
        pthread_cond_signal(&p->wake_cls);
        /* The callbacks until the classify thread is done too. */
        for (;;) {
            struct block *b = take_head(&p->back);
            if (b)
                reader_taken(p, b);
            else if (p->back.closed)
                break;
            else
                pthread_cond_wait(&p->wake_reader, &p->mu);
        }
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->cls_thread, NULL);
        destroy_queues(p);
    }
    free(p);
}
