/* topo_discover.h - `lyncaudit topology discover`: a topology from traffic alone.
 *
 * Runs the normal pipeline over the captures into a temporary SQLite
 * database (no roles), then reads its flows table: each host seen serving
 * Lync services gets the role those services point to, with the evidence
 * (services, peers, flow counts) and a confidence as comments. */
#ifndef LYNCAUDIT_TOPO_DISCOVER_H
#define LYNCAUDIT_TOPO_DISCOVER_H

/* argv[0] is "discover". Exit 0, or 2 with the reason on stderr. */
int topo_discover_main(int argc, char **argv);

#endif
