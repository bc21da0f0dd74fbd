/* ike.c - ISAKMP headers and ESP-in-UDP (see ike.h). */
#include "dissect/ike.h"

#include "classify.h"
#include "dissect/dissectors.h"

#define ISAKMP_HDR 28

/* An ISAKMP header (RFC 2408 3.1, RFC 7296 3.1) filling c (or cut short by the snaplen). */
static bool isakmp(struct cursor c, struct ike_verdict *v)
{
    if (c.len < ISAKMP_HDR)
        return false;
    uint32_t ispi_hi = cur_peek_be32(&c, 0), ispi_lo = cur_peek_be32(&c, 4);
    uint8_t next = cur_peek_u8(&c, 16), ver = cur_peek_u8(&c, 17), xchg = cur_peek_u8(&c, 18);
    uint32_t len = cur_peek_be32(&c, 24);
    if ((ispi_hi | ispi_lo) == 0)
        return false; /* the initiator's SPI is never zero */
    uint8_t major = ver >> 4, minor = ver & 0x0F;
    if (minor != 0)
        return false;
    if (major == 1) {
        /* payload types 0-20 (RFC 2408, 3947 NAT-D/NAT-OA as 20/21, drafts 130/131) */
        if (!(next <= 21 || next == 130 || next == 131) || !(xchg <= 6 || (xchg >= 32 && xchg <= 34)))
            return false;
    } else if (major == 2) {
        if (!(next == 0 || (next >= 33 && next <= 54)) || !(xchg >= 34 && xchg <= 43))
            return false;
    } else {
        return false;
    }
    if (len < ISAKMP_HDR || len < c.len)
        return false; /* may exceed what was captured, never fall short of it */
    v->kind = IKE_MESSAGE;
    v->version = major;
    v->exchange = xchg;
    return true;
}

bool ike_dissect(struct cursor c, uint16_t sport, uint16_t dport, struct ike_verdict *v)
{
    struct ike_verdict z = {0};
    *v = z;
    if (c.bad || c.len == 0)
        return false;
    if (sport == IKE_NATT_PORT || dport == IKE_NATT_PORT) {
        if (c.len == 1 && cur_peek_u8(&c, 0) == 0xFF) {
            v->kind = IKE_KEEPALIVE;
            return true;
        }
        if (c.len >= 4 && cur_peek_be32(&c, 0) == 0) {
            struct cursor m = c;
            cur_skip(&m, 4);
            if (!isakmp(m, v))
                return false;
            v->natt = true;
            return true;
        }
        /* ESP: SPI (1-255 reserved), sequence number, payload; sequence number, then whatever the capture kept */
        uint32_t spi = cur_peek_be32(&c, 0);
        if (c.len >= 8 && spi > 255) {
            v->kind = IKE_ESP_IN_UDP;
            v->spi = spi;
            return true;
        }
        return false;
    }
    if (sport == IKE_PORT || dport == IKE_PORT)
        return isakmp(c, v);
    return false;
}

enum dx_claim ike_track(struct dx_flow *x, const struct dx_pkt *p)
{
    struct ike_flow *s = &x->ike;
    struct ike_verdict k;
    if (!ike_dissect(p->c, p->sport, p->dport, &k))
        return DX_NOT_MINE;
    if (k.kind == IKE_MESSAGE) {
        dx_inc(&s->msgs);
        s->version = k.version;
        if (k.natt)
            s->natt = 1;
    } else if (k.kind == IKE_ESP_IN_UDP) {
        dx_inc(&s->esp_udp);
        s->spi = k.spi;
    } else {
        return DX_KEEPALIVE;
    }
    return DX_CLAIMED;
}

/* ESP and AH by IP protocol; an IKE message makes the flow IKE (with the
 * ESP it carried after); ESP in UDP alone needs two packets, or to be all
 * the flow had. */
bool ike_label(const struct dx_flow *x, struct dx_view *v)
{
    const struct ike_flow *s = &x->ike;
    if (v->proto == IPPROTO_ESP || v->proto == IPPROTO_AH) {
        dx_detail_uint(v, "ip_proto", v->proto);
        v->label = v->proto == IPPROTO_ESP ? CL_ESP : CL_AH;
        return true;
    }
    if (s->msgs) {
        dx_detail_uint(v, "ike_version", s->version);
        dx_detail_uint(v, "ike_msgs", s->msgs);
        if (s->natt)
            dx_detail(v, "natt", "yes");
        if (s->esp_udp)
            dx_detail_uint(v, "esp_in_udp", s->esp_udp);
        v->label = CL_IKE;
        return true;
    }
    if (s->esp_udp >= 2 || (s->esp_udp && x->pkts == s->esp_udp)) {
        dx_detail_uint(v, "esp_in_udp", s->esp_udp);
        dx_detailf(v, "spi", "0x%08x", (unsigned)s->spi);
        v->label = CL_ESP;
        return true;
    }
    return false;
}
