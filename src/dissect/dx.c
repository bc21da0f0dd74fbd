/* dx.c - the detail text the dissectors' label functions write (see dx.h). */
#include "dissect/dx.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Appends "key=value" to buf, by hand rather than snprintf: this runs a few
 * times per flow. Truncated to fit, as snprintf would. */
void dx_detail_buf(char *buf, size_t len, const char *key, const char *val)
{
    if (!val || !*val)
        return;
    size_t used = strlen(buf);
    if (used + 8 >= len)
        return;
    char *p = buf + used, *end = buf + len - 1;
    if (used) {
        *p++ = ';';
        *p++ = ' ';
    }
    while (*key && p < end)
        *p++ = *key++;
    if (p < end)
        *p++ = '=';
    while (*val && p < end)
        *p++ = *val++;
    *p = '\0';
}

/* Appends to the view's detail buffer. */
void dx_detail(struct dx_view *v, const char *key, const char *val)
{
    dx_detail_buf(v->d, v->dlen, key, val);
}

/* Formats the value first (160 bytes are more than any key's value needs). */
void dx_detailf(struct dx_view *v, const char *key, const char *fmt, ...)
{
    char s[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s, sizeof s, fmt, ap);
    va_end(ap);
    dx_detail(v, key, s);
}

bool dx_rfc4571(struct cursor c, struct cursor *inner)
{
    uint16_t flen = cur_peek_be16(&c, 0);
    if (c.len < 14 || flen < 12 || (size_t)flen + 2 > c.len)
        return false;
    cur_skip(&c, 2);
    *inner = cur_sub(&c, flen);
    return true;
}
