/* test_paths.c - the topology search path and the data folder (src/paths.c).
 *
 * In a fresh folder: no topology anywhere gives none; SYSCONF/topology.lua is
 * found; ./topology.lua comes before it; -t before both (even a file that is
 * not there: the loader says so); a system path that does not fit the buffer
 * gives none, not a cut path. The data folder: from the build tree, the
 * source tree; a copy of this binary in PREFIX/bin with
 * PREFIX/share/lyncaudit/lua/dsl.lua beside it uses that (an installed or
 * unpacked copy uses its own rules); without dsl.lua there, the source tree.
 *
 * Usage: test_paths            (test_paths --data-dir: print the data folder) */
#define _GNU_SOURCE /* nftw's FTW_DEPTH */
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "paths.h"

static int failures;

#define CHECK(cond, ...)                                                                                     \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            failures++;                                                                                      \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                                      \
            printf(__VA_ARGS__);                                                                             \
            printf("\n");                                                                                    \
        }                                                                                                    \
    } while (0)

/* An empty file at path (folders made by the caller). */
static void touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0)
        close(fd);
    CHECK(fd >= 0, "cannot create %s", path);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static const char *show(const char *s)
{
    return s ? s : "(none)";
}

/* The search path, each step added in turn, in the working folder dir. */
static void check_search(const char *dir)
{
    char sys[PATH_MAX], want[PATH_MAX + 32], buf[PATH_MAX], small[8];
    snprintf(sys, sizeof sys, "%s/sys", dir);
    CHECK(mkdir(sys, 0755) == 0, "mkdir %s", sys);
    const char *got = paths_topology(NULL, sys, buf, sizeof buf);
    CHECK(got == NULL, "nothing there: got %s", show(got));

    snprintf(want, sizeof want, "%s/topology.lua", sys);
    touch(want);
    got = paths_topology(NULL, sys, buf, sizeof buf);
    CHECK(got && !strcmp(got, want), "system topology: got %s, want %s", show(got), want);
    got = paths_topology(NULL, sys, small, sizeof small);
    CHECK(got == NULL, "a system path longer than the buffer: got %s, want none", show(got));

    touch("topology.lua");
    got = paths_topology(NULL, sys, buf, sizeof buf);
    CHECK(got && !strcmp(got, "topology.lua"), "./topology.lua first: got %s", show(got));

    got = paths_topology("elsewhere/site.lua", sys, buf, sizeof buf);
    CHECK(got && !strcmp(got, "elsewhere/site.lua"), "-t first (even when missing): got %s", show(got));

    CHECK(unlink("topology.lua") == 0, "unlink ./topology.lua");
    got = paths_topology(NULL, sys, buf, sizeof buf);
    CHECK(got && !strcmp(got, want), "without ./topology.lua, the system one again: got %s", show(got));

    const char *sc = paths_sysconf_dir();
    CHECK(!strcmp(sc, LYNCAUDIT_SYSCONF_DIR), "paths_sysconf_dir %s, built for %s", sc, LYNCAUDIT_SYSCONF_DIR);
    size_t n = strlen(sc);
    CHECK(sc[0] == '/' && n > 10 && !strcmp(sc + n - 10, "/lyncaudit"), "sysconf dir '%s': absolute, .../lyncaudit", sc);
}

/* Copies this binary to to (mode 0755). */
static int copy_self(const char *to)
{
    int in = open("/proc/self/exe", O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    char b[65536];
    ssize_t r = 0;
    while (in >= 0 && out >= 0 && (r = read(in, b, sizeof b)) > 0)
        if (write(out, b, (size_t)r) != r) {
            r = -1;
            break;
        }
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    return in >= 0 && out >= 0 && r == 0 ? 0 : -1;
}

/* Runs exe --data-dir and returns what it printed (no newline) in out. */
static void data_dir_of(const char *exe, char *out, size_t len)
{
    out[0] = '\0';
    int fd[2];
    if (pipe(fd) != 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], STDOUT_FILENO);
        close(fd[0]);
        execl(exe, exe, "--data-dir", (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    ssize_t n = pid > 0 ? read(fd[0], out, len - 1) : -1;
    close(fd[0]);
    out[n > 0 ? n : 0] = '\0';
    out[strcspn(out, "\n")] = '\0';
    if (pid > 0)
        waitpid(pid, NULL, 0);
}

/* The data folder: the source tree here; an installed copy's own share/. */
static void check_data_dir(const char *dir)
{
    char buf[PATH_MAX], p[PATH_MAX + 64], got[PATH_MAX + 64];
    const char *d = paths_data_dir(buf, sizeof buf);
    CHECK(!strcmp(d, LYNCAUDIT_SOURCE_DIR), "from the build tree: %s, want the source tree %s", d,
          LYNCAUDIT_SOURCE_DIR);

    const char *made[] = {"inst", "inst/bin", "inst/share", "inst/share/lyncaudit", "inst/share/lyncaudit/lua"};
    for (size_t i = 0; i < sizeof made / sizeof *made; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, made[i]);
        CHECK(mkdir(p, 0755) == 0, "mkdir %s", p);
    }
    char exe[PATH_MAX + 32];
    snprintf(exe, sizeof exe, "%s/inst/bin/test_paths", dir);
    CHECK(copy_self(exe) == 0, "copy of this binary to %s", exe);

    data_dir_of(exe, got, sizeof got);
    CHECK(!strcmp(got, LYNCAUDIT_SOURCE_DIR), "a copy without share/lyncaudit/lua/dsl.lua: %s, want %s", got,
          LYNCAUDIT_SOURCE_DIR);
    snprintf(p, sizeof p, "%s/inst/share/lyncaudit/lua/dsl.lua", dir);
    touch(p);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "%s/inst/bin/../share/lyncaudit", dir);
    data_dir_of(exe, got, sizeof got);
    CHECK(!strcmp(got, want), "an installed copy: %s, want %s", got, want);
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--data-dir")) {
        char buf[PATH_MAX];
        printf("%s\n", paths_data_dir(buf, sizeof buf));
        return 0;
    }
    char dir[] = "/tmp/lyncaudit-paths.XXXXXX", cwd[PATH_MAX];
    if (!mkdtemp(dir) || !getcwd(cwd, sizeof cwd) || chdir(dir) != 0) {
        printf("FAIL: cannot make a work folder\n");
        return 1;
    }
    check_search(dir);
    check_data_dir(dir);
    if (chdir(cwd) != 0)
        failures++;
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    printf("%s: %d failure(s)\n", argv[0], failures);
    return failures ? 1 : 0;
}
