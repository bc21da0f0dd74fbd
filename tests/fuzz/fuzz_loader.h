/* fuzz_loader.h - the body the two loader targets share (fuzz_rules.c,
 * fuzz_topology.c): the input becomes `file`, audit_load runs, and then
 * either the loaded audit is exercised, or the load's error must be a
 * NUL-terminated, non-empty message (naming `must_name` when it is set). */
#ifndef LYNCAUDIT_FUZZ_LOADER_H
#define LYNCAUDIT_FUZZ_LOADER_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"

static void fuzz_load(const char *file, const struct audit_paths *p, const uint8_t *data, size_t size,
                      void (*exercise)(struct audit *a, const uint8_t *data, size_t size), const char *must_name)
{
    FILE *f = fopen(file, "wb");
    if (!f)
        abort();
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
    char err[1024];
    memset(err, 'X', sizeof err);
    struct audit *a = audit_load(p, err, sizeof err);
    if (a) {
        exercise(a, data, size);
        audit_free(a);
        return;
    }
    size_t n = strnlen(err, sizeof err);
    if (n == sizeof err || n == 0)
        __builtin_trap();
    if (must_name && !strstr(err, must_name)) {
        fprintf(stderr, "message without the file name: %s\n", err);
        __builtin_trap();
    }
}

#endif
