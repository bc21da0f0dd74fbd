/* store_stats.c - role_stats rows summed in memory (see store_stats.h). */
#include "store_stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One row being summed: the key is "src|dst|transport|port|app". */
struct stat_slot {
    char *key;
    uint64_t flows, packets, bytes, violations;
};

struct store_stats {
    struct stat_slot *slots; /* open addressing, power-of-two size */
    size_t n, cap;
};

struct store_stats *store_stats_new(void)
{
    return calloc(1, sizeof(struct store_stats));
}

static uint64_t fnv1a(const char *k)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *k; k++)
        h = (h ^ (uint8_t)*k) * 0x100000001b3ULL;
    return h;
}

/* Doubles the table (or makes its first 1024 slots). 0 or -1. */
static int grow(struct store_stats *t)
{
    size_t cap = t->cap ? t->cap * 2 : 1024;
    struct stat_slot *n = calloc(cap, sizeof *n);
    if (!n)
        return -1;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slots[i].key)
            continue;
        size_t j = fnv1a(t->slots[i].key) & (cap - 1);
        while (n[j].key)
            j = (j + 1) & (cap - 1);
        n[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = n;
    t->cap = cap;
    return 0;
}

int store_stats_add(struct store_stats *t, const struct store_flow *f)
{
    if (t->n * 2 >= t->cap && grow(t))
        return -1;
    /* "src_role|dst_role|transport|dst_port|app", by hand (once per flow) */
    char key[256], port[8];
    const char *parts[5] = {f->src_role ? f->src_role : "any", f->dst_role ? f->dst_role : "any", f->transport,
                            port, f->app};
    char *pp = port + sizeof port - 1;
    *pp = '\0';
    unsigned v = f->dst_port;
    do
        *--pp = (char)('0' + v % 10);
    while ((v /= 10));
    parts[3] = pp;
    size_t used = 0;
    for (int i = 0; i < 5; i++) {
        for (const char *c = parts[i]; *c && used < sizeof key - 1; c++)
            key[used++] = *c;
        if (i < 4 && used < sizeof key - 1)
            key[used++] = '|';
    }
    key[used] = '\0';
    size_t j = fnv1a(key) & (t->cap - 1);
    while (t->slots[j].key && strcmp(t->slots[j].key, key))
        j = (j + 1) & (t->cap - 1);
    struct stat_slot *e = &t->slots[j];
    if (!e->key) {
        if (!(e->key = strdup(key)))
            return -1;
        t->n++;
    }
    e->flows++;
    e->packets += f->pkts_fwd + f->pkts_rev;
    e->bytes += f->bytes_fwd + f->bytes_rev;
    e->violations += f->nviolations > 0;
    return 0;
}

size_t store_stats_count(const struct store_stats *t)
{
    return t->n;
}

int store_stats_each(const struct store_stats *t, int (*fn)(void *ctx, const struct store_stat_row *row),
                     void *ctx)
{
    for (size_t i = 0; i < t->cap; i++) {
        const struct stat_slot *e = &t->slots[i];
        if (!e->key)
            continue;
        /* The key's five fields, split in a copy. */
        char buf[256], *f[5];
        snprintf(buf, sizeof buf, "%s", e->key);
        char *p = buf;
        for (int k = 0; k < 5; k++) {
            f[k] = p;
            p = k < 4 ? strchr(p, '|') : NULL;
            if (p)
                *p++ = '\0';
            else if (k < 4)
                p = buf + strlen(buf);
        }
        struct store_stat_row row = {f[0], f[1], f[2], f[4], (unsigned)atoi(f[3]),
                                     e->flows, e->packets, e->bytes, e->violations};
        int rc = fn(ctx, &row);
        if (rc)
            return rc;
    }
    return 0;
}

void store_stats_clear(struct store_stats *t)
{
    for (size_t i = 0; i < t->cap; i++) {
        free(t->slots[i].key);
        t->slots[i] = (struct stat_slot){0};
    }
    t->n = 0;
}

void store_stats_free(struct store_stats *t)
{
    if (!t)
        return;
    store_stats_clear(t);
    free(t->slots);
    free(t);
}
