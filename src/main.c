/* main.c - lyncaudit: the command line.
 *
 * Parses the options, then wires the stages for one run: the inputs are
 * checked, the topology and rules loaded, the database's run row opened
 * (run.c), every source read (capture.c: source -> ingest -> flow table ->
 * pipeline -> record -> store), the run closed and the summary printed
 * (report.c). The subcommands `topology` and `report` have their own mains.
 * Global mutable state: the signal flags below, and the load guard's
 * position buffer. */
#define _GNU_SOURCE /* sched_getaffinity */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit.h"
#include "capture.h"
#include "fanout.h"
#include "classify.h"
#include "decode.h"
#include "eve.h"
#include "evidence.h"
#include "except.h"
#include "flow.h"
#include "paths.h"
#include "pipeline.h"
#include "privs.h"
#include "luabox.h"
#include "record.h"
#include "report.h"
#include "rpt.h"
#include "run.h"
#include "source.h"
#include "store.h"
#include "suggest.h"
#include "store_copy.h"
#include "topo_cmd.h"

#ifndef LYNCAUDIT_VERSION
#define LYNCAUDIT_VERSION "0.1.0"
#endif

/* Signal state. */
static volatile sig_atomic_t g_stop;    /* SIGINT/SIGTERM seen: finish cleanly */
static volatile sig_atomic_t g_reload;  /* SIGHUP seen: reload topology and rules */
static struct source *volatile g_live;  /* the live source, to break its wait */

/* What lyncaudit said last on stderr (a "lyncaudit: " line, without it):
 * stderr passes through tee_write, so that with --json trouble reaches
 * stdout too, whichever stage said it. */
static char g_said[1024];
static char g_line[1024];
static size_t g_line_len;

static ssize_t tee_write(void *cookie, const char *buf, size_t n)
{
    (void)cookie;
    for (size_t done = 0; done < n;) {
        ssize_t w = write(STDERR_FILENO, buf + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break; /* a closed stderr: said nowhere, as before */
        done += (size_t)w;
    }
    for (size_t i = 0; i < n; i++) {
        if (buf[i] != '\n') {
            if (g_line_len < sizeof g_line - 1)
                g_line[g_line_len++] = buf[i];
            continue;
        }
        g_line[g_line_len] = '\0';
        if (!strncmp(g_line, "lyncaudit: ", 11))
            snprintf(g_said, sizeof g_said, "%s", g_line + 11);
        g_line_len = 0;
    }
    return (ssize_t)n;
}

/* stderr, unbuffered as it was, through tee_write. */
static void tee_stderr(void)
{
    FILE *f = fopencookie(NULL, "w", (cookie_io_functions_t){.write = tee_write});
    if (f && setvbuf(f, NULL, _IONBF, 0) == 0)
        stderr = f;
}

/* --json among the options (before '--'), known before they are parsed:
 * a usage error is JSON too. */
static bool json_wanted(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        if (!strcmp(argv[i], "--json"))
            return true;
    return false;
}

/* The first SIGINT/SIGTERM asks for a clean end; a second one exits at once.
 * SQLite's journal keeps the database consistent: the open batch is rolled
 * back, the run row stays "running" with no finish time. */
static void on_signal(int sig)
{
    int saved = errno; /* source_break may write to libpcap's wake-up descriptor */
    if (sig == SIGHUP) {
        g_reload = 1;
        return;
    }
    if (g_stop) {
        static const char m[] = "lyncaudit: second signal: exiting at once\n";
        ssize_t w = write(STDERR_FILENO, m, sizeof m - 1);
        (void)w;
        _exit(RUN_EXIT_TROUBLE);
    }
    g_stop = 1;
    if (g_live)
        source_break(g_live);
    errno = saved;
}

struct options {
    const char *db_path;
    char **files;          /* -r FILE and the capture operands, in order (malloc'd array) */
    int nfiles;
    int read_opts;         /* how many came from -r */
    const char *filter_file; /* -F */
    char *filter;          /* malloc'd */
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
    long workers;          /* --workers; -1: by the CPUs */
    long dpi_memory;       /* --dpi-memory MiB */
    long capture_threads;  /* --capture-threads (live) */
    struct decode_opts decode; /* --vxlan-port */
    int vlan_flows;        /* --vlan-flows */
    long lock_wait;        /* --lock-wait seconds (files) */
    long backlog;          /* --backlog flows (live) */
    struct eve_config eve; /* --eve, --eve-rotate, --syslog, --syslog-facility */
    int facility_set;
    const char *sensor;    /* --sensor; NULL: the host name */
    const char *evidence;  /* --evidence FILE */
    const char *label;     /* --label TEXT: runs.label */
    const char *exceptions; /* --exceptions FILE */
    struct evidence_caps evidence_caps; /* --evidence-flow-bytes, --evidence-bytes */
};

static void usage_more(FILE *out);
static void usage_exit_codes(FILE *out);

/* --help: what lyncaudit does, how captures and a filter are told apart,
 * the options. */
static void usage(FILE *out)
{
    fprintf(out,
            "Usage: lyncaudit [options] FILE... [FILTER]\n"
            "       lyncaudit [options] -r FILE [-r FILE]... [FILTER]\n"
            "       lyncaudit [options] -i IFACE [FILTER]\n"
            "       lyncaudit topology import|check|discover ...  (lyncaudit topology --help)\n"
            "       lyncaudit report DB [--run N] [--since RUN] [--sensor NAME] [-o FILE] [--format html|json|md]\n"
            "       lyncaudit export SQLITE_DB postgresql://...  (lyncaudit export --help)\n"
            "Audit Lync Server 2013 / Skype for Business traffic in capture files (pcap or\n"
            "pcapng, several in a row as one run) or live on an interface (a SPAN port), and\n"
            "store every flow, its roles, verdict and violations in SQLite or PostgreSQL.\n"
            "A tcpdump-style FILTER expression selects packets (e.g. 'udp port 3478'). Options\n"
            "may come anywhere; '--' ends them. With -r or -i every other word is the filter;\n"
            "without, the first word is a capture, and so is each next word while it names a\n"
            "pcap or pcapng file (or is '-', stdin); the filter starts at the first other word.\n"
            "\n"
            "Options:\n"
            "  -r, --read FILE        read the capture FILE ('-': stdin); repeat for several\n"
            "  -F, --filter-file FILE take the filter expression from FILE (not with a FILTER)\n"
            "  -d, --database DB      the database to append this run to: a SQLite file (default:\n"
            "                         lyncaudit.db), or PostgreSQL: postgresql://USER@HOST/DB (a libpq\n"
            "                         URI), or postgresql: alone for the PG* environment variables\n"
            "      --sensor NAME      this sensor's name in runs.sensor (default: the host name)\n"
            "      --label TEXT       a note on this run, kept in runs.label (a change, a site)\n"
            "  -t, --topology FILE    the deployment: roles, NAT, options (Lua; default: ./topology.lua,\n"
            "                         else " LYNCAUDIT_SYSCONF_DIR "/topology.lua, else none: nothing audited)\n"
            "      --rules DIR        the rule files (default: the rules/ folder installed with lyncaudit)\n"
            "      --exceptions FILE  the site's accepted deviations (Lua, docs/rules.md): a flow one\n"
            "                         covers is 'excepted', not a violation; an expired one is a finding\n"
            "  -q, --quiet            print nothing but errors\n"
            "  -v, --verbose          say more (threads, per file, undecodable packets)\n"
            "      --json             print the end-of-run summary as JSON on stdout (also on\n"
            "                         trouble: the error, with exit code 2)\n"
            "      --count N          stop after N packets\n"
            "      --workers N        classify (nDPI and the Lync dissectors) on N threads beside\n"
            "                         the reader, flows shared out by their addresses and ports\n"
            "                         (default: the CPUs the process may use, less one for the\n"
            "                         reader when there are more than two; 0 = one thread)\n"
            "      --single-thread    do all the work on one thread (--workers 0); the Lync\n"
            "                         labels and verdicts are the same whatever the threads\n"
            "      --dpi-memory MIB   payload nDPI may hold over all live flows (default 256;\n"
            "                         16 KiB a flow at most); past it nDPI gives up the flows it\n"
            "                         has held longest\n"
            "      --duration S       stop after S seconds\n"
            "      --vxlan-port N     VXLAN on UDP port N too (always on 4789; Geneve on 6081)\n"
            "      --vlan-flows       the VLAN id is part of a flow's key: the same addresses and\n"
            "                         ports on two VLANs are two flows (default: one, as tshark)\n"
            "      --lock-wait S      files: wait up to S seconds for another writer's lock on the\n"
            "                         database, or for a PostgreSQL server to come back, before the\n"
            "                         run gives up (default 30)\n"
            "\n");
    usage_more(out);
}

/* The rest of --help: events, evidence, live capture, exit codes. */
static void usage_more(FILE *out)
{
    fprintf(out,
            "Events (docs/usage.md, \"Events\"):\n"
            "      --eve FILE         append one JSON object per line to FILE ('-': stdout, the\n"
            "                         summary then goes to stderr), Suricata's EVE field names:\n"
            "                         run, flow, alert (one per violation), stats (with --stats);\n"
            "                         SIGHUP opens FILE again (after logrotate moved it)\n"
            "      --eve-rotate SIZE  past SIZE bytes (K, M, G), FILE is renamed\n"
            "                         FILE.YYYYMMDD-HHMMSS and a new FILE begun\n"
            "      --syslog           send each alert to the local syslog socket (/dev/log) as an\n"
            "                         RFC 5424 message whose text is the alert's JSON\n"
            "      --syslog-facility NAME\n"
            "                         daemon, user, auth, authpriv or local0..local7 (default local5)\n"
            "\n"
            "Evidence:\n"
            "      --evidence FILE    write the packets of every flow that got a violation to FILE\n"
            "                         (pcapng, from each flow's first packet, a comment on it naming\n"
            "                         the violations); flows.evidence says which flows are in it\n"
            "      --evidence-flow-bytes N\n"
            "                         hold at most N bytes of one flow's packets while its verdict\n"
            "                         is pending (default 1M; K, M, G: KiB, MiB, GiB)\n"
            "      --evidence-bytes N hold at most N bytes of all flows' packets (default 64M); what\n"
            "                         a cap leaves out is counted in runs.evidence_cut\n"
            "\n"
            "Live capture:\n"
            "  -i, --interface IFACE  capture on IFACE ('any' for all); flows are written as they\n"
            "                         end and the database is committed every 2 s\n"
            "  -D, --list-interfaces  list the interfaces and exit\n"
            "  -p, --no-promiscuous   do not put the interface into promiscuous mode\n"
            "  -s, --snaplen N        bytes kept per packet (default: whole packets)\n"
            "  -B, --buffer-size KIB  kernel capture buffer in KiB (default: 32768)\n"
            "      --immediate        deliver packets at once, not in batches\n"
            "      --capture-threads N  N handles on IFACE in one kernel fanout group (a flow's\n"
            "                         packets reach one), each with its own thread, flow table and\n"
            "                         nDPI, and one writer (default 1)\n"
            "  -Z, --user USER        drop to USER once the interface or the capture files, and the\n"
            "                         database are open (live, started as root: nobody by default;\n"
            "                         files: only when -Z is given)\n"
            "      --stats S          print capture statistics to stderr every S seconds (and a\n"
            "                         stats event with --eve)\n"
            "      --backlog N        flows held while another writer locks the database or the\n"
            "                         PostgreSQL server is away, written when it lets go or comes\n"
            "                         back; past N the oldest are dropped and counted in\n"
            "                         runs.flows_dropped (default 65536)\n"
            "  SIGHUP reloads the topology and rules; SIGINT/SIGTERM end the run cleanly,\n"
            "  a second one exits at once.\n"
            "      --idle-timeout S   end a flow after S seconds without packets (capture time);\n"
            "                         default TCP 300, UDP 120, other 60; 0 = never\n"
            "      --max-flows N      at most N live flows; the least recently active is\n"
            "                         ended early and counted as evicted (default 1000000, 0 = no cap)\n"
            "  -h, --help             this help\n"
            "  -V, --version          versions of lyncaudit, nDPI, libpcap, SQLite, Lua, the rule set\n"
            "\n");
    usage_exit_codes(out);
}

/* The end of the usage: the exit codes (docs/usage.md, "Exit codes"). */
static void usage_exit_codes(FILE *out)
{
    fprintf(out,
            "Exit codes:\n"
            "  0  the run audited flows between known roles and found no violations (also\n"
            "     after SIGINT/SIGTERM)\n"
            "  1  the run found violations\n"
            "  2  trouble: bad arguments, an unreadable or damaged capture, a database\n"
            "     that cannot be written (the run keeps every flow read before it)\n"
            "  3  nothing audited: no violations, and no flow was between known roles (no\n"
            "     topology, none of its addresses in the traffic, or roles = {})\n"
            "\n"
            "Query the results with: sqlite3 lyncaudit.db, or psql for PostgreSQL (schema: docs/schema.md)\n");
}

/* True when path starts with a pcap or pcapng magic number, or is "-". */
static bool is_capture(const char *path)
{
    struct stat st;
    if (!strcmp(path, "-"))
        return true;
    /* A FIFO cannot be peeked at without taking its bytes (or waiting for a
     * writer): no filter word names one, so it is a capture. */
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return stat(path, &st) == 0 && S_ISFIFO(st.st_mode);
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    unsigned char m[4];
    bool yes = fread(m, 1, 4, f) == 4;
    fclose(f);
    static const unsigned char magics[][4] = {{0xd4, 0xc3, 0xb2, 0xa1}, {0xa1, 0xb2, 0xc3, 0xd4},
                                              {0x4d, 0x3c, 0xb2, 0xa1}, {0xa1, 0xb2, 0x3c, 0x4d},
                                              {0x0a, 0x0d, 0x0d, 0x0a}};
    bool found = false;
    for (size_t i = 0; yes && i < sizeof magics / sizeof *magics; i++)
        found |= !memcmp(m, magics[i], 4);
    return found;
}

/* A capture operand that cannot be one: says why (missing, a folder). */
static bool capture_usable(const char *path)
{
    struct stat st;
    if (!strcmp(path, "-"))
        return true;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "lyncaudit: %s: cannot read capture: %s\n", path, strerror(errno));
        return false;
    }
    if (S_ISDIR(st.st_mode)) {
        fprintf(stderr, "lyncaudit: %s: is a directory, not a capture file\n", path);
        return false;
    }
    return true;
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

enum { OPT_JSON = 1000, OPT_IDLE, OPT_MAXFLOWS, OPT_RULES, OPT_IMMEDIATE, OPT_STATS, OPT_DURATION,
       OPT_COUNT, OPT_SINGLE, OPT_VXLAN_PORT, OPT_VLAN_FLOWS, OPT_LOCK_WAIT, OPT_BACKLOG, OPT_EVE, OPT_EVE_ROTATE,
       OPT_SYSLOG, OPT_SYSLOG_FACILITY, OPT_SENSOR, OPT_LABEL, OPT_EXCEPTIONS, OPT_EVIDENCE, OPT_EVIDENCE_FLOW, OPT_EVIDENCE_TOTAL, OPT_WORKERS,
       OPT_DPI_MEMORY, OPT_CAPTURE_THREADS };

static const struct option LONGS[] = {
    {"database", required_argument, NULL, 'd'}, {"quiet", no_argument, NULL, 'q'},
    {"read", required_argument, NULL, 'r'},     {"filter-file", required_argument, NULL, 'F'},
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
    {"single-thread", no_argument, NULL, OPT_SINGLE}, {"workers", required_argument, NULL, OPT_WORKERS},
    {"dpi-memory", required_argument, NULL, OPT_DPI_MEMORY},
    {"capture-threads", required_argument, NULL, OPT_CAPTURE_THREADS},
    {"vxlan-port", required_argument, NULL, OPT_VXLAN_PORT}, {"vlan-flows", no_argument, NULL, OPT_VLAN_FLOWS},
    {"lock-wait", required_argument, NULL, OPT_LOCK_WAIT}, {"backlog", required_argument, NULL, OPT_BACKLOG},
    {"eve", required_argument, NULL, OPT_EVE}, {"eve-rotate", required_argument, NULL, OPT_EVE_ROTATE},
    {"syslog", no_argument, NULL, OPT_SYSLOG}, {"syslog-facility", required_argument, NULL, OPT_SYSLOG_FACILITY},
    {"sensor", required_argument, NULL, OPT_SENSOR},
    {"label", required_argument, NULL, OPT_LABEL},
    {"exceptions", required_argument, NULL, OPT_EXCEPTIONS},
    {"evidence", required_argument, NULL, OPT_EVIDENCE},
    {"evidence-flow-bytes", required_argument, NULL, OPT_EVIDENCE_FLOW},
    {"evidence-bytes", required_argument, NULL, OPT_EVIDENCE_TOTAL},
    {NULL, 0, NULL, 0}};

/* An option's value as a whole number in lo..hi; prints the usage error. */
static bool number_arg(int c, const char *arg, long lo, long hi, const char *want, long *out)
{
    errno = 0;
    char *end;
    long v = strtol(arg, &end, 10);
    if (errno || *end || end == arg || v < lo || v > hi) {
        const struct option *lo_opt = LONGS;
        while (lo_opt->name && lo_opt->val != c)
            lo_opt++;
        fprintf(stderr, "lyncaudit: --%s wants %s, not '%s'\n", lo_opt->name, want, arg);
        return false;
    }
    *out = v;
    return true;
}

/* A byte count: a whole number, with K, M or G for KiB, MiB, GiB; 1 to
 * 2^40. Prints the usage error. */
static bool bytes_arg(int c, const char *arg, uint64_t *out)
{
    errno = 0;
    char *end;
    long long v = strtoll(arg, &end, 10);
    unsigned shift = 0;
    if (*end && end != arg && !end[1]) {
        const char *u = strchr("KMG", end[0] & ~0x20);
        shift = u ? 10u * (unsigned)(u - "KMG" + 1) : 0;
        end += u != NULL;
    }
    if (errno || *end || end == arg || v < 1 || v > (1ll << 40) >> shift) {
        const struct option *lo_opt = LONGS;
        while (lo_opt->name && lo_opt->val != c)
            lo_opt++;
        fprintf(stderr, "lyncaudit: --%s wants a size in bytes (e.g. 65536, 512K, 64M), not '%s'\n", lo_opt->name,
                arg);
        return false;
    }
    *out = (uint64_t)v << shift;
    return true;
}

/* The options that take a number. false after a usage error. */
static bool number_option(int c, const char *arg, struct options *o)
{
    long v;
    if (c == OPT_EVIDENCE_FLOW)
        return bytes_arg(c, arg, &o->evidence_caps.flow_bytes);
    if (c == OPT_EVIDENCE_TOTAL)
        return bytes_arg(c, arg, &o->evidence_caps.total_bytes);
    if (c == OPT_VXLAN_PORT) {
        if (!number_arg(c, arg, 1, 65535, "a UDP port (1-65535)", &v))
            return false;
        o->decode.vxlan_port = (uint16_t)v;
        return true;
    }
    if (c == OPT_CAPTURE_THREADS)
        return number_arg(c, arg, 1, 64, "a number of threads (1-64)", &o->capture_threads);
    if (c == OPT_WORKERS || c == OPT_DPI_MEMORY) {
        bool w = c == OPT_WORKERS;
        if (!number_arg(c, arg, w ? 0 : 1, w ? 64 : 1048576, w ? "a number of threads (0-64)" : "MiB (1-1048576)",
                        &v))
            return false;
        *(w ? &o->workers : &o->dpi_memory) = v;
        return true;
    }
    if (c == 'B') { /* KiB, handed to libpcap as an int of bytes (issue 20 H) */
        if (!number_arg(c, arg, 1, INT_MAX / 1024, "KiB (1-2097151)", &v))
            return false;
        o->live.buffer_kib = (int)v;
        return true;
    }
    if (!number_arg(c, arg, 0, INT_MAX, "a whole number >= 0", &v))
        return false;
    switch (c) {
    case OPT_IDLE: o->idle_timeout = v; break;
    case OPT_MAXFLOWS: o->max_flows = v; break;
    case OPT_STATS: o->stats_every = v; break;
    case OPT_DURATION: o->duration = v; break;
    case OPT_COUNT: o->count = v; break;
    case OPT_LOCK_WAIT: o->lock_wait = v; break;
    case OPT_BACKLOG: o->backlog = v; break;
    default: o->live.snaplen = (int)v; break;
    }
    return true;
}

/* Appends a capture to o->files. false when out of memory. */
static bool add_file(struct options *o, char *path)
{
    char **f = realloc(o->files, (size_t)(o->nfiles + 1) * sizeof *f);
    if (!f)
        return false;
    o->files = f;
    o->files[o->nfiles++] = path;
    return true;
}

/* The filter: the words argv[i..argc) joined, or the text of -F FILE. 0, or
 * 1 after a usage error. */
static int take_filter(int argc, char **argv, int i, struct options *o)
{
    if (o->filter_file && i < argc) {
        fprintf(stderr, "lyncaudit: -F %s and a filter expression ('%s'...): give one of them\n", o->filter_file,
                argv[i]);
        return 1;
    }
    if (o->filter_file) {
        FILE *f = fopen(o->filter_file, "r");
        struct stat st;
        if (!f || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > 65536) {
            fprintf(stderr, "lyncaudit: -F %s: %s\n", o->filter_file,
                    !f ? strerror(errno) : "not a regular file of at most 64 KiB");
            if (f)
                fclose(f);
            return 1;
        }
        o->filter = calloc(1, (size_t)st.st_size + 1);
        size_t n = o->filter ? fread(o->filter, 1, (size_t)st.st_size, f) : 0;
        fclose(f);
        if (!o->filter)
            return 1;
        for (size_t k = 0; k < n; k++)
            if (o->filter[k] == '\n' || o->filter[k] == '\r' || o->filter[k] == '\t')
                o->filter[k] = ' ';
        while (n > 0 && o->filter[n - 1] == ' ')
            o->filter[--n] = '\0';
        return 0;
    }
    size_t len = 1;
    for (int j = i; j < argc; j++)
        len += strlen(argv[j]) + 1;
    if (i == argc || !(o->filter = calloc(1, len)))
        return i == argc ? 0 : 1;
    for (int j = i; j < argc; j++) {
        if (j > i)
            strcat(o->filter, " ");
        strcat(o->filter, argv[j]);
    }
    return 0;
}

/* The operands after the options: captures (without -r or -i: the first
 * word, then each word naming a pcap or pcapng file, or "-"), then the
 * filter. 0, or 1 after a usage error. */
static int take_operands(int argc, char **argv, int i, struct options *o)
{
    if (!o->iface && !o->read_opts) {
        while (i < argc && (o->nfiles == 0 || is_capture(argv[i]) ||
                            (looks_like_path(argv[i]) && access(argv[i], F_OK) != 0))) {
            if (!capture_usable(argv[i]) || !add_file(o, argv[i]))
                return 1;
            i++;
        }
    }
    if (o->nfiles == 0 && !o->iface) {
        fprintf(stderr, "lyncaudit: no capture file given\nTry 'lyncaudit --help'.\n");
        return 1;
    }
    if (o->iface && o->nfiles) {
        fprintf(stderr, "lyncaudit: -i and -r: read an interface or capture files, not both\n");
        return 1;
    }
    if (o->capture_threads > 1 && !o->iface) {
        fprintf(stderr, "lyncaudit: --capture-threads is for a live capture (-i IFACE)\n");
        return 1;
    }
    return take_filter(argc, argv, i, o);
}

/* --eve, --eve-rotate, --syslog, --syslog-facility. false after a usage error. */
static bool event_option(int c, const char *arg, struct options *o)
{
    if (c == OPT_EVE && !arg[0]) {
        fprintf(stderr, "lyncaudit: --eve wants a file name ('-': stdout)\n");
        return false;
    }
    if (c == OPT_EVE)
        o->eve.path = arg;
    else if (c == OPT_SYSLOG)
        o->eve.syslog = true;
    else if (c == OPT_EVE_ROTATE && !(o->eve.rotate_bytes = eve_size(arg))) {
        fprintf(stderr, "lyncaudit: --eve-rotate wants a size in bytes >= 1 (K, M, G: times 1024), not '%s'\n", arg);
        return false;
    } else if (c == OPT_SYSLOG_FACILITY && (o->eve.facility = eve_facility(arg)) < 0) {
        fprintf(stderr, "lyncaudit: --syslog-facility wants daemon, user, auth, authpriv or local0..local7, "
                        "not '%s'\n", arg);
        return false;
    }
    o->facility_set |= c == OPT_SYSLOG_FACILITY;
    return true;
}

/* The event options that go together. false after a usage error. */
static bool events_usable(const struct options *o)
{
    const char *why = NULL;
    bool to_stdout = o->eve.path && !strcmp(o->eve.path, "-");
    if (o->eve.rotate_bytes && (!o->eve.path || to_stdout))
        why = "--eve-rotate wants --eve FILE (a file, not stdout)";
    else if (to_stdout && o->json)
        why = "--eve - and --json both write to stdout: give one of them";
    else if (o->facility_set && !o->eve.syslog)
        why = "--syslog-facility wants --syslog";
    if (why)
        fprintf(stderr, "lyncaudit: %s\n", why);
    return !why;
}

/* Parses the command line; returns -1 to exit 0 (help, version), 1 on a
 * usage error (already reported), 0 to run. */
static int parse_args(int argc, char **argv, struct options *o)
{
    o->db_path = "lyncaudit.db";
    o->idle_timeout = -1;
    o->max_flows = 1000000;
    o->workers = -1;
    o->dpi_memory = 256;
    o->capture_threads = 1;
    o->live.promisc = 1;
    o->live.buffer_kib = 32768; /* 2 MiB (libpcap's) lost packets at 200k pps on lo (bench/README.md) */
    o->lock_wait = 30;
    o->backlog = 65536;
    o->eve.facility = 21; /* local5, as Suricata's eve syslog output */
    o->evidence_caps = (struct evidence_caps){EVIDENCE_FLOW_BYTES, EVIDENCE_TOTAL_BYTES};
    int c;
    opterr = 0; /* suggest_option_error says it, with a "did you mean" */
    while ((c = getopt_long(argc, argv, ":d:t:qvhVi:Dps:B:Z:r:F:", LONGS, NULL)) != -1) {
        switch (c) {
        case 'd': o->db_path = optarg; break;
        case 'r':
            if (!capture_usable(optarg) || !add_file(o, optarg))
                return 1;
            o->read_opts++;
            break;
        case 'F': o->filter_file = optarg; break;
        case 't': o->topology = optarg; break;
        case OPT_RULES: o->rules_dir = optarg; break;
        case OPT_SENSOR: o->sensor = optarg; break;
        case OPT_LABEL: o->label = optarg; break;
        case OPT_EXCEPTIONS: o->exceptions = optarg; break;
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
        case OPT_EVE: case OPT_EVE_ROTATE: case OPT_SYSLOG: case OPT_SYSLOG_FACILITY:
            if (!event_option(c, optarg, o))
                return 1;
            break;
        case OPT_EVIDENCE: o->evidence = optarg; break;
        case OPT_VXLAN_PORT: case OPT_IDLE: case OPT_MAXFLOWS: case OPT_STATS: case OPT_DURATION:
        case OPT_COUNT: case 's': case 'B': case OPT_LOCK_WAIT: case OPT_BACKLOG: case OPT_EVIDENCE_FLOW:
        case OPT_EVIDENCE_TOTAL: case OPT_WORKERS:
        case OPT_DPI_MEMORY: case OPT_CAPTURE_THREADS:
            if (!number_option(c, optarg, o))
                return 1;
            break;
        case 'h': usage(stdout); return -1;
        case 'V': {
            char dir[PATH_MAX], real[PATH_MAX];
            const char *data = paths_data_dir(dir, sizeof dir);
            printf("lyncaudit %s (nDPI %s, libpcap: %s)\n", LYNCAUDIT_VERSION, classify_ndpi_version(),
                   pcap_lib_version());
            printf("SQLite %s, %s, rule set %s (%s/rules)\n", store_sqlite_version(), luabox_lua_version(),
                   LYNCAUDIT_VERSION, realpath(data, real) ? real : data);
            return -1;
        }
        default:
            suggest_option_error("lyncaudit", "lyncaudit", c, argv, LONGS);
            return 1;
        }
    }
    if (!o->db_path[0]) {
        fprintf(stderr, "lyncaudit: -d wants a database file name\n");
        return 1;
    }
    if (!events_usable(o))
        return 1;
    return o->list_ifaces ? 0 : take_operands(argc, argv, optind, o);
}

/* buf = a/b; false when it does not fit. */
static bool path_join(char *buf, size_t len, const char *a, const char *b)
{
    int n = snprintf(buf, len, "%s/%s", a, b);
    return n >= 0 && (size_t)n < len;
}

/* Loads the rules and the topology (audit.h: at the start, a load that
 * stops making progress ends the process before anything is written; a
 * reload never ends it); prints the error and returns NULL. */
static struct audit *load_audit(const struct options *o, bool *no_topology, bool reloading)
{
    char dir[PATH_MAX], lua_dir[PATH_MAX], rules_dir[PATH_MAX], err[1024], topo[PATH_MAX];
    const char *data = paths_data_dir(dir, sizeof dir);
    if (!path_join(lua_dir, sizeof lua_dir, data, "lua") || !path_join(rules_dir, sizeof rules_dir, data, "rules")) {
        fprintf(stderr, "lyncaudit: %s: path too long\n", data);
        return NULL;
    }
    struct audit_paths p = {lua_dir, o->rules_dir ? o->rules_dir : rules_dir,
                            paths_topology(o->topology, paths_sysconf_dir(), topo, sizeof topo)};
    *no_topology = !p.topology;
    struct audit *a = reloading ? audit_reload(&p, err, sizeof err) : audit_load(&p, err, sizeof err);
    if (!a)
        fprintf(stderr, "lyncaudit: %s\n", err);
    return a;
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

/* Classify workers: --workers, --single-thread, else by the CPUs: one
 * thread on one CPU, two workers on two (the reader's work is the smaller),
 * one less than the CPUs beyond. */
static int classify_workers(const struct options *o)
{
    if (o->single_thread)
        return 0;
    if (o->workers >= 0)
        return (int)o->workers;
    int cpus = usable_cpus();
    return cpus < 2 ? 0 : cpus == 2 ? 2 : cpus - 1 > 64 ? 64 : cpus - 1;
}

/* One run's stages, wired. */
struct sensor {
    struct options *o;
    bool no_topology;
    struct audit *audit;       /* until the record stage takes it */
    struct classify **cls;     /* one per classify worker (at least one) */
    int workers;
    struct source *live;
    struct source **fan;       /* --capture-threads: every live handle, live first */
    int nfan;
    struct classify **fan_cls; /* the capture threads' classifiers, freed after the record stage */
    struct flow_config fc;
    struct source **held;      /* per file: a pipe or stdin opened at the check (read once) */
    struct store *store;
    struct record *rec;
    struct pipeline *pl;
    struct flow_table *ft;
    struct capture cap;
    struct eve *eve;           /* --eve, --syslog; NULL: no events */
    char live_source[300];     /* "interface:IFACE" */
    const char *live_list[1];
    struct evidence *ev;       /* --evidence */
    struct run_inputs inputs;  /* the run's provenance (run.h) */
    struct except_set *ex;     /* --exceptions */
    int64_t run_id;
    int files_read;            /* files read to their end (or to a damage) */
    bool summed_up;            /* the summary (or the --json trouble object) was printed */
    bool snap_said;            /* a short snapshot length was warned about */
};

/* SIGHUP: the new topology and rules take over for flows that end from now
 * on; the old rules' match counts are written first. A broken file keeps
 * the old ones. */
static void reload(void *ctx)
{
    struct sensor *x = ctx;
    bool no_topology;
    eve_reopen(x->eve); /* as Suricata: a SIGHUP also opens the EVE file again, for logrotate */
    struct audit *a = load_audit(x->o, &no_topology, true); /* a trial load in a child first */
    if (!a) {
        fprintf(stderr, "lyncaudit: reload failed; keeping the topology and rules in use\n");
        return;
    }
    pipeline_mark(x->pl, record_reload, a); /* the record stage writes the old rules' counts, then swaps */
}

/* True when a file run gives up root (-Z USER, started as root): every
 * capture is then opened before the drop, as tcpdump -r -Z does. */
static bool drops_for_files(const struct options *o)
{
    return !o->iface && o->user && geteuid() == 0;
}

/* Bytes of each packet the dissectors need: the headers (link up to 22 with
 * QinQ, IPv6 40, TCP with options 60) and the start of the payload they
 * read: a TLS ClientHello to its SNI, a SIP request line and headers, a
 * STUN message with Microsoft attributes, an HTTP request line (docs/usage.md,
 * "Warnings", says how it was chosen). */
#define DISSECT_SNAPLEN 512

/* Says once per source when its snapshot length cuts what the dissectors
 * read: flows then stay "unknown" and rules judge them by port alone. */
static void warn_snaplen(struct sensor *x, const char *name, int snaplen)
{
    if (x->o->quiet || snaplen <= 0 || snaplen >= DISSECT_SNAPLEN)
        return;
    x->snap_said = true;
    fprintf(stderr, "lyncaudit: %s: snapshot length %d is below %d bytes: payloads are cut, flows the dissectors "
                    "cannot name stay 'unknown' and are allowed by port alone (runs.flows_unconfirmed)\n",
            name, snaplen, DISSECT_SNAPLEN);
}

/* The same, at the end, for packets cut shorter than their headers said
 * (a file whose header gives no or a larger snapshot length: editcap -s). */
static void warn_snapped(struct sensor *x)
{
    const struct capture *c = &x->cap;
    if (x->o->quiet || x->snap_said || !c->snapped || c->snapped_max >= DISSECT_SNAPLEN)
        return;
    fprintf(stderr, "lyncaudit: %llu packets were cut to %u bytes or less, below %d: flows the dissectors cannot "
                    "name stay 'unknown' and are allowed by port alone (runs.flows_unconfirmed)\n",
            (unsigned long long)c->snapped, c->snapped_max, DISSECT_SNAPLEN);
}

/* Every capture file is opened and checked (format, link type, filter)
 * before the database is touched. A regular file is closed again (at most
 * one open at a time) unless root is to be dropped (then the USER need not
 * be able to read it); a pipe or stdin can be read once, so it is held,
 * its header read, until its turn. 0 or -1 (printed). */
static int check_files(struct sensor *x)
{
    const struct options *o = x->o;
    char err[1024];
    if (o->nfiles && !(x->held = calloc((size_t)o->nfiles, sizeof *x->held)))
        return -1;
    for (int i = 0; i < o->nfiles; i++) {
        struct source *src = source_open_file(o->files[i], o->filter, err, sizeof err);
        if (!src) {
            /* A missing file taken for a filter word reads better as what it is. */
            if (o->filter && !strncmp(err, "bad filter", 10) && looks_like_path(o->filter))
                fprintf(stderr, "lyncaudit: %.*s: cannot read capture: %s\n", (int)strcspn(o->filter, " "),
                        o->filter, strerror(ENOENT));
            else
                fprintf(stderr, "lyncaudit: %s\n", err);
            return -1;
        }
        warn_snaplen(x, o->files[i], source_snaplen(src));
        if (is_regular(o->files[i]) && !drops_for_files(o))
            source_close(src);
        else
            x->held[i] = src;
    }
    return 0;
}

/* True when a and b name the same existing file. */
static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* The --evidence file, prepared (written only once the run starts); never
 * one of the inputs or the database. 0 or -1 (printed). */
static int open_evidence(struct sensor *x)
{
    const struct options *o = x->o;
    char err[1024];
    bool named = o->evidence[0] && strcmp(o->evidence, "-");
    bool clash = !named || same_file(o->evidence, o->db_path);
    for (int i = 0; i < o->nfiles && !clash; i++)
        clash = same_file(o->evidence, o->files[i]);
    if (clash) {
        fprintf(stderr, "lyncaudit: --evidence '%s': %s\n", o->evidence,
                named ? "is an input or the database, not a file to write the evidence to"
                      : "wants a file name (standard output holds the summary; a FIFO works)");
        return -1;
    }
    if (!(x->ev = evidence_open(o->evidence, &o->evidence_caps, err, sizeof err))) {
        fprintf(stderr, "lyncaudit: %s\n", err);
        return -1;
    }
    return 0;
}

/* --capture-threads N: N-1 more handles on the interface, and all N in one
 * fanout group. 0 or -1 (err). */
static int open_fanout(struct sensor *x, char *err, size_t errlen)
{
    const struct options *o = x->o;
    if (!(x->fan = calloc((size_t)o->capture_threads, sizeof *x->fan))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    x->fan[0] = x->live;
    x->nfan = 1;
    for (; x->nfan < o->capture_threads; x->nfan++)
        if (!(x->fan[x->nfan] = source_open_live(o->iface, &o->live, o->filter, err, errlen)))
            return -1;
    for (int i = 0; i < x->nfan; i++)
        if (source_set_fanout(x->fan[i], (int)(getpid() & 0xffff), err, errlen))
            return -1;
    return 0;
}

/* The --exceptions file, read with the role names of the rules in use. 0
 * or -1 (printed: "file:line: what"). */
static int load_exceptions(struct sensor *x)
{
    char dir[PATH_MAX], lua_dir[PATH_MAX], err[1024];
    if (!x->o->exceptions)
        return 0;
    if (!path_join(lua_dir, sizeof lua_dir, paths_data_dir(dir, sizeof dir), "lua")) {
        fprintf(stderr, "lyncaudit: %s: path too long\n", dir);
        return -1;
    }
    if ((x->ex = except_load(lua_dir, x->o->exceptions, x->audit, err, sizeof err)))
        return 0;
    fprintf(stderr, "lyncaudit: %s\n", err);
    return -1;
}

/* The inputs, rules, classifier, interface and database, in the order that
 * writes nothing until everything that can be checked was. 0 or -1 (printed). */
static int open_inputs(struct sensor *x)
{
    const struct options *o = x->o;
    char err[1024];
    if (check_files(x) || !(x->audit = load_audit(o, &x->no_topology, false)) || load_exceptions(x))
        return -1;
    if (x->no_topology && !o->quiet)
        fprintf(stderr, "lyncaudit: no topology (no -t FILE, no topology.lua here or in %s): every address is "
                        "'any', no flow is audited\n", paths_sysconf_dir());
    x->workers = classify_workers(o);
    int n = x->workers ? x->workers : 1;
    if (!(x->cls = calloc((size_t)n, sizeof *x->cls))) {
        snprintf(err, sizeof err, "out of memory");
        goto bad;
    }
    for (int i = 0; i < n; i++) {
        if (!(x->cls[i] = classify_new(err, sizeof err)))
            goto bad;
        classify_set_budget(x->cls[i], (size_t)o->dpi_memory * 1024u * 1024u / (size_t)n);
    }
    if ((o->iface || o->user) && !privs_user_ok(o->user)) { /* checked before anything is opened or written */
        fprintf(stderr, "lyncaudit: -Z %s: no such user\n", o->user ? o->user : "nobody");
        return -1;
    }
    if (o->user && geteuid() != 0) {
        fprintf(stderr, "lyncaudit: -Z %s: not running as root, nothing to drop\n", o->user);
        return -1;
    }
    if (o->iface && !(x->live = source_open_live(o->iface, &o->live, o->filter, err, sizeof err)))
        goto bad;
    if (x->live)
        warn_snaplen(x, o->iface, o->live.snaplen);
    /* The event file and the database are opened before root is dropped:
     * the capturing user never needs write access to their folders
     * (docs/usage.md). */
    if (!(x->eve = eve_open(&o->eve, err, sizeof err)) && (o->eve.path || o->eve.syslog))
        goto bad;
    /* The database and the evidence file are opened before root is
     * dropped: the capturing user never needs write access to their
     * folders (docs/usage.md). */
    if (o->evidence && open_evidence(x))
        return -1;
    if (x->live && o->capture_threads > 1 && open_fanout(x, err, sizeof err))
        goto bad;
    /* The database is opened before root is dropped: the capturing user
     * never needs write access to its folder (docs/usage.md). */
    if (!(x->store = store_open(o->db_path, (int)o->lock_wait * 1000, err, sizeof err)))
        goto bad;
    return 0;
bad:
    fprintf(stderr, "lyncaudit: %s\n", err);
    return -1;
}

/* The run's sources as the runs table names them: the capture files, or
 * "interface:IFACE". */
static const char *const *run_sources(struct sensor *x, int *n)
{
    if (!x->live) {
        *n = x->o->nfiles;
        return (const char *const *)x->o->files;
    }
    snprintf(x->live_source, sizeof x->live_source, "interface:%s", x->o->iface);
    x->live_list[0] = x->live_source;
    *n = 1;
    return x->live_list;
}

/* Puts the evidence file in place, its header naming the run. 0 or -1
 * (printed, the run closed as "error"). */
static int start_evidence(struct sensor *x)
{
    char comment[1024];
    snprintf(comment, sizeof comment,
             "lyncaudit: the packets of every flow that got a violation in run %lld of %s (flows.evidence "
             "says which; lyncaudit report %s --run %lld); each flow's first packet names its violations",
             (long long)x->run_id, x->o->db_path, x->o->db_path, (long long)x->run_id);
    if (evidence_start(x->ev, comment) == 0)
        return 0;
    fprintf(stderr, "lyncaudit: %s\n", evidence_error(x->ev));
    store_end_run(x->store, &(struct store_counters){0}, "error", evidence_error(x->ev));
    return -1;
}

/* The run row, the privilege drop, the record stage, the pipeline and the
 * flow table. 0 or -1 (printed). */
static int start_run(struct sensor *x)
{
    const struct options *o = x->o;
    char sources[4096] = "", err[256];
    if (x->live)
        snprintf(sources, sizeof sources, "interface:%s", o->iface);
    for (int i = 0; i < o->nfiles; i++)
        snprintf(sources + strlen(sources), sizeof sources - strlen(sources), "%s%s", i ? " " : "", o->files[i]);
    char host[256] = "";
    if (!o->sensor && gethostname(host, sizeof host - 1) != 0)
        host[0] = '\0';
    struct store_run sr = {.version = LYNCAUDIT_VERSION, .ndpi_version = classify_ndpi_version(),
                           .sources = sources, .filter = o->filter, .topology = audit_topology_path(x->audit),
                           .topology_name = audit_topology_name(x->audit), .rules_loaded = audit_rule_count(x->audit),
                           .sensor = o->sensor ? o->sensor : host[0] ? host : NULL, .evidence = o->evidence};
    if (run_describe(&x->inputs, &sr, x->audit, x->ex, o->files, o->nfiles, x->live ? sources : NULL, o->label, err,
                     sizeof err)) {
        fprintf(stderr, "lyncaudit: %s\n", err);
        return -1;
    }
    if (o->verbose && x->inputs.hashed_bytes)
        fprintf(stderr, "lyncaudit: SHA-256 of %llu capture bytes in %.3f s\n",
                (unsigned long long)x->inputs.hashed_bytes, x->inputs.hash_seconds);
    if ((x->run_id = run_open(x->store, &sr, x->audit)) < 0) {
        fprintf(stderr, "lyncaudit: %s\n", store_error(x->store));
        return -1;
    }
    struct eve_run er = {x->run_id, o->db_path, NULL, 0, &sr};
    er.sources = run_sources(x, &er.nsources);
    eve_run_start(x->eve, &er);
    if (x->ev && start_evidence(x) != 0)
        return -1;
    /* A live capture goes on through another writer's lock: flows are held
     * in a backlog, and the lock is tried for 100 ms at each commit. */
    if (x->live)
        store_set_lock_wait(x->store, 100);
    /* Files (-Z): every capture is open already (check_files held them). */
    if ((x->live || drops_for_files(o)) && privs_drop(o->user, x->live ? "capturing" : "reading", o->quiet) != 0) {
        store_end_run(x->store, &(struct store_counters){0}, "error", "could not drop privileges");
        return -1;
    }
    struct flow_config fc = {.tcp_idle_us = 300000000ull, .udp_idle_us = 120000000ull,
                             .other_idle_us = 60000000ull, .linger_us = 30000000ull,
                             .max_flows = (size_t)o->max_flows, .handover = true, .vlan_key = o->vlan_flows != 0};
    if (o->idle_timeout >= 0)
        fc.tcp_idle_us = fc.udp_idle_us = fc.other_idle_us = (uint64_t)o->idle_timeout * 1000000u;
    x->fc = fc;
    x->rec = record_new(x->audit, x->store, capture_counters, &x->cap, o->quiet, x->live ? (size_t)o->backlog : 0);
    if (x->rec) {
        x->audit = NULL; /* the record stage's now */
        record_set_eve(x->rec, x->eve);
        record_set_exceptions(x->rec, x->ex);
    }
    if (x->rec && x->ev) {
        record_set_evidence(x->rec, x->ev, x->cls[0]);
        evidence_set_judge(x->ev, record_in_scope, record_verdict_now, x->rec);
    }
    x->pl = x->rec ? pipeline_new(x->cls, x->workers, record_flow, x->rec, err, sizeof err) : NULL;
    x->ft = x->pl ? flow_table_new(&fc, pipeline_flow_end, x->pl) : NULL;
    if (!x->ft) {
        fprintf(stderr, "lyncaudit: out of memory\n");
        store_end_run(x->store, &(struct store_counters){0}, "error", "out of memory");
        return -1;
    }
    if (o->verbose && !o->quiet)
        fprintf(stderr, "lyncaudit: %d thread%s\n", pipeline_threads(x->pl), pipeline_threads(x->pl) > 1 ? "s" : "");
    return 0;
}

/* The signal handlers, and the capture loop's settings. */
static void start_capture(struct sensor *x)
{
    const struct options *o = x->o;
    g_live = x->live;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* A reload must not break off a read from a pipe (EINTR there ends the
     * input as damaged): it is done at the next packet or timeout. */
    sa.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &sa, NULL);
    struct capture *c = &x->cap;
    ingest_init(&c->in, x->ft, &o->decode, pipeline_packet, x->pl);
    if (x->ev) {
        c->in.on_frame = evidence_frame;
        c->in.frame_ctx = x->ev;
    }
    c->pl = x->pl;
    c->rec = x->rec;
    c->stop = &g_stop;
    c->reload = &g_reload;
    c->on_reload = reload;
    c->reload_ctx = x;
    c->count = o->count > 0 ? (uint64_t)o->count : 0;
    c->stats_every = o->stats_every;
    c->progress = !o->quiet && isatty(STDERR_FILENO);
    c->eve = x->eve;
    capture_init(c);
    c->deadline = o->duration ? capture_now() + (double)o->duration : 0;
}

/* --capture-threads: the fanout group's threads, this one the writer. */
static int read_fanout(struct sensor *x, char *m, size_t mlen)
{
    const struct options *o = x->o;
    if (!(x->fan_cls = calloc((size_t)x->nfan, sizeof *x->fan_cls))) {
        snprintf(m, mlen, "out of memory");
        return -1;
    }
    struct fanout_cfg cfg = {x->fc, o->decode, (size_t)o->dpi_memory * 1024u * 1024u / (size_t)x->nfan,
                             x->fan_cls};
    if (cfg.flows.max_flows)
        cfg.flows.max_flows = (cfg.flows.max_flows + (size_t)x->nfan - 1) / (size_t)x->nfan;
    x->cap.final_stats = o->stats_every || !o->quiet;
    return fanout_run(&x->cap, x->fan, x->nfan, &cfg, m, mlen);
}

/* Reads the live interface or every file, as one run. */
static void read_all(struct sensor *x, struct run_outcome *out)
{
    const struct options *o = x->o;
    char m[1024];
    if (x->live) {
        if (!o->quiet)
            fprintf(stderr, "lyncaudit: capturing on %s (%s)%s\n", o->iface, source_datalink_name(x->live),
                    o->filter ? "" : ", no filter");
        if ((x->nfan > 1 ? read_fanout(x, m, sizeof m) : capture_source(&x->cap, x->live, m, sizeof m)) != 0) {
            fprintf(stderr, "lyncaudit: %s\n", m);
            snprintf(out->message, sizeof out->message, "%s", m);
            out->damaged = true;
        }
        if ((o->stats_every || !o->quiet) && x->nfan < 2)
            capture_print_stats(&x->cap, x->live);
    }
    for (int i = 0; i < o->nfiles && !g_stop && !x->cap.cut && !record_failed(x->rec); i++) {
        struct source *src = x->held[i] ? x->held[i] : source_open_file(o->files[i], o->filter, m, sizeof m);
        x->held[i] = NULL;
        if (src && o->verbose && !o->quiet)
            fprintf(stderr, "lyncaudit: reading %s (%s)\n", o->files[i], source_datalink_name(src));
        if (!src || capture_source(&x->cap, src, m, sizeof m) != 0) { /* unreadable: it was readable a moment ago */
            fprintf(stderr, "lyncaudit: %s\n", m);
            snprintf(out->message, sizeof out->message, "%s", m);
            out->damaged = true;
        }
        x->files_read += !x->cap.cut;
        source_close(src);
    }
}

/* The run's identity for the JSON summary, as far as it is known: sources,
 * filter, topology, rules, exit code, and with exit code 2 the error (the
 * last thing lyncaudit said on stderr). */
static void run_identity(struct sensor *x, struct report_run *rr, int rc)
{
    const struct options *o = x->o;
    const struct audit *a = x->rec ? record_audit(x->rec) : x->audit;
    rr->run_id = x->run_id > 0 ? x->run_id : 0;
    rr->db_path = o->db_path;
    rr->sources = run_sources(x, &rr->nsources);
    rr->filter = o->filter;
    rr->topology = a ? audit_topology_path(a) : NULL;
    rr->topology_name = a ? audit_topology_name(a) : NULL;
    rr->rules_loaded = a ? audit_rule_count(a) : 0;
    rr->exit_code = rc;
    rr->error = rc == RUN_EXIT_TROUBLE ? (g_said[0] ? g_said : "trouble (see stderr)") : NULL;
}

/* Closes the evidence file and says what it holds and what the caps cut;
 * a write that failed makes the run's status "error". */
static void close_evidence(struct sensor *x, struct run_outcome *out)
{
    const struct options *o = x->o;
    if (evidence_close(x->ev) != 0) {
        out->damaged = true; /* an output the run was asked for is not whole */
        snprintf(out->message, sizeof out->message, "%s", evidence_error(x->ev));
    }
    struct evidence_counts e;
    evidence_counts(x->ev, &e);
    if (o->quiet)
        return;
    fprintf(stderr, "lyncaudit: evidence %s: %llu packets of %llu flows", o->evidence,
            (unsigned long long)e.packets, (unsigned long long)e.flows);
    if (e.cut || e.missed)
        fprintf(stderr, "; %llu packets left out (%llu flows cut by --evidence-flow-bytes, %llu by "
                        "--evidence-bytes), %llu violating flows not in it",
                (unsigned long long)e.cut, (unsigned long long)e.cut_flow_cap, (unsigned long long)e.cut_total_cap,
                (unsigned long long)e.missed);
    fprintf(stderr, "\n");
}

/* -v: the CPU seconds of each stage, and what classify stopped nDPI for
 * (bench/run.sh --workers-sweep reads the first line). */
static void print_cpu(const struct sensor *x, const struct pipeline_cpu *cpu, double seconds)
{
    struct classify_stats t = {0};
    for (int i = 0; i < (x->workers ? x->workers : 1); i++) {
        struct classify_stats s;
        classify_get_stats(x->cls[i], &s);
        t.stopped_lync += s.stopped_lync;
        t.stopped_bytes += s.stopped_bytes;
        t.stopped_memory += s.stopped_memory;
        t.peak_held += s.peak_held;
        t.peak_ndpi_flows += s.peak_ndpi_flows;
    }
    fprintf(stderr, "lyncaudit: CPU s: reader %.3f, classify %.3f (%d worker%s), store %.3f; wall %.3f\n",
            cpu->reader, cpu->classify, x->workers, x->workers == 1 ? "" : "s", cpu->store, seconds);
    fprintf(stderr, "lyncaudit: nDPI stopped: %llu flows with a Lync label, %llu at 16 KiB, %llu by --dpi-memory "
            "(peaks summed over workers: %zu KiB of payload fed to %zu flows with nDPI state)\n",
            (unsigned long long)t.stopped_lync, (unsigned long long)t.stopped_bytes, (unsigned long long)t.stopped_memory,
            t.peak_held / 1024, t.peak_ndpi_flows);
}

/* What the run audited, in one line each when it falls short (docs/usage.md,
 * "Warnings"): nothing at all (exit code 3), or declared roles that never
 * appeared. The roles go into rr for the summary. */
static void say_coverage(const struct sensor *x, const struct store_counters *c, struct report_run *rr)
{
    static char unseen[1024];
    int declared, nunseen;
    record_roles_seen(x->rec, &declared, &nunseen, unseen, sizeof unseen);
    rr->roles_declared = declared;
    rr->roles_unseen = unseen;
    if (x->o->quiet)
        return;
    if (!c->flows_audited) {
        const char *path = audit_topology_path(record_audit(x->rec));
        const char *why = x->no_topology           ? ""
                          : !declared               ? " declares no addresses"
                          : nunseen == declared     ? ": none of its roles' addresses seen"
                                                    : ": its roles seen only with peers the rules do not judge";
        fprintf(stderr, "lyncaudit: nothing audited: none of the %llu flows was between known roles (%s%s); "
                        "exit code 3, not 0\n", (unsigned long long)c->flows, x->no_topology ? "no topology" : path,
                why);
    } else if (nunseen) {
        fprintf(stderr, "lyncaudit: declared roles never seen (no flow to or from their addresses): %s\n", unseen);
    }
}

/* Every flow down the pipeline, the run closed, the summary printed.
 * Returns the exit code. */
static int finish_run(struct sensor *x, struct run_outcome *out, double t0)
{
    const struct options *o = x->o;
    double seconds = capture_now() - t0;
    uint64_t peak = flow_table_stats(x->ft)->peak_live;
    if (x->cap.fan_peak_live > peak)
        peak = x->cap.fan_peak_live;
    flow_table_end_all(x->ft);
    struct pipeline_cpu cpu;
    pipeline_finish(x->pl, &cpu);
    x->pl = NULL;
    /* The flows still held are written (audited, counted) before the run's
     * counters are read; a live run's backlog waits --lock-wait here too. */
    store_set_lock_wait(x->store, (int)o->lock_wait * 1000);
    record_commit(x->rec, NULL);
    if (x->ev)
        close_evidence(x, out);
    if (o->verbose && !o->quiet)
        print_cpu(x, &cpu, seconds);
    struct store_counters c;
    record_counters(x->rec, &c);
    out->write_failed = record_failed(x->rec);
    static char bound[64];
    if (o->count > 0 && c.packets >= (uint64_t)o->count)
        snprintf(bound, sizeof bound, "--count %ld", o->count);
    else if (x->cap.timed_out)
        snprintf(bound, sizeof bound, "--duration %ld", o->duration);
    out->bound = bound[0] ? bound : NULL;
    /* A live capture ends only when something cuts it. */
    out->cut = x->cap.cut || x->live != NULL || x->files_read < o->nfiles;
    out->violations = c.violations;
    out->audited = c.flows_audited;
    const char *status = run_status(out, x->store);
    if (c.flows_dropped) {
        fprintf(stderr, "lyncaudit: %llu flows dropped: the database stayed locked or unreachable longer than "
                        "--backlog %ld lasted\n", (unsigned long long)c.flows_dropped, o->backlog);
        size_t used = strlen(out->message);
        snprintf(out->message + used, sizeof out->message - used,
                 "%s%llu flows dropped while the database was locked or unreachable", used ? "; " : "",
                 (unsigned long long)c.flows_dropped);
    }
    if (out->write_failed)
        fprintf(stderr, "lyncaudit: %s\n", out->message);
    if (eve_trouble(x->eve) && !out->message[0])
        snprintf(out->message, sizeof out->message, "%s", eve_trouble(x->eve));
    bool closed = run_close(x->store, x->rec, &c, status, out->message[0] ? out->message : NULL) == 0;
    (closed ? eve_commit : eve_discard)(x->eve); /* the events of the last batch */
    if (!closed && !out->write_failed)
        fprintf(stderr, "lyncaudit: %s\n", store_error(x->store));
    eve_run_end(x->eve, closed ? status : "error", closed ? (out->message[0] ? out->message : NULL)
                                                          : store_error(x->store), &c);
    int rc = run_exit_code(out, closed);
    struct report_run rr = {.run_id = x->run_id, .db_path = store_name(x->store), .status = closed ? status : "error",
                            .files = x->live ? 0 : o->nfiles, .counters = c, .seconds = seconds,
                            .peak_live_flows = peak, .audited = !x->no_topology};
    if (closed)
        say_coverage(x, &c, &rr);
    warn_snapped(x);
    if (o->json) {
        run_identity(x, &rr, rc);
        rr.message = out->message[0] ? out->message : NULL;
        if (closed)
            report_json(stdout, x->store, &rr);
        else
            report_json_trouble(stdout, &rr);
        x->summed_up = true;
    } else if (closed && !o->quiet) {
        /* --eve -: stdout is the event stream's */
        report_text(o->eve.path && !strcmp(o->eve.path, "-") ? stderr : stdout, x->store, &rr);
    }
    return rc;
}

/* Frees what the sensor holds (the pipeline first: it may hold flows). */
static void sensor_free(struct sensor *x)
{
    g_live = NULL;
    if (x->pl)
        pipeline_finish(x->pl, NULL);
    flow_table_free(x->ft);
    source_close(x->live);
    for (int i = 1; i < x->nfan; i++)
        source_close(x->fan[i]);
    free(x->fan);
    for (int i = 0; x->held && i < x->o->nfiles; i++)
        source_close(x->held[i]);
    free(x->held);
    store_close(x->store);
    for (int i = 0; x->cls && i < (x->workers ? x->workers : 1); i++)
        classify_free(x->cls[i]);
    free(x->cls);
    audit_free(record_free(x->rec));
    for (int i = 0; x->fan_cls && i < x->nfan; i++)
        classify_free(x->fan_cls[i]);
    free(x->fan_cls);
    evidence_free(x->ev); /* after the record stage: flows it held give their slots back */
    audit_free(x->audit);
    run_inputs_free(&x->inputs);
    except_free(x->ex); /* after the record stage that applied them */
    eve_close(x->eve);
    free(x->o->filter);
    free(x->o->files);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "topology"))
        return topology_main(argc - 1, argv + 1);
    if (argc > 1 && !strcmp(argv[1], "report"))
        return report_main(argc - 1, argv + 1);
    if (argc > 1 && !strcmp(argv[1], "export"))
        return export_main(argc - 1, argv + 1);
    signal(SIGXFSZ, SIG_IGN); /* past `ulimit -f` a write must fail (and be reported), not kill us */
    signal(SIGPIPE, SIG_IGN); /* a closed stdout or stderr (| head) must not end a capture */
    tee_stderr();
    struct options o = {.json = json_wanted(argc, argv)};
    struct sensor x = {.o = &o};
    int rc = RUN_EXIT_TROUBLE, pa = parse_args(argc, argv, &o);
    char err[1024];
    if (pa) {
        rc = pa < 0 ? RUN_EXIT_COMPLIANT : RUN_EXIT_TROUBLE;
    } else if (o.list_ifaces) {
        rc = source_list_interfaces(stdout, err, sizeof err) == 0 ? RUN_EXIT_COMPLIANT : RUN_EXIT_TROUBLE;
        if (rc)
            fprintf(stderr, "lyncaudit: %s\n", err);
    } else if (open_inputs(&x) == 0 && start_run(&x) == 0) {
        start_capture(&x);
        double t0 = capture_now();
        struct run_outcome out = {0};
        read_all(&x, &out);
        rc = finish_run(&x, &out, t0);
    }
    if (o.json && rc == RUN_EXIT_TROUBLE && !x.summed_up) {
        struct report_run rr = {0};
        run_identity(&x, &rr, rc);
        rr.status = x.run_id > 0 ? "error" : NULL;
        report_json_trouble(stdout, &rr);
    }
    sensor_free(&x);
    return rc;
}
