/* fuzz_import.c - libFuzzer target: the topology import (src/topo_import.c).
 * The input is an XML document; an import that fails must say why in a
 * NUL-terminated message naming the file; one that succeeds must give a
 * topology that lyncaudit loads at once (audit_load with the shipped rule
 * language and rules), as `lyncaudit topology import` promises. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "topo_import.h"

#ifndef LYNCAUDIT_SOURCE_DIR
#error "build with -DLYNCAUDIT_SOURCE_DIR=\"...\""
#endif

static char g_dir[64], g_xml[128], g_lua[128];
static FILE *g_null;

static int write_all(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = fwrite(data, 1, size, f);
    return fclose(f) == 0 && n == size ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_dir[0]) {
        snprintf(g_dir, sizeof g_dir, "/tmp/fuzz_import.XXXXXX");
        if (!mkdtemp(g_dir) || !(g_null = fopen("/dev/null", "w")))
            abort();
        snprintf(g_xml, sizeof g_xml, "%s/topo.xml", g_dir);
        snprintf(g_lua, sizeof g_lua, "%s/topo.lua", g_dir);
    }
    if (write_all(g_xml, data, size))
        abort();
    struct topo_import_opts o = {NULL, false, g_null};
    char err[1024], *text = NULL;
    memset(err, 'x', sizeof err);
    if (topo_import(g_xml, &o, &text, err, sizeof err)) {
        if (text || !memchr(err, '\0', sizeof err) || strncmp(err, g_xml, strlen(g_xml)))
            __builtin_trap();
        return 0;
    }
    if (!text || write_all(g_lua, text, strlen(text)))
        __builtin_trap();
    free(text);
    struct audit_paths p = {LYNCAUDIT_SOURCE_DIR "/lua", LYNCAUDIT_SOURCE_DIR "/rules", g_lua};
    struct audit *a = audit_load(&p, err, sizeof err);
    if (!a) {
        fprintf(stderr, "an imported topology does not load: %s\n", err);
        __builtin_trap();
    }
    audit_free(a);
    return 0;
}
