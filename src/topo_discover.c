/* topo_discover.c - a topology proposed from traffic alone (topo_discover.h).
 *
 * The captures go through the normal pipeline (this same program, in a
 * child process) into a temporary database with an empty topology; then one
 * query per host over the flows table tells which Lync services the host
 * answered on (it is the flow's destination: the other end opened it), from
 * how many peers, in how many flows. Each service points to roles (the
 * documents' port tables); a host's role is the one most of its services
 * point to, and the confidence says how many did. */
#define _GNU_SOURCE
#include "topo_discover.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "run.h"
#include "topo_cmd.h"

#define EXIT_TROUBLE 2
#define MAX_HOSTS 4096

enum { D_FE, D_EINT, D_EACC, D_EWEB, D_EAV, D_MED, D_GW, D_FED, D_XMPP, D_N };
static const char *const DROLE[D_N] = {"front_end", "edge_internal", "edge_access",        "edge_webconf", "edge_av",
                                       "mediation", "pstn_gateway",  "federation_partner", "xmpp_partner"};

/* A service a host answers on, and the roles it points to (bit per D_*),
 * from the documents' port tables. Checked in order: the first that fits. */
struct sig {
    const char *name, *transport;
    int lo, hi;
    const char *apps; /* comma list of labels, or NULL: any */
    unsigned roles;
};
#define B(x) (1u << (x))
static const struct sig SIGS[] = {
    {"MS-TURN/STUN on UDP 3478", "udp", 3478, 3478, "msturn,stun", B(D_EAV) | B(D_EINT)},
    {"MS-TURN on TCP 443", "tcp", 443, 443, "msturn,stun", B(D_EAV) | B(D_EINT)},
    {"PSOM on TCP 443", "tcp", 443, 443, "psom", B(D_EWEB)},
    {"SIP/TLS on TCP 443", "tcp", 443, 443, "sip_tls", B(D_EACC)},
    {"TLS on TCP 443", "tcp", 443, 443, "tls", B(D_EACC) | B(D_EWEB) | B(D_FE)},
    {"XMPP on TCP 5269", "tcp", 5269, 5269, NULL, B(D_EACC)},
    {"XMPP gateway/proxy on TCP 23456", "tcp", 23456, 23456, NULL, B(D_EINT)},
    {"PSOM on TCP 8057", "tcp", 8057, 8057, NULL, B(D_EINT) | B(D_FE)},
    {"HTTPS on TCP 4443 (replication, external web)", "tcp", 4443, 4443, NULL, B(D_EINT) | B(D_FE)},
    {"Mediation SIP on TCP 5067/5068", "tcp", 5067, 5068, NULL, B(D_MED)},
    {"Mediation SIP on TCP 5070", "tcp", 5070, 5070, NULL, B(D_MED) | B(D_FE)},
    {"gateway SIP on TCP 5066", "tcp", 5066, 5066, NULL, B(D_GW)},
    {"SIP/TLS on TCP 5061", "tcp", 5061, 5061, NULL, B(D_FE) | B(D_EINT) | B(D_EACC)},
    {"Front End SIP on TCP 5062-5087", "tcp", 5062, 5087, NULL, B(D_FE)},
    {"SIP on TCP 5060", "tcp", 5060, 5060, "sip", B(D_FE) | B(D_GW) | B(D_MED)},
    {"SIP on UDP 5060", "udp", 5060, 5060, "sip", B(D_FE) | B(D_GW) | B(D_MED)},
    {"A/V relay ports 50000-59999", "udp", 50000, 59999, NULL, B(D_EAV)},
    {"A/V relay ports 50000-59999", "tcp", 50000, 59999, NULL, B(D_EAV)},
};
#define NSIGS (sizeof SIGS / sizeof SIGS[0])
#define SIG_RELAY_UDP (NSIGS - 2)
#define SIG_XMPP 5
#define SIG_SIP5061 12

struct host {
    char ip[64];
    unsigned flows[NSIGS], peers[NSIGS];
    char peer_list[NSIGS][160];
    unsigned served_by_servers; /* flows on 5061/8057 from hosts that serve SIP themselves */
    char sni[96];               /* a TLS server name the host answered to */
};

static bool app_in(const char *list, const char *app)
{
    if (!list)
        return true;
    size_t n = strlen(app);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t k = e ? (size_t)(e - p) : strlen(p);
        if (k == n && !strncmp(p, app, n))
            return true;
        p += k + (e ? 1 : 0);
    }
    return false;
}

static int sig_of(const char *transport, int port, const char *app)
{
    for (size_t i = 0; i < NSIGS; i++)
        if (!strcmp(SIGS[i].transport, transport) && port >= SIGS[i].lo && port <= SIGS[i].hi && app_in(SIGS[i].apps, app))
            return (int)i;
    return -1;
}

/* Runs this program over the captures into db (topology topo: no roles). */
static int run_pipeline(const char *db, const char *topo, int ncap, char **caps)
{
    char **args = calloc((size_t)ncap + 8, sizeof *args);
    if (!args)
        return -1;
    int k = 0;
    args[k++] = "lyncaudit";
    args[k++] = "-q";
    args[k++] = "-d";
    args[k++] = (char *)db;
    args[k++] = "-t";
    args[k++] = (char *)topo;
    for (int i = 0; i < ncap; i++)
        args[k++] = caps[i];
    pid_t pid = fork();
    if (pid == 0) {
        execv("/proc/self/exe", args);
        _exit(127);
    }
    free(args);
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) < 0)
        return -1;
    /* With no roles nothing is audited (3); 0 and 1 cannot come, but would
     * be a read to the end too. 2 is trouble. */
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return code == RUN_EXIT_NOTHING_AUDITED || code == RUN_EXIT_COMPLIANT || code == RUN_EXIT_VIOLATIONS ? 0 : -1;
}

static struct host *host_of(struct host *h, int *n, const char *ip)
{
    for (int i = 0; i < *n; i++)
        if (!strcmp(h[i].ip, ip))
            return &h[i];
    if (*n >= MAX_HOSTS)
        return NULL;
    struct host *x = &h[(*n)++];
    memset(x, 0, sizeof *x);
    snprintf(x->ip, sizeof x->ip, "%s", ip);
    return x;
}

/* The first TLS server name (SNI) each host answered to: app_detail's
 * "sni", or in a run older than JSON app_detail the text after "sni=".
 * A peer chose it: only its leading host-name characters are kept, as it
 * is written into a comment of the topology. */
#define HOST_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_*"

static int read_names(sqlite3 *db, struct host *h, int n)
{
    static const char *SQL = "SELECT dst_ip, CASE WHEN json_valid(app_detail) THEN json_extract(app_detail, '$.sni')"
                             " WHEN app_detail LIKE '%sni=%' THEN substr(app_detail, instr(app_detail, 'sni=') + 4) END FROM flows"
                             " WHERE app_detail LIKE '%sni%' ORDER BY id";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, SQL, -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *ip = (const char *)sqlite3_column_text(st, 0);
        const char *sni = (const char *)sqlite3_column_text(st, 1);
        for (int i = 0; sni && i < n; i++)
            if (!strcmp(h[i].ip, ip) && !h[i].sni[0])
                snprintf(h[i].sni, sizeof h[i].sni, "%.*s", (int)strspn(sni, HOST_CHARS), sni);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Per host and service: flows and peers, from the flows table. */
static int read_flows(sqlite3 *db, struct host *h, int *n)
{
    static const char *SQL =
        "SELECT dst_ip, transport, dst_port, app, count(*), count(DISTINCT src_ip), group_concat(DISTINCT src_ip),"
        " sum(src_ip IN (SELECT dst_ip FROM flows WHERE transport = 'tcp' AND dst_port = 5061))"
        " FROM flows WHERE transport IN ('tcp', 'udp') GROUP BY 1, 2, 3, 4 ORDER BY 1";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, SQL, -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int port = sqlite3_column_int(st, 2);
        int s = sig_of((const char *)sqlite3_column_text(st, 1), port, (const char *)sqlite3_column_text(st, 3));
        if (s < 0)
            continue;
        struct host *x = host_of(h, n, (const char *)sqlite3_column_text(st, 0));
        if (!x)
            break;
        x->flows[s] += (unsigned)sqlite3_column_int(st, 4);
        x->peers[s] += (unsigned)sqlite3_column_int(st, 5);
        size_t u = strlen(x->peer_list[s]);
        snprintf(x->peer_list[s] + u, sizeof x->peer_list[s] - u, "%s%s", u ? "," : "",
                 (const char *)sqlite3_column_text(st, 6));
        if (port == 5061 || port == 8057)
            x->served_by_servers += (unsigned)sqlite3_column_int(st, 7);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? read_names(db, h, *n) : -1;
}

static bool turn_seen(const struct host *x)
{
    return x->flows[0] || x->flows[1];
}

/* The role most of the host's services point to (-1: none); *agree is how
 * many point to it, *total how many the host answered on, *tie whether
 * another role got as many. Relay ports count only on a TURN server (clients
 * receive media on the same ports). */
static int decide(const struct host *x, int *agree, int *total, bool *tie)
{
    int votes[D_N] = {0};
    *total = 0;
    for (size_t s = 0; s < NSIGS; s++) {
        if (!x->flows[s] || (s >= SIG_RELAY_UDP && !turn_seen(x)))
            continue;
        (*total)++;
        for (int r = 0; r < D_N; r++)
            votes[r] += (SIGS[s].roles >> r) & 1u;
    }
    /* SIP and PSOM from other servers (not clients): an Edge's internal side;
     * TURN with nothing of the internal side: the A/V Edge's external side.
     * The Edge certificate names the documents use: sip.<domain> for the
     * Access Edge, webconf.<domain> for Web Conferencing. */
    int bonus[D_N] = {0};
    bonus[D_EINT] = x->served_by_servers && votes[D_EINT];
    bonus[D_EAV] = votes[D_EAV] && !x->served_by_servers;
    bonus[D_EACC] = !strncmp(x->sni, "sip.", 4) && votes[D_EACC];
    bonus[D_EWEB] = !strncmp(x->sni, "webconf.", 8) && votes[D_EWEB];
    int best = -1;
    for (int r = 0; r < D_N; r++) {
        votes[r] = votes[r] * 2 + bonus[r];
        if (votes[r] && (best < 0 || votes[r] > votes[best]))
            best = r;
    }
    *tie = false;
    for (int r = 0; best >= 0 && r < D_N; r++)
        *tie = *tie || (r != best && votes[r] == votes[best]);
    *agree = best >= 0 ? votes[best] / 2 : 0;
    return best;
}

static const char *confidence(int agree, int total, bool tie)
{
    if (tie)
        return "low";
    return total >= 2 && agree >= total ? "high" : agree * 2 > total ? "medium" : "low";
}

/* Whether every peer of service s of x holds role r. */
static bool peers_are(const struct host *h, int n, const int *role, const struct host *x, size_t s, int r)
{
    char list[160];
    snprintf(list, sizeof list, "%s", x->peer_list[s]);
    int seen = 0;
    for (char *save = NULL, *ip = strtok_r(list, ",", &save); ip; ip = strtok_r(NULL, ",", &save)) {
        int k = 0;
        while (k < n && strcmp(h[k].ip, ip))
            k++;
        if (k == n || role[k] != r)
            return false;
        seen++;
    }
    return seen > 0;
}

/* Hosts that answer only our own servers: the far end of a federation or
 * XMPP link our Access Edge opened, or a gateway the Mediation Server calls. */
static int by_peers(const struct host *h, int n, const int *role, int i)
{
    const struct host *x = &h[i];
    int only = -1, count = 0;
    for (size_t s = 0; s < NSIGS; s++)
        if (x->flows[s])
            only = (int)s, count++;
    if (count != 1)
        return -1;
    if (only == SIG_XMPP && peers_are(h, n, role, x, (size_t)only, D_EACC))
        return D_XMPP;
    if (only == SIG_SIP5061 && peers_are(h, n, role, x, (size_t)only, D_EACC))
        return D_FED;
    if (strstr(SIGS[only].name, "SIP on") && peers_are(h, n, role, x, (size_t)only, D_MED))
        return D_GW;
    return -1;
}

static void write_evidence(FILE *out, const struct host *x)
{
    for (size_t s = 0; s < NSIGS; s++)
        if (x->flows[s])
            fprintf(out, "      --   %s: %u flow%s from %u peer%s (%s)\n", SIGS[s].name, x->flows[s],
                    x->flows[s] == 1 ? "" : "s", x->peers[s], x->peers[s] == 1 ? "" : "s", x->peer_list[s]);
}

static int write_topology(FILE *out, struct host *h, int n, int ncap, char **caps)
{
    fprintf(out, "-- Proposed by `lyncaudit topology discover` from the traffic in:");
    for (int i = 0; i < ncap; i++)
        fprintf(out, " %s", caps[i]);
    fprintf(out, "\n-- Each host below answered on the Lync services listed; its role is the one\n"
                 "-- most of them point to. Check every entry before an audit relies on it.\n"
                 "return {\n  name = \"discovered\",\n  roles = {\n");
    int *role = calloc((size_t)n + 1, sizeof *role), placed = 0;
    char (*why)[96] = calloc((size_t)n + 1, sizeof *why);
    if (!role || !why) {
        free(role);
        free(why);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        int agree, total;
        bool tie;
        role[i] = decide(&h[i], &agree, &total, &tie);
        if (role[i] >= 0 && agree * 2 <= total)
            role[i] = -1; /* no role has most of its services: listed, not placed */
        snprintf(why[i], sizeof why[i], "confidence %s (%d of %d services point to it%s)",
                 confidence(agree, total, tie), agree, total, tie ? "; as many point elsewhere" : "");
    }
    for (int i = 0; i < n; i++) {
        int p = by_peers(h, n, role, i);
        if (p >= 0) {
            role[i] = p;
            snprintf(why[i], sizeof why[i], "confidence medium (it answers only our %s)",
                     p == D_GW ? "Mediation Server" : "Access Edge");
        }
    }
    for (int i = 0; i < n; i++) {
        if (role[i] < 0)
            continue;
        placed++;
        fprintf(out, "    -- %s: %s, %s%s%s\n", h[i].ip, DROLE[role[i]], why[i], h[i].sni[0] ? ", TLS name " : "",
                h[i].sni);
        write_evidence(out, &h[i]);
    }
    for (int r = 0; r < D_N; r++) {
        int k = 0;
        for (int i = 0; i < n; i++)
            if (role[i] == r) {
                if (!k)
                    fprintf(out, "    %s = {", DROLE[r]);
                fprintf(out, " \"%s\",", h[i].ip);
                k++;
            }
        if (k)
            fprintf(out, " },\n");
    }
    fprintf(out, "  },\n");
    for (int i = 0; i < n; i++)
        if (role[i] < 0) {
            fprintf(out, "  -- not placed: %s (its services point to no one role)\n", h[i].ip);
            write_evidence(out, &h[i]);
        }
    fprintf(out, "  options = {},\n}\n");
    free(role);
    free(why);
    return placed;
}

/* The proposal for the captures, as text in *text. */
static int discover(int ncap, char **caps, char **text, size_t *len)
{
    char dir[] = "/tmp/lyncaudit-discover-XXXXXX", db[64], topo[64];
    if (!mkdtemp(dir)) {
        fprintf(stderr, "lyncaudit: discover: cannot make a temporary folder: %s\n", strerror(errno));
        return -1;
    }
    snprintf(db, sizeof db, "%s/flows.db", dir);
    snprintf(topo, sizeof topo, "%s/none.lua", dir);
    FILE *f = fopen(topo, "w");
    int rc = f && fputs("return { name = \"discover\", roles = {} }\n", f) >= 0 ? 0 : -1;
    if (f && fclose(f))
        rc = -1;
    if (!rc && run_pipeline(db, topo, ncap, caps)) {
        fprintf(stderr, "lyncaudit: discover: reading the captures failed (the error is above)\n");
        rc = -1;
    }
    sqlite3 *sq = NULL;
    struct host *h = rc ? NULL : calloc(MAX_HOSTS, sizeof *h);
    int n = 0;
    if (h && (sqlite3_open_v2(db, &sq, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK || read_flows(sq, h, &n))) {
        fprintf(stderr, "lyncaudit: discover: %s: %s\n", db, sq ? sqlite3_errmsg(sq) : "cannot open");
        rc = -1;
    }
    sqlite3_close(sq);
    FILE *mem = h && !rc ? open_memstream(text, len) : NULL;
    if (mem) {
        int placed = write_topology(mem, h, n, ncap, caps);
        rc = fclose(mem) || placed < 0 ? -1 : 0;
        fprintf(stderr, "lyncaudit: discover: %d host%s answered on Lync services, %d placed\n", n, n == 1 ? "" : "s",
                placed);
    } else if (!rc) {
        rc = -1;
    }
    free(h);
    unlink(db);
    char wal[80];
    snprintf(wal, sizeof wal, "%s-wal", db);
    unlink(wal);
    snprintf(wal, sizeof wal, "%s-shm", db);
    unlink(wal);
    snprintf(wal, sizeof wal, "%s-journal", db);
    unlink(wal);
    unlink(topo);
    rmdir(dir);
    return rc;
}

int topo_discover_main(int argc, char **argv)
{
    const char *out = NULL;
    char **caps = calloc((size_t)argc + 1, sizeof *caps);
    int ncap = 0;
    for (int i = 1; caps && i < argc; i++) {
        if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) && i + 1 < argc)
            out = argv[++i];
        else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "lyncaudit: topology discover: unknown option or missing value '%s'\n", argv[i]);
            free(caps);
            return EXIT_TROUBLE;
        } else
            caps[ncap++] = argv[i];
    }
    if (ncap == 0) {
        fprintf(stderr, "lyncaudit: topology discover: CAPTURE missing (lyncaudit topology --help)\n");
        free(caps);
        return EXIT_TROUBLE;
    }
    char *text = NULL;
    size_t len = 0;
    int rc = discover(ncap, caps, &text, &len);
    if (!rc)
        rc = topo_write_file(out, text, len);
    free(text);
    free(caps);
    return rc ? EXIT_TROUBLE : 0;
}
