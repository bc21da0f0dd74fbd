/* rtp.h - RTP and RTCP headers, and RTP stream validation over packets.
 *
 * rtp_dissect() reads one packet: an RTP header (RFC 3550 5.1: version 2,
 * CSRC list, extension, padding that fits) or an RTCP compound packet
 * (RFC 3550 6.1: starts with SR/RR ... and its length words add up; SRTCP's
 * encrypted tail after the first header is allowed). One packet proves
 * little: rtp_track_step() holds the few bytes a flow keeps per direction
 * and says when a stream is confirmed: one SSRC, sequence numbers advancing. */
#ifndef LYNCAUDIT_DISSECT_RTP_H
#define LYNCAUDIT_DISSECT_RTP_H

#include <stdbool.h>
#include <stdint.h>

#include "cursor.h"
#include "dissect/dx.h"

enum rtp_kind { RTP_NONE = 0, RTP_PACKET, RTCP_PACKET };

struct rtp_verdict {
    uint8_t kind;     /* enum rtp_kind */
    uint8_t pt;       /* RTP payload type, or the first RTCP packet type */
    bool compound;    /* RTCP: the length words account for every byte */
    uint8_t rtcp_count; /* RTCP: packets in the compound */
    uint16_t seq;     /* RTP */
    uint32_t ts;      /* RTP */
    uint32_t ssrc;    /* RTP SSRC or RTCP sender SSRC */
};

/* Reads one RTP or RTCP packet filling c. False (kind RTP_NONE) otherwise. */
bool rtp_dissect(struct cursor c, struct rtp_verdict *v);

/* What a flow keeps per direction to validate an RTP stream: 8 bytes. */
struct rtp_track {
    uint32_t ssrc;
    uint16_t seq;
    uint8_t good;     /* consecutive packets that continued the stream */
    uint8_t seen;     /* RTP packets seen (saturates) */
};

/* Maximum forward step between sequence numbers still taken as the same stream. */
#define RTP_MAX_SEQ_STEP 100

/* Feeds one RTP packet to a direction's track; returns the run of packets
 * that continued the stream (same SSRC, seq advanced by 1..RTP_MAX_SEQ_STEP). */
unsigned rtp_track_step(struct rtp_track *t, const struct rtp_verdict *v);

/* What a flow keeps (struct dx_flow.rtp). */
struct rtp_flow {
    struct rtp_track track[2]; /* per direction: 0 from the initiator */
    uint8_t pt;                /* the last RTP payload type */
    uint8_t inner;             /* RTP packets found in what TURN carried */
    uint8_t rfc4571;           /* RTP packets in RFC 4571 framing */
    uint8_t rtcp, rtcp_compound, rtcp_pt;
    uint32_t rtcp_ssrc;
};

/* RTP: this many packets continuing one stream confirm it (3 packets). */
#define RTP_CONFIRM 2

/* True once one direction's stream is confirmed. */
bool rtp_confirmed(const struct rtp_flow *s);

/* Data a TURN message carried (Send/Data indication, ChannelData, MS-TURN
 * data frame): RTP or RTCP in it is the flow's media. */
void rtp_carried(struct dx_flow *x, int dir, struct cursor data);

/* classify's table row (dx.h): RTP and RTCP on UDP, RTP in RFC 4571 framing
 * on TCP. A confirmed stream on a flow that is not a TURN relay settles it. */
enum dx_claim rtp_track(struct dx_flow *x, const struct dx_pkt *p);
bool rtp_settled(const struct dx_flow *x);
bool rtp_label(const struct dx_flow *x, struct dx_view *v);

#endif
