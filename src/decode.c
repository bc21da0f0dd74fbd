/* decode.c - link, network and transport header decoding (see decode.h). */
#include "decode.h"

#include <pcap/dlt.h>
#include <string.h>

#include "cursor.h"

#define ETH_IPV4 0x0800
#define ETH_IPV6 0x86DD
#define ETH_VLAN 0x8100
#define ETH_QINQ 0x88A8
#define ETH_QINQ_OLD 0x9100
#define ETH_MPLS 0x8847
#define ETH_MPLS_MC 0x8848
#define ETH_PPPOE 0x8864

#define MAX_VLAN_TAGS 8
#define MAX_MPLS_LABELS 8
#define MAX_IPV6_EXT 16
#define MAX_TUNNEL_DEPTH 3

static enum decode_result decode_ip(struct cursor c, struct packet *pkt, int depth);

/* The packet an ICMP error quotes: its addresses, protocol and ports (the
 * first 8 bytes of its transport header are all an error must carry). */
static void decode_quoted(struct cursor q, struct packet *pkt)
{
    uint8_t v = cur_peek_u8(&q, 0) >> 4;
    size_t off;
    uint8_t proto;
    memset(pkt->q_src, 0, 16);
    memset(pkt->q_dst, 0, 16);
    if (v == 4 && q.len >= 20) {
        off = (size_t)(cur_peek_u8(&q, 0) & 0x0f) * 4;
        proto = cur_peek_u8(&q, 9);
        if (off < 20 || (cur_peek_be16(&q, 6) & 0x1fff) != 0)
            return; /* a non-first fragment quotes no ports */
        memcpy(pkt->q_src, q.p + 12, 4);
        memcpy(pkt->q_dst, q.p + 16, 4);
    } else if (v == 6 && q.len >= 40) {
        off = 40;
        proto = cur_peek_u8(&q, 6);
        memcpy(pkt->q_src, q.p + 8, 16);
        memcpy(pkt->q_dst, q.p + 24, 16);
    } else {
        return;
    }
    if ((v == 4) != (pkt->ipver == 4))
        return; /* a tunnel's inner error: keep it simple, count it as ICMP */
    pkt->q_proto = proto;
    pkt->q_sport = pkt->q_dport = 0;
    if (proto == 6 || proto == 17 || proto == 132 || proto == 136) {
        if (q.len < off + 4)
            return;
        pkt->q_sport = cur_peek_be16(&q, off);
        pkt->q_dport = cur_peek_be16(&q, off + 2);
    }
    pkt->icmp_error = true;
}

/* Transport header: ports, flags and payload. c covers the IP payload. */
static enum decode_result decode_transport(struct cursor c, struct packet *pkt)
{
    pkt->payload = c.p;
    pkt->payload_len = (uint32_t)c.len;
    if (pkt->fragment)
        return DECODE_OK;
    switch (pkt->proto) {
    case 6: { /* TCP */
        if (c.len < 20)
            return DECODE_TRUNCATED;
        pkt->sport = cur_peek_be16(&c, 0);
        pkt->dport = cur_peek_be16(&c, 2);
        size_t off = (size_t)(cur_peek_u8(&c, 12) >> 4) * 4;
        pkt->tcp_flags = cur_peek_u8(&c, 13);
        if (off < 20)
            return DECODE_MALFORMED;
        if (off > c.len)
            off = c.len; /* options cut by the snaplen: no payload */
        pkt->payload = c.p + off;
        pkt->payload_len = (uint32_t)(c.len - off);
        return DECODE_OK;
    }
    case 17:  /* UDP */
    case 136: /* UDP-Lite */
    case 132: /* SCTP: ports in the same place */
        if (c.len < 8)
            return DECODE_TRUNCATED;
        pkt->sport = cur_peek_be16(&c, 0);
        pkt->dport = cur_peek_be16(&c, 2);
        if (pkt->proto == 17) {
            uint16_t ulen = cur_peek_be16(&c, 4);
            size_t plen = c.len - 8;
            if (ulen >= 8 && (size_t)(ulen - 8) < plen)
                plen = ulen - 8; /* trailing bytes beyond the UDP length */
            pkt->payload = c.p + 8;
            pkt->payload_len = (uint32_t)plen;
        } else {
            pkt->payload = c.p + (pkt->proto == 132 ? 12 : 8);
            pkt->payload_len = c.len > (pkt->proto == 132 ? 12u : 8u)
                                   ? (uint32_t)(c.len - (pkt->proto == 132 ? 12 : 8))
                                   : 0;
        }
        return DECODE_OK;
    case 1:  /* ICMP: destination unreachable, source quench, time exceeded, parameter problem */
    case 58: { /* ICMPv6: destination unreachable, packet too big, time exceeded, parameter problem */
        uint8_t type = cur_peek_u8(&c, 0);
        bool err = pkt->proto == 1 ? (type == 3 || type == 4 || type == 11 || type == 12)
                                   : (type >= 1 && type <= 4);
        if (err && c.len > 8)
            decode_quoted(cur_make(c.p + 8, c.len - 8), pkt);
        return DECODE_OK;
    }
    default:
        return DECODE_OK; /* ESP, AH, GRE ...: a flow without ports */
    }
}

/* The IPv4 header's addresses and protocol into pkt (ports cleared). */
static void set_ipv4(struct packet *pkt, const uint8_t *hdr, size_t have, uint8_t proto)
{
    pkt->ipver = 4;
    pkt->l3 = hdr;
    pkt->l3len = (uint16_t)have;
    pkt->proto = proto;
    memset(pkt->src, 0, sizeof pkt->src);
    memset(pkt->dst, 0, sizeof pkt->dst);
    memcpy(pkt->src, hdr + 12, 4);
    memcpy(pkt->dst, hdr + 16, 4);
    pkt->sport = pkt->dport = 0;
    pkt->tcp_flags = 0;
}

static enum decode_result decode_ipv4(struct cursor c, struct packet *pkt, int depth)
{
    if (c.len < 20)
        return DECODE_TRUNCATED;
    uint8_t vihl = cur_peek_u8(&c, 0);
    if ((vihl >> 4) != 4)
        return DECODE_MALFORMED;
    size_t ihl = (size_t)(vihl & 0x0f) * 4;
    size_t total = cur_peek_be16(&c, 2);
    if (ihl < 20 || total < ihl)
        return DECODE_MALFORMED;
    if (c.len < ihl)
        return DECODE_TRUNCATED;
    size_t have = c.len < total ? c.len : total; /* drop Ethernet padding */
    uint16_t frag = cur_peek_be16(&c, 6);
    uint8_t proto = cur_peek_u8(&c, 9);

    set_ipv4(pkt, c.p, have, proto);
    pkt->fragment = (frag & 0x1fff) != 0;
    pkt->frag_first = (frag & 0x3fff) == 0x2000;
    pkt->frag_id = cur_peek_be16(&c, 4);

    struct cursor inner = cur_make(c.p + ihl, have - ihl);
    if (!pkt->fragment && (proto == 4 || proto == 41) && depth < MAX_TUNNEL_DEPTH) {
        enum decode_result r = decode_ip(inner, pkt, depth + 1);
        if (r == DECODE_OK)
            return r;
        set_ipv4(pkt, c.p, have, proto); /* an unreadable inner header: keep the outer flow */
        pkt->fragment = false;
    }
    return decode_transport(inner, pkt);
}

/* IPv6 extension headers that carry another header after them. */
static bool ipv6_is_ext(uint8_t nh)
{
    return nh == 0 || nh == 43 || nh == 60 || nh == 135 || nh == 139 || nh == 140;
}

static enum decode_result decode_ipv6(struct cursor c, struct packet *pkt, int depth)
{
    if (c.len < 40)
        return DECODE_TRUNCATED;
    if ((cur_peek_u8(&c, 0) >> 4) != 6)
        return DECODE_MALFORMED;
    size_t plen = cur_peek_be16(&c, 4);
    size_t have = c.len - 40 < plen ? c.len : 40 + plen;
    if (plen == 0)
        have = c.len; /* jumbogram or zero: take what was captured */
    if (have > 65535)
        have = 65535;

    pkt->ipver = 6;
    pkt->l3 = c.p;
    pkt->l3len = (uint16_t)have;
    memcpy(pkt->src, c.p + 8, 16);
    memcpy(pkt->dst, c.p + 24, 16);
    pkt->fragment = false;
    pkt->frag_id = 0;

    uint8_t nh = cur_peek_u8(&c, 6);
    struct cursor e = cur_make(c.p + 40, have - 40);
    for (int i = 0; i < MAX_IPV6_EXT; i++) {
        if (ipv6_is_ext(nh)) {
            if (e.len < 8)
                return DECODE_TRUNCATED;
            uint8_t next = cur_peek_u8(&e, 0);
            size_t len = ((size_t)cur_peek_u8(&e, 1) + 1) * 8;
            if (!cur_skip(&e, len))
                return DECODE_TRUNCATED;
            nh = next;
        } else if (nh == 44) { /* fragment header */
            if (e.len < 8)
                return DECODE_TRUNCATED;
            uint8_t next = cur_peek_u8(&e, 0);
            uint16_t off = cur_peek_be16(&e, 2);
            pkt->frag_id = cur_peek_be32(&e, 4);
            cur_skip(&e, 8);
            nh = next;
            if ((off & 0xfff8) != 0) {
                pkt->fragment = true;
                break;
            }
            pkt->frag_first = (off & 1) != 0;
        } else {
            break;
        }
    }
    pkt->proto = nh;
    if (!pkt->fragment && (nh == 4 || nh == 41) && depth < MAX_TUNNEL_DEPTH) {
        uint8_t src[16], dst[16];
        memcpy(src, pkt->src, 16);
        memcpy(dst, pkt->dst, 16);
        const uint8_t *l3 = pkt->l3;
        uint16_t l3len = pkt->l3len;
        if (decode_ip(e, pkt, depth + 1) == DECODE_OK)
            return DECODE_OK;
        pkt->ipver = 6;
        pkt->l3 = l3;
        pkt->l3len = l3len;
        pkt->proto = nh;
        memcpy(pkt->src, src, 16);
        memcpy(pkt->dst, dst, 16);
        pkt->sport = pkt->dport = 0;
        pkt->tcp_flags = 0;
    }
    return decode_transport(e, pkt);
}

static enum decode_result decode_ip(struct cursor c, struct packet *pkt, int depth)
{
    switch (cur_peek_u8(&c, 0) >> 4) {
    case 4:
        return decode_ipv4(c, pkt, depth);
    case 6:
        return decode_ipv6(c, pkt, depth);
    default:
        return c.len == 0 ? DECODE_TRUNCATED : DECODE_NOT_IP;
    }
}

static enum decode_result decode_ethertype(uint16_t type, struct cursor c, struct packet *pkt)
{
    for (int i = 0; i < MAX_VLAN_TAGS && (type == ETH_VLAN || type == ETH_QINQ || type == ETH_QINQ_OLD); i++) {
        if (!cur_skip(&c, 2))
            return DECODE_TRUNCATED;
        type = cur_be16(&c);
        if (c.bad)
            return DECODE_TRUNCATED;
    }
    if (type == ETH_MPLS || type == ETH_MPLS_MC) {
        for (int i = 0; i < MAX_MPLS_LABELS; i++) {
            uint32_t label = cur_be32(&c);
            if (c.bad)
                return DECODE_TRUNCATED;
            if (label & 0x100) /* bottom of stack: guess IP from the version nibble */
                return decode_ip(c, pkt, 0);
        }
        return DECODE_MALFORMED;
    }
    if (type == ETH_PPPOE) {
        if (!cur_skip(&c, 6))
            return DECODE_TRUNCATED;
        uint16_t ppp = cur_be16(&c);
        if (c.bad)
            return DECODE_TRUNCATED;
        if (ppp == 0x0021 || ppp == 0x0057)
            return decode_ip(c, pkt, 0);
        return DECODE_NOT_IP;
    }
    if (type == ETH_IPV4 || type == ETH_IPV6) {
        if (c.len == 0)
            return DECODE_TRUNCATED;
        enum decode_result r = decode_ip(c, pkt, 0);
        return r == DECODE_NOT_IP ? DECODE_MALFORMED : r;
    }
    return DECODE_NOT_IP;
}

/* NFLOG (DLT 239): a 4-byte header, then TLVs with little-endian lengths;
 * TLV type 9 (NFULA_PAYLOAD) holds the IP packet. */
static enum decode_result decode_nflog(struct cursor c, struct packet *pkt)
{
    uint8_t family = cur_u8(&c);
    if (!cur_skip(&c, 3))
        return DECODE_TRUNCATED;
    for (int i = 0; i < 64 && c.len >= 4; i++) {
        uint16_t tlen = cur_le16(&c);
        uint16_t ttype = cur_le16(&c);
        if (tlen < 4)
            return DECODE_MALFORMED;
        size_t body = tlen - 4;
        if ((ttype & 0x7fff) == 9) {
            if (family != 2 && family != 10)
                return DECODE_NOT_IP;
            return decode_ip(cur_make(c.p, body <= c.len ? body : c.len), pkt, 0);
        }
        size_t padded = (body + 3) & ~(size_t)3;
        if (!cur_skip(&c, padded <= c.len ? padded : c.len))
            return DECODE_TRUNCATED;
    }
    return DECODE_NOT_IP;
}

bool decode_link_supported(int dlt)
{
    switch (dlt) {
    case DLT_EN10MB:
    case DLT_LINUX_SLL:
    case DLT_LINUX_SLL2:
    case DLT_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
    case DLT_NULL:
    case DLT_LOOP:
    case DLT_NFLOG:
        return true;
    default:
        return false;
    }
}

enum decode_result decode_packet(int dlt, const uint8_t *data, uint32_t caplen, struct packet *pkt)
{
    struct cursor c = cur_make(data, caplen);
    pkt->l3 = NULL;
    pkt->l3len = 0;
    pkt->sport = pkt->dport = 0;
    pkt->tcp_flags = 0;
    pkt->fragment = false;
    pkt->frag_first = false;
    pkt->icmp_error = false;
    pkt->payload = NULL;
    pkt->payload_len = 0;

    switch (dlt) {
    case DLT_EN10MB: {
        if (!cur_skip(&c, 12))
            return DECODE_TRUNCATED;
        uint16_t type = cur_be16(&c);
        if (c.bad)
            return DECODE_TRUNCATED;
        if (type <= 1500)
            return DECODE_NOT_IP; /* 802.3 length field: LLC, STP ... */
        return decode_ethertype(type, c, pkt);
    }
    case DLT_LINUX_SLL: {
        if (!cur_skip(&c, 14))
            return DECODE_TRUNCATED;
        uint16_t type = cur_be16(&c);
        if (c.bad)
            return DECODE_TRUNCATED;
        return decode_ethertype(type, c, pkt);
    }
    case DLT_LINUX_SLL2: {
        uint16_t type = cur_be16(&c);
        if (!cur_skip(&c, 18))
            return DECODE_TRUNCATED;
        return decode_ethertype(type, c, pkt);
    }
    case DLT_NULL:
    case DLT_LOOP: {
        uint32_t fam = dlt == DLT_NULL ? cur_le32(&c) : cur_be32(&c);
        if (c.bad)
            return DECODE_TRUNCATED;
        if (dlt == DLT_NULL && (fam & 0xffff) == 0 && fam != 0)
            fam = __builtin_bswap32(fam); /* written on a host of the other byte order */
        if (fam == 2)
            return decode_ipv4(c, pkt, 0);
        if (fam == 24 || fam == 28 || fam == 30 || fam == 10)
            return decode_ipv6(c, pkt, 0);
        return DECODE_NOT_IP;
    }
    case DLT_NFLOG:
        return decode_nflog(c, pkt);
    case DLT_IPV4:
        return decode_ipv4(c, pkt, 0);
    case DLT_IPV6:
        return decode_ipv6(c, pkt, 0);
    case DLT_RAW: /* libpcap maps LINKTYPE_RAW (101) here */
        return c.len ? decode_ip(c, pkt, 0) : DECODE_TRUNCATED;
    default:
        return DECODE_BAD_LINK;
    }
}

const char *decode_result_name(enum decode_result r)
{
    switch (r) {
    case DECODE_OK: return "ok";
    case DECODE_NOT_IP: return "not IP";
    case DECODE_TRUNCATED: return "truncated";
    case DECODE_MALFORMED: return "malformed";
    case DECODE_BAD_LINK: return "unsupported link type";
    }
    return "?";
}
