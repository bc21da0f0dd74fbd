/* text.h - checked comparisons of payload bytes with text, for the dissectors. */
#ifndef LYNCAUDIT_DISSECT_TEXT_H
#define LYNCAUDIT_DISSECT_TEXT_H

#include <stdbool.h>
#include <string.h>

#include "cursor.h"

/* True when the n bytes of c at off exist and equal s. */
static inline bool cur_text_at(const struct cursor *c, size_t off, const char *s, size_t n)
{
    if (c->bad || off > c->len || c->len - off < n)
        return false;
    return memcmp(c->p + off, s, n) == 0;
}

/* Offset of the first s at or after off within the first `limit` bytes of c, or -1. */
static inline long cur_text_find(const struct cursor *c, size_t off, size_t limit, const char *s)
{
    size_t n = strlen(s);
    size_t end = c->len < limit ? c->len : limit;
    if (c->bad || n == 0 || end < n)
        return -1;
    for (size_t i = off; i + n <= end; i++)
        if (cur_text_at(c, i, s, n))
            return (long)i;
    return -1;
}

#endif
