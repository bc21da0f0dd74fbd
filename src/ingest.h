/* ingest.h - the one per-packet sequence: a captured frame into the flow table.
 *
 * Everything that reads packets goes through ingest_frame(): the binary's
 * capture loop, the fuzz harness, the bench loop and the classify tests.
 * For each frame: count it, decode it (one counter per reason it could not
 * be), route an ICMP error to the flow it quotes, find or create the flow,
 * hand the packet to the classify gate while the flow's label is
 * undecided, and move the flow table's clock (which ends idle flows). */
#ifndef LYNCAUDIT_INGEST_H
#define LYNCAUDIT_INGEST_H

#include <stdint.h>

#include "decode.h"
#include "flow.h"

/* The reader's counters: every frame is counted once in `packets` and is
 * then a packet of a flow, an ICMP error counted with its flow, or one of
 * the decode reasons (undecodable is their sum). */
struct ingest_counters {
    uint64_t packets, bytes;      /* frames read, and their length on the wire */
    uint64_t undecodable;         /* not_ip + truncated + malformed + bad_link + tunnel_depth */
    uint64_t not_ip;              /* ARP, LLDP, other ethertypes: not a flow */
    uint64_t truncated;           /* headers cut short by the snapshot length or the file */
    uint64_t malformed;           /* impossible header values */
    uint64_t bad_link;            /* a link type decode does not read */
    uint64_t tunnel_depth;        /* more tunnels nested than decode opens */
    uint64_t icmp_errors;         /* ICMP errors counted with the flow they quote */
    uint64_t tunnelled;           /* decoded packets taken out of a tunnel */
};

/* The classify gate: a packet of flow f whose label is not decided yet, and
 * its direction as flow_packet() found it (0: from the initiator). */
typedef void (*ingest_classify_fn)(void *ctx, struct flow *f, const struct packet *p, int dir);

struct ingest {
    struct flow_table *ft;
    struct decode_opts decode;
    ingest_classify_fn classify;
    void *ctx;
    struct ingest_counters n;
};

/* Sets up `in` over the flow table ft (the caller's); o may be NULL. */
void ingest_init(struct ingest *in, struct flow_table *ft, const struct decode_opts *o, ingest_classify_fn classify,
                 void *ctx);

/* One captured frame of link type dlt, at capture time ts_us, wirelen bytes
 * long on the wire of which caplen are in data. Returns what decode found
 * (DECODE_OK for a packet of a flow or a quoted ICMP error). The classify
 * gate runs at most once; the flow table's end callback may run for flows
 * that end (a TCP close, idle flows at the new clock, an eviction). */
enum decode_result ingest_frame(struct ingest *in, int dlt, uint64_t ts_us, uint32_t wirelen, const uint8_t *data,
                                uint32_t caplen);

#endif
