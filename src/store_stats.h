/* store_stats.h - role_stats rows summed in memory, for both back ends.
 *
 * A GROUP BY over a run's flows at its end cost a tenth of a run, so each
 * back end sums every stored flow into its (src_role, dst_role, transport,
 * dst_port, app) row here and adds the sums to the database at each flush;
 * at most STORE_STATS_MAX rows are held before the back end must flush. */
#ifndef LYNCAUDIT_STORE_STATS_H
#define LYNCAUDIT_STORE_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define STORE_STATS_MAX 65536

struct store_stats;

/* One summed row: its key's five columns and its sums. */
struct store_stat_row {
    const char *src_role, *dst_role, *transport, *app;
    unsigned dst_port;
    uint64_t flows, packets, bytes, violations;
};

/* An empty table, or NULL when out of memory. */
struct store_stats *store_stats_new(void);

/* Sums f into its row. 0, or -1 when out of memory. */
int store_stats_add(struct store_stats *t, const struct store_flow *f);

/* Rows held. */
size_t store_stats_count(const struct store_stats *t);

/* Calls fn per row until it returns non-zero; returns that, or 0. */
int store_stats_each(const struct store_stats *t, int (*fn)(void *ctx, const struct store_stat_row *row),
                     void *ctx);

/* Forgets every row (they were added to the database). */
void store_stats_clear(struct store_stats *t);

void store_stats_free(struct store_stats *t);

#endif
