/* flow.c - the flow table (see flow.h).
 *
 * A chained hash table (power-of-two buckets, doubled at load 1) finds the
 * flow; four activity lists find what expires. A packet does not move its
 * flow in its list (that touched two more cache lines per packet): lists are
 * ordered by when a flow was queued, and a head found active since then is
 * queued again at the tail ("second chance"), so expiry and eviction look at
 * four heads, not at every flow.
 *
 * The clock is capture time, and one absurd record (a damaged time, a
 * time-stamping glitch) must not end every flow: a packet farther than
 * `far_us` from the packet before it is held as a suspect until the next
 * packet. It is an outlier when both its neighbours lie on the same side of
 * it, both far away (a spike up or down): counted, and its time is used for
 * nothing (its flow counts it at the time before). Otherwise it was a real
 * jump (a gap in the traffic, the next file of a run) and its time is
 * applied then. The clock never goes back. */
#include "flow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/random.h>

#define FRAG_SLOTS 1024

struct flow_listhead {
    struct flow *head, *tail;
};

/* A fragmented datagram, by its addresses, protocol and id: its ports,
 * taken from its first fragment, so the rest join its flow (FRAG_PORTS);
 * or, while the first has not come (fragments out of order), the fragments
 * that came before it, held uncounted until it does (FRAG_HELD). */
enum { FRAG_EMPTY, FRAG_PORTS, FRAG_HELD };
struct frag_slot {
    uint8_t src[16], dst[16];
    uint32_t id;
    uint16_t sport, dport;
    uint8_t proto, state;
    uint64_t seen_us;             /* the datagram's newest fragment */
    uint64_t held_pkts, held_bytes, held_first_us;
    struct packet held;           /* FRAG_HELD: the first fragment held (no pointers) */
};

/* A datagram's fragments arrive within this (Linux's ipfrag_time); a slot
 * older than it is another datagram that reuses the id. */
#define FRAG_TIMEOUT_US (30 * 1000000ull)

static void frag_expire(struct flow_table *t, bool all);

struct flow_table {
    struct flow **buckets;
    size_t nbuckets;
    struct flow_listhead lists[FLOW_LIST_N];
    struct flow_config cfg;
    flow_end_fn on_end;
    void *ctx;
    uint64_t now_us;     /* the clock: the newest time accepted */
    bool have_clock;     /* now_us was set (a capture may start at time 0) */
    uint64_t prev_us;    /* the last accepted packet's time */
    bool have_prev;
    uint64_t far_us;     /* a step larger than this makes a packet a suspect */
    bool pend;           /* a suspect packet waits for the next one */
    bool pend_new;       /* ... and started its flow */
    uint64_t pend_us;    /* ... its time */
    struct flow *pend_flow; /* ... its flow, while live */
    bool tick_pend;      /* flow_table_expire saw a far step once */
    uint64_t tick_pend_us;
    uint64_t seed;
    struct flow_stats stats;
    uint32_t frags_held;          /* slots in FRAG_HELD */
    uint64_t frag_scan_us;        /* the last look for held fragments timed out */
    struct frag_slot frags[FRAG_SLOTS];
};

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

_Static_assert(sizeof(struct flow_key) == 40, "flow_key is five 64-bit words");

static bool key_eq(const struct flow_key *x, const struct flow_key *y)
{
    uint64_t a[5], b[5];
    memcpy(a, x, sizeof a);
    memcpy(b, y, sizeof b);
    return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) | (a[4] ^ b[4])) == 0;
}

/* Multiply-xor over the key's five words, seeded per table (a sender cannot
 * aim packets at one chain without knowing the seed), then a final mix. */
static uint64_t key_hash(const struct flow_table *t, const struct flow_key *k)
{
    uint64_t w[5];
    memcpy(w, k, sizeof w);
    uint64_t h = t->seed;
    for (int i = 0; i < 5; i++) {
        h = (h ^ w[i]) * 0x9E3779B97F4A7C15ULL;
        h ^= h >> 29;
    }
    return mix64(h);
}

uint32_t flow_shard(const struct flow_key *k)
{
    uint64_t w[5], h = 0;
    memcpy(w, k, sizeof w); /* canonical: the lower end first, so both directions agree */
    for (int i = 0; i < 5; i++)
        h = (h ^ w[i]) * 0x9E3779B97F4A7C15ULL;
    return (uint32_t)(mix64(h) >> 32);
}

static void list_unlink(struct flow_table *t, struct flow *f)
{
    struct flow_listhead *l = &t->lists[f->list];
    if (f->prev)
        f->prev->next = f->next;
    else
        l->head = f->next;
    if (f->next)
        f->next->prev = f->prev;
    else
        l->tail = f->prev;
    f->prev = f->next = NULL;
}

static void list_append(struct flow_table *t, struct flow *f, uint8_t list)
{
    struct flow_listhead *l = &t->lists[list];
    /* The line is shared with the classify thread: write only a change. */
    if (f->list != list) // cppcheck-suppress duplicateConditionalAssign
        f->list = list;
    f->queued_us = f->active_us;
    f->next = NULL;
    f->prev = l->tail;
    if (l->tail)
        l->tail->next = f;
    else
        l->head = f;
    l->tail = f;
}

/* How far a packet's time may be from the one before without being held
 * as a suspect: the shortest idle timeout, the step past which a spike
 * would end flows idle (60 s by default); with no idle timeout the linger. */
static uint64_t far_of(const struct flow_config *c)
{
    const uint64_t v[3] = {c->tcp_idle_us, c->udp_idle_us, c->other_idle_us};
    uint64_t far = 0;
    for (int i = 0; i < 3; i++)
        if (v[i] && (!far || v[i] < far))
            far = v[i];
    if (!far)
        far = c->linger_us;
    return far ? far : 60000000u;
}

struct flow_table *flow_table_new(const struct flow_config *cfg, flow_end_fn on_end, void *ctx)
{
    struct flow_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->nbuckets = 4096;
    t->buckets = calloc(t->nbuckets, sizeof *t->buckets);
    if (!t->buckets) {
        free(t);
        return NULL;
    }
    t->cfg = *cfg;
    t->far_us = far_of(cfg);
    if (getrandom(&t->seed, sizeof t->seed, GRND_NONBLOCK) != (ssize_t)sizeof t->seed)
        t->seed = (uint64_t)(uintptr_t)t ^ 0x6c796e6361756469ULL;
    t->on_end = on_end;
    t->ctx = ctx;
    return t;
}

static void grow(struct flow_table *t)
{
    size_t n = t->nbuckets * 2;
    struct flow **b = calloc(n, sizeof *b);
    if (!b)
        return; /* keep the longer chains: slower, still correct */
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct flow *f = t->buckets[i];
        while (f) {
            struct flow *nx = f->hnext;
            size_t j = key_hash(t, &f->key) & (n - 1);
            f->hnext = b[j];
            b[j] = f;
            f = nx;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
}

/* Unlinks f everywhere, hands it to on_end with reason `why`, frees it. */
static void end_flow(struct flow_table *t, struct flow *f, enum flow_end why)
{
    struct flow **pp = &t->buckets[key_hash(t, &f->key) & (t->nbuckets - 1)];
    while (*pp && *pp != f)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = f->hnext;
    list_unlink(t, f);
    if (f == t->pend_flow)
        t->pend_flow = NULL;
    if (f->end == FLOW_END_NONE || why == FLOW_END_EVICTED)
        f->end = (uint8_t)why;
    t->stats.ended++;
    t->stats.live--;
    if (why == FLOW_END_EVICTED)
        t->stats.evicted++;
    t->on_end(f, t->ctx);
    if (!t->cfg.handover)
        free(f);
}

void flow_free(struct flow *f)
{
    free(f);
}

static uint64_t idle_of(const struct flow_table *t, uint8_t list)
{
    switch (list) {
    case FLOW_LIST_TCP: return t->cfg.tcp_idle_us;
    case FLOW_LIST_UDP: return t->cfg.udp_idle_us;
    case FLOW_LIST_OTHER: return t->cfg.other_idle_us;
    default: return t->cfg.linger_us;
    }
}

/* Requeues heads that were active since they were queued, until the head
 * is the list's least recently active flow. */
static struct flow *settled_head(struct flow_table *t, uint8_t l)
{
    struct flow *f;
    while ((f = t->lists[l].head) && f->active_us != f->queued_us) {
        list_unlink(t, f);
        list_append(t, f, l);
    }
    return f;
}

/* How far apart two times are, either way. */
static uint64_t dist(uint64_t a, uint64_t b)
{
    return a > b ? a - b : b - a;
}

/* A packet time taken as true: the one the next is measured from; the
 * clock moves to it when it is newer (never back). */
static void accept_time(struct flow_table *t, uint64_t ts)
{
    t->prev_us = ts;
    t->have_prev = t->have_clock = true;
    if (ts > t->now_us)
        t->now_us = ts;
}

/* Judges the suspect packet by the next one (at `next`), or at the end of
 * the input (`end`: one neighbour only, nothing to call it a spike by). An
 * accepted suspect's time reaches its flow now. */
static void judge_pending(struct flow_table *t, uint64_t next, bool end)
{
    t->pend = false;
    uint64_t s = t->pend_us;
    if (!end && dist(s, next) > t->far_us && (s > t->prev_us) == (s > next)) {
        t->stats.time_outliers++;
        t->tick_pend = false;
        return;
    }
    accept_time(t, s);
    struct flow *f = t->pend_flow;
    if (f) {
        if (t->pend_new)
            f->first_us = s;
        if (t->pend_new || s > f->last_us)
            f->last_us = s;
        f->active_us = t->now_us;
    }
}

/* The time a packet counts at in its flow: its own, or, when it is far
 * from the packet before, that packet's until the next one judges it. */
static uint64_t packet_time(struct flow_table *t, uint64_t ts)
{
    if (t->pend)
        judge_pending(t, ts, false);
    if (!t->have_prev || dist(ts, t->prev_us) <= t->far_us) {
        accept_time(t, ts);
        return ts;
    }
    t->pend = true;
    t->pend_us = ts;
    t->pend_flow = NULL;
    return t->prev_us;
}

/* The clock by flow_table_expire's time (each record's, decoded or not, or
 * the wall clock live). It judges a suspect packet too (at another time than
 * the suspect's own: that is the suspect's own call), before flows expire,
 * so that an accepted suspect's flow is active at the new clock. A far step
 * forward counts when the next call agrees with it, so a suspect record's
 * time is not taken here while a wall clock that jumped (a suspended
 * machine) still is. */
static void clock_tick(struct flow_table *t, uint64_t now)
{
    if (t->pend && now != t->pend_us)
        judge_pending(t, now, false);
    if (t->have_clock && now <= t->now_us)
        return;
    if (!t->have_clock || now - t->now_us <= t->far_us ||
        (t->tick_pend && now >= t->tick_pend_us && now - t->tick_pend_us <= t->far_us)) {
        t->now_us = now;
        t->have_clock = true;
        t->tick_pend = false;
        return;
    }
    t->tick_pend = true;
    t->tick_pend_us = now;
}

void flow_table_expire(struct flow_table *t, uint64_t now_us)
{
    clock_tick(t, now_us);
    frag_expire(t, false);
    for (uint8_t l = 0; l < FLOW_LIST_N; l++) {
        uint64_t idle = idle_of(t, l);
        if (idle == 0 && l != FLOW_LIST_CLOSING)
            continue;
        struct flow *f;
        while ((f = t->lists[l].head) && f->queued_us + idle < t->now_us) {
            if (f->active_us + idle < t->now_us)
                end_flow(t, f, l == FLOW_LIST_CLOSING ? (enum flow_end)f->end : FLOW_END_IDLE);
            else
                settled_head(t, l);
        }
    }
}

/* The least recently active flow among the list heads, closed flows first. */
static void evict_one(struct flow_table *t)
{
    struct flow *victim = settled_head(t, FLOW_LIST_CLOSING);
    if (!victim) {
        for (uint8_t l = 0; l < FLOW_LIST_CLOSING; l++) {
            struct flow *h = settled_head(t, l);
            if (h && (!victim || h->active_us < victim->active_us))
                victim = h;
        }
    }
    if (victim)
        end_flow(t, victim, FLOW_END_EVICTED);
}

static void make_key(const struct packet *p, uint16_t sport, uint16_t dport, uint16_t vlan,
                     struct flow_key *k, bool *src_is_a)
{
    size_t alen = p->ipver == 4 ? 4 : 16;
    int c = memcmp(p->src, p->dst, alen);
    bool a = c < 0 || (c == 0 && sport <= dport);
    memset(k, 0, sizeof *k);
    memcpy(k->a, a ? p->src : p->dst, alen);
    memcpy(k->b, a ? p->dst : p->src, alen);
    k->pa = a ? sport : dport;
    k->pb = a ? dport : sport;
    k->proto = p->proto;
    k->ipver = p->ipver;
    k->vlan = vlan;
    *src_is_a = a;
}

static uint8_t list_for(uint8_t proto)
{
    return proto == IPPROTO_TCP                                  ? FLOW_LIST_TCP
           : (proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE) ? FLOW_LIST_UDP
                                                                : FLOW_LIST_OTHER;
}

/* The flow of a packet under the ports given (a fragment's are its
 * datagram's), created when there is none; *from_a: the packet comes from
 * the key's side a. NULL when memory runs out. */
static struct flow *find_or_add(struct flow_table *t, const struct packet *p, uint16_t sport, uint16_t dport,
                                uint64_t ts, bool *from_a, bool *is_new)
{
    struct flow_key k;
    make_key(p, sport, dport, t->cfg.vlan_key ? p->vlan[0] : 0, &k, from_a);
    uint64_t h = key_hash(t, &k);
    struct flow *f = t->buckets[h & (t->nbuckets - 1)];
    while (f && !key_eq(&f->key, &k))
        f = f->hnext;

    bool syn_only = p->proto == IPPROTO_TCP && !p->fragment && (p->tcp_flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN;
    /* A new SYN on a closed connection starts a new flow (port reuse). */
    if (f && syn_only && f->list == FLOW_LIST_CLOSING) {
        end_flow(t, f, (enum flow_end)f->end);
        f = NULL;
    }
    *is_new = false;
    if (f)
        return f;
    if (t->cfg.max_flows && t->stats.live >= t->cfg.max_flows)
        evict_one(t);
    f = aligned_alloc(_Alignof(struct flow), sizeof *f); /* the label's own cache line (flow.h) */
    if (!f)
        return NULL;
    memset(f, 0, sizeof *f);
    f->key = k;
    f->first_us = f->last_us = ts;
    f->active_us = t->now_us;
    /* The SYN-ACK's receiver initiated; otherwise the first sender did. */
    bool synack = p->proto == IPPROTO_TCP && !p->fragment &&
                  (p->tcp_flags & (TCPF_SYN | TCPF_ACK)) == (TCPF_SYN | TCPF_ACK);
    f->src_is_a = synack ? !*from_a : *from_a;
    f->vlan[0] = p->vlan[0];
    f->vlan[1] = p->vlan[1];
    if (p->tunnel) {
        f->tunnel = p->tunnel;
        f->tun_ipver = p->tun_ipver;
        f->tun_has_id = p->tun_has_id;
        f->tun_id = p->tun_id;
        memcpy(f->tun_src, p->tun_src, 16);
        memcpy(f->tun_dst, p->tun_dst, 16);
    }
    if (t->stats.live * 1 >= t->nbuckets)
        grow(t);
    size_t b = h & (t->nbuckets - 1);
    f->hnext = t->buckets[b];
    t->buckets[b] = f;
    list_append(t, f, list_for(p->proto));
    t->stats.created++;
    t->stats.live++;
    if (t->stats.live > t->stats.peak_live)
        t->stats.peak_live = t->stats.live;
    *is_new = true;
    return f;
}

/* Counts pkts packets of bytes in f, from side from_a, the newest at ts. */
static int count_in(struct flow_table *t, struct flow *f, bool from_a, uint64_t pkts, uint64_t bytes, uint64_t ts)
{
    int d = (from_a == (bool)f->src_is_a) ? 0 : 1;
    f->pkts[d] += pkts;
    f->bytes[d] += bytes;
    /* first_us stays the first packet's time when time goes backwards */
    if (ts > f->last_us)
        f->last_us = ts;
    f->active_us = t->now_us;
    return d;
}

/* Held fragments whose first fragment never came: a flow of their own
 * without ports (what they were before any was held), counted there. */
static void frag_release(struct flow_table *t, struct frag_slot *s)
{
    bool from_a, is_new;
    struct flow *f = find_or_add(t, &s->held, 0, 0, s->held_first_us, &from_a, &is_new);
    if (f)
        count_in(t, f, from_a, s->held_pkts, s->held_bytes, s->seen_us);
    s->state = FRAG_EMPTY;
    t->frags_held--;
}

/* Routes a fragment (first or not) through its datagram's slot: sets the
 * ports the rest take from the first. A fragment before its first is held
 * (true: not counted in a flow yet); a first that finds fragments held
 * takes them over (*adopt_*: counted in its flow by the caller). A second
 * first fragment of the same datagram keeps its own ports but does not
 * move the rest (a duplicate or forged first does not re-point them). */
static bool frag_route(struct flow_table *t, const struct packet *p, uint64_t ts, uint16_t *sport, uint16_t *dport,
                       struct frag_slot **adopt)
{
    int last = p->ipver == 4 ? 3 : 15;
    uint32_t h = (uint32_t)mix64(((uint64_t)p->frag_id << 8) ^ p->proto ^ ((uint64_t)p->src[last] << 40) ^
                                 ((uint64_t)p->dst[last] << 48)) &
                 (FRAG_SLOTS - 1);
    struct frag_slot *s = &t->frags[h];
    bool same = s->state != FRAG_EMPTY && s->id == p->frag_id && s->proto == p->proto &&
                !memcmp(s->src, p->src, 16) && !memcmp(s->dst, p->dst, 16) &&
                dist(ts, s->seen_us) <= FRAG_TIMEOUT_US;
    *adopt = NULL;
    if (same) {
        s->seen_us = ts > s->seen_us ? ts : s->seen_us;
        if (s->state == FRAG_PORTS && p->fragment) {
            *sport = s->sport;
            *dport = s->dport;
        } else if (s->state == FRAG_HELD && p->fragment) {
            s->held_pkts++;
            s->held_bytes += p->wirelen;
            return true;
        } else if (s->state == FRAG_HELD) {
            s->state = FRAG_PORTS;
            s->sport = p->sport;
            s->dport = p->dport;
            t->frags_held--;
            *adopt = s;
        }
        return false;
    }
    if (s->state == FRAG_HELD)
        frag_release(t, s);
    memcpy(s->src, p->src, 16);
    memcpy(s->dst, p->dst, 16);
    s->id = p->frag_id;
    s->proto = p->proto;
    s->seen_us = ts;
    s->sport = p->sport;
    s->dport = p->dport;
    s->state = p->frag_first ? FRAG_PORTS : FRAG_HELD;
    if (p->frag_first)
        return false;
    s->held = *p;
    s->held.l3 = s->held.payload = NULL;
    s->held_pkts = 1;
    s->held_bytes = p->wirelen;
    s->held_first_us = ts;
    t->frags_held++;
    return true;
}

/* Releases held fragments older than the reassembly time (every one when
 * all is true), looking at most once a second of capture time. */
static void frag_expire(struct flow_table *t, bool all)
{
    if (!t->frags_held || (!all && t->now_us < t->frag_scan_us + 1000000u)) /* now_us never goes back */
        return;
    t->frag_scan_us = t->now_us;
    for (int i = 0; i < FRAG_SLOTS && t->frags_held; i++) {
        struct frag_slot *s = &t->frags[i];
        if (s->state == FRAG_HELD && (all || s->seen_us + FRAG_TIMEOUT_US < t->now_us))
            frag_release(t, s);
    }
}

struct flow *flow_packet(struct flow_table *t, const struct packet *p, int *dir, bool *is_new)
{
    uint64_t ts = packet_time(t, p->ts_us);
    uint16_t sport = p->sport, dport = p->dport;
    struct frag_slot *adopt = NULL;
    *is_new = false;
    if ((p->fragment || p->frag_first) && frag_route(t, p, ts, &sport, &dport, &adopt))
        return NULL; /* held until its first fragment comes */

    bool from_a;
    struct flow *f = find_or_add(t, p, sport, dport, ts, &from_a, is_new);
    if (!f)
        return NULL;
    if (t->pend) { /* this packet is the suspect */
        t->pend_flow = f;
        t->pend_new = *is_new;
    }
    int d = count_in(t, f, from_a, 1, p->wirelen, ts);
    *dir = d;
    if (adopt) { /* fragments that came before their first, same direction */
        count_in(t, f, from_a, adopt->held_pkts, adopt->held_bytes, ts);
        if (adopt->held_first_us < f->first_us && *is_new)
            f->first_us = adopt->held_first_us;
    }

    if (p->proto == IPPROTO_TCP && !p->fragment && f->list != FLOW_LIST_CLOSING) {
        if (p->tcp_flags & TCPF_RST) {
            f->end = FLOW_END_RST;
        } else if (p->tcp_flags & TCPF_FIN) {
            f->tcp_fin |= (uint8_t)(1u << d);
            if (f->tcp_fin == 3)
                f->end = FLOW_END_FIN;
        }
        if (f->end != FLOW_END_NONE) {
            list_unlink(t, f);
            list_append(t, f, FLOW_LIST_CLOSING);
        }
    }
    return f;
}

bool flow_icmp_error(struct flow_table *t, const struct packet *pkt)
{
    struct packet q;
    memset(&q, 0, sizeof q);
    q.ipver = pkt->ipver;
    q.proto = pkt->q_proto;
    memcpy(q.src, pkt->q_src, 16);
    memcpy(q.dst, pkt->q_dst, 16);
    struct flow_key k;
    bool from_a;
    make_key(&q, pkt->q_sport, pkt->q_dport, t->cfg.vlan_key ? pkt->vlan[0] : 0, &k, &from_a);
    struct flow *f = t->buckets[key_hash(t, &k) & (t->nbuckets - 1)];
    while (f && !key_eq(&f->key, &k))
        f = f->hnext;
    if (!f)
        return false;
    f->icmp_errors++;
    return true;
}

void flow_table_input_end(struct flow_table *t)
{
    if (t->pend)
        judge_pending(t, 0, true);
    frag_expire(t, true);
    t->have_prev = false;
    t->tick_pend = false;
}

void flow_table_end_all(struct flow_table *t)
{
    if (t->pend)
        judge_pending(t, 0, true);
    frag_expire(t, true);
    for (int l = 0; l < FLOW_LIST_N; l++) {
        struct flow *f;
        while ((f = t->lists[l].head))
            end_flow(t, f, l == FLOW_LIST_CLOSING ? (enum flow_end)f->end : FLOW_END_EOF);
    }
}

void flow_table_free(struct flow_table *t)
{
    if (!t)
        return;
    flow_table_end_all(t);
    free(t->buckets);
    free(t);
}

const struct flow_stats *flow_table_stats(const struct flow_table *t)
{
    return &t->stats;
}

void flow_endpoints(const struct flow *f, const uint8_t **src, uint16_t *sport, const uint8_t **dst,
                    uint16_t *dport)
{
    if (f->src_is_a) {
        *src = f->key.a, *sport = f->key.pa, *dst = f->key.b, *dport = f->key.pb;
    } else {
        *src = f->key.b, *sport = f->key.pb, *dst = f->key.a, *dport = f->key.pa;
    }
}

const char *flow_end_name(enum flow_end e)
{
    switch (e) {
    case FLOW_END_FIN: return "fin";
    case FLOW_END_RST: return "rst";
    case FLOW_END_IDLE: return "idle";
    case FLOW_END_EVICTED: return "evicted";
    case FLOW_END_EOF: return "end";
    default: return "end";
    }
}

const char *flow_transport_name(uint8_t proto, uint8_t ipver, char buf[16])
{
    switch (proto) {
    case 1: return "icmp";
    case 2: return "igmp";
    case 6: return "tcp";
    case 17: return "udp";
    case 47: return "gre";
    case 50: return "esp";
    case 51: return "ah";
    case 58: return ipver == 6 ? "icmp6" : "ip-58";
    case 132: return "sctp";
    case 136: return "udplite";
    default:
        snprintf(buf, 16, "ip-%u", proto);
        return buf;
    }
}
