/* tls.c - TLS record walk and the Lync TLS port policy (see tls.h). */
#include "dissect/tls.h"

#include "classify.h"
#include "dissect/dissectors.h"

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
    v->sslv2 = true;
    v->exact = c.len == 2u + len;
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
    bool cut = false;
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
        cut = len > c.len;
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
    v->exact = v->records > 0 && c.len == 0 && !cut;
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

unsigned tls_role_label(uint16_t port, enum tls_server server)
{
    if (port == 443 && server == TLS_SERVER_EDGE_ACCESS)
        return CL_SIP_TLS;
    if (port == 443 && server == TLS_SERVER_EDGE_WEBCONF)
        return CL_PSOM;
    if (port == 23456 && server == TLS_SERVER_EDGE_INTERNAL)
        return CL_XMPP;
    return 0;
}

enum dx_claim tls_track(struct dx_flow *x, const struct dx_pkt *p)
{
    struct tls_flow *s = &x->tls;
    struct tls_verdict v;
    if (!tls_dissect(p->c, &v))
        return DX_NOT_MINE;
    dx_inc(&s->pkts);
    if (v.sslv2)
        s->sslv2 = true;
    else
        dx_inc(&s->records);
    if (!v.sslv2 && v.records == 1 && v.first_type == 21 && v.exact)
        s->alert = true;
    if ((v.handshakes & (1u << TLS_HS_CLIENT_HELLO)) && !s->hello_dir)
        s->hello_dir = (uint8_t)(1 + p->dir);
    return DX_CLAIMED;
}

/* An SSLv2-style hello and then payload that no TLS record began: not TLS. */
static bool fake_sslv2(const struct dx_flow *x)
{
    return x->tls.sslv2 && !x->tls.records && x->pkts > x->tls.pkts;
}

/* TLS is nDPI's verdict, or our records with a ClientHello or in two
 * packets. The server port (the one the ClientHello went to, else the
 * responder's) names SIP or PSOM; records nDPI did not decide on are `tls`;
 * TLS nDPI named stays nDPI's label. */
bool tls_label(const struct dx_flow *x, struct dx_view *v)
{
    const struct tls_flow *s = &x->tls;
    bool ours = s->records && (s->hello_dir || s->pkts >= 2 || s->alert);
    if (fake_sslv2(x)) {
        if (!v->ndpi_tls)
            return false;
        dx_detail(v, "tls_unconfirmed", "sslv2 hello, then no TLS record");
        v->label = CL_UNKNOWN;
        return true;
    }
    if (!v->ndpi_tls && !ours)
        return false;
    uint16_t port = s->hello_dir == 2 ? v->sport : v->dport;
    enum tls_port_service svc = tls_port_service(port);
    v->label = 0; /* nDPI's */
    if (svc != TLS_PORT_OTHER) {
        dx_detail_uint(v, "port", port);
        v->label = svc == TLS_PORT_SIP ? CL_SIP_TLS : CL_PSOM;
        v->facts |= LABEL_F_TLS | LABEL_F_TLS_PORT;
    } else if (!v->ndpi_tls && !v->dpi) {
        dx_detail_uint(v, "tls_records", s->pkts);
        v->label = CL_TLS;
        v->facts |= LABEL_F_TLS;
    } else if (v->ndpi_main_tls) {
        v->facts |= LABEL_F_TLS;
    }
    return true;
}
