/* run.c - the run's row: open, status rules, close (see run.h). */
#include "run.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "digest.h"


static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One input: a regular file hashed (its absolute path, size, SHA-256), else
 * its name alone. */
static int describe_source(struct run_inputs *in, struct store_source *o, const char *name, char *err,
                           size_t errlen)
{
    struct stat st;
    *o = (struct store_source){name, NULL, -1, NULL};
    if (strcmp(name, "-") == 0 || stat(name, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    char real[PATH_MAX], hex[DIGEST_HEX];
    uint64_t size;
    double t0 = now_seconds();
    if (digest_file(name, &size, hex, err, errlen))
        return -1;
    in->hash_seconds += now_seconds() - t0;
    in->hashed_bytes += size;
    o->path = realpath(name, real) ? strdup(real) : NULL;
    o->sha256 = strdup(hex);
    o->size = (int64_t)size;
    return 0;
}

/* The site exceptions, as the `exceptions` table takes them. */
static int describe_exceptions(struct run_inputs *in, const struct except_set *ex)
{
    in->nexcs = except_count(ex);
    if (!(in->excs = calloc(in->nexcs + 1, sizeof *in->excs)))
        return -1;
    for (size_t i = 0; i < in->nexcs; i++) {
        struct except_info e;
        except_info(ex, i, &e);
        in->excs[i] = (struct store_exception){e.id,        e.change, e.reason, e.from,    e.to,
                                               e.transport, e.dports, e.apps,   e.expires, e.at};
    }
    return 0;
}

int run_describe(struct run_inputs *in, struct store_run *sr, const struct audit *a, const struct except_set *ex,
                 char *const *files, int nfiles, const char *live, const char *label, char *err, size_t errlen)
{
    memset(in, 0, sizeof *in);
    if (describe_exceptions(in, ex)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    sr->exceptions = in->excs;
    sr->nexceptions = in->nexcs;
    in->ndocs = audit_document_count(a);
    in->docs = calloc(in->ndocs + 1, sizeof *in->docs);
    in->srcs = calloc((size_t)nfiles + 1, sizeof *in->srcs);
    if (!in->docs || !in->srcs) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < in->ndocs; i++) {
        const struct audit_document *d = audit_document(a, i);
        in->docs[i] = (struct store_document){d->doc, d->title, d->date, d->asset_id, d->url};
    }
    if (live)
        in->srcs[in->nsrcs++] = (struct store_source){live, NULL, -1, NULL};
    for (int i = 0; i < nfiles; i++)
        if (describe_source(in, &in->srcs[in->nsrcs++], files[i], err, errlen))
            return -1;
    char real[PATH_MAX];
    if (sr->topology && realpath(sr->topology, real) && (in->topology = strdup(real)))
        sr->topology = in->topology;
    sr->label = label;
    sr->topology_sha256 = audit_topology_sha256(a);
    sr->rules_sha256 = audit_rules_sha256(a);
    sr->rules_version = audit_rules_version(a);
    sr->documents = in->docs;
    sr->ndocuments = in->ndocs;
    sr->inputs = in->srcs;
    sr->ninputs = in->nsrcs;
    return 0;
}

void run_inputs_free(struct run_inputs *in)
{
    for (size_t i = 0; in->srcs && i < in->nsrcs; i++) {
        free((char *)in->srcs[i].path);
        free((char *)in->srcs[i].sha256);
    }
    free(in->srcs);
    free(in->docs);
    free(in->excs);
    free(in->topology);
    memset(in, 0, sizeof *in);
}

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
