/* main.c - lyncaudit: command line, the run, signals.
 *
 * Wires the stages together: source -> decode -> flow on this thread, then
 * classify -> audit -> store through the pipeline (threads), then the report. The only global mutable state of the program is the
 * signal flag below. */
#define _GNU_SOURCE /* sched_getaffinity */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sched.h>
#include <sys/stat.h>
#include <time.h>
#include <grp.h>
#include <pwd.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit.h"
#include "classify.h"
#include "decode.h"
#include "flow.h"
#include "pipeline.h"
#include "report.h"
#include "rpt.h"
#include "source.h"
#include "store.h"
#include "topo_cmd.h"

#ifndef LYNCAUDIT_VERSION
#define LYNCAUDIT_VERSION "0.1.0"
#endif

#define EXIT_COMPLIANT 0
#define EXIT_VIOLATIONS 1
#define EXIT_TROUBLE 2

/* Signal state: the program's only global mutable state. */
static volatile sig_atomic_t g_stop;    /* SIGINT/SIGTERM seen: finish cleanly */
static volatile sig_atomic_t g_reload;  /* SIGHUP seen: reload topology and rules */
static struct source *volatile g_live;  /* the live source, to break its wait */
static char g_where[600];               /* "file:line" of the Lua statement being loaded */

#define LOAD_SECONDS 4

/* A topology or rule file whose load does not end (a library call in C
 * that no instruction limit sees): say where, and stop before anything is
 * written. */
static void on_load_alarm(int sig)
{
    (void)sig;
    char m[800];
    int n = snprintf(m, sizeof m, "lyncaudit: %s: still loading after %d s (a call that does not end?)\n",
                     g_where[0] ? g_where : "topology or rules", LOAD_SECONDS);
    if (n > 0) {
        ssize_t w = write(STDERR_FILENO, m, (size_t)n < sizeof m ? (size_t)n : sizeof m - 1);
        (void)w;
    }
    _exit(EXIT_TROUBLE);
}

/* The first SIGINT/SIGTERM asks for a clean end; a second one exits at once.
 * SQLite's journal keeps the database consistent: the open batch is rolled
 * back, the run row stays "running" with no finish time. */
static void on_signal(int sig)
{
    if (sig == SIGHUP) {
        g_reload = 1;
        return;
    }
    if (g_stop) {
        static const char m[] = "lyncaudit: second signal: exiting at once\n";
        ssize_t w = write(STDERR_FILENO, m, sizeof m - 1);
        (void)w;
        _exit(EXIT_TROUBLE);
    }
    g_stop = 1;
    if (g_live)
        source_break(g_live);
}

struct options {
    const char *db_path;
    char **files;
    int nfiles;
    char *filter;
    int quiet, verbose, json;
    long idle_timeout; /* seconds; -1: per-transport defaults */
    long max_flows;
    const char *topology;  /* -t; NULL: topology.lua in the working folder if there */
    const char *rules_dir; /* --rules; NULL: the rules/ folder found beside lua/ */
    const char *iface;     /* -i: live capture */
    struct source_live live;
    int list_ifaces;       /* -D */
    const char *user;      /* -Z; NULL: nobody when root */
    long stats_every;      /* --stats seconds; 0 none */
    long duration;         /* --duration seconds; 0 none */
    long count;            /* --count packets; 0 none */
    int single_thread;     /* --single-thread */
    struct decode_opts decode; /* --vxlan-port */
    int vlan_flows;        /* --vlan-flows */
};

/* A run: the stages' handles. counters are the reader's (this thread's);
 * flows and violations come back from the pipeline at its end. */
struct run {
    struct classify *cls;
    struct audit *audit;
    struct store *store;
    struct pipeline *pl;
    const struct options *opt;
    struct store_counters counters;
    bool store_failed;
};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: lyncaudit [options] FILE... [FILTER]\n"
            "       lyncaudit [options] -i IFACE [FILTER]\n"
            "       lyncaudit topology import|check|discover ...  (lyncaudit topology --help)\n"
            "       lyncaudit report DB [--run N] [--since RUN] [-o FILE] [--format html|json|md]\n"
            "Audit Lync Server 2013 / Skype for Business traffic in capture files (pcap or\n"
            "pcapng, several in a row as one run) or live on an interface (a SPAN port), and\n"
            "store every flow, its roles, verdict and violations in SQLite.\n"
            "A trailing tcpdump-style FILTER expression selects packets (e.g. 'udp port 3478').\n"
            "\n"
            "Options:\n"
            "  -d, --database FILE    SQLite database to append this run to (default: lyncaudit.db)\n"
            "  -t, --topology FILE    the deployment: roles, NAT, options (Lua; default: topology.lua\n"
            "                         in the working folder if it exists, else no roles: nothing audited)\n"
            "      --rules DIR        the rule files (default: the rules/ folder installed with lyncaudit)\n"
            "  -q, --quiet            print nothing but errors\n"
            "  -v, --verbose          say more (threads, per file, undecodable packets)\n"
            "      --json             print the end-of-run summary as JSON on stdout\n"
            "      --count N          stop after N packets\n"
            "      --single-thread    do all the work on one thread (default: nDPI and the Lync\n"
            "                         dissectors on a second thread when the process may use two\n"
            "                         CPUs or more; the results are the same)\n"
            "      --duration S       stop after S seconds\n"
            "      --vxlan-port N     VXLAN on UDP port N too (always on 4789; Geneve on 6081)\n"
            "      --vlan-flows       the VLAN id is part of a flow's key: the same addresses and\n"
            "                         ports on two VLANs are two flows (default: one, as tshark)\n"
            "\n"
            "Live capture:\n"
            "  -i, --interface IFACE  capture on IFACE ('any' for all); flows are written as they\n"
            "                         end and the database is committed every 2 s\n"
            "  -D, --list-interfaces  list the interfaces and exit\n"
            "  -p, --no-promiscuous   do not put the interface into promiscuous mode\n"
            "  -s, --snaplen N        bytes kept per packet (default: whole packets)\n"
            "  -B, --buffer-size KIB  kernel capture buffer in KiB (default: 32768)\n"
            "      --immediate        deliver packets at once, not in batches\n"
            "  -Z, --user USER        drop to USER once the interface and database are open\n"
            "                         (default when started as root: nobody)\n"
            "      --stats S          print capture statistics to stderr every S seconds\n"
            "  SIGHUP reloads the topology and rules; SIGINT/SIGTERM end the run cleanly,\n"
            "  a second one exits at once.\n"
            "      --idle-timeout S   end a flow after S seconds without packets (capture time);\n"
            "                         default TCP 300, UDP 120, other 60; 0 = never\n"
            "      --max-flows N      at most N live flows; the least recently active is\n"
            "                         ended early and counted as evicted (default 1000000, 0 = no cap)\n"
            "  -h, --help             this help\n"
            "  -V, --version          versions of lyncaudit and nDPI\n"
            "\n"
            "Exit codes:\n"
            "  0  the run completed and found no violations (also after SIGINT/SIGTERM)\n"
            "  1  the run found violations\n"
            "  2  trouble: bad arguments, an unreadable or damaged capture, a database\n"
            "     that cannot be written (the run keeps every flow read before it)\n"
            "\n"
            "Query the results with: sqlite3 lyncaudit.db  (schema: docs/schema.md)\n");
}

/* A capture argument: an existing path that is not a folder, or "-" (stdin). */
static bool is_file(const char *path)
{
    struct stat st;
    return !strcmp(path, "-") || (stat(path, &st) == 0 && !S_ISDIR(st.st_mode));
}

/* Regular files can be opened twice: checked first, read later. */
static bool is_regular(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool looks_like_path(const char *w)
{
    size_t n = strlen(w);
    return strchr(w, '/') || (n > 5 && !strcmp(w + n - 5, ".pcap")) ||
           (n > 7 && !strcmp(w + n - 7, ".pcapng")) || (n > 4 && !strcmp(w + n - 4, ".cap"));
}

/* Parses the command line; returns -1 to exit 0 (help, version), 1 on a
 * usage error (already reported), 0 to run. */
static int parse_args(int argc, char **argv, struct options *o)
{
    enum { OPT_JSON = 1000, OPT_IDLE, OPT_MAXFLOWS, OPT_RULES, OPT_IMMEDIATE, OPT_STATS, OPT_DURATION,
           OPT_COUNT, OPT_SINGLE, OPT_VXLAN_PORT, OPT_VLAN_FLOWS };
    static const struct option longs[] = {
        {"database", required_argument, NULL, 'd'}, {"quiet", no_argument, NULL, 'q'},
        {"topology", required_argument, NULL, 't'}, {"rules", required_argument, NULL, OPT_RULES},
        {"verbose", no_argument, NULL, 'v'},        {"json", no_argument, NULL, OPT_JSON},
        {"idle-timeout", required_argument, NULL, OPT_IDLE},
        {"max-flows", required_argument, NULL, OPT_MAXFLOWS},
        {"help", no_argument, NULL, 'h'},           {"version", no_argument, NULL, 'V'},
        {"interface", required_argument, NULL, 'i'}, {"list-interfaces", no_argument, NULL, 'D'},
        {"no-promiscuous", no_argument, NULL, 'p'}, {"snaplen", required_argument, NULL, 's'},
        {"buffer-size", required_argument, NULL, 'B'}, {"immediate", no_argument, NULL, OPT_IMMEDIATE},
        {"user", required_argument, NULL, 'Z'},      {"stats", required_argument, NULL, OPT_STATS},
        {"duration", required_argument, NULL, OPT_DURATION}, {"count", required_argument, NULL, OPT_COUNT},
        {"single-thread", no_argument, NULL, OPT_SINGLE},
        {"vxlan-port", required_argument, NULL, OPT_VXLAN_PORT}, {"vlan-flows", no_argument, NULL, OPT_VLAN_FLOWS},
        {NULL, 0, NULL, 0}};
    o->db_path = "lyncaudit.db";
    o->idle_timeout = -1;
    o->max_flows = 1000000;
    o->live.promisc = 1;
    o->live.buffer_kib = 32768; /* 2 MiB (libpcap's) lost packets at 200k pps on lo (bench/README.md) */
    int c;
    while ((c = getopt_long(argc, argv, "+d:t:qvhVi:Dps:B:Z:", longs, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'd': o->db_path = optarg; break;
        case 't': o->topology = optarg; break;
        case OPT_RULES: o->rules_dir = optarg; break;
        case 'q': o->quiet = 1; break;
        case 'v': o->verbose++; break;
        case OPT_JSON: o->json = 1; break;
        case 'i': o->iface = optarg; break;
        case 'D': o->list_ifaces = 1; break;
        case 'p': o->live.promisc = 0; break;
        case 'Z': o->user = optarg; break;
        case OPT_IMMEDIATE: o->live.immediate = 1; break;
        case OPT_SINGLE: o->single_thread = 1; break;
        case OPT_VLAN_FLOWS: o->vlan_flows = 1; break;
        case OPT_VXLAN_PORT: {
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || v < 1 || v > 65535) {
                fprintf(stderr, "lyncaudit: --vxlan-port wants a UDP port (1-65535), not '%s'\n", optarg);
                return 1;
            }
            o->decode.vxlan_port = (uint16_t)v;
            break;
        }
        case OPT_IDLE:
        case OPT_MAXFLOWS:
        case OPT_STATS:
        case OPT_DURATION:
        case OPT_COUNT:
        case 's':
        case 'B': {
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || *end || v < 0 || end == optarg || v > INT_MAX) {
                const struct option *lo = longs;
                while (lo->name && lo->val != c)
                    lo++;
                fprintf(stderr, "lyncaudit: --%s wants a whole number >= 0, not '%s'\n", lo->name, optarg);
                return 1;
            }
            switch (c) {
            case OPT_IDLE: o->idle_timeout = v; break;
            case OPT_MAXFLOWS: o->max_flows = v; break;
            case OPT_STATS: o->stats_every = v; break;
            case OPT_DURATION: o->duration = v; break;
            case OPT_COUNT: o->count = v; break;
            case 's': o->live.snaplen = (int)v; break;
            default: o->live.buffer_kib = (int)v; break;
            }
            break;
        }
        case 'h': usage(stdout); return -1;
        case 'V':
            printf("lyncaudit %s (nDPI %s, libpcap: %s)\n", LYNCAUDIT_VERSION, classify_ndpi_version(),
                   pcap_lib_version());
            return -1;
        default:
            fprintf(stderr, "Try 'lyncaudit --help'.\n");
            return 1;
        }
    }
    if (!o->db_path[0]) {
        fprintf(stderr, "lyncaudit: -d wants a database file name\n");
        return 1;
    }
    if (o->list_ifaces)
        return 0;
    int i = optind;
    o->files = argv + i;
    while (!o->iface && i < argc && is_file(argv[i]))
        i++;
    o->nfiles = i - optind;
    if (o->nfiles == 0 && !o->iface) {
        if (i < argc)
            fprintf(stderr, "lyncaudit: %s: cannot read capture: %s\n", argv[i], strerror(ENOENT));
        else
            fprintf(stderr, "lyncaudit: no capture file given\nTry 'lyncaudit --help'.\n");
        return 1;
    }
    if (i < argc) {
        size_t len = 0;
        for (int j = i; j < argc; j++)
            len += strlen(argv[j]) + 1;
        o->filter = malloc(len);
        if (!o->filter)
            return 1;
        o->filter[0] = '\0';
        for (int j = i; j < argc; j++) {
            if (j > i)
                strcat(o->filter, " ");
            strcat(o->filter, argv[j]);
        }
    }
    return 0;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void show_progress(const struct source *src, uint64_t packets, bool final)
{
    double p = source_progress(src);
    if (p < 0)
        fprintf(stderr, "\rlyncaudit: %s: %llu packets   ", source_name(src), (unsigned long long)packets);
    else
        fprintf(stderr, "\rlyncaudit: %s: %3.0f%%, %llu packets   ", source_name(src), p * 100,
                (unsigned long long)packets);
    if (final)
        fputc('\n', stderr);
}

static struct audit *load_audit(const struct options *o, bool *no_topology);

/* SIGHUP: the new topology and rules take over for flows that end from now
 * on; the old rules' match counts are written first. A broken file keeps
 * the old ones. */
static void reload(struct run *r)
{
    g_reload = 0;
    bool no_topology;
    /* A trial load in a child first: one that never ends must not take the
     * capture with it (the child is cut off by the load alarm). */
    pid_t pid = fork();
    if (pid == 0) {
        struct audit *t = load_audit(r->opt, &no_topology);
        _exit(t ? 0 : EXIT_TROUBLE);
    }
    int wst = 0;
    while (pid > 0 && waitpid(pid, &wst, 0) < 0 && errno == EINTR)
        ;
    struct audit *a = pid > 0 && WIFEXITED(wst) && WEXITSTATUS(wst) == 0 ? load_audit(r->opt, &no_topology) : NULL;
    if (!a) {
        fprintf(stderr, "lyncaudit: reload failed; keeping the topology and rules in use\n");
        return;
    }
    pipeline_reload(r->pl, a); /* the store stage writes the old rules' counts, then swaps */
}

static void print_stats(struct source *src, const struct run *r, const struct flow_table *ft)
{
    struct source_stats st;
    source_stats(src, &st);
    struct pipeline_counts pc;
    pipeline_counts(r->pl, &pc);
    fprintf(stderr,
            "lyncaudit: %llu packets, %llu live flows, %llu flows written, %llu violations; "
            "received %llu, dropped %llu by the kernel, %llu by the interface\n",
            (unsigned long long)r->counters.packets, (unsigned long long)flow_table_stats(ft)->live,
            (unsigned long long)pc.flows, (unsigned long long)pc.violations,
            (unsigned long long)st.received, (unsigned long long)st.dropped, (unsigned long long)st.ifdropped);
}

/* The periodic work of a run, by the wall clock: commit what ended (live:
 * every 2 s, so readers see a current database), statistics, reload. */
struct ticker {
    double next_commit, next_stats, next_progress, deadline;
};

static void tick(struct ticker *tk, struct source *src, struct flow_table *ft, struct run *r, bool progress)
{
    pipeline_poll(r->pl); /* write what the classify thread has labelled */
    double now = now_seconds();
    if (source_is_live(src)) {
        if (now >= tk->next_commit) {
            struct source_stats st;
            source_stats(src, &st);
            r->counters.live = 1;
            r->counters.pcap_received = st.received;
            r->counters.pcap_dropped = st.dropped;
            r->counters.pcap_ifdropped = st.ifdropped;
            pipeline_commit(r->pl);
            tk->next_commit = now + 2;
        }
        /* No packet for a while: the clock still moves, idle flows still end. */
        struct timeval tv;
        gettimeofday(&tv, NULL);
        flow_table_expire(ft, (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec);
    }
    if (r->opt->stats_every && now >= tk->next_stats) {
        print_stats(src, r, ft);
        tk->next_stats = now + (double)r->opt->stats_every;
    }
    if (progress && now >= tk->next_progress) {
        show_progress(src, r->counters.packets, false);
        tk->next_progress = now + 0.5;
    }
    if (tk->deadline > 0 && now >= tk->deadline)
        g_stop = 1;
    if (g_reload)
        reload(r);
}

/* Reads one source to its end (or a stop, or the --count/--duration bound).
 * Returns 0, or -1 on a damaged file or failed capture (message in msg). */
static int read_source(struct source *src, struct flow_table *ft, struct run *r, struct ticker *tk,
                       bool progress, char *msg, size_t msglen)
{
    bool live = source_is_live(src);
    struct source_packet sp;
    enum source_status st = SOURCE_END;
    uint64_t limit = r->opt->count > 0 ? (uint64_t)r->opt->count : UINT64_MAX;
    while (!g_stop && !pipeline_failed(r->pl) && r->counters.packets < limit) {
        st = source_next(src, &sp);
        if (st == SOURCE_TIMEOUT) {
            tick(tk, src, ft, r, false);
            pipeline_flush(r->pl); /* nothing new: what ended goes on to the database */
            continue;
        }
        if (st != SOURCE_PACKET)
            break;
        struct packet pkt;
        pkt.ts_us = sp.ts_us;
        pkt.wirelen = sp.wirelen;
        r->counters.packets++;
        r->counters.bytes += sp.wirelen;
        if (decode_packet_opts(&r->opt->decode, sp.dlt, sp.data, sp.caplen, &pkt) != DECODE_OK) {
            r->counters.undecodable++;
        } else if (pkt.icmp_error && flow_icmp_error(ft, &pkt)) {
            r->counters.icmp_errors++;
        } else {
            r->counters.tunnelled += pkt.tunnel != TUNNEL_NONE;
            int dir;
            bool is_new;
            struct flow *f = flow_packet(ft, &pkt, &dir, &is_new);
            if (f && !classify_decided(f))
                pipeline_packet(r->pl, f, &pkt);
        }
        flow_table_expire(ft, pkt.ts_us);
        r->counters.time_outliers = flow_table_stats(ft)->time_outliers;
        /* Wall-clock work every few thousand packets (every packet live). */
        if (live || (r->counters.packets & 0xfff) == 0)
            tick(tk, src, ft, r, progress);
    }
    flow_table_input_end(ft); /* the next file's times are not judged by this one's */
    if (progress)
        show_progress(src, r->counters.packets, true);
    if (!g_stop && !pipeline_failed(r->pl) && st == SOURCE_ERROR) {
        snprintf(msg, msglen, "%s", source_error(src));
        return -1;
    }
    return 0;
}

/* Drops root for USER (default nobody) once the interface and the database
 * are open, as tcpdump -Z does. Returns 0, or -1 with the reason printed. */
static int drop_privileges(const char *user, bool quiet)
{
    if (geteuid() != 0) {
        if (user) {
            fprintf(stderr, "lyncaudit: -Z %s: not running as root, nothing to drop\n", user);
            return -1;
        }
        return 0;
    }
    const char *name = user ? user : "nobody";
    struct passwd *pw = getpwnam(name);
    if (!pw) {
        fprintf(stderr, "lyncaudit: -Z %s: no such user\n", name);
        return -1;
    }
    if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
        fprintf(stderr, "lyncaudit: cannot become %s: %s\n", name, strerror(errno));
        return -1;
    }
    if (setuid(0) == 0) { /* must not be able to come back */
        fprintf(stderr, "lyncaudit: dropping root did not hold\n");
        return -1;
    }
    if (!quiet)
        fprintf(stderr, "lyncaudit: capturing as user %s (uid %u)\n", name, (unsigned)pw->pw_uid);
    return 0;
}

/* buf = a/b; false when it does not fit. */
static bool path_join(char *buf, size_t len, const char *a, const char *b)
{
    int n = snprintf(buf, len, "%s/%s", a, b);
    return n >= 0 && (size_t)n < len;
}

static bool has_file(const char *dir, const char *name)
{
    char p[PATH_MAX];
    return path_join(p, sizeof p, dir, name) && access(p, R_OK) == 0;
}

/* Where lua/ and rules/ are: beside an installed binary (../share/lyncaudit),
 * the source tree the binary was built from, or the install prefix. */
static const char *find_data_dir(char *buf, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            if (path_join(buf, len, exe, "../share/lyncaudit") && has_file(buf, "lua/dsl.lua"))
                return buf;
        }
    }
    if (has_file(LYNCAUDIT_SOURCE_DIR, "lua/dsl.lua"))
        return LYNCAUDIT_SOURCE_DIR;
    return LYNCAUDIT_DATA_DIR;
}

/* Loads the rules and the topology; prints the error and returns NULL. */
static struct audit *load_audit(const struct options *o, bool *no_topology)
{
    char dir[PATH_MAX], lua_dir[PATH_MAX], rules_dir[PATH_MAX], err[1024];
    const char *data = find_data_dir(dir, sizeof dir);
    if (!path_join(lua_dir, sizeof lua_dir, data, "lua") || !path_join(rules_dir, sizeof rules_dir, data, "rules")) {
        fprintf(stderr, "lyncaudit: %s: path too long\n", data);
        return NULL;
    }
    struct audit_paths p = {lua_dir, o->rules_dir ? o->rules_dir : rules_dir, o->topology};
    *no_topology = false;
    if (!p.topology) {
        if (access("topology.lua", F_OK) == 0)
            p.topology = "topology.lua";
        else
            *no_topology = true;
    }
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_load_alarm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, &old);
    g_where[0] = '\0';
    alarm(LOAD_SECONDS);
    struct audit *a = audit_load_where(&p, g_where, sizeof g_where, err, sizeof err);
    alarm(0);
    sigaction(SIGALRM, &old, NULL);
    if (!a)
        fprintf(stderr, "lyncaudit: %s\n", err);
    return a;
}

struct verdict_text {
    char verdicts[256], kinds[256];
};

static void verdict_collect(const char *what, const char *name, uint64_t n, void *ctx)
{
    struct verdict_text *v = ctx;
    char *buf = strcmp(what, "verdict") ? v->kinds : v->verdicts;
    size_t used = strlen(buf);
    snprintf(buf + used, sizeof v->kinds - used, "%s%s %llu", used ? ", " : "", name, (unsigned long long)n);
}

static void join_files(const struct options *o, char *out, size_t len)
{
    out[0] = '\0';
    for (int i = 0; i < o->nfiles; i++) {
        size_t used = strlen(out);
        snprintf(out + used, len - used, "%s%s", i ? " " : "", o->files[i]);
    }
}

/* CPUs this process may run on (taskset, cgroup cpusets). */
static int usable_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* Frees what main holds, for the early exits. */
static int give_up(struct run *r, struct source *live, struct source **srcs, struct options *o)
{
    source_close(live);
    store_close(r->store);
    classify_free(r->cls);
    audit_free(r->audit);
    free(srcs);
    free(o->filter);
    return EXIT_TROUBLE;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "topology")) return topology_main(argc - 1, argv + 1);
    if (argc > 1 && !strcmp(argv[1], "report")) return report_main(argc - 1, argv + 1);
    /* Past `ulimit -f` a write must fail (and be reported), not kill us. */
    signal(SIGXFSZ, SIG_IGN);
    struct options o = {0};
    int pa = parse_args(argc, argv, &o);
    if (pa)
        return pa < 0 ? EXIT_COMPLIANT : EXIT_TROUBLE;

    char err[1024];
    if (o.list_ifaces) {
        if (source_list_interfaces(stdout, err, sizeof err) == 0)
            return EXIT_COMPLIANT;
        fprintf(stderr, "lyncaudit: %s\n", err);
        return EXIT_TROUBLE;
    }
    struct run r = {0};
    r.opt = &o;
    struct source *live = NULL;
    /* Check every input before touching the database. */
    struct source **srcs = calloc((size_t)(o.nfiles ? o.nfiles : 1), sizeof *srcs);
    if (!srcs)
        return EXIT_TROUBLE;
    for (int i = 0; i < o.nfiles; i++) {
        if (!is_regular(o.files[i]))
            continue; /* a pipe can be read once: it is checked when its turn comes */
        srcs[i] = source_open_file(o.files[i], o.filter, err, sizeof err);
        if (!srcs[i]) {
            /* A missing file taken for a filter word reads better as what it is. */
            if (o.filter && !strncmp(err, "bad filter", 10) && looks_like_path(o.filter))
                fprintf(stderr, "lyncaudit: %.*s: cannot read capture: %s\n",
                        (int)strcspn(o.filter, " "), o.filter, strerror(ENOENT));
            else
                fprintf(stderr, "lyncaudit: %s\n", err);
            return give_up(&r, NULL, srcs, &o);
        }
        /* Keep at most one file open at a time: reopen later. */
        source_close(srcs[i]);
        srcs[i] = NULL;
    }

    bool no_topology;
    r.audit = load_audit(&o, &no_topology);
    if (!r.audit)
        return give_up(&r, NULL, srcs, &o);
    if (no_topology && !o.quiet)
        fprintf(stderr, "lyncaudit: no topology (no topology.lua here, no -t FILE): every address is 'any', "
                        "no flow is audited\n");
    r.cls = classify_new(err, sizeof err);
    if (!r.cls) {
        fprintf(stderr, "lyncaudit: %s\n", err);
        return give_up(&r, NULL, srcs, &o);
    }
    /* The user to become is checked before anything is opened or written. */
    if (o.iface && geteuid() == 0 && !getpwnam(o.user ? o.user : "nobody")) {
        fprintf(stderr, "lyncaudit: -Z %s: no such user\n", o.user ? o.user : "nobody");
        return give_up(&r, NULL, srcs, &o);
    }
    if (o.iface) {
        live = source_open_live(o.iface, &o.live, o.filter, err, sizeof err);
        if (!live) {
            fprintf(stderr, "lyncaudit: %s\n", err);
            return give_up(&r, NULL, srcs, &o);
        }
    }
    /* The database is opened before root is dropped: the capturing user
     * never needs write access to its folder (docs/usage.md). */
    r.store = store_open(o.db_path, err, sizeof err);
    if (!r.store) {
        fprintf(stderr, "lyncaudit: %s\n", err);
        return give_up(&r, live, srcs, &o);
    }
    char sources[4096];
    if (live)
        snprintf(sources, sizeof sources, "interface:%s", o.iface);
    else
        join_files(&o, sources, sizeof sources);
    struct store_run sr = {LYNCAUDIT_VERSION,          classify_ndpi_version(), sources, o.filter,
                           audit_topology_path(r.audit), audit_topology_name(r.audit),
                           audit_rule_count(r.audit)};
    /* The run row and its rules in one transaction: all there, or none. */
    int64_t run_id = store_begin(r.store) == 0 ? store_begin_run(r.store, &sr) : -1;
    if (run_id < 0 || pipeline_write_rules(r.store, r.audit) || store_commit(r.store, &r.counters)) {
        fprintf(stderr, "lyncaudit: %s\n", store_error(r.store));
        return give_up(&r, live, srcs, &o);
    }
    if (live && drop_privileges(o.user, o.quiet) != 0) {
        store_end_run(r.store, &r.counters, "error", "could not drop privileges");
        return give_up(&r, live, srcs, &o);
    }

    g_live = live;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    struct flow_config fc = {
        .tcp_idle_us = 300000000ull,
        .udp_idle_us = 120000000ull,
        .other_idle_us = 60000000ull,
        .linger_us = 30000000ull,
        .max_flows = (size_t)o.max_flows,
        .handover = true,
        .vlan_key = o.vlan_flows != 0,
    };
    if (o.idle_timeout >= 0)
        fc.tcp_idle_us = fc.udp_idle_us = fc.other_idle_us = (uint64_t)o.idle_timeout * 1000000u;
    r.pl = pipeline_new(r.cls, r.audit, r.store, &r.counters, !o.single_thread && usable_cpus() >= 2, o.quiet,
                        err, sizeof err);
    if (r.pl && o.verbose && !o.quiet)
        fprintf(stderr, "lyncaudit: %d thread%s\n", pipeline_threads(r.pl), pipeline_threads(r.pl) > 1 ? "s" : "");
    struct flow_table *ft = r.pl ? flow_table_new(&fc, pipeline_flow_end, r.pl) : NULL;
    if (!ft) {
        fprintf(stderr, "lyncaudit: out of memory\n");
        if (r.pl) {
            struct pipeline_counts pc;
            bool pf;
            r.audit = pipeline_finish(r.pl, &pc, &pf);
            r.pl = NULL;
        }
        return give_up(&r, live, srcs, &o);
    }

    bool progress = !o.quiet && isatty(STDERR_FILENO) && !live;
    char msg[1024] = "";
    bool damaged = false;
    double t0 = now_seconds();
    struct ticker tk = {t0 + 2, t0 + (double)o.stats_every, t0 + 0.5, o.duration ? t0 + (double)o.duration : 0};
    if (live) {
        if (!o.quiet)
            fprintf(stderr, "lyncaudit: capturing on %s (%s)%s\n", o.iface, source_datalink_name(live),
                    o.filter ? "" : ", no filter");
        char m[1024];
        if (read_source(live, ft, &r, &tk, false, m, sizeof m) != 0) {
            fprintf(stderr, "lyncaudit: %s\n", m);
            snprintf(msg, sizeof msg, "%s", m);
            damaged = true;
        }
        struct source_stats st;
        source_stats(live, &st);
        r.counters.live = 1;
        r.counters.pcap_received = st.received;
        r.counters.pcap_dropped = st.dropped;
        r.counters.pcap_ifdropped = st.ifdropped;
        if (o.stats_every || !o.quiet)
            print_stats(live, &r, ft);
    }
    for (int i = 0; i < o.nfiles && !g_stop && !pipeline_failed(r.pl); i++) {
        struct source *src = source_open_file(o.files[i], o.filter, err, sizeof err);
        if (!src) { /* it was readable a moment ago */
            snprintf(msg, sizeof msg, "%s", err);
            damaged = true;
            fprintf(stderr, "lyncaudit: %s\n", err);
            continue;
        }
        if (o.verbose && !o.quiet)
            fprintf(stderr, "lyncaudit: reading %s (%s)\n", o.files[i], source_datalink_name(src));
        char m[1024];
        if (read_source(src, ft, &r, &tk, progress, m, sizeof m) != 0) {
            fprintf(stderr, "lyncaudit: %s\n", m);
            snprintf(msg, sizeof msg, "%s", m);
            damaged = true;
        }
        source_close(src);
    }
    double seconds = now_seconds() - t0;
    uint64_t peak = flow_table_stats(ft)->peak_live;
    flow_table_end_all(ft);
    r.counters.time_outliers = flow_table_stats(ft)->time_outliers;
    /* Every flow down the pipeline; the threads end. */
    struct pipeline_counts pc;
    r.audit = pipeline_finish(r.pl, &pc, &r.store_failed);
    r.pl = NULL;
    r.counters.flows = pc.flows;
    r.counters.flows_evicted = pc.flows_evicted;
    r.counters.violations = pc.violations;

    bool bounded = (o.count > 0 && r.counters.packets >= (uint64_t)o.count) ||
                   (o.duration > 0 && seconds >= (double)o.duration);
    const char *status = r.store_failed ? "error" : damaged ? "error" : (g_stop && !bounded) ? "interrupted" : "complete";
    if (r.store_failed)
        snprintf(msg, sizeof msg, "%s", store_error(r.store));
    else if (g_stop && !bounded && !msg[0])
        snprintf(msg, sizeof msg, "stopped by signal");
    int rc = damaged || r.store_failed ? EXIT_TROUBLE : r.counters.violations ? EXIT_VIOLATIONS : EXIT_COMPLIANT;
    if (r.store_failed)
        fprintf(stderr, "lyncaudit: %s\n", msg);
    /* Close the run even after a write error: what was committed stays, marked.
     * Rule match counts, role statistics and the run's end are one transaction;
     * another writer's lock is waited for longer here than for a batch. */
    store_set_busy_timeout(r.store, 60000);
    bool closed = store_begin(r.store) == 0 && pipeline_write_rules(r.store, r.audit) == 0 &&
                  store_role_stats(r.store) == 0 &&
                  store_end_run(r.store, &r.counters, status, msg[0] ? msg : NULL) == 0;
    if (!closed) {
        if (!r.store_failed)
            fprintf(stderr, "lyncaudit: %s\n", store_error(r.store));
        rc = EXIT_TROUBLE;
        /* The full close did not fit (a full disk): still mark the run ended,
         * in the smallest write there is. */
        store_mark_failed(r.store, store_error(r.store));
    }
    if (closed && (!o.quiet || o.json)) {
        struct report_run rr = {run_id, o.db_path, status, live ? 0 : o.nfiles, r.counters, seconds, peak};
        if (o.json)
            report_json(stdout, r.store, &rr);
        else {
            report_text(stdout, r.store, &rr);
            struct verdict_text vt = {"", ""};
            if (!no_topology && store_verdict_summary(r.store, run_id, verdict_collect, &vt) == 0) {
                printf("verdicts: %s\n", vt.verdicts[0] ? vt.verdicts : "none");
                if (vt.kinds[0])
                    printf("violations: %s (SELECT * FROM violation_report WHERE run_id = %lld)\n", vt.kinds,
                           (long long)run_id);
            }
        }
    }
    g_live = NULL;
    flow_table_free(ft);
    source_close(live);
    store_close(r.store);
    classify_free(r.cls);
    audit_free(r.audit);
    free(srcs);
    free(o.filter);
    return rc;
}
