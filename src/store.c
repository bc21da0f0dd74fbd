#define _GNU_SOURCE /* O_TMPFILE, mkostemp */
/* store.c - the store's interface (store.h) and its SQLite back end; the
 * PostgreSQL back end is store_pg.c, and each public function here hands a
 * PostgreSQL store to it. docs/schema.md. */
#include "store.h"
#include "store_pg.h"
#include "store_stats.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#define STR_(x) #x
#define STR(x) STR_(x)
/* Disk space held beside the database for the whole run and given back
 * when a write fails for want of space, so the run can still be closed. */
#define RESERVE_BYTES (256 * 1024)
struct store {
    struct store_pg *pg;  /* the PostgreSQL back end; NULL: this file's SQLite one */
    sqlite3 *db;
    sqlite3_stmt *ins_flow, *upd_run, *ins_viol, *ins_rule;
    struct store_stats *stats; /* role_stats rows summed since the last flush */
    int64_t run_id;
    int pending;          /* flows queued in the open transaction */
    int pending_viol;     /* their violation rows */
    uint64_t flows_committed, viol_committed; /* what the database really holds of this run */
    int64_t last_flow_id; /* flows.id of the last row store_add_flow wrote */
    bool in_tx;
    int lock_wait_ms;     /* how long a write waits for another writer's lock */
    double wait_started;  /* monotonic seconds when the current wait began; 0: none */
    bool wait_said;       /* the current wait was announced on stderr */
    int reserve_fd;       /* an unnamed preallocated file on the database's file system; -1: none */
    char err[512];
    char path[256];
};

/* high, medium, low as 1, 2, 3: severity in an order ORDER BY can use. */
#define SEVERITY_RANK \
    "INTEGER GENERATED ALWAYS AS (CASE severity WHEN 'high' THEN 1 WHEN 'medium' THEN 2 WHEN 'low' THEN 3 ELSE 4 END) VIRTUAL"

static const char *SCHEMA =
    "CREATE TABLE IF NOT EXISTS runs ("
    " id INTEGER PRIMARY KEY,"
    " started_at TEXT NOT NULL,"
    " finished_at TEXT,"
    " status TEXT NOT NULL DEFAULT 'running',"
    " version TEXT NOT NULL,"
    " ndpi_version TEXT,"
    " sources TEXT NOT NULL,"
    " filter TEXT,"
    " packets INTEGER NOT NULL DEFAULT 0,"
    " bytes INTEGER NOT NULL DEFAULT 0,"
    " undecodable INTEGER NOT NULL DEFAULT 0,"
    " flows INTEGER NOT NULL DEFAULT 0,"
    " flows_evicted INTEGER NOT NULL DEFAULT 0,"
    " message TEXT,"
    " topology TEXT,"
    " topology_name TEXT,"
    " rules_loaded INTEGER NOT NULL DEFAULT 0,"
    " violations INTEGER NOT NULL DEFAULT 0,"
    " pcap_received INTEGER,"
    " pcap_dropped INTEGER,"
    " pcap_ifdropped INTEGER,"
    " icmp_errors INTEGER NOT NULL DEFAULT 0,"
    " tunnelled INTEGER NOT NULL DEFAULT 0,"
    " not_ip INTEGER NOT NULL DEFAULT 0,"
    " truncated INTEGER NOT NULL DEFAULT 0,"
    " malformed INTEGER NOT NULL DEFAULT 0,"
    " bad_link INTEGER NOT NULL DEFAULT 0,"
    " tunnel_depth INTEGER NOT NULL DEFAULT 0,"
    " flows_dropped INTEGER NOT NULL DEFAULT 0,"
    " time_outliers INTEGER NOT NULL DEFAULT 0,"
    " pid INTEGER,"
    " host TEXT,"
    " process_start TEXT,"
    " sensor TEXT,"
    " uuid TEXT,"
    " evidence TEXT,"
    " evidence_flows INTEGER NOT NULL DEFAULT 0,"
    " evidence_packets INTEGER NOT NULL DEFAULT 0,"
    " evidence_cut INTEGER NOT NULL DEFAULT 0,"
    " flows_audited INTEGER,"
    " flows_unconfirmed INTEGER,"
    " label TEXT,"
    " topology_sha256 TEXT,"
    " rules_sha256 TEXT,"
    " rules_version TEXT);"
    "CREATE UNIQUE INDEX IF NOT EXISTS runs_uuid ON runs(uuid);"
    /* The articles the run's rules cite, as the rule set describes them. */
    "CREATE TABLE IF NOT EXISTS documents ("
    " run_id INTEGER NOT NULL REFERENCES runs(id),"
    " doc TEXT NOT NULL,"
    " title TEXT NOT NULL,"
    " ms_date TEXT,"
    " asset_id TEXT,"
    " url TEXT,"
    " PRIMARY KEY (run_id, doc));"
    /* What the run read: each capture's name, size and SHA-256. */
    "CREATE TABLE IF NOT EXISTS run_sources ("
    " run_id INTEGER NOT NULL REFERENCES runs(id),"
    " seq INTEGER NOT NULL,"
    " name TEXT NOT NULL,"
    " path TEXT,"
    " size INTEGER,"
    " sha256 TEXT,"
    " PRIMARY KEY (run_id, seq));"
    /* The site's accepted deviations (--exceptions): a flow one covers has
     * verdict 'excepted' and rule_id = its id. */
    "CREATE TABLE IF NOT EXISTS exceptions ("
    " run_id INTEGER NOT NULL REFERENCES runs(id),"
    " id TEXT NOT NULL,"
    " change_ref TEXT NOT NULL,"
    " reason TEXT NOT NULL,"
    " from_spec TEXT NOT NULL,"
    " to_spec TEXT NOT NULL,"
    " transport TEXT NOT NULL,"
    " dports TEXT NOT NULL,"
    " apps TEXT,"
    " expires TEXT,"
    " source TEXT,"
    " PRIMARY KEY (run_id, id));"
    "CREATE TABLE IF NOT EXISTS flows ("
    " id INTEGER PRIMARY KEY,"
    " run_id INTEGER NOT NULL REFERENCES runs(id),"
    " first_seen TEXT NOT NULL,"
    " last_seen TEXT NOT NULL,"
    " transport TEXT NOT NULL,"
    " ip_version INTEGER NOT NULL,"
    " src_ip TEXT NOT NULL,"
    " src_port INTEGER NOT NULL,"
    " dst_ip TEXT NOT NULL,"
    " dst_port INTEGER NOT NULL,"
    " packets_src2dst INTEGER NOT NULL,"
    " bytes_src2dst INTEGER NOT NULL,"
    " packets_dst2src INTEGER NOT NULL,"
    " bytes_dst2src INTEGER NOT NULL,"
    " app TEXT NOT NULL,"
    " app_detail TEXT,"
    " ndpi_master TEXT,"
    " ndpi_app TEXT,"
    " ndpi_confidence TEXT,"
    " end_reason TEXT NOT NULL,"
    " src_role TEXT NOT NULL DEFAULT 'any',"
    " dst_role TEXT NOT NULL DEFAULT 'any',"
    " verdict TEXT NOT NULL DEFAULT 'unscoped',"
    " rule_id TEXT,"
    " icmp_errors INTEGER NOT NULL DEFAULT 0,"
    " tunnel TEXT,"
    " tunnel_src TEXT,"
    " tunnel_dst TEXT,"
    " tunnel_id INTEGER,"
    " vlan INTEGER,"
    " vlan_inner INTEGER,"
    " community_id TEXT,"
    " msturn_call_id TEXT,"
    " msturn_dialog_id TEXT,"
    " msturn_self_location TEXT,"
    " msturn_peer_location TEXT,"
    " msturn_federation TEXT,"
    " evidence TEXT);"
    /* One index on flows: every index is paid on every insert (a third of
     * the run's time with four), and nearly every question is per run. */
    "CREATE INDEX IF NOT EXISTS flows_run ON flows(run_id, verdict);"
    "CREATE TABLE IF NOT EXISTS violations ("
    " id INTEGER PRIMARY KEY,"
    " run_id INTEGER NOT NULL REFERENCES runs(id),"
    " flow_id INTEGER NOT NULL REFERENCES flows(id),"
    " kind TEXT NOT NULL,"
    " rule_id TEXT,"
    " severity TEXT NOT NULL,"
    " message TEXT NOT NULL,"
    " reference TEXT,"
    " severity_rank " SEVERITY_RANK ");"
    "CREATE INDEX IF NOT EXISTS violations_run ON violations(run_id, kind);"
    "CREATE INDEX IF NOT EXISTS violations_flow ON violations(flow_id);"
    "CREATE TABLE IF NOT EXISTS rules ("
    " run_id INTEGER NOT NULL REFERENCES runs(id),"
    " id TEXT NOT NULL,"
    " kind TEXT NOT NULL,"
    " severity TEXT NOT NULL,"
    " from_roles TEXT NOT NULL,"
    " to_roles TEXT NOT NULL,"
    " transport TEXT NOT NULL,"
    " dports TEXT NOT NULL,"
    " sports TEXT,"
    " apps TEXT,"
    " when_options TEXT,"
    " active INTEGER NOT NULL,"
    " doc TEXT NOT NULL,"
    " doc_table TEXT NOT NULL,"
    " doc_row INTEGER NOT NULL,"
    " row_text TEXT,"
    " note TEXT,"
    " matched INTEGER NOT NULL DEFAULT 0,"
    " severity_rank " SEVERITY_RANK ","
    " unconfirmed INTEGER,"
    " PRIMARY KEY (run_id, id));"
    /* The roles the topology declares, with the flows seen of each: a role
     * with none never appeared in the traffic. */
    "CREATE TABLE IF NOT EXISTS run_roles ("
    " run_id INTEGER NOT NULL REFERENCES runs(id),"
    " role TEXT NOT NULL,"
    " addresses TEXT NOT NULL,"
    " flows INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (run_id, role));"
    "CREATE TABLE IF NOT EXISTS role_stats ("
    " run_id INTEGER NOT NULL REFERENCES runs(id),"
    " src_role TEXT NOT NULL,"
    " dst_role TEXT NOT NULL,"
    " transport TEXT NOT NULL,"
    " dst_port INTEGER NOT NULL,"
    " app TEXT NOT NULL,"
    " flows INTEGER NOT NULL,"
    " packets INTEGER NOT NULL,"
    " bytes INTEGER NOT NULL,"
    " violations INTEGER NOT NULL,"
    " PRIMARY KEY (run_id, src_role, dst_role, transport, dst_port, app));"
    /* Every view names the run's sensor: per sensor with WHERE, across
     * sensors with GROUP BY. */
    "CREATE VIEW IF NOT EXISTS violation_report AS"
    " SELECT v.run_id, ru.sensor, v.id AS violation_id, v.kind, v.severity, v.severity_rank, v.rule_id, v.message, v.reference,"
    " f.id AS flow_id, f.transport, f.src_ip, f.src_port, f.src_role, f.dst_ip, f.dst_port, f.dst_role,"
    " f.app, f.app_detail, f.first_seen, f.last_seen,"
    " f.packets_src2dst + f.packets_dst2src AS packets, f.bytes_src2dst + f.bytes_dst2src AS bytes,"
    " r.doc, r.doc_table, r.doc_row, r.row_text"
    " FROM violations v JOIN flows f ON f.id = v.flow_id JOIN runs ru ON ru.id = v.run_id"
    " LEFT JOIN rules r ON r.run_id = v.run_id AND r.id = v.rule_id;"
    "CREATE VIEW IF NOT EXISTS role_matrix AS"
    " SELECT s.run_id, ru.sensor, src_role, dst_role, sum(s.flows) AS flows, sum(s.packets) AS packets,"
    " sum(s.bytes) AS bytes, sum(s.violations) AS violations"
    " FROM role_stats s JOIN runs ru ON ru.id = s.run_id GROUP BY s.run_id, ru.sensor, src_role, dst_role;"
    "CREATE VIEW IF NOT EXISTS unused_rules AS"
    " SELECT r.run_id, ru.sensor, r.id, kind, from_roles, to_roles, transport, dports, doc, doc_table, doc_row,"
    " row_text FROM rules r JOIN runs ru ON ru.id = r.run_id WHERE active = 1 AND matched = 0 AND kind = 'allow';"
    /* One row per sensor: its runs, the last one's start, what they saw. */
    "CREATE VIEW IF NOT EXISTS unseen_roles AS"
    " SELECT r.run_id, ru.sensor, r.role, r.addresses FROM run_roles r JOIN runs ru ON ru.id = r.run_id"
    " WHERE r.flows = 0;"
    "CREATE VIEW IF NOT EXISTS sensors AS"
    " SELECT sensor, count(*) AS runs, max(started_at) AS last_started_at, sum(packets) AS packets,"
    " sum(flows) AS flows, sum(violations) AS violations FROM runs GROUP BY sensor;"
    /* The flows of one call: its MS-TURN relay flows name the SIP Call-ID. */
    "CREATE VIEW IF NOT EXISTS calls AS"
    " SELECT f.run_id, ru.sensor, msturn_call_id AS call_id, count(*) AS flows,"
    " group_concat(DISTINCT msturn_dialog_id) AS dialog_ids,"
    " group_concat(DISTINCT msturn_federation) AS federation,"
    " min(first_seen) AS first_seen, max(last_seen) AS last_seen,"
    " sum(packets_src2dst + packets_dst2src) AS packets, sum(bytes_src2dst + bytes_dst2src) AS bytes,"
    " sum(verdict = 'violation') AS violations"
    " FROM flows f JOIN runs ru ON ru.id = f.run_id WHERE msturn_call_id IS NOT NULL"
    " GROUP BY f.run_id, ru.sensor, msturn_call_id;";

#define SCHEMA_VERSION 5

/* Version 1 databases (before roles and rules) gain the new columns. */
static const char *MIGRATE_1_2 =
    "ALTER TABLE runs ADD COLUMN topology TEXT;"
    "ALTER TABLE runs ADD COLUMN topology_name TEXT;"
    "ALTER TABLE runs ADD COLUMN rules_loaded INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE runs ADD COLUMN violations INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE runs ADD COLUMN pcap_received INTEGER;"
    "ALTER TABLE runs ADD COLUMN pcap_dropped INTEGER;"
    "ALTER TABLE runs ADD COLUMN pcap_ifdropped INTEGER;"
    "ALTER TABLE runs ADD COLUMN icmp_errors INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE flows ADD COLUMN src_role TEXT NOT NULL DEFAULT 'any';"
    "ALTER TABLE flows ADD COLUMN dst_role TEXT NOT NULL DEFAULT 'any';"
    "ALTER TABLE flows ADD COLUMN verdict TEXT NOT NULL DEFAULT 'unscoped';"
    "ALTER TABLE flows ADD COLUMN rule_id TEXT;"
    "ALTER TABLE flows ADD COLUMN icmp_errors INTEGER NOT NULL DEFAULT 0;";

/* Version 2 databases (before tunnels and VLANs) gain their columns; views
 * that changed are made again by SCHEMA. */
static const char *MIGRATE_2_3 =
    "DROP VIEW IF EXISTS violation_report;"
    "ALTER TABLE violations ADD COLUMN severity_rank " SEVERITY_RANK ";"
    "ALTER TABLE rules ADD COLUMN severity_rank " SEVERITY_RANK ";"
    "ALTER TABLE runs ADD COLUMN tunnelled INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE runs ADD COLUMN not_ip INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE runs ADD COLUMN truncated INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE runs ADD COLUMN malformed INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE runs ADD COLUMN bad_link INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE runs ADD COLUMN tunnel_depth INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE runs ADD COLUMN flows_dropped INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE runs ADD COLUMN time_outliers INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE runs ADD COLUMN pid INTEGER;"
    "ALTER TABLE runs ADD COLUMN host TEXT;"
    "ALTER TABLE runs ADD COLUMN process_start TEXT;"
    "ALTER TABLE flows ADD COLUMN tunnel TEXT;"
    "ALTER TABLE flows ADD COLUMN tunnel_src TEXT;"
    "ALTER TABLE flows ADD COLUMN tunnel_dst TEXT;"
    "ALTER TABLE flows ADD COLUMN tunnel_id INTEGER;"
    "ALTER TABLE flows ADD COLUMN vlan INTEGER;"
    "ALTER TABLE flows ADD COLUMN vlan_inner INTEGER;"
    "ALTER TABLE flows ADD COLUMN community_id TEXT;"
    "ALTER TABLE flows ADD COLUMN msturn_call_id TEXT;"
    "ALTER TABLE flows ADD COLUMN msturn_dialog_id TEXT;"
    "ALTER TABLE flows ADD COLUMN msturn_self_location TEXT;"
    "ALTER TABLE flows ADD COLUMN msturn_peer_location TEXT;"
    "ALTER TABLE flows ADD COLUMN msturn_federation TEXT;"
    "ALTER TABLE runs ADD COLUMN evidence TEXT;"
    "ALTER TABLE runs ADD COLUMN evidence_flows INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE runs ADD COLUMN evidence_packets INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE runs ADD COLUMN evidence_cut INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE flows ADD COLUMN evidence TEXT;";


/* Version 3 databases (one sensor) gain the run's sensor and identity (a
 * random UUID for the runs already there); every view names the sensor now,
 * so each is made again by SCHEMA. */
static const char *MIGRATE_3_4 =
    "DROP VIEW IF EXISTS violation_report;"
    "DROP VIEW IF EXISTS role_matrix;"
    "DROP VIEW IF EXISTS unused_rules;"
    "DROP VIEW IF EXISTS calls;"
    "ALTER TABLE runs ADD COLUMN sensor TEXT;"
    "ALTER TABLE runs ADD COLUMN uuid TEXT;"
    "UPDATE runs SET uuid = lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' ||"
    " substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + abs(random()) % 4, 1) ||"
    " substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)));";

/* Version 4 databases (before issue 17) gain the runs' audited and
 * port-only counts, the rules' port-only count (NULL for the runs already
 * there: not counted then), the run's label, content hashes and rule set
 * version; run_roles, documents, run_sources and exceptions are made by
 * SCHEMA. */
static const char *MIGRATE_4_5 =
    "ALTER TABLE runs ADD COLUMN flows_audited INTEGER;"
    "ALTER TABLE runs ADD COLUMN flows_unconfirmed INTEGER;"
    "ALTER TABLE rules ADD COLUMN unconfirmed INTEGER;"
    "ALTER TABLE runs ADD COLUMN label TEXT;"
    "ALTER TABLE runs ADD COLUMN topology_sha256 TEXT;"
    "ALTER TABLE runs ADD COLUMN rules_sha256 TEXT;"
    "ALTER TABLE runs ADD COLUMN rules_version TEXT;";

static double mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* SQLite's busy handler: waits for another writer's lock, in short sleeps,
 * up to lock_wait_ms; says so once on stderr when a wait passes 2 s. */
static int busy_wait(void *ctx, int count)
{
    struct store *s = ctx;
    double now = mono_seconds();
    if (count == 0 || s->wait_started == 0) {
        s->wait_started = now;
        s->wait_said = false;
    }
    double waited = now - s->wait_started;
    if (waited * 1000 >= s->lock_wait_ms)
        return 0;
    if (waited >= 2 && !s->wait_said) {
        fprintf(stderr, "lyncaudit: %s: locked by another writer; waiting up to %d s\n", s->path,
                s->lock_wait_ms / 1000);
        s->wait_said = true;
    }
    struct timespec nap = {0, count < 10 ? 1000000L : 20000000L}; /* 1 ms, then 20 ms */
    nanosleep(&nap, NULL);
    return 1;
}

static void release_reserve(struct store *s)
{
    if (s->reserve_fd >= 0)
        close(s->reserve_fd);
    s->reserve_fd = -1;
}

/* Records the SQLite error of the last call with what we were doing. A
 * write that failed for want of space gives the reserve back, so that the
 * run's close still fits. */
static int fail(struct store *s, const char *what)
{
    snprintf(s->err, sizeof s->err, "%s: %s: %s", s->path, what,
             s->db ? sqlite3_errmsg(s->db) : "out of memory");
    if (s->db && (sqlite3_errcode(s->db) & 0xff) == SQLITE_FULL)
        release_reserve(s);
    return -1;
}

/* Holds RESERVE_BYTES on the database's file system in a file with no name
 * (it goes away with the process, however it ends). 0, or -1 when the disk
 * has not even that much room; a folder where no such file can be made
 * (the database itself will say why) gets no reserve. */
static int take_reserve(struct store *s)
{
    if (!strcmp(s->path, ":memory:"))
        return 0;
    char dir[sizeof s->path];
    snprintf(dir, sizeof dir, "%s", s->path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
        char tmpl[sizeof dir + 32];
        snprintf(tmpl, sizeof tmpl, "%s/.lyncaudit-reserve-XXXXXX", dir);
        fd = mkostemp(tmpl, O_CLOEXEC);
        if (fd < 0)
            return 0;
        unlink(tmpl);
    }
    int rc = posix_fallocate(fd, 0, RESERVE_BYTES);
    if (rc == ENOSPC || rc == EDQUOT || rc == EFBIG) {
        close(fd);
        snprintf(s->err, sizeof s->err, "%s: cannot write database: %s (lyncaudit needs %d KiB free beside it)",
                 s->path, strerror(rc), RESERVE_BYTES / 1024);
        return -1;
    }
    s->reserve_fd = fd;
    return 0;
}

static int exec(struct store *s, const char *sql, const char *what)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return fail(s, what);
    return 0;
}

/* Days since 1970-01-01 -> civil date (Howard Hinnant's algorithm). */
static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static char *put_digits(char *p, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--, v /= 10)
        p[i] = (char)('0' + v % 10);
    return p + n;
}

/* Written by hand: this runs twice per flow, and snprintf/strftime were a
 * visible share of a run's time. */
void store_format_time(uint64_t us, char out[32])
{
    uint64_t sec = us / 1000000;
    int y;
    unsigned mo, d;
    civil_from_days((int64_t)(sec / 86400), &y, &mo, &d);
    unsigned sod = (unsigned)(sec % 86400);
    if (y < 0 || y > 9999) {
        memcpy(out, "invalid", 8);
        return;
    }
    char *p = put_digits(out, (unsigned)y, 4);
    *p++ = '-';
    p = put_digits(p, mo, 2);
    *p++ = '-';
    p = put_digits(p, d, 2);
    *p++ = 'T';
    p = put_digits(p, sod / 3600, 2);
    *p++ = ':';
    p = put_digits(p, sod / 60 % 60, 2);
    *p++ = ':';
    p = put_digits(p, sod % 60, 2);
    *p++ = '.';
    p = put_digits(p, (unsigned)(us % 1000000), 6);
    *p++ = 'Z';
    *p = '\0';
}

void store_now_text(char out[32])
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    store_format_time((uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec, out);
}

/* Reads a small text file whole (NUL-terminated); false when it cannot. */
static bool read_small(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    size_t n = fread(buf, 1, len - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n > 0;
}

/* What tells a process from a later one given the same pid, in this boot
 * or another: the wall-clock time it started, in seconds with two decimals
 * (its start in clock ticks since boot, field 22 of /proc/PID/stat, placed
 * on the wall clock through CLOCK_BOOTTIME: nothing is read but the
 * process's own /proc entry, which a service's ProcSubset=pid allows);
 * *dead is set for a zombie. False when /proc cannot say (no such process,
 * or hidden from us). */
static bool process_identity(pid_t pid, char *out, size_t outlen, bool *dead)
{
    char path[64], stat[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (!read_small(path, stat, sizeof stat))
        return false;
    /* The name (field 2) is in parentheses and may hold spaces: count from the last ')'. */
    char *p = strrchr(stat, ')');
    if (!p)
        return false;
    char state = p[1] == ' ' ? p[2] : '?';
    for (int field = 3; field <= 22 && p; field++) /* to the space before field 22 */
        p = strchr(p + 1, ' ');
    long hz = sysconf(_SC_CLK_TCK);
    struct timespec rt, bt;
    if (!p || hz <= 0 || clock_gettime(CLOCK_REALTIME, &rt) || clock_gettime(CLOCK_BOOTTIME, &bt))
        return false;
    double booted = (double)(rt.tv_sec - bt.tv_sec) + (double)(rt.tv_nsec - bt.tv_nsec) / 1e9;
    snprintf(out, outlen, "%.2f", booted + strtod(p + 1, NULL) / (double)hz);
    *dead = state == 'Z' || state == 'X';
    return true;
}

/* True when the process that wrote a run row is gone: no such pid, a
 * zombie, or another process now holds the pid (another start time or
 * boot). A process that /proc will not show us is taken as alive. */
static bool writer_gone(pid_t pid, const char *identity)
{
    if (kill(pid, 0) != 0 && errno == ESRCH)
        return true;
    char now[128];
    bool dead = false;
    if (!process_identity(pid, now, sizeof now, &dead))
        return false;
    /* The same start within a second (the wall clock may have been set a
     * little between the two readings): the same process. */
    char *end;
    double then = identity ? strtod(identity, &end) : 0;
    return dead || !identity || end == identity || fabs(strtod(now, NULL) - then) > 1.0;
}

/* Closes as 'killed' the runs of this host left 'running' by a process
 * that is gone (SIGKILL, a crash, power loss), so that the status of every
 * run is true. Runs of other hosts, and rows without a pid (written before
 * schema 3), are left as they are. Inside the open transaction. 0 or -1. */
static int mark_killed(struct store *s)
{
    char host[256] = "", now[32];
    gethostname(host, sizeof host - 1);
    store_now_text(now);
    sqlite3_stmt *sel, *upd;
    if (sqlite3_prepare_v2(s->db, "SELECT id, pid, process_start FROM runs WHERE status = 'running'"
                                  " AND host = ? AND pid IS NOT NULL", -1, &sel, NULL) != SQLITE_OK)
        return fail(s, "cannot read runs");
    if (sqlite3_prepare_v2(s->db, "UPDATE runs SET status = 'killed', message = 'the process (pid ' || pid ||"
                                  " ' on ' || host || ') ended without closing the run; found at ' || ?"
                                  " WHERE id = ?", -1, &upd, NULL) != SQLITE_OK) {
        sqlite3_finalize(sel);
        return fail(s, "cannot read runs");
    }
    sqlite3_bind_text(sel, 1, host, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
        pid_t pid = (pid_t)sqlite3_column_int64(sel, 1);
        if (pid <= 0 || !writer_gone(pid, (const char *)sqlite3_column_text(sel, 2)))
            continue;
        sqlite3_bind_text(upd, 1, now, -1, SQLITE_STATIC);
        sqlite3_bind_int64(upd, 2, sqlite3_column_int64(sel, 0));
        if (sqlite3_step(upd) != SQLITE_DONE)
            rc = SQLITE_ERROR;
        sqlite3_reset(upd);
        if (rc == SQLITE_ERROR)
            break;
    }
    sqlite3_finalize(sel);
    sqlite3_finalize(upd);
    return rc == SQLITE_DONE ? 0 : fail(s, "cannot mark killed runs");
}

bool store_is_url(const char *target)
{
    return !strncmp(target, "postgresql:", 11) || !strncmp(target, "postgres:", 9);
}

const char *store_name(const struct store *s)
{
    return s->pg ? store_pg_target(s->pg) : s->path;
}

const char *store_kind(const struct store *s)
{
    return s->pg ? "postgresql" : "sqlite";
}

/* The database's schema version (PRAGMA user_version), or -1 (said in
 * s->err). The first statement reads the header: a file that is not
 * SQLite fails here. */
static int user_version(struct store *s)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) {
        fail(s, "cannot read database");
        return -1;
    }
    int rc = sqlite3_step(st);
    int ver = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) {
        fail(s, "cannot read database");
        return -1;
    }
    return ver;
}

struct store *store_open(const char *path, int lock_wait_ms, char *err, size_t errlen)
{
    struct store *s = calloc(1, sizeof *s);
    if (!s || (!store_is_url(path) && !(s->stats = store_stats_new()))) {
        snprintf(err, errlen, "%s: out of memory", path);
        free(s);
        return NULL;
    }
    s->reserve_fd = -1;
    if (store_is_url(path)) {
        if (!(s->pg = store_pg_open(path, lock_wait_ms, err, errlen))) {
            free(s);
            return NULL;
        }
        return s;
    }
    snprintf(s->path, sizeof s->path, "%s", path);
    s->run_id = -1;
    s->reserve_fd = -1;
    /* One thread uses the connection at a time (pipeline.h): no mutex per
     * call, and no global allocation statistics (a lock per malloc). Fails
     * harmlessly once SQLite is initialised. */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        fail(s, "cannot open database");
        goto bad;
    }
    s->lock_wait_ms = lock_wait_ms;
    sqlite3_busy_handler(s->db, busy_wait, s);
    sqlite3_extended_result_codes(s->db, 1);
    int ver = user_version(s);
    if (ver < 0)
        goto bad;
    if (ver > SCHEMA_VERSION) {
        snprintf(s->err, sizeof s->err,
                 "%s: database schema version %d is newer than this lyncaudit's (%d)", path, ver,
                 SCHEMA_VERSION);
        goto bad;
    }
    if (take_reserve(s))
        goto bad;
    sqlite3_stmt *jm;
    if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &jm, NULL) == SQLITE_OK) {
        sqlite3_step(jm);
        sqlite3_finalize(jm);
    }
    /* A larger page cache and fewer, larger WAL checkpoints: flows arrive in
     * batches of thousands, and each checkpoint rewrote the same pages. */
    if (exec(s, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-16384;"
                " PRAGMA wal_autocheckpoint=16384;", "cannot set up database") ||
        exec(s, "BEGIN IMMEDIATE", "cannot write database") ||
        (ver == 1 && exec(s, MIGRATE_1_2, "cannot upgrade schema")) ||
        ((ver == 1 || ver == 2) && exec(s, MIGRATE_2_3, "cannot upgrade schema")) ||
        (ver >= 1 && ver <= 3 && exec(s, MIGRATE_3_4, "cannot upgrade schema")) ||
        (ver >= 1 && ver <= 4 && exec(s, MIGRATE_4_5, "cannot upgrade schema")) ||
        exec(s, SCHEMA, "cannot create schema") || mark_killed(s) ||
        exec(s, "PRAGMA user_version=" STR(SCHEMA_VERSION), "cannot write database") ||
        exec(s, "COMMIT", "cannot write database")) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        goto bad;
    }
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO flows(run_id,first_seen,last_seen,transport,ip_version,"
                           "src_ip,src_port,dst_ip,dst_port,packets_src2dst,bytes_src2dst,"
                           "packets_dst2src,bytes_dst2src,app,app_detail,ndpi_master,ndpi_app,"
                           "ndpi_confidence,end_reason,src_role,dst_role,verdict,rule_id,icmp_errors,"
                           "tunnel,tunnel_src,tunnel_dst,tunnel_id,vlan,vlan_inner,community_id,msturn_call_id,"
                           "msturn_dialog_id,msturn_self_location,msturn_peer_location,msturn_federation,evidence) "
                           "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &s->ins_flow, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db,
                           "INSERT INTO violations(run_id,flow_id,kind,rule_id,severity,message,reference) "
                           "VALUES(?,?,?,?,?,?,?)",
                           -1, &s->ins_viol, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db,
                           "UPDATE runs SET packets=?,bytes=?,undecodable=?,flows=?,flows_evicted=?,"
                           "violations=?,pcap_received=?,pcap_dropped=?,pcap_ifdropped=?,icmp_errors=?,"
                           "tunnelled=?,not_ip=?,truncated=?,malformed=?,bad_link=?,tunnel_depth=?,flows_dropped=?,"
                           "time_outliers=?,evidence_flows=?,evidence_packets=?,evidence_cut=?,flows_audited=?,"
                           "flows_unconfirmed=? WHERE id=?",
                           -1, &s->upd_run, NULL) != SQLITE_OK) {
        fail(s, "cannot prepare statements");
        goto bad;
    }
    return s;
bad:
    snprintf(err, errlen, "%s", s->err);
    store_close(s);
    return NULL;
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

void store_new_uuid(char out[37])
{
    uint8_t b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t n = getrandom(b + got, sizeof b - got, 0);
        if (n > 0)
            got += (size_t)n;
        else if (errno != EINTR)
            break;
    }
    if (got < sizeof b) { /* no entropy source: the time and the process tell runs apart */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t v[2] = {(uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec, (uint64_t)getpid()};
        memcpy(b, v, sizeof b);
    }
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    static const char hex[] = "0123456789abcdef";
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[b[i] >> 4];
        *p++ = hex[b[i] & 15];
    }
    *p = '\0';
}

/* The run's documents and inputs (its row written), in its transaction. */
/* The run's exceptions (its row written), in its transaction. */
static int write_exceptions(struct store *s, const struct store_run *r)
{
    sqlite3_stmt *st = NULL;
    if (r->nexceptions && sqlite3_prepare_v2(s->db, "INSERT INTO exceptions(run_id,id,change_ref,reason,from_spec,"
                                                    "to_spec,transport,dports,apps,expires,source)"
                                                    " VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                                             -1, &st, NULL) != SQLITE_OK)
        return fail(s, "cannot start run");
    int rc = SQLITE_DONE;
    for (size_t i = 0; i < r->nexceptions && rc == SQLITE_DONE; i++) {
        const struct store_exception *x = &r->exceptions[i];
        const char *t[] = {x->id, x->change, x->reason, x->from, x->to, x->transport, x->dports,
                           x->apps && *x->apps ? x->apps : NULL, x->expires, x->source};
        sqlite3_bind_int64(st, 1, s->run_id);
        for (int k = 0; k < 10; k++)
            bind_text_or_null(st, 2 + k, t[k]);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : fail(s, "cannot start run");
}

static int write_provenance(struct store *s, const struct store_run *r)
{
    if (write_exceptions(s, r))
        return -1;
    sqlite3_stmt *doc = NULL, *src = NULL;
    if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO documents(run_id,doc,title,ms_date,asset_id,url)"
                                  " VALUES(?,?,?,?,?,?)", -1, &doc, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "INSERT INTO run_sources(run_id,seq,name,path,size,sha256) VALUES(?,?,?,?,?,?)",
                           -1, &src, NULL) != SQLITE_OK) {
        sqlite3_finalize(doc);
        return fail(s, "cannot start run");
    }
    int rc = SQLITE_DONE;
    for (size_t i = 0; i < r->ndocuments && rc == SQLITE_DONE; i++) {
        const struct store_document *d = &r->documents[i];
        const char *t[] = {d->doc, d->title, d->date, d->asset_id, d->url};
        sqlite3_bind_int64(doc, 1, s->run_id);
        for (int k = 0; k < 5; k++)
            bind_text_or_null(doc, 2 + k, t[k]);
        rc = sqlite3_step(doc);
        sqlite3_reset(doc);
    }
    for (size_t i = 0; i < r->ninputs && rc == SQLITE_DONE; i++) {
        const struct store_source *in = &r->inputs[i];
        sqlite3_bind_int64(src, 1, s->run_id);
        sqlite3_bind_int64(src, 2, (sqlite3_int64)i + 1);
        bind_text_or_null(src, 3, in->name);
        bind_text_or_null(src, 4, in->path);
        if (in->size >= 0)
            sqlite3_bind_int64(src, 5, in->size);
        else
            sqlite3_bind_null(src, 5);
        bind_text_or_null(src, 6, in->sha256);
        rc = sqlite3_step(src);
        sqlite3_reset(src);
    }
    sqlite3_finalize(doc);
    sqlite3_finalize(src);
    return rc == SQLITE_DONE ? 0 : fail(s, "cannot start run");
}

int64_t store_begin_run(struct store *s, const struct store_run *r)
{
    if (s->pg)
        return s->run_id = store_pg_begin_run(s->pg, r);
    char now[32], uuid[37];
    store_now_text(now);
    store_new_uuid(uuid);
    sqlite3_stmt *st;
    /* Who writes the run, so that a later open can tell when it died (mark_killed). */
    char host[256] = "", ident[128];
    gethostname(host, sizeof host - 1);
    bool dead;
    bool have_ident = process_identity(getpid(), ident, sizeof ident, &dead);
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO runs(started_at,version,ndpi_version,sources,filter,topology,"
                           "topology_name,rules_loaded,pid,host,process_start,sensor,uuid,evidence,"
                           "label,topology_sha256,rules_sha256,rules_version)"
                           " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        return fail(s, "cannot start run");
    sqlite3_bind_int64(st, 9, (sqlite3_int64)getpid());
    sqlite3_bind_text(st, 10, host, -1, SQLITE_TRANSIENT);
    bind_text_or_null(st, 11, have_ident ? ident : NULL);
    sqlite3_bind_text(st, 1, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, r->version, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->ndpi_version, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->sources, -1, SQLITE_STATIC);
    if (r->filter)
        sqlite3_bind_text(st, 5, r->filter, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 5);
    bind_text_or_null(st, 6, r->topology);
    bind_text_or_null(st, 7, r->topology_name);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)r->rules_loaded);
    bind_text_or_null(st, 12, r->sensor);
    sqlite3_bind_text(st, 13, uuid, -1, SQLITE_TRANSIENT);
    bind_text_or_null(st, 14, r->evidence);
    const char *prov[] = {r->label, r->topology_sha256, r->rules_sha256, r->rules_version};
    for (int i = 0; i < 4; i++)
        bind_text_or_null(st, 15 + i, prov[i]);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return fail(s, "cannot start run");
    s->run_id = sqlite3_last_insert_rowid(s->db);
    return write_provenance(s, r) ? -1 : s->run_id;
}

/* Sums the flow into its role_stats row in memory (store_stats.h), first
 * writing the sums out when they reached their bound. */
static int stats_add(struct store *s, const struct store_flow *f)
{
    if (store_stats_count(s->stats) >= STORE_STATS_MAX && store_flush_stats(s))
        return -1;
    if (store_stats_add(s->stats, f) == 0)
        return 0;
    snprintf(s->err, sizeof s->err, "%s: out of memory", s->path);
    return -1;
}

/* The tunnel and VLAN columns from position i on (NULL where there is none). */
static void bind_tunnel_vlan(sqlite3_stmt *st, int i, const struct store_flow *f)
{
    if (f->tunnel) {
        char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
        int af = f->tunnel_ipver == 6 ? AF_INET6 : AF_INET;
        sqlite3_bind_text(st, i, f->tunnel, -1, SQLITE_STATIC);
        if (inet_ntop(af, f->tunnel_src, a, sizeof a) && inet_ntop(af, f->tunnel_dst, b, sizeof b)) {
            sqlite3_bind_text(st, i + 1, a, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(st, i + 2, b, -1, SQLITE_TRANSIENT);
        }
        if (f->tunnel_id >= 0)
            sqlite3_bind_int64(st, i + 3, f->tunnel_id);
    }
    if (f->vlan)
        sqlite3_bind_int(st, i + 4, (int)f->vlan);
    if (f->vlan_inner)
        sqlite3_bind_int(st, i + 5, (int)f->vlan_inner);
}

int store_add_flow(struct store *s, const struct store_flow *f)
{
    if (s->pg)
        return store_pg_add_flow(s->pg, f);
    if (!s->in_tx) {
        if (exec(s, "BEGIN IMMEDIATE", "cannot write flows"))
            return -1;
        s->in_tx = true;
    }
    char first[32], last[32];
    store_format_time(f->first_us, first);
    store_format_time(f->last_us, last);
    sqlite3_stmt *st = s->ins_flow;
    sqlite3_bind_int64(st, 1, s->run_id);
    sqlite3_bind_text(st, 2, first, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, last, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, f->transport, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, f->ip_version);
    sqlite3_bind_text(st, 6, f->src_ip, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 7, (int)f->src_port);
    sqlite3_bind_text(st, 8, f->dst_ip, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 9, (int)f->dst_port);
    sqlite3_bind_int64(st, 10, (sqlite3_int64)f->pkts_fwd);
    sqlite3_bind_int64(st, 11, (sqlite3_int64)f->bytes_fwd);
    sqlite3_bind_int64(st, 12, (sqlite3_int64)f->pkts_rev);
    sqlite3_bind_int64(st, 13, (sqlite3_int64)f->bytes_rev);
    sqlite3_bind_text(st, 14, f->app, -1, SQLITE_STATIC);
    bind_text_or_null(st, 15, f->app_detail);
    bind_text_or_null(st, 16, f->ndpi_master);
    bind_text_or_null(st, 17, f->ndpi_app);
    bind_text_or_null(st, 18, f->ndpi_confidence);
    sqlite3_bind_text(st, 19, f->end_reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 20, f->src_role ? f->src_role : "any", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 21, f->dst_role ? f->dst_role : "any", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 22, f->verdict ? f->verdict : "unscoped", -1, SQLITE_STATIC);
    bind_text_or_null(st, 23, f->rule_id);
    sqlite3_bind_int64(st, 24, f->icmp_errors);
    bind_tunnel_vlan(st, 25, f);
    bind_text_or_null(st, 31, f->community_id);
    bind_text_or_null(st, 32, f->call_id);
    bind_text_or_null(st, 33, f->dialog_id);
    bind_text_or_null(st, 34, f->self_location);
    bind_text_or_null(st, 35, f->peer_location);
    bind_text_or_null(st, 36, f->federation);
    bind_text_or_null(st, 37, f->evidence);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return fail(s, "cannot write flow");
    sqlite3_int64 flow_id = sqlite3_last_insert_rowid(s->db);
    s->last_flow_id = flow_id;
    for (int i = 0; i < f->nviolations; i++) {
        const struct store_violation *v = &f->violations[i];
        sqlite3_stmt *vs = s->ins_viol;
        sqlite3_bind_int64(vs, 1, s->run_id);
        sqlite3_bind_int64(vs, 2, flow_id);
        sqlite3_bind_text(vs, 3, v->kind, -1, SQLITE_STATIC);
        bind_text_or_null(vs, 4, v->rule_id);
        sqlite3_bind_text(vs, 5, v->severity, -1, SQLITE_STATIC);
        sqlite3_bind_text(vs, 6, v->message, -1, SQLITE_STATIC);
        bind_text_or_null(vs, 7, v->reference);
        rc = sqlite3_step(vs);
        sqlite3_reset(vs);
        sqlite3_clear_bindings(vs);
        if (rc != SQLITE_DONE)
            return fail(s, "cannot write violation");
        s->pending_viol++;
    }
    s->pending++;
    return stats_add(s, f);
}

static int update_run(struct store *s, const struct store_counters *c)
{
    sqlite3_stmt *st = s->upd_run;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)c->packets);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)c->bytes);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)c->undecodable);
    /* Flows and violations as the database holds them (a batch that failed
     * to commit was rolled back and is not counted), not as the caller saw. */
    sqlite3_bind_int64(st, 4, (sqlite3_int64)(s->flows_committed + (uint64_t)s->pending));
    sqlite3_bind_int64(st, 5, (sqlite3_int64)c->flows_evicted);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)(s->viol_committed + (uint64_t)s->pending_viol));
    if (c->live) {
        sqlite3_bind_int64(st, 7, (sqlite3_int64)c->pcap_received);
        sqlite3_bind_int64(st, 8, (sqlite3_int64)c->pcap_dropped);
        sqlite3_bind_int64(st, 9, (sqlite3_int64)c->pcap_ifdropped);
    } else {
        sqlite3_bind_null(st, 7);
        sqlite3_bind_null(st, 8);
        sqlite3_bind_null(st, 9);
    }
    sqlite3_bind_int64(st, 10, (sqlite3_int64)c->icmp_errors);
    sqlite3_bind_int64(st, 11, (sqlite3_int64)c->tunnelled);
    const uint64_t more[] = {c->not_ip,         c->truncated,      c->malformed,        c->bad_link,
                             c->tunnel_depth,   c->flows_dropped,  c->time_outliers,    c->evidence_flows,
                             c->evidence_packets, c->evidence_cut,  c->flows_audited,    c->flows_unconfirmed};
    for (int i = 0; i < 12; i++)
        sqlite3_bind_int64(st, 12 + i, (sqlite3_int64)more[i]);
    sqlite3_bind_int64(st, 24, s->run_id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return fail(s, "cannot update run");
    return 0;
}

int store_commit(struct store *s, const struct store_counters *c)
{
    if (s->pg)
        return store_pg_commit(s->pg, c);
    if (!s->in_tx) {
        if (exec(s, "BEGIN IMMEDIATE", "cannot write run"))
            return -1;
        s->in_tx = true;
    }
    if (update_run(s, c) || exec(s, "COMMIT", "cannot commit")) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        s->in_tx = false;
        s->pending = s->pending_viol = 0;
        return -1;
    }
    s->in_tx = false;
    s->flows_committed += (uint64_t)s->pending;
    s->viol_committed += (uint64_t)s->pending_viol;
    s->pending = s->pending_viol = 0;
    return 0;
}

int store_end_run(struct store *s, const struct store_counters *c, const char *status,
                  const char *message)
{
    if (s->pg)
        return store_pg_end_run(s->pg, c, status, message);
    /* Counters, status and end time land in the same transaction as the
     * last flows: a reader never sees a closed run with flows missing. */
    if (store_begin(s) || update_run(s, c))
        goto bad;
    char now[32];
    store_now_text(now);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "UPDATE runs SET finished_at=?, status=?, message=? WHERE id=?",
                           -1, &st, NULL) != SQLITE_OK) {
        fail(s, "cannot close run");
        goto bad;
    }
    sqlite3_bind_text(st, 1, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
    bind_text_or_null(st, 3, message);
    sqlite3_bind_int64(st, 4, s->run_id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        fail(s, "cannot close run");
        goto bad;
    }
    if (exec(s, "COMMIT", "cannot commit"))
        goto bad;
    s->in_tx = false;
    s->flows_committed += (uint64_t)s->pending;
    s->viol_committed += (uint64_t)s->pending_viol;
    s->pending = s->pending_viol = 0;
    return 0;
bad:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    s->in_tx = false;
    s->pending = s->pending_viol = 0;
    return -1;
}

int store_add_rule(struct store *s, const struct store_rule *r)
{
    if (s->pg)
        return store_pg_add_rule(s->pg, r);
    if (!s->ins_rule && sqlite3_prepare_v2(s->db,
                           "INSERT INTO rules(run_id,id,kind,severity,from_roles,to_roles,transport,"
                           "dports,sports,apps,when_options,active,doc,doc_table,doc_row,row_text,note,matched,"
                           "unconfirmed) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
                           " ON CONFLICT(run_id,id) DO UPDATE SET kind=excluded.kind,severity=excluded.severity,"
                           " from_roles=excluded.from_roles,to_roles=excluded.to_roles,transport=excluded.transport,"
                           " dports=excluded.dports,sports=excluded.sports,apps=excluded.apps,"
                           " when_options=excluded.when_options,active=excluded.active,doc=excluded.doc,"
                           " doc_table=excluded.doc_table,doc_row=excluded.doc_row,row_text=excluded.row_text,"
                           " note=excluded.note,matched=matched+excluded.matched,"
                           " unconfirmed=coalesce(unconfirmed,0)+excluded.unconfirmed",
                           -1, &s->ins_rule, NULL) != SQLITE_OK)
        return fail(s, "cannot write rules");
    sqlite3_stmt *st = s->ins_rule;
    const char *txt[] = {r->id, r->kind, r->severity, r->from, r->to, r->transport, r->dports, r->sports,
                         r->apps, r->when};
    sqlite3_bind_int64(st, 1, s->run_id);
    for (int i = 0; i < 10; i++)
        bind_text_or_null(st, 2 + i, txt[i]);
    sqlite3_bind_int(st, 12, r->active);
    sqlite3_bind_text(st, 13, r->doc ? r->doc : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 14, r->table ? r->table : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 15, r->row);
    bind_text_or_null(st, 16, r->text);
    bind_text_or_null(st, 17, r->note);
    sqlite3_bind_int64(st, 18, (sqlite3_int64)r->matched);
    sqlite3_bind_int64(st, 19, (sqlite3_int64)r->unconfirmed);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : fail(s, "cannot write rules");
}

int store_add_role(struct store *s, const struct store_role *r)
{
    if (s->pg)
        return store_pg_add_role(s->pg, r);
    if (store_begin(s))
        return -1;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO run_roles(run_id,role,addresses,flows) VALUES(?,?,?,?)"
                           " ON CONFLICT(run_id,role) DO UPDATE SET addresses=excluded.addresses,flows=excluded.flows",
                           -1, &st, NULL) != SQLITE_OK)
        return fail(s, "cannot write run roles");
    sqlite3_bind_int64(st, 1, s->run_id);
    sqlite3_bind_text(st, 2, r->role, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->addresses, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)r->flows);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : fail(s, "cannot write run roles");
}

int store_begin(struct store *s)
{
    if (s->pg)
        return store_pg_begin(s->pg);
    if (s->in_tx)
        return 0;
    s->wait_started = 0;
    if (exec(s, "BEGIN IMMEDIATE", "cannot write database"))
        return -1;
    s->in_tx = true;
    return 0;
}

/* Binds and steps the role_stats upsert for one summed row. */
static int stat_row(void *ctx, const struct store_stat_row *row)
{
    sqlite3_stmt *st = ctx;
    sqlite3_bind_text(st, 2, row->src_role, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, row->dst_role, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, row->transport, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 5, (int)row->dst_port);
    sqlite3_bind_text(st, 6, row->app, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)row->flows);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)row->packets);
    sqlite3_bind_int64(st, 9, (sqlite3_int64)row->bytes);
    sqlite3_bind_int64(st, 10, (sqlite3_int64)row->violations);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int store_flush_stats(struct store *s)
{
    if (s->pg)
        return store_pg_flush_stats(s->pg);
    if (!store_stats_count(s->stats))
        return 0;
    if (store_begin(s))
        return -1;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO role_stats(run_id,src_role,dst_role,transport,dst_port,app,"
                           "flows,packets,bytes,violations) VALUES(?,?,?,?,?,?,?,?,?,?)"
                           " ON CONFLICT(run_id,src_role,dst_role,transport,dst_port,app) DO UPDATE SET"
                           " flows=flows+excluded.flows, packets=packets+excluded.packets,"
                           " bytes=bytes+excluded.bytes, violations=violations+excluded.violations",
                           -1, &st, NULL) != SQLITE_OK)
        return fail(s, "cannot write role statistics");
    sqlite3_bind_int64(st, 1, s->run_id);
    int rc = store_stats_each(s->stats, stat_row, st);
    sqlite3_finalize(st);
    if (rc)
        return fail(s, "cannot write role statistics");
    /* Summed into the database: the memory starts again (it holds at most
     * what ended between two flushes, and no more than STORE_STATS_MAX keys). */
    store_stats_clear(s->stats);
    return 0;
}

int store_verdict_summary(struct store *s, int64_t run_id,
                          void (*fn)(const char *what, const char *name, uint64_t n, void *ctx), void *ctx)
{
    if (s->pg)
        return store_pg_verdict_summary(s->pg, run_id, fn, ctx);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT 'verdict', verdict, count(*) FROM flows WHERE run_id=?1 GROUP BY verdict"
                           " UNION ALL SELECT 'violation', kind, count(*) FROM violations WHERE run_id=?1"
                           " GROUP BY kind ORDER BY 1 DESC, 3 DESC",
                           -1, &st, NULL) != SQLITE_OK)
        return fail(s, "cannot read summary");
    sqlite3_bind_int64(st, 1, run_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn((const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
           (uint64_t)sqlite3_column_int64(st, 2), ctx);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : fail(s, "cannot read summary");
}

int store_app_summary(struct store *s, int64_t run_id, int limit,
                      void (*fn)(const struct store_app_row *row, void *ctx), void *ctx)
{
    if (s->pg)
        return store_pg_app_summary(s->pg, run_id, limit, fn, ctx);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT app, count(*), sum(packets_src2dst+packets_dst2src),"
                           " sum(bytes_src2dst+bytes_dst2src) FROM flows WHERE run_id=?"
                           " GROUP BY app ORDER BY 4 DESC, 1 LIMIT ?",
                           -1, &st, NULL) != SQLITE_OK)
        return fail(s, "cannot read summary");
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int(st, 2, limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_app_row row = {(const char *)sqlite3_column_text(st, 0),
                                    (uint64_t)sqlite3_column_int64(st, 1),
                                    (uint64_t)sqlite3_column_int64(st, 2),
                                    (uint64_t)sqlite3_column_int64(st, 3)};
        fn(&row, ctx);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : fail(s, "cannot read summary");
}

int64_t store_last_flow_id(const struct store *s)
{
    return s->last_flow_id;
}

int store_violation_list(struct store *s, int64_t run_id, int limit,
                         void (*fn)(const struct store_violation_row *row, void *ctx), void *ctx)
{
    static const char SQL[] =
        "SELECT violation_id, flow_id, kind, severity, rule_id, message, reference, transport, src_ip, src_port,"
        " src_role, dst_ip, dst_port, dst_role, app, first_seen, last_seen"
        " FROM violation_report WHERE run_id=?1 ORDER BY violation_id LIMIT ?2";
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, SQL, -1, &st, NULL);
    if (rc == SQLITE_OK && sqlite3_bind_int64(st, 1, run_id) == SQLITE_OK && sqlite3_bind_int(st, 2, limit) == SQLITE_OK)
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const char *t[17];
            for (int i = 0; i < 17; i++)
                t[i] = (const char *)sqlite3_column_text(st, i);
            struct store_violation_row row = {sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), t[2], t[3],
                                              t[4], t[5], t[6], t[7], t[8], (unsigned)sqlite3_column_int(st, 9),
                                              t[10], t[11], (unsigned)sqlite3_column_int(st, 12), t[13], t[14],
                                              t[15], t[16]};
            fn(&row, ctx);
        }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : fail(s, "cannot read violations");
}

int store_mark_failed(struct store *s, const char *message)
{
    if (s->pg)
        return store_pg_mark_failed(s->pg, message);
    if (s->in_tx) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        s->in_tx = false;
    }
    char now[32];
    store_now_text(now);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "UPDATE runs SET finished_at=?, status='error', message=? WHERE id=?", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, message, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, s->run_id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

void store_set_lock_wait(struct store *s, int ms)
{
    if (s->pg)
        store_pg_set_lock_wait(s->pg, ms);
    s->lock_wait_ms = ms;
}

bool store_busy(const struct store *s)
{
    if (s->pg)
        return store_pg_busy(s->pg);
    int rc = sqlite3_errcode(s->db) & 0xff;
    return rc == SQLITE_BUSY || rc == SQLITE_LOCKED;
}

uint64_t store_flows_written(const struct store *s)
{
    if (s->pg)
        return store_pg_flows_written(s->pg);
    return s->flows_committed;
}

const char *store_error(const struct store *s)
{
    if (s->pg)
        return store_pg_error(s->pg);
    return s->err;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    store_pg_close(s->pg);
    if (s->in_tx)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_finalize(s->ins_flow);
    sqlite3_finalize(s->upd_run);
    sqlite3_finalize(s->ins_viol);
    sqlite3_finalize(s->ins_rule);
    store_stats_free(s->stats);
    sqlite3_close(s->db);
    release_reserve(s);
    free(s);
}

struct store_pg *store_pg_backend(struct store *s)
{
    return s->pg;
}

struct sqlite3 *store_sqlite_db(struct store *s)
{
    return s->pg ? NULL : s->db;
}

const char *store_sqlite_version(void)
{
    return sqlite3_libversion();
}
