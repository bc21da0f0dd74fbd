/* ingest.c - the one per-packet sequence (see ingest.h). */
#include "ingest.h"

#include <string.h>

#include "classify.h"

void ingest_init(struct ingest *in, struct flow_table *ft, const struct decode_opts *o, ingest_classify_fn classify,
                 void *ctx)
{
    memset(in, 0, sizeof *in);
    in->ft = ft;
    if (o)
        in->decode = *o;
    in->classify = classify;
    in->ctx = ctx;
}

/* Counts a frame decode could not make a flow packet of, by its reason. */
static void count_undecodable(struct ingest_counters *n, enum decode_result r)
{
    n->undecodable++;
    switch (r) {
    case DECODE_NOT_IP: n->not_ip++; break;
    case DECODE_TRUNCATED: n->truncated++; break;
    case DECODE_MALFORMED: n->malformed++; break;
    case DECODE_BAD_LINK: n->bad_link++; break;
    case DECODE_TUNNEL_DEPTH: n->tunnel_depth++; break;
    case DECODE_OK: break;
    }
}

enum decode_result ingest_frame(struct ingest *in, int dlt, uint64_t ts_us, uint32_t wirelen, const uint8_t *data,
                                uint32_t caplen)
{
    struct packet pkt;
    pkt.ts_us = ts_us;
    pkt.wirelen = wirelen;
    in->n.packets++;
    in->n.bytes += wirelen;
    enum decode_result r = decode_packet_opts(&in->decode, dlt, data, caplen, &pkt);
    if (r != DECODE_OK) {
        count_undecodable(&in->n, r);
    } else if (pkt.icmp_error && flow_icmp_error(in->ft, &pkt)) {
        in->n.icmp_errors++;
    } else {
        in->n.tunnelled += pkt.tunnel != TUNNEL_NONE;
        int dir;
        bool is_new;
        struct flow *f = flow_packet(in->ft, &pkt, &dir, &is_new);
        if (f && !classify_decided(f))
            in->classify(in->ctx, f, &pkt, dir);
    }
    flow_table_expire(in->ft, ts_us);
    return r;
}
