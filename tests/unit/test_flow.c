/* test_flow.c - the flow table's bookkeeping: who initiated, TCP ends and
 * port reuse, idle expiry, the live-flow cap, fragments, the capture clock
 * (a time spike, a real jump, time going backwards, the wall clock).
 * Packets here are struct packets built by hand (no bytes are parsed: the
 * decoder's own tests read real captures); each case is one the shared
 * captures do not isolate. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "flow.h"

#define MAX_ENDED 64

struct ended {
    int n;
    struct {
        uint16_t sport, dport;
        uint64_t pkts0, pkts1, bytes0;
        uint8_t end;
        uint8_t src_last; /* last byte of the initiator's address */
        uint64_t first_us, last_us;
    } f[MAX_ENDED];
};

static void on_end(struct flow *f, void *ctx)
{
    struct ended *e = ctx;
    if (e->n >= MAX_ENDED)
        return;
    const uint8_t *src, *dst;
    uint16_t sport, dport;
    flow_endpoints(f, &src, &sport, &dst, &dport);
    e->f[e->n].sport = sport;
    e->f[e->n].dport = dport;
    e->f[e->n].pkts0 = f->pkts[0];
    e->f[e->n].pkts1 = f->pkts[1];
    e->f[e->n].bytes0 = f->bytes[0];
    e->f[e->n].end = f->end;
    e->f[e->n].src_last = src[3];
    e->f[e->n].first_us = f->first_us;
    e->f[e->n].last_us = f->last_us;
    e->n++;
}

static struct packet pk(uint8_t s, uint8_t d, uint16_t sp, uint16_t dp, uint8_t proto, uint8_t flags,
                        uint64_t ts_s)
{
    struct packet p;
    memset(&p, 0, sizeof p);
    p.ipver = 4;
    p.proto = proto;
    p.src[0] = 10, p.src[3] = s;
    p.dst[0] = 10, p.dst[3] = d;
    p.sport = sp;
    p.dport = dp;
    p.tcp_flags = flags;
    p.ts_us = ts_s * 1000000u;
    p.wirelen = 100;
    return p;
}

static struct flow *feed(struct flow_table *t, struct packet p)
{
    int dir;
    bool is_new;
    struct flow *f = flow_packet(t, &p, &dir, &is_new);
    flow_table_expire(t, p.ts_us);
    return f;
}

static void test_initiator_and_fin(void)
{
    struct ended e = {0};
    struct flow_config c = {300000000, 120000000, 60000000, 30000000, 0, false, false};
    struct flow_table *t = flow_table_new(&c, on_end, &e);
    /* The capture starts at the SYN-ACK: its receiver (.9) initiated. */
    feed(t, pk(20, 9, 443, 40000, 6, TCPF_SYN | TCPF_ACK, 1));
    feed(t, pk(9, 20, 40000, 443, 6, TCPF_ACK, 1));
    feed(t, pk(9, 20, 40000, 443, 6, TCPF_FIN | TCPF_ACK, 2));
    feed(t, pk(20, 9, 443, 40000, 6, TCPF_FIN | TCPF_ACK, 2));
    CHECK_EQ_U(e.n, 0); /* lingers for stragglers */
    feed(t, pk(9, 20, 40000, 443, 6, TCPF_ACK, 3)); /* last ACK joins the same flow */
    /* Port reuse: a new SYN on the closed connection is a new flow. */
    feed(t, pk(9, 20, 40000, 443, 6, TCPF_SYN, 5));
    CHECK_EQ_U(e.n, 1);
    CHECK_EQ_U(e.f[0].src_last, 9);
    CHECK_EQ_U(e.f[0].sport, 40000);
    CHECK_EQ_U(e.f[0].dport, 443);
    CHECK_EQ_U(e.f[0].pkts0, 3);
    CHECK_EQ_U(e.f[0].pkts1, 2);
    CHECK_EQ_U(e.f[0].end, FLOW_END_FIN);
    flow_table_end_all(t);
    CHECK_EQ_U(e.n, 2);
    CHECK_EQ_U(e.f[1].end, FLOW_END_EOF);
    CHECK_EQ_U(e.f[1].pkts0, 1);
    CHECK_EQ_U(flow_table_stats(t)->created, 2);
    flow_table_free(t);
}

static void test_rst_and_linger(void)
{
    struct ended e = {0};
    struct flow_config c = {300000000, 120000000, 60000000, 30000000, 0, false, false};
    struct flow_table *t = flow_table_new(&c, on_end, &e);
    feed(t, pk(1, 2, 1000, 80, 6, TCPF_SYN, 0));
    feed(t, pk(2, 1, 80, 1000, 6, TCPF_RST | TCPF_ACK, 0));
    feed(t, pk(1, 2, 1000, 80, 6, TCPF_ACK, 10)); /* a straggler within the linger */
    CHECK_EQ_U(e.n, 0);
    feed(t, pk(7, 8, 5, 6, 17, 0, 41)); /* time passes beyond the linger */
    CHECK_EQ_U(e.n, 1);
    CHECK_EQ_U(e.f[0].end, FLOW_END_RST);
    CHECK_EQ_U(e.f[0].pkts0, 2);
    CHECK_EQ_U(e.f[0].pkts1, 1);
    flow_table_free(t);
    CHECK_EQ_U(e.n, 2);
}

static void test_idle(void)
{
    struct ended e = {0};
    struct flow_config c = {300000000, 120000000, 60000000, 30000000, 0, false, false};
    struct flow_table *t = flow_table_new(&c, on_end, &e);
    feed(t, pk(1, 2, 5060, 5060, 17, 0, 100));
    feed(t, pk(2, 1, 5060, 5060, 17, 0, 200)); /* within 120 s: same flow, reply direction */
    feed(t, pk(3, 4, 1, 2, 6, TCPF_ACK, 250));
    feed(t, pk(3, 4, 1, 2, 6, TCPF_ACK, 320)); /* 320: UDP idle since 200 -> 120 s, not past */
    CHECK_EQ_U(e.n, 0);
    feed(t, pk(3, 4, 1, 2, 6, TCPF_ACK, 321));
    CHECK_EQ_U(e.n, 1);
    CHECK_EQ_U(e.f[0].end, FLOW_END_IDLE);
    CHECK_EQ_U(e.f[0].pkts0, 1);
    CHECK_EQ_U(e.f[0].pkts1, 1);
    /* Out-of-order timestamps never move the clock back. */
    feed(t, pk(5, 6, 9, 9, 17, 0, 10));
    CHECK_EQ_U(e.n, 1);
    flow_table_free(t);
    CHECK_EQ_U(e.n, 3);
}

static void test_cap(void)
{
    struct ended e = {0};
    struct flow_config c = {0, 0, 0, 0, 3, false, false};
    struct flow_table *t = flow_table_new(&c, on_end, &e);
    for (uint16_t i = 0; i < 10; i++)
        feed(t, pk(1, 2, (uint16_t)(1000 + i), 53, 17, 0, i));
    CHECK_EQ_U(flow_table_stats(t)->live, 3);
    CHECK_EQ_U(flow_table_stats(t)->evicted, 7);
    CHECK_EQ_U(e.n, 7);
    CHECK_EQ_U(e.f[0].sport, 1000); /* oldest first */
    CHECK_EQ_U(e.f[0].end, FLOW_END_EVICTED);
    CHECK_EQ_U(flow_table_stats(t)->peak_live, 3);
    flow_table_free(t);
}

static void test_fragments(void)
{
    struct ended e = {0};
    struct flow_config c = {0, 0, 0, 0, 0, false, false};
    struct flow_table *t = flow_table_new(&c, on_end, &e);
    struct packet first = pk(1, 2, 5060, 5060, 17, 0, 1);
    first.frag_first = true;
    first.frag_id = 77;
    struct packet rest = pk(1, 2, 0, 0, 17, 0, 1);
    rest.fragment = true;
    rest.frag_id = 77;
    feed(t, first);
    feed(t, rest);
    flow_table_free(t);
    CHECK_EQ_U(e.n, 1);
    CHECK_EQ_U(e.f[0].pkts0, 2);
    CHECK_EQ_U(e.f[0].bytes0, 200);
}

static struct packet frag(uint16_t sp, uint16_t dp, uint32_t id, bool first, uint64_t ts_s)
{
    struct packet p = pk(1, 2, first ? sp : 0, first ? dp : 0, 17, 0, ts_s);
    p.frag_first = first;
    p.fragment = !first;
    p.frag_id = id;
    return p;
}

/* Issue 20 K: fragments out of order are held until their first comes and
 * join its flow (no port-0 flow beside it); a second first fragment of the
 * same datagram with other ports does not re-point the rest; a fragment
 * whose first never comes is a port-0 flow at the end, or after 30 s of
 * capture time; an id used again after 30 s is another datagram. */
static void test_fragments_out_of_order(void)
{
    struct ended e = {0};
    struct flow_config c = {300000000, 120000000, 60000000, 30000000, 0, false, false};
    struct flow_table *t = flow_table_new(&c, on_end, &e);
    CHECK(feed(t, frag(0, 0, 90, false, 1)) == NULL);  /* before its first: held */
    CHECK(feed(t, frag(0, 0, 90, false, 1)) == NULL);
    struct flow *f = feed(t, frag(5060, 5060, 90, true, 2));
    CHECK(f != NULL);
    CHECK_EQ_U(f->pkts[0], 3);
    CHECK_EQ_U(f->first_us, 1000000);
    CHECK_EQ_U(flow_table_stats(t)->created, 1);
    flow_table_free(t);
    CHECK_EQ_U(e.n, 1);
    CHECK_EQ_U(e.f[0].sport, 5060);
    CHECK_EQ_U(e.f[0].bytes0, 300);

    memset(&e, 0, sizeof e);
    t = flow_table_new(&c, on_end, &e);
    feed(t, frag(5060, 5060, 91, true, 1));
    feed(t, frag(6000, 6000, 91, true, 1)); /* a forged second first */
    feed(t, frag(0, 0, 91, false, 1));
    flow_table_free(t);
    CHECK_EQ_U(e.n, 2);
    for (int i = 0; i < e.n; i++)
        CHECK_EQ_U(e.f[i].pkts0, e.f[i].sport == 5060 ? 2 : 1);

    memset(&e, 0, sizeof e);
    t = flow_table_new(&c, on_end, &e);
    feed(t, frag(0, 0, 92, false, 1));            /* its first never comes */
    feed(t, pk(1, 3, 1000, 53, 17, 0, 20));       /* 19 s later: still held */
    CHECK_EQ_U(flow_table_stats(t)->created, 1);
    feed(t, pk(1, 3, 1000, 53, 17, 0, 40));       /* past 30 s: a port-0 flow */
    CHECK_EQ_U(flow_table_stats(t)->created, 2);
    feed(t, frag(0, 0, 93, false, 41));           /* held at the end ... */
    feed(t, frag(7000, 7000, 92, true, 42));      /* id 92 again, 41 s on: another datagram */
    feed(t, frag(0, 0, 92, false, 42));
    flow_table_free(t);
    CHECK_EQ_U(e.n, 3);
    int port0 = 0;
    for (int i = 0; i < e.n; i++) {
        if (e.f[i].sport == 0) {
            port0++;
            CHECK_EQ_U(e.f[i].pkts0, 2); /* ids 92 (at 1 s) and 93: one flow without ports */
            CHECK_EQ_U(e.f[i].first_us, 1000000);
        } else if (e.f[i].sport == 7000) {
            CHECK_EQ_U(e.f[i].pkts0, 2);
        }
    }
    CHECK_EQ_U(port0, 1);
}

static void test_many(void)
{
    /* Enough flows to grow the hash table several times; all found again. */
    struct ended e = {0};
    struct flow_config c = {0, 0, 0, 0, 0, false, false};
    struct flow_table *t = flow_table_new(&c, on_end, &e);
    for (int round = 0; round < 2; round++)
        for (uint32_t i = 0; i < 50000; i++)
            feed(t, pk((uint8_t)(i & 0xff), 200, (uint16_t)(i >> 8), 53, 17, 0, 1));
    CHECK_EQ_U(flow_table_stats(t)->created, 50000);
    CHECK_EQ_U(flow_table_stats(t)->live, 50000);
    flow_table_free(t);
}

#define S 1000000ull /* one second in microseconds */

/* Issue 20: one record with an absurd time (past 2^31 s, as a damaged or
 * far-future record reads) among three UDP flows: three flows, none ended
 * idle, the record counted in its flow, its time in no flow and counted as
 * an outlier. A spike backwards (time 0) is the same. */
static void test_time_spike(void)
{
    struct ended e = {0};
    struct flow_config c = {300 * S, 120 * S, 60 * S, 30 * S, 0, false, false};
    struct flow_table *t = flow_table_new(&c, on_end, &e);
    for (uint64_t i = 0; i < 6; i++) {
        feed(t, pk(1, 2, 5060, 5060, 17, 0, 1000 + i));
        if (i == 2)
            feed(t, pk(3, 4, 5061, 5061, 17, 0, 0x80000000ull + 7)); /* flow B's spike */
        feed(t, pk(3, 4, 5061, 5061, 17, 0, 1000 + i));
        if (i == 4)
            feed(t, pk(5, 6, 5062, 5062, 17, 0, 0)); /* flow C's spike back to 1970 */
        feed(t, pk(5, 6, 5062, 5062, 17, 0, 1000 + i));
    }
    CHECK_EQ_U(e.n, 0); /* no flow ended idle */
    CHECK_EQ_U(flow_table_stats(t)->time_outliers, 2);
    flow_table_end_all(t);
    CHECK_EQ_U(e.n, 3);
    CHECK_EQ_U(flow_table_stats(t)->created, 3);
    for (int i = 0; i < e.n; i++) {
        CHECK_EQ_U(e.f[i].end, FLOW_END_EOF);
        CHECK_EQ_U(e.f[i].first_us, 1000 * S);
        CHECK_EQ_U(e.f[i].last_us, 1005 * S);
        CHECK_EQ_U(e.f[i].pkts0, e.f[i].sport == 5060 ? 6 : 7); /* the spikes are counted */
        CHECK_EQ_U(e.f[i].src_last, e.f[i].sport == 5060 ? 1 : e.f[i].sport == 5061 ? 3 : 5);
    }
    flow_table_free(t);
}

/* A real jump (the capture resumes hours later): the next packet agrees
 * with it, so the flows before it end idle and the new packet's time is
 * its flow's, also when the jump's first packet is a new flow. */
static void test_time_jump(void)
{
    struct ended e = {0};
    struct flow_config c = {300 * S, 120 * S, 60 * S, 30 * S, 0, false, false};
    struct flow_table *t = flow_table_new(&c, on_end, &e);
    feed(t, pk(1, 2, 5060, 5060, 17, 0, 100));
    feed(t, pk(1, 2, 5060, 5060, 17, 0, 101));
    feed(t, pk(3, 4, 7, 7, 17, 0, 50000)); /* held: far from 101 */
    CHECK_EQ_U(e.n, 0);
    feed(t, pk(3, 4, 7, 7, 17, 0, 50001)); /* agrees: the clock moves, 5060 ends idle */
    CHECK_EQ_U(e.n, 1);
    CHECK_EQ_U(e.f[0].end, FLOW_END_IDLE);
    CHECK_EQ_U(e.f[0].last_us, 101 * S);
    CHECK_EQ_U(flow_table_stats(t)->time_outliers, 0);
    flow_table_end_all(t);
    CHECK_EQ_U(e.n, 2);
    CHECK_EQ_U(e.f[1].first_us, 50000 * S);
    CHECK_EQ_U(e.f[1].last_us, 50001 * S);
    CHECK_EQ_U(e.f[1].pkts0, 2);
    flow_table_free(t);
}

/* A quiet link (every gap longer than the 60 s step, shorter than UDP's
 * idle timeout): times that only go forward are never outliers; a last
 * packet far from the one before has its time taken at the end. */
static void test_time_quiet(void)
{
    struct ended e = {0};
    struct flow_config c = {300 * S, 120 * S, 60 * S, 30 * S, 0, false, false};
    struct flow_table *t = flow_table_new(&c, on_end, &e);
    for (uint64_t ts = 0; ts <= 400; ts += 100)
        feed(t, pk(1, 2, 5060, 5060, 17, 0, ts));
    flow_table_end_all(t);
    CHECK_EQ_U(flow_table_stats(t)->time_outliers, 0);
    CHECK_EQ_U(e.n, 1);
    CHECK_EQ_U(e.f[0].pkts0, 5);
    CHECK_EQ_U(e.f[0].first_us, 0);
    CHECK_EQ_U(e.f[0].last_us, 400 * S);
    flow_table_free(t);
}

/* Issue 20: time going backwards leaves first_seen at the first packet's
 * time (not the smallest seen), last_seen at the latest. */
static void test_time_backwards(void)
{
    struct ended e = {0};
    struct flow_config c = {300 * S, 120 * S, 60 * S, 30 * S, 0, false, false};
    struct flow_table *t = flow_table_new(&c, on_end, &e);
    feed(t, pk(1, 2, 5060, 5060, 17, 0, 100));
    feed(t, pk(2, 1, 5060, 5060, 17, 0, 95));
    feed(t, pk(1, 2, 5060, 5060, 17, 0, 101));
    flow_table_end_all(t);
    CHECK_EQ_U(e.n, 1);
    CHECK_EQ_U(e.f[0].first_us, 100 * S);
    CHECK_EQ_U(e.f[0].last_us, 101 * S);
    CHECK_EQ_U(e.f[0].pkts1, 1);
    flow_table_free(t);
}

/* Files of one run: a one-packet file between two others years apart is
 * no outlier (flow_table_input_end between files). */
static void test_time_inputs(void)
{
    struct ended e = {0};
    struct flow_config c = {300 * S, 120 * S, 60 * S, 30 * S, 0, false, false};
    struct flow_table *t = flow_table_new(&c, on_end, &e);
    feed(t, pk(1, 2, 1, 1, 17, 0, 900000000));
    feed(t, pk(1, 2, 1, 1, 17, 0, 900000001));
    flow_table_input_end(t);
    feed(t, pk(3, 4, 2, 2, 17, 0, 1000)); /* the one packet of file 2 */
    flow_table_input_end(t);
    feed(t, pk(5, 6, 3, 3, 17, 0, 800000000));
    feed(t, pk(5, 6, 3, 3, 17, 0, 800000001));
    flow_table_end_all(t);
    CHECK_EQ_U(flow_table_stats(t)->time_outliers, 0);
    CHECK_EQ_U(e.n, 3);
    for (int i = 0; i < e.n; i++)
        if (e.f[i].sport == 2)
            CHECK_EQ_U(e.f[i].first_us, 1000 * S);
    flow_table_free(t);
}

/* Live: the wall clock (flow_table_expire without packets) moves the clock
 * by small steps, and past a far step once a second call agrees (a machine
 * that was suspended), but not on one far call alone. */
static void test_time_wall(void)
{
    struct ended e = {0};
    struct flow_config c = {300 * S, 120 * S, 60 * S, 30 * S, 0, false, false};
    struct flow_table *t = flow_table_new(&c, on_end, &e);
    feed(t, pk(1, 2, 5060, 5060, 17, 0, 1000));
    flow_table_expire(t, 100000 * S); /* one far call: not taken */
    flow_table_expire(t, 1001 * S);
    CHECK_EQ_U(e.n, 0);
    flow_table_expire(t, 200000 * S);
    flow_table_expire(t, 200000 * S + 200000); /* agrees 0.2 s later */
    CHECK_EQ_U(e.n, 1);
    CHECK_EQ_U(e.f[0].end, FLOW_END_IDLE);
    flow_table_free(t);
}

int main(void)
{
    test_initiator_and_fin();
    test_rst_and_linger();
    test_idle();
    test_cap();
    test_fragments();
    test_fragments_out_of_order();
    test_many();
    test_time_spike();
    test_time_jump();
    test_time_quiet();
    test_time_backwards();
    test_time_inputs();
    test_time_wall();
    return check_done();
}
