/* rpt_json.c - the report as one JSON document, made by SQLite's JSON
 * functions from the same TEMP tables as the HTML: every column of every
 * table, under the section's key. docs/report.md lists the keys. */
#include "rpt.h"

#include <string.h>

/* Appends json_object('col', alias.col, ...) over the table's columns. */
static int obj_expr(struct rpt *r, sqlite3_str *s, const char *table, const char *alias)
{
    char sql[128];
    snprintf(sql, sizeof sql, "PRAGMA temp.table_info(%s)", table);
    sqlite3_stmt *st = rpt_prepare(r, sql);
    if (!st)
        return -1;
    sqlite3_str_appendall(s, "json_object(");
    for (int i = 0; sqlite3_step(st) == SQLITE_ROW; i++) {
        const char *c = rpt_text(st, 1);
        if (!strcmp(c, "app_detail")) /* a JSON object, as in EVE; an older run's text stays text */
            sqlite3_str_appendf(s, "%s'%s', CASE WHEN json_valid(%s.\"%w\") THEN json(%s.\"%w\") ELSE %s.\"%w\" END",
                                i ? ", " : "", c, alias, c, alias, c, alias, c);
        else
            sqlite3_str_appendf(s, "%s'%s', %s.\"%w\"", i ? ", " : "", c, alias, c);
    }
    sqlite3_finalize(st);
    return 0;
}

/* Appends 'key', (SELECT json_group_array(...) FROM table in rowid order). */
static int array_expr(struct rpt *r, sqlite3_str *s, const char *key, const char *table)
{
    sqlite3_str_appendf(s, ", '%s', json((SELECT json_group_array(", key);
    if (obj_expr(r, s, table, "t"))
        return -1;
    sqlite3_str_appendf(s, ")) FROM (SELECT * FROM %s ORDER BY rowid) t))", table);
    return 0;
}

static int groups_expr(struct rpt *r, sqlite3_str *s)
{
    sqlite3_str_appendall(s, ", 'violation_groups', json((SELECT json_group_array(json_insert(");
    if (obj_expr(r, s, "r_vgroups", "g"))
        return -1;
    sqlite3_str_appendall(s, "), '$.flows', json((SELECT json_group_array(");
    if (obj_expr(r, s, "r_vflows", "f"))
        return -1;
    sqlite3_str_appendall(s, ")) FROM (SELECT * FROM r_vflows WHERE gid = g.gid ORDER BY n) f)))) FROM"
                             " (SELECT * FROM r_vgroups ORDER BY gid) g))");
    return 0;
}

int rpt_write_json(struct rpt *r, FILE *out)
{
    sqlite3_str *s = sqlite3_str_new(r->db);
    sqlite3_str_appendall(s, "SELECT json_object('format', 'lyncaudit-report', 'format_version', 1, 'run', json((SELECT ");
    int rc = obj_expr(r, s, "r_run", "t");
    sqlite3_str_appendall(s, ") FROM r_run t))");
    static const char *const SECTIONS[][2] = {
        {"verdicts", "r_verdicts"}, {"compliance", "r_compliance"}, {"roles", "r_nodes"},
        {"paths", "r_edges"},       {"ports_to_close", "r_close"},  {"expected_missing", "r_missing"},
        {"excepted", "r_excepted"},
    };
    for (size_t i = 0; !rc && i < sizeof SECTIONS / sizeof SECTIONS[0]; i++)
        rc = array_expr(r, s, SECTIONS[i][0], SECTIONS[i][1]);
    rc = rc || groups_expr(r, s);
    sqlite3_str_appendall(s, ", 'since', json(CASE WHEN ?2 IS NULL THEN NULL ELSE json_object('run', ?2");
    rc = rc || array_expr(r, s, "paths", "r_diff_paths") || array_expr(r, s, "violations", "r_diff_viol");
    sqlite3_str_appendall(s, ") END))");
    char *sql = sqlite3_str_finish(s);
    if (rc || !sql) {
        sqlite3_free(sql);
        return -1;
    }
    sqlite3_stmt *st = rpt_prepare(r, sql);
    sqlite3_free(sql);
    if (!st)
        return -1;
    rc = sqlite3_step(st) == SQLITE_ROW ? 0 : -1;
    if (rc)
        snprintf(r->err, sizeof r->err, "%s: %s", r->db_path, sqlite3_errmsg(r->db));
    else
        fprintf(out, "%s\n", rpt_text(st, 0));
    sqlite3_finalize(st);
    return rc;
}
