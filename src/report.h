/* report.h - the end-of-run summary, as text or JSON.
 *
 * Everything per flow comes from the store (what the database holds is what
 * the summary says); the run's own identity, totals and timing come from the
 * caller. JSON is written by jansson (docs/usage.md, "The --json summary"). */
#ifndef LYNCAUDIT_REPORT_H
#define LYNCAUDIT_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "store.h"

struct report_run {
    int64_t run_id;
    const char *db_path;
    const char *status;
    int files;
    struct store_counters counters;
    double seconds;           /* wall-clock time spent reading */
    uint64_t peak_live_flows;
    int audited;              /* a topology was loaded: the verdict lines mean something */
    int roles_declared;       /* roles the topology gives addresses */
    const char *roles_unseen; /* those no flow had an end in, "a, b", or "" */
    /* the run's identity and outcome (JSON) */
    const char *const *sources; /* capture files, or "interface:NAME" */
    int nsources;
    const char *filter, *topology, *topology_name; /* NULL: none */
    uint64_t rules_loaded;
    const char *message;      /* runs.message, or NULL */
    int exit_code;
    const char *error;        /* with exit code 2: what went wrong; else NULL */
};

/* Violations listed in the JSON summary at most (all are in the database). */
#define REPORT_JSON_VIOLATIONS 10000

void report_text(FILE *out, struct store *s, const struct report_run *r);

/* The summary as one JSON object on one line: identity, counters, labels,
 * verdicts, violation counts and the violation list. */
void report_json(FILE *out, struct store *s, const struct report_run *r);

/* Trouble before a run could be summed up (no run row, or it could not be
 * closed): the identity known so far with the error; run_id 0 is null. */
void report_json_trouble(FILE *out, const struct report_run *r);

/* The versions of lyncaudit and the libraries it runs with (nDPI,
 * libpcap, SQLite, Lua) as a new JSON object. */
json_t *report_versions(void);

#endif
