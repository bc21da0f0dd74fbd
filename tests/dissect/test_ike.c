/* test_ike.c - IKE and ESP-in-UDP on real captures.
 *
 * Real bytes (counts by tshark 4.0): tcpdump/ISAKMP_sa_setup.pcap (IKEv1 x9),
 * scapy/ikev2_notify_redirect.pcap (IKEv2 x4), tcpdump/isakmp4500.pcap (500:
 * ISAKMP x4; 4500: ISAKMP behind the non-ESP marker x11, ESP x8, keep-alive
 * x4), tcpdump/espudp1.pcap (ESP-in-UDP x8), sipp/g711a.pcap (nothing). */
#include <string.h>

#include "../unit/check.h"
#include "dissect/ike.h"
#include "pcapwalk.h"

struct st {
    unsigned msg, v1, v2, natt, esp, keepalive, none;
};

static void on_packet(const struct packet *p, unsigned idx, void *ctx)
{
    (void)idx;
    struct st *s = ctx;
    if (p->proto != 17)
        return;
    struct ike_verdict v;
    if (!ike_dissect(payload_cursor(p), p->sport, p->dport, &v)) {
        s->none++;
        return;
    }
    if (v.kind == IKE_MESSAGE) {
        s->msg++;
        s->v1 += v.version == 1;
        s->v2 += v.version == 2;
        s->natt += v.natt;
    } else if (v.kind == IKE_ESP_IN_UDP) {
        s->esp++;
    } else {
        s->keepalive++;
    }
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
    struct st s = walk(dir, "tcpdump/ISAKMP_sa_setup.pcap");
    CHECK_EQ_U(s.v1, 9);
    CHECK_EQ_U(s.none, 0);
    s = walk(dir, "scapy/ikev2_notify_redirect.pcap");
    CHECK_EQ_U(s.v2, 4);
    s = walk(dir, "tcpdump/isakmp4500.pcap");
    CHECK_EQ_U(s.msg, 15);
    CHECK_EQ_U(s.natt, 11);
    CHECK_EQ_U(s.esp, 8);
    CHECK_EQ_U(s.keepalive, 4);
    s = walk(dir, "tcpdump/espudp1.pcap");
    CHECK_EQ_U(s.esp, 8);
    s = walk(dir, "sipp/g711a.pcap");
    CHECK_EQ_U(s.msg + s.esp + s.keepalive, 0);

    /* hand-built: a zero initiator SPI, and a length shorter than the datagram */
    uint8_t h[28] = {0};
    h[7] = 1;
    h[16] = 1;    /* SA */
    h[17] = 0x10; /* v1.0 */
    h[18] = 2;    /* identity protection */
    h[27] = 28;
    struct ike_verdict v;
    CHECK(ike_dissect(cur_make(h, sizeof h), 500, 500, &v) && v.version == 1);
    h[27] = 20;
    CHECK(!ike_dissect(cur_make(h, sizeof h), 500, 500, &v));
    h[27] = 28;
    h[7] = 0;
    CHECK(!ike_dissect(cur_make(h, sizeof h), 500, 500, &v));
    return check_done();
}
