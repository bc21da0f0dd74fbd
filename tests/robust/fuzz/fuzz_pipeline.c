/* fuzz_pipeline.c - libFuzzer harness (exploration; not in CTest): a
 * sequence of packets through ingest (decode -> flow) -> classify (nDPI and the Lync
 * dissectors, with their per-flow state) -> audit (samples/topology.lua and
 * the shipped rules), as lyncaudit's main loop does, minus libpcap and
 * SQLite. A small live-flow cap (16) and short idle timeouts make eviction
 * and expiry happen inside one input.
 *
 * Input: records of [link index (fuzz_decode's table)][time step, 1/16 s
 * units][length, 2 bytes big-endian][frame], until the input ends.
 * Build: see tests/robust/fuzz/run_pipeline.sh. */
#include <pcap/dlt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "classify.h"
#include "decode.h"
#include "flow.h"
#include "ingest.h"

#ifndef LYNCAUDIT_SOURCE_DIR
#error "build with -DLYNCAUDIT_SOURCE_DIR=\"...\""
#endif

static const int LINKS[] = {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW, DLT_IPV4,
                            DLT_IPV6,   DLT_NULL,      DLT_LOOP,       DLT_NFLOG, 147};
#define NLINKS (sizeof LINKS / sizeof *LINKS)

static struct classify *g_cls;
static struct audit *g_audit;

static void on_end(struct flow *f, void *ctx)
{
    (void)ctx;
    classify_finish(g_cls, f);
    const uint8_t *src, *dst;
    uint16_t sport, dport;
    flow_endpoints(f, &src, &sport, &dst, &dport);
    char abuf[32];
    const char *app = classify_app(g_cls, f, abuf, sizeof abuf);
    if (!app)
        __builtin_trap();
    struct audit_flow af = {src, dst, f->key.ipver, f->key.proto, sport, dport, app, f->label.detail,
                            f->pkts[0] + f->pkts[1], f->bytes[0] + f->bytes[1], f->label.facts};
    struct audit_result ar;
    audit_flow(g_audit, &af, &ar);
    (void)classify_proto_name(g_cls, f->label.ndpi_master);
    (void)classify_proto_name(g_cls, f->label.ndpi_app);
    (void)classify_confidence_name(f);
    if (f->label.detail && strlen(f->label.detail) > 1 << 16)
        __builtin_trap();
    classify_release(f);
}

/* ingest's classify gate: classify on this thread. */
static void gate(void *ctx, struct flow *f, const struct packet *p, int dir)
{
    (void)ctx;
    classify_packet(g_cls, f, p, dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_cls) {
        char err[1024];
        g_cls = classify_new(err, sizeof err);
        struct audit_paths p = {LYNCAUDIT_SOURCE_DIR "/lua", LYNCAUDIT_SOURCE_DIR "/rules",
                                LYNCAUDIT_SOURCE_DIR "/samples/topology.lua"};
        g_audit = audit_load(&p, err, sizeof err);
        if (!g_cls || !g_audit) {
            fprintf(stderr, "setup: %s\n", err);
            abort();
        }
    }
    struct flow_config fc = {.tcp_idle_us = 30000000ull, .udp_idle_us = 12000000ull, .other_idle_us = 6000000ull,
                             .linger_us = 3000000ull, .max_flows = 16};
    struct flow_table *ft = flow_table_new(&fc, on_end, NULL);
    if (!ft)
        return 0;
    struct ingest in;
    ingest_init(&in, ft, NULL, gate, NULL);
    uint64_t ts = 1700000000000000ull;
    size_t off = 0;
    while (off + 4 <= size) {
        int dlt = LINKS[data[off] % NLINKS];
        ts += (uint64_t)data[off + 1] * 62500u;
        size_t len = (size_t)data[off + 2] << 8 | data[off + 3];
        off += 4;
        if (len > size - off)
            len = size - off;
        uint8_t *b = malloc(len ? len : 1); /* exactly the frame: ASan sees a read past it */
        if (!b)
            break;
        memcpy(b, data + off, len);
        off += len;
        ingest_frame(&in, dlt, ts, (uint32_t)len, b, (uint32_t)len);
        free(b);
    }
    flow_table_free(ft);
    return 0;
}
