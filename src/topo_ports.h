/* topo_ports.h - the topology's `ports` section handed to the rule language.
 *
 * The topology loader keeps the `ports` table in the Lua registry under
 * TOPO_PORTS_KEY; topo_ports_set() gives it to lua/dsl.lua's M.set_ports,
 * which checks it and applies it to the rules before they are compiled
 * (docs/topology.md, "Ports"). */
#ifndef LYNCAUDIT_TOPO_PORTS_H
#define LYNCAUDIT_TOPO_PORTS_H

#include <stddef.h>

#include "luabox.h"

#define TOPO_PORTS_KEY "lyncaudit.topology.ports"

/* Call right after the topology ran (its text is the box's last text), with
 * the DSL module at mod_idx. 0, or -1 with "path:line: what" in err. */
int topo_ports_set(struct luabox *box, int mod_idx, const char *path, char *err, size_t errlen);

#endif
