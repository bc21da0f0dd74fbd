/* tls.c - TLS record walk and the Lync TLS port policy (see tls.h). */
#include "dissect/tls.h"

/* Looks for the server_name extension (type 0) in a ClientHello body. */
static bool client_hello_sni(struct cursor h)
{
    cur_skip(&h, 2 + 32);          /* client_version, random */
    cur_skip(&h, cur_u8(&h));      /* session_id */
    cur_skip(&h, cur_be16(&h));    /* cipher_suites */
    cur_skip(&h, cur_u8(&h));      /* compression_methods */
    struct cursor ext = cur_sub(&h, cur_be16(&h));
    while (!ext.bad && ext.len >= 4) {
        uint16_t type = cur_be16(&ext);
        uint16_t len = cur_be16(&ext);
        if (type == 0 && len > 0)
            return true;
        cur_skip(&ext, len);
    }
    return false;
}

/* An SSL 2.0-compatible ClientHello (RFC 5246 E.2): 2-byte header with the
 * top bit set, msg_type 1, version 3.x (or 2.0), as old clients and
 * Skype's 443 connections send it. */
static bool sslv2_client_hello(struct cursor c, struct tls_verdict *v)
{
    uint8_t b0 = cur_peek_u8(&c, 0);
    uint16_t len = (uint16_t)(((b0 & 0x7F) << 8) | cur_peek_u8(&c, 1));
    uint8_t type = cur_peek_u8(&c, 2), major = cur_peek_u8(&c, 3), minor = cur_peek_u8(&c, 4);
    if (c.len < 11 || !(b0 & 0x80) || type != 1 || len < 9 || !((major == 3 && minor <= 4) || (major == 0 && minor == 2)))
        return false;
    /* cipher spec length is a multiple of 3, challenge 16-32 bytes */
    uint16_t specs = cur_peek_be16(&c, 5), sid = cur_peek_be16(&c, 7), chal = cur_peek_be16(&c, 9);
    if (specs == 0 || specs % 3 || (sid != 0 && sid != 16) || chal < 16 || chal > 32 ||
        9u + specs + sid + chal != len)
        return false;
    v->records = 1;
    v->first_type = 22;
    v->version = (uint16_t)((major << 8) | minor);
    v->handshakes = 1u << TLS_HS_CLIENT_HELLO;
    return true;
}

bool tls_dissect(struct cursor c, struct tls_verdict *v)
{
    struct tls_verdict z = {0};
    *v = z;
    if (c.bad)
        return false;
    if (sslv2_client_hello(c, v))
        return true;
    while (!c.bad && c.len >= 5) {
        uint8_t type = cur_peek_u8(&c, 0);
        uint16_t ver = cur_peek_be16(&c, 1);
        uint16_t len = cur_peek_be16(&c, 3);
        /* SSL 3.0 .. TLS 1.3 record versions; 2^14 + 2048 is the largest record */
        if (type < 20 || type > 23 || (ver >> 8) != 3 || (ver & 0xFF) > 4 || len == 0 || len > 18432)
            break;
        if (v->records == 0) {
            v->first_type = type;
            v->version = ver;
        }
        if (v->records < 255)
            v->records++;
        cur_skip(&c, 5);
        struct cursor rec = cur_sub(&c, len); /* the record, or what of it was captured */
        if (type != 22)
            continue;
        /* handshake messages: type, 24-bit length, body (may continue in the next segment) */
        while (rec.len >= 4) {
            uint8_t ht = cur_u8(&rec);
            uint32_t hl = ((uint32_t)cur_u8(&rec) << 16) | cur_be16(&rec);
            if (ht < 32)
                v->handshakes |= 1u << ht;
            struct cursor body = cur_sub(&rec, hl);
            if (ht == TLS_HS_CLIENT_HELLO && client_hello_sni(body))
                v->sni = true;
        }
    }
    return v->records > 0;
}

enum tls_port_service tls_port_service(uint16_t port)
{
    if (port == 8057 || port == 8058)
        return TLS_PORT_PSOM;
    /* 5061 Front End/Director/Edge, 5062-5087 Front End and Mediation
     * services (IM/AV conferencing, Mediation 5067/5070/5082, Mobility
     * 5086/5087, Response Group 5071 ...), 5041 Persistent Chat, 8404 Response Group */
    if ((port >= 5061 && port <= 5087) || port == 5041 || port == 8404)
        return TLS_PORT_SIP;
    return TLS_PORT_OTHER;
}
