/* decode.h - link, network and transport headers into a struct packet.
 *
 * decode_packet() never allocates and keeps no state: everything it finds
 * points into the caller's buffer. Supported link types: Ethernet (802.1Q,
 * 802.1ad/QinQ, MPLS), Linux cooked SLL and SLL2, raw IPv4/IPv6, BSD
 * loopback (null and loop), NFLOG. IPv4 and IPv6 (extension headers
 * skipped). Tunnels are opened and the innermost packet is the one
 * described: IP-in-IP, GRE (IP or Ethernet inside), ERSPAN types I, II and
 * III, VXLAN (UDP 4789 and one port of the caller's), Geneve (UDP 6081); the
 * outermost tunnel is recorded in the packet, up to 4 nested. */
#ifndef LYNCAUDIT_DECODE_H
#define LYNCAUDIT_DECODE_H

#include <stdbool.h>
#include <stdint.h>

enum decode_result {
    DECODE_OK = 0,
    DECODE_NOT_IP,      /* ARP, LLDP, unknown ethertype: not a flow */
    DECODE_TRUNCATED,   /* headers cut short by the snaplen or the file */
    DECODE_MALFORMED,   /* impossible header values */
    DECODE_BAD_LINK,    /* link type we do not read */
    DECODE_TUNNEL_DEPTH, /* more tunnels nested than decode opens (4) */
};

enum tunnel_kind {
    TUNNEL_NONE = 0,
    TUNNEL_IPIP,    /* IPv4 or IPv6 in IPv4 or IPv6 (protocols 4, 41) */
    TUNNEL_GRE,     /* GRE carrying IP or Ethernet (0x6558) */
    TUNNEL_ERSPAN1, /* ERSPAN type I: GRE 0x88BE without a sequence number */
    TUNNEL_ERSPAN2, /* ERSPAN type II: GRE 0x88BE, 8-byte header */
    TUNNEL_ERSPAN3, /* ERSPAN type III: GRE 0x22EB, 12-byte header (+ 8) */
    TUNNEL_VXLAN,   /* UDP 4789 or the --vxlan-port */
    TUNNEL_GENEVE,  /* UDP 6081 */
};

/* What the caller may set; NULL means the defaults. */
struct decode_opts {
    uint16_t vxlan_port; /* VXLAN on this UDP port too (0: 4789 only) */
};

#define TCPF_FIN 0x01
#define TCPF_SYN 0x02
#define TCPF_RST 0x04
#define TCPF_ACK 0x10

struct packet {
    uint64_t ts_us;          /* capture time, microseconds since the epoch */
    uint32_t wirelen;        /* frame length on the wire */
    const uint8_t *l3;       /* the (innermost) IP header, for nDPI */
    uint16_t l3len;          /* IP length actually captured, trimmed to the IP total length */
    uint8_t ipver;           /* 4 or 6 */
    uint8_t proto;           /* IP protocol of the transport */
    uint8_t src[16], dst[16];/* IPv4 uses the first 4 bytes */
    uint16_t sport, dport;   /* 0 for protocols without ports */
    uint8_t tcp_flags;
    bool fragment;           /* a non-first IP fragment: ports unknown */
    bool frag_first;         /* the first fragment of a fragmented datagram */
    uint32_t frag_id;        /* IPv4 or IPv6 fragment identification */
    const uint8_t *payload;  /* transport payload (captured part) */
    uint32_t payload_len;
    /* An ICMP error (unreachable, time exceeded ...) and the packet it quotes:
     * the flow it belongs to, as the quoted packet's sender saw it. */
    bool icmp_error;
    uint8_t q_proto;
    uint8_t q_src[16], q_dst[16];
    uint16_t q_sport, q_dport;
    /* The Ethernet frame that carried the packet (the innermost one): its
     * VLAN ids, 0 for none; [0] the outermost tag, [1] the next (QinQ).
     * ERSPAN's original VLAN when the mirrored frame has no tag. */
    uint16_t vlan[2];
    /* The outermost tunnel opened (enum tunnel_kind; the rest only when
     * not TUNNEL_NONE): its outer IP version and addresses, and its id
     * (VXLAN/Geneve VNI, ERSPAN session id, GRE key) when it has one. */
    uint8_t tunnel, tun_ipver;
    bool tun_has_id;
    uint32_t tun_id;
    uint8_t tun_src[16], tun_dst[16];
};

/* Decodes one captured frame of link type `dlt` (a DLT_ value from pcap_datalink).
 * Fills *pkt (ts_us and wirelen are the caller's) and says what it found. */
enum decode_result decode_packet(int dlt, const uint8_t *data, uint32_t caplen,
                                 struct packet *pkt);

/* decode_packet with options (o may be NULL). */
enum decode_result decode_packet_opts(const struct decode_opts *o, int dlt, const uint8_t *data,
                                      uint32_t caplen, struct packet *pkt);

/* "gre", "vxlan" ... for an enum tunnel_kind; NULL for TUNNEL_NONE. */
const char *decode_tunnel_name(uint8_t kind);

/* True when decode_packet knows the link type. */
bool decode_link_supported(int dlt);

const char *decode_result_name(enum decode_result r);

#endif
