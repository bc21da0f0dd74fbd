/* topo_cmd.h - `lyncaudit topology import|check|discover` (docs/topology.md). */
#ifndef LYNCAUDIT_TOPO_CMD_H
#define LYNCAUDIT_TOPO_CMD_H

#include <stdbool.h>
#include <stddef.h>

/* argv[0] is "topology". Exit codes: 0 done, 2 trouble (bad arguments, bad
 * input with file:line on stderr; nothing written). */
int topology_main(int argc, char **argv);

/* Writes len bytes of text to path through a temporary file in the same
 * folder, renamed over path at the end (nothing half-written); path NULL or
 * "-" writes stdout. 0, or -1 with the reason on stderr. */
int topo_write_file(const char *path, const char *text, size_t len);

/* The folder that holds lua/dsl.lua and rules/ (installed, else the source tree). */
const char *topo_data_dir(char *buf, size_t len);

#endif
