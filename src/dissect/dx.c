/* dx.c - the app_detail members the dissectors' label functions write (see dx.h). */
#include "dissect/dx.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Length of the well-formed UTF-8 character at s (n bytes left), 0 when
 * the bytes are not one: the rules JSON (and jansson) hold text to, no
 * overlong forms, no surrogates, nothing past U+10FFFF. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (!len || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) || (c == 0xf0 && s[1] < 0x90) ||
        (c == 0xf4 && s[1] > 0x8f))
        return 0;
    return len;
}

/* Copies val as UTF-8, bytes that are not as \xNN, cut to DX_VALUE_MAX at
 * a character boundary. This runs a few times per flow. */
void dx_set_text(json_t *d, const char *key, const char *val)
{
    if (!d || !val || !*val)
        return;
    static const char hex[] = "0123456789abcdef";
    char out[DX_VALUE_MAX + 1];
    size_t o = 0, n = strlen(val);
    const unsigned char *s = (const unsigned char *)val;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_len(s + i, n - i);
        size_t need = len ? len : 4;
        if (o + need > DX_VALUE_MAX)
            break;
        if (len) {
            memcpy(out + o, s + i, len);
        } else {
            out[o] = '\\', out[o + 1] = 'x', out[o + 2] = hex[s[i] >> 4], out[o + 3] = hex[s[i] & 15];
            len = 1;
        }
        o += need;
        i += len;
    }
    json_object_set_new(d, key, json_stringn(out, o));
}

/* Sets a text member of the view's detail. */
void dx_detail(struct dx_view *v, const char *key, const char *val)
{
    dx_set_text(v->d, key, val);
}

/* Sets a number member of the view's detail. */
void dx_detail_uint(struct dx_view *v, const char *key, unsigned n)
{
    if (v->d)
        json_object_set_new(v->d, key, json_integer(n));
}

/* Formats the value first (160 bytes are more than any key's value needs). */
void dx_detailf(struct dx_view *v, const char *key, const char *fmt, ...)
{
    if (!v->d)
        return;
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
