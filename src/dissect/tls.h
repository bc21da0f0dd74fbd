/* tls.h - TLS records and handshake messages, and the Lync TLS port policy.
 *
 * tls_dissect() walks the TLS records at the start of a TCP payload (RFC
 * 5246 6.2, RFC 8446 5.1) and the handshake messages in them: which ones
 * (ClientHello, ServerHello, Certificate, ServerHelloDone ...), and whether a
 * ClientHello names a server (SNI). MS-TURN's pseudo-TLS hello ([MS-TURN]
 * 2.1.4) looks like this too: a ServerHello with ServerHelloDone and no
 * Certificate, then 4-byte framed MS-TURN messages (msturn.h).
 *
 * sip_tls and psom are decided here, and only here, in two steps:
 * - tls_port_service(), the port: the ports Lync Server 2013 runs SIP over
 *   TLS/MTLS on, and PSOM's 8057/8058 (seeds/003: Front End, Director,
 *   Mediation, Persistent Chat tables). classify asks it with the server
 *   port of every TLS flow (tls_label); the flow then has the facts
 *   LABEL_F_TLS and, when the port named the service, LABEL_F_TLS_PORT.
 * - tls_role_label(), the role, for a TLS flow the port did not name (facts
 *   LABEL_F_TLS without LABEL_F_TLS_PORT): 443 on the Access Edge is SIP, on
 *   the Web Conferencing Edge PSOM, 23456 on the Edge internal interface
 *   XMPP (seeds/002). Only the audit knows roles: it asks (refine_app). */
#ifndef LYNCAUDIT_DISSECT_TLS_H
#define LYNCAUDIT_DISSECT_TLS_H

#include <stdbool.h>
#include <stdint.h>

#include "cursor.h"
#include "dissect/dx.h"

#define TLS_HS_CLIENT_HELLO 1
#define TLS_HS_SERVER_HELLO 2
#define TLS_HS_CERTIFICATE 11
#define TLS_HS_SERVER_HELLO_DONE 14

struct tls_verdict {
    uint8_t records;      /* complete or partial TLS records read (0: not TLS) */
    uint8_t first_type;   /* content type of the first record (20-23) */
    uint16_t version;     /* record version of the first record */
    uint32_t handshakes;  /* bit n: handshake type n seen (n < 32) */
    bool sni;             /* a ClientHello with a server_name extension */
    bool exact;           /* the records end exactly where c does (none cut short) */
    bool sslv2;           /* an SSL 2.0-compatible ClientHello, not a TLS record */
};

/* Reads the TLS records at the start of c; false when the first is not one. */
bool tls_dissect(struct cursor c, struct tls_verdict *v);

enum tls_port_service { TLS_PORT_OTHER = 0, TLS_PORT_SIP, TLS_PORT_PSOM };

/* What Lync runs over TLS on this server port: SIP (5061, 5062-5087, 5041,
 * 8404), PSOM (8057, 8058), or nothing port-specific (443 needs the role). */
enum tls_port_service tls_port_service(uint16_t port);

/* The server roles whose TLS service their port alone does not tell. */
enum tls_server { TLS_SERVER_OTHER = 0, TLS_SERVER_EDGE_ACCESS, TLS_SERVER_EDGE_WEBCONF, TLS_SERVER_EDGE_INTERNAL };

/* The label (enum classify_label: sip_tls, psom, xmpp) of a TLS flow to
 * `port` on a server in that role; 0 when the role tells nothing. */
unsigned tls_role_label(uint16_t port, enum tls_server server);

/* What a flow keeps (struct dx_flow.tls). */
struct tls_flow {
    uint8_t pkts;       /* payload packets that were TLS records or an SSLv2 hello */
    uint8_t records;    /* ... TLS records (SSL 3.0 and later) */
    uint8_t hello_dir;  /* 0: no ClientHello; 1 + the direction that sent it */
    bool sslv2;         /* an SSL 2.0-compatible ClientHello went by */
    bool alert;         /* a packet held exactly one Alert record */
};

/* classify's table row (dx.h): TLS records over TCP, labelled with the
 * port policy; nDPI's TLS verdict counts as much as our records. TLS is a
 * ClientHello or records in two packets, or one packet that is exactly an
 * Alert record (a refused handshake); an SSLv2-style hello counts only when
 * TLS records follow it (legacy Skype sends a fake one on 443, then bytes of
 * its own: not TLS, whatever nDPI says). */
enum dx_claim tls_track(struct dx_flow *x, const struct dx_pkt *p);
bool tls_label(const struct dx_flow *x, struct dx_view *v);

#endif
