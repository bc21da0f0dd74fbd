/* luabox.h - a sandboxed Lua 5.4 state for topology and rule files, and the
 * guard that keeps a load from running away.
 *
 * The state has only base (without dofile, loadfile, load, require,
 * collectgarbage, print, raw*), string (without dump), table, math and
 * utf8; no io, os, debug or package. Text chunks only (no bytecode), read
 * from regular files only. A memory cap, an instruction limit with a time
 * limit behind it, and bounded string.rep, table.move and pattern functions
 * cut off a runaway file or rule function with a clear error.
 *
 * What the limits cannot see is a C call that never returns (a gap in the
 * bounds above). A load is therefore run under a guard that watches its
 * progress (the count hook and the loader's own steps tick a counter):
 * luabox_run_watched() for a load before anything is written (a stall ends
 * the process, exit 2), luabox_run_trial() for a reload (a stall ends only
 * a trial child; never this process). */
#ifndef LYNCAUDIT_LUABOX_H
#define LYNCAUDIT_LUABOX_H

#include <stdbool.h>
#include <stddef.h>

#include <lua.h>

struct luabox;
struct luabox_watch;

/* A file's bytes, read once: the text is NUL-terminated, len bytes long. */
struct luabox_file {
    char *path;
    char *text;
    size_t len;
};

/* Reads a regular file of at most 4 MiB that is not a precompiled chunk,
 * without blocking on it (a FIFO or device is refused before it is read).
 * 0, or -1 with "path: what" in err. */
int luabox_read(const char *path, struct luabox_file *out, char *err, size_t errlen);
void luabox_file_free(struct luabox_file *f);

/* mem_limit: bytes the state may hold. */
struct luabox *luabox_new(size_t mem_limit, char *err, size_t errlen);
void luabox_free(struct luabox *b);
lua_State *luabox_state(struct luabox *b);

/* Compiles the file's text and leaves the chunk on the stack; the chunk's
 * name is the path, so errors read "path:line: ...". 0, or -1 with the
 * reason (file:line where Lua gives one) in err. */
int luabox_load(struct luabox *b, const struct luabox_file *f, char *err, size_t errlen);

/* luabox_read() then luabox_load(). */
int luabox_load_file(struct luabox *b, const char *path, char *err, size_t errlen);

/* Loads source text with the given chunk name (text only). */
int luabox_load_text(struct luabox *b, const char *text, size_t len, const char *name, char *err,
                     size_t errlen);

/* Calls the function under nargs arguments with an instruction limit, and
 * a time limit that scales with it (for C calls the count does not see);
 * leaves nres results. Returns 0, or -1 with the error message in err,
 * always starting "file:line:" of the statement that failed (or the file). */
int luabox_call(struct luabox *b, int nargs, int nres, long max_instructions, char *err,
                size_t errlen);

/* The string (or number) at idx as C text in out: a NUL byte in it is shown
 * as \0 instead of ending the text there. Returns out. */
const char *luabox_text(lua_State *L, int idx, char *out, size_t outlen);

/* Reports the box's progress and position to w (NULL: to nobody). */
void luabox_watch(struct luabox *b, struct luabox_watch *w);

/* One step of C-side work on the box's behalf (a prefix read, a rule
 * compiled): progress for the guard. */
void luabox_step(struct luabox *b);

/* The same for work with no box (w may be NULL). */
void luabox_watch_step(struct luabox_watch *w);

/* A load under a guard: attaches w to the boxes it makes; returns its result,
 * or NULL with the reason in err. */
typedef void *(*luabox_job)(void *ctx, struct luabox_watch *w, char *err, size_t errlen);

/* Runs job here while a thread watches it. When no progress is seen for
 * stall_s seconds (a C call that does not end), the thread prints
 * "lyncaudit: FILE:LINE: no progress for N s ..." and ends the process with
 * exit code 2: for loads before anything is written. */
void *luabox_run_watched(luabox_job job, void *ctx, double stall_s, char *err, size_t errlen);

/* Runs job first in a child process that this one watches (a stall kills
 * the child and is an error here), then, when the child's run succeeded,
 * here, with no watch: job must give the same result on the same input
 * (bytes read before this call). Never ends this process. */
void *luabox_run_trial(luabox_job job, void *ctx, double stall_s, char *err, size_t errlen);

/* "Lua 5.4.4": the Lua the sandbox is built on. */
const char *luabox_lua_version(void);

#endif
