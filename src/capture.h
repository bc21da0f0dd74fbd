/* capture.h - the read loop: every source to its end, one frame at a time.
 *
 * For each frame source_next() then ingest_frame(); between frames, by the
 * wall clock, the periodic work of a run: write what classify has
 * labelled, commit (every 2 s, files as well as live: no write lock is held
 * longer, and a killed run loses at most that much), statistics, progress,
 * a reload asked for by SIGHUP, the --duration deadline. */
#ifndef LYNCAUDIT_CAPTURE_H
#define LYNCAUDIT_CAPTURE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "eve.h"
#include "ingest.h"
#include "pipeline.h"
#include "record.h"
#include "source.h"
#include "store.h"

struct capture {
    struct ingest in;                /* the frames: counters, flow table */
    struct pipeline *pl;
    struct record *rec;
    volatile sig_atomic_t *stop;     /* a signal asked to stop; the deadline sets it too */
    volatile sig_atomic_t *reload;   /* SIGHUP seen: call on_reload */
    void (*on_reload)(void *ctx);
    void *reload_ctx;
    uint64_t count;                  /* --count: stop after this many frames (0: no bound) */
    long stats_every;                /* --stats seconds (0: none) */
    double deadline;                 /* --duration, on the monotonic clock (0: none) */
    bool progress;                   /* a progress line on stderr (files, on a terminal) */
    struct eve *eve;                 /* a `stats` event with each --stats line, or NULL */
    /* the loop's own */
    bool cut;                        /* a stop or a bound ended a source before its end */
    bool timed_out;                  /* the --duration deadline was reached */
    bool live;                       /* a live source was read: the capture statistics mean something */
    struct source_stats live_stats;  /* as they were at the last commit */
    uint64_t fan_peak_live;          /* fanout.c: the capture threads' flow table peaks, summed */
    bool final_stats;                /* fanout.c: print the statistics line when the capture ends */
    uint64_t snapped;                /* frames this loop read cut short of their wire length */
    uint32_t snapped_max;            /* the longest of those as captured: the snapshot length in effect */
    double started, next_commit, next_stats, next_progress;
};

/* Sets up the periodic work from now; the caller fills the rest. */
void capture_init(struct capture *c);

/* Reads src to its end, a stop, or the --count bound (c->cut says whether
 * one of those came first). 0, or -1 on a damaged file or a failed capture
 * (the reason in msg). */
int capture_source(struct capture *c, struct source *src, char *msg, size_t msglen);

/* record_reader_fn: the reader's counters (frames, decode reasons,
 * capture statistics) into a run's counters. */
void capture_counters(void *capture, struct store_counters *out);

/* The capture statistics line on stderr (--stats, and at the end of a live run). */
void capture_print_stats(struct capture *c, struct source *src);

/* Monotonic seconds. */
double capture_now(void);

#endif
