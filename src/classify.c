/* classify.c - nDPI 4.2 wrapper and the Lync dissectors beside it (see classify.h). */
#include "classify.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ndpi_api.h>

#include "dissect/ike.h"
#include "dissect/msturn.h"
#include "dissect/rtp.h"
#include "dissect/sip.h"
#include "dissect/tls.h"
#include "dissect/xmpp.h"

#define CAP_TCP 80
#define CAP_OTHER 24
#define DETAIL_MAX 512

/* The dissectors look at this many payload packets at most, and give up
 * sooner when nothing they know has shown up. */
#define LX_CAP_UDP 32
#define LX_CAP_TCP 12
#define LX_GIVEUP 6
/* RTP: this many packets continuing one stream confirm it (3 packets). */
#define RTP_CONFIRM 2

struct classify {
    struct ndpi_detection_module_struct *mod;
};

/* What the dissectors keep per live flow (freed when the flow is decided). */
struct lx {
    uint8_t pkts;                   /* payload packets looked at */
    uint8_t stun, ms, binding, turn, chan; /* STUN messages; Microsoft ones; binding; other TURN methods; ChannelData */
    uint8_t dialect;                /* highest enum stun_dialect seen */
    bool ice, stun_tcp_framed;      /* ICE attributes; STUN in RFC 4571 framing */
    uint8_t msturn_tcp;             /* MS-TURN messages in the 0x02/0x03 TCP framing */
    uint8_t rtp_inner;              /* RTP packets found inside TURN data */
    uint8_t rtp_4571;               /* RTP packets in RFC 4571 framing */
    uint8_t rtcp, rtcp_compound;
    uint8_t rtcp_pt;
    uint8_t rtp_pt;
    uint32_t rtcp_ssrc;
    uint32_t ms_version, ms_attrs;
    struct rtp_track rtp[2];        /* per direction: 0 from the initiator */
    uint8_t sip, sip_method, sip_lync;
    uint16_t sip_status;
    uint8_t xmpp_stream, xmpp_elem, xmpp_ns; /* xmpp_ns: 1 client, 2 server */
    bool xmpp_starttls, xmpp_proceed;
    uint8_t ike, ike_version, esp_udp, ike_natt;
    uint32_t esp_spi;
    uint8_t tls_pkts;               /* payload packets that were TLS records */
    int8_t tls_hello_dir;           /* direction that sent the ClientHello, -1 none */
    bool tls_sni, tls_cert, tls_server_hello, tls_shd;
};

/* classify's live state of a flow: nDPI until it decides, the dissectors until they are done. */
struct live {
    struct ndpi_flow_struct *nf;
    bool lx_done;
    struct lx lx;
};

static const char *const label_names[CL_N] = {
    [CL_NDPI] = "", [CL_UNKNOWN] = "unknown", [CL_SIP] = "sip",   [CL_SIP_TLS] = "sip_tls",
    [CL_PSOM] = "psom", [CL_MSTURN] = "msturn", [CL_STUN] = "stun", [CL_RTP] = "rtp",
    [CL_RTCP] = "rtcp", [CL_XMPP] = "xmpp",     [CL_IKE] = "ike",   [CL_ESP] = "esp",
    [CL_AH] = "ah",     [CL_TLS] = "tls",
};

const char *classify_label_name(unsigned id)
{
    return id < CL_N ? label_names[id] : "";
}

struct classify *classify_new(char *err, size_t errlen)
{
    struct classify *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->mod = ndpi_init_detection_module(ndpi_no_prefs);
    if (!c->mod) {
        snprintf(err, errlen, "nDPI: cannot initialise the detection module");
        free(c);
        return NULL;
    }
    NDPI_PROTOCOL_BITMASK all;
    NDPI_BITMASK_SET_ALL(all);
    ndpi_set_protocol_detection_bitmask2(c->mod, &all);
    ndpi_finalize_initialization(c->mod);
    return c;
}

void classify_free(struct classify *c)
{
    if (!c)
        return;
    ndpi_exit_detection_module(c->mod);
    free(c);
}

const char *classify_ndpi_version(void)
{
    return ndpi_revision();
}

/* Appends "key=value" to the detail text, separated by "; " (truncated to
 * fit, as snprintf would; by hand: this runs a few times per flow). */
static void detail_add(char *buf, size_t len, const char *key, const char *val)
{
    if (!val || !*val)
        return;
    size_t used = strlen(buf);
    if (used + 8 >= len)
        return;
    char *p = buf + used, *end = buf + len - 1;
    if (used) {
        *p++ = ';';
        *p++ = ' ';
    }
    while (*key && p < end)
        *p++ = *key++;
    if (p < end)
        *p++ = '=';
    while (*val && p < end)
        *p++ = *val++;
    *p = '\0';
}

/* detail_add with a printf-style value. */
static void detail_addf(char *buf, size_t len, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void detail_addf(char *buf, size_t len, const char *key, const char *fmt, ...)
{
    char v[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, sizeof v, fmt, ap);
    va_end(ap);
    detail_add(buf, len, key, v);
}

/* Copies what explains nDPI's verdict out of its flow state, and the TLS facts. */
static void take_detail(struct classify *c, struct flow *f, struct ndpi_flow_struct *nf)
{
    char d[DETAIL_MAX];
    d[0] = '\0';
    uint16_t m = f->label.ndpi_master, a = f->label.ndpi_app;
    uint16_t main_proto = m ? m : a;
    const char *host = nf->host_server_name[0] ? nf->host_server_name : NULL;

    if (f->label.confidence == NDPI_CONFIDENCE_MATCH_BY_PORT ||
        f->label.confidence == NDPI_CONFIDENCE_MATCH_BY_IP) {
        char g[80];
        snprintf(g, sizeof g, "%s %s", ndpi_confidence_get_name(f->label.confidence),
                 classify_proto_name(c, main_proto));
        detail_add(d, sizeof d, "ndpi_guess", g);
    }
    switch (main_proto) {
    case NDPI_PROTOCOL_TLS:
    case NDPI_PROTOCOL_DTLS:
    case NDPI_PROTOCOL_QUIC:
        detail_add(d, sizeof d, "sni", host);
        detail_add(d, sizeof d, "subject", nf->protos.tls_quic.subjectDN);
        detail_add(d, sizeof d, "issuer", nf->protos.tls_quic.issuerDN);
        detail_add(d, sizeof d, "alpn", nf->protos.tls_quic.alpn);
        detail_add(d, sizeof d, "san", nf->protos.tls_quic.server_names);
        if (main_proto == NDPI_PROTOCOL_TLS && f->label.confidence != NDPI_CONFIDENCE_MATCH_BY_PORT &&
            f->label.confidence != NDPI_CONFIDENCE_MATCH_BY_IP) {
            f->label.facts |= LABEL_F_TLS;
            if (host)
                f->label.facts |= LABEL_F_TLS_SNI;
            if (nf->protos.tls_quic.subjectDN)
                f->label.facts |= LABEL_F_TLS_CERT;
        }
        break;
    case NDPI_PROTOCOL_STUN:
        detail_add(d, sizeof d, "realm", host);
        break;
    case NDPI_PROTOCOL_DNS:
        detail_add(d, sizeof d, "query", host);
        break;
    default:
        detail_add(d, sizeof d, "host", host);
        break;
    }
    free(f->label.detail);
    f->label.detail = d[0] ? strdup(d) : NULL;
}

/* nDPI protocols the dissectors refine; for any other verdict they stop at
 * once unless they already found something. */
static bool ndpi_refined(uint16_t id)
{
    switch (id) {
    case NDPI_PROTOCOL_UNKNOWN:
    case NDPI_PROTOCOL_STUN:
    case NDPI_PROTOCOL_RTP:
    case NDPI_PROTOCOL_RTCP:
    case NDPI_PROTOCOL_TLS:
    case NDPI_PROTOCOL_SIP:
    case NDPI_PROTOCOL_JABBER:
    case NDPI_PROTOCOL_IP_IPSEC:
    case NDPI_PROTOCOL_SKYPE_TEAMS:
    case NDPI_PROTOCOL_SKYPE_CALL:
    case NDPI_PROTOCOL_MSTEAMS:
        return true;
    default:
        return false;
    }
}

static bool lx_found_any(const struct lx *x)
{
    return x->stun || x->chan || x->msturn_tcp || x->rtp[0].seen || x->rtp[1].seen || x->rtp_inner ||
           x->rtp_4571 || x->rtcp || x->sip || x->xmpp_stream || x->xmpp_elem || x->ike || x->esp_udp ||
           x->tls_pkts;
}

/* Records nDPI's verdict in the label and frees nDPI's flow state. */
static void ndpi_decide(struct classify *c, struct flow *f, struct live *lv, ndpi_protocol p)
{
    struct ndpi_flow_struct *nf = lv->nf;
    f->label.ndpi_master = p.master_protocol;
    f->label.ndpi_app = p.app_protocol;
    f->label.confidence = (uint8_t)nf->confidence;
    if (p.master_protocol == NDPI_PROTOCOL_UNKNOWN && p.app_protocol == NDPI_PROTOCOL_UNKNOWN)
        f->label.confidence = NDPI_CONFIDENCE_UNKNOWN;
    take_detail(c, f, nf);
    ndpi_flow_free(nf);
    lv->nf = NULL;
    bool dpi = f->label.confidence == NDPI_CONFIDENCE_DPI || f->label.confidence == NDPI_CONFIDENCE_DPI_CACHE;
    if (dpi && !ndpi_refined(p.master_protocol) && !ndpi_refined(p.app_protocol) && !lx_found_any(&lv->lx))
        lv->lx_done = true;
}

/* Direction of a packet: 0 from the initiator, 1 from the responder. */
static int packet_dir(const struct flow *f, const struct packet *p)
{
    size_t alen = f->key.ipver == 4 ? 4 : 16;
    bool from_a = memcmp(p->src, f->key.a, alen) == 0 && p->sport == f->key.pa;
    if (!from_a && memcmp(p->src, f->key.b, alen) != 0)
        from_a = memcmp(p->src, f->key.a, alen) == 0;
    return from_a == (bool)f->src_is_a ? 0 : 1;
}

static void sat_inc(uint8_t *v)
{
    if (*v < 255)
        (*v)++;
}

/* Looks for RTP in data carried by TURN (Send/Data indication, ChannelData). */
static void lx_inner(struct lx *x, int dir, struct cursor data)
{
    struct rtp_verdict r;
    if (!rtp_dissect(data, &r))
        return;
    if (r.kind == RTP_PACKET) {
        rtp_track_step(&x->rtp[dir], &r);
        x->rtp_pt = r.pt;
        sat_inc(&x->rtp_inner);
    } else {
        sat_inc(&x->rtcp);
        if (r.compound)
            sat_inc(&x->rtcp_compound);
        x->rtcp_ssrc = r.ssrc;
        x->rtcp_pt = r.pt;
    }
}

/* Takes one STUN verdict into the flow's state. */
static void lx_stun(struct lx *x, int dir, struct cursor msg, const struct stun_verdict *v)
{
    if (v->kind == STUN_CHANNEL_DATA) {
        sat_inc(&x->chan);
    } else {
        sat_inc(&x->stun);
        if (v->dialect > x->dialect)
            x->dialect = v->dialect;
        if (stun_is_ms(v)) {
            sat_inc(&x->ms);
            x->ms_attrs |= v->ms_attrs;
            if (v->ms_version)
                x->ms_version = v->ms_version;
        }
        if (v->method == 1)
            sat_inc(&x->binding);
        else
            sat_inc(&x->turn);
        if (v->ice)
            x->ice = true;
    }
    if (v->data_len && v->data_off < msg.len) {
        struct cursor d = msg;
        cur_skip(&d, v->data_off);
        lx_inner(x, dir, cur_sub(&d, v->data_len));
    }
}

static void lx_rtp(struct lx *x, int dir, const struct rtp_verdict *r)
{
    if (r->kind == RTP_PACKET) {
        rtp_track_step(&x->rtp[dir], r);
        x->rtp_pt = r->pt;
    } else if (r->kind == RTCP_PACKET) {
        sat_inc(&x->rtcp);
        if (r->compound)
            sat_inc(&x->rtcp_compound);
        x->rtcp_ssrc = r->ssrc;
        x->rtcp_pt = r->pt;
    }
}

static void lx_sip(struct lx *x, const struct sip_verdict *s)
{
    if (s->kind != SIP_REQUEST && s->kind != SIP_RESPONSE)
        return;
    if (!x->sip) {
        x->sip_method = s->kind == SIP_REQUEST ? (uint8_t)(s->method + 1) : 0;
        x->sip_status = s->status;
    }
    if (s->lync_method)
        x->sip_lync = (uint8_t)(s->method + 1);
    sat_inc(&x->sip);
}

static bool rtp_confirmed(const struct lx *x)
{
    return x->rtp[0].good >= RTP_CONFIRM || x->rtp[1].good >= RTP_CONFIRM;
}

static void lx_udp(struct lx *x, int dir, const struct packet *p, struct cursor c)
{
    if (p->sport == IKE_PORT || p->dport == IKE_PORT || p->sport == IKE_NATT_PORT ||
        p->dport == IKE_NATT_PORT) {
        struct ike_verdict k;
        if (ike_dissect(c, p->sport, p->dport, &k)) {
            if (k.kind == IKE_MESSAGE) {
                sat_inc(&x->ike);
                x->ike_version = k.version;
                if (k.natt)
                    x->ike_natt = 1;
            } else if (k.kind == IKE_ESP_IN_UDP) {
                sat_inc(&x->esp_udp);
                x->esp_spi = k.spi;
            }
            return;
        }
    }
    struct stun_verdict s;
    if (stun_dissect(c, true, &s)) {
        lx_stun(x, dir, c, &s);
        return;
    }
    struct rtp_verdict r;
    if (rtp_dissect(c, &r)) {
        lx_rtp(x, dir, &r);
        return;
    }
    struct sip_verdict sv;
    if (sip_dissect(c, &sv))
        lx_sip(x, &sv);
}

static void lx_tcp(struct lx *x, int dir, struct cursor c)
{
    struct sip_verdict sv;
    if (sip_dissect(c, &sv)) {
        lx_sip(x, &sv);
        return;
    }
    struct xmpp_verdict xv;
    if (xmpp_dissect(c, &xv)) {
        if (xv.kind == XMPP_STREAM) {
            sat_inc(&x->xmpp_stream);
            if (xv.server)
                x->xmpp_ns = 2;
            else if (xv.client && !x->xmpp_ns)
                x->xmpp_ns = 1;
        } else {
            sat_inc(&x->xmpp_elem);
            if (xv.kind == XMPP_STARTTLS)
                x->xmpp_starttls = true;
            if (xv.kind == XMPP_PROCEED)
                x->xmpp_proceed = true;
        }
        return;
    }
    struct tls_verdict tv;
    if (tls_dissect(c, &tv)) {
        sat_inc(&x->tls_pkts);
        if ((tv.handshakes & (1u << TLS_HS_CLIENT_HELLO)) && x->tls_hello_dir < 0)
            x->tls_hello_dir = (int8_t)dir;
        if (tv.sni)
            x->tls_sni = true;
        if (tv.handshakes & (1u << TLS_HS_SERVER_HELLO))
            x->tls_server_hello = true;
        if (tv.handshakes & (1u << TLS_HS_CERTIFICATE))
            x->tls_cert = true;
        if (tv.handshakes & (1u << TLS_HS_SERVER_HELLO_DONE))
            x->tls_shd = true;
        return;
    }
    /* MS-TURN over TCP: 4-byte framing, after the pseudo-TLS hello */
    uint8_t ftype;
    struct cursor body;
    struct stun_verdict s;
    if (msturn_tcp_frame(c, &ftype, &body)) {
        if (stun_dissect(body, false, &s) && s.kind == STUN_MESSAGE) {
            sat_inc(&x->msturn_tcp);
            lx_stun(x, dir, body, &s);
            return;
        }
        if (ftype == 0x03 && x->msturn_tcp) { /* end-to-end data: media, or TURN data */
            if (stun_dissect(body, false, &s))
                lx_stun(x, dir, body, &s);
            else
                lx_inner(x, dir, body);
            return;
        }
    }
    /* STUN/TURN over TCP (RFC 5389 7.2.2, no framing), several messages per segment */
    if (stun_dissect(c, false, &s) && (s.kind == STUN_MESSAGE || x->stun)) {
        struct cursor w = c;
        for (int i = 0; i < 8 && stun_dissect(w, false, &s); i++) {
            if (s.kind == STUN_CHANNEL_DATA && !x->stun)
                break;
            lx_stun(x, dir, w, &s);
            if (!cur_skip(&w, s.size) || w.len == 0)
                break;
        }
        return;
    }
    /* RFC 4571 framing (ICE-TCP, RTP over TCP): 16-bit length, then STUN or RTP */
    uint16_t flen = cur_peek_be16(&c, 0);
    if (c.len >= 14 && flen >= 12 && (size_t)flen + 2 <= c.len) {
        struct cursor f = c;
        cur_skip(&f, 2);
        f = cur_sub(&f, flen);
        if (stun_dissect(f, true, &s) && s.kind == STUN_MESSAGE && s.dialect != STUN_CLASSIC) {
            x->stun_tcp_framed = true;
            lx_stun(x, dir, f, &s);
            return;
        }
        struct rtp_verdict r;
        if (rtp_dissect(f, &r) && r.kind == RTP_PACKET) {
            sat_inc(&x->rtp_4571);
            lx_rtp(x, dir, &r);
        }
    }
}

/* True when the dissectors have seen enough of this flow. */
static bool lx_enough(const struct lx *x, uint8_t proto)
{
    if (x->pkts >= (proto == 6 ? LX_CAP_TCP : LX_CAP_UDP))
        return true;
    if (x->pkts >= LX_GIVEUP && !lx_found_any(x))
        return true;
    if (rtp_confirmed(x) && !x->turn && !x->chan && !x->msturn_tcp)
        return true;
    if (x->sip)
        return true;
    if (x->xmpp_stream && (x->xmpp_proceed || x->pkts >= 8))
        return true;
    return false;
}

/* Runs the dissectors over one packet of the flow. */
static void lx_packet(struct flow *f, struct live *lv, const struct packet *p)
{
    struct lx *x = &lv->lx;
    if ((p->proto != 6 && p->proto != 17) || p->fragment) {
        lv->lx_done = p->proto != 6 && p->proto != 17;
        return;
    }
    if (p->payload_len == 0)
        return;
    if (x->pkts == 0)
        x->tls_hello_dir = -1;
    x->pkts++;
    int dir = packet_dir(f, p);
    struct cursor c = cur_make(p->payload, p->payload_len);
    if (p->proto == 17)
        lx_udp(x, dir, p, c);
    else
        lx_tcp(x, dir, c);
    if (lx_enough(x, p->proto))
        lv->lx_done = true;
}

/* The ports of the flow: the server's is the one the ClientHello went to,
 * else the responder's. */
static uint16_t server_port(const struct flow *f, const struct lx *x)
{
    const uint8_t *src, *dst;
    uint16_t sport, dport;
    flow_endpoints(f, &src, &sport, &dst, &dport);
    return x && x->tls_hello_dir == 1 ? sport : dport;
}

static void ms_attr_list(const struct lx *x, char *out, size_t len)
{
    out[0] = '\0';
    for (unsigned b = 0; b < MSA_N; b++) {
        if (!(x->ms_attrs & (1u << b)))
            continue;
        size_t used = strlen(out);
        snprintf(out + used, len - used, "%s%s", used ? "," : "", stun_ms_attr_name(b));
    }
}

static const char *dialect_name(uint8_t d)
{
    return d == STUN_MSTURN ? "ms-turn" : d == STUN_RFC5389 ? "rfc5389" : d == STUN_CLASSIC ? "rfc3489" : "";
}

/* STUN/TURN detail: dialect, MS-VERSION, Microsoft attributes, what TURN carried. */
static void stun_detail(const struct lx *x, char *d, size_t len)
{
    if (x->ms_version)
        detail_addf(d, len, "msturn_version", "%u", (unsigned)x->ms_version);
    char attrs[256];
    ms_attr_list(x, attrs, sizeof attrs);
    detail_add(d, len, "attrs", attrs);
    detail_add(d, len, "dialect", dialect_name(x->dialect));
    detail_addf(d, len, "stun_msgs", "%u", x->stun);
    if (x->turn)
        detail_addf(d, len, "turn_msgs", "%u", x->turn);
    if (x->chan)
        detail_addf(d, len, "channel_data", "%u", x->chan);
    if (x->ice || x->binding)
        detail_add(d, len, "ice", x->ice ? "yes" : "binding");
    if (x->msturn_tcp)
        detail_add(d, len, "framing", "ms-turn-tcp");
    else if (x->stun_tcp_framed)
        detail_add(d, len, "framing", "rfc4571");
    if (rtp_confirmed(x))
        detail_add(d, len, "inner", "rtp");
    else if (x->rtcp_compound)
        detail_add(d, len, "inner", "rtcp");
}

static void rtp_detail(const struct lx *x, char *d, size_t len)
{
    const struct rtp_track *t = x->rtp[0].good >= x->rtp[1].good ? &x->rtp[0] : &x->rtp[1];
    detail_add(d, len, "ice", x->ice ? "yes" : x->binding ? "binding" : "no");
    detail_addf(d, len, "rtp_ssrc", "0x%08x", (unsigned)t->ssrc);
    detail_addf(d, len, "rtp_pt", "%u", x->rtp_pt);
    detail_addf(d, len, "pkts_checked", "%u", x->pkts);
    if (x->rtp_4571)
        detail_add(d, len, "framing", "rfc4571");
    if (x->rtcp)
        detail_add(d, len, "rtcp_mux", "yes");
}

/* Chooses the label from the dissectors' state and nDPI's verdict; writes
 * how it was reached into d. */
static unsigned choose(const struct classify *c, struct flow *f, const struct lx *x, char *d, size_t len)
{
    (void)c;
    uint16_t m = f->label.ndpi_master, a = f->label.ndpi_app;
    bool dpi = f->label.confidence == NDPI_CONFIDENCE_DPI || f->label.confidence == NDPI_CONFIDENCE_DPI_CACHE;
    bool ndpi_tls = dpi && (m == NDPI_PROTOCOL_TLS || a == NDPI_PROTOCOL_TLS);
    bool ndpi_rtp = dpi && (m == NDPI_PROTOCOL_RTP || a == NDPI_PROTOCOL_RTP);

    if (f->key.proto == 50) {
        detail_add(d, len, "ip_proto", "50");
        return CL_ESP;
    }
    if (f->key.proto == 51) {
        detail_add(d, len, "ip_proto", "51");
        return CL_AH;
    }
    if (!x)
        return CL_NDPI;
    if (x->stun)
        f->label.facts |= LABEL_F_STUN;
    if (x->ms)
        f->label.facts |= LABEL_F_MS_STUN;
    if (x->ice || x->binding)
        f->label.facts |= LABEL_F_ICE;
    if (rtp_confirmed(x))
        f->label.facts |= LABEL_F_MEDIA;
    if (x->ms_version)
        f->label.msturn_version = x->ms_version > 255 ? 255 : (uint8_t)x->ms_version;
    if (x->tls_pkts) {
        if (x->tls_hello_dir >= 0 || x->tls_pkts >= 2)
            f->label.facts |= LABEL_F_TLS;
        if (x->tls_sni)
            f->label.facts |= LABEL_F_TLS_SNI;
        if (x->tls_cert)
            f->label.facts |= LABEL_F_TLS_CERT;
    }

    if (x->ike) {
        detail_addf(d, len, "ike_version", "%u", x->ike_version);
        detail_addf(d, len, "ike_msgs", "%u", x->ike);
        if (x->ike_natt)
            detail_add(d, len, "natt", "yes");
        if (x->esp_udp)
            detail_addf(d, len, "esp_in_udp", "%u", x->esp_udp);
        return CL_IKE;
    }
    if (x->esp_udp >= 2 || (x->esp_udp && x->pkts == x->esp_udp)) {
        detail_addf(d, len, "esp_in_udp", "%u", x->esp_udp);
        detail_addf(d, len, "spi", "0x%08x", (unsigned)x->esp_spi);
        return CL_ESP;
    }
    if (x->sip) {
        if (x->sip_method)
            detail_add(d, len, "sip_method", sip_method_name(x->sip_method - 1u));
        else
            detail_addf(d, len, "sip_status", "%u", x->sip_status);
        if (x->sip_lync)
            detail_add(d, len, "lync_method", sip_method_name(x->sip_lync - 1u));
        return CL_SIP;
    }
    const uint8_t *src, *dst;
    uint16_t sport, dport;
    flow_endpoints(f, &src, &sport, &dst, &dport);
    bool xmpp_port = dport == 5222 || dport == 5269 || sport == 5222 || sport == 5269;
    if (x->xmpp_stream || (x->xmpp_elem && xmpp_port)) {
        detail_add(d, len, "xmpp", x->xmpp_stream ? "stream" : "element");
        if (x->xmpp_ns)
            detail_add(d, len, "ns", x->xmpp_ns == 2 ? "jabber:server" : "jabber:client");
        if (x->xmpp_starttls || x->xmpp_proceed)
            detail_add(d, len, "starttls", x->xmpp_proceed ? "yes" : "offered");
        return CL_XMPP;
    }
    if (x->msturn_tcp) {
        f->label.facts |= LABEL_F_PSEUDO_TLS | LABEL_F_MS_STUN | LABEL_F_STUN;
        f->label.facts &= (uint8_t)~LABEL_F_TLS;
        detail_add(d, len, "pseudo_tls", x->tls_pkts ? "yes" : "not seen");
        stun_detail(x, d, len);
        return CL_MSTURN;
    }
    bool turn = x->turn || x->chan;
    if (rtp_confirmed(x) && !turn) {
        rtp_detail(x, d, len);
        return CL_RTP;
    }
    if (!rtp_confirmed(x) && !turn && !x->stun && (x->rtcp_compound || x->rtcp >= 2)) {
        detail_addf(d, len, "rtcp_ssrc", "0x%08x", (unsigned)x->rtcp_ssrc);
        detail_addf(d, len, "rtcp_pt", "%u", x->rtcp_pt);
        detail_add(d, len, "compound", x->rtcp_compound ? "yes" : "no (srtcp?)");
        detail_addf(d, len, "pkts_checked", "%u", x->pkts);
        return CL_RTCP;
    }
    /* Classic (RFC 3489) STUN has no cookie: one message of it is weak. */
    bool stun_ok = x->stun && (x->dialect != STUN_CLASSIC || x->stun >= 2 ||
                               (dpi && (m == NDPI_PROTOCOL_STUN || a == NDPI_PROTOCOL_STUN)));
    if (x->ms && stun_ok) {
        stun_detail(x, d, len);
        return CL_MSTURN;
    }
    if (stun_ok) {
        stun_detail(x, d, len);
        return CL_STUN;
    }
    if (ndpi_tls || (x->tls_pkts && (x->tls_hello_dir >= 0 || x->tls_pkts >= 2))) {
        uint16_t port = server_port(f, x);
        enum tls_port_service svc = tls_port_service(port);
        if (x->tls_server_hello && x->tls_shd && !x->tls_cert && !x->tls_sni)
            f->label.facts |= LABEL_F_PSEUDO_TLS; /* a hello without certificate: MS-TURN's, or resumption */
        if (svc != TLS_PORT_OTHER) {
            detail_addf(d, len, "port", "%u", port);
            return svc == TLS_PORT_SIP ? CL_SIP_TLS : CL_PSOM;
        }
        if (!ndpi_tls && !dpi) {
            detail_addf(d, len, "tls_records", "%u pkts", x->tls_pkts);
            return CL_TLS;
        }
        return CL_NDPI;
    }
    bool ndpi_stun = dpi && (m == NDPI_PROTOCOL_STUN || a == NDPI_PROTOCOL_STUN);
    if (ndpi_stun && x->pkts && !x->stun && !x->chan && !x->msturn_tcp) {
        /* nDPI's STUN cache labels later flows of a STUN address:port without looking */
        detail_addf(d, len, "stun_unconfirmed", "%u pkts", x->pkts);
        return CL_UNKNOWN;
    }
    if (ndpi_rtp) {
        detail_addf(d, len, "rtp_unconfirmed", "%u pkts", x->rtp[0].seen + x->rtp[1].seen);
        return CL_UNKNOWN;
    }
    return CL_NDPI;
}

/* Decides the flow's label once nDPI and the dissectors are both done, and
 * frees the live state. */
static void finalize(struct classify *c, struct flow *f)
{
    struct live *lv = f->label.dpi;
    char d[DETAIL_MAX];
    d[0] = '\0';
    unsigned id = choose(c, f, lv ? &lv->lx : NULL, d, sizeof d);
    f->label.lync = (uint16_t)id;
    /* MS-TURN swaps NONCE and REALM: what nDPI took for the realm is the nonce. */
    bool drop_ndpi = id == CL_MSTURN && f->label.detail && !strncmp(f->label.detail, "realm=", 6) &&
                     lv && lv->lx.dialect == STUN_MSTURN;
    if (d[0]) {
        if (f->label.detail && !drop_ndpi)
            detail_add(d, sizeof d, "ndpi", f->label.detail);
        free(f->label.detail);
        f->label.detail = strdup(d);
    } else if (drop_ndpi) {
        free(f->label.detail);
        f->label.detail = NULL;
    }
    if (lv) {
        if (lv->nf)
            ndpi_flow_free(lv->nf);
        free(lv);
    }
    f->label.dpi = NULL;
    __atomic_store_n(&f->label.done, true, __ATOMIC_RELEASE); /* read by the reader thread */
}

/* nDPI stops here (packet cap or flow end): what it has, or its guess. */
static void ndpi_give_up(struct classify *c, struct flow *f, struct live *lv)
{
    struct ndpi_flow_struct *nf = lv->nf;
    ndpi_protocol r = {nf->detected_protocol_stack[1], nf->detected_protocol_stack[0],
                       NDPI_PROTOCOL_CATEGORY_UNSPECIFIED};
    if (r.app_protocol == NDPI_PROTOCOL_UNKNOWN) {
        uint8_t guessed = 0;
        r = ndpi_detection_giveup(c->mod, nf, 1, &guessed);
    }
    ndpi_decide(c, f, lv, r);
}

void classify_packet(struct classify *c, struct flow *f, const struct packet *p, int dir)
{
    (void)dir;
    if (f->label.done)
        return;
    struct live *lv = f->label.dpi;
    if (!lv) {
        lv = calloc(1, sizeof *lv);
        if (!lv)
            return; /* out of memory: the flow stays unlabelled, counted all the same */
        lv->nf = ndpi_flow_malloc(SIZEOF_FLOW_STRUCT);
        if (!lv->nf) {
            free(lv);
            return;
        }
        memset(lv->nf, 0, SIZEOF_FLOW_STRUCT);
        lv->lx.tls_hello_dir = -1;
        f->label.dpi = lv;
    }
    if (lv->nf) {
        struct ndpi_flow_struct *nf = lv->nf;
        ndpi_protocol r = ndpi_detection_process_packet(c->mod, nf, p->l3, p->l3len, p->ts_us / 1000);
        f->label.fed++;
        bool known = r.app_protocol != NDPI_PROTOCOL_UNKNOWN || r.master_protocol != NDPI_PROTOCOL_UNKNOWN;
        unsigned cap = f->key.proto == 6 ? CAP_TCP : CAP_OTHER;
        if (known && !ndpi_extra_dissection_possible(c->mod, nf)) {
            ndpi_decide(c, f, lv, r);
        } else if (f->label.fed >= cap) {
            ndpi_give_up(c, f, lv);
        }
    }
    if (!lv->lx_done)
        lx_packet(f, lv, p);
    if (!lv->nf && lv->lx_done)
        finalize(c, f);
}

void classify_finish(struct classify *c, struct flow *f)
{
    if (f->label.done)
        return;
    struct live *lv = f->label.dpi;
    if (lv && lv->nf)
        ndpi_give_up(c, f, lv);
    if (lv)
        finalize(c, f);
}

void classify_release(struct flow *f)
{
    struct live *lv = f->label.dpi;
    if (lv) {
        if (lv->nf)
            ndpi_flow_free(lv->nf);
        free(lv);
        f->label.dpi = NULL;
    }
    free(f->label.detail);
    f->label.detail = NULL;
}

const char *classify_proto_name(const struct classify *c, unsigned id)
{
    const char *n = ndpi_get_proto_name(c->mod, (u_int16_t)id);
    return n ? n : "Unknown";
}

const char *classify_confidence_name(const struct flow *f)
{
    return ndpi_confidence_get_name((ndpi_confidence_t)f->label.confidence);
}

const char *classify_app(const struct classify *c, const struct flow *f, char *buf, size_t len)
{
    if (f->label.lync != CL_NDPI && f->label.lync < CL_N)
        return label_names[f->label.lync];
    uint8_t conf = f->label.confidence;
    if (conf != NDPI_CONFIDENCE_DPI && conf != NDPI_CONFIDENCE_DPI_CACHE)
        return "unknown";
    unsigned id = f->label.ndpi_master ? f->label.ndpi_master : f->label.ndpi_app;
    if (id == NDPI_PROTOCOL_UNKNOWN)
        return "unknown";
    if (id == NDPI_PROTOCOL_JABBER)
        return "xmpp";
    const char *n = classify_proto_name(c, id);
    size_t i = 0;
    for (; n[i] && i + 1 < len; i++)
        buf[i] = (char)tolower((unsigned char)n[i]);
    buf[i] = '\0';
    return buf;
}

void classify_names(const struct classify *c, const struct flow *f, struct classify_names *out)
{
    const char *app = classify_app(c, f, out->app, sizeof out->app);
    if (app != out->app)
        snprintf(out->app, sizeof out->app, "%s", app);
    out->ndpi_master = classify_proto_name(c, f->label.ndpi_master);
    out->ndpi_app = classify_proto_name(c, f->label.ndpi_app);
    out->confidence = classify_confidence_name(f);
}
