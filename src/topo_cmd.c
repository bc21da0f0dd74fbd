/* topo_cmd.c - `lyncaudit topology import|check|discover` (topo_cmd.h).
 *
 * import: a topology document (XML) to topology.lua (topo_import.c).
 * check: loads a topology with the rules the way a run does, then lists
 * what it holds: one line per prefix with its role, the NAT map, the port
 * overrides and the rules they moved, the options in effect. The rows go
 * through an in-memory SQLite database, which also writes the JSON form.
 * discover: topo_discover.c. */
#define _GNU_SOURCE
#include "topo_cmd.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lua.h>
#include <sqlite3.h>

#include "audit.h"
#include "luabox.h"
#include "topo_discover.h"
#include "topo_import.h"

#define EXIT_TROUBLE 2
#define CHECK_MEMORY (32u << 20)
#define CHECK_INSTRUCTIONS 50000000L

static void topo_usage(FILE *out)
{
    fprintf(out,
            "Usage: lyncaudit topology import FILE [-o topology.lua] [--hosts FILE] [--resolve]\n"
            "       lyncaudit topology check FILE [--json] [--hosts FILE] [--resolve]\n"
            "       lyncaudit topology discover CAPTURE... [-o topology.lua]\n"
            "\n"
            "import    reads a Topology Builder document (.tbxml) or a published topology\n"
            "          (Get-CsTopology -AsXml) and writes topology.lua (stdout without -o):\n"
            "          roles, NAT, port overrides, options, each entry commented with the XML\n"
            "          element it came from. Machines with IPAddress 0.0.0.0 get their\n"
            "          addresses from --hosts FILE (hosts format) or --resolve (DNS), else they\n"
            "          are left out with a warning.\n"
            "check     loads a topology (Lua or XML) with the rules, as a run would, and lists\n"
            "          each prefix with its role, the NAT map, the port overrides and the rules\n"
            "          they move, and the options in effect (--json: the same as JSON).\n"
            "discover  proposes a topology from the traffic in the captures: each host seen\n"
            "          serving Lync services gets a role, with the evidence and a confidence\n"
            "          as comments; hosts that fit no role are listed, not placed.\n"
            "\n"
            "Exit codes: 0 done; 2 trouble (bad arguments, or bad input: one line\n"
            "'lyncaudit: file:line: what' and nothing written).\n"
            "docs/topology.md describes the file and these commands.\n");
}

const char *topo_data_dir(char *buf, size_t len)
{
    char exe[PATH_MAX], probe[PATH_MAX + 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char *slash = n > 0 ? (exe[n] = '\0', strrchr(exe, '/')) : NULL;
    if (slash) {
        *slash = '\0';
        snprintf(probe, sizeof probe, "%s/../share/lyncaudit/lua/dsl.lua", exe);
        if (access(probe, R_OK) == 0) {
            snprintf(buf, len, "%s/../share/lyncaudit", exe);
            return buf;
        }
    }
    snprintf(probe, sizeof probe, "%s/lua/dsl.lua", LYNCAUDIT_SOURCE_DIR);
    snprintf(buf, len, "%s", access(probe, R_OK) == 0 ? LYNCAUDIT_SOURCE_DIR : LYNCAUDIT_DATA_DIR);
    return buf;
}

int topo_write_file(const char *path, const char *text, size_t len)
{
    if (!path || !strcmp(path, "-"))
        return fwrite(text, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : -1;
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof tmp) {
        fprintf(stderr, "lyncaudit: %s: path too long\n", path);
        return -1;
    }
    int fd = mkstemp(tmp);
    /* mkstemp makes the file 0600: keep the mode of the file replaced, else
     * what a new file gets (a service reading it as another user, e.g. the
     * package's lyncaudit, must still be able to). */
    struct stat st;
    mode_t um = umask(0);
    umask(um);
    if (fd >= 0)
        (void)fchmod(fd, stat(path, &st) == 0 ? st.st_mode & 07777 : 0666 & ~um);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        fprintf(stderr, "lyncaudit: %s: cannot write: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd), unlink(tmp);
        return -1;
    }
    bool ok = fwrite(text, 1, len, f) == len && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "lyncaudit: %s: cannot write: %s\n", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

struct topo_args {
    const char *file, *out, *hosts;
    bool resolve, json;
};

/* import/check arguments: FILE and the options each takes. */
static int parse_args(int argc, char **argv, bool check, struct topo_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        bool more = i + 1 < argc;
        if (!check && (!strcmp(s, "-o") || !strcmp(s, "--output")) && more)
            a->out = argv[++i];
        else if (!strcmp(s, "--hosts") && more)
            a->hosts = argv[++i];
        else if (!strcmp(s, "--resolve"))
            a->resolve = true;
        else if (check && !strcmp(s, "--json"))
            a->json = true;
        else if (s[0] == '-' && s[1]) {
            fprintf(stderr, "lyncaudit: topology %s: unknown option or missing value '%s'\n", argv[0], s);
            return -1;
        } else if (a->file) {
            fprintf(stderr, "lyncaudit: topology %s: one FILE only ('%s')\n", argv[0], s);
            return -1;
        } else {
            a->file = s;
        }
    }
    if (!a->file) {
        fprintf(stderr, "lyncaudit: topology %s: FILE missing (lyncaudit topology --help)\n", argv[0]);
        return -1;
    }
    if (a->hosts && access(a->hosts, R_OK) != 0) {
        fprintf(stderr, "lyncaudit: %s: cannot read the hosts file: %s\n", a->hosts, strerror(errno));
        return -1;
    }
    return 0;
}

/* The import of a->file as text (*out), or -1 with the error printed. */
static int import_text(const struct topo_args *a, char **out)
{
    char err[1024];
    struct topo_import_opts o = {a->hosts, a->resolve, stderr};
    if (topo_import(a->file, &o, out, err, sizeof err)) {
        fprintf(stderr, "lyncaudit: %s\n", err);
        return -1;
    }
    return 0;
}

static int import_cmd(int argc, char **argv)
{
    struct topo_args a;
    char *text;
    if (parse_args(argc, argv, false, &a) || import_text(&a, &text))
        return EXIT_TROUBLE;
    int rc = topo_write_file(a.out, text, strlen(text));
    free(text);
    return rc ? EXIT_TROUBLE : 0;
}

/* ---- check ---- */

static const char *CHECK_SCHEMA =
    "CREATE TABLE meta(topology TEXT, name TEXT, imported_from TEXT);"
    "CREATE TABLE prefix(prefix TEXT, role TEXT);"
    "CREATE TABLE nat(public TEXT, translated TEXT);"
    "CREATE TABLE nat_device(address TEXT);"
    "CREATE TABLE port(role TEXT, transport TEXT, dflt TEXT, port TEXT, source TEXT);"
    "CREATE TABLE moved(id TEXT, from_roles TEXT, to_roles TEXT, transport TEXT, dports TEXT, sports TEXT, note TEXT);"
    "CREATE TABLE opt(name TEXT, value TEXT, source TEXT);";

static int sql_row(sqlite3 *db, const char *sql, int n, const char *const *v)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    for (int i = 0; i < n; i++)
        sqlite3_bind_text(st, i + 1, v[i], -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

/* The string or list of strings at the stack top, each a row of sql with `first`. */
static int rows_of_list(lua_State *L, sqlite3 *db, const char *sql, const char *first)
{
    int rc = 0;
    if (lua_type(L, -1) == LUA_TSTRING) {
        const char *v[2] = {lua_tostring(L, -1), first};
        return sql_row(db, sql, 2, v);
    }
    int n = lua_istable(L, -1) ? (int)lua_rawlen(L, -1) : 0;
    for (int i = 1; i <= n && !rc; i++) {
        lua_rawgeti(L, -1, i);
        const char *v[2] = {lua_tostring(L, -1), first};
        rc = v[0] ? sql_row(db, sql, 2, v) : 0;
        lua_pop(L, 1);
    }
    return rc;
}

static const char *field_text(lua_State *L, int idx, const char *name, char *buf, size_t len)
{
    lua_getfield(L, idx, name);
    const char *s = lua_tostring(L, -1);
    snprintf(buf, len, "%s", s ? s : "");
    lua_pop(L, 1);
    return buf[0] ? buf : NULL;
}

/* Rows for roles, nat, nat_devices and ports of the topology table at index t
 * (roles in the order of a's vocabulary). */
static int topology_rows(const struct audit *a, lua_State *L, int t, sqlite3 *db)
{
    int rc = 0;
    lua_getfield(L, t, "roles");
    for (int r = 0; r < audit_role_count(a) && !rc && lua_istable(L, -1); r++) {
        lua_getfield(L, -1, audit_role_name(a, r));
        rc = rows_of_list(L, db, "INSERT INTO prefix VALUES (?1, ?2)", audit_role_name(a, r));
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_getfield(L, t, "nat");
    if (lua_istable(L, -1))
        for (lua_pushnil(L); !rc && lua_next(L, -2); lua_pop(L, 1)) {
            const char *v[2] = {lua_tostring(L, -2), lua_tostring(L, -1)};
            rc = sql_row(db, "INSERT INTO nat VALUES (?1, ?2)", 2, v);
        }
    lua_pop(L, 1);
    lua_getfield(L, t, "nat_devices");
    rc = rc ? rc : rows_of_list(L, db, "INSERT INTO nat_device VALUES (?1)", NULL);
    lua_pop(L, 1);
    lua_getfield(L, t, "ports");
    int n = lua_istable(L, -1) ? (int)lua_rawlen(L, -1) : 0;
    for (int i = 1; i <= n && !rc; i++) {
        lua_rawgeti(L, -1, i);
        char b[5][256];
        const char *v[5] = {field_text(L, -1, "role", b[0], 256), field_text(L, -1, "transport", b[1], 256),
                            field_text(L, -1, "default", b[2], 256), field_text(L, -1, "port", b[3], 256),
                            field_text(L, -1, "source", b[4], 256)};
        rc = sql_row(db, "INSERT INTO port VALUES (?1, ?2, ?3, ?4, ?5)", 5, v);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return rc;
}

/* Options in effect: the rules' schema defaults, then the topology's values. */
static int option_rows(lua_State *L, int schema, int topo, sqlite3 *db)
{
    static const char *SQL =
        "INSERT INTO opt VALUES (?1, CASE ?2 WHEN 'b' THEN json(CASE ?3 WHEN '1' THEN 'true' ELSE 'false' END)"
        " WHEN 's' THEN json_quote(?3) WHEN 'r' THEN json_array(CAST(?3 AS INTEGER), CAST(?4 AS INTEGER))"
        " ELSE json('null') END, ?5)";
    lua_getfield(L, topo, "options");
    int opts = lua_gettop(L), rc = 0;
    for (lua_pushnil(L); !rc && lua_next(L, schema); lua_pop(L, 1)) {
        const char *name = lua_tostring(L, -2);
        lua_getfield(L, opts, name);
        bool given = lua_istable(L, opts) && !lua_isnil(L, -1);
        if (!given) {
            lua_pop(L, 1);
            lua_getfield(L, -1, "default");
        }
        char lo[32] = "", hi[32] = "";
        const char *kind = lua_isboolean(L, -1) ? "b" : lua_type(L, -1) == LUA_TSTRING ? "s" : lua_istable(L, -1) ? "r" : "n";
        const char *val = lua_isboolean(L, -1) ? (lua_toboolean(L, -1) ? "1" : "0") : lua_tostring(L, -1);
        if (*kind == 'r') {
            lua_rawgeti(L, -1, 1);
            lua_rawgeti(L, -2, 2);
            snprintf(lo, sizeof lo, "%lld", (long long)lua_tointeger(L, -2));
            snprintf(hi, sizeof hi, "%lld", (long long)lua_tointeger(L, -1));
            lua_pop(L, 2);
            val = lo;
        }
        const char *v[5] = {name, kind, val, hi, given ? "topology" : "default"};
        rc = sql_row(db, SQL, 5, v);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return rc;
}

/* Runs the topology file and dsl.lua's options_schema in a box of our own. */
static int read_topology(const struct audit *a, const char *path, const char *lua_dir, sqlite3 *db, char *err,
                         size_t errlen)
{
    struct luabox *box = luabox_new(CHECK_MEMORY, err, errlen);
    if (!box)
        return -1;
    lua_State *L = luabox_state(box);
    char dsl[PATH_MAX + 16];
    snprintf(dsl, sizeof dsl, "%s/dsl.lua", lua_dir);
    int rc = luabox_load_file(box, path, err, errlen), topo = 0;
    if (!rc) {
        lua_newtable(L);
        lua_setupvalue(L, -2, 1);
        rc = luabox_call(box, 0, 1, CHECK_INSTRUCTIONS, err, errlen);
        topo = lua_gettop(L);
    }
    if (!rc && !(rc = luabox_load_file(box, dsl, err, errlen)) && !(rc = luabox_call(box, 0, 1, CHECK_INSTRUCTIONS, err, errlen))) {
        lua_getfield(L, -1, "options_schema");
        rc = luabox_call(box, 0, 1, CHECK_INSTRUCTIONS, err, errlen);
    }
    if (!rc && (topology_rows(a, L, topo, db) || option_rows(L, lua_gettop(L), topo, db))) {
        snprintf(err, errlen, "%s: cannot list the topology: %s", path, sqlite3_errmsg(db));
        rc = -1;
    }
    luabox_free(box);
    return rc;
}

/* The rules the topology's ports moved ("@topology:") or added ("@documented:"). */
static int moved_rows(const struct audit *a, sqlite3 *db)
{
    for (size_t i = 0; i < audit_rule_count(a); i++) {
        struct audit_rule_info r;
        audit_rule_info(a, i, &r);
        if (!strstr(r.id, "@topology:") && !strstr(r.id, "@documented:"))
            continue;
        const char *v[7] = {r.id, r.from, r.to, r.transport, r.dports, r.sports, r.note};
        if (sql_row(db, "INSERT INTO moved VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", 7, v))
            return -1;
    }
    return 0;
}

static const char *CHECK_JSON =
    "SELECT json_object('topology', m.topology, 'name', m.name, 'imported_from', m.imported_from,"
    " 'prefixes', (SELECT json_group_array(json_object('prefix', prefix, 'role', role)) FROM prefix),"
    " 'nat', (SELECT json_group_array(json_object('public', public, 'translated', translated)) FROM nat),"
    " 'nat_devices', (SELECT json_group_array(address) FROM nat_device),"
    " 'ports', (SELECT json_group_array(json_object('role', role, 'transport', transport, 'default', dflt,"
    "   'port', port, 'source', source)) FROM port),"
    " 'moved_rules', (SELECT json_group_array(json_object('id', id, 'from', from_roles, 'to', to_roles,"
    "   'transport', transport, 'dports', dports, 'sports', sports, 'note', note)) FROM moved),"
    " 'options', (SELECT json_group_object(name, json_object('value', json(value), 'from', source))"
    "   FROM (SELECT * FROM opt ORDER BY name)))"
    " FROM meta m";

static const char *CHECK_TEXT =
    "SELECT 'topology ' || topology || coalesce(' (' || name || ')', '') ||"
    " coalesce(', imported from ' || imported_from, '') FROM meta"
    " UNION ALL SELECT * FROM (SELECT printf('prefix %-40s %s', prefix, role) FROM prefix ORDER BY rowid)"
    " UNION ALL SELECT * FROM (SELECT printf('nat %s -> %s', public, translated) FROM nat ORDER BY public)"
    " UNION ALL SELECT * FROM (SELECT 'nat_device ' || address FROM nat_device ORDER BY rowid)"
    " UNION ALL SELECT * FROM (SELECT printf('port %s %s %s -> %s%s', role, transport, dflt, port,"
    "   coalesce(' (' || nullif(source, '') || ')', '')) FROM port ORDER BY rowid)"
    " UNION ALL SELECT * FROM (SELECT printf('moved rule %s: %s -> %s %s dports %s sports %s', id, from_roles,"
    "   to_roles, transport, dports, sports) FROM moved ORDER BY rowid)"
    " UNION ALL SELECT * FROM (SELECT printf('option %s = %s (%s)', name, value, source) FROM opt ORDER BY name)";

static int print_check(sqlite3 *db, bool json)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, json ? CHECK_JSON : CHECK_TEXT, -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        printf("%s\n", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Loads the topology as a run does (rules, ports), then lists it. */
static int check_file(const char *path, const char *imported_from, bool json)
{
    char dir[PATH_MAX], lua_dir[PATH_MAX + 8], rules_dir[PATH_MAX + 8], err[1024];
    topo_data_dir(dir, sizeof dir);
    snprintf(lua_dir, sizeof lua_dir, "%s/lua", dir);
    snprintf(rules_dir, sizeof rules_dir, "%s/rules", dir);
    struct audit_paths p = {lua_dir, rules_dir, path};
    struct audit *a = audit_load(&p, err, sizeof err);
    if (!a) {
        fprintf(stderr, "lyncaudit: %s\n", err);
        return EXIT_TROUBLE;
    }
    sqlite3 *db = NULL;
    int rc = sqlite3_open(":memory:", &db) == SQLITE_OK && sqlite3_exec(db, CHECK_SCHEMA, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
    if (!rc) {
        const char *meta[3] = {path, audit_topology_name(a), imported_from};
        rc = sql_row(db, "INSERT INTO meta VALUES (?1, ?2, ?3)", 3, meta);
    }
    if (!rc && read_topology(a, path, lua_dir, db, err, sizeof err)) {
        fprintf(stderr, "lyncaudit: %s\n", err);
        rc = -2;
    }
    if (!rc && (moved_rows(a, db) || print_check(db, json)))
        rc = -1;
    if (rc == -1)
        fprintf(stderr, "lyncaudit: topology check: %s\n", db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    audit_free(a);
    return rc ? EXIT_TROUBLE : 0;
}

static int check_cmd(int argc, char **argv)
{
    struct topo_args a;
    if (parse_args(argc, argv, true, &a))
        return EXIT_TROUBLE;
    if (!topo_is_xml(a.file))
        return check_file(a.file, NULL, a.json);
    /* An XML document: imported to a temporary topology.lua, then checked. */
    char *text, tmp[] = "/tmp/lyncaudit-topology-XXXXXX.lua";
    if (import_text(&a, &text))
        return EXIT_TROUBLE;
    int fd = mkstemps(tmp, 4);
    size_t len = strlen(text);
    bool ok = fd >= 0 && write(fd, text, len) == (ssize_t)len;
    free(text);
    if (fd >= 0)
        close(fd);
    int rc = ok ? check_file(tmp, a.file, a.json) : EXIT_TROUBLE;
    if (!ok)
        fprintf(stderr, "lyncaudit: %s: cannot write a temporary file: %s\n", tmp, strerror(errno));
    if (fd >= 0)
        unlink(tmp);
    return rc;
}

int topology_main(int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : NULL;
    if (!sub || !strcmp(sub, "-h") || !strcmp(sub, "--help") || !strcmp(sub, "help")) {
        topo_usage(sub ? stdout : stderr);
        return sub ? 0 : EXIT_TROUBLE;
    }
    if (!strcmp(sub, "import"))
        return import_cmd(argc - 1, argv + 1);
    if (!strcmp(sub, "check"))
        return check_cmd(argc - 1, argv + 1);
    if (!strcmp(sub, "discover"))
        return topo_discover_main(argc - 1, argv + 1);
    fprintf(stderr, "lyncaudit: topology: unknown command '%s' (import, check, discover)\n", sub);
    return EXIT_TROUBLE;
}
