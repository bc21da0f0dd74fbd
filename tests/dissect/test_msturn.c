/* test_msturn.c - the STUN/MS-TURN dissector on real captures.
 *
 * Real bytes: nDPI/teams.pcap (MS-TURN v6 Allocate/Refresh with Microsoft
 * attributes, MS-ICE checks), nDPI/stun.pcap and skype-conference-call.pcap
 * (MS-ICE attributes; RFC 4571 framed ICE-TCP), arkime/turn.pcap (TURN over
 * TCP 80), stun_tcp_multiple_msgs_same_pkt.pcap, sipp/g711a.pcap (RTP only:
 * nothing is STUN). The attribute counts are what tshark 4.0 counts
 * (`tshark -Y stun -T fields -e stun.att.type`, MANIFEST.tsv).
 * Hand-built (no capture has them, said at each): MS-TURN over TCP 443 framing,
 * MS-TURN without the RFC 5389 cookie, the 0xFF10 multiplexed channel. */
#include <stdlib.h>
#include <string.h>

#include "../unit/check.h"
#include "dissect/msturn.h"
#include "pcapwalk.h"

struct counts {
    unsigned msgs, ms_msgs, msturn_dialect, chan;
    unsigned attr[MSA_N];
    unsigned version6, rtp_like_accepted;
    uint8_t allocate[512];
    size_t allocate_len;
};

static void count(struct counts *k, struct cursor c, const struct stun_verdict *v)
{
    if (v->kind == STUN_CHANNEL_DATA) {
        k->chan++;
        return;
    }
    k->msgs++;
    if (stun_is_ms(v))
        k->ms_msgs++;
    if (v->dialect == STUN_MSTURN)
        k->msturn_dialect++;
    if (v->ms_version == 6)
        k->version6++;
    for (unsigned b = 0; b < MSA_N; b++)
        if (v->ms_attrs & (1u << b))
            k->attr[b]++;
    if (v->dialect == STUN_MSTURN && v->type == 0x0003 && !k->allocate_len && c.len <= sizeof k->allocate) {
        memcpy(k->allocate, c.p, c.len);
        k->allocate_len = c.len;
    }
}

/* UDP: one message per datagram. TCP: messages back to back, or RFC 4571 framed. */
static void on_packet(const struct packet *p, unsigned idx, void *ctx)
{
    (void)idx;
    struct counts *k = ctx;
    struct cursor c = payload_cursor(p);
    struct stun_verdict v;
    if (p->proto == 17) {
        if (stun_dissect(c, true, &v))
            count(k, c, &v);
        return;
    }
    if (p->proto != 6 || c.len == 0)
        return;
    uint16_t flen = cur_peek_be16(&c, 0);
    if (c.len >= 22 && cur_peek_be32(&c, 6) == STUN_COOKIE) { /* RFC 4571 */
        while (c.len >= 2) {
            flen = cur_be16(&c);
            struct cursor m = cur_sub(&c, flen);
            if (!stun_dissect(m, true, &v))
                break;
            count(k, m, &v);
        }
        return;
    }
    while (c.len > 0 && stun_dissect(c, false, &v) && v.kind == STUN_MESSAGE) {
        count(k, c, &v);
        cur_skip(&c, v.size);
    }
}

static struct counts walk(const char *dir, const char *name)
{
    struct counts k;
    memset(&k, 0, sizeof k);
    CHECK(walk_pcap(dir, name, on_packet, &k) > 0);
    return k;
}

static void test_teams(const char *dir)
{
    struct counts k = walk(dir, "nDPI/teams.pcap");
    /* tshark: 0x000F x28, 0x8008 x28, 0x8050 x10, 0x8055 x8, 0x8070 x27, 0x8095 x6.
     * We read more, rightly: six MS-TURN Data Indications (0x0115, frames
     * 1416-1439) tshark shows as CLASSIC-STUN, whose attributes are not
     * stun.att.type (+6 MAGIC-COOKIE, MS-VERSION absent there); and tshark's
     * walk stops after the unpadded ERROR-CODE of four Allocate error
     * responses (frames 1245, 1271, 1277, 1301), missing their 0x8095. */
    CHECK_EQ_U(k.attr[MSA_MAGIC_COOKIE], 28 + 6);
    CHECK_EQ_U(k.attr[MSA_VERSION], 28);
    CHECK_EQ_U(k.attr[MSA_SEQUENCE_NUMBER], 10);
    CHECK_EQ_U(k.attr[MSA_SERVICE_QUALITY], 8);
    CHECK_EQ_U(k.attr[MSA_IMPL_VERSION], 27);
    CHECK_EQ_U(k.attr[MSA_MULTIPLEXED], 6 + 4);
    CHECK_EQ_U(k.msturn_dialect, 28 + 6); /* MAGIC-COOKIE first in every MS-TURN message */
    CHECK_EQ_U(k.version6, 28);           /* MS-VERSION 6 wherever present */
    CHECK(k.msgs >= 55);                /* + MS-ICE checks and plain STUN on 3479/3480 */
    CHECK(k.allocate_len > 0);

    /* The real Allocate framed as MS-TURN over TCP 443 would send it
     * (hand-built framing: no capture has MS-TURN over TCP). */
    uint8_t framed[600];
    size_t n = k.allocate_len;
    framed[0] = 0x02;
    framed[1] = 0x00;
    framed[2] = (uint8_t)(n >> 8);
    framed[3] = (uint8_t)n;
    memcpy(framed + 4, k.allocate, n);
    uint8_t type = 0;
    struct cursor body;
    CHECK(msturn_tcp_frame(cur_make(framed, n + 4), &type, &body));
    CHECK_EQ_U(type, 0x02);
    CHECK_EQ_U(body.len, n);
    struct stun_verdict v;
    CHECK(stun_dissect(body, false, &v) && v.dialect == STUN_MSTURN && v.ms_version == 6);
    framed[1] = 0x01; /* reserved byte must be zero */
    CHECK(!msturn_tcp_frame(cur_make(framed, n + 4), &type, &body));
    framed[1] = 0x00;
    framed[0] = 0x16; /* a TLS record is not the framing */
    CHECK(!msturn_tcp_frame(cur_make(framed, n + 4), &type, &body));

    /* Older MS-TURN (v1-v3) has no RFC 5389 cookie: the same message with the
     * cookie word replaced (hand-built) is still MS-TURN, by its first attribute. */
    uint8_t old[512];
    memcpy(old, k.allocate, n);
    old[4] = 0x5a; old[5] = 0x17; old[6] = 0x01; old[7] = 0x9c;
    CHECK(stun_dissect(cur_make(old, n), true, &v) && v.dialect == STUN_MSTURN);
    /* Every cut of the real message is rejected in datagram mode, never read past. */
    unsigned cut_rejected = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t *copy = malloc(i ? i : 1); /* a tight buffer, so ASan sees any overread */
        memcpy(copy, k.allocate, i);
        if (!stun_dissect(cur_make(copy, i), true, &v))
            cut_rejected++;
        free(copy);
    }
    CHECK_EQ_U(cut_rejected, n);
}

static void test_ms_ice(const char *dir)
{
    struct counts k = walk(dir, "nDPI/stun.pcap");
    CHECK_EQ_U(k.attr[MSA_CANDIDATE_ID], 6);   /* tshark: 0x8054 x6 */
    CHECK_EQ_U(k.attr[MSA_IMPL_VERSION], 12);  /* tshark: 0x8070 x12 (RFC 4571 framed, TCP) */
    k = walk(dir, "nDPI/skype-conference-call.pcap");
    CHECK_EQ_U(k.msgs, 14);                    /* tshark: stun x14 */
    CHECK_EQ_U(k.attr[MSA_CANDIDATE_ID], 4);
    CHECK_EQ_U(k.attr[MSA_IMPL_VERSION], 14);
    CHECK_EQ_U(k.ms_msgs, 14);
    CHECK_EQ_U(k.msturn_dialect, 0);           /* MS-ICE uses the RFC 5389 header */
}

static void test_turn_tcp(const char *dir)
{
    struct counts k = walk(dir, "arkime/turn.pcap");
    CHECK_EQ_U(k.msgs, 15);                    /* tshark -d tcp.port==80,stun: stun x15 */
    CHECK_EQ_U(k.ms_msgs, 0);
    k = walk(dir, "nDPI/stun_tcp_multiple_msgs_same_pkt.pcap");
    CHECK(k.msgs >= 5);                         /* 4 frames, one with several messages */
    k = walk(dir, "sipp/g711a.pcap");
    CHECK_EQ_U(k.msgs + k.chan, 0);             /* RTP is never STUN (RFC 7983 first byte) */
}

/* 0xFF10: MS-TURN multiplexed ChannelData, 8-byte session id then data (hand-built). */
static void test_channel(void)
{
    uint8_t m[4 + 8 + 12] = {0xFF, 0x10, 0x00, 20, 1, 2, 3, 4, 5, 6, 7, 8,
                             0x80, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef};
    struct stun_verdict v;
    CHECK(stun_dissect(cur_make(m, sizeof m), true, &v));
    CHECK_EQ_U(v.kind, STUN_CHANNEL_DATA);
    CHECK_EQ_U(v.data_off, 12);
    CHECK_EQ_U(v.data_len, 12);
    m[0] = 0x40; m[1] = 0x00; /* a plain channel: data right after the header */
    CHECK(stun_dissect(cur_make(m, sizeof m), true, &v) && v.data_off == 4 && v.data_len == 20);
    m[3] = 30; /* length past the datagram */
    CHECK(!stun_dissect(cur_make(m, sizeof m), true, &v));
    m[0] = 0x80; m[3] = 20; /* 0x8000-0xBFFF is RTP/RTCP's */
    CHECK(!stun_dissect(cur_make(m, sizeof m), true, &v));
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "../shared/pcaps";
    test_teams(dir);
    test_ms_ice(dir);
    test_turn_tcp(dir);
    test_channel();
    return check_done();
}
