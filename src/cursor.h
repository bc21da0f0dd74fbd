/* cursor.h - bounds-checked reads of packet bytes.
 *
 * Every read of captured bytes in decode and the dissectors goes through a
 * cursor: a pointer and the bytes left behind it. A read past the end sets
 * the sticky `bad` flag and returns 0, so a parser can read a whole header
 * and test once (tcpdump's GET_ macros without the longjmp). */
#ifndef LYNCAUDIT_CURSOR_H
#define LYNCAUDIT_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cursor {
    const uint8_t *p;
    size_t len;
    bool bad;
};

static inline struct cursor cur_make(const uint8_t *p, size_t len)
{
    struct cursor c = {p, len, false};
    return c;
}

/* True when n more bytes can be read; sets `bad` otherwise. */
static inline bool cur_need(struct cursor *c, size_t n)
{
    if (c->bad || c->len < n) {
        c->bad = true;
        return false;
    }
    return true;
}

static inline uint8_t cur_peek_u8(const struct cursor *c, size_t off)
{
    return (!c->bad && off < c->len) ? c->p[off] : 0;
}

static inline uint16_t cur_peek_be16(const struct cursor *c, size_t off)
{
    if (c->bad || c->len < 2 || off > c->len - 2)
        return 0;
    return (uint16_t)((c->p[off] << 8) | c->p[off + 1]);
}

static inline uint32_t cur_peek_be32(const struct cursor *c, size_t off)
{
    if (c->bad || c->len < 4 || off > c->len - 4)
        return 0;
    return ((uint32_t)c->p[off] << 24) | ((uint32_t)c->p[off + 1] << 16) |
           ((uint32_t)c->p[off + 2] << 8) | c->p[off + 3];
}

static inline bool cur_skip(struct cursor *c, size_t n)
{
    if (!cur_need(c, n))
        return false;
    c->p += n;
    c->len -= n;
    return true;
}

static inline uint8_t cur_u8(struct cursor *c)
{
    uint8_t v = cur_peek_u8(c, 0);
    cur_skip(c, 1);
    return v;
}

static inline uint16_t cur_be16(struct cursor *c)
{
    uint16_t v = cur_peek_be16(c, 0);
    cur_skip(c, 2);
    return v;
}

static inline uint32_t cur_be32(struct cursor *c)
{
    uint32_t v = cur_peek_be32(c, 0);
    cur_skip(c, 4);
    return v;
}

static inline uint16_t cur_le16(struct cursor *c)
{
    uint16_t v = 0;
    if (cur_need(c, 2))
        v = (uint16_t)(c->p[0] | (c->p[1] << 8));
    cur_skip(c, 2);
    return v;
}

static inline uint32_t cur_le32(struct cursor *c)
{
    uint32_t v = 0;
    if (cur_need(c, 4))
        v = (uint32_t)c->p[0] | ((uint32_t)c->p[1] << 8) | ((uint32_t)c->p[2] << 16) |
            ((uint32_t)c->p[3] << 24);
    cur_skip(c, 4);
    return v;
}

/* Copies n bytes out; on a short cursor copies nothing and sets `bad`. */
static inline bool cur_copy(struct cursor *c, void *dst, size_t n)
{
    if (!cur_need(c, n))
        return false;
    for (size_t i = 0; i < n; i++)
        ((uint8_t *)dst)[i] = c->p[i];
    c->p += n;
    c->len -= n;
    return true;
}

/* A sub-cursor over the next n bytes (clamped to what is left), consumed from c. */
static inline struct cursor cur_sub(struct cursor *c, size_t n)
{
    struct cursor s = cur_make(c->p, n <= c->len ? n : c->len);
    s.bad = c->bad;
    cur_skip(c, s.len);
    return s;
}

#endif
