/* xmpp.h - XMPP (RFC 6120) at the start of a TCP payload.
 *
 * Strong evidence: the stream header (`<?xml ...?>` then `<stream:stream`
 * with the http://etherx.jabber.org/streams namespace), with its default
 * namespace jabber:client (c2s) or jabber:server (s2s, federation).
 * Weak evidence: a first-level element that only XMPP sends (stream features,
 * STARTTLS, SASL, stanzas, dialback); classify takes it only on an XMPP port. */
#ifndef LYNCAUDIT_DISSECT_XMPP_H
#define LYNCAUDIT_DISSECT_XMPP_H

#include <stdbool.h>
#include <stdint.h>

#include "cursor.h"
#include "dissect/dx.h"

enum xmpp_kind {
    XMPP_NONE = 0,
    XMPP_STREAM,    /* a stream header */
    XMPP_ELEMENT,   /* another first-level XMPP element */
    XMPP_STARTTLS,  /* <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/> */
    XMPP_PROCEED,   /* <proceed .../>: TLS starts next */
};

struct xmpp_verdict {
    uint8_t kind;   /* enum xmpp_kind */
    bool server;    /* stream header with jabber:server (s2s) */
    bool client;    /* stream header with jabber:client (c2s) */
};

bool xmpp_dissect(struct cursor c, struct xmpp_verdict *v);

/* What a flow keeps (struct dx_flow.xmpp). */
struct xmpp_flow {
    uint8_t streams, elems; /* stream headers, other first-level elements */
    uint8_t ns;             /* 1 jabber:client, 2 jabber:server */
    bool starttls, proceed;
};

/* classify's table row (dx.h): XMPP over TCP; a stream header with its
 * STARTTLS answer (or 8 packets) settles it. */
enum dx_claim xmpp_track(struct dx_flow *x, const struct dx_pkt *p);
bool xmpp_settled(const struct dx_flow *x);
bool xmpp_label(const struct dx_flow *x, struct dx_view *v);

#endif
