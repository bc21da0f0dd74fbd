/* dx.h - what every dissector's row in classify.c's table is handed.
 *
 * A dissector is one file in src/dissect/: its pure X_dissect() (bytes in,
 * verdict out), the few bytes it keeps per live flow (struct X_flow, a
 * member of struct dx_flow in dissectors.h), and the functions of its row
 * in classify.c's table:
 *
 *   track(x, p)   one payload packet of the flow: dissect it and note what
 *                 it showed in the dissector's state; returns DX_NOT_MINE
 *                 to let the next row try, or claims the packet.
 *   settled(x)    the answer cannot change any more: stop looking early.
 *   label(x, v)   at the end: the label, if this dissector has one for the
 *                 flow, with the app_detail keys that explain it (members
 *                 of a JSON object: docs/dissectors.md lists them).
 *
 * Rows run in priority order: the first that claims a packet keeps it, the
 * first that labels a flow names it (classify.c). */
#ifndef LYNCAUDIT_DISSECT_DX_H
#define LYNCAUDIT_DISSECT_DX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h> /* IPPROTO_* */

#include <jansson.h>

#include "cursor.h"

struct dx_flow; /* every dissector's per-flow state (dissectors.h) */

/* One payload packet of a TCP or UDP flow. */
struct dx_pkt {
    struct cursor c;       /* the payload */
    int dir;               /* 0: from the initiator, 1: from the responder */
    uint8_t proto;         /* IPPROTO_TCP or IPPROTO_UDP */
    uint16_t sport, dport; /* this packet's ports */
};

/* What a track function says of a packet. */
enum dx_claim {
    DX_NOT_MINE = 0, /* the next row may try */
    DX_CLAIMED,      /* mine, and evidence of my protocol */
    DX_KEEPALIVE,    /* mine, but proves nothing (a keep-alive): not counted
                      * against the give-up budget */
};

/* The flow as the label functions see it, and what they answer. */
struct dx_view {
    uint8_t proto;            /* IP protocol of the flow */
    uint16_t sport, dport;    /* the initiator's and the responder's port */
    bool dpi;                 /* nDPI decided by inspection, not by port */
    bool ndpi_tls, ndpi_stun, ndpi_rtp; /* ... and said TLS / STUN / RTP */
    bool ndpi_main_tls;       /* ... and its label (the master protocol, else the app) is TLS */
    /* answers */
    unsigned label;           /* enum classify_label */
    uint8_t facts;            /* LABEL_F_* (flow.h) */
    bool ndpi_realm_is_nonce; /* MS-TURN swaps REALM and NONCE: nDPI's "realm" is not one */
    json_t *d;                /* app_detail being written (an object); NULL: not wanted */
};

/* The longest string value app_detail keeps, in bytes (a value is cut at a
 * character boundary to fit). */
#define DX_VALUE_MAX 255

/* Sets d[key] to the text val (NULL or "": nothing). val may come from a
 * peer: bytes that are not UTF-8 become the four characters \xNN, so the
 * value is kept whole and JSON can hold it. */
void dx_set_text(json_t *d, const char *key, const char *val);

/* dx_set_text on the view's detail. */
void dx_detail(struct dx_view *v, const char *key, const char *val);

/* A number in the detail. */
void dx_detail_uint(struct dx_view *v, const char *key, unsigned n);

/* dx_detail with a printf-style value. */
void dx_detailf(struct dx_view *v, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* RFC 4571 framing (ICE-TCP, RTP over TCP): a 16-bit length, then a
 * message of 12 bytes or more that fits in c; *inner gets it. */
bool dx_rfc4571(struct cursor c, struct cursor *inner);

/* Adds one to a saturating counter. */
static inline void dx_inc(uint8_t *v)
{
    if (*v < 255)
        (*v)++;
}

#endif
