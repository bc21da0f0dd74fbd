/* audit.c - topology, rules and verdicts (see audit.h and docs/rules.md). */
#include "audit.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <ndpi_api.h>

#include "classify.h"
#include "dissect/tls.h"
#include "luabox.h"
#include "topo_ports.h"

#define LUA_MEMORY (64u << 20)
#define LOAD_INSTRUCTIONS 50000000L
#define CHECK_INSTRUCTIONS 200000L
#define WIDE_RANGE 1024 /* port ranges wider than this are checked by scan, not indexed */
#define MAX_INDEXED 4096 /* a rule naming more ports than this in all is scanned too */
#define NTRANSPORT 4

enum { T_TCP, T_UDP, T_ESP, T_AH };
static const char *const TRANSPORT_NAMES[NTRANSPORT] = {"tcp", "udp", "esp", "ah"};

/* The order of lua/dsl.lua's ROLE_LIST; ROLE_ANY is an address in no role. */
static const char *const ROLE_NAMES[] = {
    "front_end",      "director",         "mediation",      "pstn_gateway",    "sba",
    "edge_internal",  "edge_access",      "edge_webconf",   "edge_av",         "reverse_proxy",
    "office_web_apps", "persistent_chat", "exchange_um",    "fe_load_balancer",
    "director_load_balancer", "mediation_load_balancer", "client_internal", "client_external",
    "federation_partner", "public_im_partner", "xmpp_partner", "any"};
#define ROLE_N 21
#define ROLE_ANY ROLE_N
#define ALL_ROLES ((1u << (ROLE_N + 1)) - 1)

/* Peers: flows between them only are not Lync findings. */
static const uint32_t PEER_ROLES =
    (1u << 3) | (1u << 16) | (1u << 17) | (1u << 18) | (1u << 19) | (1u << 20) | (1u << ROLE_ANY);
#define EDGE_EXTERNAL_ROLES ((1u << 6) | (1u << 7) | (1u << 8))
#define ROLE_EDGE_INTERNAL 5
#define ROLE_EDGE_ACCESS 6
#define ROLE_EDGE_WEBCONF 7

struct range {
    uint16_t lo, hi;
};

struct rule {
    char *id, *kind, *severity, *doc, *table, *text, *note;
    char *from_s, *to_s, *transport_s, *dports_s, *sports_s, *apps_s, *when_s, *ref_s;
    int row;
    uint32_t from, to;      /* role masks */
    uint8_t transports;     /* bit per T_ */
    struct range *dports, *sports;
    int ndports, nsports;   /* nsports 0: any source port */
    char **apps;
    int napps;
    int check_ref;          /* LUA_NOREF when none */
    bool active;
    uint64_t matched;
};

/* Match table per transport: rule indices by destination port (CSR), and
 * the rules with wide ranges, scanned. */
struct port_index {
    uint32_t *start;    /* 65537 offsets into ids */
    uint16_t *ids;
    uint16_t *wide;
    int nwide;
};

struct nat_entry {
    uint8_t pub[16], priv[16];
    int ipver;
};

struct audit {
    struct luabox *box;
    struct rule *rules;
    int nrules;
    struct port_index idx[NTRANSPORT];
    ndpi_patricia_tree_t *v4, *v6;
    ndpi_patricia_tree_t *natdev4, *natdev6;
    struct nat_entry *nat;
    int nnat;
    bool capture_outside;
    bool peek;              /* audit_flow_peek: the rules' match counts stay as they are */
    uint16_t media_lo, media_hi;
    char *topo_name, *topo_path;
};

const char *audit_role_name(int role)
{
    return role >= 0 && role <= ROLE_N ? ROLE_NAMES[role] : "any";
}

int audit_role_count(void)
{
    return ROLE_N;
}

static int role_index(const char *name)
{
    for (int i = 0; i < ROLE_N; i++)
        if (!strcmp(ROLE_NAMES[i], name))
            return i;
    return -1;
}

/* The line of `text` where `needle` first appears quoted, or as a word. */
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

/* "path:LINE: msg" where the token is found in the file, else "path: msg". */
static int topo_error(char *err, size_t errlen, const char *path, const char *text, const char *token,
                      const char *fmt, const char *a, const char *b)
{
    char msg[512];
    snprintf(msg, sizeof msg, fmt, a, b);
    int line = line_of(text, token);
    if (line)
        snprintf(err, errlen, "%s:%d: %s", path, line, msg);
    else
        snprintf(err, errlen, "%s: %s", path, msg);
    return -1;
}

/* "10.0.0.0/8", "2001:db8::1" -> address and prefix length. */
static bool parse_prefix(const char *s, uint8_t addr[16], int *ipver, int *bits)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", s);
    char *slash = strchr(buf, '/');
    long len = -1;
    if (slash) {
        *slash = '\0';
        const char *d = slash + 1;
        if (!*d || strlen(d) > 3 || strspn(d, "0123456789") != strlen(d))
            return false; /* digits only: no sign, no space */
        len = strtol(d, NULL, 10);
    }
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, buf, addr) == 1) {
        *ipver = 4;
        if (len < 0)
            len = 32;
        if (len > 32)
            return false;
    } else if (inet_pton(AF_INET6, buf, addr) == 1) {
        *ipver = 6;
        if (len < 0)
            len = 128;
        if (len > 128)
            return false;
    } else {
        return false;
    }
    *bits = (int)len;
    return true;
}

static ndpi_patricia_node_t *tree_find(ndpi_patricia_tree_t *t, const uint8_t *addr, int ipver, int bits,
                                       bool exact)
{
    ndpi_prefix_t p;
    if (ipver == 4)
        ndpi_fill_prefix_v4(&p, (const struct in_addr *)addr, bits, 32);
    else
        ndpi_fill_prefix_v6(&p, (const struct in6_addr *)addr, bits, 128);
    return exact ? ndpi_patricia_search_exact(t, &p) : ndpi_patricia_search_best(t, &p);
}

static ndpi_patricia_node_t *tree_add(ndpi_patricia_tree_t *t, const uint8_t *addr, int ipver, int bits)
{
    ndpi_prefix_t p;
    if (ipver == 4)
        ndpi_fill_prefix_v4(&p, (const struct in_addr *)addr, bits, 32);
    else
        ndpi_fill_prefix_v6(&p, (const struct in6_addr *)addr, bits, 128);
    return ndpi_patricia_lookup(t, &p);
}

static int lookup_role(const struct audit *a, const uint8_t *addr, int ipver)
{
    ndpi_patricia_tree_t *t = ipver == 4 ? a->v4 : a->v6;
    if (!t)
        return ROLE_ANY;
    ndpi_patricia_node_t *n = tree_find(t, addr, ipver, ipver == 4 ? 32 : 128, false);
    return n ? (int)ndpi_patricia_get_node_u64(n) : ROLE_ANY;
}

static bool is_nat_device(const struct audit *a, const uint8_t *addr, int ipver)
{
    ndpi_patricia_tree_t *t = ipver == 4 ? a->natdev4 : a->natdev6;
    return t && tree_find(t, addr, ipver, ipver == 4 ? 32 : 128, false);
}

/* An address's role, through the NAT table: a public address plays the
 * role of the translated address behind it. */
static int role_of(const struct audit *a, const uint8_t *addr, int ipver, bool *translated_priv)
{
    *translated_priv = false;
    size_t alen = ipver == 4 ? 4 : 16;
    for (int i = 0; i < a->nnat; i++) {
        if (a->nat[i].ipver != ipver)
            continue;
        if (!memcmp(a->nat[i].pub, addr, alen))
            return lookup_role(a, a->nat[i].priv, ipver);
        if (!memcmp(a->nat[i].priv, addr, alen))
            *translated_priv = true;
    }
    return lookup_role(a, addr, ipver);
}

/* Reads an array of address strings (or one string) at the stack top into a tree. */
static int add_addresses(struct audit *a, lua_State *L, const char *path, const char *text, const char *what,
                         int role, ndpi_patricia_tree_t *v4, ndpi_patricia_tree_t *v6, char *err,
                         size_t errlen)
{
    if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TTABLE)
        return topo_error(err, errlen, path, text, what, "%s: wants a list of addresses or prefixes%s", what, "");
    int n = lua_type(L, -1) == LUA_TSTRING ? 1 : (int)lua_rawlen(L, -1);
    for (int i = 1; i <= n; i++) {
        if (lua_type(L, -1) == LUA_TTABLE)
            lua_rawgeti(L, -1, i);
        else
            lua_pushvalue(L, -1);
        if (lua_type(L, -1) != LUA_TSTRING) {
            lua_pop(L, 1);
            return topo_error(err, errlen, path, text, what, "%s: entry %s is not an address string", what,
                              i == 1 ? "1" : "n");
        }
        const char *s = lua_tostring(L, -1);
        uint8_t addr[16];
        int ipver, bits;
        if (!parse_prefix(s, addr, &ipver, &bits)) {
            topo_error(err, errlen, path, text, s, "bad address or prefix '%s' in %s", s, what);
            lua_pop(L, 1);
            return -1;
        }
        ndpi_patricia_tree_t *t = ipver == 4 ? v4 : v6;
        if (role >= 0) {
            ndpi_patricia_node_t *old = tree_find(t, addr, ipver, bits, true);
            if (old && ndpi_patricia_get_node_bits(old) == bits &&
                (int)ndpi_patricia_get_node_u64(old) != role) {
                topo_error(err, errlen, path, text, s, "'%s' is in two roles (%s and another)", s, what);
                lua_pop(L, 1);
                return -1;
            }
        }
        ndpi_patricia_node_t *node = tree_add(t, addr, ipver, bits);
        if (!node) {
            lua_pop(L, 1);
            snprintf(err, errlen, "%s: out of memory", path);
            return -1;
        }
        ndpi_patricia_set_node_u64(node, (uint64_t)(role >= 0 ? role : 0));
        lua_pop(L, 1);
    }
    (void)a;
    return 0;
}

static char *dupstr(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Checks one topology option against the rules' schema (table at schema_idx)
 * and stores it in opts (table at opts_idx). Key and value on the stack top. */
static int set_option(lua_State *L, int schema_idx, int opts_idx, const char *path, const char *text,
                      char *err, size_t errlen)
{
    const char *name = lua_tostring(L, -2);
    lua_getfield(L, schema_idx, name);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return topo_error(err, errlen, path, text, name, "unknown option '%s'%s", name, "");
    }
    lua_getfield(L, -1, "type");
    const char *type = lua_tostring(L, -1);
    int vt = lua_type(L, -3);
    bool ok = true;
    if (type && !strcmp(type, "boolean")) {
        ok = vt == LUA_TBOOLEAN;
    } else if (type && !strcmp(type, "enum")) {
        ok = false;
        if (vt == LUA_TSTRING) {
            lua_getfield(L, -2, "values");
            int n = lua_istable(L, -1) ? (int)lua_rawlen(L, -1) : 0;
            for (int i = 1; i <= n && !ok; i++) {
                lua_rawgeti(L, -1, i);
                ok = lua_compare(L, -1, -5, LUA_OPEQ);
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
    } else if (type && !strcmp(type, "port_range")) {
        ok = false;
        if (vt == LUA_TTABLE) {
            lua_rawgeti(L, -3, 1);
            lua_rawgeti(L, -4, 2);
            lua_Integer lo = lua_tointeger(L, -2), hi = lua_tointeger(L, -1);
            ok = lua_isinteger(L, -2) && lua_isinteger(L, -1) && lo >= 1 && hi <= 65535 && lo <= hi;
            lua_pop(L, 2);
        }
    }
    lua_pop(L, 2);
    if (!ok)
        return topo_error(err, errlen, path, text, name, "option '%s' has a value of the wrong type or range%s",
                          name, "");
    lua_pushvalue(L, -2);
    lua_pushvalue(L, -2);
    lua_settable(L, opts_idx);
    return 0;
}

/* Runs the topology file; fills roles, NAT and options (opts table at opts_idx). */
static int load_topology(struct audit *a, const char *path, int schema_idx, int opts_idx, char *err,
                         size_t errlen)
{
    lua_State *L = luabox_state(a->box);
    if (luabox_load_file(a->box, path, err, errlen))
        return -1;
    const char *text = luabox_last_text(a->box);
    lua_newtable(L); /* an empty environment: a topology is data */
    lua_setupvalue(L, -2, 1);
    if (luabox_call(a->box, 0, 1, LOAD_INSTRUCTIONS, err, errlen))
        return -1;
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        snprintf(err, errlen, "%s: must return a table (return { name = ..., roles = { ... } })", path);
        return -1;
    }
    int top = lua_gettop(L);
    a->v4 = ndpi_patricia_new(32);
    a->v6 = ndpi_patricia_new(128);
    a->topo_path = strdup(path);
    lua_pushnil(L);
    while (lua_next(L, top)) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            lua_pop(L, 2);
            snprintf(err, errlen, "%s: top-level keys are names (name, roles, nat, nat_devices, capture_point, options, ports)", path);
            return -1;
        }
        const char *key = lua_tostring(L, -2);
        int rc = 0;
        if (!strcmp(key, "name")) {
            if (lua_type(L, -1) != LUA_TSTRING)
                rc = topo_error(err, errlen, path, text, "name", "name must be a string%s%s", "", "");
            else
                a->topo_name = strdup(lua_tostring(L, -1));
        } else if (!strcmp(key, "roles")) {
            if (!lua_istable(L, -1)) {
                rc = topo_error(err, errlen, path, text, "roles", "roles must be a table%s%s", "", "");
            } else {
                lua_pushnil(L);
                while (!rc && lua_next(L, -2)) {
                    const char *rn = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
                    int ri = role_index(rn);
                    if (ri < 0)
                        rc = topo_error(err, errlen, path, text, rn, "unknown role '%s'%s", rn, "");
                    else
                        rc = add_addresses(a, L, path, text, rn, ri, a->v4, a->v6, err, errlen);
                    lua_pop(L, 1);
                }
                if (rc)
                    lua_pop(L, 1);
            }
        } else if (!strcmp(key, "nat")) {
            if (!lua_istable(L, -1)) {
                rc = topo_error(err, errlen, path, text, "nat", "nat must be a table { [public] = translated }%s%s", "", "");
            } else {
                lua_pushnil(L);
                while (!rc && lua_next(L, -2)) {
                    const char *pub = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
                    const char *priv = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
                    struct nat_entry e;
                    int v1 = 0, v2 = 0, b1, b2;
                    if (!pub || !priv || !parse_prefix(pub, e.pub, &v1, &b1) || !parse_prefix(priv, e.priv, &v2, &b2) ||
                        v1 != v2 || b1 != (v1 == 4 ? 32 : 128) || b2 != b1) {
                        rc = topo_error(err, errlen, path, text, pub ? pub : "nat",
                                        "bad nat entry '%s': wants [\"public address\"] = \"translated address\"%s",
                                        pub ? pub : "?", "");
                    } else {
                        e.ipver = v1;
                        struct nat_entry *n = realloc(a->nat, (size_t)(a->nnat + 1) * sizeof *n);
                        if (!n) {
                            rc = -1;
                            snprintf(err, errlen, "out of memory");
                        } else {
                            a->nat = n;
                            a->nat[a->nnat++] = e;
                        }
                    }
                    lua_pop(L, 1);
                }
                if (rc)
                    lua_pop(L, 1);
            }
        } else if (!strcmp(key, "nat_devices")) {
            a->natdev4 = ndpi_patricia_new(32);
            a->natdev6 = ndpi_patricia_new(128);
            rc = add_addresses(a, L, path, text, "nat_devices", -1, a->natdev4, a->natdev6, err, errlen);
        } else if (!strcmp(key, "capture_point")) {
            const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
            if (strcmp(v, "inside") && strcmp(v, "outside"))
                rc = topo_error(err, errlen, path, text, "capture_point",
                                "capture_point is \"inside\" or \"outside\" (of the Edge's NAT)%s%s", "", "");
            a->capture_outside = !strcmp(v, "outside");
        } else if (!strcmp(key, "ports")) {
            /* Port overrides: lua/dsl.lua checks and applies them (topo_ports.c). */
            if (!lua_istable(L, -1))
                rc = topo_error(err, errlen, path, text, "ports", "ports must be a list of { role, transport, default, port }%s%s", "", "");
            lua_pushvalue(L, -1);
            lua_setfield(L, LUA_REGISTRYINDEX, TOPO_PORTS_KEY);
        } else if (!strcmp(key, "options")) {
            if (!lua_istable(L, -1)) {
                rc = topo_error(err, errlen, path, text, "options", "options must be a table%s%s", "", "");
            } else {
                lua_pushnil(L);
                while (!rc && lua_next(L, -2)) {
                    if (lua_type(L, -2) != LUA_TSTRING)
                        rc = topo_error(err, errlen, path, text, "options", "option names are strings%s%s", "", "");
                    else
                        rc = set_option(L, schema_idx, opts_idx, path, text, err, errlen);
                    lua_pop(L, 1);
                }
                if (rc)
                    lua_pop(L, 1);
            }
        } else {
            rc = topo_error(err, errlen, path, text, key,
                            "unknown key '%s' (name, roles, nat, nat_devices, capture_point, options, ports)%s", key, "");
        }
        lua_pop(L, 1);
        if (rc) {
            lua_pop(L, 1);
            lua_settop(L, top - 1);
            return -1;
        }
    }
    lua_settop(L, top - 1);
    return 0;
}

/* Collects the string array (or "any") at the stack top as a role mask and text. */
static uint32_t read_roles(lua_State *L, char **text)
{
    if (lua_type(L, -1) == LUA_TSTRING) {
        *text = strdup(lua_tostring(L, -1));
        return ALL_ROLES;
    }
    uint32_t mask = 0;
    char buf[512] = "";
    int n = lua_istable(L, -1) ? (int)lua_rawlen(L, -1) : 0;
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        const char *s = lua_tostring(L, -1);
        int r = s ? role_index(s) : -1;
        if (r >= 0) {
            mask |= 1u << r;
            size_t u = strlen(buf);
            snprintf(buf + u, sizeof buf - u, "%s%s", u ? "," : "", s);
        }
        lua_pop(L, 1);
    }
    *text = strdup(buf);
    return mask;
}

/* Reads {{lo,hi},...} or "client_media_ports" entries at the stack top. */
static int read_ranges(const struct audit *a, lua_State *L, struct range **out, char **text)
{
    int n = lua_istable(L, -1) ? (int)lua_rawlen(L, -1) : 0;
    *out = calloc((size_t)(n ? n : 1), sizeof **out);
    char buf[512] = "";
    int k = 0;
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        struct range r = {0, 0};
        if (lua_type(L, -1) == LUA_TSTRING) {
            r.lo = a->media_lo;
            r.hi = a->media_hi;
        } else if (lua_istable(L, -1)) {
            lua_rawgeti(L, -1, 1);
            lua_rawgeti(L, -2, 2);
            r.lo = (uint16_t)lua_tointeger(L, -2);
            r.hi = (uint16_t)lua_tointeger(L, -1);
            lua_pop(L, 2);
        }
        lua_pop(L, 1);
        (*out)[k++] = r;
        size_t u = strlen(buf);
        if (r.lo == r.hi)
            snprintf(buf + u, sizeof buf - u, "%s%u", u ? "," : "", r.lo);
        else
            snprintf(buf + u, sizeof buf - u, "%s%u-%u", u ? "," : "", r.lo, r.hi);
    }
    *text = strdup(buf);
    return k;
}

static char *field_str(lua_State *L, int idx, const char *name)
{
    lua_getfield(L, idx, name);
    char *s = lua_type(L, -1) == LUA_TSTRING ? strdup(lua_tostring(L, -1)) : NULL;
    lua_pop(L, 1);
    return s;
}

/* Whether every option in the rule's `when` (stack top) holds in opts. */
static bool when_holds(lua_State *L, int opts_idx, char **text)
{
    bool ok = true;
    char buf[256] = "";
    if (lua_istable(L, -1)) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            lua_pushvalue(L, -2);
            lua_gettable(L, opts_idx);
            if (!lua_compare(L, -1, -2, LUA_OPEQ))
                ok = false;
            lua_pop(L, 1);
            size_t u = strlen(buf);
            const char *k = lua_tostring(L, -2);
            const char *v = lua_isboolean(L, -1) ? (lua_toboolean(L, -1) ? "true" : "false") : lua_tostring(L, -1);
            snprintf(buf + u, sizeof buf - u, "%s%s=%s", u ? "," : "", k ? k : "?", v ? v : "?");
            lua_pop(L, 1);
        }
    }
    *text = buf[0] ? strdup(buf) : NULL;
    return ok;
}

/* Compiles M.rules() (stack top) into C rules. */
static int compile_rules(struct audit *a, int opts_idx, char *err, size_t errlen)
{
    lua_State *L = luabox_state(a->box);
    int n = (int)lua_rawlen(L, -1);
    if (n > 65535) {
        snprintf(err, errlen, "too many rules (%d)", n);
        return -1;
    }
    a->rules = calloc((size_t)(n ? n : 1), sizeof *a->rules);
    if (!a->rules) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        int ri = lua_gettop(L);
        struct rule *r = &a->rules[a->nrules++];
        r->check_ref = LUA_NOREF;
        r->id = field_str(L, ri, "id");
        r->kind = field_str(L, ri, "kind");
        r->severity = field_str(L, ri, "severity");
        r->note = field_str(L, ri, "note");
        lua_getfield(L, ri, "from");
        r->from = read_roles(L, &r->from_s);
        lua_getfield(L, ri, "to");
        r->to = read_roles(L, &r->to_s);
        lua_pop(L, 2);
        lua_getfield(L, ri, "transport");
        char tbuf[64] = "";
        for (int t = 1; t <= (int)lua_rawlen(L, -1); t++) {
            lua_rawgeti(L, -1, t);
            const char *s = lua_tostring(L, -1);
            for (int k = 0; s && k < NTRANSPORT; k++)
                if (!strcmp(s, TRANSPORT_NAMES[k]))
                    r->transports |= (uint8_t)(1u << k);
            size_t u = strlen(tbuf);
            snprintf(tbuf + u, sizeof tbuf - u, "%s%s", u ? "," : "", s ? s : "?");
            lua_pop(L, 1);
        }
        r->transport_s = strdup(tbuf);
        lua_pop(L, 1);
        lua_getfield(L, ri, "dports");
        r->ndports = read_ranges(a, L, &r->dports, &r->dports_s);
        lua_pop(L, 1);
        lua_getfield(L, ri, "sports");
        if (lua_istable(L, -1))
            r->nsports = read_ranges(a, L, &r->sports, &r->sports_s);
        else
            r->sports_s = strdup("any");
        lua_pop(L, 1);
        lua_getfield(L, ri, "apps");
        r->napps = lua_istable(L, -1) ? (int)lua_rawlen(L, -1) : 0;
        r->apps = calloc((size_t)(r->napps ? r->napps : 1), sizeof *r->apps);
        char abuf[256] = "";
        for (int k = 1; k <= r->napps; k++) {
            lua_rawgeti(L, -1, k);
            r->apps[k - 1] = dupstr(lua_tostring(L, -1));
            size_t u = strlen(abuf);
            snprintf(abuf + u, sizeof abuf - u, "%s%s", u ? "," : "", r->apps[k - 1] ? r->apps[k - 1] : "?");
            lua_pop(L, 1);
        }
        r->apps_s = strdup(abuf);
        lua_pop(L, 1);
        lua_getfield(L, ri, "when");
        r->active = when_holds(L, opts_idx, &r->when_s);
        lua_pop(L, 1);
        lua_getfield(L, ri, "ref");
        if (lua_istable(L, -1)) {
            int re = lua_gettop(L);
            r->doc = field_str(L, re, "doc");
            r->table = field_str(L, re, "table");
            r->text = field_str(L, re, "text");
            lua_getfield(L, re, "row");
            r->row = (int)lua_tointeger(L, -1);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        char ref[512];
        snprintf(ref, sizeof ref, "%s | %s | row %d", r->doc ? r->doc : "?", r->table ? r->table : "?", r->row);
        r->ref_s = strdup(ref);
        lua_getfield(L, ri, "check");
        if (lua_isfunction(L, -1))
            r->check_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        else
            lua_pop(L, 1);
        lua_pop(L, 1);
        if (!r->id || !r->kind || !r->severity || !r->ref_s || !r->transports) {
            snprintf(err, errlen, "rule %d (%s): incomplete after loading", i, r->id ? r->id : "no id");
            return -1;
        }
    }
    return 0;
}

/* Builds the per-transport destination-port index over active rules. */
static int build_index(struct audit *a)
{
    for (int t = 0; t < NTRANSPORT; t++) {
        struct port_index *ix = &a->idx[t];
        ix->start = calloc(65537, sizeof *ix->start);
        ix->wide = calloc((size_t)(a->nrules ? a->nrules : 1), sizeof *ix->wide);
        if (!ix->start || !ix->wide)
            return -1;
        for (int pass = 0; pass < 2; pass++) {
            if (pass == 1) {
                for (int p = 1; p <= 65536; p++)
                    ix->start[p] += ix->start[p - 1];
                ix->ids = calloc(ix->start[65536] ? ix->start[65536] : 1, sizeof *ix->ids);
                if (!ix->ids)
                    return -1;
            }
            uint32_t *fill = pass == 1 ? calloc(65536, sizeof *fill) : NULL;
            if (pass == 1 && !fill)
                return -1;
            for (int i = 0; i < a->nrules; i++) {
                const struct rule *r = &a->rules[i];
                if (!r->active || !(r->transports & (1u << t)))
                    continue;
                /* The index holds a rule once per port it names: a rule with
                 * very many ports would make it huge, so it is scanned. */
                uint64_t narrow = 0;
                for (int k = 0; k < r->ndports; k++)
                    if (r->dports[k].hi - r->dports[k].lo < WIDE_RANGE)
                        narrow += (uint64_t)(r->dports[k].hi - r->dports[k].lo) + 1;
                if (narrow > MAX_INDEXED) {
                    if (pass == 0)
                        ix->wide[ix->nwide++] = (uint16_t)i;
                    continue;
                }
                for (int k = 0; k < r->ndports; k++) {
                    struct range g = r->dports[k];
                    if (g.hi - g.lo >= WIDE_RANGE) {
                        if (pass == 0 && (ix->nwide == 0 || ix->wide[ix->nwide - 1] != i))
                            ix->wide[ix->nwide++] = (uint16_t)i;
                        continue;
                    }
                    for (uint32_t p = g.lo; p <= g.hi; p++) {
                        if (pass == 0)
                            ix->start[p + 1]++;
                        else
                            ix->ids[ix->start[p] + fill[p]++] = (uint16_t)i;
                    }
                }
            }
            free(fill);
        }
    }
    return 0;
}

/* Calls M.<fn>() leaving its result on the stack. */
static int call_module(struct audit *a, int mod_idx, const char *fn, char *err, size_t errlen)
{
    lua_State *L = luabox_state(a->box);
    lua_getfield(L, mod_idx, fn);
    if (!lua_isfunction(L, -1)) {
        lua_pop(L, 1);
        snprintf(err, errlen, "dsl.lua: no function M.%s", fn);
        return -1;
    }
    return luabox_call(a->box, 0, 1, LOAD_INSTRUCTIONS, err, errlen);
}

static int cmp_names(const struct dirent **x, const struct dirent **y)
{
    return strcmp((*x)->d_name, (*y)->d_name);
}

static int filter_lua(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return n > 4 && d->d_name[0] != '.' && !strcmp(d->d_name + n - 4, ".lua");
}

struct audit *audit_load(const struct audit_paths *p, char *err, size_t errlen)
{
    return audit_load_where(p, NULL, 0, err, errlen);
}

struct audit *audit_load_where(const struct audit_paths *p, char *where, size_t wherelen, char *err,
                               size_t errlen)
{
    struct audit *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->media_lo = 1024;
    a->media_hi = 65535;
    a->box = luabox_new(LUA_MEMORY, err, errlen);
    if (!a->box)
        goto bad;
    luabox_set_where(a->box, where, wherelen);
    lua_State *L = luabox_state(a->box);

    char path[4096];
    snprintf(path, sizeof path, "%s/dsl.lua", p->lua_dir);
    if (luabox_load_file(a->box, path, err, errlen))
        goto bad;
    lua_newtable(L); /* the chunk's argument: the labels a rule may expect (classify's vocabulary) */
    for (size_t i = 0; classify_rule_label(i); i++) {
        lua_pushstring(L, classify_rule_label(i));
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    if (luabox_call(a->box, 1, 1, LOAD_INSTRUCTIONS, err, errlen))
        goto bad;
    if (!lua_istable(L, -1)) {
        snprintf(err, errlen, "%s: must return the rule language module", path);
        goto bad;
    }
    int mod = lua_gettop(L);

    /* Options: the rules' schema, defaults, then the topology's values. */
    if (call_module(a, mod, "options_schema", err, errlen))
        goto bad;
    int schema = lua_gettop(L);
    lua_newtable(L);
    int opts = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, schema)) {
        lua_getfield(L, -1, "default");
        lua_setfield(L, opts, lua_tostring(L, -3));
        lua_pop(L, 1);
    }
    if (p->topology && load_topology(a, p->topology, schema, opts, err, errlen))
        goto bad;
    if (p->topology && topo_ports_set(a->box, mod, p->topology, err, errlen))
        goto bad;
    lua_getfield(L, opts, "client_media_ports");
    if (lua_istable(L, -1)) {
        lua_rawgeti(L, -1, 1);
        lua_rawgeti(L, -2, 2);
        a->media_lo = (uint16_t)lua_tointeger(L, -2);
        a->media_hi = (uint16_t)lua_tointeger(L, -1);
        lua_pop(L, 2);
    }
    lua_pop(L, 1);

    /* The rule files, in name order, each in an environment of its own. */
    struct dirent **names;
    int nfiles = scandir(p->rules_dir, &names, filter_lua, cmp_names);
    if (nfiles < 0) {
        snprintf(err, errlen, "%s: cannot read the rules folder", p->rules_dir);
        goto bad;
    }
    int rc = 0;
    for (int i = 0; i < nfiles; i++) {
        if (!rc) {
            snprintf(path, sizeof path, "%s/%s", p->rules_dir, names[i]->d_name);
            rc = luabox_load_file(a->box, path, err, errlen);
            if (!rc) {
                rc = call_module(a, mod, "new_env", err, errlen);
                if (!rc) {
                    lua_setupvalue(L, -2, 1);
                    rc = luabox_call(a->box, 0, 0, LOAD_INSTRUCTIONS, err, errlen);
                } else {
                    lua_pop(L, 1);
                }
            }
        }
        free(names[i]);
    }
    free(names);
    if (rc)
        goto bad;
    if (nfiles == 0) {
        snprintf(err, errlen, "%s: no rule files (*.lua)", p->rules_dir);
        goto bad;
    }
    if (call_module(a, mod, "rules", err, errlen) || compile_rules(a, opts, err, errlen))
        goto bad;
    lua_settop(L, 0);
    if (build_index(a)) {
        snprintf(err, errlen, "out of memory");
        goto bad;
    }
    return a;
bad:
    audit_free(a);
    return NULL;
}

static void free_rule(struct rule *r)
{
    char **strs[] = {&r->id, &r->kind, &r->severity, &r->doc, &r->table, &r->text, &r->note, &r->from_s,
                     &r->to_s, &r->transport_s, &r->dports_s, &r->sports_s, &r->apps_s, &r->when_s, &r->ref_s};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        free(*strs[i]);
    for (int i = 0; i < r->napps; i++)
        free(r->apps[i]);
    free(r->apps);
    free(r->dports);
    free(r->sports);
}

void audit_free(struct audit *a)
{
    if (!a)
        return;
    for (int i = 0; i < a->nrules; i++)
        free_rule(&a->rules[i]);
    free(a->rules);
    for (int t = 0; t < NTRANSPORT; t++) {
        free(a->idx[t].start);
        free(a->idx[t].ids);
        free(a->idx[t].wide);
    }
    ndpi_patricia_tree_t *trees[] = {a->v4, a->v6, a->natdev4, a->natdev6};
    for (int i = 0; i < 4; i++)
        if (trees[i])
            ndpi_patricia_destroy(trees[i], NULL);
    free(a->nat);
    free(a->topo_name);
    free(a->topo_path);
    luabox_free(a->box);
    free(a);
}

static int transport_of(uint8_t proto)
{
    switch (proto) {
    case 6: return T_TCP;
    case 17: return T_UDP;
    case 50: return T_ESP;
    case 51: return T_AH;
    default: return -1;
    }
}

static bool in_ranges(const struct range *r, int n, uint16_t port)
{
    for (int i = 0; i < n; i++)
        if (port >= r[i].lo && port <= r[i].hi)
            return true;
    return false;
}

/* A port_range rule with source ports restricts the source side: it matches
 * flows whose source port is outside them (docs/rules.md). */
static bool src_side(const struct rule *r)
{
    return r->nsports > 0 && !strcmp(r->kind, "port_range");
}

/* Whether the label satisfies the rule. An unlabelled flow cannot be shown to
 * break an allow rule or a destination-side range; a source-side range speaks
 * of media only, so it holds an unlabelled flow to nothing. */
static bool app_accepted(const struct rule *r, const char *app)
{
    if (!strcmp(app, "unknown"))
        return !src_side(r);
    if (r->napps == 0)
        return true;
    for (int i = 0; i < r->napps; i++)
        if (r->apps[i] && !strcmp(r->apps[i], app))
            return true;
    return false;
}

static bool rule_fits(const struct rule *r, int t, int sr, int dr, uint16_t sport, uint16_t dport)
{
    bool sp = r->nsports == 0 || in_ranges(r->sports, r->nsports, sport);
    if (src_side(r))
        sp = !in_ranges(r->sports, r->nsports, sport);
    return r->active && (r->transports & (1u << t)) && (r->from & (1u << sr)) && (r->to & (1u << dr)) &&
           in_ranges(r->dports, r->ndports, dport) && sp;
}

/* The active rules of kind `kind` and transport t that fit the flow's roles and ports. */
static int find_rules(const struct audit *a, int t, int sr, int dr, uint16_t sport, uint16_t dport,
                      const char *kind, int *out, int max)
{
    int n = 0;
    const struct port_index *ix = &a->idx[t];
    for (uint32_t k = ix->start[dport]; k < ix->start[dport + 1] && n < max; k++) {
        const struct rule *r = &a->rules[ix->ids[k]];
        if (!strcmp(r->kind, kind) && rule_fits(r, t, sr, dr, sport, dport))
            out[n++] = ix->ids[k];
    }
    for (int k = 0; k < ix->nwide && n < max; k++) {
        const struct rule *r = &a->rules[ix->wide[k]];
        if (!strcmp(r->kind, kind) && rule_fits(r, t, sr, dr, sport, dport))
            out[n++] = ix->wide[k];
    }
    return n;
}

/* Whether the ports lo..hi all lie in the union of b's ranges. */
static bool covered(uint32_t lo, uint32_t hi, const struct range *b, int nb)
{
    uint32_t p = lo;
    for (int step = 0; step <= nb; step++) {
        int j = 0;
        while (j < nb && !(p >= b[j].lo && p <= b[j].hi))
            j++;
        if (j == nb)
            return false;
        p = (uint32_t)b[j].hi + 1u;
        if (p > hi)
            return true;
    }
    return false;
}

static bool overlaps(uint32_t lo, uint32_t hi, const struct range *b, int nb)
{
    for (int j = 0; j < nb; j++)
        if (b[j].lo <= hi && lo <= b[j].hi)
            return true;
    return false;
}

/* Whether rule x's ports all lie within rule y's: destination ports, and
 * the source ports y takes (all, its sports, or for a source-side range the
 * ports outside them). */
static bool ports_within(const struct rule *x, const struct rule *y)
{
    for (int k = 0; k < x->ndports; k++)
        if (!covered(x->dports[k].lo, x->dports[k].hi, y->dports, y->ndports))
            return false;
    if (y->nsports == 0)
        return true;
    static const struct range ALL_PORTS = {0, 65535};
    const struct range *xs = x->nsports ? x->sports : &ALL_PORTS;
    int nx = x->nsports ? x->nsports : 1;
    for (int k = 0; k < nx; k++) {
        bool in = src_side(y) ? !overlaps(xs[k].lo, xs[k].hi, y->sports, y->nsports)
                              : covered(xs[k].lo, xs[k].hi, y->sports, y->nsports);
        if (!in)
            return false;
    }
    return true;
}

/* Whether rule x is at least as specific as rule y: its roles, transports
 * and ports all within y's. The precedence of docs/rules.md. */
static bool within(const struct rule *x, const struct rule *y)
{
    return !(x->from & ~y->from) && !(x->to & ~y->to) && !(x->transports & ~y->transports) && ports_within(x, y);
}

/* Every label of x's expectation is one of y's (an empty list is every label). */
static bool apps_within(const struct rule *x, const struct rule *y)
{
    if (y->napps == 0)
        return true;
    if (x->napps == 0)
        return false;
    for (int i = 0; i < x->napps; i++) {
        bool found = false;
        for (int k = 0; k < y->napps && !found; k++)
            found = x->apps[i] && y->apps[k] && !strcmp(x->apps[i], y->apps[k]);
        if (!found)
            return false;
    }
    return true;
}

/* Keeps, of the allow rules that matched, those that decide the flow: none
 * other is strictly more specific in roles and ports, and none equally
 * specific expects a narrower set of labels. Returns the new count. */
static int deciding_rules(const struct audit *a, int *c, int n)
{
    int keep[64], m = 0;
    for (int i = 0; i < n && m < 64; i++) {
        const struct rule *x = &a->rules[c[i]];
        bool beaten = false;
        for (int k = 0; k < n && !beaten; k++) {
            const struct rule *y = &a->rules[c[k]];
            if (k == i || !within(y, x))
                continue;
            if (!within(x, y))
                beaten = true; /* y strictly more specific */
            else
                beaten = apps_within(y, x) && !apps_within(x, y);
        }
        if (!beaten)
            keep[m++] = c[i];
    }
    memcpy(c, keep, (size_t)m * sizeof *c);
    return m;
}

static struct audit_violation *add_violation(struct audit_result *res, const char *kind, const struct rule *r,
                                             const char *severity)
{
    if (res->nviolations >= AUDIT_MAX_VIOLATIONS)
        return NULL;
    struct audit_violation *v = &res->v[res->nviolations++];
    v->kind = kind;
    v->rule_id = r ? r->id : NULL;
    v->severity = r ? r->severity : severity;
    if (r && severity)
        v->severity = severity;
    v->ref = r ? r->ref_s : NULL;
    v->message[0] = '\0';
    return v;
}

static bool is_ipsec(const struct audit_flow *f)
{
    if (f->proto == 50 || f->proto == 51)
        return true;
    return !strcmp(f->app, "ike") || !strcmp(f->app, "esp") || !strcmp(f->app, "ah") || !strcmp(f->app, "ipsec");
}

/* Labels only roles can tell, for a TLS flow whose port named no Lync
 * service: dissect/tls.h decides (443 on the Access Edge is SIP ...). */
static const char *refine_app(const struct audit_flow *f, int dr)
{
    if ((f->facts & (LABEL_F_TLS | LABEL_F_TLS_PORT)) != LABEL_F_TLS)
        return f->app;
    enum tls_server s = dr == ROLE_EDGE_ACCESS    ? TLS_SERVER_EDGE_ACCESS
                        : dr == ROLE_EDGE_WEBCONF  ? TLS_SERVER_EDGE_WEBCONF
                        : dr == ROLE_EDGE_INTERNAL ? TLS_SERVER_EDGE_INTERNAL
                                                   : TLS_SERVER_OTHER;
    unsigned id = tls_role_label(f->dport, s);
    return id ? classify_label_name(id) : f->app;
}

/* Runs a rule's Lua check on the flow: true when the rule holds. A check
 * that fails to run (error, instruction limit) is reported and holds. */
static bool run_check(struct audit *a, const struct rule *r, const struct audit_flow *f,
                      struct audit_result *res)
{
    lua_State *L = luabox_state(a->box);
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->check_ref);
    lua_createtable(L, 0, 10);
    char s[64], d[64];
    inet_ntop(f->ipver == 4 ? AF_INET : AF_INET6, f->src, s, sizeof s);
    inet_ntop(f->ipver == 4 ? AF_INET : AF_INET6, f->dst, d, sizeof d);
    lua_pushstring(L, s), lua_setfield(L, -2, "src_ip");
    lua_pushstring(L, d), lua_setfield(L, -2, "dst_ip");
    lua_pushinteger(L, f->sport), lua_setfield(L, -2, "src_port");
    lua_pushinteger(L, f->dport), lua_setfield(L, -2, "dst_port");
    lua_pushstring(L, res->app), lua_setfield(L, -2, "app");
    lua_pushstring(L, f->app_detail ? f->app_detail : ""), lua_setfield(L, -2, "app_detail");
    lua_pushstring(L, res->src_role), lua_setfield(L, -2, "src_role");
    lua_pushstring(L, res->dst_role), lua_setfield(L, -2, "dst_role");
    lua_pushinteger(L, (lua_Integer)f->packets), lua_setfield(L, -2, "packets");
    lua_pushinteger(L, (lua_Integer)f->bytes), lua_setfield(L, -2, "bytes");
    char err[256];
    if (luabox_call(a->box, 1, 1, CHECK_INSTRUCTIONS, err, sizeof err)) {
        struct audit_violation *v = add_violation(res, "check", r, "low");
        if (v)
            snprintf(v->message, sizeof v->message, "rule %s: its check did not run to the end: %s", r->id, err);
        return true;
    }
    bool holds = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return holds;
}

#define MAXC 32
#define ROLE_CLIENTS ((1u << 16) | (1u << 17))
#define ROLE_PARTNERS ((1u << 18) | (1u << 19))
#define ROLE_CLIENT_INTERNAL 16

static const char *const NAT_REF = "001_5c850280d6352e6d.txt | NAT Requirements for External User Access";

static void nat_violation(struct audit_result *res, const char *path, const char *what)
{
    struct audit_violation *v = add_violation(res, "nat", NULL, "high");
    if (v) {
        v->ref = NAT_REF;
        snprintf(v->message, sizeof v->message, "%s: %s", path, what);
    }
}

/* NAT the documents forbid, where the topology lets the capture show it:
 * doc 001, "does not support NAT for traffic to or from the Edge internal
 * interface"; the external interface keeps inbound source addresses. */
static void nat_findings(const struct audit *a, const struct audit_flow *f, int sr, int dr, bool spriv, bool dpriv,
                         struct audit_result *res, const char *path)
{
    if (is_nat_device(a, f->src, f->ipver) && (dr == ROLE_EDGE_INTERNAL || (EDGE_EXTERNAL_ROLES & (1u << dr))))
        nat_violation(res, path,
                      dr == ROLE_EDGE_INTERNAL ? "the source is a NAT device: NAT toward the Edge internal interface "
                                                 "is not supported"
                                               : "the source is a NAT device: inbound traffic to the Edge external "
                                                 "interface must keep its source address (ChangeDST only)");
    if (sr == ROLE_EDGE_INTERNAL && is_nat_device(a, f->dst, f->ipver))
        nat_violation(res, path,
                      "the Edge internal interface sends to a NAT device: NAT on traffic from the Edge internal "
                      "interface is not supported");
    size_t alen = f->ipver == 4 ? 4 : 16;
    for (int i = 0; i < a->nnat; i++) {
        const struct nat_entry *e = &a->nat[i];
        if (e->ipver == f->ipver && (!memcmp(e->pub, f->src, alen) || !memcmp(e->pub, f->dst, alen)) &&
            lookup_role(a, e->priv, e->ipver) == ROLE_EDGE_INTERNAL) {
            nat_violation(res, path,
                          "the Edge internal interface's address is seen translated: NAT on traffic to or from "
                          "the Edge internal interface is not supported");
            break;
        }
    }
    if (a->capture_outside && (spriv || dpriv))
        nat_violation(res, path, "the Edge's translated address is seen outside its NAT (ChangeSRC/ChangeDST missing)");
}

/* An IPsec exemption that fits the flow: role rows by their roles, the
 * initiator's row first (an outbound flow cites the Outbound row); a
 * port-scoped row (doc 000 row 15, client media) by the ports the flow shows,
 * which IPsec hides unless it runs over UDP from a port other than IKE's. */
static struct rule *ipsec_exemption(struct audit *a, const struct audit_flow *f, int t, int sr, int dr)
{
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < a->nrules; i++) {
            struct rule *r = &a->rules[i];
            if (!r->active || strcmp(r->kind, "ipsec_exempt"))
                continue;
            bool scoped = r->nsports || r->ndports != 1 || r->dports[0].lo > 1 || r->dports[0].hi != 65535;
            if (scoped) {
                if (pass == 0 && t == T_UDP && (r->transports & (1u << T_UDP)) && f->sport != 500 &&
                    f->sport != 4500 && rule_fits(r, t, sr, dr, f->sport, f->dport))
                    return r;
                continue;
            }
            int from = pass == 0 ? sr : dr, to = pass == 0 ? dr : sr;
            if ((r->from & (1u << from)) && (r->to & (1u << to)))
                return r;
        }
    }
    return NULL;
}

/* The restricting rules (deny, port_range) that match the flow and that no
 * matching allow rule (allow[0..nallow)) is at least as specific as: the
 * first deny, else the first port_range, else NULL. */
static struct rule *restriction(struct audit *a, const struct audit_flow *f, int t, int sr, int dr,
                                const char *app, const int *allow, int nallow)
{
    static const char *const KINDS[] = {"deny", "port_range"};
    for (int k = 0; k < 2; k++) {
        int c[MAXC];
        int n = find_rules(a, t, sr, dr, f->sport, f->dport, KINDS[k], c, MAXC);
        for (int i = 0; i < n; i++) {
            struct rule *r = &a->rules[c[i]];
            if (!app_accepted(r, app))
                continue;
            bool overridden = false;
            /* A port_range rule restricts ports: an allow rule whose ports lie
             * within them overrides it. A deny rule restricts a path: only an
             * allow rule within it in roles and ports overrides it. */
            for (int j = 0; j < nallow && !overridden; j++)
                overridden = k == 0 ? within(&a->rules[allow[j]], r) : ports_within(&a->rules[allow[j]], r);
            if (!overridden)
                return r;
        }
    }
    return NULL;
}

/* Judges a flow on transport t by the allow and restricting rules: ok with
 * the deciding rule, or one violation. Returns false when nothing matched. */
static bool judge(struct audit *a, const struct audit_flow *f, int t, int sr, int dr, struct audit_result *res,
                  const char *path)
{
    int c[MAXC];
    int n = find_rules(a, t, sr, dr, f->sport, f->dport, "allow", c, MAXC);
    /* Rules whose Lua check says no do not match. */
    int m = 0;
    for (int i = 0; i < n; i++)
        if (a->rules[c[i]].check_ref == LUA_NOREF || run_check(a, &a->rules[c[i]], f, res))
            c[m++] = c[i];
    n = m;
    struct rule *hit = restriction(a, f, t, sr, dr, res->app, c, n);
    if (hit) {
        hit->matched += !a->peek;
        bool deny = !strcmp(hit->kind, "deny");
        struct audit_violation *v = add_violation(res, deny ? "no_rule" : "port_range", deny ? NULL : hit, NULL);
        if (v) {
            if (deny) {
                v->severity = hit->severity;
                v->ref = hit->ref_s;
            }
            snprintf(v->message, sizeof v->message, "%s: %s (rule %s)", path,
                     hit->note ? hit->note : "outside the documented port range", hit->id);
        }
        return true;
    }
    if (n == 0)
        return false;
    n = deciding_rules(a, c, n);
    struct rule *ok = NULL;
    for (int i = 0; i < n && !ok; i++)
        if (app_accepted(&a->rules[c[i]], res->app))
            ok = &a->rules[c[i]];
    if (ok) {
        ok->matched += !a->peek;
        res->rule_id = ok->id;
        return true;
    }
    struct rule *r = &a->rules[c[0]];
    r->matched += !a->peek;
    struct audit_violation *v = add_violation(res, "wrong_protocol", r, NULL);
    if (v)
        snprintf(v->message, sizeof v->message, "%s: rule %s expects %s, the flow is %s", path, r->id, r->apps_s,
                 res->app);
    return true;
}

/* False when flows from role sr to role dr are unscoped whatever they
 * carry: between peers, except client to client and an internal client to
 * a partner (the client rows speak of those). */
static bool pair_in_scope(int sr, int dr)
{
    bool peers = (PEER_ROLES & (1u << sr)) && (PEER_ROLES & (1u << dr));
    return !peers || ((ROLE_CLIENTS & (1u << sr)) && (ROLE_CLIENTS & (1u << dr))) ||
           (sr == ROLE_CLIENT_INTERNAL && (ROLE_PARTNERS & (1u << dr)));
}

bool audit_in_scope(const struct audit *a, const uint8_t *src, const uint8_t *dst, int ipver)
{
    bool spriv, dpriv;
    return pair_in_scope(role_of(a, src, ipver, &spriv), role_of(a, dst, ipver, &dpriv));
}

void audit_flow_peek(struct audit *a, const struct audit_flow *f, struct audit_result *r)
{
    a->peek = true;
    audit_flow(a, f, r);
    a->peek = false;
}

void audit_flow(struct audit *a, const struct audit_flow *f, struct audit_result *res)
{
    bool spriv, dpriv;
    int sr = role_of(a, f->src, f->ipver, &spriv);
    int dr = role_of(a, f->dst, f->ipver, &dpriv);
    memset(res, 0, sizeof *res);
    res->src_role = ROLE_NAMES[sr];
    res->dst_role = ROLE_NAMES[dr];
    res->app = refine_app(f, dr);
    /* Flows between peers are not Lync findings, except what the client rows
     * speak of: client to client, and an internal client through the
     * firewall to a partner; those are judged when a rule matches. */
    bool peers = (PEER_ROLES & (1u << sr)) && (PEER_ROLES & (1u << dr));
    if (!pair_in_scope(sr, dr)) {
        res->verdict = "unscoped";
        return;
    }
    int t = transport_of(f->proto);
    char path[160];
    snprintf(path, sizeof path, "%s -> %s %s/%u", res->src_role, res->dst_role, t >= 0 ? TRANSPORT_NAMES[t] : "ip",
             f->dport);
    nat_findings(a, f, sr, dr, spriv, dpriv, res, path);

    /* IPsec on a path the exceptions exempt is the finding; elsewhere IPsec
     * is judged like any flow (allowed where ipsec_deployed says so). */
    struct rule *ex = is_ipsec(f) ? ipsec_exemption(a, f, t, sr, dr) : NULL;
    if (ex) {
        ex->matched += !a->peek;
        struct audit_violation *v = add_violation(res, "ipsec", ex, NULL);
        if (v)
            snprintf(v->message, sizeof v->message, "%s: IPsec (%s) on a path the IPsec exceptions exempt (rule %s)",
                     path, res->app, ex->id);
    } else if (!(t >= 0 && judge(a, f, t, sr, dr, res, path))) {
        if (peers && res->nviolations == 0) {
            res->verdict = "unscoped";
            return;
        }
        if (res->nviolations == 0) {
            struct audit_violation *v = add_violation(res, "no_rule", NULL, "medium");
            if (v)
                snprintf(v->message, sizeof v->message, "%s: no rule allows %s%s", path, res->app,
                         t >= 0 ? " on this path" : " between these roles");
        }
    }
    res->verdict = res->nviolations ? "violation" : "ok";
}

size_t audit_rule_count(const struct audit *a)
{
    return (size_t)a->nrules;
}

void audit_rule_info(const struct audit *a, size_t i, struct audit_rule_info *o)
{
    const struct rule *r = &a->rules[i];
    *o = (struct audit_rule_info){r->id,       r->kind,    r->severity, r->from_s, r->to_s,  r->transport_s,
                                  r->dports_s, r->sports_s, r->apps_s,  r->when_s, r->doc,   r->table,
                                  r->text,     r->note,     r->row,     r->active, r->matched};
}

const char *audit_topology_name(const struct audit *a)
{
    return a->topo_name;
}

const char *audit_topology_path(const struct audit *a)
{
    return a->topo_path;
}
