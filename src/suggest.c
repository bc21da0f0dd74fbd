/* suggest.c - the closest name to a misspelt one (see suggest.h). */
#include "suggest.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#define WORD_MAX 64

/* Edit distance of a and b with swaps of two neighbours (optimal string
 * alignment); WORD_MAX + 1 when either is longer than WORD_MAX. */
static size_t distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > WORD_MAX || m > WORD_MAX)
        return WORD_MAX + 1;
    unsigned char d[WORD_MAX + 1][WORD_MAX + 1];
    for (size_t i = 0; i <= n; i++)
        d[i][0] = (unsigned char)i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = (unsigned char)j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            unsigned v = d[i - 1][j - 1] + (unsigned)(a[i - 1] != b[j - 1]);
            unsigned del = d[i - 1][j] + 1u, ins = d[i][j - 1] + 1u;
            v = del < v ? del : v;
            v = ins < v ? ins : v;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1u < v)
                v = d[i - 2][j - 2] + 1u;
            d[i][j] = (unsigned char)v;
        }
    }
    return d[n][m];
}

const char *suggest_word(const char *word, const char *const *cands, size_t n)
{
    size_t len = strlen(word);
    size_t limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;
    const char *best = NULL;
    size_t best_d = limit + 1;
    for (size_t i = 0; i < n; i++) {
        if (!cands[i])
            continue;
        size_t d = distance(word, cands[i]);
        if (d == 0)
            return NULL;
        if (d < best_d) {
            best = cands[i];
            best_d = d;
        }
    }
    return best;
}

char *suggest_hint(char *buf, size_t len, const char *word, const char *const *cands, size_t n)
{
    const char *s = suggest_word(word, cands, n);
    if (s)
        snprintf(buf, len, " (did you mean '%s'?)", s);
    else if (len)
        buf[0] = '\0';
    return buf;
}

/* The long option named exactly name (n bytes), or NULL. */
static const struct option *long_named(const struct option *longs, const char *name, size_t n)
{
    for (const struct option *o = longs; o->name; o++)
        if (strlen(o->name) == n && !strncmp(o->name, name, n))
            return o;
    return NULL;
}

/* What is wrong with the long option arg ("--name" or "--name=value"). */
static void long_option_error(const char *who, int c, const char *arg, const struct option *longs)
{
    const char *name = arg + 2;
    size_t n = strcspn(name, "=");
    const struct option *o = long_named(longs, name, n);
    if (c == ':' || (o && o->has_arg == required_argument)) {
        fprintf(stderr, "%s: option '--%.*s' wants a value\n", who, (int)n, name);
        return;
    }
    if (o) {
        fprintf(stderr, "%s: option '--%.*s' takes no value\n", who, (int)n, name);
        return;
    }
    char list[256] = "", word[WORD_MAX + 1];
    size_t matches = 0, u = 0;
    for (const struct option *l = longs; l->name; l++)
        if (!strncmp(l->name, name, n) && u < sizeof list) {
            u += (size_t)snprintf(list + u, sizeof list - u, "%s--%s", matches++ ? ", " : "", l->name);
        }
    if (matches > 1) {
        fprintf(stderr, "%s: option '--%.*s' is ambiguous (%s)\n", who, (int)n, name, list);
        return;
    }
    const char *names[128];
    size_t k = 0;
    for (const struct option *l = longs; l->name && k < sizeof names / sizeof names[0]; l++)
        names[k++] = l->name;
    snprintf(word, sizeof word, "%.*s", (int)(n < WORD_MAX ? n : WORD_MAX), name);
    const char *s = suggest_word(word, names, k);
    if (s)
        fprintf(stderr, "%s: unknown option '--%s' (did you mean '--%s'?)\n", who, word, s);
    else
        fprintf(stderr, "%s: unknown option '--%s'\n", who, word);
}

void suggest_option_error(const char *who, const char *try, int c, char *const *argv, const struct option *longs)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "";
    if (arg && !strncmp(arg, "--", 2) && arg[2])
        long_option_error(who, c, arg, longs);
    else if (c == ':')
        fprintf(stderr, "%s: option '-%c' wants a value\n", who, optopt);
    else
        fprintf(stderr, "%s: unknown option '-%c'\n", who, optopt);
    fprintf(stderr, "Try '%s --help'.\n", try);
}
