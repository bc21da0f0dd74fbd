/* msturn.c - STUN/TURN and MS-TURN messages (see msturn.h).
 *
 * References: RFC 5389 (header, padded attributes), RFC 5766 (TURN methods,
 * ChannelData), RFC 3489 (no cookie), [MS-TURN] 2.2 (MAGIC-COOKIE attribute
 * first, unpadded attributes, Data Indication 0x0115, TCP framing) and
 * [MS-ICE2] (MS-IMPLEMENTATION-VERSION, CANDIDATE-IDENTIFIER). */
#include "dissect/msturn.h"

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
