/* xmpp.c - XMPP stream headers and first-level elements (see xmpp.h). */
#include "dissect/xmpp.h"

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
