/* fuzz_rules.c - libFuzzer target: the rule loader. The input is one rule
 * file, loaded alone (fuzz.lua in a folder of its own: the shipped rules
 * would cost a tenth of a second per run) with the rule language of the
 * source tree and a fixed topology that gives every role an address. When
 * the rules load, flows between the roles are audited, so a rule's Lua
 * `check` runs too, under its instruction limit. With FUZZ_WITH_SHIPPED=1
 * the shipped rules/ are loaded beside it (links to them in the folder). */
#include <arpa/inet.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "fuzz_loader.h"

#ifndef LYNCAUDIT_SOURCE_DIR
#error "build with -DLYNCAUDIT_SOURCE_DIR=\"...\""
#endif

static char g_lua[4096], g_rules[4096], g_file[4200], g_topo[4200];

static void setup(void)
{
    static char tmp[] = "/tmp/fuzz_rules.XXXXXX";
    if (!mkdtemp(tmp))
        abort();
    const char *e = getenv("FUZZ_LUA_DIR");
    snprintf(g_lua, sizeof g_lua, "%s", e ? e : LYNCAUDIT_SOURCE_DIR "/lua");
    snprintf(g_rules, sizeof g_rules, "%s/rules", tmp);
    snprintf(g_file, sizeof g_file, "%s/zz_fuzz.lua", g_rules);
    snprintf(g_topo, sizeof g_topo, "%s/topology.lua", tmp);
    char cmd[8400];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", g_rules);
    if (system(cmd) != 0)
        abort();
    if ((e = getenv("FUZZ_WITH_SHIPPED")) && *e == '1') {
        snprintf(cmd, sizeof cmd, "ln -s '%s'/rules/*.lua '%s'/", LYNCAUDIT_SOURCE_DIR, g_rules);
        if (system(cmd) != 0)
            abort();
    }
    /* Role i at 10.0.i+1.1 (and 2001:db8::i+1), client_media_ports narrow;
     * the role names are the rule language's (the shipped rules loaded once). */
    char err[1024];
    struct audit_paths vp = {g_lua, LYNCAUDIT_SOURCE_DIR "/rules", NULL};
    struct audit *vocab = audit_load(&vp, err, sizeof err);
    FILE *f = fopen(g_topo, "w");
    if (!f || !vocab)
        abort();
    fprintf(f, "return { name = \"fuzz\", roles = {\n");
    for (int i = 0; i < audit_role_count(vocab); i++)
        fprintf(f, "  %s = { \"10.0.%d.1\", \"2001:db8::%x\" },\n", audit_role_name(vocab, i), i + 1, i + 1);
    audit_free(vocab);
    fprintf(f, "}, nat = { [\"131.107.155.30\"] = \"10.0.9.1\" }, nat_devices = { \"10.0.99.1\" },\n"
               "options = { client_media_ports = { 50000, 50999 }, xmpp_federation = true } }\n");
    fclose(f);
}

static const uint16_t PORTS[] = {443, 3478, 5061, 5062, 8057, 23456, 50000, 55000, 1, 65535};
static const uint8_t PROTOS[] = {6, 17, 50, 51};
static const char *const APPS[] = {"tls", "sip", "msturn", "rtp", "ike", "unknown", "sip_tls", "psom"};

static void audit_some(struct audit *a, const uint8_t *data, size_t size)
{
    int nroles = audit_role_count(a) + 1; /* + an address in no role */
    for (size_t k = 0; k < 24; k++) {
        uint8_t x = size ? data[(k * 7) % size] : 0, y = size ? data[(k * 13 + 1) % size] : 0;
        int s = (int)((k + x) % (size_t)nroles), d = (int)((k * 3 + y) % (size_t)nroles);
        uint8_t src[16] = {0}, dst[16] = {0};
        int v6 = (x ^ y) & 1;
        if (v6) {
            src[0] = 0x20, src[1] = 0x01, src[2] = 0x0d, src[3] = 0xb8, src[15] = (uint8_t)(s + 1);
            dst[0] = 0x20, dst[1] = 0x01, dst[2] = 0x0d, dst[3] = 0xb8, dst[15] = (uint8_t)(d + 1);
        } else {
            src[0] = dst[0] = 10, src[2] = (uint8_t)(s + 1), dst[2] = (uint8_t)(d + 1), src[3] = dst[3] = 1;
        }
        struct audit_flow f = {src, dst, v6 ? 6 : 4, PROTOS[(x ^ k) % 4], PORTS[(y + k) % 10], PORTS[(x + k) % 10],
                               APPS[(x + y + k) % 8], "ndpi=x", 3, 300, (uint8_t)((x ^ y ^ k) & 3)};
        struct audit_result r;
        audit_flow(a, &f, &r);
        if (!r.verdict || !r.src_role || !r.dst_role || !r.app || r.nviolations < 0 ||
            r.nviolations > AUDIT_MAX_VIOLATIONS)
            __builtin_trap();
    }
    for (size_t i = 0; i < audit_rule_count(a); i++) {
        struct audit_rule_info ri;
        audit_rule_info(a, i, &ri);
        if (!ri.id || !ri.kind || !ri.severity)
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_file[0])
        setup();
    struct audit_paths p = {g_lua, g_rules, g_topo};
    fuzz_load(g_file, &p, data, size, audit_some, NULL);
    return 0;
}
