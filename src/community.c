/* community.c - Community ID v1 (see community.h). SHA-1 from libgcrypt.
 * Called on the reader thread only (record.c). */
#include "community.h"

#include <netinet/in.h>
#include <string.h>

#include <gcrypt.h>

/* Standard base64 (RFC 4648, with padding) of n bytes into out. */
static void base64(const uint8_t *in, size_t n, char *out)
{
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        out[o++] = A[v >> 18 & 63];
        out[o++] = A[v >> 12 & 63];
        out[o++] = i + 1 < n ? A[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? A[v & 63] : '=';
    }
    out[o] = '\0';
}

bool community_id(const struct flow *f, char *out, size_t len)
{
    const uint8_t *src, *dst;
    uint16_t sport, dport;
    flow_endpoints(f, &src, &sport, &dst, &dport);
    uint8_t proto = f->key.proto;
    size_t alen = f->key.ipver == 4 ? 4 : 16;
    if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6 || len < 32)
        return false;
    int c = memcmp(src, dst, alen);
    if (c > 0 || (c == 0 && sport > dport)) { /* the smaller end first */
        const uint8_t *ta = src;
        src = dst;
        dst = ta;
        uint16_t tp = sport;
        sport = dport;
        dport = tp;
    }
    uint8_t buf[2 + 16 + 16 + 2 + 4], *p = buf;
    *p++ = 0; /* seed 0, big-endian */
    *p++ = 0;
    memcpy(p, src, alen);
    p += alen;
    memcpy(p, dst, alen);
    p += alen;
    *p++ = proto;
    *p++ = 0;
    *p++ = (uint8_t)(sport >> 8);
    *p++ = (uint8_t)sport;
    *p++ = (uint8_t)(dport >> 8);
    *p++ = (uint8_t)dport;
    static bool ready;
    if (!ready) { /* libgcrypt wants its version checked once before use */
        gcry_check_version(NULL);
        ready = true;
    }
    uint8_t digest[20];
    gcry_md_hash_buffer(GCRY_MD_SHA1, digest, buf, (size_t)(p - buf));
    memcpy(out, "1:", 2);
    base64(digest, sizeof digest, out + 2); /* 28 characters */
    return true;
}
