/* community.h - a flow's Community ID, as Zeek and Suricata write it.
 *
 * Version 1 of the Community ID flow hash (github.com/corelight/community-id-spec):
 * "1:" and the base64 of the SHA-1 of seed, the two (address, port) ends in
 * order (the smaller first), the IP protocol and a pad byte. Seed 0, as the
 * tools use by default, so a lyncaudit flow joins the same flow in their logs. */
#ifndef LYNCAUDIT_COMMUNITY_H
#define LYNCAUDIT_COMMUNITY_H

#include <stdbool.h>
#include <stddef.h>

#include "flow.h"

/* The flow's Community ID in out (at least 32 bytes). False for ICMP and
 * ICMPv6 (the hash wants a type and code, which a flow does not keep). */
bool community_id(const struct flow *f, char *out, size_t len);

#endif
