/* msturn.h - STUN/TURN messages, RFC 5389 and Microsoft's MS-TURN dialect.
 *
 * One pure function over one message's bytes: is this a STUN message (or a
 * TURN ChannelData message), which dialect, which Microsoft attributes does
 * it carry, and where is the data a TURN Send/Data indication or ChannelData
 * message carries. MS-TURN over TCP 443 frames every message with a 4-byte
 * header (type 0x02 control / 0x03 data, 0x00, 16-bit length) after a
 * pseudo-TLS hello: msturn_tcp_frame() reads that header. */
#ifndef LYNCAUDIT_DISSECT_MSTURN_H
#define LYNCAUDIT_DISSECT_MSTURN_H

#include <stdbool.h>
#include <stdint.h>

#include "cursor.h"
#include "dissect/dx.h"

#define STUN_COOKIE 0x2112A442u       /* RFC 5389 magic cookie (header word 2) */
#define MSTURN_MAGIC 0x72C64BC6u      /* MS-TURN MAGIC-COOKIE attribute value */

enum stun_kind {
    STUN_NONE = 0,
    STUN_MESSAGE,      /* a STUN/TURN message */
    STUN_CHANNEL_DATA, /* TURN ChannelData 0x4000-0x7FFF, or MS multiplexed 0xFF10 */
};

enum stun_dialect {
    STUN_CLASSIC = 1,  /* RFC 3489: no cookie, no Microsoft attribute */
    STUN_RFC5389,      /* cookie 0x2112A442 */
    STUN_MSTURN,       /* first attribute MAGIC-COOKIE 0x000F = 0x72C64BC6 */
};

/* Microsoft attributes, as bits of stun_verdict.ms_attrs (names: stun_ms_attr_name). */
enum stun_ms_attr {
    MSA_MAGIC_COOKIE,      /* 0x000F */
    MSA_BANDWIDTH,         /* 0x0010 (MS-TURN dialect only) */
    MSA_DESTINATION,       /* 0x0011 DESTINATION-ADDRESS (MS-TURN dialect only) */
    MSA_ALTERNATE_SERVER,  /* 0x000E (MS-TURN dialect only) */
    MSA_VERSION,           /* 0x8008 MS-VERSION */
    MSA_ALT_HOST_NAME,     /* 0x8032 */
    MSA_APP_ID,            /* 0x8037 */
    MSA_SECURE_TAG,        /* 0x8039 */
    MSA_SEQUENCE_NUMBER,   /* 0x8050 */
    MSA_CANDIDATE_ID,      /* 0x8054 */
    MSA_SERVICE_QUALITY,   /* 0x8055 */
    MSA_BANDWIDTH_MGMT,    /* 0x8056-0x8068 (MS-TURNBWM, SIP dialog/call id, location profile) */
    MSA_IMPL_VERSION,      /* 0x8070 MS-IMPLEMENTATION-VERSION */
    MSA_ALT_MAPPED,        /* 0x8090 */
    MSA_MULTIPLEXED,       /* 0x8095 MS-MULTIPLEXED-TURN-SESSION-ID */
    MSA_UNKNOWN_8006,      /* 0x8006 (seen from Microsoft clients, undocumented) */
    MSA_N
};

struct stun_verdict {
    uint8_t kind;           /* enum stun_kind */
    uint8_t dialect;        /* enum stun_dialect, for messages */
    bool padded;            /* attributes walked with 4-byte padding */
    bool ice;               /* ICE attributes (PRIORITY, USE-CANDIDATE, ICE-CONTROLL*, MS-ICE) */
    uint16_t type;          /* message type, or the channel number */
    uint16_t method;        /* method (1 binding, 3 allocate, 4 refresh, 6 send, 7 data, ...) */
    uint8_t cls;            /* 0 request, 1 indication, 2 success, 3 error */
    uint32_t ms_version;    /* MS-VERSION value; 0 when absent */
    uint32_t ms_attrs;      /* bits of enum stun_ms_attr */
    uint32_t size;          /* bytes this message takes (header, body, padding) */
    uint32_t data_off, data_len; /* carried data (DATA attribute, ChannelData body); len 0: none */
    /* [MS-TURNBWM] call identity, offsets from the message start; len 0: absent */
    uint32_t call_id_off, call_id_len;     /* SIP Call Identifier 0x8062 */
    uint32_t dialog_id_off, dialog_id_len; /* SIP Dialog Identifier 0x8061 */
    uint32_t location_off;                 /* Location Profile 0x8068 (4 bytes); 0: absent */
};

/* Reads one STUN message or ChannelData message at the start of c. `exact`
 * (datagrams) wants the message to fill c; otherwise (streams) more bytes may
 * follow it. Returns false when the bytes are not one, with v->kind STUN_NONE. */
bool stun_dissect(struct cursor c, bool exact, struct stun_verdict *v);

/* True when v is Microsoft's flavour: the MS-TURN dialect or any Microsoft attribute. */
bool stun_is_ms(const struct stun_verdict *v);

/* The attribute name of bit `bit` of ms_attrs ("MAGIC-COOKIE", "MS-VERSION", ...). */
const char *stun_ms_attr_name(unsigned bit);

/* MS-TURN TCP framing (MS-TURN 2.2.1): type 0x02 (control) or 0x03 (data),
 * reserved 0x00, 16-bit length; *body gets the framed bytes (clamped to c). */
bool msturn_tcp_frame(struct cursor c, uint8_t *type, struct cursor *body);

/* The [MS-TURNBWM] call identity a flow's messages carried: the SIP call and
 * dialog the relay serves, and the location profile (peer, self: 0 unknown,
 * 1 Internet, 2 intranet; federation: 0 none, 1 enterprise, 2 public cloud). */
#define STUN_ID_MAX 64
struct stun_call {
    char call_id[STUN_ID_MAX + 1], dialog_id[STUN_ID_MAX + 1]; /* printable bytes, cut to fit */
    bool has_location;
    uint8_t peer_location, self_location, federation;
};

/* "internet", "intranet", "unknown" for a location; "none", "enterprise",
 * "public_cloud" for a federation; the number for any other value. */
const char *stun_location_name(uint8_t v, char buf[4]);
const char *stun_federation_name(uint8_t v, char buf[4]);

/* True when call holds anything. */
bool stun_call_seen(const struct stun_call *call);

/* What a flow keeps (struct dx_flow.stun). */
struct stun_flow {
    uint8_t msgs, ms;       /* STUN messages; Microsoft's among them */
    uint8_t binding, turn;  /* Binding messages; other (TURN) methods */
    uint8_t chan;           /* ChannelData messages */
    uint8_t dialect;        /* the highest enum stun_dialect seen */
    uint8_t tcp_framed;     /* messages in MS-TURN's TCP framing */
    bool ice, rfc4571;      /* ICE attributes; STUN in RFC 4571 framing */
    uint32_t ms_version, ms_attrs;
    struct stun_call call;
};

/* classify's table rows (dx.h). MS-TURN's TCP framing (after the
 * pseudo-TLS hello) is tried, and labelled, before media; STUN/TURN
 * messages on UDP, over TCP unframed (RFC 5389 7.2.2) or in RFC 4571
 * framing are tracked before RTP but labelled after it: ICE checks then
 * media is `rtp`. The data TURN carries goes to the RTP tracker. */
enum dx_claim msturn_tcp_track(struct dx_flow *x, const struct dx_pkt *p);
bool msturn_tcp_label(const struct dx_flow *x, struct dx_view *v);
enum dx_claim stun_track(struct dx_flow *x, const struct dx_pkt *p);

/* True when the flow's STUN was ICE checks only (no TURN, no framing of MS-TURN's). */
bool stun_ice_only(const struct dx_flow *x);
bool stun_label(const struct dx_flow *x, struct dx_view *v);

#endif
