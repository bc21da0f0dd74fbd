/* rpt_detail.c - app_detail as a person reads it: the JSON object that
 * flows.app_detail holds (docs/schema.md) as `key=value; key=value`, a
 * nested object's members as `key.member=value`. A value that holds what
 * would read as a separator (`;`, `=`, a quote, a backslash, a control
 * byte, leading or trailing blanks) is written as a JSON string, quoted,
 * so text a peer sent (an SNI holding "; sni=evil") cannot pass for
 * another key. */
#include "rpt.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* True when the text must be quoted to read as one value. */
static int needs_quotes(const char *s)
{
    size_t n = strlen(s);
    if (!n || s[0] == ' ' || s[n - 1] == ' ')
        return 1;
    for (; *s; s++)
        if (*s == ';' || *s == '=' || *s == '"' || *s == '\\' || (unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* Writes one value: text plain or quoted, anything else as JSON. */
static void put_value(FILE *m, json_t *v)
{
    const char *s = json_string_value(v);
    if (s && !needs_quotes(s)) {
        fputs(s, m);
        return;
    }
    char *j = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (j)
        fputs(j, m);
    free(j);
}

/* Writes the members of o, each name after prefix (NULL at the top). */
static void put_object(FILE *m, json_t *o, const char *prefix, int *first)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        if (json_is_object(v)) {
            char p[128];
            snprintf(p, sizeof p, "%s%s%s", prefix ? prefix : "", prefix ? "." : "", k);
            put_object(m, v, p, first);
            continue;
        }
        fprintf(m, "%s%s%s%s=", *first ? "" : "; ", prefix ? prefix : "", prefix ? "." : "", k);
        *first = 0;
        put_value(m, v);
    }
}

char *rpt_detail_text(const char *stored)
{
    if (!stored || stored[0] != '{')
        return NULL;
    json_t *o = json_loads(stored, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (m) {
        int first = 1;
        put_object(m, o, NULL, &first);
        if (fclose(m)) {
            free(buf);
            buf = NULL;
        }
    }
    json_decref(o);
    return buf;
}
