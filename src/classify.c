/* classify.c - nDPI 4.2 and the table of Lync dissectors beside it (see classify.h). */
#include "classify.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <ndpi_api.h>

#include "dissect/dissectors.h"

#define CAP_TCP 80
#define CAP_OTHER 24

/* nDPI is fed at most this much payload of a flow (it buffers TCP payload:
 * TLS reassembly holds a record of up to 64 KiB until it completes). A
 * handshake nDPI can name fits well inside it; past it nDPI gives up. */
#define NDPI_FLOW_BYTES (16u * 1024u)

/* The dissectors look at this many payload packets at most, counted from
 * the first that is not STUN (media follows ICE checks, dozens of them in
 * Lync), and give up sooner when nothing they know has shown up.
 * Keep-alives (RFC 5626 CRLF, NAT keep-alives, other payloads shorter than
 * any message the dissectors know) do not count; LX_MAX_PKTS and
 * LX_MAX_KEEPALIVES bound what a flow may cost all the same. */
#define LX_CAP_UDP 32
#define LX_CAP_TCP 12
#define LX_GIVEUP 6
#define LX_MAX_PKTS 255
#define LX_MAX_KEEPALIVES 255
#define LX_SHORT 8

struct live;

struct classify {
    struct ndpi_detection_module_struct *mod;
    size_t budget;                /* payload bytes nDPI may hold over the module's flows (0: no bound) */
    size_t held;                  /* ... fed to the flows it still holds */
    struct live *oldest, *newest; /* the flows nDPI holds, in the order it took them */
    struct classify_stats st;
};

/* Why nDPI stopped before it decided on its own (struct live.ndpi_end). */
enum ndpi_end { NDPI_END_NONE, NDPI_END_LYNC, NDPI_END_FLOW_BYTES, NDPI_END_MEMORY };

/* classify's live state of a flow: nDPI until it decides, the dissectors until they are done. */
struct live {
    struct ndpi_flow_struct *nf;
    struct flow *f;
    struct live *older, *newer;   /* while nf: the module's list of what nDPI holds */
    uint32_t ndpi_bytes;          /* payload fed to nDPI */
    uint8_t ndpi_end;             /* enum ndpi_end */
    uint8_t ndpi_pkts;            /* packets fed when it stopped */
    bool lx_done;
    json_t *ndpi_detail;          /* take_detail's object, until finalize */
    struct dx_flow lx;
};

/* The label vocabulary, the one list of it: classify's own labels in the
 * order of enum classify_label, and nDPI's names (lower-cased by
 * classify_app) that rules expect. lua/dsl.lua receives the labels a rule
 * may name from classify_rule_label() (every one but "" and "unknown");
 * tests that load dsl.lua without the binary read these two lists from
 * this file (tests/rules/c_labels.lua). */
static const char *const label_names[CL_N] = {
    [CL_NDPI] = "", [CL_UNKNOWN] = "unknown", [CL_SIP] = "sip",   [CL_SIP_TLS] = "sip_tls",
    [CL_PSOM] = "psom", [CL_MSTURN] = "msturn", [CL_STUN] = "stun", [CL_RTP] = "rtp",
    [CL_RTCP] = "rtcp", [CL_XMPP] = "xmpp",     [CL_IKE] = "ike",   [CL_ESP] = "esp",
    [CL_AH] = "ah",     [CL_TLS] = "tls",
};
static const char *const ndpi_rule_labels[] = {"http", "dns", "dhcp"};

/* The transports whose packets a table row tracks. */
#define DX_UDP 0x01
#define DX_TCP 0x02

/* One row of the dissector table (dx.h says what each function does). */
struct dissector {
    unsigned label;     /* the label it gives (its label function may give a kin: rtcp, esp ...) */
    uint8_t transports; /* DX_*: whose packets it tracks (it may label any flow) */
    enum dx_claim (*track)(struct dx_flow *x, const struct dx_pkt *p); /* NULL: label only */
    bool (*settled)(const struct dx_flow *x);                          /* NULL: never early */
    bool (*label_fn)(const struct dx_flow *x, struct dx_view *v);      /* NULL: track only */
};

/* The dissectors in priority order: a packet goes to the first row that
 * claims it, a flow gets the label of the first row that names it. Adding a
 * dissector is its file in src/dissect/, its member of struct dx_flow and a
 * row here. STUN has two rows: its messages are claimed before RTP's, but
 * ICE checks followed by media are `rtp`. */
static const struct dissector DISSECTORS[] = {
    /* label      transports               track             settled        label */
    {CL_IKE,    DX_UDP,          ike_track,        NULL,          ike_label},
    {CL_SIP,    DX_UDP | DX_TCP, sip_track,        sip_settled,   sip_label},
    {CL_XMPP,   DX_TCP,          xmpp_track,       xmpp_settled,  xmpp_label},
    {CL_MSTURN, DX_TCP,          msturn_tcp_track, NULL,          msturn_tcp_label},
    {CL_STUN,   DX_UDP | DX_TCP, stun_track,       NULL,          NULL},
    {CL_RTP,    DX_UDP | DX_TCP, rtp_track,        rtp_settled,   rtp_label},
    {CL_STUN,   DX_UDP | DX_TCP, NULL,             NULL,          stun_label},
    {CL_TLS,    DX_TCP,          tls_track,        NULL,          tls_label},
};
#define N_DISSECTORS (sizeof DISSECTORS / sizeof DISSECTORS[0])


const char *classify_label_name(unsigned id)
{
    return id < CL_N ? label_names[id] : "";
}

const char *classify_rule_label(size_t i)
{
    const size_t own = CL_N - 2; /* all but CL_NDPI and CL_UNKNOWN */
    if (i < own)
        return label_names[i + 2];
    i -= own;
    return i < sizeof ndpi_rule_labels / sizeof ndpi_rule_labels[0] ? ndpi_rule_labels[i] : NULL;
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

void classify_set_budget(struct classify *c, size_t bytes)
{
    c->budget = bytes;
}

void classify_get_stats(const struct classify *c, struct classify_stats *out)
{
    *out = c->st;
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

static bool by_inspection(uint8_t confidence)
{
    return confidence == NDPI_CONFIDENCE_DPI || confidence == NDPI_CONFIDENCE_DPI_CACHE;
}

/* Copies what explains nDPI's verdict out of its flow state (freed next):
 * the names it read from the flow (SNI, certificate, realm, query, host),
 * its port guess under "ndpi". Kept in the live state until finalize. */
static void take_detail(struct classify *c, struct flow *f, struct live *lv)
{
    struct ndpi_flow_struct *nf = lv->nf;
    json_t *d = json_object();
    uint16_t m = f->label.ndpi_master, a = f->label.ndpi_app;
    uint16_t main_proto = m ? m : a;
    const char *host = nf->host_server_name[0] ? nf->host_server_name : NULL;

    switch (main_proto) {
    case NDPI_PROTOCOL_TLS:
    case NDPI_PROTOCOL_DTLS:
    case NDPI_PROTOCOL_QUIC:
        dx_set_text(d, "sni", host);
        dx_set_text(d, "subject", nf->protos.tls_quic.subjectDN);
        dx_set_text(d, "issuer", nf->protos.tls_quic.issuerDN);
        dx_set_text(d, "alpn", nf->protos.tls_quic.alpn);
        dx_set_text(d, "san", nf->protos.tls_quic.server_names);
        break;
    case NDPI_PROTOCOL_STUN:
        dx_set_text(d, "realm", host);
        break;
    case NDPI_PROTOCOL_DNS:
        dx_set_text(d, "query", host);
        break;
    default:
        dx_set_text(d, "host", host);
        break;
    }
    if (f->label.confidence == NDPI_CONFIDENCE_MATCH_BY_PORT ||
        f->label.confidence == NDPI_CONFIDENCE_MATCH_BY_IP) {
        char g[80];
        snprintf(g, sizeof g, "%s %s", ndpi_confidence_get_name(f->label.confidence),
                 classify_proto_name(c, main_proto));
        json_object_set_new(d, "ndpi", json_pack("{s:s}", "guess", g));
    }
    json_decref(lv->ndpi_detail);
    lv->ndpi_detail = d;
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

/* Frees nDPI's state of a flow and takes it off the module's list. */
static void ndpi_drop(struct classify *c, struct live *lv)
{
    if (!lv->nf)
        return;
    ndpi_flow_free(lv->nf);
    lv->nf = NULL;
    c->held -= lv->ndpi_bytes;
    c->st.ndpi_flows--;
    if (lv->older)
        lv->older->newer = lv->newer;
    else
        c->oldest = lv->newer;
    if (lv->newer)
        lv->newer->older = lv->older;
    else
        c->newest = lv->older;
    lv->older = lv->newer = NULL;
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
    take_detail(c, f, lv);
    ndpi_drop(c, lv);
    if (by_inspection(f->label.confidence) && !ndpi_refined(p.master_protocol) &&
        !ndpi_refined(p.app_protocol) && !lv->lx.found)
        lv->lx_done = true;
}

/* True when the dissectors have seen enough of this flow. A window spent
 * on ICE checks alone opens another for the media that follows them. */
static bool lx_enough(struct dx_flow *x, uint8_t proto)
{
    unsigned cap = proto == IPPROTO_TCP ? LX_CAP_TCP : LX_CAP_UDP;
    if (!x->ice_wait && x->pkts >= cap && x->stun_lead == x->pkts && stun_ice_only(x))
        x->ice_wait = true;
    if ((x->ice_wait ? (unsigned)(x->pkts - x->stun_lead) : x->pkts) >= cap || x->pkts >= LX_MAX_PKTS ||
        x->keepalives >= LX_MAX_KEEPALIVES)
        return true;
    if (x->pkts >= LX_GIVEUP && !x->found)
        return true;
    for (size_t i = 0; i < N_DISSECTORS; i++)
        if (DISSECTORS[i].settled && DISSECTORS[i].settled(x))
            return true;
    return false;
}

/* Hands one packet of the flow to the first row that claims it. */
static void lx_packet(struct live *lv, const struct packet *p, int dir)
{
    struct dx_flow *x = &lv->lx;
    bool tcp_udp = p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP;
    if (!tcp_udp || p->fragment) {
        lv->lx_done = !tcp_udp;
        return;
    }
    if (p->payload_len == 0)
        return;
    struct dx_pkt dp = {cur_make(p->payload, p->payload_len), dir, p->proto, p->sport, p->dport};
    uint8_t t = p->proto == IPPROTO_TCP ? DX_TCP : DX_UDP;
    enum dx_claim claim = DX_NOT_MINE;
    size_t i = 0;
    for (; i < N_DISSECTORS && claim == DX_NOT_MINE; i++) {
        const struct dissector *d = &DISSECTORS[i];
        claim = (d->transports & t) && d->track ? d->track(x, &dp) : DX_NOT_MINE;
    }
    if (claim == DX_KEEPALIVE || (claim == DX_NOT_MINE && p->payload_len < LX_SHORT)) {
        dx_inc(&x->keepalives);
    } else {
        x->pkts++;
        if (claim == DX_CLAIMED)
            x->found = true;
        if (claim == DX_CLAIMED && DISSECTORS[i - 1].label == CL_STUN && x->stun_lead + 1 == x->pkts)
            x->stun_lead++;
    }
    if (lx_enough(x, p->proto))
        lv->lx_done = true;
}

/* nDPI said STUN or RTP and the packets did not bear it out (nDPI's STUN
 * cache labels later flows of a STUN address:port without looking; its RTP
 * takes one packet): unknown, or nDPI's label. */
static unsigned ndpi_fallback(const struct dx_flow *x, struct dx_view *v)
{
    if (v->ndpi_stun && x->pkts && !x->stun.msgs && !x->stun.chan && !x->stun.tcp_framed) {
        dx_detail_uint(v, "stun_unconfirmed", x->pkts);
        return CL_UNKNOWN;
    }
    if (v->ndpi_rtp) {
        dx_detail_uint(v, "rtp_unconfirmed", x->rtp.track[0].seen + x->rtp.track[1].seen);
        return CL_UNKNOWN;
    }
    return CL_NDPI;
}

/* Chooses the label: the first table row that names the flow, else the
 * nDPI fallbacks; writes how it was reached into v. */
static unsigned choose(struct flow *f, const struct dx_flow *x, struct dx_view *v)
{
    uint16_t m = f->label.ndpi_master, a = f->label.ndpi_app;
    const uint8_t *src, *dst;
    flow_endpoints(f, &src, &v->sport, &dst, &v->dport);
    v->proto = f->key.proto;
    v->dpi = by_inspection(f->label.confidence);
    v->ndpi_tls = v->dpi && (m == NDPI_PROTOCOL_TLS || a == NDPI_PROTOCOL_TLS);
    v->ndpi_main_tls = v->dpi && (m ? m : a) == NDPI_PROTOCOL_TLS;
    v->ndpi_stun = v->dpi && (m == NDPI_PROTOCOL_STUN || a == NDPI_PROTOCOL_STUN);
    v->ndpi_rtp = v->dpi && (m == NDPI_PROTOCOL_RTP || a == NDPI_PROTOCOL_RTP);
    for (size_t i = 0; i < N_DISSECTORS; i++) {
        const struct dissector *d = &DISSECTORS[i];
        if (d->label_fn && d->label_fn(x, v))
            return v->label;
    }
    return ndpi_fallback(x, v);
}

/* The label is final: the reader may stop handing the flow's packets on.
 * Written by the thread that classifies (classify_packet, classify_finish),
 * read by the reader's classify_decided(). */
static void publish_decided(struct flow *f)
{
    __atomic_store_n(&f->label.done, true, __ATOMIC_RELEASE);
}

/* Adds nDPI's part to the detail d: the names it read beside the
 * dissectors' keys (its "realm" dropped where MS-TURN put the nonce there),
 * its notes in d.ndpi, with why and after how many packets lyncaudit
 * stopped feeding it. */
static void ndpi_detail_merge(json_t *d, const struct live *lv, bool realm_is_nonce)
{
    static const char *const why[] = {"", "lync", "flow_bytes", "memory"};
    if (lv->ndpi_detail) {
        if (realm_is_nonce)
            json_object_del(lv->ndpi_detail, "realm");
        json_object_update_missing(d, lv->ndpi_detail);
    }
    if (lv->ndpi_end == NDPI_END_NONE)
        return;
    json_t *n = json_object_get(d, "ndpi");
    if (!n)
        json_object_set_new(d, "ndpi", n = json_object());
    json_object_set_new(n, "stopped", json_string(why[lv->ndpi_end]));
    json_object_set_new(n, "pkts", json_integer(lv->ndpi_pkts));
}

/* Frees a flow's live state. */
static void live_free(struct live *lv)
{
    if (lv->nf)
        ndpi_flow_free(lv->nf);
    json_decref(lv->ndpi_detail);
    free(lv);
}

/* Decides the flow's label once nDPI and the dissectors are both done, and
 * frees the live state. app_detail is the JSON text of one object. */
static void finalize(struct classify *c, struct flow *f, struct live *lv)
{
    json_t *d = json_object();
    struct dx_view v = {.d = d};
    unsigned id = choose(f, &lv->lx, &v);
    f->label.lync = (uint16_t)id;
    f->label.facts = v.facts;
    if (d)
        ndpi_detail_merge(d, lv, v.ndpi_realm_is_nonce);
    free(f->label.detail);
    f->label.detail = json_object_size(d) ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    if (stun_call_seen(&lv->lx.stun.call) && (f->label.call = malloc(sizeof *f->label.call)))
        *f->label.call = lv->lx.stun.call;
    ndpi_drop(c, lv);
    live_free(lv);
    f->label.dpi = NULL;
    publish_decided(f);
}

/* nDPI stops here (packet cap, flow end, a byte bound): what it has, or its guess. */
static void ndpi_give_up(struct classify *c, struct flow *f, struct live *lv)
{
    struct ndpi_flow_struct *nf = lv->nf;
    lv->ndpi_pkts = f->label.fed;
    ndpi_protocol r = {nf->detected_protocol_stack[1], nf->detected_protocol_stack[0],
                       NDPI_PROTOCOL_CATEGORY_UNSPECIFIED};
    if (r.app_protocol == NDPI_PROTOCOL_UNKNOWN) {
        uint8_t guessed = 0;
        r = ndpi_detection_giveup(c->mod, nf, 1, &guessed);
    }
    ndpi_decide(c, f, lv, r);
}

static void ndpi_hold(struct classify *c, struct live *lv);

/* The flow's live state, made on its first packet; NULL when memory runs out. */
static struct live *live_of(struct classify *c, struct flow *f)
{
    struct live *lv = f->label.dpi;
    if (lv)
        return lv;
    lv = calloc(1, sizeof *lv);
    if (!lv)
        return NULL;
    lv->nf = ndpi_flow_malloc(SIZEOF_FLOW_STRUCT);
    if (!lv->nf) {
        free(lv);
        return NULL;
    }
    memset(lv->nf, 0, SIZEOF_FLOW_STRUCT);
    lv->f = f;
    ndpi_hold(c, lv);
    f->label.dpi = lv;
    return lv;
}

/* Puts the flow on the module's list of what nDPI holds, at its first packet. */
static void ndpi_hold(struct classify *c, struct live *lv)
{
    lv->older = c->newest;
    if (c->newest)
        c->newest->newer = lv;
    else
        c->oldest = lv;
    c->newest = lv;
    if (++c->st.ndpi_flows > c->st.peak_ndpi_flows)
        c->st.peak_ndpi_flows = c->st.ndpi_flows;
}

/* Past the module's budget: nDPI gives up on the flows it has held longest
 * (the one being fed may be among them; the others that the dissectors are
 * done with are decided now, freeing their state). */
static void ndpi_shed(struct classify *c, struct live *cur)
{
    if (c->held > c->st.peak_held)
        c->st.peak_held = c->held;
    while (c->budget && c->held > c->budget && c->oldest) {
        struct live *o = c->oldest;
        o->ndpi_end = NDPI_END_MEMORY;
        c->st.stopped_memory++;
        ndpi_give_up(c, o->f, o);
        if (o != cur && o->lx_done)
            finalize(c, o->f, o);
    }
}

/* The label is settled by the dissectors alone: one of the Lync labels
 * (their rows before it do not read nDPI's verdict, nor does theirs). */
static bool lync_settled(struct flow *f, struct live *lv)
{
    struct dx_view v = {.d = NULL}; /* no detail wanted; nDPI undecided: its fields are 0 */
    switch (choose(f, &lv->lx, &v)) {
    case CL_SIP: case CL_STUN: case CL_MSTURN: case CL_RTP: case CL_RTCP:
    case CL_IKE: case CL_ESP: case CL_AH: case CL_XMPP:
        return true;
    default:
        return false;
    }
}

/* The dissectors are done with a flow nDPI has not decided: when their
 * label is settled, nDPI is fed no more and keeps what it has. */
static void ndpi_stop_if_settled(struct classify *c, struct flow *f, struct live *lv)
{
    if (!lync_settled(f, lv))
        return;
    struct ndpi_flow_struct *nf = lv->nf;
    lv->ndpi_end = NDPI_END_LYNC;
    lv->ndpi_pkts = f->label.fed;
    c->st.stopped_lync++;
    ndpi_protocol r = {nf->detected_protocol_stack[1], nf->detected_protocol_stack[0],
                       NDPI_PROTOCOL_CATEGORY_UNSPECIFIED};
    ndpi_decide(c, f, lv, r);
}

/* One packet for nDPI, within the flow's byte bound and the module's budget. */
static void ndpi_packet(struct classify *c, struct flow *f, struct live *lv, const struct packet *p)
{
    if (lv->ndpi_bytes + p->payload_len > NDPI_FLOW_BYTES) {
        lv->ndpi_end = NDPI_END_FLOW_BYTES;
        c->st.stopped_bytes++;
        ndpi_give_up(c, f, lv);
        return;
    }
    struct ndpi_flow_struct *nf = lv->nf;
    ndpi_protocol r = ndpi_detection_process_packet(c->mod, nf, p->l3, p->l3len, p->ts_us / 1000);
    f->label.fed++;
    lv->ndpi_bytes += p->payload_len;
    c->held += p->payload_len;
    bool known = r.app_protocol != NDPI_PROTOCOL_UNKNOWN || r.master_protocol != NDPI_PROTOCOL_UNKNOWN;
    unsigned cap = f->key.proto == IPPROTO_TCP ? CAP_TCP : CAP_OTHER;
    if (known && !ndpi_extra_dissection_possible(c->mod, nf))
        ndpi_decide(c, f, lv, r);
    else if (f->label.fed >= cap)
        ndpi_give_up(c, f, lv);
    ndpi_shed(c, lv);
}

void classify_packet(struct classify *c, struct flow *f, const struct packet *p, int dir)
{
    if (f->label.done)
        return;
    struct live *lv = live_of(c, f);
    if (!lv)
        return; /* out of memory: the flow stays unlabelled, counted all the same */
    if (lv->nf)
        ndpi_packet(c, f, lv, p);
    if (!lv->lx_done) {
        lx_packet(lv, p, dir);
        if (lv->lx_done && lv->nf)
            ndpi_stop_if_settled(c, f, lv);
    }
    if (!lv->nf && lv->lx_done)
        finalize(c, f, lv);
}

void classify_finish(struct classify *c, struct flow *f)
{
    if (f->label.done)
        return;
    struct live *lv = f->label.dpi;
    if (!lv)
        return;
    if (lv->nf)
        ndpi_give_up(c, f, lv);
    finalize(c, f, lv);
}

void classify_release(struct flow *f)
{
    struct live *lv = f->label.dpi;
    if (lv) {
        live_free(lv);
        f->label.dpi = NULL;
    }
    free(f->label.detail);
    f->label.detail = NULL;
    free(f->label.call);
    f->label.call = NULL;
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
    if (!by_inspection(f->label.confidence))
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
