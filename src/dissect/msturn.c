/* msturn.c - STUN/TURN and MS-TURN messages (see msturn.h).
 *
 * References: RFC 5389 (header, padded attributes), RFC 5766 (TURN methods,
 * ChannelData), RFC 3489 (no cookie), [MS-TURN] 2.2 (MAGIC-COOKIE attribute
 * first, unpadded attributes, Data Indication 0x0115, TCP framing) and
 * [MS-ICE2] (MS-IMPLEMENTATION-VERSION, CANDIDATE-IDENTIFIER). */
#include "dissect/msturn.h"

#include <stdio.h>
#include <string.h>

#include "classify.h"
#include "dissect/dissectors.h"

#define STUN_HDR 20
#define MS_MULTIPLEX_CHANNEL 0xFF10

static const char *const ms_names[MSA_N] = {
    [MSA_MAGIC_COOKIE] = "MAGIC-COOKIE",
    [MSA_BANDWIDTH] = "BANDWIDTH",
    [MSA_DESTINATION] = "DESTINATION-ADDRESS",
    [MSA_ALTERNATE_SERVER] = "MS-ALTERNATE-SERVER",
    [MSA_VERSION] = "MS-VERSION",
    [MSA_ALT_HOST_NAME] = "MS-ALTERNATE-HOST-NAME",
    [MSA_APP_ID] = "MS-APP-ID",
    [MSA_SECURE_TAG] = "MS-SECURE-TAG",
    [MSA_SEQUENCE_NUMBER] = "MS-SEQUENCE-NUMBER",
    [MSA_CANDIDATE_ID] = "CANDIDATE-IDENTIFIER",
    [MSA_SERVICE_QUALITY] = "MS-SERVICE-QUALITY",
    [MSA_BANDWIDTH_MGMT] = "MS-BANDWIDTH-MGMT",
    [MSA_IMPL_VERSION] = "MS-IMPLEMENTATION-VERSION",
    [MSA_ALT_MAPPED] = "MS-ALT-MAPPED-ADDRESS",
    [MSA_MULTIPLEXED] = "MS-MULTIPLEXED-TURN-SESSION-ID",
    [MSA_UNKNOWN_8006] = "MS-0x8006",
};

const char *stun_ms_attr_name(unsigned bit)
{
    return bit < MSA_N ? ms_names[bit] : "?";
}

bool stun_is_ms(const struct stun_verdict *v)
{
    return v->kind == STUN_MESSAGE && (v->dialect == STUN_MSTURN || v->ms_attrs != 0);
}

/* The ms_attrs bit of attribute `type`, or -1. The 0x000E-0x0011 numbers are
 * Microsoft's only in the MS-TURN dialect (RFC 3489 drafts reused them). */
static int ms_bit(uint16_t type, bool msturn)
{
    switch (type) {
    case 0x000F: return MSA_MAGIC_COOKIE;
    case 0x0010: return msturn ? MSA_BANDWIDTH : -1;
    case 0x0011: return msturn ? MSA_DESTINATION : -1;
    case 0x000E: return msturn ? MSA_ALTERNATE_SERVER : -1;
    case 0x8006: return MSA_UNKNOWN_8006;
    case 0x8008: return MSA_VERSION;
    case 0x8032: return MSA_ALT_HOST_NAME;
    case 0x8037: return MSA_APP_ID;
    case 0x8039: return MSA_SECURE_TAG;
    case 0x8050: return MSA_SEQUENCE_NUMBER;
    case 0x8054: return MSA_CANDIDATE_ID;
    case 0x8055: return MSA_SERVICE_QUALITY;
    case 0x8070: return MSA_IMPL_VERSION;
    case 0x8090: return MSA_ALT_MAPPED;
    case 0x8095: return MSA_MULTIPLEXED;
    default:
        if (type >= 0x8056 && type <= 0x8068)
            return MSA_BANDWIDTH_MGMT;
        return -1;
    }
}

/* Walks the attributes in body (the message after its header), padded to 4
 * bytes or not; true when the walk ends exactly at the end of the body.
 * Records what v needs; data offsets are relative to the message start. */
static bool walk_attrs(struct cursor body, bool padded, bool msturn, struct stun_verdict *v)
{
    uint32_t off = STUN_HDR;
    v->ms_attrs = 0;
    v->ms_version = 0;
    v->ice = false;
    v->data_off = v->data_len = 0;
    v->call_id_off = v->call_id_len = v->dialog_id_off = v->dialog_id_len = v->location_off = 0;
    while (body.len > 0) {
        uint16_t type = cur_be16(&body);
        uint16_t len = cur_be16(&body);
        if (body.bad)
            return false;
        uint32_t step = padded ? ((uint32_t)len + 3u) & ~3u : len;
        if (step > body.len) {
            /* the last attribute of a padded walk may lack its padding */
            if (!padded || len > body.len)
                return false;
            step = (uint32_t)body.len;
        }
        int bit = ms_bit(type, msturn);
        if (bit >= 0)
            v->ms_attrs |= 1u << bit;
        if (type == 0x8008 && len == 4)
            v->ms_version = cur_peek_be32(&body, 0);
        if (type == 0x0024 || type == 0x0025 || type == 0x8029 || type == 0x802A ||
            type == 0x8054 || type == 0x8070)
            v->ice = true;
        if (type == 0x0013) { /* DATA (TURN) */
            v->data_off = off + 4;
            v->data_len = len;
        }
        if (type == 0x8061) { /* [MS-TURNBWM] SIP Dialog Identifier */
            v->dialog_id_off = off + 4;
            v->dialog_id_len = len;
        }
        if (type == 0x8062) { /* [MS-TURNBWM] SIP Call Identifier */
            v->call_id_off = off + 4;
            v->call_id_len = len;
        }
        if (type == 0x8068 && len >= 4) /* [MS-TURNBWM] Location Profile */
            v->location_off = off + 4;
        cur_skip(&body, step);
        off += 4 + step;
    }
    return !body.bad;
}

/* A ChannelData message: channel, length, data (MS 0xFF10: 8-byte session id first). */
static bool channel_data(struct cursor c, bool exact, struct stun_verdict *v)
{
    uint16_t ch = cur_peek_be16(&c, 0);
    uint32_t len = cur_peek_be16(&c, 2);
    if (c.len < 4 || !((ch >= 0x4000 && ch <= 0x7FFF) || ch == MS_MULTIPLEX_CHANNEL))
        return false;
    uint32_t need = 4 + len, padded = (need + 3u) & ~3u;
    if (exact ? (c.len != need && c.len != padded) : c.len < need)
        return false;
    v->kind = STUN_CHANNEL_DATA;
    v->type = ch;
    v->size = exact ? (uint32_t)c.len : (c.len >= padded ? padded : need);
    v->data_off = 4;
    v->data_len = len;
    if (ch == MS_MULTIPLEX_CHANNEL) {
        if (len < 8) {
            v->kind = STUN_NONE;
            return false;
        }
        v->data_off += 8;
        v->data_len -= 8;
    }
    return true;
}

bool stun_dissect(struct cursor c, bool exact, struct stun_verdict *out)
{
    struct stun_verdict v = {0};
    *out = v;
    if (c.bad || c.len < 4)
        return false;
    uint16_t type = cur_peek_be16(&c, 0);
    if (type & 0xC000) {
        if (!channel_data(c, exact, &v))
            return false;
        *out = v;
        return true;
    }
    if (c.len < STUN_HDR)
        return false;
    uint32_t len = cur_peek_be16(&c, 2);
    if (exact ? c.len != STUN_HDR + len : c.len < STUN_HDR + len)
        return false;
    v.type = type;
    v.method = (uint16_t)((type & 0x000F) | ((type & 0x00E0) >> 1) | ((type & 0x3E00) >> 2));
    v.cls = (uint8_t)(((type & 0x0010) >> 4) | ((type & 0x0100) >> 7));
    /* Binding .. ConnectionAttempt (RFC 5389/5766/6062); MS-TURN's 0x0115 and
     * 0x0116 read as methods 5 and 6 here. */
    if (v.method < 1 || v.method > 12)
        return false;
    bool cookie = cur_peek_be32(&c, 4) == STUN_COOKIE;
    bool msturn = len >= 8 && cur_peek_be16(&c, 20) == 0x000F && cur_peek_be16(&c, 22) == 4 &&
                  cur_peek_be32(&c, 24) == MSTURN_MAGIC;
    v.dialect = msturn ? STUN_MSTURN : cookie ? STUN_RFC5389 : STUN_CLASSIC;
    if (cookie && !msturn && (len & 3))
        return false; /* RFC 5389 lengths are multiples of 4 */
    struct cursor body = cur_make(c.p + STUN_HDR, len);
    /* MS-TURN attributes are not padded; try that first for the dialect, the
     * padded walk first otherwise, and accept whichever ends on the length. */
    bool first = !msturn;
    if (walk_attrs(body, first, msturn, &v))
        v.padded = first;
    else if (walk_attrs(body, !first, msturn, &v))
        v.padded = !first;
    else
        return false;
    v.kind = STUN_MESSAGE;
    v.size = STUN_HDR + len;
    *out = v;
    return true;
}

bool msturn_tcp_frame(struct cursor c, uint8_t *type, struct cursor *body)
{
    uint8_t t = cur_u8(&c);
    uint8_t reserved = cur_u8(&c);
    uint16_t len = cur_be16(&c);
    if (c.bad || (t != 0x02 && t != 0x03) || reserved != 0x00 || len == 0)
        return false;
    *type = t;
    *body = cur_sub(&c, len);
    return true;
}

/* Copies an identifier attribute as text: printable ASCII kept, anything
 * else as '.', cut to STUN_ID_MAX; the first one seen stays. */
static void copy_id(char *out, struct cursor msg, uint32_t off, uint32_t len)
{
    if (!len || out[0] || !cur_skip(&msg, off))
        return;
    size_t n = 0;
    for (; n < len && n < STUN_ID_MAX && n < msg.len; n++) {
        uint8_t ch = cur_peek_u8(&msg, n);
        out[n] = ch >= 0x20 && ch < 0x7F ? (char)ch : '.';
    }
    out[n] = '\0';
}

/* The call identity a message carries (MS-TURNBWM), into the flow's. */
static void take_call(struct stun_call *call, struct cursor msg, const struct stun_verdict *v)
{
    copy_id(call->call_id, msg, v->call_id_off, v->call_id_len);
    copy_id(call->dialog_id, msg, v->dialog_id_off, v->dialog_id_len);
    if (v->location_off && !call->has_location && v->location_off + 3 <= msg.len) {
        call->peer_location = cur_peek_u8(&msg, v->location_off);
        call->self_location = cur_peek_u8(&msg, v->location_off + 1);
        call->federation = cur_peek_u8(&msg, v->location_off + 2);
        call->has_location = true;
    }
}

/* Takes one STUN or ChannelData message into the flow's state; what TURN
 * carried goes to the RTP tracker. */
static void take(struct dx_flow *x, int dir, struct cursor msg, const struct stun_verdict *v)
{
    struct stun_flow *s = &x->stun;
    if (v->kind == STUN_CHANNEL_DATA) {
        dx_inc(&s->chan);
    } else {
        dx_inc(&s->msgs);
        if (v->dialect > s->dialect)
            s->dialect = v->dialect;
        if (stun_is_ms(v)) {
            dx_inc(&s->ms);
            s->ms_attrs |= v->ms_attrs;
            if (v->ms_version)
                s->ms_version = v->ms_version;
        }
        if (v->method == 1)
            dx_inc(&s->binding);
        else
            dx_inc(&s->turn);
        if (v->ice)
            s->ice = true;
        take_call(&s->call, msg, v);
    }
    if (v->data_len && v->data_off < msg.len) {
        struct cursor d = msg;
        cur_skip(&d, v->data_off);
        rtp_carried(x, dir, cur_sub(&d, v->data_len));
    }
}

enum dx_claim msturn_tcp_track(struct dx_flow *x, const struct dx_pkt *p)
{
    uint8_t ftype;
    struct cursor body;
    struct stun_verdict v;
    if (!msturn_tcp_frame(p->c, &ftype, &body))
        return DX_NOT_MINE;
    if (stun_dissect(body, false, &v) && v.kind == STUN_MESSAGE) {
        dx_inc(&x->stun.tcp_framed);
        take(x, p->dir, body, &v);
        return DX_CLAIMED;
    }
    if (ftype != 0x03 || !x->stun.tcp_framed)
        return DX_NOT_MINE;
    /* end-to-end data: media, or TURN data */
    if (stun_dissect(body, false, &v))
        take(x, p->dir, body, &v);
    else
        rtp_carried(x, p->dir, body);
    return DX_CLAIMED;
}

/* STUN over TCP: unframed, several messages per segment (RFC 5389 7.2.2),
 * or one in RFC 4571 framing (ICE-TCP). */
static enum dx_claim stun_tcp(struct dx_flow *x, const struct dx_pkt *p)
{
    struct stun_verdict v;
    if (stun_dissect(p->c, false, &v) && (v.kind == STUN_MESSAGE || x->stun.msgs)) {
        struct cursor w = p->c;
        for (int i = 0; i < 8 && stun_dissect(w, false, &v); i++) {
            if (v.kind == STUN_CHANNEL_DATA && !x->stun.msgs)
                break;
            take(x, p->dir, w, &v);
            if (!cur_skip(&w, v.size) || w.len == 0)
                break;
        }
        return DX_CLAIMED;
    }
    struct cursor f;
    if (dx_rfc4571(p->c, &f) && stun_dissect(f, true, &v) && v.kind == STUN_MESSAGE &&
        v.dialect != STUN_CLASSIC) {
        x->stun.rfc4571 = true;
        take(x, p->dir, f, &v);
        return DX_CLAIMED;
    }
    return DX_NOT_MINE;
}

bool stun_ice_only(const struct dx_flow *x)
{
    return x->stun.msgs && !x->stun.turn && !x->stun.chan && !x->stun.tcp_framed;
}

/* Past a window of ICE checks (dx_flow.ice_wait), more checks tell nothing
 * new: they are skipped like keep-alives while the media is awaited. */
enum dx_claim stun_track(struct dx_flow *x, const struct dx_pkt *p)
{
    struct stun_verdict v;
    if (x->ice_wait && stun_dissect(p->c, p->proto == IPPROTO_UDP, &v) && v.kind == STUN_MESSAGE && v.method == 1)
        return DX_KEEPALIVE;
    if (p->proto == IPPROTO_TCP)
        return stun_tcp(x, p);
    if (!stun_dissect(p->c, true, &v))
        return DX_NOT_MINE;
    take(x, p->dir, p->c, &v);
    return DX_CLAIMED;
}

static const char *dialect_name(uint8_t d)
{
    return d == STUN_MSTURN ? "ms-turn" : d == STUN_RFC5389 ? "rfc5389" : d == STUN_CLASSIC ? "rfc3489" : "";
}

/* STUN/TURN detail: dialect, MS-VERSION, Microsoft attributes, what TURN
 * carried; names the label msturn. */
static void stun_detail(const struct dx_flow *x, struct dx_view *v)
{
    const struct stun_flow *s = &x->stun;
    if (s->ms_version)
        dx_detail_uint(v, "msturn_version", (unsigned)s->ms_version);
    char attrs[256] = "";
    for (unsigned b = 0; b < MSA_N; b++) {
        size_t used = strlen(attrs);
        if (s->ms_attrs & (1u << b))
            snprintf(attrs + used, sizeof attrs - used, "%s%s", used ? "," : "", stun_ms_attr_name(b));
    }
    dx_detail(v, "attrs", attrs);
    dx_detail(v, "dialect", dialect_name(s->dialect));
    dx_detail_uint(v, "stun_msgs", s->msgs);
    if (s->turn)
        dx_detail_uint(v, "turn_msgs", s->turn);
    if (s->chan)
        dx_detail_uint(v, "channel_data", s->chan);
    if (s->ice || s->binding)
        dx_detail(v, "ice", s->ice ? "yes" : "binding");
    if (s->tcp_framed)
        dx_detail(v, "framing", "ms-turn-tcp");
    else if (s->rfc4571)
        dx_detail(v, "framing", "rfc4571");
    if (rtp_confirmed(&x->rtp))
        dx_detail(v, "inner", "rtp");
    else if (x->rtp.rtcp_compound)
        dx_detail(v, "inner", "rtcp");
    /* MS-TURN swaps NONCE and REALM: what nDPI took for the realm is the nonce */
    v->ndpi_realm_is_nonce = s->dialect == STUN_MSTURN;
    v->label = CL_MSTURN;
}

bool msturn_tcp_label(const struct dx_flow *x, struct dx_view *v)
{
    if (!x->stun.tcp_framed)
        return false;
    dx_detail(v, "pseudo_tls", x->tls.pkts ? "yes" : "not seen");
    stun_detail(x, v);
    return true;
}

/* Classic (RFC 3489) STUN has no cookie: one message of it is weak. */
bool stun_label(const struct dx_flow *x, struct dx_view *v)
{
    const struct stun_flow *s = &x->stun;
    if (!s->msgs || (s->dialect == STUN_CLASSIC && s->msgs < 2 && !v->ndpi_stun))
        return false;
    stun_detail(x, v);
    if (!s->ms) {
        v->label = CL_STUN;
        v->ndpi_realm_is_nonce = false;
    }
    return true;
}

/* A value outside the specification's list, as its number. */
static const char *number(uint8_t v, char buf[4])
{
    snprintf(buf, 4, "%u", v);
    return buf;
}

const char *stun_location_name(uint8_t v, char buf[4])
{
    static const char *const names[] = {"unknown", "internet", "intranet"};
    return v < 3 ? names[v] : number(v, buf);
}

const char *stun_federation_name(uint8_t v, char buf[4])
{
    static const char *const names[] = {"none", "enterprise", "public_cloud"};
    return v < 3 ? names[v] : number(v, buf);
}

bool stun_call_seen(const struct stun_call *call)
{
    return call->call_id[0] || call->dialog_id[0] || call->has_location;
}
