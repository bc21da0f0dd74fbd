/* ike.h - IKE (ISAKMP, RFC 2408 / RFC 7296) and UDP-encapsulated ESP (RFC 3948).
 *
 * On UDP 500 a datagram is an ISAKMP message. On UDP 4500 it is either an
 * ISAKMP message behind the 4-byte non-ESP marker (zero), a NAT keep-alive
 * (one 0xFF byte), or an ESP packet (non-zero SPI, sequence number). */
#ifndef LYNCAUDIT_DISSECT_IKE_H
#define LYNCAUDIT_DISSECT_IKE_H

#include <stdbool.h>
#include <stdint.h>

#include "cursor.h"
#include "dissect/dx.h"

#define IKE_PORT 500
#define IKE_NATT_PORT 4500

enum ike_kind { IKE_NONE = 0, IKE_MESSAGE, IKE_ESP_IN_UDP, IKE_KEEPALIVE };

struct ike_verdict {
    uint8_t kind;       /* enum ike_kind */
    uint8_t version;    /* IKE major version, 1 or 2 */
    uint8_t exchange;   /* exchange type */
    bool natt;          /* behind the non-ESP marker */
    uint32_t spi;       /* ESP SPI */
};

/* Reads one UDP datagram sent between ports sport and dport. */
bool ike_dissect(struct cursor c, uint16_t sport, uint16_t dport, struct ike_verdict *v);

/* What a flow keeps (struct dx_flow.ike). */
struct ike_flow {
    uint8_t msgs, version, natt; /* ISAKMP messages, the last one's major version, behind the marker */
    uint8_t esp_udp;             /* ESP packets in UDP */
    uint32_t spi;                /* the last ESP SPI */
};

/* classify's table row (dx.h): IKE on 500/4500 and ESP in UDP; the label
 * also names the flows of IP protocols 50 (ESP) and 51 (AH). */
enum dx_claim ike_track(struct dx_flow *x, const struct dx_pkt *p);
bool ike_label(const struct dx_flow *x, struct dx_view *v);

#endif
