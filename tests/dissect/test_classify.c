/* test_classify.c - labels end to end through classify (nDPI + dissectors).
 *
 * Real bytes, moved: the first TLS flow of nDPI/teams.pcap (ClientHello with
 * SNI, certificate) replayed with its server port 443 changed to 5061 (SIP
 * over TLS), 8057 (PSOM) and 5070 (Mediation MTLS); on 443 it stays `tls` with
 * the fact (TLS, no port-named service) the audit stage refines by role. The real MS-TURN Allocate and its
 * error response from teams.pcap carried in MS-TURN's TCP framing after a
 * pseudo-TLS hello (hand-built framing and hello: no capture has MS-TURN over
 * TCP 443). A Lync NEGOTIATE over TCP (hand-built: nDPI 4.2 gives up on it).
 * ICE then media: nDPI/skype-conference-call.pcap is `rtp` with ice=yes. */
#include <stdlib.h>
#include <string.h>

#include "../unit/check.h"
#include "classify.h"
#include "dissect/msturn.h"
#include "dissect/rtp.h"
#include "dissect/tls.h"
#include "flow.h"
#include "ingest.h"
#include "pcapwalk.h"

struct result {
    char app[32];
    char detail[512];
    uint8_t facts;
    unsigned flows;
    struct stun_call call;
};

struct run {
    struct classify *cls;
    struct result last;
    uint16_t watch_port; /* a flow with this port is kept in `watched` */
    struct result watched;
};

static void on_end(struct flow *f, void *ctx)
{
    struct run *r = ctx;
    classify_finish(r->cls, f);
    char buf[32];
    snprintf(r->last.app, sizeof r->last.app, "%s", classify_app(r->cls, f, buf, sizeof buf));
    snprintf(r->last.detail, sizeof r->last.detail, "%s", f->label.detail ? f->label.detail : "");
    r->last.facts = f->label.facts;
    memset(&r->last.call, 0, sizeof r->last.call);
    if (f->label.call)
        r->last.call = *f->label.call;
    r->last.flows++;
    if (r->watch_port && (f->key.pa == r->watch_port || f->key.pb == r->watch_port))
        r->watched = r->last;
    classify_release(f);
}

/* Raw IPv4 packets of one flow, in order. */
struct pkts {
    uint8_t *l3[128];
    uint16_t len[128];
    unsigned n;
};

static void add(struct pkts *k, const uint8_t *l3, size_t len)
{
    if (k->n == 128)
        return;
    k->l3[k->n] = malloc(len);
    memcpy(k->l3[k->n], l3, len);
    k->len[k->n++] = (uint16_t)len;
}

static void free_pkts(struct pkts *k)
{
    for (unsigned i = 0; i < k->n; i++)
        free(k->l3[i]);
    k->n = 0;
}

/* ingest's classify gate: straight to classify, on this thread. */
static void gate(void *cls, struct flow *f, const struct packet *p, int dir)
{
    classify_packet(cls, f, p, dir);
}

/* Runs the packets through ingest (decode, flow) + classify as one run; server port 443 becomes `port`. */
static struct result run_flow(const struct pkts *k, uint16_t port)
{
    char err[256];
    struct run r;
    memset(&r, 0, sizeof r);
    r.cls = classify_new(err, sizeof err);
    struct flow_config fc = {0};
    struct flow_table *t = flow_table_new(&fc, on_end, &r);
    struct ingest in;
    ingest_init(&in, t, NULL, gate, r.cls);
    for (unsigned i = 0; i < k->n; i++) {
        uint8_t buf[2048];
        memcpy(buf, k->l3[i], k->len[i]);
        size_t ihl = (size_t)(buf[0] & 0x0F) * 4;
        for (size_t o = ihl; o <= ihl + 2; o += 2) {
            if (buf[o] == 443 >> 8 && buf[o + 1] == (443 & 0xFF)) {
                buf[o] = (uint8_t)(port >> 8);
                buf[o + 1] = (uint8_t)port;
            }
        }
        CHECK(ingest_frame(&in, DLT_RAW, 1000000u + i * 1000u, k->len[i], buf, k->len[i]) == DECODE_OK);
    }
    flow_table_end_all(t);
    flow_table_free(t);
    classify_free(r.cls);
    return r.last;
}

/* The first TCP/443 flow with a ClientHello naming a server, and teams' MS-TURN messages. */
struct pick {
    uint16_t client_port;
    struct pkts tls;
    uint8_t alloc[512], err[512];
    size_t alloc_len, err_len;
};

static void on_packet(const struct packet *p, unsigned idx, void *ctx)
{
    (void)idx;
    struct pick *k = ctx;
    struct cursor c = payload_cursor(p);
    if (p->proto == 17 && p->ipver == 4) {
        struct stun_verdict v;
        if (stun_dissect(c, true, &v) && v.dialect == STUN_MSTURN && c.len <= 512) {
            if (v.type == 0x0003 && !k->alloc_len) {
                memcpy(k->alloc, c.p, c.len);
                k->alloc_len = c.len;
            } else if (v.type == 0x0113 && !k->err_len) {
                memcpy(k->err, c.p, c.len);
                k->err_len = c.len;
            }
        }
        return;
    }
    if (p->proto != 6 || p->ipver != 4 || !has_port(p, 443) || p->l3len > 2048)
        return;
    if (!k->client_port) {
        struct tls_verdict v;
        if (p->dport == 443 && tls_dissect(c, &v) && v.sni)
            k->client_port = p->sport;
        else
            return;
    }
    if (p->sport == k->client_port || p->dport == k->client_port)
        add(&k->tls, p->l3, p->l3len);
}

/* An IPv4 TCP (flags) or UDP packet around payload between 10.1.1.10:50123
 * and 192.0.2.44:443 (hand-built headers; checksums left zero). */
static void ip_packet(struct pkts *k, uint8_t proto, int from_client, uint8_t flags, const uint8_t *pl, size_t n)
{
    uint8_t b[1600] = {0};
    size_t l4 = proto == IPPROTO_TCP ? 20 : 8, len = 20 + l4 + n;
    b[0] = 0x45;
    b[2] = (uint8_t)(len >> 8);
    b[3] = (uint8_t)len;
    b[8] = 64;
    b[9] = proto;
    uint8_t cli[4] = {10, 1, 1, 10}, srv[4] = {192, 0, 2, 44};
    memcpy(b + 12, from_client ? cli : srv, 4);
    memcpy(b + 16, from_client ? srv : cli, 4);
    uint16_t cp = 50123, sp = 443;
    b[20] = (uint8_t)((from_client ? cp : sp) >> 8);
    b[21] = (uint8_t)(from_client ? cp : sp);
    b[22] = (uint8_t)((from_client ? sp : cp) >> 8);
    b[23] = (uint8_t)(from_client ? sp : cp);
    if (proto == IPPROTO_TCP) {
        b[32] = 0x50;
        b[33] = flags;
        b[34] = 0xFF;
    } else {
        b[24] = (uint8_t)((8 + n) >> 8);
        b[25] = (uint8_t)(8 + n);
    }
    if (n)
        memcpy(b + 20 + l4, pl, n);
    add(k, b, len);
}

static void tcp_packet(struct pkts *k, int from_client, uint8_t flags, const uint8_t *pl, size_t n)
{
    ip_packet(k, IPPROTO_TCP, from_client, flags, pl, n);
}

static void handshake(struct pkts *k)
{
    tcp_packet(k, 1, 0x02, NULL, 0);
    tcp_packet(k, 0, 0x12, NULL, 0);
    tcp_packet(k, 1, 0x10, NULL, 0);
}

static void framed(struct pkts *k, int from_client, const uint8_t *m, size_t n)
{
    uint8_t b[600] = {0x02, 0x00, (uint8_t)(n >> 8), (uint8_t)n};
    memcpy(b + 4, m, n);
    tcp_packet(k, from_client, 0x18, b, n + 4);
}

static void test_tls_ports(struct pick *k)
{
    CHECK(k->tls.n >= 6);
    struct result r = run_flow(&k->tls, 443);
    CHECK(!strcmp(r.app, "tls"));
    CHECK_EQ_U(r.facts, LABEL_F_TLS);
    CHECK(strstr(r.detail, "\"sni\":\"") != NULL);
    r = run_flow(&k->tls, 5061);
    CHECK(!strcmp(r.app, "sip_tls"));
    CHECK_EQ_U(r.facts, LABEL_F_TLS | LABEL_F_TLS_PORT);
    CHECK(strstr(r.detail, "\"port\":5061") != NULL && strstr(r.detail, "\"sni\":\"") != NULL);
    r = run_flow(&k->tls, 5070);
    CHECK(!strcmp(r.app, "sip_tls"));
    r = run_flow(&k->tls, 8057);
    CHECK(!strcmp(r.app, "psom"));
    CHECK(strstr(r.detail, "\"port\":8057") != NULL);
}

static void test_msturn_tcp(struct pick *k)
{
    CHECK(k->alloc_len > 0 && k->err_len > 0);
    struct pkts f = {0};
    handshake(&f);
    /* pseudo-TLS ClientHello: TLS 1.0, no extensions ([MS-TURN] 2.1.4) */
    uint8_t ch[5 + 4 + 2 + 32 + 1 + 4 + 2] = {0x16, 0x03, 0x01, 0x00, 4 + 2 + 32 + 1 + 4 + 2,
                                             0x01, 0x00, 0x00, 2 + 32 + 1 + 4 + 2, 0x03, 0x01};
    size_t o = 5 + 4 + 2 + 32;
    ch[o++] = 0;                   /* session id */
    ch[o++] = 0; ch[o++] = 2;      /* one cipher suite */
    ch[o++] = 0x00; ch[o++] = 0x2F;
    ch[o++] = 1; ch[o++] = 0;      /* null compression */
    tcp_packet(&f, 1, 0x18, ch, sizeof ch);
    /* ServerHello + ServerHelloDone, no certificate */
    uint8_t sh[5 + 4 + 38 + 4 + 3] = {0x16, 0x03, 0x01, 0x00, 4 + 38 + 3 + 4, 0x02, 0x00, 0x00, 38 + 3, 0x03, 0x01};
    sh[5 + 4 + 2 + 32] = 0; sh[5 + 4 + 2 + 32 + 1] = 0x00; sh[5 + 4 + 2 + 32 + 2] = 0x2F;
    sh[5 + 4 + 41] = 0x0e;
    tcp_packet(&f, 0, 0x18, sh, sizeof sh);
    framed(&f, 1, k->alloc, k->alloc_len);
    framed(&f, 0, k->err, k->err_len);
    framed(&f, 1, k->alloc, k->alloc_len);
    struct result r = run_flow(&f, 443);
    CHECK(!strcmp(r.app, "msturn"));
    CHECK_EQ_U(r.facts, 0); /* the pseudo-TLS hello is no TLS for the audit */
    CHECK(strstr(r.detail, "\"pseudo_tls\":\"yes") && strstr(r.detail, "\"msturn_version\":6") &&
          strstr(r.detail, "\"framing\":\"ms-turn-tcp") && strstr(r.detail, "MAGIC-COOKIE"));
    free_pkts(&f);
}

static void test_negotiate(void)
{
    struct pkts f = {0};
    handshake(&f);
    const char *req = "NEGOTIATE sip:fe01.contoso.local:5061;transport=tls SIP/2.0\r\n"
                      "Via: SIP/2.0/TCP 10.1.1.10:50123\r\nMax-Forwards: 70\r\n"
                      "Content-Length: 0\r\n\r\n";
    const char *resp = "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n";
    tcp_packet(&f, 1, 0x18, (const uint8_t *)req, strlen(req));
    tcp_packet(&f, 0, 0x18, (const uint8_t *)resp, strlen(resp));
    struct result r = run_flow(&f, 5060);
    CHECK(!strcmp(r.app, "sip"));
    CHECK(strstr(r.detail, "\"sip_method\":\"NEGOTIATE") && strstr(r.detail, "\"lync_method\":\"NEGOTIATE"));
    free_pkts(&f);
}

/* Every frame of dir/name through ingest into classify (as lyncaudit
 * reads a file, on one thread); the flows end at the end of the file.
 * Returns the number of frames, or -1. */
static int ingest_pcap(const char *dir, const char *name, struct run *r)
{
    char path[1024], err[PCAP_ERRBUF_SIZE];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    pcap_t *pc = pcap_open_offline(path, err);
    if (!pc)
        return -1;
    struct flow_config fc = {0};
    struct flow_table *t = flow_table_new(&fc, on_end, r);
    struct ingest in;
    ingest_init(&in, t, NULL, gate, r->cls);
    struct pcap_pkthdr *h;
    const u_char *data;
    while (pcap_next_ex(pc, &h, &data) == 1)
        ingest_frame(&in, pcap_datalink(pc), (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec, h->len,
                     data, h->caplen);
    pcap_close(pc);
    flow_table_end_all(t);
    flow_table_free(t);
    return (int)in.n.packets;
}

static void test_ice_then_media(const char *dir)
{
    char err[256];
    struct run r;
    memset(&r, 0, sizeof r);
    r.cls = classify_new(err, sizeof err);
    CHECK(ingest_pcap(dir, "nDPI/skype-conference-call.pcap", &r) == 200);
    classify_free(r.cls);
    CHECK_EQ_U(r.last.flows, 1);
    CHECK(!strcmp(r.last.app, "rtp")); /* nDPI: STUN.SkypeCall */
    CHECK(strstr(r.last.detail, "\"ice\":\"yes") && strstr(r.last.detail, "\"rtp_ssrc\":\"0x"));
}

/* Runs a whole capture through ingest + classify; the flow with `port` is kept. */
static struct result run_capture(const char *dir, const char *name, uint16_t port)
{
    char err[256];
    struct run r;
    memset(&r, 0, sizeof r);
    r.cls = classify_new(err, sizeof err);
    r.watch_port = port;
    CHECK(ingest_pcap(dir, name, &r) > 0);
    classify_free(r.cls);
    return r.watched;
}

/* SIP over TCP after RFC 5626 CRLF keep-alives and 4-byte ones of a phone:
 * more of them than the give-up budget (6), then the REGISTER. nDPI gives
 * up on SIP at the first non-SIP payload of a TCP flow. */
static void test_keepalives(void)
{
    struct pkts f = {0};
    handshake(&f);
    static const uint8_t zero4[4] = {0};
    for (int i = 0; i < 10; i++) {
        tcp_packet(&f, 1, 0x18, (const uint8_t *)"\r\n\r\n", 4);
        if (i % 3 == 0)
            tcp_packet(&f, 0, 0x18, (const uint8_t *)"\r\n", 2);
        if (i % 4 == 0)
            tcp_packet(&f, 1, 0x18, zero4, sizeof zero4);
    }
    const char *req = "REGISTER sip:contoso.com SIP/2.0\r\nVia: SIP/2.0/TCP 10.1.1.10:50123\r\n"
                      "Content-Length: 0\r\n\r\n";
    tcp_packet(&f, 1, 0x18, (const uint8_t *)req, strlen(req));
    struct result r = run_flow(&f, 5060);
    CHECK(!strcmp(r.app, "sip"));
    CHECK(strstr(r.detail, "\"sip_method\":\"REGISTER") != NULL);
    free_pkts(&f);
}

/* One flow's STUN and RTP packets of nDPI/skype-conference-call.pcap. */
struct ice_media {
    struct pkts stun, rtp;
};

static void on_ice_media(const struct packet *p, unsigned idx, void *ctx)
{
    (void)idx;
    struct ice_media *m = ctx;
    struct stun_verdict sv;
    struct rtp_verdict rv;
    if (p->proto != IPPROTO_UDP || p->ipver != 4 || p->l3len > 1600)
        return;
    if (stun_dissect(payload_cursor(p), true, &sv) && sv.kind == STUN_MESSAGE)
        add(&m->stun, p->l3, p->l3len);
    else if (rtp_dissect(payload_cursor(p), &rv) && rv.kind == RTP_PACKET && m->rtp.n < 12)
        add(&m->rtp, p->l3, p->l3len);
}

/* Media after a long ICE phase: the capture's real ICE checks (MS-ICE
 * attributes) replayed past the 32-packet window, then its real RTP. */
static void test_long_ice(const char *dir)
{
    struct ice_media m = {0};
    CHECK(walk_pcap(dir, "nDPI/skype-conference-call.pcap", on_ice_media, &m) == 200);
    CHECK(m.stun.n >= 10 && m.rtp.n == 12);
    struct pkts f = {0};
    while (f.n < 45 && m.stun.n)
        for (unsigned i = 0; i < m.stun.n && f.n < 45; i++)
            add(&f, m.stun.l3[i], m.stun.len[i]);
    for (unsigned i = 0; i < m.rtp.n; i++)
        add(&f, m.rtp.l3[i], m.rtp.len[i]);
    struct result r = run_flow(&f, 443);
    CHECK(!strcmp(r.app, "rtp"));
    CHECK(strstr(r.detail, "\"ice\":\"yes") != NULL);
    free_pkts(&f);
    free_pkts(&m.stun);
    free_pkts(&m.rtp);
}

/* SRTCP after ICE: nDPI/teams.pcap's 192.168.1.6:50036 - 93.71.110.205:16333
 * has 6 MS-ICE checks, then two SRTCP packets (E bit, index, tag). */
static void test_srtcp_after_ice(const char *dir)
{
    struct result r = run_capture(dir, "nDPI/teams.pcap", 16333);
    CHECK(!strcmp(r.app, "rtcp"));
    CHECK(strstr(r.detail, "\"compound\":\"no (srtcp?)") != NULL);
}

/* A TLS flow whose only record is the server's Alert (handshake_failure). */
static void test_alert_only(void)
{
    struct pkts f = {0};
    handshake(&f);
    static const uint8_t alert[7] = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28};
    tcp_packet(&f, 0, 0x18, alert, sizeof alert);
    struct result r = run_flow(&f, 5061);
    CHECK(!strcmp(r.app, "sip_tls"));
    CHECK(strstr(r.detail, "\"port\":5061") != NULL);
    r = run_flow(&f, 443);
    CHECK(!strcmp(r.app, "tls"));
    free_pkts(&f);
}

/* Legacy Skype's first two payloads on 443 (nDPI/skype__old2020.pcap,
 * 192.168.1.34:50039): an SSLv2-style ClientHello, then bytes of its own. */
struct skype {
    uint8_t hello[128], next[128];
    size_t hello_len, next_len;
};

static void on_skype(const struct packet *p, unsigned idx, void *ctx)
{
    (void)idx;
    struct skype *k = ctx;
    if (p->proto != IPPROTO_TCP || p->sport != 50039 || !p->payload_len || p->payload_len > 128)
        return;
    if (!k->hello_len) {
        memcpy(k->hello, p->payload, p->payload_len);
        k->hello_len = p->payload_len;
    } else if (!k->next_len) {
        memcpy(k->next, p->payload, p->payload_len);
        k->next_len = p->payload_len;
    }
}

/* A fake SSLv2 hello followed by non-TLS bytes is not TLS; the same hello
 * answered by a TLS ServerHello is. */
static void test_fake_sslv2(const char *dir)
{
    struct result r = run_capture(dir, "nDPI/skype__old2020.pcap", 50039);
    CHECK(!strcmp(r.app, "unknown"));
    struct skype k = {0};
    CHECK(walk_pcap(dir, "nDPI/skype__old2020.pcap", on_skype, &k) > 0);
    CHECK(k.hello_len == 72 && k.hello[0] == 0x80 && k.next_len > 0);
    struct pkts f = {0};
    handshake(&f);
    tcp_packet(&f, 1, 0x18, k.hello, k.hello_len);
    tcp_packet(&f, 1, 0x18, k.next, k.next_len);
    r = run_flow(&f, 443);
    CHECK(strcmp(r.app, "tls") != 0);
    free_pkts(&f);
    handshake(&f);
    tcp_packet(&f, 1, 0x18, k.hello, k.hello_len);
    uint8_t sh[5 + 4 + 38 + 4 + 3] = {0x16, 0x03, 0x01, 0x00, 4 + 38 + 3 + 4, 0x02, 0x00, 0x00, 38 + 3, 0x03, 0x01};
    sh[5 + 4 + 41] = 0x0e;
    tcp_packet(&f, 0, 0x18, sh, sizeof sh);
    r = run_flow(&f, 443);
    CHECK(!strcmp(r.app, "tls"));
    free_pkts(&f);
}

/* Appends an unpadded MS-TURN attribute to msg (length field updated). */
static size_t append_attr(uint8_t *msg, size_t len, uint16_t type, const void *val, uint16_t n)
{
    msg[len] = (uint8_t)(type >> 8), msg[len + 1] = (uint8_t)type;
    msg[len + 2] = (uint8_t)(n >> 8), msg[len + 3] = (uint8_t)n;
    memcpy(msg + len + 4, val, n);
    len += 4u + n;
    msg[2] = (uint8_t)((len - 20) >> 8), msg[3] = (uint8_t)(len - 20);
    return len;
}

/* [MS-TURNBWM] call identity: teams.pcap's real MS-TURN Allocate with the
 * SIP Call Identifier (0x8062), SIP Dialog Identifier (0x8061) and Location
 * Profile (0x8068) attributes added, as a Lync client sends them. */
static void test_call_identity(struct pick *k)
{
    uint8_t msg[700];
    CHECK(k->alloc_len > 0 && k->alloc_len + 60 < sizeof msg);
    memcpy(msg, k->alloc, k->alloc_len);
    size_t len = append_attr(msg, k->alloc_len, 0x8062, "5b1c0f2e9a@contoso", 18);
    len = append_attr(msg, len, 0x8061, "dlg-7f3a;tag=1", 14);
    len = append_attr(msg, len, 0x8068, (const uint8_t[]){2, 1, 1, 0}, 4);
    struct pkts f = {0};
    ip_packet(&f, IPPROTO_UDP, 1, 0, msg, len);
    ip_packet(&f, IPPROTO_UDP, 0, 0, k->err, k->err_len);
    struct result r = run_flow(&f, 3478);
    CHECK(!strcmp(r.app, "msturn"));
    CHECK(!strcmp(r.call.call_id, "5b1c0f2e9a@contoso"));
    CHECK(!strcmp(r.call.dialog_id, "dlg-7f3a;tag=1"));
    CHECK(r.call.has_location && r.call.peer_location == 2 && r.call.self_location == 1 &&
          r.call.federation == 1);
    char b[4];
    CHECK(!strcmp(stun_location_name(r.call.peer_location, b), "intranet") &&
          !strcmp(stun_federation_name(r.call.federation, b), "enterprise"));
    free_pkts(&f);
}

/* The labels a rule may expect: classify's own but "unknown", and nDPI's names the rules use. */
static void test_vocabulary(void)
{
    bool sip_tls = false, http = false, unknown = false;
    size_t n = 0;
    for (const char *l; (l = classify_rule_label(n)); n++) {
        sip_tls |= !strcmp(l, "sip_tls");
        http |= !strcmp(l, "http");
        unknown |= !strcmp(l, "unknown") || !*l;
    }
    CHECK(sip_tls && http && !unknown);
    CHECK_EQ_U(n, CL_N - 2 + 3);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "../shared/pcaps";
    struct pick k;
    memset(&k, 0, sizeof k);
    CHECK(walk_pcap(dir, "nDPI/teams.pcap", on_packet, &k) > 0);
    test_tls_ports(&k);
    test_msturn_tcp(&k);
    test_negotiate();
    test_ice_then_media(dir);
    test_vocabulary();
    test_keepalives();
    test_long_ice(dir);
    test_srtcp_after_ice(dir);
    test_alert_only();
    test_fake_sslv2(dir);
    test_call_identity(&k);
    free_pkts(&k.tls);
    return check_done();
}
