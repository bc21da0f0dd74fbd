/* capture.c - the read loop and the run's periodic work (see capture.h). */
#include "capture.h"

#include <stdio.h>
#include <sys/time.h>
#include <time.h>

#include "classify.h"

double capture_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void capture_init(struct capture *c)
{
    double t0 = capture_now();
    c->started = t0;
    c->next_commit = t0 + 2;
    c->next_stats = t0 + (double)c->stats_every;
    c->next_progress = t0 + 0.5;
}

void capture_counters(void *capture, struct store_counters *out)
{
    const struct capture *c = capture;
    const struct ingest_counters *n = &c->in.n;
    *out = (struct store_counters){
        .packets = n->packets,
        .bytes = n->bytes,
        .undecodable = n->undecodable,
        .not_ip = n->not_ip,
        .truncated = n->truncated,
        .malformed = n->malformed,
        .bad_link = n->bad_link,
        .tunnel_depth = n->tunnel_depth,
        .icmp_errors = n->icmp_errors,
        .tunnelled = n->tunnelled,
        .time_outliers = flow_table_stats(c->in.ft)->time_outliers,
        .live = c->live,
        .pcap_received = c->live_stats.received,
        .pcap_dropped = c->live_stats.dropped,
        .pcap_ifdropped = c->live_stats.ifdropped,
    };
}

void capture_print_stats(struct capture *c, struct source *src)
{
    struct source_stats st;
    source_stats(src, &st);
    struct record_counts rc;
    record_counts(c->rec, &rc);
    fprintf(stderr,
            "lyncaudit: %llu packets, %llu live flows, %llu flows written, %llu violations; "
            "received %llu, dropped %llu by the kernel, %llu by the interface\n",
            (unsigned long long)c->in.n.packets, (unsigned long long)flow_table_stats(c->in.ft)->live,
            (unsigned long long)rc.flows, (unsigned long long)rc.violations, (unsigned long long)st.received,
            (unsigned long long)st.dropped, (unsigned long long)st.ifdropped);
}

/* The `stats` event: the run's counters with the capture statistics as
 * they are now (the --stats line's figures). */
static void stats_event(struct capture *c, struct source *src, double now)
{
    if (!c->eve)
        return;
    struct source_stats st;
    source_stats(src, &st);
    struct store_counters sc;
    record_counters(c->rec, &sc);
    sc.live = source_is_live(src);
    sc.pcap_received = st.received;
    sc.pcap_dropped = st.dropped;
    sc.pcap_ifdropped = st.ifdropped;
    eve_stats(c->eve, &sc, flow_table_stats(c->in.ft)->live, now - c->started);
}

static void show_progress(const struct source *src, uint64_t packets, bool final)
{
    double p = source_progress(src);
    if (p < 0)
        fprintf(stderr, "\rlyncaudit: %s: %llu packets   ", source_name(src), (unsigned long long)packets);
    else
        fprintf(stderr, "\rlyncaudit: %s: %3.0f%%, %llu packets   ", source_name(src), p * 100,
                (unsigned long long)packets);
    if (final)
        fputc('\n', stderr);
}

/* Commits what ended (live: with the capture statistics as they are now),
 * so readers see a current database and other writers get their turn. */
static void commit_tick(struct capture *c, struct source *src, double now)
{
    if (now < c->next_commit)
        return;
    if (source_is_live(src)) {
        source_stats(src, &c->live_stats);
        c->live = true;
    }
    pipeline_mark(c->pl, record_commit, NULL);
    c->next_commit = now + 2;
}

/* Live: no packet for a while: the clock still moves, idle flows still end. */
static void live_clock(struct capture *c)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    flow_table_expire(c->in.ft, (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec);
}

/* The periodic work of a run, by the wall clock. */
static void tick(struct capture *c, struct source *src, bool progress)
{
    pipeline_poll(c->pl); /* write what the classify thread has labelled */
    double now = capture_now();
    commit_tick(c, src, now);
    if (source_is_live(src))
        live_clock(c);
    if (c->stats_every && now >= c->next_stats) {
        capture_print_stats(c, src);
        stats_event(c, src, now);
        c->next_stats = now + (double)c->stats_every;
    }
    if (progress && now >= c->next_progress) {
        show_progress(src, c->in.n.packets, false);
        c->next_progress = now + 0.5;
    }
    if (c->deadline > 0 && now >= c->deadline) {
        c->timed_out = true;
        *c->stop = 1;
    }
    if (*c->reload) {
        *c->reload = 0;
        c->on_reload(c->reload_ctx);
    }
}

int capture_source(struct capture *c, struct source *src, char *msg, size_t msglen)
{
    /* Every frame live, and from a pipe (its frames may trickle in); every
     * few thousand from a file. */
    bool each = source_is_live(src) || !source_is_regular(src);
    bool live = source_is_live(src);
    bool progress = c->progress && !live;
    struct source_packet sp;
    enum source_status st = SOURCE_END;
    uint64_t limit = c->count > 0 ? c->count : UINT64_MAX;
    while (!*c->stop && !record_failed(c->rec) && c->in.n.packets < limit) {
        st = source_next(src, &sp);
        if (st == SOURCE_TIMEOUT) {
            tick(c, src, false);
            pipeline_flush(c->pl); /* nothing new: what ended goes on to the database */
            continue;
        }
        if (st != SOURCE_PACKET)
            break;
        ingest_frame(&c->in, sp.dlt, sp.ts_us, sp.wirelen, sp.data, sp.caplen);
        if (sp.caplen < sp.wirelen) { /* a file's header may not say the snapshot length its packets had */
            c->snapped++;
            c->snapped_max = sp.caplen > c->snapped_max ? sp.caplen : c->snapped_max;
        }
        if (each || (c->in.n.packets & 0xfff) == 0)
            tick(c, src, progress);
    }
    /* The loop ended before the source did; a file that ends exactly at
     * the --count bound was not cut. */
    if (st == SOURCE_PACKET && !live && !*c->stop && !record_failed(c->rec))
        st = source_next(src, &sp);
    flow_table_input_end(c->in.ft); /* the next file's times are not judged by this one's */
    c->cut |= st != SOURCE_END && (st != SOURCE_ERROR || *c->stop); /* a read a signal broke off is a cut */
    if (progress)
        show_progress(src, c->in.n.packets, true);
    if (live) {
        source_stats(src, &c->live_stats);
        c->live = true;
    }
    if (!*c->stop && !record_failed(c->rec) && st == SOURCE_ERROR) {
        snprintf(msg, msglen, "%s", source_error(src));
        return -1;
    }
    return 0;
}
