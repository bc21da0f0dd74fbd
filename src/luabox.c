/* luabox.c - sandboxed Lua (see luabox.h).
 *
 * Three limits, each for a different way to run away: the allocator caps
 * memory; a count hook cuts off Lua code after an instruction budget; and
 * the few library functions that can loop for long inside C, where no hook
 * fires (string.rep, table.move, pattern matching), are replaced by bounded
 * versions. Errors name "file:line": a message handler finds the innermost
 * Lua frame for errors that carry no position (error objects, error(msg,
 * 0)); for memory errors, which Lua raises without calling the handler, and
 * for a load the caller must cut off with an alarm, the count hook keeps the
 * last "file:line" it saw. */
#define _GNU_SOURCE /* memmem */
#include "luabox.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#define HOOK_EVERY 100          /* instructions between hook calls: budget and position */
#define MAX_FILE (4u << 20)
#define MAX_REP (16u << 20)       /* bytes string.rep may build, and its count */
#define MAX_MOVE (1u << 24)       /* elements table.move may copy */
#define MAX_QUANTIFIERS 8         /* ? * + - in one pattern: backtracking grows with each */
#define MAX_PATTERN_COST 1e10     /* worst-case steps of one pattern call: about 3 s here */

struct luabox {
    lua_State *L;
    size_t used, limit;
    long budget;        /* instructions left in the current call, in HOOK_EVERY units */
    char *text;         /* last file read */
    char name[512];     /* its path */
    char own_where[600];
    char *where;        /* "file:line" of the statement running (caller's buffer or own_where) */
    size_t wherelen;
};

/* Lua's allocator with a cap: refusing makes Lua raise "not enough memory". */
static void *box_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct luabox *b = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        b->used -= old;
        return NULL;
    }
    if (nsize > old && b->used - old + nsize > b->limit)
        return NULL;
    void *p = realloc(ptr, nsize);
    if (p)
        b->used = b->used - old + nsize;
    return p;
}

static void hook(lua_State *L, lua_Debug *ar)
{
    struct luabox *b;
    lua_getallocf(L, (void **)&b);
    if (lua_getinfo(L, "Sl", ar) && ar->source[0] == '@' && ar->currentline > 0)
        snprintf(b->where, b->wherelen, "%s:%d", ar->source + 1, ar->currentline);
    if (--b->budget <= 0) {
        luaL_where(L, 0); /* the interrupted function's file:line: */
        lua_pushstring(L, "instruction limit reached (a loop that does not end?)");
        lua_concat(L, 2);
        lua_error(L);
    }
}

/* string.rep, bounded: rep("", 2^62) loops in C for ever, where no hook fires. */
static int safe_rep(lua_State *L)
{
    size_t l, lsep = 0;
    luaL_checklstring(L, 1, &l);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_optlstring(L, 3, "", &lsep);
    if (n > 0 && ((lua_Unsigned)n > MAX_REP || (lua_Unsigned)n * (l + lsep) > MAX_REP))
        return luaL_error(L, "string.rep: more than %d bytes or repetitions (the sandbox's limit)", (int)MAX_REP);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* table.move, bounded: a range of 1e15 empty slots loops in C. */
static int safe_move(lua_State *L)
{
    lua_Integer f = luaL_checkinteger(L, 2), e = luaL_checkinteger(L, 3);
    if (e >= f && ((lua_Unsigned)e - (lua_Unsigned)f) >= MAX_MOVE)
        return luaL_error(L, "table.move: more than %d elements (the sandbox's limit)", (int)MAX_MOVE);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* string.find without pattern (plain, or no magic character): memmem,
 * linear. Lua's own search compares O(n*m) bytes (4 MiB in 8 MiB: hours).
 * Same results as Lua 5.4's: init as posrelatI, fail past the end. */
static int plain_find(lua_State *L, const char *s, size_t ls, const char *p, size_t lp)
{
    lua_Integer init = luaL_optinteger(L, 3, 1);
    size_t start; /* 1-based */
    if (init > 0)
        start = (size_t)init;
    else if (init == 0 || init < -(lua_Integer)ls)
        start = 1;
    else
        start = ls + (size_t)init + 1;
    if (start > ls + 1) {
        luaL_pushfail(L);
        return 1;
    }
    const char *hit = lp ? memmem(s + start - 1, ls - (start - 1), p, lp) : s + start - 1;
    if (!hit) {
        luaL_pushfail(L);
        return 1;
    }
    lua_pushinteger(L, (lua_Integer)(hit - s) + 1);
    lua_pushinteger(L, (lua_Integer)(hit - s) + (lua_Integer)lp);
    return 2;
}

/* find, match, gmatch, gsub, bounded: no hook fires inside Lua's matcher,
 * so a call whose worst case is too long is refused before it starts. That
 * worst case is (subject+1)^(k+1) * pattern length steps for k repetitions
 * (* + -; one start position fewer when anchored with ^), doubled by each
 * optional (?). Plain finds go to plain_find. */
static int safe_pattern(lua_State *L)
{
    size_t lp, ls = 0;
    const char *p = luaL_optlstring(L, 2, "", &lp);
    const char *s = lua_type(L, 1) == LUA_TSTRING ? lua_tolstring(L, 1, &ls) : NULL;
    bool find = lua_toboolean(L, lua_upvalueindex(2));
    bool magic = false;
    for (size_t i = 0; i < lp && !magic; i++)
        magic = strchr("^$*+?.([%-", p[i]) != NULL && p[i] != '\0';
    if (find && s && (lua_toboolean(L, 4) || !magic))
        return plain_find(L, s, ls, p, lp);
    /* Counts the quantifiers: ? * + - after an item, not inside a [set]
     * and not escaped (a '-' right after '(' or ')' is counted too: a bound
     * may be high, never low). */
    int q = 0, reps = 0, opts = 0;
    for (size_t i = 0; i < lp; i++) {
        if (p[i] == '%') {
            i++;
        } else if (p[i] == '[') {
            i++;
            if (i < lp && p[i] == '^')
                i++;
            if (i < lp && p[i] == ']')
                i++; /* a ']' first in a set is a member */
            while (i < lp && p[i] != ']')
                i += p[i] == '%' ? 2 : 1;
        } else if (i > 0 && p[i] == '?') {
            q++, opts++;
        } else if (i > 0 && (p[i] == '*' || p[i] == '+' || p[i] == '-')) {
            q++, reps++;
        }
    }
    if (q > MAX_QUANTIFIERS)
        return luaL_error(L, "pattern with %d quantifiers (the sandbox allows %d)", q, MAX_QUANTIFIERS);
    double n = (double)ls + 1, cost = (lp ? (double)lp : 1) * (lp && p[0] == '^' ? 1 : n);
    for (int i = 0; i < reps; i++)
        cost *= n;
    for (int i = 0; i < opts; i++)
        cost *= 2;
    if (cost > MAX_PATTERN_COST)
        return luaL_error(L, "pattern too costly: %d repetitions and %d optional items on a %d-byte "
                             "string (the sandbox's limit)",
                          reps, opts, (int)ls);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* Replaces lib.name by a wrapper holding the original (and a flag) as upvalues. */
static void wrap(lua_State *L, const char *lib, const char *name, lua_CFunction fn, int flag)
{
    lua_getglobal(L, lib);
    lua_getfield(L, -1, name);
    lua_pushboolean(L, flag);
    lua_pushcclosure(L, fn, 2);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
}

struct luabox *luabox_new(size_t mem_limit, char *err, size_t errlen)
{
    struct luabox *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    b->limit = mem_limit;
    b->where = b->own_where;
    b->wherelen = sizeof b->own_where;
    b->L = lua_newstate(box_alloc, b);
    if (!b->L) {
        free(b);
        snprintf(err, errlen, "cannot create a Lua state");
        return NULL;
    }
    static const luaL_Reg libs[] = {{LUA_GNAME, luaopen_base},      {LUA_STRLIBNAME, luaopen_string},
                                    {LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math},
                                    {LUA_UTF8LIBNAME, luaopen_utf8}, {NULL, NULL}};
    for (const luaL_Reg *l = libs; l->name; l++) {
        luaL_requiref(b->L, l->name, l->func, 1);
        lua_pop(b->L, 1);
    }
    static const char *const banned[] = {"dofile", "loadfile", "load", "require", "collectgarbage",
                                         "print", "rawset", "rawget", "rawequal", "rawlen", NULL};
    for (int i = 0; banned[i]; i++) {
        lua_pushnil(b->L);
        lua_setglobal(b->L, banned[i]);
    }
    /* string.dump would hand out bytecode; nothing may load it anyway. The
     * string table is also every string's metatable __index ("":rep()), so
     * it is changed in place. */
    lua_getglobal(b->L, LUA_STRLIBNAME);
    lua_pushnil(b->L);
    lua_setfield(b->L, -2, "dump");
    lua_pop(b->L, 1);
    wrap(b->L, LUA_STRLIBNAME, "rep", safe_rep, 0);
    wrap(b->L, LUA_STRLIBNAME, "find", safe_pattern, 1);
    wrap(b->L, LUA_STRLIBNAME, "match", safe_pattern, 0);
    wrap(b->L, LUA_STRLIBNAME, "gmatch", safe_pattern, 0);
    wrap(b->L, LUA_STRLIBNAME, "gsub", safe_pattern, 0);
    wrap(b->L, LUA_TABLIBNAME, "move", safe_move, 0);
    lua_sethook(b->L, hook, LUA_MASKCOUNT, HOOK_EVERY);
    b->budget = 0x7fffffff;
    return b;
}

void luabox_set_where(struct luabox *b, char *buf, size_t len)
{
    if (buf && len) {
        b->where = buf;
        b->wherelen = len;
    }
}

void luabox_free(struct luabox *b)
{
    if (!b)
        return;
    lua_close(b->L);
    free(b->text);
    free(b);
}

lua_State *luabox_state(struct luabox *b)
{
    return b->L;
}

const char *luabox_last_text(const struct luabox *b)
{
    return b->text ? b->text : "";
}

/* True when msg already starts with "path:" of a Lua chunk. */
static bool has_position(const char *msg, const char *path)
{
    size_t n = strlen(path);
    if (n && !strncmp(msg, path, n) && msg[n] == ':')
        return true;
    /* Lua shortens long chunk names to "...tail": accept "...X:NN:" too. */
    return !strncmp(msg, "...", 3) && strstr(msg, ".lua:") != NULL;
}

int luabox_load_text(struct luabox *b, const char *text, size_t len, const char *name, char *err,
                     size_t errlen)
{
    char chunkname[1024];
    snprintf(chunkname, sizeof chunkname, "@%s", name);
    snprintf(b->where, b->wherelen, "%s", name);
    /* Mode "t": a precompiled (binary) chunk is refused. */
    if (luaL_loadbufferx(b->L, text, len, chunkname, "t") != LUA_OK) {
        const char *m = lua_tostring(b->L, -1);
        if (!m)
            m = "cannot load";
        if (has_position(m, name))
            snprintf(err, errlen, "%s", m);
        else /* "C stack overflow" and the like: no line to give */
            snprintf(err, errlen, "%s: %s", name, m);
        lua_pop(b->L, 1);
        return -1;
    }
    return 0;
}

int luabox_load_file(struct luabox *b, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    char *buf = malloc(MAX_FILE + 1);
    size_t n = buf ? fread(buf, 1, MAX_FILE + 1, f) : 0;
    int rerr = ferror(f);
    fclose(f);
    if (!buf || rerr) {
        free(buf);
        snprintf(err, errlen, "%s: cannot read", path);
        return -1;
    }
    if (n > MAX_FILE) {
        free(buf);
        snprintf(err, errlen, "%s: larger than %u bytes", path, MAX_FILE);
        return -1;
    }
    buf[n] = '\0';
    if (n > 0 && buf[0] == LUA_SIGNATURE[0]) {
        free(buf);
        snprintf(err, errlen, "%s: a precompiled Lua chunk; only source text is accepted", path);
        return -1;
    }
    free(b->text);
    b->text = buf;
    snprintf(b->name, sizeof b->name, "%s", path);
    return luabox_load_text(b, buf, n, path, err, errlen);
}

/* pcall's message handler: an error without a position gets the one of the
 * innermost Lua function running; one that is not a string says what it is. */
static int message_handler(lua_State *L)
{
    char pos[600] = "";
    lua_Debug ar;
    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0 && ar.source[0] == '@') {
            snprintf(pos, sizeof pos, "%s:%d: ", ar.source + 1, ar.currentline);
            break;
        }
    }
    if (lua_type(L, 1) == LUA_TSTRING) {
        const char *m = lua_tostring(L, 1);
        if (strstr(m, ".lua:") || !pos[0])
            return 1; /* Lua's own "file:line:" */
        lua_pushfstring(L, "%s%s", pos, m);
        return 1;
    }
    lua_pushfstring(L, "%san error whose value is a %s, not a message", pos, luaL_typename(L, 1));
    return 1;
}

int luabox_call(struct luabox *b, int nargs, int nres, long max_instructions, char *err, size_t errlen)
{
    b->budget = max_instructions / HOOK_EVERY + 1;
    int base = lua_gettop(b->L) - nargs; /* the function's slot */
    /* Until the hook has run, errors without a position name the function's
     * own first line. */
    lua_Debug ar;
    lua_pushvalue(b->L, base);
    if (lua_getinfo(b->L, ">S", &ar) && ar.source[0] == '@')
        snprintf(b->where, b->wherelen, "%s:%d", ar.source + 1, ar.linedefined > 0 ? ar.linedefined : 1);
    lua_pushcfunction(b->L, message_handler);
    lua_insert(b->L, base);
    int rc = lua_pcall(b->L, nargs, nres, base);
    lua_remove(b->L, base);
    b->budget = 0x7fffffff;
    if (rc != LUA_OK) {
        const char *m = lua_type(b->L, -1) == LUA_TSTRING ? lua_tostring(b->L, -1) : NULL;
        /* The file part of "file:line" of the statement that was running. */
        char file[600];
        snprintf(file, sizeof file, "%s", b->where);
        char *colon = strrchr(file, ':');
        if (colon)
            *colon = '\0';
        if (rc == LUA_ERRMEM)
            snprintf(err, errlen, "%s: not enough memory (Lua may use %zu MiB)", b->where, b->limit >> 20);
        else if (m && strstr(m, ".lua:"))
            snprintf(err, errlen, "%s", m);
        else if (!m)
            snprintf(err, errlen, "%s: an error whose value is not a string", b->where);
        else if (has_position(m, file) || strstr(m, ".lua:"))
            snprintf(err, errlen, "%s", m);
        else
            snprintf(err, errlen, "%s: %s", b->where, m);
        lua_pop(b->L, 1);
        /* Memory errors leave the collector with work to do: give it room. */
        lua_gc(b->L, LUA_GCCOLLECT);
        return -1;
    }
    return 0;
}

const char *luabox_lua_version(void)
{
    return LUA_RELEASE;
}
