/* decode.c - link, network and transport header decoding (see decode.h). */
#include "decode.h"

#include <netinet/in.h>
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
#define ETH_TEB 0x6558    /* transparent Ethernet bridging (gretap, Geneve) */
#define ETH_ERSPAN 0x88BE /* ERSPAN type I (no GRE sequence) and II */
#define ETH_ERSPAN3 0x22EB

#define UDP_VXLAN 4789
#define UDP_GENEVE 6081

/* Tunnels decapsulated one inside another at most; one more is
 * DECODE_TUNNEL_DEPTH (a packet nested that deep is not a SPAN session's). */
#define MAX_TUNNEL_DEPTH 4

/* What every level of the decode is handed: the options and how many
 * tunnels were opened above it. */
struct dctx {
    uint16_t vxlan_port; /* a VXLAN port besides 4789 (0: none) */
    uint8_t depth;
};

/* A tunnel decoder's answer when the bytes are not a tunnel it opens: the
 * caller decodes the outer packet as it is. */
#define KEEP_OUTER (-1)

static enum decode_result decode_ip(struct cursor c, struct packet *pkt, struct dctx x);
static enum decode_result decode_ether(struct cursor c, struct packet *pkt, struct dctx x);
static int decode_udp_tunnel(struct cursor c, struct packet *pkt, struct dctx x);

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
    if (proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP || proto == IPPROTO_UDPLITE) {
        if (q.len < off + 4)
            return;
        pkt->q_sport = cur_peek_be16(&q, off);
        pkt->q_dport = cur_peek_be16(&q, off + 2);
    }
    pkt->icmp_error = true;
}

/* Transport header: ports, flags and payload. c covers the IP payload. */
static enum decode_result decode_transport(struct cursor c, struct packet *pkt, struct dctx x)
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
        if (pkt->proto == IPPROTO_UDP) {
            uint16_t ulen = cur_peek_be16(&c, 4);
            size_t plen = c.len - 8;
            if (ulen >= 8 && (size_t)(ulen - 8) < plen)
                plen = ulen - 8; /* trailing bytes beyond the UDP length */
            pkt->payload = c.p + 8;
            pkt->payload_len = (uint32_t)plen;
            /* The one test untunnelled UDP pays: three port compares. */
            if (pkt->dport == UDP_VXLAN || pkt->dport == UDP_GENEVE ||
                (x.vxlan_port && pkt->dport == x.vxlan_port)) {
                int r = decode_udp_tunnel(cur_make(pkt->payload, plen), pkt, x);
                if (r != KEEP_OUTER)
                    return (enum decode_result)r;
            }
        } else {
            pkt->payload = c.p + (pkt->proto == IPPROTO_SCTP ? 12 : 8);
            pkt->payload_len = c.len > (pkt->proto == IPPROTO_SCTP ? 12u : 8u)
                                   ? (uint32_t)(c.len - (pkt->proto == IPPROTO_SCTP ? 12 : 8))
                                   : 0;
        }
        return DECODE_OK;
    case 1:  /* ICMP: destination unreachable, source quench, time exceeded, parameter problem */
    case 58: { /* ICMPv6: destination unreachable, packet too big, time exceeded, parameter problem */
        uint8_t type = cur_peek_u8(&c, 0);
        bool err = pkt->proto == IPPROTO_ICMP ? (type == 3 || type == 4 || type == 11 || type == 12)
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

/* Records the outermost tunnel: its kind, the outer addresses (the IP
 * header pkt holds now) and its id. Tunnels inside it change nothing. */
static void tunnel_enter(struct packet *pkt, uint8_t kind, bool has_id, uint32_t id)
{
    if (pkt->tunnel)
        return;
    pkt->tunnel = kind;
    pkt->tun_ipver = pkt->ipver;
    pkt->tun_has_id = has_id;
    pkt->tun_id = id;
    memcpy(pkt->tun_src, pkt->src, 16);
    memcpy(pkt->tun_dst, pkt->dst, 16);
}

/* ERSPAN after its GRE header (type 1, 2 or 3): type I has no header of
 * its own, type II an 8-byte one, type III 12 bytes and an optional 8-byte
 * platform subheader. Then the mirrored frame: Ethernet, or (type III,
 * frame type 2) a bare IP packet. The header's VLAN is the original one,
 * kept when the mirrored frame carries no tag. */
static enum decode_result decode_erspan(struct cursor c, struct packet *pkt, struct dctx x, int type)
{
    static const uint8_t kinds[4] = {0, TUNNEL_ERSPAN1, TUNNEL_ERSPAN2, TUNNEL_ERSPAN3};
    uint16_t vlan = 0, session = 0;
    uint8_t ft = 0;
    if (type >= 2) {
        uint16_t w0 = cur_peek_be16(&c, 0);
        session = cur_peek_be16(&c, 2) & 0x3ff;
        uint8_t b10 = cur_peek_u8(&c, 10), b11 = cur_peek_u8(&c, 11);
        if (!cur_skip(&c, type == 2 ? 8 : 12))
            return DECODE_TRUNCATED;
        if ((w0 >> 12) != type - 1)
            return DECODE_MALFORMED;
        vlan = w0 & 0xfff;
        if (type == 3) {
            ft = (b10 >> 2) & 0x1f;
            if ((b11 & 1) && !cur_skip(&c, 8))
                return DECODE_TRUNCATED;
        }
    }
    tunnel_enter(pkt, kinds[type], type >= 2, session);
    pkt->vlan[0] = pkt->vlan[1] = 0;
    enum decode_result r;
    if (ft == 0)
        r = decode_ether(c, pkt, x);
    else if (ft == 2)
        r = c.len ? decode_ip(c, pkt, x) : DECODE_TRUNCATED;
    else
        r = DECODE_NOT_IP;
    if (pkt->vlan[0] == 0)
        pkt->vlan[0] = vlan;
    return r;
}

/* GRE (RFC 2784, with RFC 2890's key and sequence number) in an IP payload
 * c: IPv4, IPv6, Ethernet or ERSPAN inside. KEEP_OUTER for what it does not
 * open (PPTP's version 1, RFC 1701 routing, other payloads): a GRE flow. */
static int decode_gre(struct cursor c, struct packet *pkt, struct dctx x)
{
    uint16_t flags = cur_be16(&c);
    uint16_t type = cur_be16(&c);
    if (c.bad || (flags & 0x4007) != 0)
        return KEEP_OUTER;
    if (type != ETH_IPV4 && type != ETH_IPV6 && type != ETH_TEB && type != ETH_ERSPAN && type != ETH_ERSPAN3)
        return KEEP_OUTER;
    bool has_key = (flags & 0x2000) != 0, has_seq = (flags & 0x1000) != 0;
    if (flags & 0x8000)
        cur_skip(&c, 4); /* checksum and reserved */
    uint32_t key = has_key ? cur_be32(&c) : 0;
    if (has_seq)
        cur_skip(&c, 4);
    if (c.bad)
        return DECODE_TRUNCATED;
    if (x.depth >= MAX_TUNNEL_DEPTH)
        return DECODE_TUNNEL_DEPTH;
    x.depth++;
    if (type == ETH_ERSPAN || type == ETH_ERSPAN3)
        return decode_erspan(c, pkt, x, type == ETH_ERSPAN3 ? 3 : has_seq ? 2 : 1);
    tunnel_enter(pkt, TUNNEL_GRE, has_key, key);
    if (type == ETH_TEB)
        return decode_ether(c, pkt, x);
    if (c.len == 0)
        return DECODE_TRUNCATED;
    enum decode_result r = decode_ip(c, pkt, x);
    return r == DECODE_NOT_IP ? DECODE_MALFORMED : r;
}

/* VXLAN (RFC 7348) or Geneve (RFC 8926, options skipped by their length)
 * in the UDP payload c. KEEP_OUTER when the bytes are not a whole header of
 * one, or what it carries is no frame: the UDP flow stays what it is. */
static int decode_udp_tunnel(struct cursor c, struct packet *pkt, struct dctx x)
{
    uint8_t b0 = cur_peek_u8(&c, 0);
    uint16_t proto = cur_peek_be16(&c, 2);
    uint32_t vni = cur_peek_be32(&c, 4) >> 8;
    size_t hlen = 8;
    uint8_t kind;
    if (c.len < 8)
        return KEEP_OUTER;
    if (pkt->dport == UDP_GENEVE) {
        if ((b0 >> 6) != 0 || (proto != ETH_TEB && proto != ETH_IPV4 && proto != ETH_IPV6))
            return KEEP_OUTER;
        hlen += (size_t)(b0 & 0x3f) * 4;
        kind = TUNNEL_GENEVE;
    } else {
        if ((b0 & 0x7f) != 0x08) /* the I flag; the rest reserved, but Group Policy's G */
            return KEEP_OUTER;
        proto = ETH_TEB;
        kind = TUNNEL_VXLAN;
    }
    if (!cur_skip(&c, hlen))
        return KEEP_OUTER;
    if (x.depth >= MAX_TUNNEL_DEPTH)
        return DECODE_TUNNEL_DEPTH;
    x.depth++;
    struct packet outer = *pkt;
    tunnel_enter(pkt, kind, true, vni);
    enum decode_result r = proto == ETH_TEB ? decode_ether(c, pkt, x) : decode_ip(c, pkt, x);
    if (r == DECODE_MALFORMED || (r == DECODE_NOT_IP && proto != ETH_TEB)) {
        *pkt = outer; /* the port by chance: the UDP flow it is */
        return KEEP_OUTER;
    }
    return r;
}

/* IP-in-IP (protocols 4 and 41) or GRE (47) in the IP payload c. An
 * unreadable IP-in-IP inner header keeps the outer flow. */
static int decode_ip_tunnel(struct cursor c, struct packet *pkt, struct dctx x)
{
    if (pkt->proto == IPPROTO_GRE)
        return decode_gre(c, pkt, x);
    if (x.depth >= MAX_TUNNEL_DEPTH)
        return DECODE_TUNNEL_DEPTH;
    x.depth++;
    struct packet outer = *pkt;
    tunnel_enter(pkt, TUNNEL_IPIP, false, 0);
    enum decode_result r = decode_ip(c, pkt, x);
    if (r == DECODE_OK || r == DECODE_TUNNEL_DEPTH)
        return r;
    *pkt = outer;
    return KEEP_OUTER;
}

static enum decode_result decode_ipv4(struct cursor c, struct packet *pkt, struct dctx x)
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
    if (!pkt->fragment && (proto == IPPROTO_IPIP || proto == IPPROTO_IPV6 || proto == IPPROTO_GRE)) {
        int r = decode_ip_tunnel(inner, pkt, x);
        if (r != KEEP_OUTER)
            return (enum decode_result)r;
    }
    return decode_transport(inner, pkt, x);
}

/* IPv6 extension headers that carry another header after them. */
static bool ipv6_is_ext(uint8_t nh)
{
    return nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_DSTOPTS || nh == IPPROTO_MH || nh == 139 ||
           nh == 140; /* 139 HIP, 140 Shim6: no IPPROTO_ names in glibc */
}

static enum decode_result decode_ipv6(struct cursor c, struct packet *pkt, struct dctx x)
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
        } else if (nh == IPPROTO_FRAGMENT) {
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
    pkt->sport = pkt->dport = 0;
    pkt->tcp_flags = 0;
    if (!pkt->fragment && (nh == IPPROTO_IPIP || nh == IPPROTO_IPV6 || nh == IPPROTO_GRE)) {
        int r = decode_ip_tunnel(e, pkt, x);
        if (r != KEEP_OUTER)
            return (enum decode_result)r;
    }
    return decode_transport(e, pkt, x);
}

static enum decode_result decode_ip(struct cursor c, struct packet *pkt, struct dctx x)
{
    switch (cur_peek_u8(&c, 0) >> 4) {
    case 4:
        return decode_ipv4(c, pkt, x);
    case 6:
        return decode_ipv6(c, pkt, x);
    default:
        return c.len == 0 ? DECODE_TRUNCATED : DECODE_NOT_IP;
    }
}

/* What follows an ethertype: VLAN tags (the first two ids recorded, the
 * outermost first), MPLS labels, PPPoE, then IP. */
static enum decode_result decode_ethertype(uint16_t type, struct cursor c, struct packet *pkt, struct dctx x)
{
    for (int i = 0; i < MAX_VLAN_TAGS && (type == ETH_VLAN || type == ETH_QINQ || type == ETH_QINQ_OLD); i++) {
        uint16_t tci = cur_be16(&c);
        type = cur_be16(&c);
        if (c.bad)
            return DECODE_TRUNCATED;
        if (i < 2)
            pkt->vlan[i] = tci & 0x0fff;
    }
    if (type == ETH_MPLS || type == ETH_MPLS_MC) {
        for (int i = 0; i < MAX_MPLS_LABELS; i++) {
            uint32_t label = cur_be32(&c);
            if (c.bad)
                return DECODE_TRUNCATED;
            if (label & 0x100) /* bottom of stack: guess IP from the version nibble */
                return decode_ip(c, pkt, x);
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
            return decode_ip(c, pkt, x);
        return DECODE_NOT_IP;
    }
    if (type == ETH_IPV4 || type == ETH_IPV6) {
        if (c.len == 0)
            return DECODE_TRUNCATED;
        enum decode_result r = decode_ip(c, pkt, x);
        return r == DECODE_NOT_IP ? DECODE_MALFORMED : r;
    }
    return DECODE_NOT_IP;
}

/* An Ethernet frame (the capture's, or one a tunnel carries: its VLAN tags
 * then replace the outer frame's). */
static enum decode_result decode_ether(struct cursor c, struct packet *pkt, struct dctx x)
{
    pkt->vlan[0] = pkt->vlan[1] = 0;
    if (!cur_skip(&c, 12))
        return DECODE_TRUNCATED;
    uint16_t type = cur_be16(&c);
    if (c.bad)
        return DECODE_TRUNCATED;
    if (type <= 1500)
        return DECODE_NOT_IP; /* 802.3 length field: LLC, STP ... */
    return decode_ethertype(type, c, pkt, x);
}

/* NFLOG (DLT 239): a 4-byte header, then TLVs with little-endian lengths;
 * TLV type 9 (NFULA_PAYLOAD) holds the IP packet. */
static enum decode_result decode_nflog(struct cursor c, struct packet *pkt, struct dctx x)
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
            return decode_ip(cur_make(c.p, body <= c.len ? body : c.len), pkt, x);
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

enum decode_result decode_packet_opts(const struct decode_opts *o, int dlt, const uint8_t *data, uint32_t caplen,
                                      struct packet *pkt)
{
    struct cursor c = cur_make(data, caplen);
    struct dctx x = {o ? o->vxlan_port : 0, 0};
    pkt->l3 = NULL;
    pkt->l3len = 0;
    pkt->sport = pkt->dport = 0;
    pkt->tcp_flags = 0;
    pkt->fragment = false;
    pkt->frag_first = false;
    pkt->icmp_error = false;
    pkt->payload = NULL;
    pkt->payload_len = 0;
    pkt->tunnel = TUNNEL_NONE;
    pkt->vlan[0] = pkt->vlan[1] = 0;

    switch (dlt) {
    case DLT_EN10MB:
        return decode_ether(c, pkt, x);
    case DLT_LINUX_SLL: {
        if (!cur_skip(&c, 14))
            return DECODE_TRUNCATED;
        uint16_t type = cur_be16(&c);
        if (c.bad)
            return DECODE_TRUNCATED;
        return decode_ethertype(type, c, pkt, x);
    }
    case DLT_LINUX_SLL2: {
        uint16_t type = cur_be16(&c);
        if (!cur_skip(&c, 18))
            return DECODE_TRUNCATED;
        return decode_ethertype(type, c, pkt, x);
    }
    case DLT_NULL:
    case DLT_LOOP: {
        uint32_t fam = dlt == DLT_NULL ? cur_le32(&c) : cur_be32(&c);
        if (c.bad)
            return DECODE_TRUNCATED;
        if (dlt == DLT_NULL && (fam & 0xffff) == 0 && fam != 0)
            fam = __builtin_bswap32(fam); /* written on a host of the other byte order */
        if (fam == 2)
            return decode_ipv4(c, pkt, x);
        if (fam == 24 || fam == 28 || fam == 30 || fam == 10)
            return decode_ipv6(c, pkt, x);
        return DECODE_NOT_IP;
    }
    case DLT_NFLOG:
        return decode_nflog(c, pkt, x);
    case DLT_IPV4:
        return decode_ipv4(c, pkt, x);
    case DLT_IPV6:
        return decode_ipv6(c, pkt, x);
    case DLT_RAW: /* libpcap maps LINKTYPE_RAW (101) here */
        return c.len ? decode_ip(c, pkt, x) : DECODE_TRUNCATED;
    default:
        return DECODE_BAD_LINK;
    }
}

enum decode_result decode_packet(int dlt, const uint8_t *data, uint32_t caplen, struct packet *pkt)
{
    return decode_packet_opts(NULL, dlt, data, caplen, pkt);
}

const char *decode_tunnel_name(uint8_t kind)
{
    static const char *const names[] = {NULL, "ipip", "gre", "erspan1", "erspan2", "erspan3", "vxlan", "geneve"};
    return kind < sizeof names / sizeof *names ? names[kind] : NULL;
}

const char *decode_result_name(enum decode_result r)
{
    switch (r) {
    case DECODE_OK: return "ok";
    case DECODE_NOT_IP: return "not IP";
    case DECODE_TRUNCATED: return "truncated";
    case DECODE_MALFORMED: return "malformed";
    case DECODE_BAD_LINK: return "unsupported link type";
    case DECODE_TUNNEL_DEPTH: return "tunnels nested too deep";
    }
    return "?";
}
