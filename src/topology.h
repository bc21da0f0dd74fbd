/* topology.h - the deployment a run audits: roles, addresses, NAT, options.
 *
 * topology_load() reads the role vocabulary from the rule language
 * (lua/dsl.lua's M.roles(): the one list of roles), the options' schema and
 * defaults (M.options_schema()), then runs the topology file, if there is
 * one, in an empty environment of the same sandboxed state and reads what it
 * returns: name, roles (address or prefix -> role, looked up by longest
 * prefix in nDPI's patricia tree), nat (public -> translated address),
 * nat_devices, capture_point, options (checked against the schema) and
 * ports (handed to M.set_ports, which moves the rules' documented ports
 * before they are compiled). Every string is taken with its Lua length: one
 * holding a NUL byte is refused, not cut short.
 *
 * A role is an index into the vocabulary, 0 .. topology_role_count() - 1;
 * topology_role_count() itself is "any", an address in no role. */
#ifndef LYNCAUDIT_TOPOLOGY_H
#define LYNCAUDIT_TOPOLOGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lua.h>

#include "luabox.h"

/* Roles a mask of 32 bits holds, "any" included. */
#define TOPOLOGY_MAX_ROLES 31

struct topology;

/* mod_idx: the rule language module on box's stack; file: the topology's
 * bytes, or NULL for none (every address is "any", options at their
 * defaults). NULL on failure with "file:line: what" in err; the stack is
 * left as it was either way. */
struct topology *topology_load(struct luabox *box, int mod_idx, const struct luabox_file *file, char *err,
                               size_t errlen);
void topology_free(struct topology *t);

/* The vocabulary: names by index ("any" for topology_role_count() and past it). */
int topology_role_count(const struct topology *t);
const char *topology_role_name(const struct topology *t, int role);
int topology_role_index(const struct topology *t, const char *name); /* -1: no such role */

/* The addresses and prefixes the file gives role, comma-separated as
 * written; NULL when it gives none (the role is not declared). */
const char *topology_role_declared(const struct topology *t, int role);

/* An address's role (4 or 16 bytes), through the NAT map: a public address
 * plays the role of the translated address behind it. *translated: the
 * address is itself a translated one. */
int topology_role_of(const struct topology *t, const uint8_t *addr, int ipver, bool *translated);

/* The role of the address alone, without the NAT map. */
int topology_lookup(const struct topology *t, const uint8_t *addr, int ipver);

bool topology_is_nat_device(const struct topology *t, const uint8_t *addr, int ipver);

/* Whether addr is a public address whose translated address plays role. */
bool topology_translated_role(const struct topology *t, const uint8_t *addr, int ipver, int role);

/* capture_point = "outside": the capture sees the Edge's NAT from outside. */
bool topology_capture_outside(const struct topology *t);

/* The client media port range (option client_media_ports; 1024-65535). */
void topology_media_ports(const struct topology *t, uint16_t *lo, uint16_t *hi);

/* Pushes the options in effect (name -> value) onto L, the box's state. */
void topology_push_options(const struct topology *t, lua_State *L);

/* The topology's name and file (NULL when none). */
const char *topology_name(const struct topology *t);
const char *topology_path(const struct topology *t);

#endif
