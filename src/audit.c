/* audit.c - rules and verdicts (see audit.h and docs/rules.md): the rule
 * compiler, the port index and the matcher. The deployment (roles,
 * addresses, NAT, options) is topology.c's; the sandbox and the guard
 * around a load are luabox.c's. */
#include "audit.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "classify.h"
#include "digest.h"
#include "dissect/tls.h"
#include "luabox.h"
#include "topology.h"

#define LUA_MEMORY (64u << 20)
#define LOAD_INSTRUCTIONS 50000000L
#define CHECK_INSTRUCTIONS 200000L
#define LOAD_STALL_SECONDS 4.0 /* a load with no progress this long is in a C call that does not end */
#define WIDE_RANGE 1024 /* port ranges wider than this are checked by scan, not indexed */
#define MAX_INDEXED 4096 /* a rule naming more ports than this in all is scanned too */
#define NTRANSPORT 4

enum { T_TCP, T_UDP, T_ESP, T_AH };
static const char *const TRANSPORT_NAMES[NTRANSPORT] = {"tcp", "udp", "esp", "ah"};

/* The roles whose meaning the verdicts depend on (NAT toward the Edge, the
 * peers whose flows are not Lync findings, the labels only a role tells),
 * by name: each is looked up in the topology's vocabulary (lua/dsl.lua's
 * M.roles()) when the rules load. */
enum {
    K_PSTN_GATEWAY,
    K_EDGE_INTERNAL,
    K_EDGE_ACCESS,
    K_EDGE_WEBCONF,
    K_EDGE_AV,
    K_CLIENT_INTERNAL,
    K_CLIENT_EXTERNAL,
    K_FEDERATION_PARTNER,
    K_PUBLIC_IM_PARTNER,
    K_XMPP_PARTNER,
    NKNOWN
};
static const char *const KNOWN_ROLES[NKNOWN] = {
    "pstn_gateway",    "edge_internal",   "edge_access",        "edge_webconf",      "edge_av",
    "client_internal", "client_external", "federation_partner", "public_im_partner", "xmpp_partner"};

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
    uint64_t unconfirmed;   /* flows it allowed by port alone: their label undecided */
};

/* Match table per transport: rule indices by destination port (CSR), and
 * the rules with wide ranges, scanned. */
struct port_index {
    uint32_t *start;    /* 65537 offsets into ids */
    uint16_t *ids;
    uint16_t *wide;
    int nwide;
};

struct audit {
    struct luabox *box;
    struct topology *topo;
    struct rule *rules;
    int nrules;
    struct port_index idx[NTRANSPORT];
    int role[NKNOWN];       /* the index of each known role */
    int any;                /* an address in no role */
    uint32_t all_roles;     /* every role and "any": a rule's "any" */
    uint32_t peers;         /* flows between these alone are not Lync findings */
    uint32_t edge_external, clients, partners;
    bool peek;              /* audit_flow_peek: the rules' match counts stay as they are */
    bool unconfirmed_finding; /* option unconfirmed = "finding" */
    uint16_t media_lo, media_hi;
    struct audit_document *docs; /* M.documents(): what a rule's cite{} names */
    int ndocs;
    char *nat_ref;          /* the NAT findings' reference */
    char *rules_version;    /* M.version */
    char rules_sha256[DIGEST_HEX], topology_sha256[DIGEST_HEX];
};

const char *audit_role_name(const struct audit *a, int role)
{
    return topology_role_name(a->topo, role);
}

int audit_role_count(const struct audit *a)
{
    return topology_role_count(a->topo);
}

static uint32_t bit(int role)
{
    return 1u << role;
}

/* Finds the known roles in the vocabulary and makes the masks of them. */
static int know_roles(struct audit *a, char *err, size_t errlen)
{
    for (int k = 0; k < NKNOWN; k++) {
        a->role[k] = topology_role_index(a->topo, KNOWN_ROLES[k]);
        if (a->role[k] < 0) {
            snprintf(err, errlen, "dsl.lua: M.roles() lacks '%s', a role the verdicts depend on", KNOWN_ROLES[k]);
            return -1;
        }
    }
    a->any = topology_role_count(a->topo);
    a->all_roles = (uint32_t)((1ull << (a->any + 1)) - 1);
    a->clients = bit(a->role[K_CLIENT_INTERNAL]) | bit(a->role[K_CLIENT_EXTERNAL]);
    a->partners = bit(a->role[K_FEDERATION_PARTNER]) | bit(a->role[K_PUBLIC_IM_PARTNER]);
    a->peers = bit(a->role[K_PSTN_GATEWAY]) | a->clients | a->partners | bit(a->role[K_XMPP_PARTNER]) | bit(a->any);
    a->edge_external = bit(a->role[K_EDGE_ACCESS]) | bit(a->role[K_EDGE_WEBCONF]) | bit(a->role[K_EDGE_AV]);
    return 0;
}

static char *dupstr(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Collects the string array (or "any") at the stack top as a role mask and text. */
static uint32_t rule_roles(const struct audit *a, lua_State *L, char **text)
{
    if (lua_type(L, -1) == LUA_TSTRING) {
        *text = strdup(lua_tostring(L, -1));
        return a->all_roles;
    }
    uint32_t mask = 0;
    char buf[512] = "";
    int n = lua_istable(L, -1) ? (int)lua_rawlen(L, -1) : 0;
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        const char *s = lua_tostring(L, -1);
        int r = s ? topology_role_index(a->topo, s) : -1;
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

/* The rule's transports (array at the stack top) as bits, and their text. */
static uint8_t rule_transports(lua_State *L, char **text)
{
    uint8_t bits = 0;
    char tbuf[64] = "";
    for (int t = 1; t <= (int)lua_rawlen(L, -1); t++) {
        lua_rawgeti(L, -1, t);
        const char *s = lua_tostring(L, -1);
        for (int k = 0; s && k < NTRANSPORT; k++)
            if (!strcmp(s, TRANSPORT_NAMES[k]))
                bits |= (uint8_t)(1u << k);
        size_t u = strlen(tbuf);
        snprintf(tbuf + u, sizeof tbuf - u, "%s%s", u ? "," : "", s ? s : "?");
        lua_pop(L, 1);
    }
    *text = strdup(tbuf);
    return bits;
}

/* The labels the rule expects (array at the stack top, or none). */
static void rule_apps(lua_State *L, struct rule *r)
{
    r->napps = lua_istable(L, -1) ? (int)lua_rawlen(L, -1) : 0;
    r->apps = calloc((size_t)(r->napps ? r->napps : 1), sizeof *r->apps);
    char abuf[256] = "";
    for (int k = 1; r->apps && k <= r->napps; k++) {
        lua_rawgeti(L, -1, k);
        r->apps[k - 1] = dupstr(lua_tostring(L, -1));
        size_t u = strlen(abuf);
        snprintf(abuf + u, sizeof abuf - u, "%s%s", u ? "," : "", r->apps[k - 1] ? r->apps[k - 1] : "?");
        lua_pop(L, 1);
    }
    if (!r->apps)
        r->napps = 0;
    r->apps_s = strdup(abuf);
}

/* The NAT findings' document and table (doc 001's NAT section). */
#define NAT_DOC "001_5c850280d6352e6d.txt"
#define NAT_TABLE "NAT Requirements for External User Access"

/* The document a rule names, or NULL. */
static const struct audit_document *find_document(const struct audit *a, const char *doc)
{
    for (int i = 0; doc && i < a->ndocs; i++)
        if (!strcmp(a->docs[i].doc, doc))
            return &a->docs[i];
    return NULL;
}

/* A reference a person can look up: the article's title, date and asset
 * id, then the table (and row) it cites; the file name only for a
 * document the rule set does not describe. */
static char *cite_text(const struct audit *a, const char *doc, const char *table, int row, const char *text)
{
    const struct audit_document *d = find_document(a, doc);
    char head[512], out[1536];
    if (d)
        snprintf(head, sizeof head, "%s (%s%s%s)", d->title, d->date ? d->date : "undated",
                 d->asset_id ? ", asset id " : "", d->asset_id ? d->asset_id : "");
    else
        snprintf(head, sizeof head, "%s", doc ? doc : "?");
    if (row > 0)
        snprintf(out, sizeof out, "%s | %s | row %d: %s", head, table ? table : "?", row, text ? text : "");
    else if (text)
        snprintf(out, sizeof out, "%s | %s | text: %s", head, table ? table : "?", text);
    else
        snprintf(out, sizeof out, "%s | %s", head, table ? table : "?");
    return strdup(out);
}

/* The rule's reference ({doc, table, row, text} at the stack top) and its text. */
static void rule_ref(const struct audit *a, lua_State *L, struct rule *r)
{
    if (lua_istable(L, -1)) {
        int re = lua_gettop(L);
        r->doc = field_str(L, re, "doc");
        r->table = field_str(L, re, "table");
        r->text = field_str(L, re, "text");
        lua_getfield(L, re, "row");
        r->row = (int)lua_tointeger(L, -1);
        lua_pop(L, 1);
    }
    r->ref_s = cite_text(a, r->doc, r->table, r->row, r->text);
}

/* Compiles the normalized rule at stack index ri (lua/dsl.lua's M.rules()). */
static void compile_rule(struct audit *a, lua_State *L, int ri, int opts_idx, struct rule *r)
{
    r->check_ref = LUA_NOREF;
    r->id = field_str(L, ri, "id");
    r->kind = field_str(L, ri, "kind");
    r->severity = field_str(L, ri, "severity");
    r->note = field_str(L, ri, "note");
    lua_getfield(L, ri, "from");
    r->from = rule_roles(a, L, &r->from_s);
    lua_getfield(L, ri, "to");
    r->to = rule_roles(a, L, &r->to_s);
    lua_pop(L, 2);
    lua_getfield(L, ri, "transport");
    r->transports = rule_transports(L, &r->transport_s);
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
    rule_apps(L, r);
    lua_pop(L, 1);
    lua_getfield(L, ri, "when");
    r->active = when_holds(L, opts_idx, &r->when_s);
    lua_pop(L, 1);
    lua_getfield(L, ri, "ref");
    rule_ref(a, L, r);
    lua_pop(L, 1);
    lua_getfield(L, ri, "check");
    if (lua_isfunction(L, -1))
        r->check_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    else
        lua_pop(L, 1);
}

/* Compiles M.rules() (stack top) into C rules, under the topology's options. */
static int compile_rules(struct audit *a, char *err, size_t errlen)
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
    topology_push_options(a->topo, L);
    int opts = lua_gettop(L), list = opts - 1, rc = 0;
    for (int i = 1; i <= n && !rc; i++) {
        lua_rawgeti(L, list, i);
        struct rule *r = &a->rules[a->nrules++];
        compile_rule(a, L, lua_gettop(L), opts, r);
        lua_pop(L, 1);
        luabox_step(a->box);
        if (!r->id || !r->kind || !r->severity || !r->ref_s || !r->transports) {
            snprintf(err, errlen, "rule %d (%s): incomplete after loading", i, r->id ? r->id : "no id");
            rc = -1;
        }
    }
    lua_pop(L, 1);
    return rc;
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

/* --- loading ------------------------------------------------------------- */

/* The files of one load, read once before any of them runs: a trial load
 * and the load that follows it see the same bytes. */
struct sources {
    struct luabox_file dsl, topology; /* topology.path NULL: none */
    struct luabox_file *rules;
    int nrules;
};

static void free_sources(struct sources *s)
{
    luabox_file_free(&s->dsl);
    luabox_file_free(&s->topology);
    for (int i = 0; i < s->nrules; i++)
        luabox_file_free(&s->rules[i]);
    free(s->rules);
    memset(s, 0, sizeof *s);
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

/* Reads the rule files of dir (*.lua, in name order). */
static int read_rule_files(const char *dir, struct sources *s, char *err, size_t errlen)
{
    struct dirent **names;
    int n = scandir(dir, &names, filter_lua, cmp_names);
    if (n < 0) {
        snprintf(err, errlen, "%s: cannot read the rules folder", dir);
        return -1;
    }
    s->rules = calloc((size_t)(n ? n : 1), sizeof *s->rules);
    int rc = s->rules ? 0 : -1;
    if (rc)
        snprintf(err, errlen, "out of memory");
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        if (!rc && !(rc = luabox_read(path, &s->rules[s->nrules], err, errlen)))
            s->nrules++;
        free(names[i]);
    }
    free(names);
    if (!rc && n == 0) {
        snprintf(err, errlen, "%s: no rule files (*.lua)", dir);
        rc = -1;
    }
    return rc;
}

static int read_sources(const struct audit_paths *p, struct sources *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    char path[4096];
    snprintf(path, sizeof path, "%s/dsl.lua", p->lua_dir);
    int rc = luabox_read(path, &s->dsl, err, errlen);
    if (!rc && p->topology)
        rc = luabox_read(p->topology, &s->topology, err, errlen);
    if (!rc)
        rc = read_rule_files(p->rules_dir, s, err, errlen);
    if (rc)
        free_sources(s);
    return rc;
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

/* Runs one rule file in an environment of its own (M.new_env()). */
static int run_rule_file(struct audit *a, int mod, const struct luabox_file *f, char *err, size_t errlen)
{
    lua_State *L = luabox_state(a->box);
    if (luabox_load(a->box, f, err, errlen))
        return -1;
    if (call_module(a, mod, "new_env", err, errlen)) {
        lua_pop(L, 1);
        return -1;
    }
    lua_setupvalue(L, -2, 1);
    return luabox_call(a->box, 0, 0, LOAD_INSTRUCTIONS, err, errlen);
}

/* A string field of the table at idx, copied (NULL when absent). */
static char *opt_str(lua_State *L, int idx, const char *key)
{
    lua_getfield(L, idx, key);
    char *v = lua_type(L, -1) == LUA_TSTRING ? strdup(lua_tostring(L, -1)) : NULL;
    lua_pop(L, 1);
    return v;
}

/* M.version and M.documents() (the articles rules cite) of the rule
 * language module at mod; the NAT findings' reference made from them. */
static int read_documents(struct audit *a, int mod, char *err, size_t errlen)
{
    lua_State *L = luabox_state(a->box);
    a->rules_version = opt_str(L, mod, "version");
    if (call_module(a, mod, "documents", err, errlen))
        return -1;
    int n = lua_istable(L, -1) ? (int)lua_rawlen(L, -1) : 0;
    a->docs = calloc((size_t)n + 1, sizeof *a->docs);
    for (int i = 1; a->docs && i <= n; i++) {
        lua_rawgeti(L, -1, i);
        int d = lua_gettop(L);
        struct audit_document *o = &a->docs[a->ndocs];
        *o = (struct audit_document){opt_str(L, d, "doc"), opt_str(L, d, "title"), opt_str(L, d, "date"),
                                     opt_str(L, d, "asset_id"), opt_str(L, d, "url")};
        lua_pop(L, 1);
        if (!o->doc || !o->title) {
            snprintf(err, errlen, "dsl.lua: M.documents()[%d] lacks its doc or title", i);
            return -1;
        }
        a->ndocs++;
    }
    lua_pop(L, 1);
    a->nat_ref = cite_text(a, NAT_DOC, NAT_TABLE, 0, NULL);
    if (!a->docs || !a->nat_ref) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* The rule language, the topology, then each rule file, in one sandboxed
 * state; the rules compiled into C tables. */
static int load_into(struct audit *a, const struct sources *src, char *err, size_t errlen)
{
    lua_State *L = luabox_state(a->box);
    if (luabox_load(a->box, &src->dsl, err, errlen))
        return -1;
    lua_newtable(L); /* the chunk's argument: the labels a rule may expect (classify's vocabulary) */
    for (size_t i = 0; classify_rule_label(i); i++) {
        lua_pushstring(L, classify_rule_label(i));
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    if (luabox_call(a->box, 1, 1, LOAD_INSTRUCTIONS, err, errlen))
        return -1;
    if (!lua_istable(L, -1)) {
        snprintf(err, errlen, "%s: must return the rule language module", src->dsl.path);
        return -1;
    }
    int mod = lua_gettop(L);
    if (read_documents(a, mod, err, errlen))
        return -1;
    a->topo = topology_load(a->box, mod, src->topology.path ? &src->topology : NULL, err, errlen);
    if (!a->topo || know_roles(a, err, errlen))
        return -1;
    topology_media_ports(a->topo, &a->media_lo, &a->media_hi);
    topology_push_options(a->topo, L);
    lua_getfield(L, -1, "unconfirmed");
    a->unconfirmed_finding = lua_type(L, -1) == LUA_TSTRING && !strcmp(lua_tostring(L, -1), "finding");
    lua_pop(L, 2);
    for (int i = 0; i < src->nrules; i++)
        if (run_rule_file(a, mod, &src->rules[i], err, errlen))
            return -1;
    if (call_module(a, mod, "rules", err, errlen) || compile_rules(a, err, errlen))
        return -1;
    lua_settop(L, 0);
    if (build_index(a)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* The guarded job: one load of the sources (ctx), reporting progress to w. */
static void *load_job(void *ctx, struct luabox_watch *w, char *err, size_t errlen)
{
    struct audit *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->box = luabox_new(LUA_MEMORY, err, errlen);
    if (a->box)
        luabox_watch(a->box, w);
    if (!a->box || load_into(a, ctx, err, errlen)) {
        audit_free(a);
        return NULL;
    }
    luabox_watch(a->box, NULL);
    return a;
}

/* The content hashes of what was loaded: the topology's bytes, and the rule
 * set's (lua/dsl.lua, then each rule file's name, a NUL and its bytes, in
 * load order: a renamed, added or removed file changes it too). */
static void hash_sources(struct audit *a, const struct sources *src)
{
    struct digest *d = digest_new();
    digest_add(d, src->dsl.text, src->dsl.len);
    for (int i = 0; i < src->nrules; i++) {
        const char *slash = strrchr(src->rules[i].path, '/');
        const char *name = slash ? slash + 1 : src->rules[i].path;
        digest_add(d, name, strlen(name) + 1);
        digest_add(d, src->rules[i].text, src->rules[i].len);
    }
    digest_end(d, a->rules_sha256);
    if (src->topology.path) {
        d = digest_new();
        digest_add(d, src->topology.text, src->topology.len);
        digest_end(d, a->topology_sha256);
    }
}

/* Reads the files, then loads them under the guard `run` (the sources live
 * on the heap only for the load: the result holds nothing of them). */
static struct audit *guarded_load(const struct audit_paths *p,
                                  void *(*run)(luabox_job, void *, double, char *, size_t), char *err,
                                  size_t errlen)
{
    struct sources *src = calloc(1, sizeof *src);
    if (!src) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    struct audit *a = read_sources(p, src, err, errlen) ? NULL : run(load_job, src, LOAD_STALL_SECONDS, err, errlen);
    if (a)
        hash_sources(a, src);
    free_sources(src);
    free(src);
    return a;
}

struct audit *audit_load(const struct audit_paths *p, char *err, size_t errlen)
{
    return guarded_load(p, luabox_run_watched, err, errlen);
}

struct audit *audit_reload(const struct audit_paths *p, char *err, size_t errlen)
{
    return guarded_load(p, luabox_run_trial, err, errlen);
}

static void free_rule(struct rule *r)
{
    char **owned[] = {&r->id, &r->kind, &r->severity, &r->doc, &r->table, &r->text, &r->note, &r->from_s,
                      &r->to_s, &r->transport_s, &r->dports_s, &r->sports_s, &r->apps_s, &r->when_s, &r->ref_s};
    for (char ***o = owned; o < owned + sizeof owned / sizeof owned[0]; o++)
        free(**o);
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
    for (int i = 0; i < a->ndocs; i++) {
        struct audit_document *d = &a->docs[i];
        char *strs[] = {(char *)d->doc, (char *)d->title, (char *)d->date, (char *)d->asset_id, (char *)d->url};
        for (size_t k = 0; k < sizeof strs / sizeof *strs; k++)
            free(strs[k]);
    }
    free(a->docs);
    free(a->nat_ref);
    free(a->rules_version);
    topology_free(a->topo); /* before the Lua state its options live in */
    luabox_free(a->box);
    free(a);
}

/* --- the matcher ------------------------------------------------------------ */

static int transport_of(uint8_t proto)
{
    switch (proto) {
    case IPPROTO_TCP: return T_TCP;
    case IPPROTO_UDP: return T_UDP;
    case IPPROTO_ESP: return T_ESP;
    case IPPROTO_AH: return T_AH;
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
    int keep[64] = {0}, m = 0;
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
    if (f->proto == IPPROTO_ESP || f->proto == IPPROTO_AH)
        return true;
    return !strcmp(f->app, "ike") || !strcmp(f->app, "esp") || !strcmp(f->app, "ah") || !strcmp(f->app, "ipsec");
}

/* Labels only roles can tell, for a TLS flow whose port named no Lync
 * service: dissect/tls.h decides (443 on the Access Edge is SIP ...). */
static const char *refine_app(const struct audit *a, const struct audit_flow *f, int dr)
{
    if ((f->facts & (LABEL_F_TLS | LABEL_F_TLS_PORT)) != LABEL_F_TLS)
        return f->app;
    enum tls_server s = dr == a->role[K_EDGE_ACCESS]    ? TLS_SERVER_EDGE_ACCESS
                        : dr == a->role[K_EDGE_WEBCONF]  ? TLS_SERVER_EDGE_WEBCONF
                        : dr == a->role[K_EDGE_INTERNAL] ? TLS_SERVER_EDGE_INTERNAL
                                                         : TLS_SERVER_OTHER;
    unsigned id = tls_role_label(f->dport, s);
    return id ? classify_label_name(id) : f->app;
}

/* Why a rule's check said no (the first one to give a reason for the flow):
 * it goes with the violation, if one results (docs/rules.md, `check`). */
struct check_reason {
    const char *rule_id;
    char text[160];
};

/* Runs a rule's Lua check on the flow (t: its transport): true when the rule
 * holds. A check that fails to run (error, a limit) is reported and holds;
 * one that says false may give a reason, kept in *why. */
static bool run_check(struct audit *a, const struct rule *r, const struct audit_flow *f, int t,
                      struct audit_result *res, struct check_reason *why)
{
    lua_State *L = luabox_state(a->box);
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->check_ref);
    lua_createtable(L, 0, 11);
    char s[64], d[64];
    inet_ntop(f->ipver == 4 ? AF_INET : AF_INET6, f->src, s, sizeof s);
    inet_ntop(f->ipver == 4 ? AF_INET : AF_INET6, f->dst, d, sizeof d);
    lua_pushstring(L, s), lua_setfield(L, -2, "src_ip");
    lua_pushstring(L, d), lua_setfield(L, -2, "dst_ip");
    lua_pushstring(L, TRANSPORT_NAMES[t]), lua_setfield(L, -2, "transport");
    lua_pushinteger(L, f->sport), lua_setfield(L, -2, "sport");
    lua_pushinteger(L, f->dport), lua_setfield(L, -2, "dport");
    lua_pushstring(L, res->app), lua_setfield(L, -2, "app");
    lua_pushstring(L, f->app_detail ? f->app_detail : ""), lua_setfield(L, -2, "app_detail");
    lua_pushstring(L, res->src_role), lua_setfield(L, -2, "src_role");
    lua_pushstring(L, res->dst_role), lua_setfield(L, -2, "dst_role");
    lua_pushinteger(L, (lua_Integer)f->packets), lua_setfield(L, -2, "packets");
    lua_pushinteger(L, (lua_Integer)f->bytes), lua_setfield(L, -2, "bytes");
    char err[256];
    if (luabox_call(a->box, 1, 2, CHECK_INSTRUCTIONS, err, sizeof err)) {
        struct audit_violation *v = add_violation(res, "check", r, "low");
        if (v)
            snprintf(v->message, sizeof v->message, "rule %s: its check did not run to the end: %s", r->id, err);
        return true;
    }
    bool holds = lua_toboolean(L, -2);
    if (!holds && !why->rule_id && lua_type(L, -1) == LUA_TSTRING) {
        why->rule_id = r->id;
        snprintf(why->text, sizeof why->text, "%s", lua_tostring(L, -1));
    }
    lua_pop(L, 2);
    return holds;
}

/* Adds the check's reason to the violations from index `from` on (those the
 * judging gave, not the check's own trouble). */
static void add_reason(struct audit_result *res, int from, const struct check_reason *why)
{
    for (int i = from; why->rule_id && i < res->nviolations; i++) {
        struct audit_violation *v = &res->v[i];
        size_t u = strlen(v->message);
        if (strcmp(v->kind, "check"))
            snprintf(v->message + u, sizeof v->message - u, " (rule %s's check: %s)", why->rule_id, why->text);
    }
}

#define MAXC 32

static void nat_violation(const struct audit *a, struct audit_result *res, const char *path, const char *what)
{
    struct audit_violation *v = add_violation(res, "nat", NULL, "high");
    if (v) {
        v->ref = a->nat_ref;
        snprintf(v->message, sizeof v->message, "%s: %s", path, what);
    }
}

/* NAT the documents forbid, where the topology lets the capture show it:
 * doc 001, "does not support NAT for traffic to or from the Edge internal
 * interface"; the external interface keeps inbound source addresses. */
static void nat_findings(const struct audit *a, const struct audit_flow *f, int sr, int dr, bool spriv, bool dpriv,
                         struct audit_result *res, const char *path)
{
    int edge_internal = a->role[K_EDGE_INTERNAL];
    if (topology_is_nat_device(a->topo, f->src, f->ipver) && (dr == edge_internal || (a->edge_external & bit(dr))))
        nat_violation(a, res, path,
                      dr == edge_internal ? "the source is a NAT device: NAT toward the Edge internal interface "
                                                 "is not supported"
                                               : "the source is a NAT device: inbound traffic to the Edge external "
                                                 "interface must keep its source address (ChangeDST only)");
    if (sr == edge_internal && topology_is_nat_device(a->topo, f->dst, f->ipver))
        nat_violation(a, res, path,
                      "the Edge internal interface sends to a NAT device: NAT on traffic from the Edge internal "
                      "interface is not supported");
    if (topology_translated_role(a->topo, f->src, f->ipver, edge_internal) ||
        topology_translated_role(a->topo, f->dst, f->ipver, edge_internal))
        nat_violation(a, res, path,
                      "the Edge internal interface's address is seen translated: NAT on traffic to or from "
                      "the Edge internal interface is not supported");
    if (topology_capture_outside(a->topo) && (spriv || dpriv))
        nat_violation(a, res, path, "the Edge's translated address is seen outside its NAT (ChangeSRC/ChangeDST missing)");
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

/* An allowing rule that expects protocols, met by a flow whose label is
 * undecided: the verdict rests on the port alone. Counted on the rule; with
 * the option unconfirmed = "finding" it is a finding of its own (then true:
 * the rule does not allow the flow). */
static bool port_only(struct audit *a, struct rule *ok, struct audit_result *res, const char *path)
{
    if (ok->napps == 0 || strcmp(res->app, "unknown"))
        return false;
    res->unconfirmed = true;
    ok->unconfirmed += !a->peek;
    if (!a->unconfirmed_finding)
        return false;
    struct audit_violation *v = add_violation(res, "unconfirmed_protocol", ok, "low");
    if (v)
        snprintf(v->message, sizeof v->message,
                 "%s: rule %s expects %s, the flow's protocol was not recognised: allowed by its port alone", path,
                 ok->id, ok->apps_s);
    return true;
}

/* Judges a flow on transport t by the allow and restricting rules: ok with
 * the deciding rule, or one violation. Returns false when nothing matched. */
static bool judge(struct audit *a, const struct audit_flow *f, int t, int sr, int dr, struct audit_result *res,
                  const char *path, struct check_reason *why)
{
    int c[MAXC];
    int n = find_rules(a, t, sr, dr, f->sport, f->dport, "allow", c, MAXC);
    /* Rules whose Lua check says no do not match. */
    int m = 0;
    for (int i = 0; i < n; i++)
        if (a->rules[c[i]].check_ref == LUA_NOREF || run_check(a, &a->rules[c[i]], f, t, res, why))
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
        if (!port_only(a, ok, res, path))
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
static bool pair_in_scope(const struct audit *a, int sr, int dr)
{
    bool peers = (a->peers & bit(sr)) && (a->peers & bit(dr));
    return !peers || ((a->clients & bit(sr)) && (a->clients & bit(dr))) ||
           (sr == a->role[K_CLIENT_INTERNAL] && (a->partners & bit(dr)));
}

bool audit_in_scope(const struct audit *a, const uint8_t *src, const uint8_t *dst, int ipver)
{
    bool spriv, dpriv;
    return pair_in_scope(a, topology_role_of(a->topo, src, ipver, &spriv), topology_role_of(a->topo, dst, ipver, &dpriv));
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
    int sr = topology_role_of(a->topo, f->src, f->ipver, &spriv);
    int dr = topology_role_of(a->topo, f->dst, f->ipver, &dpriv);
    memset(res, 0, sizeof *res);
    res->src_role = topology_role_name(a->topo, sr);
    res->dst_role = topology_role_name(a->topo, dr);
    res->app = refine_app(a, f, dr);
    /* Flows between peers are not Lync findings, except what the client rows
     * speak of: client to client, and an internal client through the
     * firewall to a partner; those are judged when a rule matches. */
    bool peers = (a->peers & bit(sr)) && (a->peers & bit(dr));
    if (!pair_in_scope(a, sr, dr)) {
        res->verdict = "unscoped";
        return;
    }
    int t = transport_of(f->proto);
    char path[160];
    snprintf(path, sizeof path, "%s -> %s %s/%u", res->src_role, res->dst_role, t >= 0 ? TRANSPORT_NAMES[t] : "ip",
             f->dport);
    nat_findings(a, f, sr, dr, spriv, dpriv, res, path);
    int judged = res->nviolations;
    struct check_reason why = {NULL, ""};

    /* IPsec on a path the exceptions exempt is the finding; elsewhere IPsec
     * is judged like any flow (allowed where ipsec_deployed says so). */
    struct rule *ex = is_ipsec(f) ? ipsec_exemption(a, f, t, sr, dr) : NULL;
    if (ex) {
        ex->matched += !a->peek;
        struct audit_violation *v = add_violation(res, "ipsec", ex, NULL);
        if (v)
            snprintf(v->message, sizeof v->message, "%s: IPsec (%s) on a path the IPsec exceptions exempt (rule %s)",
                     path, res->app, ex->id);
    } else if (!(t >= 0 && judge(a, f, t, sr, dr, res, path, &why))) {
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
    add_reason(res, judged, &why);
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
                                  r->text,     r->note,     r->row,     r->active, r->matched, r->unconfirmed};
}

const char *audit_role_declared(const struct audit *a, int role)
{
    return topology_role_declared(a->topo, role);
}

const char *audit_topology_name(const struct audit *a)
{
    return topology_name(a->topo);
}

const char *audit_topology_path(const struct audit *a)
{
    return topology_path(a->topo);
}

size_t audit_document_count(const struct audit *a)
{
    return (size_t)a->ndocs;
}

const struct audit_document *audit_document(const struct audit *a, size_t i)
{
    return &a->docs[i];
}

const char *audit_rules_version(const struct audit *a)
{
    return a->rules_version;
}

const char *audit_rules_sha256(const struct audit *a)
{
    return a->rules_sha256[0] ? a->rules_sha256 : NULL;
}

const char *audit_topology_sha256(const struct audit *a)
{
    return a->topology_sha256[0] ? a->topology_sha256 : NULL;
}
