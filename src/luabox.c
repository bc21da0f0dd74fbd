/* luabox.c - sandboxed Lua (see luabox.h). */
#include "luabox.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#define HOOK_EVERY 1000
#define MAX_FILE (4u << 20)

struct luabox {
    lua_State *L;
    size_t used, limit;
    long budget;        /* instructions left in the current call, in HOOK_EVERY units */
    char *text;         /* last file read */
    char name[512];     /* its path */
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

static void count_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    struct luabox *b;
    lua_getallocf(L, (void **)&b);
    if (--b->budget <= 0) {
        luaL_where(L, 0); /* the interrupted function's file:line: */
        lua_pushstring(L, "instruction limit reached (a loop that does not end?)");
        lua_concat(L, 2);
        lua_error(L);
    }
}

struct luabox *luabox_new(size_t mem_limit, char *err, size_t errlen)
{
    struct luabox *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    b->limit = mem_limit;
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
    /* string.dump would hand out bytecode; nothing may load it anyway. */
    lua_getglobal(b->L, LUA_STRLIBNAME);
    lua_pushnil(b->L);
    lua_setfield(b->L, -2, "dump");
    lua_pop(b->L, 1);
    lua_sethook(b->L, count_hook, LUA_MASKCOUNT, HOOK_EVERY);
    b->budget = 0x7fffffff;
    return b;
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

int luabox_load_text(struct luabox *b, const char *text, size_t len, const char *name, char *err,
                     size_t errlen)
{
    char chunkname[1024];
    snprintf(chunkname, sizeof chunkname, "@%s", name);
    /* Mode "t": a precompiled (binary) chunk is refused. */
    if (luaL_loadbufferx(b->L, text, len, chunkname, "t") != LUA_OK) {
        snprintf(err, errlen, "%s", lua_tostring(b->L, -1));
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

int luabox_call(struct luabox *b, int nargs, int nres, long max_instructions, char *err, size_t errlen)
{
    b->budget = max_instructions / HOOK_EVERY + 1;
    int rc = lua_pcall(b->L, nargs, nres, 0);
    b->budget = 0x7fffffff;
    if (rc != LUA_OK) {
        const char *m = lua_tostring(b->L, -1);
        if (rc == LUA_ERRMEM)
            snprintf(err, errlen, "%s: not enough memory (Lua may use %zu MiB)", b->name, b->limit >> 20);
        else
            snprintf(err, errlen, "%s", m ? m : "error object is not a string");
        lua_pop(b->L, 1);
        /* Memory errors leave the collector with work to do: give it room. */
        lua_gc(b->L, LUA_GCCOLLECT);
        return -1;
    }
    return 0;
}
