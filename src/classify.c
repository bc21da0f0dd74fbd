/* classify.c - nDPI 4.2 wrapper (see classify.h). */
#include "classify.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ndpi_api.h>

#define CAP_TCP 80
#define CAP_OTHER 24
#define DETAIL_MAX 512

struct classify {
    struct ndpi_detection_module_struct *mod;
};

struct classify *classify_new(char *err, size_t errlen)
{
    struct classify *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->mod = ndpi_init_detection_module(ndpi_no_prefs);
    if (!c->mod) {
        snprintf(err, errlen, "nDPI: cannot initialise the detection module");
        free(c);
        return NULL;
    }
    NDPI_PROTOCOL_BITMASK all;
    NDPI_BITMASK_SET_ALL(all);
    ndpi_set_protocol_detection_bitmask2(c->mod, &all);
    ndpi_finalize_initialization(c->mod);
    return c;
}

void classify_free(struct classify *c)
{
    if (!c)
        return;
    ndpi_exit_detection_module(c->mod);
    free(c);
}

const char *classify_ndpi_version(void)
{
    return ndpi_revision();
}

/* Appends "key=value" to the detail text, separated by "; ". */
static void detail_add(char *buf, size_t len, const char *key, const char *val)
{
    if (!val || !*val)
        return;
    size_t used = strlen(buf);
    if (used + 8 >= len)
        return;
    snprintf(buf + used, len - used, "%s%s=%s", used ? "; " : "", key, val);
}

/* Copies what explains nDPI's verdict out of its flow state. */
static void take_detail(struct classify *c, struct flow *f, struct ndpi_flow_struct *nf)
{
    char d[DETAIL_MAX];
    d[0] = '\0';
    uint16_t m = f->label.ndpi_master, a = f->label.ndpi_app;
    uint16_t main_proto = m ? m : a;
    const char *host = nf->host_server_name[0] ? nf->host_server_name : NULL;

    if (f->label.confidence == NDPI_CONFIDENCE_MATCH_BY_PORT ||
        f->label.confidence == NDPI_CONFIDENCE_MATCH_BY_IP) {
        char g[80];
        snprintf(g, sizeof g, "%s %s", ndpi_confidence_get_name(f->label.confidence),
                 classify_proto_name(c, main_proto));
        detail_add(d, sizeof d, "ndpi_guess", g);
    }
    switch (main_proto) {
    case NDPI_PROTOCOL_TLS:
    case NDPI_PROTOCOL_DTLS:
    case NDPI_PROTOCOL_QUIC:
        detail_add(d, sizeof d, "sni", host);
        detail_add(d, sizeof d, "subject", nf->protos.tls_quic.subjectDN);
        detail_add(d, sizeof d, "issuer", nf->protos.tls_quic.issuerDN);
        detail_add(d, sizeof d, "alpn", nf->protos.tls_quic.alpn);
        detail_add(d, sizeof d, "san", nf->protos.tls_quic.server_names);
        break;
    case NDPI_PROTOCOL_STUN:
        detail_add(d, sizeof d, "realm", host);
        break;
    case NDPI_PROTOCOL_DNS:
        detail_add(d, sizeof d, "query", host);
        break;
    default:
        detail_add(d, sizeof d, "host", host);
        break;
    }
    free(f->label.detail);
    f->label.detail = d[0] ? strdup(d) : NULL;
}

/* Records nDPI's verdict in the label and frees nDPI's flow state. */
static void decide(struct classify *c, struct flow *f, ndpi_protocol p)
{
    struct ndpi_flow_struct *nf = f->label.dpi;
    f->label.ndpi_master = p.master_protocol;
    f->label.ndpi_app = p.app_protocol;
    f->label.confidence = (uint8_t)nf->confidence;
    if (p.master_protocol == NDPI_PROTOCOL_UNKNOWN && p.app_protocol == NDPI_PROTOCOL_UNKNOWN)
        f->label.confidence = NDPI_CONFIDENCE_UNKNOWN;
    take_detail(c, f, nf);
    ndpi_flow_free(nf);
    f->label.dpi = NULL;
    f->label.done = true;
}

void classify_packet(struct classify *c, struct flow *f, const struct packet *p)
{
    if (f->label.done)
        return;
    struct ndpi_flow_struct *nf = f->label.dpi;
    if (!nf) {
        nf = ndpi_flow_malloc(SIZEOF_FLOW_STRUCT);
        if (!nf)
            return; /* out of memory: the flow stays unlabelled, counted all the same */
        memset(nf, 0, SIZEOF_FLOW_STRUCT);
        f->label.dpi = nf;
    }
    ndpi_protocol r = ndpi_detection_process_packet(c->mod, nf, p->l3, p->l3len, p->ts_us / 1000);
    f->label.fed++;
    bool known = r.app_protocol != NDPI_PROTOCOL_UNKNOWN || r.master_protocol != NDPI_PROTOCOL_UNKNOWN;
    if (known && !ndpi_extra_dissection_possible(c->mod, nf)) {
        decide(c, f, r);
        return;
    }
    unsigned cap = f->key.proto == 6 ? CAP_TCP : CAP_OTHER;
    if (f->label.fed >= cap)
        classify_finish(c, f);
}

void classify_finish(struct classify *c, struct flow *f)
{
    if (f->label.done || !f->label.dpi)
        return;
    struct ndpi_flow_struct *nf = f->label.dpi;
    ndpi_protocol r = {nf->detected_protocol_stack[1], nf->detected_protocol_stack[0],
                       NDPI_PROTOCOL_CATEGORY_UNSPECIFIED};
    if (r.app_protocol == NDPI_PROTOCOL_UNKNOWN) {
        uint8_t guessed = 0;
        r = ndpi_detection_giveup(c->mod, nf, 1, &guessed);
    }
    decide(c, f, r);
}

void classify_release(struct flow *f)
{
    if (f->label.dpi) {
        ndpi_flow_free(f->label.dpi);
        f->label.dpi = NULL;
    }
    free(f->label.detail);
    f->label.detail = NULL;
}

const char *classify_proto_name(const struct classify *c, unsigned id)
{
    const char *n = ndpi_get_proto_name(c->mod, (u_int16_t)id);
    return n ? n : "Unknown";
}

const char *classify_confidence_name(const struct flow *f)
{
    return ndpi_confidence_get_name((ndpi_confidence_t)f->label.confidence);
}

const char *classify_app(const struct classify *c, const struct flow *f, char *buf, size_t len)
{
    uint8_t conf = f->label.confidence;
    if (conf != NDPI_CONFIDENCE_DPI && conf != NDPI_CONFIDENCE_DPI_CACHE)
        return "unknown";
    unsigned id = f->label.ndpi_master ? f->label.ndpi_master : f->label.ndpi_app;
    if (id == NDPI_PROTOCOL_UNKNOWN)
        return "unknown";
    if (id == NDPI_PROTOCOL_JABBER)
        return "xmpp";
    const char *n = classify_proto_name(c, id);
    size_t i = 0;
    for (; n[i] && i + 1 < len; i++)
        buf[i] = (char)tolower((unsigned char)n[i]);
    buf[i] = '\0';
    return buf;
}
