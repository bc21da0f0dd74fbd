/* luabox.c - sandboxed Lua (see luabox.h).
 *
 * Four limits, each for a different way to run away: the allocator caps
 * memory; a count hook cuts off Lua code after an instruction budget, and
 * after a time budget that scales with it (for library calls in C, which
 * the count sees as one instruction each); the few library functions that
 * can loop for long inside C, where no hook fires (string.rep, table.move,
 * pattern matching), are replaced by bounded versions; and a guard watches
 * a load's progress from outside (a thread, or the parent of a trial
 * process) for a C call that none of these bounds. Errors name "file:line":
 * a message handler finds the innermost Lua frame for errors that carry no
 * position (error objects, error(msg, 0)); for memory errors, which Lua
 * raises without calling the handler, and for a load the guard must cut
 * off, the count hook keeps the last "file:line" it saw. */
#define _GNU_SOURCE /* memmem, pipe2 */
#include "luabox.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

#define HOOK_EVERY 100          /* instructions between hook calls: budget and position */
#define MAX_FILE (4u << 20)
#define MAX_REP (16u << 20)       /* bytes string.rep may build, and its count */
#define MAX_MOVE (1u << 24)       /* elements table.move may copy */
#define MAX_QUANTIFIERS 8         /* ? * + - in one pattern: backtracking grows with each */
#define MAX_PATTERN_COST 1e9      /* worst-case steps of one pattern call: about a second here */
#define NS_PER_INSTRUCTION 100    /* time budget per instruction of the budget (a Lua one takes ~10) */
#define MIN_CALL_SECONDS 1.0      /* time budget of a call with few instructions (a check) */
#define LOOK_EVERY 0.01           /* seconds between looks at the CPU clock */
#define WATCH_POLL_MS 50          /* how often a guard looks at the progress counter */
#define WATCH_GAP 1.0             /* a guard that did not run this long was stopped: no stall seen then */

/* What a guard sees of a load: shared with a watching thread, or with the
 * parent process (in a shared mapping) for a trial load. */
struct luabox_watch {
    atomic_ulong progress; /* ticks: hook calls and loader steps */
    char where[600];       /* "file:line" of the statement running */
    char err[1024];        /* a trial's error */
    int ok;                /* a trial's result */
};

struct luabox {
    lua_State *L;
    size_t used, limit;
    long budget;        /* instructions left in the current call, in HOOK_EVERY units */
    double deadline;    /* CPU seconds of this thread the current call must end by */
    double call_limit;  /* its time budget, for the message */
    double next_look;   /* monotonic seconds: when to read the CPU clock next */
    char own_where[600];
    char *where;        /* "file:line" of the statement running (own_where or the watch's) */
    size_t wherelen;
    struct luabox_watch *watch;
};
_Static_assert(sizeof((struct luabox_watch *)0)->where == sizeof((struct luabox *)0)->own_where,
               "a watch's where is as long as the box's own");

static double clock_seconds(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double now_seconds(void)
{
    return clock_seconds(CLOCK_MONOTONIC);
}

/* CPU time, not wall time: a process stopped or waiting for a CPU while it
 * loads has not used its budget. */
static double cpu_seconds(void)
{
    return clock_seconds(CLOCK_THREAD_CPUTIME_ID);
}

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

/* The box whose state L is (the allocator's user data). */
static struct luabox *box_of(lua_State *L)
{
    void *ud;
    lua_getallocf(L, &ud);
    return ud;
}

/* Raises "file:line: what" at the interrupted function's position. */
static int limit_error(lua_State *L, const char *what)
{
    luaL_where(L, 0);
    lua_pushstring(L, what);
    lua_concat(L, 2);
    return lua_error(L);
}

/* Whether the current call has used up its time budget. */
static bool past_deadline(struct luabox *b)
{
    /* The CPU clock is a system call: read it at most every LOOK_EVERY s. */
    double now = now_seconds();
    if (now < b->next_look)
        return false;
    b->next_look = now + LOOK_EVERY;
    return cpu_seconds() > b->deadline;
}

/* Past the time budget: most often library calls on long strings, or the
 * collector working hard with the memory cap nearly reached. */
static int time_error(lua_State *L, struct luabox *b)
{
    char m[200];
    if (b->used > b->limit / 10 * 9)
        snprintf(m, sizeof m, "time limit of %.2f s reached with the memory nearly full (Lua may use %zu MiB)",
                 b->call_limit, b->limit >> 20);
    else
        snprintf(m, sizeof m, "time limit of %.2f s reached (library calls that take long?)", b->call_limit);
    return limit_error(L, m);
}

/* Every HOOK_EVERY instructions: the position and the instruction budget;
 * and at every function call (a library call may take long, and is one
 * instruction to the count): progress for a guard, and the time budget. */
static void hook(lua_State *L, lua_Debug *ar)
{
    struct luabox *b = box_of(L);
    luabox_step(b);
    if (ar->event == LUA_HOOKCOUNT) {
        if (lua_getinfo(L, "Sl", ar) && ar->source[0] == '@' && ar->currentline > 0)
            snprintf(b->where, b->wherelen, "%s:%d", ar->source + 1, ar->currentline);
        if (--b->budget <= 0)
            limit_error(L, "instruction limit reached (a loop that does not end?)");
    }
    if (past_deadline(b))
        time_error(L, b);
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

/* The items of pattern p that multiply the matcher's work: quantifiers
 * (? * + - after an item, not inside a [set], not escaped), of which
 * *reps repeat and *opts are optional, and the items that scan the subject
 * once per attempt: %b (a balanced run) and back-references %1-%9 (compare
 * a capture as long as the subject), counted as repetitions. A '-' right
 * after '(' or ')' is counted too: a bound may be high, never low. */
static int count_items(const char *p, size_t lp, int *reps, int *opts)
{
    int q = 0;
    *reps = *opts = 0;
    for (size_t i = 0; i < lp; i++) {
        if (p[i] == '%') {
            i++;
            if (i < lp && (p[i] == 'b' || (p[i] >= '1' && p[i] <= '9')))
                q++, (*reps)++;
            if (i < lp && p[i] == 'b')
                i += 2; /* the two delimiters are not items */
        } else if (p[i] == '[') {
            i++;
            if (i < lp && p[i] == '^')
                i++;
            if (i < lp && p[i] == ']')
                i++; /* a ']' first in a set is a member */
            while (i < lp && p[i] != ']')
                i += p[i] == '%' ? 2 : 1;
        } else if (i > 0 && p[i] == '?') {
            q++, (*opts)++;
        } else if (i > 0 && (p[i] == '*' || p[i] == '+' || p[i] == '-')) {
            q++, (*reps)++;
        }
    }
    return q;
}

/* find, match, gmatch, gsub, bounded: no hook fires inside Lua's matcher,
 * so a call whose worst case is too long is refused before it starts. That
 * worst case is (subject+1)^(k+1) * pattern length steps for k repetitions
 * (one start position fewer when anchored with ^), doubled by each
 * optional (?). Plain finds go to plain_find. A call that ends past the
 * time budget raises at once, so a loop of costly calls ends too. */
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
    int reps, opts;
    int q = count_items(p, lp, &reps, &opts);
    if (q > MAX_QUANTIFIERS)
        return luaL_error(L, "pattern with %d quantifiers (the sandbox allows %d)", q, MAX_QUANTIFIERS);
    double n = (double)ls + 1, cost = (lp ? (double)lp : 1) * (lp && p[0] == '^' ? 1 : n);
    for (int i = 0; i < reps; i++)
        cost *= n;
    for (int i = 0; i < opts; i++)
        cost *= 2;
    if (cost > MAX_PATTERN_COST)
        return luaL_error(L,
                          "pattern too costly: %d repetitions (%%b and back-references count) and %d optional "
                          "items on a %d-byte string (the sandbox's limit)",
                          reps, opts, (int)ls);
    struct luabox *b = box_of(L);
    if (past_deadline(b))
        return time_error(L, b);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    if (past_deadline(b))
        return time_error(L, b);
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
    lua_sethook(b->L, hook, LUA_MASKCOUNT | LUA_MASKCALL, HOOK_EVERY);
    b->budget = 0x7fffffff;
    b->deadline = 1e300;
    return b;
}

void luabox_watch(struct luabox *b, struct luabox_watch *w)
{
    b->watch = w;
    b->where = w ? w->where : b->own_where;
    b->wherelen = sizeof b->own_where; /* the watch's is as long (static assert above) */
}

void luabox_watch_step(struct luabox_watch *w)
{
    if (w)
        atomic_fetch_add_explicit(&w->progress, 1, memory_order_relaxed);
}

void luabox_step(struct luabox *b)
{
    luabox_watch_step(b->watch);
}

void luabox_free(struct luabox *b)
{
    if (!b)
        return;
    lua_close(b->L);
    free(b);
}

lua_State *luabox_state(struct luabox *b)
{
    return b->L;
}

const char *luabox_text(lua_State *L, int idx, char *out, size_t outlen)
{
    size_t len, n = 0;
    const char *s = lua_tolstring(L, idx, &len);
    for (size_t i = 0; s && i < len && n + 3 < outlen; i++) {
        if (s[i] == '\0') {
            out[n++] = '\\';
            out[n++] = '0';
        } else {
            out[n++] = s[i];
        }
    }
    if (outlen)
        out[n < outlen ? n : outlen - 1] = '\0';
    return out;
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

/* Reads what fd holds (at most MAX_FILE bytes, and one more to see a file
 * that grew) into a NUL-terminated buffer. */
static char *read_all(int fd, size_t *len)
{
    char *buf = malloc(MAX_FILE + 2);
    size_t n = 0;
    while (buf && n <= MAX_FILE) {
        ssize_t r = read(fd, buf + n, MAX_FILE + 1 - n);
        if (r == 0)
            break;
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            return NULL;
        }
        n += (size_t)r;
    }
    if (buf)
        buf[n] = '\0';
    *len = n;
    return buf;
}

int luabox_read(const char *path, struct luabox_file *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; what is not a
     * regular file is refused before a byte is read from it. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        snprintf(err, errlen, "%s: not a regular file (a FIFO, device or folder is not read)", path);
        return -1;
    }
    size_t n = 0;
    char *buf = st.st_size > MAX_FILE ? NULL : read_all(fd, &n);
    close(fd);
    if (st.st_size > MAX_FILE || n > MAX_FILE) {
        free(buf);
        snprintf(err, errlen, "%s: larger than %u bytes", path, MAX_FILE);
        return -1;
    }
    if (!buf || !(out->path = strdup(path))) {
        free(buf);
        snprintf(err, errlen, "%s: cannot read", path);
        return -1;
    }
    out->text = buf;
    out->len = n;
    if (n > 0 && buf[0] == LUA_SIGNATURE[0]) {
        luabox_file_free(out);
        snprintf(err, errlen, "%s: a precompiled Lua chunk; only source text is accepted", path);
        return -1;
    }
    return 0;
}

void luabox_file_free(struct luabox_file *f)
{
    free(f->path);
    free(f->text);
    memset(f, 0, sizeof *f);
}

int luabox_load(struct luabox *b, const struct luabox_file *f, char *err, size_t errlen)
{
    return luabox_load_text(b, f->text, f->len, f->path, err, errlen);
}

int luabox_load_file(struct luabox *b, const char *path, char *err, size_t errlen)
{
    struct luabox_file f;
    if (luabox_read(path, &f, err, errlen))
        return -1;
    int rc = luabox_load(b, &f, err, errlen);
    luabox_file_free(&f);
    return rc;
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
    b->call_limit = (double)max_instructions * NS_PER_INSTRUCTION * 1e-9;
    if (b->call_limit < MIN_CALL_SECONDS)
        b->call_limit = MIN_CALL_SECONDS;
    b->deadline = cpu_seconds() + b->call_limit;
    b->next_look = 0;
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
    b->deadline = 1e300;
    if (rc != LUA_OK) {
        char mbuf[1024];
        const char *m = lua_type(b->L, -1) == LUA_TSTRING ? luabox_text(b->L, -1, mbuf, sizeof mbuf) : NULL;
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

/* --- the guard ------------------------------------------------------------ */

/* Progress as a guard sees it from one look to the next. */
struct stall_clock {
    unsigned long seen; /* the progress counter at the last change */
    double since, last; /* when it changed; the guard's last look */
};

/* Whether w has made no progress for stall_s seconds of watching. A gap
 * between two looks longer than WATCH_GAP means the guard itself did not
 * run (the process was stopped): the count starts again. */
static bool stall_seen(struct stall_clock *c, struct luabox_watch *w, double stall_s)
{
    double now = now_seconds();
    unsigned long p = atomic_load(&w->progress);
    if (p != c->seen || now - c->last > WATCH_GAP || c->since == 0) {
        c->seen = p;
        c->since = now;
    }
    c->last = now;
    return now - c->since >= stall_s;
}

/* A watching thread's view: the load sets done under mu and signals cv. */
struct watcher {
    struct luabox_watch *w;
    double stall_s;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
};

/* The watching thread of luabox_run_watched: a stall ends the process. */
static void *watch_thread(void *arg)
{
    struct watcher *x = arg;
    struct stall_clock c = {0, 0, 0};
    stall_seen(&c, x->w, x->stall_s);
    pthread_mutex_lock(&x->mu);
    while (!x->done) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += WATCH_POLL_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&x->cv, &x->mu, &ts);
        if (stall_seen(&c, x->w, x->stall_s) && !x->done) {
            char m[800];
            int n = snprintf(m, sizeof m, "lyncaudit: %s: no progress for %g s (a call that does not end?)\n",
                             x->w->where[0] ? x->w->where : "loading", x->stall_s);
            ssize_t wr = write(STDERR_FILENO, m, n > 0 && (size_t)n < sizeof m ? (size_t)n : sizeof m - 1);
            (void)wr;
            _exit(2);
        }
    }
    pthread_mutex_unlock(&x->mu);
    return NULL;
}

void *luabox_run_watched(luabox_job job, void *ctx, double stall_s, char *err, size_t errlen)
{
    struct luabox_watch *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    struct watcher x = {.w = w, .stall_s = stall_s};
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&x.cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&x.mu, NULL);
    pthread_t t;
    bool watching = pthread_create(&t, NULL, watch_thread, &x) == 0;
    void *r = job(ctx, watching ? w : NULL, err, errlen);
    if (watching) {
        pthread_mutex_lock(&x.mu);
        x.done = true;
        pthread_cond_signal(&x.cv);
        pthread_mutex_unlock(&x.mu);
        pthread_join(t, NULL);
    }
    pthread_cond_destroy(&x.cv);
    pthread_mutex_destroy(&x.mu);
    free(w);
    return r;
}

/* Waits for the trial child (holding the write end of fd) to end, killing
 * it when its progress stalls. Returns its wait status; *stalled tells. */
static int wait_trial(pid_t pid, int fd, struct luabox_watch *w, double stall_s, bool *stalled)
{
    struct stall_clock c = {0, 0, 0};
    stall_seen(&c, w, stall_s);
    *stalled = false;
    for (;;) {
        struct pollfd pf = {fd, POLLIN, 0};
        int r = poll(&pf, 1, WATCH_POLL_MS);
        if (r > 0)
            break; /* EOF: the child ended (it writes nothing) */
        if (stall_seen(&c, w, stall_s)) {
            kill(pid, SIGKILL);
            *stalled = true;
            break;
        }
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return st;
}

/* The trial child: default signal actions (a signal to the process group
 * ends the trial, not the run), the job, its verdict in the shared watch. */
static void run_child(luabox_job job, void *ctx, struct luabox_watch *w, int fd)
{
    static const int sigs[] = {SIGHUP, SIGINT, SIGTERM, SIGPIPE, SIGALRM};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        signal(sigs[i], SIG_DFL);
    alarm(0);
    void *r = job(ctx, w, w->err, sizeof w->err);
    w->ok = r != NULL;
    (void)fd; /* closed by _exit: the parent's EOF */
    _exit(0);
}

void *luabox_run_trial(luabox_job job, void *ctx, double stall_s, char *err, size_t errlen)
{
    struct luabox_watch *w = mmap(NULL, sizeof *w, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int fds[2] = {-1, -1};
    if (w == MAP_FAILED || pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "cannot start a trial load: %s", strerror(errno));
        if (w != MAP_FAILED)
            munmap(w, sizeof *w);
        return NULL;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        run_child(job, ctx, w, fds[1]);
    }
    close(fds[1]);
    bool stalled = false;
    int st = pid > 0 ? wait_trial(pid, fds[0], w, stall_s, &stalled) : 0;
    close(fds[0]);
    bool ok = pid > 0 && !stalled && WIFEXITED(st) && WEXITSTATUS(st) == 0 && w->ok;
    if (pid < 0)
        snprintf(err, errlen, "cannot start a trial load: %s", strerror(errno));
    else if (stalled)
        snprintf(err, errlen, "%s: no progress for %g s (a call that does not end?)",
                 w->where[0] ? w->where : "loading", stall_s);
    else if (WIFSIGNALED(st))
        snprintf(err, errlen, "%s: the trial load ended with signal %d", w->where[0] ? w->where : "loading",
                 WTERMSIG(st));
    else if (!ok)
        snprintf(err, errlen, "%s", w->err[0] ? w->err : "the trial load failed");
    munmap(w, sizeof *w);
    return ok ? job(ctx, NULL, err, errlen) : NULL;
}
