/* luabox.h - a sandboxed Lua 5.4 state for topology and rule files.
 *
 * The state has only base (without dofile, loadfile, load, require,
 * collectgarbage, print, raw*), string (without dump), table, math and
 * utf8; no io, os, debug or package. Text chunks only (no bytecode). A
 * memory cap, an instruction limit and bounded string.rep, table.move and
 * pattern functions cut off a runaway file or rule function with a clear
 * error. */
#ifndef LYNCAUDIT_LUABOX_H
#define LYNCAUDIT_LUABOX_H

#include <stdbool.h>
#include <stddef.h>

#include <lua.h>

struct luabox;

/* mem_limit: bytes the state may hold. */
struct luabox *luabox_new(size_t mem_limit, char *err, size_t errlen);
void luabox_free(struct luabox *b);
lua_State *luabox_state(struct luabox *b);

/* Reads a text file and leaves the compiled chunk on the stack; the chunk's
 * name is the path, so errors read "path:line: ...". Returns 0, or -1 with
 * the reason (file:line where Lua gives one) in err. */
int luabox_load_file(struct luabox *b, const char *path, char *err, size_t errlen);

/* Loads source text with the given chunk name (text only). */
int luabox_load_text(struct luabox *b, const char *text, size_t len, const char *name, char *err,
                     size_t errlen);

/* Calls the function under nargs arguments with an instruction limit;
 * leaves nres results. Returns 0, or -1 with the error message in err,
 * always starting "file:line:" of the statement that failed (or the file). */
int luabox_call(struct luabox *b, int nargs, int nres, long max_instructions, char *err,
                size_t errlen);

/* Keeps "file:line" of the statement running in buf (the caller's, so that
 * a signal handler may print it when a load must be cut off). */
void luabox_set_where(struct luabox *b, char *buf, size_t len);

/* The file's text as read by the last luabox_load_file (for line look-ups). */
const char *luabox_last_text(const struct luabox *b);

/* "Lua 5.4.4": the Lua the sandbox is built on. */
const char *luabox_lua_version(void);

#endif
