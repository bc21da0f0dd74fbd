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

#endif
