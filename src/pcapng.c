/* pcapng.c - the pcapng reader (see pcapng.h; the format is the IETF
 * opsawg draft "PCAP Now Generic (pcapng) Capture File Format").
 *
 * A block is read whole into one buffer (header, body, trailer), its two
 * length fields checked against each other, then its body parsed through a
 * cursor. A section header resets the interfaces and sets the byte order
 * for every block of its section. */
#include "pcapng.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"

#define BT_SHB 0x0A0D0D0Au
#define BT_IDB 1u
#define BT_PB 2u /* the obsolete packet block: some old tools still write it */
#define BT_SPB 3u
#define BT_EPB 6u
#define BYTE_ORDER_MAGIC 0x1A2B3C4Du
#define OPT_END 0
#define OPT_IF_TSRESOL 9
#define OPT_IF_TSOFFSET 14
/* A block past 16 MiB is damage, not a packet (libpcap stops there too). */
#define MAX_BLOCK (16u * 1024 * 1024)
#define MAX_IFACES 65536

struct iface {
    uint16_t linktype;
    uint32_t snaplen;  /* 0: none */
    uint64_t units;    /* time units per second (if_tsresol; 10^6 by default) */
    int64_t offset_s;  /* seconds added to every time (if_tsoffset) */
};

struct pcapng {
    FILE *f;
    uint8_t *buf;      /* the current block from its body on (body, then trailer) */
    size_t cap;
    uint64_t pos;      /* file offset of the next block */
    uint64_t block_at; /* file offset of the current block */
    bool be;           /* the current section is big-endian */
    struct iface *ifs; /* the current section's interfaces */
    size_t nifs, capifs;
    bool have_first;
    uint16_t first_linktype;
    bool failed;
    char err[256];
};

/* The section header's block type reads the same in either byte order. */
bool pcapng_magic(const uint8_t b[4])
{
    return b[0] == 0x0A && b[1] == 0x0D && b[2] == 0x0D && b[3] == 0x0A;
}

/* Records what is wrong with the block being read; the reader stays failed. */
static enum pcapng_status bad(struct pcapng *r, const char *fmt, ...)
{
    int n = snprintf(r->err, sizeof r->err, "block at byte %llu: ", (unsigned long long)r->block_at);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof r->err)
        vsnprintf(r->err + n, sizeof r->err - (size_t)n, fmt, ap);
    va_end(ap);
    r->failed = true;
    return PCAPNG_ERROR;
}

/* Checked reads in the current section's byte order (`be`: big-endian). */
static uint16_t rd16(struct cursor *c, bool be)
{
    return be ? cur_be16(c) : cur_le16(c);
}

/* As rd16, 32 bits. */
static uint32_t rd32(struct cursor *c, bool be)
{
    return be ? cur_be32(c) : cur_le32(c);
}

/* A 64-bit value (an option's: packet times are two 32-bit halves instead). */
static uint64_t rd64(struct cursor *c, bool be)
{
    uint64_t a = rd32(c, be), b = rd32(c, be);
    return be ? (a << 32) | b : (b << 32) | a;
}

/* Reads n bytes or says why not: a clean end of file only where allowed. */
static enum pcapng_status read_exact(struct pcapng *r, void *dst, size_t n, const char *where)
{
    size_t got = fread(dst, 1, n, r->f);
    if (got == n)
        return PCAPNG_PACKET;
    if (ferror(r->f))
        return bad(r, "read error: %s", strerror(errno));
    return bad(r, "truncated inside %s (%zu of %zu bytes there)", where, got, n);
}

/* Reads the next block whole: its type and a cursor over its body (between
 * the two length fields). PCAPNG_END at a clean end of file. A section
 * header's byte-order magic sets the order before its length is read. */
static enum pcapng_status read_block(struct pcapng *r, uint32_t *type, struct cursor *body)
{
    uint8_t h[12];
    r->block_at = r->pos;
    size_t got = fread(h, 1, 8, r->f);
    if (got < 8 && ferror(r->f))
        return bad(r, "read error: %s", strerror(errno));
    if (got == 0)
        return PCAPNG_END;
    if (got < 8)
        return bad(r, "truncated inside a block header (%zu of 8 bytes there)", got);
    bool shb = pcapng_magic(h);
    if (shb) {
        if (read_exact(r, h + 8, 4, "a section header") != PCAPNG_PACKET)
            return PCAPNG_ERROR;
        struct cursor m = cur_make(h + 8, 4);
        uint32_t bom = cur_le32(&m);
        if (bom != BYTE_ORDER_MAGIC && bom != __builtin_bswap32(BYTE_ORDER_MAGIC))
            return bad(r, "a section header with a bad byte-order magic 0x%08x", bom);
        r->be = bom != BYTE_ORDER_MAGIC;
    }
    struct cursor hc = cur_make(h, 8);
    *type = rd32(&hc, r->be);
    uint32_t len = rd32(&hc, r->be);
    if (len < (shb ? 28u : 12u) || len % 4 != 0 || len > MAX_BLOCK)
        return bad(r, "block length %u is %s", len,
                   len > MAX_BLOCK ? "too large" : len % 4 ? "not a multiple of 4" : "too small");
    if (len - 8 > r->cap) {
        uint8_t *nb = realloc(r->buf, len - 8);
        if (!nb)
            return bad(r, "out of memory for a block of %u bytes", len);
        r->buf = nb;
        r->cap = len - 8;
    }
    size_t have = shb ? 4 : 0;
    if (shb)
        memcpy(r->buf, h + 8, 4);
    if (read_exact(r, r->buf + have, len - 8 - have, "a block") != PCAPNG_PACKET)
        return PCAPNG_ERROR;
    r->pos += len;
    struct cursor tc = cur_make(r->buf + len - 12, 4);
    uint32_t trailer = rd32(&tc, r->be);
    if (trailer != len)
        return bad(r, "block length %u at its start but %u at its end", len, trailer);
    *body = cur_make(r->buf, len - 12);
    return PCAPNG_PACKET;
}

/* A section header: its byte order is set (read_block); its interfaces start afresh. */
static enum pcapng_status parse_shb(struct pcapng *r, struct cursor c)
{
    cur_skip(&c, 4); /* byte-order magic */
    uint16_t major = rd16(&c, r->be), minor = rd16(&c, r->be);
    if (c.bad || major != 1)
        return bad(r, "pcapng version %u.%u is not supported (1.x is)", major, minor);
    r->nifs = 0;
    return PCAPNG_PACKET;
}

/* if_tsresol: 10^-n seconds, or 2^-n with the top bit set. */
static enum pcapng_status set_tsresol(struct pcapng *r, struct iface *i, uint8_t res)
{
    unsigned e = res & 0x7f;
    if (res & 0x80) {
        if (e > 63)
            return bad(r, "if_tsresol 2^-%u is finer than lyncaudit reads (2^-63)", e);
        i->units = 1ull << e;
        return PCAPNG_PACKET;
    }
    if (e > 19)
        return bad(r, "if_tsresol 10^-%u is finer than lyncaudit reads (10^-19)", e);
    i->units = 1;
    while (e--)
        i->units *= 10;
    return PCAPNG_PACKET;
}

/* An interface description: link type, snapshot length, and the options
 * that change how its times read. Other options are skipped by length. */
static enum pcapng_status parse_idb(struct pcapng *r, struct cursor c)
{
    if (r->nifs >= MAX_IFACES)
        return bad(r, "more than %d interfaces in one section", MAX_IFACES);
    struct iface i = {.units = 1000000};
    i.linktype = rd16(&c, r->be);
    cur_skip(&c, 2);
    i.snaplen = rd32(&c, r->be);
    if (c.bad)
        return bad(r, "an interface description of %zu bytes (16 at least)", c.len + 12);
    while (c.len >= 4) {
        uint16_t code = rd16(&c, r->be), olen = rd16(&c, r->be);
        if (code == OPT_END)
            break;
        size_t padded = ((size_t)olen + 3) & ~(size_t)3;
        if (padded > c.len)
            return bad(r, "interface option %u of %u bytes runs past its block", code, olen);
        struct cursor v = cur_sub(&c, olen);
        cur_skip(&c, padded - olen);
        if ((code == OPT_IF_TSRESOL && olen != 1) || (code == OPT_IF_TSOFFSET && olen != 8))
            return bad(r, "interface option %u of %u bytes (its length is fixed)", code, olen);
        if (code == OPT_IF_TSRESOL && set_tsresol(r, &i, cur_u8(&v)) != PCAPNG_PACKET)
            return PCAPNG_ERROR;
        if (code == OPT_IF_TSOFFSET)
            i.offset_s = (int64_t)rd64(&v, r->be);
    }
    if (r->nifs == r->capifs) {
        size_t n = r->capifs ? r->capifs * 2 : 8;
        struct iface *ni = realloc(r->ifs, n * sizeof *ni);
        if (!ni)
            return bad(r, "out of memory for interfaces");
        r->ifs = ni;
        r->capifs = n;
    }
    r->ifs[r->nifs++] = i;
    if (!r->have_first) {
        r->have_first = true;
        r->first_linktype = i.linktype;
    }
    return PCAPNG_PACKET;
}

/* A time in the interface's units as microseconds since the epoch, floored,
 * clamped to what 64 bits hold. */
static uint64_t to_us(const struct iface *i, uint64_t t)
{
    unsigned __int128 us;
    if (i->units == 1000000)
        us = t;
    else if (i->units == 1000000000)
        us = t / 1000;
    else
        us = (unsigned __int128)t * 1000000u / i->units;
    if (i->offset_s) {
        __int128 v = (__int128)us + (__int128)i->offset_s * 1000000;
        us = v < 0 ? 0 : (unsigned __int128)v;
    }
    return us > UINT64_MAX ? UINT64_MAX : (uint64_t)us;
}

/* The interface a packet names, or an error when the section has no such one. */
static const struct iface *iface_of(struct pcapng *r, uint32_t id)
{
    if (id >= r->nifs) {
        bad(r, "a packet of interface %u, but its section describes %zu", id, r->nifs);
        return NULL;
    }
    return &r->ifs[id];
}

/* Enhanced (EPB) and obsolete (PB) packet blocks: interface, time, lengths,
 * then the captured bytes. */
static enum pcapng_status parse_packet(struct pcapng *r, uint32_t type, struct cursor c,
                                       struct pcapng_packet *p)
{
    uint32_t id = type == BT_EPB ? rd32(&c, r->be) : rd16(&c, r->be);
    if (type == BT_PB)
        cur_skip(&c, 2); /* drops count */
    uint64_t hi = rd32(&c, r->be), lo = rd32(&c, r->be);
    p->caplen = rd32(&c, r->be);
    p->wirelen = rd32(&c, r->be);
    if (c.bad)
        return bad(r, "a packet block too short for its header");
    const struct iface *i = iface_of(r, id);
    if (!i)
        return PCAPNG_ERROR;
    if (p->caplen > c.len)
        return bad(r, "captured length %u runs past its block (%zu bytes there)", p->caplen, c.len);
    p->data = c.p;
    p->ts_us = to_us(i, (hi << 32) | lo);
    p->has_ts = true;
    p->linktype = i->linktype;
    p->iface = id;
    return PCAPNG_PACKET;
}

/* A simple packet block: interface 0, no time, the captured length implied
 * by the block and the snapshot length. */
static enum pcapng_status parse_spb(struct pcapng *r, struct cursor c, struct pcapng_packet *p)
{
    p->wirelen = rd32(&c, r->be);
    if (c.bad)
        return bad(r, "a simple packet block too short for its header");
    const struct iface *i = iface_of(r, 0);
    if (!i)
        return PCAPNG_ERROR;
    size_t cap = p->wirelen < c.len ? p->wirelen : c.len;
    if (i->snaplen && cap > i->snaplen)
        cap = i->snaplen;
    p->caplen = (uint32_t)cap;
    p->data = c.p;
    p->ts_us = 0;
    p->has_ts = false;
    p->linktype = i->linktype;
    p->iface = 0;
    return PCAPNG_PACKET;
}

enum pcapng_status pcapng_next(struct pcapng *r, struct pcapng_packet *p)
{
    if (r->failed)
        return PCAPNG_ERROR;
    for (;;) {
        uint32_t type;
        struct cursor body;
        enum pcapng_status st = read_block(r, &type, &body);
        if (st != PCAPNG_PACKET)
            return st;
        switch (type) {
        case BT_SHB: st = parse_shb(r, body); break;
        case BT_IDB: st = parse_idb(r, body); break;
        case BT_EPB:
        case BT_PB: return parse_packet(r, type, body, p);
        case BT_SPB: return parse_spb(r, body, p);
        default: break; /* statistics, name resolution, secrets, custom ...: not ours */
        }
        if (st != PCAPNG_PACKET)
            return st;
    }
}

/* The section header, then blocks up to the first interface description:
 * enough to know the first link type (a filter is checked against it).
 * Damage after that is damage of the run, found by pcapng_next. */
static enum pcapng_status read_head(struct pcapng *r)
{
    uint32_t type;
    struct cursor body;
    enum pcapng_status st = read_block(r, &type, &body);
    if (st == PCAPNG_END || (st == PCAPNG_PACKET && type != BT_SHB))
        return bad(r, "not a pcapng section header");
    if (st != PCAPNG_PACKET || parse_shb(r, body) != PCAPNG_PACKET)
        return PCAPNG_ERROR;
    while (!r->have_first) {
        st = read_block(r, &type, &body);
        if (st == PCAPNG_END)
            return bad(r, "no interface description block (no link type)");
        if (st != PCAPNG_PACKET)
            return st;
        if (type == BT_EPB || type == BT_SPB || type == BT_PB)
            return bad(r, "a packet before any interface description");
        if (type == BT_SHB)
            st = parse_shb(r, body);
        else if (type == BT_IDB)
            st = parse_idb(r, body);
        if (st != PCAPNG_PACKET)
            return st;
    }
    return PCAPNG_PACKET;
}

struct pcapng *pcapng_open(FILE *f, char *err, size_t errlen)
{
    struct pcapng *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->f = f;
    if (read_head(r) != PCAPNG_PACKET) {
        snprintf(err, errlen, "%s", r->err);
        pcapng_close(r);
        return NULL;
    }
    return r;
}

uint16_t pcapng_first_linktype(const struct pcapng *r)
{
    return r->first_linktype;
}

uint32_t pcapng_first_snaplen(const struct pcapng *r)
{
    return r->nifs ? r->ifs[0].snaplen : 0;
}

const char *pcapng_error(const struct pcapng *r)
{
    return r->err;
}

void pcapng_close(struct pcapng *r)
{
    if (!r)
        return;
    free(r->buf);
    free(r->ifs);
    free(r);
}
