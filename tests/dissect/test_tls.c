/* test_tls.c - TLS record walk and the Lync TLS port policy.
 *
 * Real bytes: sngrep/tlssaved.pcap (SIP over TLS on 5061, application data
 * only), nDPI/teams.pcap (TLS on 443 with SNI), nDPI/skype__old2020.pcap
 * (TLS 1.2 certificates),
 * zeek/xmpp-starttls.pcap (TLS after STARTTLS). Hand-built: MS-TURN's
 * pseudo-TLS server hello (ServerHello + ServerHelloDone, no Certificate,
 * [MS-TURN] 2.1.4), which no capture has. */
#include <string.h>

#include "../unit/check.h"
#include "dissect/tls.h"
#include "pcapwalk.h"

struct st {
    unsigned records, client_hello, sni, server_hello, cert;
};

static void on_packet(const struct packet *p, unsigned idx, void *ctx)
{
    (void)idx;
    struct st *s = ctx;
    if (p->proto != 6 || p->payload_len == 0)
        return;
    struct tls_verdict v;
    if (!tls_dissect(payload_cursor(p), &v))
        return;
    s->records += v.records;
    s->client_hello += !!(v.handshakes & (1u << TLS_HS_CLIENT_HELLO));
    s->server_hello += !!(v.handshakes & (1u << TLS_HS_SERVER_HELLO));
    s->cert += !!(v.handshakes & (1u << TLS_HS_CERTIFICATE));
    s->sni += v.sni;
}

static struct st walk(const char *dir, const char *name)
{
    struct st s;
    memset(&s, 0, sizeof s);
    CHECK(walk_pcap(dir, name, on_packet, &s) > 0);
    return s;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "../shared/pcaps";
    struct st s = walk(dir, "sngrep/tlssaved.pcap");
    CHECK(s.records >= 18);      /* application data only: the handshakes were not captured */
    CHECK_EQ_U(s.client_hello + s.server_hello + s.cert, 0);
    s = walk(dir, "nDPI/teams.pcap");
    CHECK(s.client_hello >= 20);
    CHECK(s.sni >= 20);
    CHECK(s.server_hello >= 10);
    s = walk(dir, "nDPI/skype__old2020.pcap");
    CHECK(s.cert >= 1);          /* TLS 1.2: the certificate goes by in clear */
    CHECK(s.client_hello >= 40); /* incl. Skype's SSL 2.0-compatible hellos on 443 (tshark: SSLv2 Client Hello) */
    s = walk(dir, "zeek/xmpp-starttls.pcap");
    CHECK(s.client_hello == 1 && s.server_hello == 1);

    /* MS-TURN pseudo-TLS server flight (hand-built): one handshake record
     * holding ServerHello and ServerHelloDone, no Certificate. */
    uint8_t sh[5 + 4 + 38 + 4] = {0x16, 0x03, 0x01, 0x00, 4 + 38 + 4, 0x02, 0x00, 0x00, 38, 0x03, 0x01};
    sh[5 + 4 + 38] = 0x0e; /* ServerHelloDone, length 0 */
    struct tls_verdict v;
    CHECK(tls_dissect(cur_make(sh, sizeof sh), &v));
    CHECK(v.handshakes == ((1u << TLS_HS_SERVER_HELLO) | (1u << TLS_HS_SERVER_HELLO_DONE)));
    /* not TLS: SIP, a record of unknown type, SSL 2 */
    const char *sip = "INVITE sip:a@b SIP/2.0\r\n";
    CHECK(!tls_dissect(cur_make((const uint8_t *)sip, strlen(sip)), &v));
    uint8_t bad[8] = {0x18, 0x03, 0x01, 0x00, 0x02, 0, 0, 0};
    CHECK(!tls_dissect(cur_make(bad, sizeof bad), &v));
    uint8_t ssl2[8] = {0x80, 0x2e, 0x01, 0x03, 0x01, 0, 0, 0}; /* cut short */
    CHECK(!tls_dissect(cur_make(ssl2, sizeof ssl2), &v));

    /* The port policy (seeds/003) */
    CHECK_EQ_U(tls_port_service(5061), TLS_PORT_SIP);
    CHECK_EQ_U(tls_port_service(5067), TLS_PORT_SIP);
    CHECK_EQ_U(tls_port_service(5087), TLS_PORT_SIP);
    CHECK_EQ_U(tls_port_service(5041), TLS_PORT_SIP);
    CHECK_EQ_U(tls_port_service(8404), TLS_PORT_SIP);
    CHECK_EQ_U(tls_port_service(8057), TLS_PORT_PSOM);
    CHECK_EQ_U(tls_port_service(8058), TLS_PORT_PSOM);
    CHECK_EQ_U(tls_port_service(443), TLS_PORT_OTHER);   /* roles decide, in audit */
    CHECK_EQ_U(tls_port_service(5060), TLS_PORT_OTHER);
    CHECK_EQ_U(tls_port_service(23456), TLS_PORT_OTHER); /* XMPP toward the Edge: audit */
    return check_done();
}
