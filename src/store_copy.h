/* store_copy.h - runs copied between the two back ends.
 *
 * export: a sensor's SQLite file into the central PostgreSQL database, for
 * sensors that ran offline. A run is known by its uuid (runs.uuid): one
 * already there with the same status and flow count is skipped, one that
 * changed since (exported while it ran) is replaced; each run is one
 * transaction. Ids are the central database's own; everything else is the
 * same, column for column (every column both schemas have).
 *
 * report: `lyncaudit report` reads SQLite; a PostgreSQL run (and the --since
 * run) is first copied into a SQLite database in memory, with its ids. */
#ifndef LYNCAUDIT_STORE_COPY_H
#define LYNCAUDIT_STORE_COPY_H

#include <stdint.h>
#include <stdio.h>

#include "store.h"

/* `lyncaudit export SQLITE_DB TARGET [--run N] [-q]` (argv[0] is "export");
 * returns the exit code (0 done, 2 trouble). */
int export_main(int argc, char **argv);

/* Copies run `run` (0: every run) of the SQLite store `from` into the
 * PostgreSQL store `to`, saying per run what was done on log (NULL: quiet).
 * 0, or -1 with the reason in err. */
int store_copy_export(struct store *from, int64_t run, struct store *to, FILE *log, char *err, size_t errlen);

/* Copies run *run (0: the last one, of `sensor` when not NULL) and run
 * `since` (0: none) of the PostgreSQL store `from` into the SQLite store
 * `to`, with their ids; *run becomes the run copied (0: there was none).
 * 0, or -1 with the reason in err. */
int store_copy_for_report(struct store *from, int64_t *run, int64_t since, const char *sensor, struct store *to,
                          char *err, size_t errlen);

#endif
