/* dissectors.h - every dissector's per-flow state, side by side.
 *
 * classify allocates one struct dx_flow per live flow (freed when the flow
 * is decided) and hands it to the rows of its table (dx.h). A dissector
 * owns its member; it may read another's where the protocols meet (TURN
 * carries RTP; RTP on a TURN relay keeps the STUN label). */
#ifndef LYNCAUDIT_DISSECT_DISSECTORS_H
#define LYNCAUDIT_DISSECT_DISSECTORS_H

#include "dissect/ike.h"
#include "dissect/msturn.h"
#include "dissect/rtp.h"
#include "dissect/sip.h"
#include "dissect/tls.h"
#include "dissect/xmpp.h"

struct dx_flow {
    uint16_t pkts;       /* payload packets looked at, keep-alives excepted */
    uint16_t stun_lead;  /* ... of which the first ones, all STUN (an ICE phase) */
    uint8_t keepalives;  /* keep-alives: claimed as such, or short and nobody's */
    bool found;          /* a row claimed a packet as evidence of its protocol */
    bool ice_wait;       /* the window went by in ICE checks: further checks are
                          * skipped, the window counts from the first other packet */
    struct ike_flow ike;
    struct sip_flow sip;
    struct xmpp_flow xmpp;
    struct stun_flow stun;
    struct rtp_flow rtp;
    struct tls_flow tls;
};

#endif
