/* run.h - a run's row in the database: opened with its rules, closed with
 * its status, and the exit code that goes with it.
 *
 * The status rules in one place: a run is "error" when a write failed or an
 * input was damaged; "interrupted" when a signal stopped the reading before
 * the inputs ended (a signal after the last packet changes nothing);
 * "stopped" when --count or --duration ended it first, with the bound in
 * the message; else "complete": every input was read to its end. */
#ifndef LYNCAUDIT_RUN_H
#define LYNCAUDIT_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "except.h"
#include "record.h"
#include "store.h"

/* The documented exit codes (lyncaudit --help, docs/usage.md). */
enum run_exit {
    RUN_EXIT_COMPLIANT = 0,  /* the run completed and found no violations */
    RUN_EXIT_VIOLATIONS = 1, /* the run found violations */
    RUN_EXIT_TROUBLE = 2,    /* bad arguments or input, a database that cannot be written */
    RUN_EXIT_NOTHING_AUDITED = 3, /* no violations, but no flow was between known roles either: no topology,
                                     none of its addresses seen, or roles = {} */
};

/* What a run records of its inputs (runs.label, the content hashes, the
 * `documents` and `run_sources` tables): made by run_describe, held until
 * the run's row is written, freed by run_inputs_free. */
struct run_inputs {
    struct store_document *docs;
    size_t ndocs;
    struct store_source *srcs;
    size_t nsrcs;
    struct store_exception *excs;
    size_t nexcs;
    char *topology;          /* the topology's absolute path, or NULL */
    uint64_t hashed_bytes;   /* capture bytes hashed, and the time it took */
    double hash_seconds;
};

/* Fills sr's provenance (label, hashes, rule set version, documents, inputs,
 * the site exceptions of ex, which may be NULL)
 * and makes sr->topology absolute. Each regular capture file is hashed
 * (SHA-256) in full before it is read; a pipe, stdin or an interface gets
 * its name only. 0, or -1 with "file: what" in err. */
int run_describe(struct run_inputs *in, struct store_run *sr, const struct audit *a, const struct except_set *ex,
                 char *const *files, int nfiles, const char *live, const char *label, char *err, size_t errlen);
void run_inputs_free(struct run_inputs *in);

/* Starts the run's row and writes its rules, in one transaction: all
 * there, or none. Returns the run id, or -1 (store_error says why). */
int64_t run_open(struct store *s, const struct store_run *sr, const struct audit *a);

/* How a run ended, as its reader saw it. */
struct run_outcome {
    bool write_failed;   /* a database write failed (store_error says why) */
    bool damaged;        /* an input could not be read to its end */
    bool cut;            /* the reading ended before the inputs did */
    const char *bound;   /* what cut it when not a signal: "--count 20" ... (NULL: a signal) */
    uint64_t violations;
    uint64_t audited;    /* flows between known roles (runs.flows_audited) */
    char message[1024];  /* what went wrong, or "" */
};

/* The status the rules above give, and the message for it (filled in o). */
const char *run_status(struct run_outcome *o, struct store *s);

/* Closes the run: rule match counts, role statistics (record_flush), counters, status and
 * end time in one transaction; when that does not fit (a full disk), marks
 * the run ended as "error" in the smallest write there is. Returns 0 when
 * the full close was written, else -1 (store_error says why). */
int run_close(struct store *s, struct record *rec, const struct store_counters *c, const char *status,
              const char *message);

/* The exit code for an outcome and whether the close was written. */
enum run_exit run_exit_code(const struct run_outcome *o, bool closed);

#endif
