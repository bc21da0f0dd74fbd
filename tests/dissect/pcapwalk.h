/* pcapwalk.h - the dissector tests' source of real bytes: every decoded
 * packet of a shared capture, handed to a callback. */
#ifndef LYNCAUDIT_TEST_PCAPWALK_H
#define LYNCAUDIT_TEST_PCAPWALK_H

#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>

#include "cursor.h"
#include "decode.h"

typedef void (*walk_fn)(const struct packet *p, unsigned idx, void *ctx);

/* Calls fn for every packet decode_packet reads from dir/name (idx counts
 * all records from 1, as tshark's frame.number). Returns the number of
 * records, or -1 when the capture cannot be read. */
static int walk_pcap(const char *dir, const char *name, walk_fn fn, void *ctx)
{
    char path[1024], err[PCAP_ERRBUF_SIZE];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    pcap_t *pc = pcap_open_offline(path, err);
    if (!pc) {
        fprintf(stderr, "cannot read %s: %s\n", path, err);
        return -1;
    }
    int dlt = pcap_datalink(pc);
    struct pcap_pkthdr *h;
    const u_char *data;
    unsigned idx = 0;
    while (pcap_next_ex(pc, &h, &data) == 1) {
        idx++;
        struct packet p;
        memset(&p, 0, sizeof p);
        p.ts_us = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
        p.wirelen = h->len;
        if (decode_packet(dlt, data, h->caplen, &p) == DECODE_OK)
            fn(&p, idx, ctx);
    }
    pcap_close(pc);
    return (int)idx;
}

static inline struct cursor payload_cursor(const struct packet *p)
{
    return cur_make(p->payload, p->payload_len);
}

static inline int has_port(const struct packet *p, unsigned port)
{
    return p->sport == port || p->dport == port;
}

#endif
