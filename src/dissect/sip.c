/* sip.c - SIP start lines (see sip.h). */
#include "dissect/sip.h"

#include "classify.h"
#include "dissect/dissectors.h"
#include "dissect/text.h"

static const char *const methods[] = {
    "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK", "SUBSCRIBE", "NOTIFY",
    "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE",
    /* Lync / OCS */
    "SERVICE", "NEGOTIATE", "BENOTIFY",
};
#define N_METHODS (sizeof methods / sizeof methods[0])
#define FIRST_LYNC 14

const char *sip_method_name(unsigned m)
{
    return m < N_METHODS ? methods[m] : "?";
}


/* Length of the token at off up to a space or the end of the line (0 if none). */
static size_t token(const struct cursor *c, size_t off)
{
    size_t i = off;
    while (i < c->len) {
        uint8_t ch = cur_peek_u8(c, i);
        if (ch < 0x21 || ch > 0x7E) /* space, CR, LF, controls, non-ASCII */
            break;
        i++;
    }
    return i - off;
}

static bool sip_version_at(const struct cursor *c, size_t off)
{
    return cur_text_at(c, off, "SIP/2.0", 7);
}

/* The end of a start line: CRLF (or a bare LF, which RFC 3261 tolerates) or the end of the capture. */
static bool line_end(const struct cursor *c, size_t off)
{
    if (off == c->len)
        return true;
    uint8_t ch = cur_peek_u8(c, off);
    return ch == '\r' || ch == '\n';
}

bool sip_dissect(struct cursor c, struct sip_verdict *v)
{
    struct sip_verdict z = {0};
    *v = z;
    if (c.bad || c.len == 0)
        return false;
    size_t off = 0;
    while (off < c.len && (cur_peek_u8(&c, off) == '\r' || cur_peek_u8(&c, off) == '\n'))
        off++;
    if (off == c.len) {
        if (c.len < 2 || c.len > 4)
            return false;
        v->kind = SIP_KEEPALIVE;
        return true;
    }
    if (sip_version_at(&c, off)) {
        /* SIP/2.0 SP 3DIGIT SP reason-phrase */
        if (cur_peek_u8(&c, off + 7) != ' ')
            return false;
        unsigned code = 0;
        for (size_t i = 0; i < 3; i++) {
            uint8_t d = cur_peek_u8(&c, off + 8 + i);
            if (d < '0' || d > '9')
                return false;
            code = code * 10 + (d - '0');
        }
        if (code < 100 || code > 699)
            return false;
        uint8_t after = cur_peek_u8(&c, off + 11);
        if (c.len > off + 11 && after != ' ' && after != '\r' && after != '\n')
            return false;
        v->kind = SIP_RESPONSE;
        v->status = (uint16_t)code;
        return true;
    }
    /* Method SP Request-URI SP SIP/2.0 CRLF */
    for (unsigned m = 0; m < N_METHODS; m++) {
        size_t n = strlen(methods[m]);
        if (!cur_text_at(&c, off, methods[m], n) || cur_peek_u8(&c, off + n) != ' ')
            continue;
        size_t u = off + n + 1;
        size_t ulen = token(&c, u);
        if (ulen < 4 || cur_peek_u8(&c, u + ulen) != ' ')
            return false;
        /* sip:, sips:, tel: or another absoluteURI scheme: letters then ':' */
        size_t k = 0;
        while (k < ulen) {
            uint8_t ch = cur_peek_u8(&c, u + k);
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')))
                break;
            k++;
        }
        if (k == 0 || cur_peek_u8(&c, u + k) != ':')
            return false;
        size_t ver = u + ulen + 1;
        if (!sip_version_at(&c, ver) || !line_end(&c, ver + 7))
            return false;
        v->kind = SIP_REQUEST;
        v->method = (uint8_t)m;
        v->lync_method = m >= FIRST_LYNC;
        return true;
    }
    return false;
}

enum dx_claim sip_track(struct dx_flow *x, const struct dx_pkt *p)
{
    struct sip_flow *s = &x->sip;
    struct sip_verdict v;
    if (!sip_dissect(p->c, &v))
        return DX_NOT_MINE;
    if (v.kind == SIP_KEEPALIVE)
        return DX_KEEPALIVE;
    if (!s->msgs) {
        s->method = v.kind == SIP_REQUEST ? (uint8_t)(v.method + 1) : 0;
        s->status = v.status;
    }
    if (v.lync_method)
        s->lync = (uint8_t)(v.method + 1);
    dx_inc(&s->msgs);
    return DX_CLAIMED;
}

bool sip_settled(const struct dx_flow *x)
{
    return x->sip.msgs > 0;
}

bool sip_label(const struct dx_flow *x, struct dx_view *v)
{
    const struct sip_flow *s = &x->sip;
    if (!s->msgs)
        return false;
    if (s->method)
        dx_detail(v, "sip_method", sip_method_name(s->method - 1u));
    else
        dx_detail_uint(v, "sip_status", s->status);
    if (s->lync)
        dx_detail(v, "lync_method", sip_method_name(s->lync - 1u));
    v->label = CL_SIP;
    return true;
}
