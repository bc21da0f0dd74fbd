/* classify.h - nDPI per flow until it decides, the Lync dissectors beside it, then the label.
 *
 * Follows nDPI 4.2's sequence (docs: NDPI-4.2.md): one detection module per
 * classify (one per classify worker); per flow an ndpi_flow_struct fed
 * every packet until nDPI has a protocol and wants no extra packets, or the
 * cap (80 TCP / 24 other packets, ndpiReader's defaults) is reached; then
 * giveup (with port guess) for undecided flows, the detail is copied out
 * and nDPI's state freed, so a decided flow costs only its flow record.
 * nDPI is not fed further once the dissectors have settled a Lync label
 * (sip, stun, msturn, rtp, rtcp, ike, esp, ah, xmpp): its columns keep what
 * it had decided by then, and app_detail says `"ndpi":{"stopped":"lync",...}`. Its
 * memory is bounded in bytes (classify_set_budget).
 *
 * Beside nDPI, on the same packets, the dissectors of src/dissect/ (STUN and
 * MS-TURN, RTP/RTCP, SIP, XMPP, IKE/ESP, TLS), one table of them in
 * classify.c (dissect/dx.h), look at up to 32 UDP / 12 TCP payload packets,
 * keeping a few dozen bytes per live flow; the label then comes from their
 * verdicts where they have one (docs/dissectors.md). classify knows ports,
 * never roles: TLS toward a role on 443 is the audit's (dissect/tls.h). */
#ifndef LYNCAUDIT_CLASSIFY_H
#define LYNCAUDIT_CLASSIFY_H

#include <stddef.h>

#include "decode.h"
#include "flow.h"

struct classify;

struct classify *classify_new(char *err, size_t errlen);
void classify_free(struct classify *c);

/* nDPI's memory, bounded in bytes: nDPI is fed at most 16 KiB of payload
 * per flow, and at most `bytes` over all the flows it still holds (0: no
 * bound); past it, nDPI gives up on the flows it has held longest (their
 * label is then its port guess, app_detail says "stopped":"memory"). */
void classify_set_budget(struct classify *c, size_t bytes);

/* What classify stopped nDPI for, so far. */
struct classify_stats {
    uint64_t stopped_lync;   /* the dissectors settled a Lync label first */
    uint64_t stopped_bytes;  /* the flow reached the 16 KiB bound */
    uint64_t stopped_memory; /* the module reached its budget */
    size_t peak_held;        /* most payload bytes nDPI held at once */
    size_t ndpi_flows, peak_ndpi_flows; /* flows with nDPI state now, and at most */
};
void classify_get_stats(const struct classify *c, struct classify_stats *out);

/* Gives a packet of flow f to nDPI and the dissectors while the flow is
 * undecided. dir is what flow_packet() said of it: 0 from the initiator, 1
 * from the responder. */
void classify_packet(struct classify *c, struct flow *f, const struct packet *p, int dir);

/* True once the flow's label is decided: its later packets need not be
 * handed to classify_packet. The reader's gate: the thread that classifies
 * writes the flag, the reader may read it at any time (a stale false only
 * costs a packet that classify_packet then ignores). */
static inline bool classify_decided(const struct flow *f)
{
    return __atomic_load_n(&f->label.done, __ATOMIC_RELAXED);
}

/* Decides an undecided flow now (giveup) and frees its nDPI state; call at flow end. */
void classify_finish(struct classify *c, struct flow *f);

/* Frees what the label holds (nDPI state, detail). */
void classify_release(struct flow *f);

/* lyncaudit's own labels (flow_label.lync), set where the Lync dissectors
 * (src/dissect/) decided; 0 leaves nDPI's verdict as the label. Their names
 * (classify_label_name) are the label vocabulary: classify.c has the one list. */
enum classify_label {
    CL_NDPI = 0, /* nDPI's verdict is the label */
    CL_UNKNOWN,  /* nDPI's verdict was not confirmed (one-packet RTP) */
    CL_SIP,
    CL_SIP_TLS,
    CL_PSOM,
    CL_MSTURN,
    CL_STUN,
    CL_RTP,
    CL_RTCP,
    CL_XMPP,
    CL_IKE,
    CL_ESP,
    CL_AH,
    CL_TLS,      /* TLS records nDPI did not decide on (capture started mid-connection) */
    CL_N
};

/* "sip_tls", "msturn" ... for a classify_label. */
const char *classify_label_name(unsigned id);

/* The i-th label a rule may expect (classify's own but "unknown", and the
 * nDPI names the rules use: "http" ...); NULL past the last. The binary
 * hands them to lua/dsl.lua (audit_load). */
const char *classify_rule_label(size_t i);

/* The flow's label: lyncaudit's own (classify_label) where the dissectors
 * decided, else the lower-case nDPI protocol name, or "unknown" when nDPI
 * matched nothing by inspection (a port guess is not a match: see app_detail). */
const char *classify_app(const struct classify *c, const struct flow *f, char *buf, size_t len);

/* nDPI's own name for a protocol id ("TLS", "Unknown"). */
const char *classify_proto_name(const struct classify *c, unsigned id);

/* nDPI's confidence name for the flow ("DPI", "Match by port" ...). */
const char *classify_confidence_name(const struct flow *f);

/* A decided flow's label in words, for the record stage. The nDPI names
 * point into nDPI's module (static for the run); app is the flow's label. */
struct classify_names {
    const char *ndpi_master, *ndpi_app, *confidence;
    char app[32];
};

/* Fills *out for flow f, which classify_finish() has decided. Uses nDPI's
 * module: call it where classify runs, not on another thread. */
void classify_names(const struct classify *c, const struct flow *f, struct classify_names *out);

/* The nDPI library version string. */
const char *classify_ndpi_version(void);

#endif
