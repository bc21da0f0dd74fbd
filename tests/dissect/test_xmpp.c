/* test_xmpp.c - XMPP stream headers and elements on real captures.
 *
 * Real bytes: zeek/xmpp-starttls.pcap (stream header both ways, features,
 * STARTTLS, PROCEED, then TLS), nDPI/jabber.pcap (c2s stanzas on 5222,
 * several streams). Hand-built: an s2s (jabber:server) stream header as
 * federation on 5269 sends it, and lookalikes that are not XMPP. */
#include <string.h>

#include "../unit/check.h"
#include "dissect/xmpp.h"
#include "pcapwalk.h"

struct st {
    unsigned stream, element, starttls, proceed, none, client;
};

static void on_packet(const struct packet *p, unsigned idx, void *ctx)
{
    (void)idx;
    struct st *s = ctx;
    if (p->proto != 6 || p->payload_len == 0)
        return;
    struct xmpp_verdict v;
    if (!xmpp_dissect(payload_cursor(p), &v)) {
        s->none++;
        return;
    }
    switch (v.kind) {
    case XMPP_STREAM: s->stream++; s->client += v.client; break;
    case XMPP_STARTTLS: s->starttls++; break;
    case XMPP_PROCEED: s->proceed++; break;
    default: s->element++; break;
    }
}

static struct st walk(const char *dir, const char *name)
{
    struct st s;
    memset(&s, 0, sizeof s);
    CHECK(walk_pcap(dir, name, on_packet, &s) > 0);
    return s;
}

static int parse(const char *text, struct xmpp_verdict *v)
{
    return xmpp_dissect(cur_make((const uint8_t *)text, strlen(text)), v);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "../shared/pcaps";
    struct st s = walk(dir, "zeek/xmpp-starttls.pcap");
    CHECK_EQ_U(s.stream, 2);     /* tshark: STREAM > and STREAM < */
    CHECK_EQ_U(s.client, 2);
    CHECK_EQ_U(s.element, 1);    /* FEATURES */
    CHECK_EQ_U(s.starttls, 1);
    CHECK_EQ_U(s.proceed, 1);
    CHECK(s.none >= 5);          /* the TLS records after PROCEED */

    s = walk(dir, "nDPI/jabber.pcap");
    CHECK(s.stream >= 8);        /* stream headers of the complete sessions */
    CHECK(s.element >= 100);     /* iq/message/presence stanzas (tshark: xmpp x131 frames) */

    struct xmpp_verdict v;
    /* federation (s2s) header, hand-built after RFC 6120 4.2 / XEP-0220 */
    CHECK(parse("<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' "
                "xmlns='jabber:server' xmlns:db='jabber:server:dialback' to='contoso.com' version='1.0'>",
                &v));
    CHECK(v.kind == XMPP_STREAM && v.server && !v.client);
    CHECK(parse("<db:result from='a.example' to='b.example'>abc</db:result>", &v) && v.kind == XMPP_ELEMENT);
    /* not XMPP */
    CHECK(!parse("<?xml version='1.0'?><html><body>", &v));
    CHECK(!parse("<stream:stream xmlns='jabber:client'>", &v)); /* no streams namespace */
    CHECK(!parse("<iqfoo/>", &v));
    CHECK(!parse("<proceed/>", &v)); /* no TLS namespace */
    CHECK(!parse("GET / HTTP/1.1\r\n", &v));
    return check_done();
}
