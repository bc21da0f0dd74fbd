/* sip.h - the start line of a cleartext SIP message (RFC 3261 7.1, 7.2).
 *
 * Requests with every standard method (RFC 3261, 3262, 3265/6665, 3311,
 * 3428, 3515, 3903, 2976/6086) and Lync's own SERVICE, NEGOTIATE, BENOTIFY
 * ([MS-SIPRE], [MS-SIPAE]); responses `SIP/2.0 NNN`. Leading CRLF keep-alives
 * (RFC 5626 3.5.1) are skipped. */
#ifndef LYNCAUDIT_DISSECT_SIP_H
#define LYNCAUDIT_DISSECT_SIP_H

#include <stdbool.h>
#include <stdint.h>

#include "cursor.h"
#include "dissect/dx.h"

enum sip_kind { SIP_NONE = 0, SIP_REQUEST, SIP_RESPONSE, SIP_KEEPALIVE };

struct sip_verdict {
    uint8_t kind;       /* enum sip_kind */
    uint8_t method;     /* index for sip_method_name(), requests only */
    bool lync_method;   /* SERVICE, NEGOTIATE, BENOTIFY */
    uint16_t status;    /* responses */
};

/* Reads the start line at the beginning of c. */
bool sip_dissect(struct cursor c, struct sip_verdict *v);

/* "INVITE", "SERVICE" ... for a request's method index. */
const char *sip_method_name(unsigned method);

/* What a flow keeps (struct dx_flow.sip). */
struct sip_flow {
    uint8_t msgs;      /* requests and responses */
    uint8_t method;    /* the first message's method + 1; 0: it was a response */
    uint8_t lync;      /* a Lync method's index + 1, if one was seen */
    uint16_t status;   /* the first message's status, if a response */
};

/* classify's table row (dx.h): SIP over UDP and TCP; one start line settles it. */
enum dx_claim sip_track(struct dx_flow *x, const struct dx_pkt *p);
bool sip_settled(const struct dx_flow *x);
bool sip_label(const struct dx_flow *x, struct dx_view *v);

#endif
