/* except.c - site exceptions (see except.h and docs/rules.md). */
#define _GNU_SOURCE /* timegm */
#include "except.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lua.h>

#include "luabox.h"

#define EXCEPT_MEMORY (16u << 20)
#define EXCEPT_INSTRUCTIONS 20000000L

struct prefix {
    uint8_t addr[16];
    int ipver, bits;
};

/* One side of a path: any address, or these roles and prefixes. */
struct side {
    bool any;
    char **roles;
    int nroles;
    struct prefix *pfx;
    int npfx;
};

struct range {
    uint16_t lo, hi;
};

struct exc {
    char *s[10]; /* id, change, reason, from, to, transport, dports, apps, expires, at (except_info order) */
    char *ref;   /* what an expired_exception violation cites */
    struct side from, to;
    unsigned transports; /* bits: 1 tcp, 2 udp, 4 esp, 8 ah */
    struct range *ports;
    int nports;
    char **apps;
    int napps;
    uint64_t ends_us; /* the end of the expiry day (UTC); 0: none */
};

struct except_set {
    struct exc *x;
    int n;
};

enum { S_ID, S_CHANGE, S_REASON, S_FROM, S_TO, S_TRANSPORT, S_DPORTS, S_APPS, S_EXPIRES, S_AT };

static const char *const TRANSPORT_NAMES[] = {"tcp", "udp", "esp", "ah"};

/* The strings of the list at the stack top, joined by commas into *joined,
 * each copied into *out (when out is not NULL). Returns how many. */
static int read_strings(lua_State *L, char ***out, char **joined)
{
    int n = lua_istable(L, -1) ? (int)lua_rawlen(L, -1) : 0;
    char buf[2048] = "";
    size_t used = 0;
    if (out)
        *out = calloc((size_t)n + 1, sizeof **out);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        const char *v = lua_tostring(L, -1);
        v = v ? v : "";
        if (out && *out)
            (*out)[i - 1] = strdup(v);
        int w = snprintf(buf + used, sizeof buf - used, "%s%s", i > 1 ? "," : "", v);
        used += w > 0 && (size_t)w < sizeof buf - used ? (size_t)w : 0;
        lua_pop(L, 1);
    }
    *joined = strdup(buf);
    return n;
}

/* "10.1.0.0/16", "2001:db8::1" into p; false when it is no address. */
static bool parse_prefix(const char *text, struct prefix *p)
{
    char addr[64];
    const char *slash = strchr(text, '/');
    snprintf(addr, sizeof addr, "%.*s", slash ? (int)(slash - text) : (int)strlen(text), text);
    memset(p, 0, sizeof *p);
    if (inet_pton(AF_INET, addr, p->addr) == 1)
        p->ipver = 4;
    else if (inet_pton(AF_INET6, addr, p->addr) == 1)
        p->ipver = 6;
    else
        return false;
    int max = p->ipver == 4 ? 32 : 128;
    p->bits = max;
    if (slash) {
        char *end;
        long b = strtol(slash + 1, &end, 10);
        if (!slash[1] || *end || b < 0 || b > max)
            return false;
        p->bits = (int)b;
    }
    return true;
}

/* One side from its list of names (roles, addresses, "any"). 0, or -1 with err. */
static int read_side(lua_State *L, int ex, const char *field, struct exc *x, struct side *s, char **joined,
                     char *err, size_t errlen)
{
    lua_getfield(L, ex, field);
    char **names = NULL;
    int n = read_strings(L, &names, joined);
    lua_pop(L, 1);
    s->roles = calloc((size_t)n + 1, sizeof *s->roles);
    s->pfx = calloc((size_t)n + 1, sizeof *s->pfx);
    int rc = names && s->roles && s->pfx ? 0 : -1;
    for (int i = 0; i < n; i++) {
        if (!rc && !strcmp(names[i], "any"))
            s->any = true;
        else if (!rc && strpbrk(names[i], ".:")) {
            if (!parse_prefix(names[i], &s->pfx[s->npfx++])) {
                snprintf(err, errlen, "%s: bad address or prefix '%s' in %s", x->s[S_AT], names[i], field);
                rc = -1;
            }
        } else if (!rc) {
            s->roles[s->nroles++] = names[i];
            names[i] = NULL;
        }
        free(names ? names[i] : NULL);
    }
    free(names);
    return rc;
}

/* The end of the expiry day "YYYY-MM-DD" (UTC) in microseconds. */
static uint64_t day_end_us(const char *date)
{
    struct tm tm = {0};
    if (!date || sscanf(date, "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_mday += 1;
    time_t t = timegm(&tm);
    return t > 0 ? (uint64_t)t * 1000000u : 0;
}

/* The ports {{lo, hi}...} at field dports of the table at ex. */
static void read_ports(lua_State *L, int ex, struct exc *x)
{
    lua_getfield(L, ex, "dports");
    int n = (int)lua_rawlen(L, -1);
    char buf[1024] = "";
    size_t used = 0;
    x->ports = calloc((size_t)n + 1, sizeof *x->ports);
    for (int i = 1; x->ports && i <= n; i++) {
        lua_rawgeti(L, -1, i);
        lua_rawgeti(L, -1, 1);
        lua_rawgeti(L, -2, 2);
        struct range g = {(uint16_t)lua_tointeger(L, -2), (uint16_t)lua_tointeger(L, -1)};
        lua_pop(L, 3);
        x->ports[x->nports++] = g;
        int w = g.lo == g.hi ? snprintf(buf + used, sizeof buf - used, "%s%u", i > 1 ? "," : "", g.lo)
                             : snprintf(buf + used, sizeof buf - used, "%s%u-%u", i > 1 ? "," : "", g.lo, g.hi);
        used += w > 0 && (size_t)w < sizeof buf - used ? (size_t)w : 0;
    }
    lua_pop(L, 1);
    x->s[S_DPORTS] = strdup(x->nports == 1 && x->ports[0].lo == 0 && x->ports[0].hi == 65535 ? "any" : buf);
}

/* One normalized exception (M.list()'s entry at ex) into x. 0 or -1. */
static int read_exception(lua_State *L, int ex, struct exc *x, char *err, size_t errlen)
{
    static const char *const keys[] = {"id", "change", "reason", "expires", "at"};
    static const int slot[] = {S_ID, S_CHANGE, S_REASON, S_EXPIRES, S_AT};
    for (size_t i = 0; i < sizeof slot / sizeof slot[0]; i++) {
        lua_getfield(L, ex, keys[i]);
        x->s[slot[i]] = lua_type(L, -1) == LUA_TSTRING ? strdup(lua_tostring(L, -1)) : NULL;
        lua_pop(L, 1);
    }
    lua_getfield(L, ex, "transport");
    char **ts = NULL;
    int nt = read_strings(L, &ts, &x->s[S_TRANSPORT]);
    lua_pop(L, 1);
    for (int i = 0; i < nt; i++) {
        for (unsigned k = 0; ts && ts[i] && k < 4; k++)
            x->transports |= !strcmp(ts[i], TRANSPORT_NAMES[k]) ? 1u << k : 0;
        free(ts ? ts[i] : NULL);
    }
    free(ts);
    lua_getfield(L, ex, "apps");
    x->napps = read_strings(L, &x->apps, &x->s[S_APPS]);
    lua_pop(L, 1);
    read_ports(L, ex, x);
    x->ends_us = day_end_us(x->s[S_EXPIRES]);
    char ref[1024];
    snprintf(ref, sizeof ref, "site exception %s (change %s, %s): %s", x->s[S_ID] ? x->s[S_ID] : "?",
             x->s[S_CHANGE] ? x->s[S_CHANGE] : "?", x->s[S_AT] ? x->s[S_AT] : "?",
             x->s[S_REASON] ? x->s[S_REASON] : "");
    x->ref = strdup(ref);
    if (!x->s[S_AT])
        x->s[S_AT] = strdup("?");
    return read_side(L, ex, "from", x, &x->from, &x->s[S_FROM], err, errlen) ||
                   read_side(L, ex, "to", x, &x->to, &x->s[S_TO], err, errlen)
               ? -1
               : 0;
}

/* Runs lua_dir/exceptions.lua with the roles of a, leaving its module on the stack. */
static int load_language(struct luabox *b, const char *lua_dir, const struct audit *a, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/exceptions.lua", lua_dir);
    if (luabox_load_file(b, path, err, errlen))
        return -1;
    lua_State *L = luabox_state(b);
    lua_newtable(L);
    for (int i = 0; i < audit_role_count(a); i++) {
        lua_pushstring(L, audit_role_name(a, i));
        lua_rawseti(L, -2, i + 1);
    }
    if (luabox_call(b, 1, 1, EXCEPT_INSTRUCTIONS, err, errlen))
        return -1;
    if (!lua_istable(L, -1)) {
        snprintf(err, errlen, "%s: must return the exceptions module", path);
        return -1;
    }
    return 0;
}

/* Calls M.<fn>() of the module at mod, leaving its result. */
static int call_fn(struct luabox *b, int mod, const char *fn, char *err, size_t errlen)
{
    lua_getfield(luabox_state(b), mod, fn);
    return luabox_call(b, 0, 1, EXCEPT_INSTRUCTIONS, err, errlen);
}

/* The language, the file in its own environment, then M.list() into e. */
static int load_into(struct except_set *e, struct luabox *b, const char *lua_dir, const char *path,
                     const struct audit *a, char *err, size_t errlen)
{
    lua_State *L = luabox_state(b);
    if (load_language(b, lua_dir, a, err, errlen))
        return -1;
    int mod = lua_gettop(L);
    if (luabox_load_file(b, path, err, errlen) || call_fn(b, mod, "new_env", err, errlen))
        return -1;
    lua_setupvalue(L, -2, 1);
    if (luabox_call(b, 0, 0, EXCEPT_INSTRUCTIONS, err, errlen) || call_fn(b, mod, "list", err, errlen))
        return -1;
    int n = (int)lua_rawlen(L, -1);
    e->x = calloc((size_t)n + 1, sizeof *e->x);
    if (!e->x) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        int rc = read_exception(L, lua_gettop(L), &e->x[e->n++], err, errlen);
        lua_pop(L, 1);
        if (rc)
            return -1;
    }
    return 0;
}

struct except_set *except_load(const char *lua_dir, const char *path, const struct audit *a, char *err,
                               size_t errlen)
{
    struct except_set *e = calloc(1, sizeof *e);
    struct luabox *b = e ? luabox_new(EXCEPT_MEMORY, err, errlen) : NULL;
    if (!e || !b || load_into(e, b, lua_dir, path, a, err, errlen)) {
        if (!e)
            snprintf(err, errlen, "out of memory");
        except_free(e);
        e = NULL;
    }
    luabox_free(b);
    return e;
}

static void free_side(struct side *s)
{
    for (int i = 0; i < s->nroles; i++)
        free(s->roles[i]);
    free(s->roles);
    free(s->pfx);
}

void except_free(struct except_set *e)
{
    if (!e)
        return;
    for (int i = 0; i < e->n; i++) {
        struct exc *x = &e->x[i];
        for (int k = 0; k < 10; k++)
            free(x->s[k]);
        for (int k = 0; k < x->napps; k++)
            free(x->apps[k]);
        free(x->apps);
        free(x->ref);
        free(x->ports);
        free_side(&x->from);
        free_side(&x->to);
    }
    free(e->x);
    free(e);
}

/* True when the first bits of addr are p's. */
static bool in_prefix(const struct prefix *p, const uint8_t *addr, int ipver)
{
    if (p->ipver != ipver)
        return false;
    int full = p->bits / 8, rest = p->bits % 8;
    if (memcmp(p->addr, addr, (size_t)full))
        return false;
    return !rest || ((p->addr[full] ^ addr[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static bool side_holds(const struct side *s, const uint8_t *addr, int ipver, const char *role)
{
    if (s->any)
        return true;
    for (int i = 0; i < s->nroles; i++)
        if (role && !strcmp(s->roles[i], role))
            return true;
    for (int i = 0; i < s->npfx; i++)
        if (in_prefix(&s->pfx[i], addr, ipver))
            return true;
    return false;
}

static unsigned transport_bit(uint8_t proto)
{
    switch (proto) {
    case IPPROTO_TCP: return 1;
    case IPPROTO_UDP: return 2;
    case IPPROTO_ESP: return 4;
    case IPPROTO_AH: return 8;
    default: return 0;
    }
}

/* True when x's path, transport, port and labels cover the flow. */
static bool covers(const struct exc *x, const struct audit_flow *f, const struct audit_result *r)
{
    if (!(x->transports & transport_bit(f->proto)) || !side_holds(&x->from, f->src, f->ipver, r->src_role) ||
        !side_holds(&x->to, f->dst, f->ipver, r->dst_role))
        return false;
    bool port = false;
    for (int i = 0; i < x->nports && !port; i++)
        port = f->dport >= x->ports[i].lo && f->dport <= x->ports[i].hi;
    bool app = x->napps == 0;
    for (int i = 0; i < x->napps && !app; i++)
        app = r->app && !strcmp(x->apps[i], r->app);
    return port && app;
}

void except_apply(const struct except_set *e, const struct audit_flow *f, uint64_t first_us,
                  struct audit_result *r)
{
    if (!e || r->nviolations == 0)
        return;
    const struct exc *expired = NULL;
    for (int i = 0; i < e->n; i++) {
        const struct exc *x = &e->x[i];
        if (!covers(x, f, r))
            continue;
        if (x->ends_us && first_us >= x->ends_us) {
            expired = expired ? expired : x;
            continue;
        }
        r->verdict = "excepted";
        r->rule_id = x->s[S_ID];
        r->nviolations = 0;
        return;
    }
    if (!expired)
        return;
    /* The finding goes last; with no room left it takes the last slot. */
    int k = r->nviolations < AUDIT_MAX_VIOLATIONS ? r->nviolations++ : AUDIT_MAX_VIOLATIONS - 1;
    struct audit_violation *v = &r->v[k];
    *v = (struct audit_violation){"expired_exception", expired->s[S_ID], "medium", expired->ref, ""};
    snprintf(v->message, sizeof v->message, "%s -> %s: site exception %s (change %s) expired on %s, before this flow",
             r->src_role, r->dst_role, expired->s[S_ID], expired->s[S_CHANGE], expired->s[S_EXPIRES]);
}

size_t except_count(const struct except_set *e)
{
    return e ? (size_t)e->n : 0;
}

void except_info(const struct except_set *e, size_t i, struct except_info *o)
{
    char *const *s = e->x[i].s;
    *o = (struct except_info){s[S_ID],     s[S_CHANGE], s[S_REASON],  s[S_FROM], s[S_TO],
                              s[S_TRANSPORT], s[S_DPORTS], s[S_APPS], s[S_EXPIRES], s[S_AT]};
}
