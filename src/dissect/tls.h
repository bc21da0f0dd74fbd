/* tls.h - TLS records and handshake messages, and the Lync TLS port policy.
 *
 * tls_dissect() walks the TLS records at the start of a TCP payload (RFC
 * 5246 6.2, RFC 8446 5.1) and the handshake messages in them: which ones
 * (ClientHello, ServerHello, Certificate, ServerHelloDone ...), and whether a
 * ClientHello names a server (SNI). MS-TURN's pseudo-TLS hello ([MS-TURN]
 * 2.1.4) looks like this too: a ServerHello with ServerHelloDone and no
 * Certificate, then 4-byte framed MS-TURN messages (msturn.h).
 *
 * tls_port_service() is the port half of the sip_tls/psom labels: the ports
 * Lync Server 2013 runs SIP over TLS/MTLS on, and PSOM's 8057/8058
 * (seeds/003: Front End, Director, Mediation, Persistent Chat tables). */
#ifndef LYNCAUDIT_DISSECT_TLS_H
#define LYNCAUDIT_DISSECT_TLS_H

#include <stdbool.h>
#include <stdint.h>

#include "cursor.h"

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
};

/* Reads the TLS records at the start of c; false when the first is not one. */
bool tls_dissect(struct cursor c, struct tls_verdict *v);

enum tls_port_service { TLS_PORT_OTHER = 0, TLS_PORT_SIP, TLS_PORT_PSOM };

/* What Lync runs over TLS on this server port: SIP (5061, 5062-5087, 5041,
 * 8404), PSOM (8057, 8058), or nothing port-specific (443 needs the role). */
enum tls_port_service tls_port_service(uint16_t port);

#endif
