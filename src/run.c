/* run.c - the run's row: open, status rules, close (see run.h). */
#include "run.h"

#include <stdio.h>


int64_t run_open(struct store *s, const struct store_run *sr, const struct audit *a)
{
    struct store_counters zero = {0};
    int64_t id = store_begin(s) == 0 ? store_begin_run(s, sr) : -1;
    if (id < 0 || record_write_rules(s, a) || store_commit(s, &zero))
        return -1;
    return id;
}

const char *run_status(struct run_outcome *o, struct store *s)
{
    if (o->write_failed) {
        snprintf(o->message, sizeof o->message, "%s", store_error(s));
        return "error";
    }
    if (o->damaged)
        return "error";
    if (o->cut && !o->bound) {
        if (!o->message[0])
            snprintf(o->message, sizeof o->message, "stopped by signal");
        return "interrupted";
    }
    if (o->cut) {
        snprintf(o->message, sizeof o->message, "%s reached before the end of the input", o->bound);
        return "stopped";
    }
    return "complete";
}

int run_close(struct store *s, struct record *rec, const struct store_counters *c, const char *status,
              const char *message)
{
    if (record_flush(rec) == 0 && store_end_run(s, c, status, message) == 0)
        return 0;
    store_mark_failed(s, store_error(s));
    return -1;
}

enum run_exit run_exit_code(const struct run_outcome *o, bool closed)
{
    if (o->damaged || o->write_failed || !closed)
        return RUN_EXIT_TROUBLE;
    if (o->violations)
        return RUN_EXIT_VIOLATIONS;
    return o->audited ? RUN_EXIT_COMPLIANT : RUN_EXIT_NOTHING_AUDITED;
}
