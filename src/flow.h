/* flow.h - bidirectional flows keyed by the canonical 5-tuple.
 *
 * The table owns its flows. A flow ends at TCP close (after a short linger
 * for stragglers), after an idle timeout, when evicted by the live-flow cap,
 * or at flow_table_end_all(); each end is handed to the `on_end` callback
 * exactly once, then the flow is freed. Time is capture time: the table's
 * clock is the newest packet timestamp seen, so reading a file expires flows
 * exactly as watching the wire would. A packet whose time is a spike (far
 * from the packets on both sides of it, both on one side) is counted in its
 * flow but its time is kept out of the clock and of the flow's times
 * (flow_stats.time_outliers); see flow.c. */
#ifndef LYNCAUDIT_FLOW_H
#define LYNCAUDIT_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode.h"

enum flow_end {
    FLOW_END_NONE = 0,
    FLOW_END_FIN,
    FLOW_END_RST,
    FLOW_END_IDLE,
    FLOW_END_EVICTED,
    FLOW_END_EOF, /* end of input, or the run was stopped */
};

enum flow_list_id { FLOW_LIST_TCP, FLOW_LIST_UDP, FLOW_LIST_OTHER, FLOW_LIST_CLOSING, FLOW_LIST_N };

struct flow_key {
    uint8_t a[16], b[16]; /* the lower (address, port) end first */
    uint16_t pa, pb;
    uint8_t proto, ipver;
    uint16_t vlan; /* the outermost VLAN id with flow_config.vlan_key, else 0:
                    * keys compare as five 64-bit words */
};

/* Facts classify found on the flow (flow_label.facts), for the audit stage
 * (audit_flow.facts), which alone can name TLS toward a role (dissect/tls.h). */
#define LABEL_F_TLS      0x01 /* the label is TLS's: tls, sip_tls or psom (nDPI's TLS or our records) */
#define LABEL_F_TLS_PORT 0x02 /* ... and the server port named its Lync service (sip_tls, psom) */

struct stun_call; /* dissect/msturn.h */

/* What classify decides; flow only stores it. */
struct flow_label {
    void *dpi;            /* classify's live state; NULL once decided */
    char *detail;         /* malloc'd text, or NULL */
    struct stun_call *call; /* malloc'd MS-TURN call identity ([MS-TURNBWM]), or NULL */
    uint16_t ndpi_master, ndpi_app;
    uint16_t lync;        /* classify's own label id (enum classify_label; 0: nDPI's) */
    uint8_t confidence;
    uint8_t fed;          /* packets given to nDPI so far */
    bool done;            /* written by the classifying thread (classify.h: classify_decided) */
    uint8_t facts;        /* LABEL_F_* */
};

/* Laid out for two threads (pipeline.h): what both read first, then what
 * the reader updates on every packet, then what the classify thread works in. */
struct flow {
    /* set when the flow starts, or seldom changed: both threads read it */
    struct flow_key key;
    uint64_t first_us;            /* capture timestamps */
    uint32_t icmp_errors;         /* ICMP errors quoting this flow's packets */
    uint8_t src_is_a;             /* the initiator is key end a */
    uint8_t list;                 /* enum flow_list_id */
    uint8_t tcp_fin;              /* bit 0: initiator sent FIN, bit 1: responder */
    uint8_t end;                  /* enum flow_end once closing */
    struct flow *hnext;           /* hash chain */
    uint16_t vlan[2];             /* the first packet's VLAN ids (struct packet) */
    uint8_t tunnel, tun_ipver;    /* the first packet's outermost tunnel (enum tunnel_kind) */
    bool tun_has_id;
    uint32_t tun_id;
    uint8_t tun_src[16], tun_dst[16]; /* its outer addresses, as that packet had them */
    uint32_t evidence;            /* the reader's: the flow's slot in the evidence capture (src/evidence.c), 0: none */
    /* the reader's, on every packet */
    struct flow *prev, *next;     /* activity list, oldest first */
    uint64_t last_us;
    uint64_t active_us;           /* table clock at the last packet (monotonic) */
    uint64_t queued_us;           /* table clock when placed at its list position */
    uint64_t pkts[2], bytes[2];   /* [0]: initiator -> responder */
    /* classify's, on a cache line of its own: the worker that classifies
     * writes it while the reader writes the counters above (flow_packet
     * allocates flows aligned to it) */
    _Alignas(64) struct flow_label label;

};

struct flow_config {
    uint64_t tcp_idle_us, udp_idle_us, other_idle_us; /* 0: never */
    uint64_t linger_us;   /* how long a closed TCP flow waits for stragglers */
    size_t max_flows;     /* 0: no cap */
    bool handover;        /* on_end takes the flow and frees it later with flow_free()
                           * (another thread may still need it); else the table frees it */
    bool vlan_key;        /* the outermost VLAN id is part of the flow key (--vlan-flows) */
};

typedef void (*flow_end_fn)(struct flow *f, void *ctx);

struct flow_stats {
    uint64_t created, ended, evicted, live, peak_live;
    uint64_t time_outliers; /* packets whose time was a spike (flow.c) */
};

struct flow_table;

struct flow_table *flow_table_new(const struct flow_config *cfg, flow_end_fn on_end, void *ctx);
void flow_table_free(struct flow_table *t);

/* Finds or creates the flow of a decoded packet, counts the packet in it and
 * sets *dir (0: from the initiator) and *is_new. Returns NULL when memory
 * runs out, and for an IP fragment that came before its datagram's first
 * fragment: it is held (counted in no flow, fed to no stage) until the
 * first comes and it is counted in that flow, or, when the first never
 * comes within 30 s of capture time, the input ends or its slot is needed,
 * counted in a flow without ports as fragments always were. */
struct flow *flow_packet(struct flow_table *t, const struct packet *pkt, int *dir, bool *is_new);

/* Counts an ICMP error with the flow of the packet it quotes, if that flow
 * is live; returns false when there is none (the error is then a flow of
 * its own). */
bool flow_icmp_error(struct flow_table *t, const struct packet *pkt);

/* Ends flows idle past their timeout or past their linger, at clock now_us. */
void flow_table_expire(struct flow_table *t, uint64_t now_us);

/* The input ends (a file of a run; the next starts afresh): a packet held
 * as a time suspect is judged as at the end, and the next packet's time is
 * not compared with this input's (files of a run may be years apart). */
void flow_table_input_end(struct flow_table *t);

/* Ends every live flow with FLOW_END_EOF (a packet still held as a time
 * suspect has its time taken: there is no next packet to judge it by). */
void flow_table_end_all(struct flow_table *t);

/* A hash of the flow key that is the same for both directions and every
 * run (unseeded): which classify worker a flow goes to (pipeline.c). */
uint32_t flow_shard(const struct flow_key *k);

/* Frees a flow handed over by on_end (flow_config.handover). */
void flow_free(struct flow *f);

const struct flow_stats *flow_table_stats(const struct flow_table *t);

/* The flow's initiator and responder: addresses (16 bytes), ports. */
void flow_endpoints(const struct flow *f, const uint8_t **src, uint16_t *sport,
                    const uint8_t **dst, uint16_t *dport);

const char *flow_end_name(enum flow_end e);

/* Lower-case transport name for an IP protocol number (buf for the rest). */
const char *flow_transport_name(uint8_t proto, uint8_t ipver, char buf[16]);

#endif
