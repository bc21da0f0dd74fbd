/* topo_import.h - a Lync topology document (XML) as a topology.lua text.
 *
 * Reads both forms: the Topology Builder document (.tbxml, root
 * TopologyBuilder with a PartialTopology inside) and the published topology
 * (root Topology, Get-CsTopology -AsXml). Roles come from the services and
 * the clusters they are installed on, addresses from the machines'
 * NetInterface elements, NAT from ConfiguredIPAddress, port overrides from
 * the services' Port elements that differ from the documented defaults
 * (docs/topology.md, "Import"). */
#ifndef LYNCAUDIT_TOPO_IMPORT_H
#define LYNCAUDIT_TOPO_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct topo_import_opts {
    const char *hosts_file; /* hosts-style file for 0.0.0.0 machines, or NULL */
    bool resolve;           /* getaddrinfo() for 0.0.0.0 machines */
    FILE *warnings;         /* one line per machine left out, etc. (stderr) */
};

/* 0 with the Lua text in *out (malloc'd), or -1 with "file:line: what" in err
 * (the XML line of the element at fault). */
int topo_import(const char *path, const struct topo_import_opts *o, char **out, char *err, size_t errlen);

/* Whether the file looks like XML (first non-blank byte '<'). */
bool topo_is_xml(const char *path);

#endif
