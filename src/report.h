/* report.h - the end-of-run summary, as text or JSON.
 *
 * Everything per flow comes from the store (what the database holds is what
 * the summary says); the run's own totals and timing come from the caller. */
#ifndef LYNCAUDIT_REPORT_H
#define LYNCAUDIT_REPORT_H

#include <stdint.h>
#include <stdio.h>

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
};

void report_text(FILE *out, struct store *s, const struct report_run *r);
void report_json(FILE *out, struct store *s, const struct report_run *r);

#endif
