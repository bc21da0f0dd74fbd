/* except.h - site exceptions: accepted deviations from the documents.
 *
 * An --exceptions file (Lua, the language of lua/exceptions.lua, run in the
 * same sandbox as the topology and rules: luabox.h) lists the paths a site
 * accepted against the documents, each with a change reference, a reason
 * and optionally an expiry date. The record stage applies them after the
 * audit (record.h): a flow with violations that an exception covers gets the
 * verdict "excepted" and no violations, its rule_id the exception's id; one
 * whose exception expired before the flow began keeps its violations and
 * gains an "expired_exception" one. Flows without violations are left alone. */
#ifndef LYNCAUDIT_EXCEPT_H
#define LYNCAUDIT_EXCEPT_H

#include <stddef.h>
#include <stdint.h>

#include "audit.h"

struct except_set;

/* Loads the file at path with lua_dir/exceptions.lua, the roles being a's.
 * NULL with "file:line: what" in err. */
struct except_set *except_load(const char *lua_dir, const char *path, const struct audit *a, char *err,
                               size_t errlen);
void except_free(struct except_set *e);

/* Applies the exceptions to the audited flow f (which began at first_us,
 * microseconds since the epoch) and its result r (see above). e may be NULL. */
void except_apply(const struct except_set *e, const struct audit_flow *f, uint64_t first_us,
                  struct audit_result *r);

/* One exception as the `exceptions` table stores it. */
struct except_info {
    const char *id, *change, *reason, *from, *to, *transport, *dports, *apps, *expires, *at;
};
size_t except_count(const struct except_set *e);
void except_info(const struct except_set *e, size_t i, struct except_info *out);

#endif
