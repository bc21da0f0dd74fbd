/* xmpp.c - XMPP stream headers and first-level elements (see xmpp.h). */
#include "dissect/xmpp.h"

#include "classify.h"
#include "dissect/dissectors.h"
#include "dissect/text.h"


static bool starts(const struct cursor *c, size_t off, const char *s)
{
    return cur_text_at(c, off, s, strlen(s));
}

/* A first-level element name followed by a space, '>' or '/'. */
static bool element(const struct cursor *c, size_t off, const char *name)
{
    if (!starts(c, off, name))
        return false;
    uint8_t ch = cur_peek_u8(c, off + strlen(name));
    return off + strlen(name) == c->len || ch == ' ' || ch == '>' || ch == '/' || ch == '\r' ||
           ch == '\n' || ch == '\t';
}

#define HEADER_SCAN 1024

bool xmpp_dissect(struct cursor c, struct xmpp_verdict *v)
{
    struct xmpp_verdict z = {0};
    *v = z;
    if (c.bad)
        return false;
    size_t off = 0;
    for (uint8_t ch; off < c.len && ((ch = cur_peek_u8(&c, off)) == ' ' || ch == '\r' || ch == '\n' || ch == '\t');)
        off++;
    if (cur_peek_u8(&c, off) != '<')
        return false;
    long s = -1;
    if (starts(&c, off, "<?xml"))
        s = cur_text_find(&c, off, HEADER_SCAN, "<stream:stream");
    else if (element(&c, off, "<stream:stream"))
        s = (long)off;
    if (s >= 0) {
        if (cur_text_find(&c, (size_t)s, HEADER_SCAN, "http://etherx.jabber.org/streams") < 0)
            return false;
        v->kind = XMPP_STREAM;
        v->client = cur_text_find(&c, (size_t)s, HEADER_SCAN, "jabber:client") >= 0;
        v->server = cur_text_find(&c, (size_t)s, HEADER_SCAN, "jabber:server") >= 0;
        return true;
    }
    if (element(&c, off, "<starttls")) {
        v->kind = XMPP_STARTTLS;
        return true;
    }
    if (element(&c, off, "<proceed")) {
        if (cur_text_find(&c, off, HEADER_SCAN, "urn:ietf:params:xml:ns:xmpp-tls") < 0)
            return false;
        v->kind = XMPP_PROCEED;
        return true;
    }
    static const char *const names[] = {
        "<stream:features", "<stream:error", "</stream:stream", "<iq", "<message", "<presence",
        "<auth", "<challenge", "<response", "<success", "<failure", "<db:result", "<db:verify",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (element(&c, off, names[i])) {
            v->kind = XMPP_ELEMENT;
            return true;
        }
    }
    return false;
}

enum dx_claim xmpp_track(struct dx_flow *x, const struct dx_pkt *p)
{
    struct xmpp_flow *s = &x->xmpp;
    struct xmpp_verdict v;
    if (!xmpp_dissect(p->c, &v))
        return DX_NOT_MINE;
    if (v.kind == XMPP_STREAM) {
        dx_inc(&s->streams);
        if (v.server)
            s->ns = 2;
        else if (v.client && !s->ns)
            s->ns = 1;
    } else {
        dx_inc(&s->elems);
        if (v.kind == XMPP_STARTTLS)
            s->starttls = true;
        if (v.kind == XMPP_PROCEED)
            s->proceed = true;
    }
    return DX_CLAIMED;
}

bool xmpp_settled(const struct dx_flow *x)
{
    return x->xmpp.streams && (x->xmpp.proceed || x->pkts >= 8);
}

/* A stream header anywhere; elements alone only on an XMPP port (5222 c2s, 5269 s2s). */
bool xmpp_label(const struct dx_flow *x, struct dx_view *v)
{
    const struct xmpp_flow *s = &x->xmpp;
    bool port = v->dport == 5222 || v->dport == 5269 || v->sport == 5222 || v->sport == 5269;
    if (!s->streams && !(s->elems && port))
        return false;
    dx_detail(v, "xmpp", s->streams ? "stream" : "element");
    if (s->ns)
        dx_detail(v, "ns", s->ns == 2 ? "jabber:server" : "jabber:client");
    if (s->starttls || s->proceed)
        dx_detail(v, "starttls", s->proceed ? "yes" : "offered");
    v->label = CL_XMPP;
    return true;
}
