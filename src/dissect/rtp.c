/* rtp.c - RTP/RTCP header checks and stream validation (see rtp.h). */
#include "dissect/rtp.h"

#include "classify.h"
#include "dissect/dissectors.h"

/* An RTCP compound: every packet version 2 with a length that fits; the first
 * an SR, RR (or, leniently, SDES/BYE/APP/feedback/XR as some stacks send). */
static bool rtcp(struct cursor c, struct rtp_verdict *v)
{
    uint8_t b0 = cur_peek_u8(&c, 0), pt = cur_peek_u8(&c, 1);
    if (c.len < 8 || (b0 & 0xC0) != 0x80 || pt < 200 || pt > 207)
        return false;
    v->kind = RTCP_PACKET;
    v->pt = pt;
    v->ssrc = cur_peek_be32(&c, 4);
    v->rtcp_count = 0;
    /* SRTCP encrypts everything after the first 8 bytes: walk as far as the
     * lengths make sense; a clean end means a plain compound. */
    struct cursor w = c;
    while (w.len >= 4) {
        uint8_t h = cur_peek_u8(&w, 0), t = cur_peek_u8(&w, 1);
        uint32_t bytes = 4u * ((uint32_t)cur_peek_be16(&w, 2) + 1u);
        if ((h & 0xC0) != 0x80 || t < 192 || t > 213 || bytes > w.len)
            break;
        cur_skip(&w, bytes);
        if (v->rtcp_count < 255)
            v->rtcp_count++;
    }
    if (v->rtcp_count == 0)
        return false; /* not even the first packet fits */
    v->compound = w.len == 0;
    return true;
}

bool rtp_dissect(struct cursor c, struct rtp_verdict *v)
{
    struct rtp_verdict z = {0};
    *v = z;
    if (c.bad || c.len < 8)
        return false;
    uint8_t b0 = cur_peek_u8(&c, 0), b1 = cur_peek_u8(&c, 1);
    if ((b0 & 0xC0) != 0x80)
        return false;
    /* RFC 5761 4: second byte 192-223 is RTCP (PT 64-95 with the marker) */
    if (b1 >= 192 && b1 <= 223) {
        if (rtcp(c, v))
            return true;
        *v = z;
        return false;
    }
    if (c.len < 12)
        return false;
    uint8_t pt = b1 & 0x7F;
    if (pt >= 72 && pt <= 76)
        return false;
    size_t hdr = 12 + 4u * (b0 & 0x0F);
    if (hdr > c.len)
        return false;
    if (b0 & 0x10) { /* header extension: 16-bit profile, 16-bit length in words */
        if (hdr + 4 > c.len)
            return false;
        hdr += 4 + 4u * cur_peek_be16(&c, hdr + 2);
        if (hdr > c.len)
            return false;
    }
    if (b0 & 0x20) { /* padding: the last byte counts it, itself included */
        uint8_t pad = cur_peek_u8(&c, c.len - 1);
        if (pad == 0 || hdr + pad > c.len)
            return false;
    }
    v->kind = RTP_PACKET;
    v->pt = pt;
    v->seq = cur_peek_be16(&c, 2);
    v->ts = cur_peek_be32(&c, 4);
    v->ssrc = cur_peek_be32(&c, 8);
    return true;
}

unsigned rtp_track_step(struct rtp_track *t, const struct rtp_verdict *v)
{
    if (v->kind != RTP_PACKET)
        return t->good;
    uint16_t step = (uint16_t)(v->seq - t->seq);
    if (t->seen && v->ssrc == t->ssrc && step >= 1 && step <= RTP_MAX_SEQ_STEP) {
        if (t->good < 255)
            t->good++;
    } else if (!(t->seen && v->ssrc == t->ssrc && step == 0)) {
        t->good = 0; /* a new stream (or not a stream): start over; duplicates are ignored */
    }
    t->ssrc = v->ssrc;
    if (step != 0 || !t->seen)
        t->seq = v->seq;
    if (t->seen < 255)
        t->seen++;
    return t->good;
}

bool rtp_confirmed(const struct rtp_flow *s)
{
    return s->track[0].good >= RTP_CONFIRM || s->track[1].good >= RTP_CONFIRM;
}

/* Takes one RTP or RTCP packet into the flow's state. */
static void take(struct rtp_flow *s, int dir, const struct rtp_verdict *r)
{
    if (r->kind == RTP_PACKET) {
        rtp_track_step(&s->track[dir], r);
        s->pt = r->pt;
    } else if (r->kind == RTCP_PACKET) {
        dx_inc(&s->rtcp);
        if (r->compound)
            dx_inc(&s->rtcp_compound);
        s->rtcp_ssrc = r->ssrc;
        s->rtcp_pt = r->pt;
    }
}

void rtp_carried(struct dx_flow *x, int dir, struct cursor data)
{
    struct rtp_verdict r;
    if (!rtp_dissect(data, &r))
        return;
    take(&x->rtp, dir, &r);
    if (r.kind == RTP_PACKET)
        dx_inc(&x->rtp.inner);
}

enum dx_claim rtp_track(struct dx_flow *x, const struct dx_pkt *p)
{
    struct rtp_verdict r;
    if (p->proto == IPPROTO_UDP) {
        if (!rtp_dissect(p->c, &r))
            return DX_NOT_MINE;
        take(&x->rtp, p->dir, &r);
        return DX_CLAIMED;
    }
    struct cursor f;
    if (!dx_rfc4571(p->c, &f) || !rtp_dissect(f, &r) || r.kind != RTP_PACKET)
        return DX_NOT_MINE;
    dx_inc(&x->rtp.rfc4571);
    take(&x->rtp, p->dir, &r);
    return DX_CLAIMED;
}

bool rtp_settled(const struct dx_flow *x)
{
    return rtp_confirmed(&x->rtp) && !x->stun.turn && !x->stun.chan && !x->stun.tcp_framed;
}

/* A confirmed stream on a flow that is no TURN relay (a relay keeps its
 * STUN label, with inner=rtp): rtp. RTCP alone (a compound that adds up,
 * or two packets: SRTCP encrypts past the first header), after ICE checks
 * or without: rtcp. */
bool rtp_label(const struct dx_flow *x, struct dx_view *v)
{
    const struct rtp_flow *s = &x->rtp;
    bool turn = x->stun.turn || x->stun.chan;
    if (turn)
        return false;
    if (rtp_confirmed(s)) {
        const struct rtp_track *t = s->track[0].good >= s->track[1].good ? &s->track[0] : &s->track[1];
        dx_detail(v, "ice", x->stun.ice ? "yes" : x->stun.binding ? "binding" : "no");
        dx_detailf(v, "rtp_ssrc", "0x%08x", (unsigned)t->ssrc);
        dx_detail_uint(v, "rtp_pt", s->pt);
        dx_detail_uint(v, "pkts_checked", x->pkts);
        if (s->rfc4571)
            dx_detail(v, "framing", "rfc4571");
        if (s->rtcp)
            dx_detail(v, "rtcp_mux", "yes");
        v->label = CL_RTP;
        return true;
    }
    if (!(s->rtcp_compound || s->rtcp >= 2))
        return false;
    dx_detailf(v, "rtcp_ssrc", "0x%08x", (unsigned)s->rtcp_ssrc);
    dx_detail_uint(v, "rtcp_pt", s->rtcp_pt);
    dx_detail(v, "compound", s->rtcp_compound ? "yes" : "no (srtcp?)");
    dx_detail_uint(v, "pkts_checked", x->pkts);
    v->label = CL_RTCP;
    return true;
}
