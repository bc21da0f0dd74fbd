/* test_sip.c - SIP start lines on real captures, and Lync's methods.
 *
 * Real bytes: nDPI/sip.pcap (47 requests, 34 responses by tshark 4.0),
 * suricata-verify/sip-tcp-method__sip-tcp.pcap (SIP over TCP),
 * heplify/sip_ipv6_udp.pcap, nDPI/http_on_sip_port.pcap (HTTP on 5060: not
 * SIP). Hand-built: Lync's SERVICE, NEGOTIATE, BENOTIFY and INFO/UPDATE, which
 * no shared capture carries, and malformed start lines. */
#include <string.h>

#include "../unit/check.h"
#include "dissect/sip.h"
#include "pcapwalk.h"

struct st {
    unsigned req, resp, other, payloads;
};

static void on_packet(const struct packet *p, unsigned idx, void *ctx)
{
    (void)idx;
    struct st *s = ctx;
    if ((p->proto != 6 && p->proto != 17) || p->payload_len == 0 || (!has_port(p, 5060) && !has_port(p, 5061)))
        return;
    s->payloads++;
    struct sip_verdict v;
    if (!sip_dissect(payload_cursor(p), &v))
        s->other++;
    else if (v.kind == SIP_REQUEST)
        s->req++;
    else if (v.kind == SIP_RESPONSE)
        s->resp++;
}

static struct st walk(const char *dir, const char *name)
{
    struct st s;
    memset(&s, 0, sizeof s);
    CHECK(walk_pcap(dir, name, on_packet, &s) > 0);
    return s;
}

static int parse(const char *text, struct sip_verdict *v)
{
    return sip_dissect(cur_make((const uint8_t *)text, strlen(text)), v);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "../shared/pcaps";
    struct st s = walk(dir, "nDPI/sip.pcap");
    CHECK_EQ_U(s.req, 47);
    CHECK_EQ_U(s.resp, 34);
    CHECK_EQ_U(s.other, s.payloads - 81);

    s = walk(dir, "suricata-verify/sip-tcp-method__sip-tcp.pcap");
    CHECK_EQ_U(s.req + s.resp, 2);          /* tshark: sip x2 */

    s = walk(dir, "heplify/sip_ipv6_udp.pcap");
    CHECK_EQ_U(s.req + s.resp, 6);          /* tshark: sip x6 */

    s = walk(dir, "nDPI/http_on_sip_port.pcap");
    CHECK_EQ_U(s.req + s.resp, 0);          /* HTTP GET on 5060 is not SIP */

    /* Lync methods (hand-built: [MS-SIPRE] SERVICE, [MS-CONFBAS]/[MS-SIP]
     * NEGOTIATE, [MS-SIP] BENOTIFY; no shared capture carries them). */
    struct sip_verdict v;
    const char *lync[] = {
        "SERVICE sip:alice@contoso.com;gruu;opaque=app:conf:focus SIP/2.0\r\nVia: SIP/2.0/TLS 10.0.0.1\r\n",
        "NEGOTIATE sip:fe01.contoso.local:5061;transport=tls SIP/2.0\r\n",
        "BENOTIFY sip:bob@contoso.com SIP/2.0\r\n",
    };
    for (unsigned i = 0; i < 3; i++) {
        CHECK(parse(lync[i], &v));
        CHECK_EQ_U(v.kind, SIP_REQUEST);
        CHECK(v.lync_method);
    }
    CHECK(parse("INFO sip:bob@contoso.com SIP/2.0\r\n", &v) && !v.lync_method &&
          !strcmp(sip_method_name(v.method), "INFO"));
    CHECK(parse("UPDATE sips:bob@contoso.com SIP/2.0\r\n", &v) && !strcmp(sip_method_name(v.method), "UPDATE"));
    CHECK(parse("\r\n\r\nSIP/2.0 200 OK\r\n", &v) && v.kind == SIP_RESPONSE && v.status == 200);
    CHECK(parse("\r\n\r\n", &v) && v.kind == SIP_KEEPALIVE);
    /* not SIP */
    CHECK(!parse("GET / HTTP/1.1\r\n", &v));
    CHECK(!parse("SIP/2.0 2x0 OK\r\n", &v));
    CHECK(!parse("SIP/2.0 099 Low\r\n", &v));
    CHECK(!parse("INVITE nouri SIP/2.0\r\n", &v));
    CHECK(!parse("INVITE sip:bob@x HTTP/1.1\r\n", &v));
    CHECK(!parse("SERVICES sip:bob@x SIP/2.0\r\n", &v));
    CHECK(parse("REGISTER sip:x SIP/2.0", &v)); /* a line cut by the capture still counts */
    return check_done();
}
