/* topology.c - roles, addresses, NAT and options of a deployment (topology.h).
 *
 * The loader is a table of readers, one per top-level key of the file
 * (READERS), in the manner of Lua's luaL_Reg: each reads the value on the
 * top of the stack and leaves the stack as it found it. Errors go through
 * one helper, fail(), which finds the line of the offending token in the
 * file's text: the file is data, so there is no Lua position to give. */
#include "topology.h"
#include "suggest.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <ndpi_api.h>

#define TOPOLOGY_INSTRUCTIONS 50000000L /* running the file */
#define DSL_INSTRUCTIONS 10000000L      /* M.roles(), M.options_schema(), M.set_ports() */

struct nat_entry {
    uint8_t pub[16], priv[16];
    int ipver;
};

struct topology {
    char *names[TOPOLOGY_MAX_ROLES];
    char *declared[TOPOLOGY_MAX_ROLES];    /* the file's addresses of each role, comma-separated; NULL: none */
    int nroles;
    ndpi_patricia_tree_t *v4, *v6;         /* role by prefix; NULL without a file */
    ndpi_patricia_tree_t *natdev4, *natdev6;
    struct nat_entry *nat;
    int nnat;
    bool capture_outside;
    uint16_t media_lo, media_hi;
    char *name, *path;
    lua_State *L;
    int opts_ref;                          /* options in effect, in L's registry */
};

/* One load in progress: the file, the stack slots it uses, the error. */
struct loader {
    struct topology *t;
    struct luabox *box;
    lua_State *L;
    const struct luabox_file *file;
    int mod, schema, opts;
    int ports_ref;                         /* the file's ports table, until applied */
    char *err;
    size_t errlen;
};

/* The line of the file where `needle` first appears quoted, or as a word (0: nowhere). */
static int line_of(const char *text, const char *needle)
{
    if (!text || !needle || !*needle)
        return 0;
    size_t n = strlen(needle);
    const char *hit = NULL;
    for (const char *p = text; (p = strstr(p, needle)); p++) {
        char before = p > text ? p[-1] : ' ';
        char after = p[n];
        bool quoted = (before == '"' || before == '\'') && after == before;
        bool word = !(before == '_' || (before >= 'a' && before <= 'z') || (before >= 'A' && before <= 'Z') ||
                      (before >= '0' && before <= '9')) &&
                    !(after == '_' || (after >= 'a' && after <= 'z') || (after >= 'A' && after <= 'Z') ||
                      (after >= '0' && after <= '9'));
        if (quoted) {
            hit = p;
            break;
        }
        if (word && !hit)
            hit = p;
    }
    if (!hit)
        return 0;
    int line = 1;
    for (const char *p = text; p < hit; p++)
        line += *p == '\n';
    return line;
}

/* The line of the first place `needle` appears in the file at all (0: nowhere). */
static int line_of_text(const char *text, const char *needle)
{
    const char *hit = strstr(text, needle);
    int line = 1;
    for (const char *p = text; hit && p < hit; p++)
        line += *p == '\n';
    return hit ? line : 0;
}

/* "path:LINE: message" (path alone for line 0): every loader error. */
static int vfail(struct loader *ld, int line, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (line)
        snprintf(ld->err, ld->errlen, "%s:%d: %s", ld->file->path, line, msg);
    else
        snprintf(ld->err, ld->errlen, "%s: %s", ld->file->path, msg);
    return -1;
}

/* An error at the line where the token is found in the file. */
__attribute__((format(printf, 3, 4))) static int fail(struct loader *ld, const char *token, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(ld, line_of(ld->file->text, token), fmt, ap);
    va_end(ap);
    return rc;
}

/* An error at a line already found. */
__attribute__((format(printf, 3, 4))) static int fail_at(struct loader *ld, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(ld, line, fmt, ap);
    va_end(ap);
    return rc;
}

/* The string at idx when it is one and holds no NUL byte (Lua strings carry
 * their length; C's would end at the NUL: "front_end\0evil" must not pass
 * for "front_end"). NULL otherwise, with *nul set for a NUL byte. */
static const char *text_at(lua_State *L, int idx, bool *nul)
{
    *nul = false;
    if (lua_type(L, idx) != LUA_TSTRING)
        return NULL;
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    *nul = strlen(s) != len;
    return *nul ? NULL : s;
}

/* The string at idx holds a NUL byte: its line is where the text before
 * the NUL is followed by one of Lua's ways to write a NUL in a string. */
static int nul_error(struct loader *ld, const char *what, int idx)
{
    static const char *const ESCAPES[] = {"\\0", "\\x00", "\\u{0"}; /* \0 also finds \00, \000 */
    char shown[200], token[160];
    luabox_text(ld->L, idx, shown, sizeof shown);
    const char *before = lua_tostring(ld->L, idx);
    int line = 0;
    for (size_t i = 0; i < sizeof ESCAPES / sizeof *ESCAPES && !line; i++) {
        snprintf(token, sizeof token, "%s%s", before, ESCAPES[i]);
        line = line_of_text(ld->file->text, token);
    }
    return fail_at(ld, line ? line : line_of(ld->file->text, before),
                   "%s '%s' holds a NUL byte (names and addresses are text)", what, shown);
}

/* "10.0.0.0/8", "2001:db8::1" (len bytes) -> address and prefix length. */
static bool parse_prefix(const char *s, size_t len, uint8_t addr[16], int *ipver, int *bits)
{
    char buf[128];
    if (len >= sizeof buf)
        return false;
    memcpy(buf, s, len + 1);
    char *slash = strchr(buf, '/');
    long plen = -1;
    if (slash) {
        *slash = '\0';
        const char *d = slash + 1;
        if (!*d || strlen(d) > 3 || strspn(d, "0123456789") != strlen(d))
            return false; /* digits only: no sign, no space */
        plen = strtol(d, NULL, 10);
    }
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, buf, addr) == 1)
        *ipver = 4;
    else if (inet_pton(AF_INET6, buf, addr) == 1)
        *ipver = 6;
    else
        return false;
    long max = *ipver == 4 ? 32 : 128;
    if (plen > max)
        return false;
    *bits = (int)(plen < 0 ? max : plen);
    return true;
}

static void fill_prefix(ndpi_prefix_t *p, const uint8_t *addr, int ipver, int bits)
{
    if (ipver == 4)
        ndpi_fill_prefix_v4(p, (const struct in_addr *)addr, bits, 32);
    else
        ndpi_fill_prefix_v6(p, (const struct in6_addr *)addr, bits, 128);
}

/* The node of the longest prefix holding addr (exact: of exactly bits). */
static ndpi_patricia_node_t *tree_find(ndpi_patricia_tree_t *tree, const uint8_t *addr, int ipver, int bits,
                                       bool exact)
{
    ndpi_prefix_t p;
    fill_prefix(&p, addr, ipver, bits);
    return exact ? ndpi_patricia_search_exact(tree, &p) : ndpi_patricia_search_best(tree, &p);
}

int topology_lookup(const struct topology *t, const uint8_t *addr, int ipver)
{
    ndpi_patricia_tree_t *tree = ipver == 4 ? t->v4 : t->v6;
    if (!tree)
        return t->nroles;
    ndpi_patricia_node_t *n = tree_find(tree, addr, ipver, ipver == 4 ? 32 : 128, false);
    return n ? (int)ndpi_patricia_get_node_u64(n) : t->nroles;
}

int topology_role_of(const struct topology *t, const uint8_t *addr, int ipver, bool *translated)
{
    *translated = false;
    size_t alen = ipver == 4 ? 4 : 16;
    for (int i = 0; i < t->nnat; i++) {
        if (t->nat[i].ipver != ipver)
            continue;
        if (!memcmp(t->nat[i].pub, addr, alen))
            return topology_lookup(t, t->nat[i].priv, ipver);
        if (!memcmp(t->nat[i].priv, addr, alen))
            *translated = true;
    }
    return topology_lookup(t, addr, ipver);
}

bool topology_is_nat_device(const struct topology *t, const uint8_t *addr, int ipver)
{
    ndpi_patricia_tree_t *tree = ipver == 4 ? t->natdev4 : t->natdev6;
    return tree && tree_find(tree, addr, ipver, ipver == 4 ? 32 : 128, false);
}

bool topology_translated_role(const struct topology *t, const uint8_t *addr, int ipver, int role)
{
    size_t alen = ipver == 4 ? 4 : 16;
    for (int i = 0; i < t->nnat; i++) {
        const struct nat_entry *e = &t->nat[i];
        if (e->ipver == ipver && !memcmp(e->pub, addr, alen) && topology_lookup(t, e->priv, ipver) == role)
            return true;
    }
    return false;
}

/* Adds one address or prefix (s, len bytes) to the trees under role. */
static int add_address(struct loader *ld, const char *s, size_t len, const char *what, int role,
                       ndpi_patricia_tree_t *v4, ndpi_patricia_tree_t *v6)
{
    uint8_t addr[16];
    int ipver, bits;
    if (!parse_prefix(s, len, addr, &ipver, &bits))
        return fail(ld, s, "bad address or prefix '%s' in %s", s, what);
    ndpi_patricia_tree_t *tree = ipver == 4 ? v4 : v6;
    if (role >= 0) {
        ndpi_patricia_node_t *old = tree_find(tree, addr, ipver, bits, true);
        if (old && ndpi_patricia_get_node_bits(old) == bits && (int)ndpi_patricia_get_node_u64(old) != role)
            return fail(ld, s, "'%s' is in two roles (%s and another)", s, what);
    }
    ndpi_prefix_t p;
    fill_prefix(&p, addr, ipver, bits);
    ndpi_patricia_node_t *node = ndpi_patricia_lookup(tree, &p);
    if (!node)
        return fail(ld, NULL, "out of memory");
    ndpi_patricia_set_node_u64(node, (uint64_t)(role >= 0 ? role : 0));
    luabox_step(ld->box);
    return 0;
}

/* Reads an array of address strings (or one string) at the stack top into
 * the trees; role < 0: a set with no role (nat_devices). */
static int add_addresses(struct loader *ld, const char *what, int role, ndpi_patricia_tree_t *v4,
                         ndpi_patricia_tree_t *v6)
{
    lua_State *L = ld->L;
    if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TTABLE)
        return fail(ld, what, "%s: wants a list of addresses or prefixes", what);
    int n = lua_type(L, -1) == LUA_TSTRING ? 1 : (int)lua_rawlen(L, -1);
    int rc = 0;
    for (int i = 1; i <= n && !rc; i++) {
        if (lua_type(L, -1) == LUA_TTABLE)
            lua_rawgeti(L, -1, i);
        else
            lua_pushvalue(L, -1);
        bool nul;
        const char *s = text_at(L, -1, &nul);
        if (nul)
            rc = nul_error(ld, "address", -1);
        else if (!s)
            rc = fail(ld, what, "%s: entry %d is not an address string", what, i);
        else
            rc = add_address(ld, s, lua_rawlen(L, -1), what, role, v4, v6);
        lua_pop(L, 1);
    }
    return rc;
}

/* Walks the table at the stack top: each(ld, key at -2, value at -1) until one fails. */
static int each_entry(struct loader *ld, int (*each)(struct loader *ld))
{
    lua_State *L = ld->L;
    int rc = 0;
    lua_pushnil(L);
    while (!rc && lua_next(L, -2)) {
        rc = each(ld);
        lua_pop(L, 1);
    }
    if (rc)
        lua_pop(L, 1); /* the key lua_next would have taken */
    return rc;
}

static int read_name(struct loader *ld)
{
    bool nul;
    const char *s = text_at(ld->L, -1, &nul);
    if (nul)
        return nul_error(ld, "name", -1);
    if (!s)
        return fail(ld, "name", "name must be a string");
    free(ld->t->name);
    ld->t->name = strdup(s);
    return ld->t->name ? 0 : fail(ld, NULL, "out of memory");
}

/* run_roles.addresses keeps this much of a role's list, then says how many
 * more: a topology may give a role a million prefixes. */
#define DECLARED_TEXT 1024

/* Keeps the addresses of role ri (the value at the stack top, already
 * checked by add_addresses: each a short prefix) as text, for the run's
 * run_roles rows; reads no further than the text keeps. */
static int note_declared(struct loader *ld, int ri)
{
    lua_State *L = ld->L;
    int n = lua_type(L, -1) == LUA_TSTRING ? 1 : (int)lua_rawlen(L, -1), i;
    char buf[DECLARED_TEXT + 128];
    size_t u = 0;
    buf[0] = '\0';
    for (i = 1; i <= n && u < DECLARED_TEXT; i++) {
        if (lua_type(L, -1) == LUA_TTABLE)
            lua_rawgeti(L, -1, i);
        else
            lua_pushvalue(L, -1);
        int w = snprintf(buf + u, sizeof buf - u, "%s%s", u ? "," : "", lua_tostring(L, -1));
        u = w < 0 || (size_t)w >= sizeof buf - u ? sizeof buf - 1 : u + (size_t)w;
        lua_pop(L, 1);
    }
    if (i <= n)
        snprintf(buf + u, sizeof buf - u, " and %d more", n - i + 1);
    if (!n)
        return 0; /* an empty list declares nothing */
    free(ld->t->declared[ri]);
    ld->t->declared[ri] = strdup(buf);
    return ld->t->declared[ri] ? 0 : fail(ld, NULL, "out of memory");
}

static int read_role(struct loader *ld)
{
    bool nul;
    const char *rn = text_at(ld->L, -2, &nul);
    if (nul)
        return nul_error(ld, "role", -2);
    int ri = rn ? topology_role_index(ld->t, rn) : -1;
    char hint[96] = "";
    if (ri < 0 && rn)
        suggest_hint(hint, sizeof hint, rn, (const char *const *)ld->t->names, (size_t)ld->t->nroles);
    if (ri < 0)
        return fail(ld, rn ? rn : "?", "unknown role '%s'%s", rn ? rn : "?", hint);
    return add_addresses(ld, rn, ri, ld->t->v4, ld->t->v6) || note_declared(ld, ri);
}

/* A value that must be a table (else `wrong`, at key's line), each entry read by each. */
static int read_table(struct loader *ld, const char *key, const char *wrong, int (*each)(struct loader *ld))
{
    if (!lua_istable(ld->L, -1))
        return fail(ld, key, "%s", wrong);
    return each_entry(ld, each);
}

static int read_roles(struct loader *ld)
{
    return read_table(ld, "roles", "roles must be a table", read_role);
}

static int read_nat_entry(struct loader *ld)
{
    lua_State *L = ld->L;
    bool nul_pub, nul_priv;
    const char *pub = text_at(L, -2, &nul_pub), *priv = text_at(L, -1, &nul_priv);
    if (nul_pub || nul_priv)
        return nul_error(ld, "nat address", nul_pub ? -2 : -1);
    struct nat_entry e;
    int v1 = 0, v2 = 0, b1, b2;
    if (!pub || !priv || !parse_prefix(pub, strlen(pub), e.pub, &v1, &b1) ||
        !parse_prefix(priv, strlen(priv), e.priv, &v2, &b2) || v1 != v2 || b1 != (v1 == 4 ? 32 : 128) || b2 != b1)
        return fail(ld, pub ? pub : "nat", "bad nat entry '%s': wants [\"public address\"] = \"translated address\"",
                    pub ? pub : "?");
    e.ipver = v1;
    struct nat_entry *n = realloc(ld->t->nat, (size_t)(ld->t->nnat + 1) * sizeof *n);
    if (!n)
        return fail(ld, NULL, "out of memory");
    ld->t->nat = n;
    ld->t->nat[ld->t->nnat++] = e;
    luabox_step(ld->box);
    return 0;
}

static int read_nat(struct loader *ld)
{
    return read_table(ld, "nat", "nat must be a table { [public] = translated }", read_nat_entry);
}

static int read_nat_devices(struct loader *ld)
{
    struct topology *t = ld->t;
    if (!t->natdev4)
        t->natdev4 = ndpi_patricia_new(32);
    if (!t->natdev6)
        t->natdev6 = ndpi_patricia_new(128);
    if (!t->natdev4 || !t->natdev6)
        return fail(ld, NULL, "out of memory");
    return add_addresses(ld, "nat_devices", -1, t->natdev4, t->natdev6);
}

static int read_capture_point(struct loader *ld)
{
    bool nul;
    const char *v = text_at(ld->L, -1, &nul);
    if (nul)
        return nul_error(ld, "capture_point", -1);
    static const char *const points[] = {"inside", "outside"};
    char hint[96] = "";
    if (v && (strcmp(v, "inside") && strcmp(v, "outside")))
        suggest_hint(hint, sizeof hint, v, points, 2);
    if (!v || (strcmp(v, "inside") && strcmp(v, "outside")))
        return fail(ld, "capture_point", "capture_point is \"inside\" or \"outside\" (of the Edge's NAT)%s", hint);
    ld->t->capture_outside = !strcmp(v, "outside");
    return 0;
}

/* Whether the value at vidx fits the schema entry at the stack top. */
static bool option_fits(lua_State *L, int vidx)
{
    lua_getfield(L, -1, "type");
    const char *type = lua_tostring(L, -1);
    int vt = lua_type(L, vidx);
    bool ok = true;
    if (type && !strcmp(type, "boolean")) {
        ok = vt == LUA_TBOOLEAN;
    } else if (type && !strcmp(type, "enum")) {
        ok = false;
        lua_getfield(L, -2, "values");
        int n = vt == LUA_TSTRING && lua_istable(L, -1) ? (int)lua_rawlen(L, -1) : 0;
        for (int i = 1; i <= n && !ok; i++) {
            lua_rawgeti(L, -1, i);
            ok = lua_compare(L, -1, vidx, LUA_OPEQ); /* Lua's equality: lengths too */
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    } else if (type && !strcmp(type, "port_range")) {
        ok = false;
        if (vt == LUA_TTABLE) {
            lua_rawgeti(L, vidx, 1);
            lua_rawgeti(L, vidx, 2);
            lua_Integer lo = lua_tointeger(L, -2), hi = lua_tointeger(L, -1);
            ok = lua_isinteger(L, -2) && lua_isinteger(L, -1) && lo >= 1 && hi <= 65535 && lo <= hi;
            lua_pop(L, 2);
        }
    }
    lua_pop(L, 1);
    return ok;
}

/* What the option (its schema entry at the stack top) accepts, into buf,
 * with a "did you mean" for an enum's misspelt value at vidx. */
static void option_wants(lua_State *L, int vidx, char *buf, size_t len)
{
    lua_getfield(L, -1, "type");
    const char *type = lua_tostring(L, -1);
    if (type && !strcmp(type, "enum")) {
        const char *vals[16];
        size_t n = 0, u = (size_t)snprintf(buf, len, "must be ");
        lua_getfield(L, -2, "values");
        int m = lua_istable(L, -1) ? (int)lua_rawlen(L, -1) : 0;
        for (int i = 1; i <= m && u < len; i++) {
            lua_rawgeti(L, -1, i);
            const char *v = lua_tostring(L, -1);
            u += (size_t)snprintf(buf + u, len - u, "%s\"%s\"", i == 1 ? "" : i == m ? " or " : ", ", v ? v : "?");
            if (n < sizeof vals / sizeof vals[0])
                vals[n++] = v; /* the schema's table keeps the strings */
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        if (u < len && lua_type(L, vidx) == LUA_TSTRING)
            suggest_hint(buf + u, len - u, lua_tostring(L, vidx), vals, n);
    } else if (type && !strcmp(type, "boolean")) {
        snprintf(buf, len, "must be true or false");
    } else if (type && !strcmp(type, "port_range")) {
        snprintf(buf, len, "must be { low, high }: ports 1 to 65535, low <= high");
    } else {
        snprintf(buf, len, "has a value of the wrong type or range");
    }
    lua_pop(L, 1);
}

/* The option names of the rules' schema, for a "did you mean", into hint. */
static void option_hint(struct loader *ld, const char *name, char *hint, size_t len)
{
    lua_State *L = ld->L;
    const char *names[64];
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, ld->schema)) {
        if (lua_type(L, -2) == LUA_TSTRING && n < sizeof names / sizeof names[0])
            names[n++] = lua_tostring(L, -2); /* the schema's table keeps its keys */
        lua_pop(L, 1);
    }
    suggest_hint(hint, len, name, names, n);
}

/* One option (name at -2, value at -1), checked against the rules' schema. */
static int read_option(struct loader *ld)
{
    lua_State *L = ld->L;
    bool nul;
    const char *name = text_at(L, -2, &nul);
    if (nul)
        return nul_error(ld, "option", -2);
    if (!name)
        return fail(ld, "options", "option names are strings");
    lua_getfield(L, ld->schema, name);
    bool known = !lua_isnil(L, -1);
    bool ok = known && option_fits(L, lua_gettop(L) - 1);
    char why[256] = "";
    if (known && !ok)
        option_wants(L, lua_gettop(L) - 1, why, sizeof why);
    lua_pop(L, 1);
    if (!known) {
        option_hint(ld, name, why, sizeof why);
        return fail(ld, name, "unknown option '%s'%s", name, why);
    }
    if (!ok)
        return fail(ld, name, "option '%s' %s", name, why);
    lua_pushvalue(L, -2);
    lua_pushvalue(L, -2);
    lua_settable(L, ld->opts);
    return 0;
}

static int read_options(struct loader *ld)
{
    return read_table(ld, "options", "options must be a table", read_option);
}

/* Port overrides are kept until every key is read: M.set_ports checks and
 * applies them (apply_ports). */
static int read_ports(struct loader *ld)
{
    if (!lua_istable(ld->L, -1))
        return fail(ld, "ports", "ports must be a list of { role, transport, default, port }");
    lua_pushvalue(ld->L, -1);
    ld->ports_ref = luaL_ref(ld->L, LUA_REGISTRYINDEX);
    return 0;
}

static const struct reader {
    const char *key;
    int (*read)(struct loader *ld);
} READERS[] = {
    {"name", read_name},   {"roles", read_roles},     {"nat", read_nat},       {"nat_devices", read_nat_devices},
    {"capture_point", read_capture_point}, {"options", read_options}, {"ports", read_ports}, {NULL, NULL},
};

/* One top-level key of the file (key at -2, value at -1), by its reader. */
static int read_key(struct loader *ld)
{
    bool nul;
    const char *key = text_at(ld->L, -2, &nul);
    if (nul)
        return nul_error(ld, "key", -2);
    char names[160] = "", hint[96] = "";
    const char *keys[sizeof READERS / sizeof READERS[0]];
    size_t n = 0;
    for (const struct reader *r = READERS; r->key; r++) {
        if (key && !strcmp(key, r->key))
            return r->read(ld);
        size_t u = strlen(names);
        snprintf(names + u, sizeof names - u, "%s%s", u ? ", " : "", r->key);
        keys[n++] = r->key;
    }
    if (!key) {
        snprintf(ld->err, ld->errlen, "%s: top-level keys are names (%s)", ld->file->path, names);
        return -1;
    }
    suggest_hint(hint, sizeof hint, key, keys, n);
    return fail(ld, key, "unknown key '%s'%s; the keys are %s", key, hint, names);
}

/* Calls M.<fn>(nargs arguments on the stack) leaving nres results. */
static int call_dsl(struct loader *ld, const char *fn, int nargs, int nres)
{
    lua_getfield(ld->L, ld->mod, fn);
    if (!lua_isfunction(ld->L, -1)) {
        lua_pop(ld->L, 1 + nargs);
        snprintf(ld->err, ld->errlen, "dsl.lua: no function M.%s", fn);
        return -1;
    }
    lua_insert(ld->L, -1 - nargs);
    return luabox_call(ld->box, nargs, nres, DSL_INSTRUCTIONS, ld->err, ld->errlen);
}

/* The role vocabulary, once, from M.roles(): distinct names, "any" apart. */
static int read_vocabulary(struct loader *ld)
{
    lua_State *L = ld->L;
    if (call_dsl(ld, "roles", 0, 1))
        return -1;
    int n = lua_istable(L, -1) ? (int)lua_rawlen(L, -1) : -1;
    bool ok = n > 0 && n <= TOPOLOGY_MAX_ROLES;
    for (int i = 1; ok && i <= n; i++) {
        lua_rawgeti(L, -1, i);
        bool nul;
        const char *s = text_at(L, -1, &nul);
        ok = s && *s && strcmp(s, "any") && topology_role_index(ld->t, s) < 0 &&
             (ld->t->names[ld->t->nroles] = strdup(s)) != NULL;
        ld->t->nroles += ok;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (!ok)
        snprintf(ld->err, ld->errlen, "dsl.lua: M.roles() must give 1 to %d distinct role names (not \"any\")",
                 TOPOLOGY_MAX_ROLES);
    return ok ? 0 : -1;
}

/* The schema (M.options_schema()) and, in opts, each option's default. */
static int read_schema(struct loader *ld)
{
    lua_State *L = ld->L;
    if (call_dsl(ld, "options_schema", 0, 1))
        return -1;
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        snprintf(ld->err, ld->errlen, "dsl.lua: M.options_schema() must give a table");
        return -1;
    }
    ld->schema = lua_gettop(L);
    lua_newtable(L);
    ld->opts = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, ld->schema)) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_istable(L, -1)) {
            lua_getfield(L, -1, "default");
            lua_pushvalue(L, -3);
            lua_insert(L, -2);
            lua_settable(L, ld->opts);
        }
        lua_pop(L, 1);
    }
    return 0;
}

/* Runs the file in an empty environment (a topology is data) and reads
 * each key of the table it returns. */
static int read_file(struct loader *ld)
{
    lua_State *L = ld->L;
    struct topology *t = ld->t;
    if (luabox_load(ld->box, ld->file, ld->err, ld->errlen))
        return -1;
    lua_newtable(L);
    lua_setupvalue(L, -2, 1);
    if (luabox_call(ld->box, 0, 1, TOPOLOGY_INSTRUCTIONS, ld->err, ld->errlen))
        return -1;
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        snprintf(ld->err, ld->errlen, "%s: must return a table (return { name = ..., roles = { ... } })",
                 ld->file->path);
        return -1;
    }
    t->v4 = ndpi_patricia_new(32);
    t->v6 = ndpi_patricia_new(128);
    t->path = strdup(ld->file->path);
    int rc = !t->v4 || !t->v6 || !t->path ? fail(ld, NULL, "out of memory") : each_entry(ld, read_key);
    lua_pop(L, 1);
    return rc;
}

/* Hands the ports table to M.set_ports(list, text), which answers nil or
 * (message, line). */
static int apply_ports(struct loader *ld)
{
    lua_State *L = ld->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, ld->ports_ref);
    lua_pushlstring(L, ld->file->text, ld->file->len);
    if (call_dsl(ld, "set_ports", 2, 2))
        return -1;
    int rc = 0;
    if (lua_isstring(L, -2)) {
        char m[512];
        snprintf(ld->err, ld->errlen, "%s:%d: %s", ld->file->path, (int)lua_tointeger(L, -1),
                 luabox_text(L, -2, m, sizeof m));
        rc = -1;
    }
    lua_pop(L, 2);
    return rc;
}

/* The client media range from the options in effect. */
static void read_media(struct loader *ld)
{
    lua_State *L = ld->L;
    lua_getfield(L, ld->opts, "client_media_ports");
    if (lua_istable(L, -1)) {
        lua_rawgeti(L, -1, 1);
        lua_rawgeti(L, -2, 2);
        ld->t->media_lo = (uint16_t)lua_tointeger(L, -2);
        ld->t->media_hi = (uint16_t)lua_tointeger(L, -1);
        lua_pop(L, 2);
    }
    lua_pop(L, 1);
}

struct topology *topology_load(struct luabox *box, int mod_idx, const struct luabox_file *file, char *err,
                               size_t errlen)
{
    struct topology *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    lua_State *L = luabox_state(box);
    int top = lua_gettop(L);
    t->L = L;
    t->opts_ref = LUA_NOREF;
    t->media_lo = 1024;
    t->media_hi = 65535;
    struct loader ld = {t, box, L, file, lua_absindex(L, mod_idx), 0, 0, LUA_NOREF, err, errlen};
    int rc = read_vocabulary(&ld);
    rc = rc ? rc : read_schema(&ld);
    rc = rc || !file ? rc : read_file(&ld);
    rc = rc || ld.ports_ref == LUA_NOREF ? rc : apply_ports(&ld);
    luaL_unref(L, LUA_REGISTRYINDEX, ld.ports_ref);
    if (!rc) {
        read_media(&ld);
        lua_pushvalue(L, ld.opts);
        t->opts_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_settop(L, top);
    if (rc) {
        topology_free(t);
        return NULL;
    }
    return t;
}

void topology_free(struct topology *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->nroles; i++) {
        free(t->names[i]);
        free(t->declared[i]);
    }
    ndpi_patricia_tree_t *trees[] = {t->v4, t->v6, t->natdev4, t->natdev6};
    for (int i = 0; i < 4; i++)
        if (trees[i])
            ndpi_patricia_destroy(trees[i], NULL);
    if (t->opts_ref != LUA_NOREF)
        luaL_unref(t->L, LUA_REGISTRYINDEX, t->opts_ref);
    free(t->nat);
    free(t->name);
    free(t->path);
    free(t);
}

int topology_role_count(const struct topology *t)
{
    return t->nroles;
}

const char *topology_role_name(const struct topology *t, int role)
{
    return role >= 0 && role < t->nroles ? t->names[role] : "any";
}

const char *topology_role_declared(const struct topology *t, int role)
{
    return role >= 0 && role < t->nroles ? t->declared[role] : NULL;
}

int topology_role_index(const struct topology *t, const char *name)
{
    for (int i = 0; i < t->nroles; i++)
        if (!strcmp(t->names[i], name))
            return i;
    return -1;
}

bool topology_capture_outside(const struct topology *t)
{
    return t->capture_outside;
}

void topology_media_ports(const struct topology *t, uint16_t *lo, uint16_t *hi)
{
    *lo = t->media_lo;
    *hi = t->media_hi;
}

void topology_push_options(const struct topology *t, lua_State *L)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->opts_ref);
}

const char *topology_name(const struct topology *t)
{
    return t->name;
}

const char *topology_path(const struct topology *t)
{
    return t->path;
}
