#define _GNU_SOURCE /* pthread_setname_np */
/* fanout.c - capture threads in a PACKET_FANOUT group, one writer (see fanout.h).
 *
 * A capture thread runs the same sequence as capture.c on one thread:
 * source_next -> ingest_frame -> its flow table -> its pipeline (no
 * workers: classify on the capture thread, with its own nDPI module). Its
 * pipeline's done callback hands each labelled flow to the writer through
 * one bounded ring (a full ring makes the capture thread wait: the kernel's
 * ring then fills and counts drops, as on one thread). Every few thousand
 * packets and at each read timeout a thread publishes its counters and its
 * handle's statistics, which the writer sums for the run's row and --stats.
 * Signals are the writer's (the main thread's); capture threads block them
 * and see the stop flag within one read timeout (200 ms). */
#include "fanout.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "classify.h"
#include "pipeline.h"

#define FAN_RING 8192u
#define FAN_BATCH 256u

struct fan_item {
    struct flow *f;
    struct classify_names n;
};

struct fanout;

struct fan_thread {
    struct fanout *fo;
    int k;
    struct source *src;
    struct classify *cls;
    struct pipeline *pl;
    struct flow_table *ft;
    struct ingest in;
    /* published under fo->mu */
    struct ingest_counters pub;
    struct source_stats st;
    uint64_t live, peak_live;
    pthread_t thread;
    bool started;
};

struct fanout {
    struct capture *c;
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    struct fan_item *ring;
    uint64_t head, tail;
    int running;               /* capture threads not yet done */
    int stop;                  /* atomic: the writer saw *c->stop (set by a signal on its thread) */
    bool failed;
    char err[512];
    struct fan_thread *t;
    int n;
};

/* pipeline_done_fn of a capture thread: the labelled flow to the writer,
 * waiting while the ring is full. */
static void fan_done(void *ctx, struct flow *f, const struct classify_names *n)
{
    struct fan_thread *t = ctx;
    struct fanout *fo = t->fo;
    pthread_mutex_lock(&fo->mu);
    while (fo->tail - fo->head >= FAN_RING)
        pthread_cond_wait(&fo->not_full, &fo->mu);
    struct fan_item *it = &fo->ring[fo->tail++ % FAN_RING];
    it->f = f;
    it->n = *n;
    pthread_cond_signal(&fo->not_empty);
    pthread_mutex_unlock(&fo->mu);
}

/* Capture thread: its counters and statistics where the writer reads them. */
static void publish(struct fan_thread *t)
{
    struct source_stats st;
    source_stats(t->src, &st);
    const struct flow_stats *fs = flow_table_stats(t->ft);
    pthread_mutex_lock(&t->fo->mu);
    t->pub = t->in.n;
    t->st = st;
    t->live = fs->live;
    t->peak_live = fs->peak_live;
    pthread_mutex_unlock(&t->fo->mu);
}

/* Capture thread: no packet for a while; the clock still moves, idle flows
 * still end (as capture.c's live_clock). */
static void fan_clock(struct fan_thread *t)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    flow_table_expire(t->ft, (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec);
    pipeline_flush(t->pl);
}

static void *fan_main(void *arg)
{
    struct fan_thread *t = arg;
    struct fanout *fo = t->fo;
    char name[16];
    snprintf(name, sizeof name, "lyncaudit-cap%d", t->k);
    pthread_setname_np(pthread_self(), name);
    struct source_packet sp;
    while (!__atomic_load_n(&fo->stop, __ATOMIC_RELAXED)) {
        enum source_status st = source_next(t->src, &sp);
        if (st == SOURCE_PACKET) {
            ingest_frame(&t->in, sp.dlt, sp.ts_us, sp.wirelen, sp.data, sp.caplen);
            if ((t->in.n.packets & 0xfff) == 0)
                publish(t);
        } else if (st == SOURCE_TIMEOUT) {
            fan_clock(t);
            publish(t);
        } else {
            pthread_mutex_lock(&fo->mu);
            if (st == SOURCE_ERROR && !__atomic_load_n(&fo->stop, __ATOMIC_RELAXED) && !fo->failed) {
                fo->failed = true;
                snprintf(fo->err, sizeof fo->err, "%s", source_error(t->src));
            }
            pthread_mutex_unlock(&fo->mu);
            break;
        }
    }
    publish(t);
    flow_table_end_all(t->ft);
    pipeline_finish(t->pl, NULL);
    t->pl = NULL;
    pthread_mutex_lock(&fo->mu);
    fo->running--;
    pthread_cond_signal(&fo->not_empty);
    pthread_mutex_unlock(&fo->mu);
    return NULL;
}

/* A capture thread's stages: classify, pipeline (no workers), flow table, ingest. */
static int fan_stages(struct fan_thread *t, const struct fanout_cfg *cfg, char *err, size_t errlen)
{
    if (!(t->cls = classify_new(err, errlen)))
        return -1;
    classify_set_budget(t->cls, cfg->dpi_budget);
    if (!(t->pl = pipeline_new(&t->cls, 0, fan_done, t, err, errlen)) ||
        !(t->ft = flow_table_new(&cfg->flows, pipeline_flow_end, t->pl))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    ingest_init(&t->in, t->ft, &cfg->decode, pipeline_packet, t->pl);
    return 0;
}

/* Writer, with fo->mu held: the run's counters and capture statistics, summed. */
static void fan_sum(struct fanout *fo)
{
    struct capture *c = fo->c;
    struct ingest_counters s = {0};
    struct source_stats st = {0};
    uint64_t peak = 0;
    for (int i = 0; i < fo->n; i++) {
        const struct ingest_counters *p = &fo->t[i].pub;
        s.packets += p->packets, s.bytes += p->bytes, s.undecodable += p->undecodable, s.not_ip += p->not_ip;
        s.truncated += p->truncated, s.malformed += p->malformed, s.bad_link += p->bad_link;
        s.tunnel_depth += p->tunnel_depth, s.icmp_errors += p->icmp_errors, s.tunnelled += p->tunnelled;
        st.received += fo->t[i].st.received, st.dropped += fo->t[i].st.dropped;
        st.ifdropped += fo->t[i].st.ifdropped;
        peak += fo->t[i].peak_live;
    }
    c->in.n = s;
    c->live_stats = st;
    c->live = true;
    c->fan_peak_live = peak;
}

/* Writer: the --stats line, summed and per thread. */
static void fan_print_stats(struct fanout *fo)
{
    struct record_counts rc;
    record_counts(fo->c->rec, &rc);
    pthread_mutex_lock(&fo->mu);
    fan_sum(fo);
    uint64_t live = 0;
    char per[1024] = "";
    for (int i = 0; i < fo->n; i++) {
        const struct fan_thread *t = &fo->t[i];
        live += t->live;
        size_t used = strlen(per);
        snprintf(per + used, sizeof per - used, "; thread %d: %llu packets, received %llu, dropped %llu, %llu", i,
                 (unsigned long long)t->pub.packets, (unsigned long long)t->st.received,
                 (unsigned long long)t->st.dropped, (unsigned long long)t->st.ifdropped);
    }
    pthread_mutex_unlock(&fo->mu);
    const struct capture *c = fo->c;
    fprintf(stderr,
            "lyncaudit: %llu packets, %llu live flows, %llu flows written, %llu violations; "
            "received %llu, dropped %llu by the kernel, %llu by the interface%s\n",
            (unsigned long long)c->in.n.packets, (unsigned long long)live, (unsigned long long)rc.flows,
            (unsigned long long)rc.violations, (unsigned long long)c->live_stats.received,
            (unsigned long long)c->live_stats.dropped, (unsigned long long)c->live_stats.ifdropped, per);
}

/* Writer: the periodic work, by the wall clock (capture.c's tick, for threads). */
static void fan_tick(struct fanout *fo)
{
    struct capture *c = fo->c;
    double now = capture_now();
    if (now >= c->next_commit) {
        pthread_mutex_lock(&fo->mu);
        fan_sum(fo);
        pthread_mutex_unlock(&fo->mu);
        record_commit(c->rec, NULL);
        c->next_commit = now + 2;
    }
    if (c->stats_every && now >= c->next_stats) {
        fan_print_stats(fo);
        c->next_stats = now + (double)c->stats_every;
    }
    if ((c->deadline > 0 && now >= c->deadline) || record_failed(c->rec)) {
        c->timed_out |= c->deadline > 0 && now >= c->deadline;
        *c->stop = 1;
    }
    if (*c->reload) {
        *c->reload = 0;
        c->on_reload(c->reload_ctx);
    }
}

/* Writer: audits and stores what the capture threads labelled, until
 * every thread is done and the ring is empty. */
static void fan_write(struct fanout *fo)
{
    struct fan_item batch[FAN_BATCH];
    for (;;) {
        pthread_mutex_lock(&fo->mu);
        if (fo->head == fo->tail && fo->running > 0) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 200000000;
            ts.tv_sec += ts.tv_nsec / 1000000000;
            ts.tv_nsec %= 1000000000;
            pthread_cond_timedwait(&fo->not_empty, &fo->mu, &ts);
        }
        size_t n = 0;
        while (fo->head != fo->tail && n < FAN_BATCH)
            batch[n++] = fo->ring[fo->head++ % FAN_RING];
        bool done = fo->running == 0 && fo->head == fo->tail;
        if (n)
            pthread_cond_broadcast(&fo->not_full);
        pthread_mutex_unlock(&fo->mu);
        for (size_t i = 0; i < n; i++)
            record_flow(fo->c->rec, batch[i].f, &batch[i].n);
        if (done)
            break;
        fan_tick(fo);
        if (*fo->c->stop) /* the capture threads look at it within a read timeout */
            __atomic_store_n(&fo->stop, 1, __ATOMIC_RELAXED);
    }
}

/* Starts the capture threads (signals blocked in them); false when one cannot start. */
static bool fan_start(struct fanout *fo)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    bool ok = true;
    for (int i = 0; ok && i < fo->n; i++) {
        ok = pthread_create(&fo->t[i].thread, NULL, fan_main, &fo->t[i]) == 0;
        fo->t[i].started = ok;
        if (ok) {
            pthread_mutex_lock(&fo->mu);
            fo->running++;
            pthread_mutex_unlock(&fo->mu);
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return ok;
}

/* Frees each thread's stages (the threads are joined) and the ring. */
static void fan_free(struct fanout *fo)
{
    for (int i = 0; i < fo->n; i++) {
        struct fan_thread *t = &fo->t[i];
        if (t->pl)
            pipeline_finish(t->pl, NULL);
        flow_table_free(t->ft);
        classify_free(t->cls);
    }
    free(fo->t);
    free(fo->ring);
    pthread_mutex_destroy(&fo->mu);
    pthread_cond_destroy(&fo->not_empty);
    pthread_cond_destroy(&fo->not_full);
}

int fanout_run(struct capture *c, struct source **srcs, int n, const struct fanout_cfg *cfg, char *msg,
               size_t msglen)
{
    struct fanout fo = {.c = c, .n = n};
    pthread_mutex_init(&fo.mu, NULL);
    pthread_cond_init(&fo.not_empty, NULL);
    pthread_cond_init(&fo.not_full, NULL);
    fo.t = calloc((size_t)n, sizeof *fo.t);
    fo.ring = calloc(FAN_RING, sizeof *fo.ring);
    int rc = fo.t && fo.ring ? 0 : -1;
    if (rc)
        snprintf(msg, msglen, "out of memory");
    for (int i = 0; rc == 0 && i < n; i++) {
        fo.t[i] = (struct fan_thread){.fo = &fo, .k = i, .src = srcs[i]};
        rc = fan_stages(&fo.t[i], cfg, msg, msglen);
    }
    if (rc == 0 && !fan_start(&fo)) {
        snprintf(msg, msglen, "cannot start the capture threads");
        *c->stop = 1; /* the started ones end at once */
        __atomic_store_n(&fo.stop, 1, __ATOMIC_RELAXED);
        rc = -1;
    }
    fan_write(&fo);
    for (int i = 0; fo.t && i < n; i++)
        if (fo.t[i].started)
            pthread_join(fo.t[i].thread, NULL);
    if (fo.t) {
        pthread_mutex_lock(&fo.mu);
        fan_sum(&fo);
        pthread_mutex_unlock(&fo.mu);
        if (c->final_stats)
            fan_print_stats(&fo);
    }
    if (rc == 0 && fo.failed) {
        snprintf(msg, msglen, "%s", fo.err);
        rc = -1;
    }
    for (int i = 0; fo.t && cfg->keep && i < n; i++) {
        cfg->keep[i] = fo.t[i].cls;
        fo.t[i].cls = NULL;
    }
    fan_free(&fo);
    return rc;
}
