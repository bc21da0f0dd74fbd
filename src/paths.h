/* paths.h - where lyncaudit finds its files (docs/usage.md, "Files").
 *
 * The data folder holds lua/ (the rule DSL) and rules/: beside an installed
 * binary (BINDIR/../share/lyncaudit), else the source tree the binary was
 * built from, else the install prefix's. The topology, when -t is not given,
 * is searched: ./topology.lua, then SYSCONFDIR/lyncaudit/topology.lua. */
#ifndef LYNCAUDIT_PATHS_H
#define LYNCAUDIT_PATHS_H

#include <stddef.h>

/* The folder that holds lua/dsl.lua and rules/; buf receives it when it is
 * found beside the binary, else a compiled-in path is returned. */
const char *paths_data_dir(char *buf, size_t len);

/* SYSCONFDIR/lyncaudit of the install prefix (/etc/lyncaudit for /usr). */
const char *paths_sysconf_dir(void);

/* The topology file to load: explicit_path (-t) when given, else the first
 * of ./topology.lua and sysconf_dir/topology.lua that exists (buf receives
 * the latter); NULL when there is none. */
const char *paths_topology(const char *explicit_path, const char *sysconf_dir, char *buf, size_t len);

#endif
