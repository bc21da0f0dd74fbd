/* fuzz_decode.c - libFuzzer target: decode_packet on every supported link
 * type. The first input byte picks the link type (the table below, plus one
 * that decode does not support); the rest is the captured frame, copied into
 * a buffer of exactly its size so that ASan sees a read one byte past it.
 * Beyond "no crash", it checks decode's promises: everything it points to
 * lies inside the frame, and it never reports more payload than was
 * captured. When the first byte's top bit is set, the next two are a
 * --vxlan-port (the tunnel decoders on another port). */
#include <pcap/dlt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

static const int LINKS[] = {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW, DLT_IPV4,
                            DLT_IPV6,   DLT_NULL,      DLT_LOOP,       DLT_NFLOG, 147 /* unsupported */};
#define NLINKS (sizeof LINKS / sizeof *LINKS)

static int inside(const uint8_t *p, size_t len, const uint8_t *b, size_t size)
{
    return p >= b && p <= b + size && len <= (size_t)(b + size - p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int dlt = LINKS[(data[0] & 0x7f) % NLINKS];
    struct decode_opts o = {0};
    if ((data[0] & 0x80) && size >= 3) {
        o.vxlan_port = (uint16_t)(data[1] << 8 | data[2]);
        data += 2;
        size -= 2;
    }
    size--;
    uint8_t *b = malloc(size ? size : 1);
    if (!b)
        return 0;
    memcpy(b, data + 1, size);
    struct packet pkt;
    memset(&pkt, 0xA5, sizeof pkt); /* decode must set what it reports */
    pkt.ts_us = 1;
    pkt.wirelen = (uint32_t)size;
    enum decode_result r = decode_packet_opts(&o, dlt, b, (uint32_t)size, &pkt);
    if (r != DECODE_OK && r != DECODE_NOT_IP && r != DECODE_TRUNCATED && r != DECODE_MALFORMED &&
        r != DECODE_BAD_LINK && r != DECODE_TUNNEL_DEPTH)
        __builtin_trap();
    if (decode_link_supported(dlt) != (r != DECODE_BAD_LINK))
        __builtin_trap();
    (void)decode_result_name(r);
    if (r == DECODE_OK) {
        if (pkt.ipver != 4 && pkt.ipver != 6)
            __builtin_trap();
        if (pkt.tunnel > TUNNEL_GENEVE || !decode_tunnel_name(pkt.tunnel) != (pkt.tunnel == TUNNEL_NONE))
            __builtin_trap();
        if (pkt.tunnel && pkt.tun_ipver != 4 && pkt.tun_ipver != 6)
            __builtin_trap();
        if (pkt.vlan[0] > 0xfff || pkt.vlan[1] > 0xfff)
            __builtin_trap();
        if (!pkt.l3 || !inside(pkt.l3, pkt.l3len, b, size))
            __builtin_trap();
        if (pkt.payload_len && (!pkt.payload || !inside(pkt.payload, pkt.payload_len, b, size)))
            __builtin_trap();
        if (!pkt.fragment && (pkt.proto == 6 || pkt.proto == 17) && pkt.payload && pkt.payload < pkt.l3)
            __builtin_trap();
        /* Touch every byte decode hands on: ASan checks them. */
        volatile uint8_t sink = 0;
        for (uint32_t i = 0; i < pkt.l3len; i++)
            sink ^= pkt.l3[i];
        for (uint32_t i = 0; i < pkt.payload_len; i++)
            sink ^= pkt.payload[i];
        (void)sink;
    }
    free(b);
    return 0;
}
