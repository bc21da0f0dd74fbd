/* paths.c - the data folder and the topology search path (paths.h). */
#include "paths.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef LYNCAUDIT_DATA_DIR
#define LYNCAUDIT_DATA_DIR "/usr/local/share/lyncaudit"
#endif
#ifndef LYNCAUDIT_SYSCONF_DIR
#define LYNCAUDIT_SYSCONF_DIR "/usr/local/etc/lyncaudit"
#endif
#ifndef LYNCAUDIT_SOURCE_DIR
#define LYNCAUDIT_SOURCE_DIR "."
#endif

/* buf = a/b; false when it does not fit. */
static bool join(char *buf, size_t len, const char *a, const char *b)
{
    int n = snprintf(buf, len, "%s/%s", a, b);
    return n >= 0 && (size_t)n < len;
}

/* Whether dir/name can be read; a path too long for PATH_MAX cannot. */
static bool readable(const char *dir, const char *name)
{
    char p[PATH_MAX];
    return join(p, sizeof p, dir, name) && access(p, R_OK) == 0;
}

/* Beside the binary first, so that an installed copy (or a package unpacked
 * elsewhere) uses its own rules even when the source tree still exists. */
const char *paths_data_dir(char *buf, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            if (join(buf, len, exe, "../share/lyncaudit") && readable(buf, "lua/dsl.lua"))
                return buf;
        }
    }
    if (readable(LYNCAUDIT_SOURCE_DIR, "lua/dsl.lua"))
        return LYNCAUDIT_SOURCE_DIR;
    return LYNCAUDIT_DATA_DIR;
}

const char *paths_sysconf_dir(void)
{
    return LYNCAUDIT_SYSCONF_DIR;
}

/* Existence, not readability, decides: an unreadable topology is reported by
 * the loader (file and reason) rather than silently passed over. */
const char *paths_topology(const char *explicit_path, const char *sysconf_dir, char *buf, size_t len)
{
    if (explicit_path)
        return explicit_path;
    if (access("topology.lua", F_OK) == 0)
        return "topology.lua";
    if (join(buf, len, sysconf_dir, "topology.lua") && access(buf, F_OK) == 0)
        return buf;
    return NULL;
}
