/* fuzz_topology.c - libFuzzer target: the topology loader. The input is the
 * text of a topology file; audit_load runs it in the sandbox beside the rule
 * language and the shipped rules (lua/ and rules/ of the source tree, or
 * FUZZ_LUA_DIR / FUZZ_RULES_DIR), and when it loads, a set of flows is
 * audited against it (role look-ups, NAT, nat_devices, options).
 * A failed load must say why in a NUL-terminated message; with
 * FUZZ_STRICT_MESSAGES=1 the message must also name the file. */
#include <arpa/inet.h>
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

static char g_lua[4096], g_rules[4096], g_topo[4096];
static int g_strict;

static void setup(void)
{
    static char tmp[] = "/tmp/fuzz_topology.XXXXXX";
    if (!mkdtemp(tmp))
        abort();
    const char *e;
    snprintf(g_lua, sizeof g_lua, "%s", (e = getenv("FUZZ_LUA_DIR")) ? e : LYNCAUDIT_SOURCE_DIR "/lua");
    snprintf(g_rules, sizeof g_rules, "%s", (e = getenv("FUZZ_RULES_DIR")) ? e : LYNCAUDIT_SOURCE_DIR "/rules");
    snprintf(g_topo, sizeof g_topo, "%s/topo.lua", tmp);
    g_strict = (e = getenv("FUZZ_STRICT_MESSAGES")) && *e == '1';
}

/* Addresses the seeds use, and a few others, v4 and v6. */
static const char *const ADDRS[] = {"10.0.1.10", "10.45.16.10", "131.107.155.30", "10.45.16.1", "10.1.2.3",
                                    "127.20.1.10", "127.20.3.10", "127.20.9.1", "127.20.10.5", "192.0.2.1",
                                    "0.0.0.0", "255.255.255.255", "2001:db8:10::1", "::1", "fe80::1", "::"};
#define NADDRS (sizeof ADDRS / sizeof *ADDRS)
static const uint16_t PORTS[] = {443, 3478, 5061, 5062, 8057, 23456, 50000, 55000, 0, 65535};
static const uint8_t PROTOS[] = {6, 17, 50, 51, 1};
static const char *const APPS[] = {"tls", "sip", "msturn", "rtp", "ike", "unknown"};

static void audit_some(struct audit *a, const uint8_t *data, size_t size)
{
    uint8_t addr[NADDRS][16];
    int ver[NADDRS];
    for (size_t i = 0; i < NADDRS; i++) {
        memset(addr[i], 0, 16);
        ver[i] = inet_pton(AF_INET, ADDRS[i], addr[i]) == 1 ? 4 : 6;
        if (ver[i] == 6 && inet_pton(AF_INET6, ADDRS[i], addr[i]) != 1)
            abort();
    }
    /* The pairs are chosen by the input's bytes, so the fuzzer can steer them. */
    for (size_t k = 0; k < 24; k++) {
        uint8_t x = size ? data[(k * 7) % size] : 0, y = size ? data[(k * 13 + 1) % size] : 0;
        size_t s = (k + x) % NADDRS, d = (k * 3 + y) % NADDRS;
        if (ver[s] != ver[d])
            d = s;
        struct audit_flow f = {addr[s], addr[d], ver[s], PROTOS[(x ^ k) % 5], PORTS[(y + k) % 10],
                               PORTS[(x + k) % 10], APPS[(x + y + k) % 6], "ndpi=x", 3, 300,
                               (uint8_t)((x ^ y ^ k) & 3)};
        struct audit_result r;
        audit_flow(a, &f, &r);
        if (!r.verdict || !r.src_role || !r.dst_role || !r.app || r.nviolations < 0 ||
            r.nviolations > AUDIT_MAX_VIOLATIONS)
            __builtin_trap();
        for (int i = 0; i < r.nviolations; i++)
            if (!r.v[i].kind || !r.v[i].severity || strnlen(r.v[i].message, sizeof r.v[i].message) ==
                                                             sizeof r.v[i].message)
                __builtin_trap();
    }
    for (size_t i = 0; i < audit_rule_count(a); i++) {
        struct audit_rule_info ri;
        audit_rule_info(a, i, &ri);
        if (!ri.id || !ri.kind)
            __builtin_trap();
    }
    (void)audit_topology_name(a);
    (void)audit_topology_path(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_topo[0])
        setup();
    struct audit_paths p = {g_lua, g_rules, g_topo};
    fuzz_load(g_topo, &p, data, size, audit_some, g_strict ? "topo.lua" : NULL);
    return 0;
}
