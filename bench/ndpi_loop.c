/* ndpi_loop.c - the floor of any single-threaded nDPI reader, for bench/run.sh.
 *
 * libpcap reads the capture, lyncaudit's own per-packet sequence (ingest.c:
 * decode and flow table, the same code as lyncaudit) finds each packet's
 * flow, and nDPI 4.2 is fed exactly as
 * lyncaudit and ndpiReader feed it: every packet of a flow until nDPI has a
 * protocol and wants no extra packets, or 80 TCP / 24 other packets, then
 * giveup; its state is freed at the decision. Nothing else: no Lync
 * dissectors, no audit, no database. What lyncaudit spends beyond this is
 * the cost of everything it adds to nDPI.
 *
 *   ndpi_loop FILE      prints: packets flows seconds */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ndpi_api.h>
#include <pcap/pcap.h>

#include "decode.h"
#include "flow.h"
#include "ingest.h"

static struct ndpi_detection_module_struct *g_mod;

static void decide(struct flow *f)
{
    if (f->label.dpi) {
        ndpi_flow_free(f->label.dpi);
        f->label.dpi = NULL;
    }
    f->label.done = true;
}

static void on_end(struct flow *f, void *ctx)
{
    (void)ctx;
    struct ndpi_flow_struct *nf = f->label.dpi;
    if (nf && !f->label.done) {
        uint8_t guessed = 0;
        ndpi_protocol r = ndpi_detection_giveup(g_mod, nf, 1, &guessed);
        f->label.ndpi_app = r.app_protocol;
    }
    decide(f);
}

/* ingest's classify gate: nDPI alone, fed as lyncaudit feeds it. */
static void feed(void *ctx, struct flow *f, const struct packet *pkt, int dir)
{
    (void)ctx;
    (void)dir;
    struct ndpi_flow_struct *nf = f->label.dpi;
    if (!nf) {
        nf = f->label.dpi = ndpi_flow_malloc(SIZEOF_FLOW_STRUCT);
        memset(nf, 0, SIZEOF_FLOW_STRUCT);
    }
    ndpi_protocol r = ndpi_detection_process_packet(g_mod, nf, pkt->l3, pkt->l3len, pkt->ts_us / 1000);
    bool known = r.app_protocol != NDPI_PROTOCOL_UNKNOWN || r.master_protocol != NDPI_PROTOCOL_UNKNOWN;
    if (known && !ndpi_extra_dissection_possible(g_mod, nf))
        decide(f);
    else if (++f->label.fed >= (f->key.proto == IPPROTO_TCP ? 80 : 24))
        on_end(f, NULL);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: ndpi_loop FILE\n");
        return 2;
    }
    double t0 = now();
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(argv[1], errbuf);
    if (!p) {
        fprintf(stderr, "ndpi_loop: %s\n", errbuf);
        return 2;
    }
    g_mod = ndpi_init_detection_module(ndpi_no_prefs);
    NDPI_PROTOCOL_BITMASK all;
    NDPI_BITMASK_SET_ALL(all);
    ndpi_set_protocol_detection_bitmask2(g_mod, &all);
    ndpi_finalize_initialization(g_mod);
    struct flow_config fc = {300000000ull, 120000000ull, 60000000ull, 30000000ull, 0, false, false};
    struct flow_table *ft = flow_table_new(&fc, on_end, NULL);
    struct ingest in;
    ingest_init(&in, ft, NULL, feed, NULL);
    int dlt = pcap_datalink(p);
    struct pcap_pkthdr *h;
    const uint8_t *data;
    while (pcap_next_ex(p, &h, &data) == 1)
        ingest_frame(&in, dlt, (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec, h->len, data,
                     h->caplen);
    unsigned long long packets = in.n.packets;
    unsigned long long flows = flow_table_stats(ft)->created;
    flow_table_free(ft);
    ndpi_exit_detection_module(g_mod);
    pcap_close(p);
    printf("%llu %llu %.3f\n", packets, flows, now() - t0);
    return 0;
}
