/* test_rtp.c - RTP/RTCP headers and stream validation on real captures.
 *
 * Real bytes: sipp/g711a.pcap (one G.711 A-law stream), rtpproxy/alice_srtp.pcap
 * (SRTP: the header is clear), nDPI/rtcp_multiple_pkts_in_the_same_datagram.pcap
 * (compound RTCP), nDPI/rtp.pcapng (RTP over TCP in RFC 4571 framing, port
 * 5000), nDPI/1kxun.pcap DNS (never a confirmed stream). Hand-built: the
 * one-packet false positive NDPI-4.2.md reproduced (`80 05 ...` three times
 * with changing SSRC), and header edge cases. */
#include <string.h>

#include "../unit/check.h"
#include "dissect/rtp.h"
#include "pcapwalk.h"

struct st {
    unsigned rtp, rtcp, compound, multi, other;
    unsigned max_good;
    uint8_t pt;
    struct rtp_track track[2];
    uint16_t port;     /* only this port (0: any UDP) */
    int tcp4571;       /* RTP over TCP with a 2-byte length first */
};

static void on_packet(const struct packet *p, unsigned idx, void *ctx)
{
    (void)idx;
    struct st *s = ctx;
    struct cursor c = payload_cursor(p);
    if (s->tcp4571) {
        if (p->proto != 6 || c.len < 2 || !has_port(p, s->port))
            return;
        uint16_t len = cur_be16(&c);
        c = cur_sub(&c, len);
    } else if (p->proto != 17 || (s->port && !has_port(p, s->port))) {
        return;
    }
    if (c.len == 0)
        return;
    struct rtp_verdict v;
    if (!rtp_dissect(c, &v)) {
        s->other++;
        return;
    }
    if (v.kind == RTP_PACKET) {
        s->rtp++;
        s->pt = v.pt;
        unsigned g = rtp_track_step(&s->track[p->sport < p->dport], &v);
        if (g > s->max_good)
            s->max_good = g;
    } else {
        s->rtcp++;
        if (v.compound)
            s->compound++;
        if (v.rtcp_count >= 2)
            s->multi++;
    }
}

static struct st walk(const char *dir, const char *name, uint16_t port, int tcp)
{
    struct st s;
    memset(&s, 0, sizeof s);
    s.port = port;
    s.tcp4571 = tcp;
    CHECK(walk_pcap(dir, name, on_packet, &s) > 0);
    return s;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "../shared/pcaps";

    struct st s = walk(dir, "sipp/g711a.pcap", 0, 0);
    CHECK_EQ_U(s.rtp, 236);     /* tshark (rtp heuristic): rtp x236 */
    CHECK_EQ_U(s.other, 0);
    CHECK_EQ_U(s.pt, 8);        /* PCMA */
    CHECK_EQ_U(s.max_good, 235); /* one SSRC, every packet advancing the sequence */

    s = walk(dir, "rtpproxy/alice_srtp.pcap", 0, 0);
    CHECK_EQ_U(s.rtp, 1556);    /* tshark: rtp x1556 (SRTP header is clear) */
    CHECK(s.max_good >= 100);

    s = walk(dir, "nDPI/rtcp_multiple_pkts_in_the_same_datagram.pcap", 0, 0);
    CHECK_EQ_U(s.rtcp, 5);      /* tshark: rtcp x5 */
    CHECK_EQ_U(s.compound, 5);
    CHECK_EQ_U(s.multi, 5);     /* several RTCP packets in each datagram */
    CHECK_EQ_U(s.rtp, 0);

    s = walk(dir, "nDPI/rtp.pcapng", 5000, 1);
    CHECK_EQ_U(s.rtp, 17);      /* every segment: RFC 4571 framed RTP (tshark does not decode it) */
    CHECK_EQ_U(s.max_good, 16);

    s = walk(dir, "nDPI/1kxun.pcap", 53, 0);
    CHECK(s.max_good < 2);      /* DNS ids may look like an RTP header once, never a stream */

    /* nDPI 4.2's one-packet false positive: `80 05 ...` with nothing else
     * RTP-like (hand-built, after NDPI-4.2.md's reproduction). */
    struct rtp_track t = {0};
    unsigned good = 0;
    for (unsigned i = 0; i < 3; i++) {
        uint8_t b[20] = {0x80, 0x05, (uint8_t)(0x31 * i), 0x07, 1, 2, 3, 4, (uint8_t)(9 * i + 1), 0x22, 0x33, (uint8_t)i};
        struct rtp_verdict v;
        CHECK(rtp_dissect(cur_make(b, sizeof b), &v)); /* each packet alone passes the header check */
        good = rtp_track_step(&t, &v);
    }
    CHECK_EQ_U(good, 0); /* but never makes a stream */

    /* Edge cases (hand-built): version 1; CSRC count past the end; extension
     * past the end; padding longer than the packet; RTCP length past the end. */
    uint8_t v1[12] = {0x40, 0x00};
    uint8_t cc[16] = {0x8F, 0x00};
    uint8_t ext[16] = {0x90, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xBE, 0xDE, 0x00, 0x05};
    uint8_t pad[16] = {0xA0, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x20};
    uint8_t rtcp_long[8] = {0x80, 200, 0x00, 0x10, 1, 2, 3, 4};
    struct rtp_verdict v;
    CHECK(!rtp_dissect(cur_make(v1, sizeof v1), &v));
    CHECK(!rtp_dissect(cur_make(cc, sizeof cc), &v));
    CHECK(!rtp_dissect(cur_make(ext, sizeof ext), &v));
    CHECK(!rtp_dissect(cur_make(pad, sizeof pad), &v));
    CHECK(!rtp_dissect(cur_make(rtcp_long, sizeof rtcp_long), &v));
    return check_done();
}
