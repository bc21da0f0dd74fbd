/* eve.c - the event stream (see eve.h). JSON is built and written by
 * jansson; this file only chooses the fields and moves the lines. */
#define _GNU_SOURCE /* tm_gmtoff */
#include "eve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "report.h"

/* A held event: its line in the buffer, and its syslog severity (alerts;
 * -1 for a flow event). */
struct held {
    size_t off, len;
    int severity;
};

struct eve {
    /* the EVE file */
    int fd;             /* -1: none, or given up after a failed write */
    char *path;         /* NULL: stdout */
    bool regular;       /* a regular file: rotated by size, a failed write cut back to the last whole line */
    uint64_t size;      /* its size in whole lines */
    uint64_t rotate;    /* --eve-rotate bytes; 0: never */
    /* syslog */
    int slog;           /* -1: none */
    bool slog_said;     /* a failed send was said (once a run; eve_close gives the count) */
    int facility;
    char slog_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char host[256];
    uint64_t slog_lost;
    /* the events of rows not committed yet */
    char *buf;
    size_t len, cap;
    struct held *held;
    size_t nheld, capheld;
    bool oom;            /* an event could not be held: said at commit */
    int64_t run_id;
    char trouble[600];
};

/* RFC 3339 local time with microseconds and the offset: 2024-05-01T10:00:00.123456+02:00. */
static void rfc3339(uint64_t us, char out[40])
{
    time_t sec = (time_t)(us / 1000000u);
    struct tm tm;
    if (!localtime_r(&sec, &tm)) {
        snprintf(out, 40, "1970-01-01T00:00:00.000000+00:00");
        return;
    }
    size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    long off = tm.tm_gmtoff / 60;
    char sign = off < 0 ? '-' : '+';
    off = off < 0 ? -off : off;
    snprintf(out + n, 40 - n, ".%06u%c%02ld:%02ld", (unsigned)(us % 1000000u), sign, off / 60, off % 60);
}

/* The wall clock in microseconds (run and stats events, syslog headers). */
static uint64_t now_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

/* Says a problem on stderr and keeps the first for eve_trouble. */
static void say(struct eve *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct eve *e, const char *fmt, ...)
{
    char m[sizeof e->trouble];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    fprintf(stderr, "lyncaudit: %s\n", m);
    if (!e->trouble[0])
        snprintf(e->trouble, sizeof e->trouble, "%s", m);
}

/* The EVE file's name as given: its path, or "-". */
static const char *eve_name(const struct eve *e)
{
    return e->path ? e->path : "-";
}

/* ---- the EVE file ---- */

/* Opens path for appending (created 0644 less the umask); its size and
 * whether it is a regular file into *size and *regular. The fd, or -1. */
static int open_file(const char *path, uint64_t *size, bool *regular)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0) {
        *size = (uint64_t)st.st_size;
        *regular = S_ISREG(st.st_mode);
    }
    return fd;
}

/* A failed write: the file is cut back to its last whole line, and no more
 * events are written in this run. */
static void file_failed(struct eve *e, int err)
{
    if (e->regular && ftruncate(e->fd, (off_t)e->size) != 0) {
        /* nothing more to do: the message below says the stream ended */
    }
    if (e->path)
        close(e->fd);
    e->fd = -1;
    say(e, "--eve %s: cannot write: %s; no more events in this run (the database is complete)", eve_name(e),
        strerror(err));
}

/* Writes n bytes of whole lines; when that fails part way, what was
 * written of the last line is cut off again (file_failed). */
static void file_write(struct eve *e, const char *p, size_t n)
{
    size_t done = 0;
    while (e->fd >= 0 && done < n) {
        ssize_t w = write(e->fd, p + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            while (done > 0 && p[done - 1] != '\n')
                done--;
            e->size += done;
            file_failed(e, w < 0 ? errno : ENOSPC);
            return;
        }
        done += (size_t)w;
    }
    e->size += done;
}

/* --eve-rotate: FILE becomes FILE.YYYYMMDD-HHMMSS (.N when that is
 * taken) and a new FILE is begun. When it cannot be, says so and goes on
 * in the file as it is, no longer rotated. */
static void file_rotate(struct eve *e)
{
    char stamp[32], to[PATH_MAX];
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    int n = snprintf(to, sizeof to, "%s.%s", e->path, stamp);
    for (int i = 1; n > 0 && (size_t)n < sizeof to && access(to, F_OK) == 0 && i < 1000; i++)
        n = snprintf(to, sizeof to, "%s.%s.%d", e->path, stamp, i);
    uint64_t size = 0;
    bool regular = true;
    int fd = -1;
    if (n < 0 || (size_t)n >= sizeof to || access(to, F_OK) == 0 || rename(e->path, to) != 0 ||
        (fd = open_file(e->path, &size, &regular)) < 0) {
        say(e, "--eve-rotate: cannot begin a new %s: %s; events go on in the file as it is", e->path,
            strerror(errno));
        e->rotate = 0;
        return;
    }
    close(e->fd);
    e->fd = fd;
    e->size = size;
}

/* Writes the held lines [from, to) to the EVE file, whole lines only, a new
 * file begun before a line that would take it past --eve-rotate. */
static void file_lines(struct eve *e, size_t from, size_t to)
{
    size_t start = from;
    uint64_t chunk = 0;
    for (size_t i = from; i < to && e->fd >= 0; i++) {
        if (e->rotate && e->regular && e->size + chunk > 0 && e->size + chunk + e->held[i].len > e->rotate) {
            file_write(e, e->buf + e->held[start].off, (size_t)chunk);
            if (e->fd >= 0)
                file_rotate(e);
            start = i;
            chunk = 0;
        }
        chunk += e->held[i].len;
    }
    if (e->fd >= 0 && chunk)
        file_write(e, e->buf + e->held[start].off, (size_t)chunk);
}

/* ---- syslog ---- */

/* A datagram socket connected to the syslog socket, or -1 (errno says why). */
static int slog_connect(struct eve *e)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, e->slog_path, sizeof sa.sun_path);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

/* One datagram: the RFC 5424 header, then the alert's JSON as the message.
 * A full queue is waited on for 100 ms, a gone socket connected again once;
 * then the alert is counted as lost. */
static void slog_send(struct eve *e, const char *json, size_t len, int severity)
{
    char head[400], ts[40];
    rfc3339(now_us(), ts);
    int n = snprintf(head, sizeof head, "<%d>1 %s %s lyncaudit %d alert - ", e->facility * 8 + severity, ts,
                     e->host, (int)getpid());
    struct iovec iov[2] = {{head, (size_t)n}, {(void *)json, len}};
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
    for (int attempt = 0; attempt < 2; attempt++) {
        if (e->slog < 0)
            e->slog = slog_connect(e);
        if (e->slog >= 0 && sendmsg(e->slog, &m, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
            return;
        if (e->slog >= 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd p = {e->slog, POLLOUT, 0};
            poll(&p, 1, 100);
            continue;
        }
        if (e->slog >= 0)
            close(e->slog);
        e->slog = -1;
    }
    int err = errno;
    e->slog_lost++;
    if (!e->slog_said)
        say(e, "--syslog: cannot send to %s: %s; alerts not sent are counted", e->slog_path, strerror(err));
    e->slog_said = true;
}

/* ---- held events ---- */

/* Room for `more` bytes after the held ones. false when out of memory. */
static bool reserve(struct eve *e, size_t more)
{
    if (e->len + more <= e->cap)
        return true;
    size_t cap = e->cap ? e->cap : 65536;
    while (cap < e->len + more)
        cap *= 2;
    char *b = realloc(e->buf, cap);
    if (!b)
        return false;
    e->buf = b;
    e->cap = cap;
    return true;
}

/* Holds ev (taken) as one line; severity as for struct held. */
static void hold(struct eve *e, json_t *ev, int severity)
{
    if (e->nheld == e->capheld) {
        size_t cap = e->capheld ? e->capheld * 2 : 1024;
        struct held *h = realloc(e->held, cap * sizeof *h);
        if (h) {
            e->held = h;
            e->capheld = cap;
        }
    }
    size_t n = 0;
    if (ev && e->nheld < e->capheld && reserve(e, 4096)) {
        n = json_dumpb(ev, e->buf + e->len, e->cap - e->len - 1, JSON_COMPACT);
        if (n >= e->cap - e->len && reserve(e, n + 1))
            n = json_dumpb(ev, e->buf + e->len, e->cap - e->len - 1, JSON_COMPACT);
    }
    if (n == 0 || n >= e->cap - e->len) {
        e->oom = true;
    } else {
        e->buf[e->len + n] = '\n';
        e->held[e->nheld++] = (struct held){e->len, n + 1, severity};
        e->len += n + 1;
    }
    json_decref(ev);
}

/* Writes one event now (run, stats). */
static void write_now(struct eve *e, json_t *ev)
{
    size_t n = e->nheld;
    hold(e, ev, -1);
    if (e->nheld > n && e->fd >= 0)
        file_lines(e, n, e->nheld);
    e->nheld = n;
    e->len = n ? e->held[n - 1].off + e->held[n - 1].len : 0;
}

void eve_commit(struct eve *e)
{
    if (!e)
        return;
    if (e->fd >= 0)
        file_lines(e, 0, e->nheld);
    for (size_t i = 0; e->slog_path[0] && i < e->nheld; i++)
        if (e->held[i].severity >= 0)
            slog_send(e, e->buf + e->held[i].off, e->held[i].len - 1, e->held[i].severity);
    if (e->oom)
        say(e, "--eve/--syslog: out of memory: events of this run are missing");
    e->oom = false;
    eve_discard(e);
}

void eve_discard(struct eve *e)
{
    if (!e)
        return;
    e->nheld = 0;
    e->len = 0;
}

/* ---- the events ---- */

/* Suricata's proto names: upper case, IPv6-ICMP, a number for the rest. */
static const char *proto_name(const char *transport, char buf[16])
{
    if (!strcmp(transport, "icmp6"))
        return "IPv6-ICMP";
    if (!strncmp(transport, "ip-", 3))
        return transport + 3;
    size_t i = 0;
    for (; i < 15 && transport[i]; i++)
        buf[i] = (char)(transport[i] >= 'a' && transport[i] <= 'z' ? transport[i] - 32 : transport[i]);
    buf[i] = '\0';
    return buf;
}

/* The fields every flow and alert event has: the common section and the tuple. */
static json_t *flow_head(const char *type, int64_t flow_id, const struct store_flow *f)
{
    char ts[40], pbuf[16];
    rfc3339(f->last_us, ts);
    json_t *o = json_pack("{s:s, s:I, s:s, s:s, s:i, s:s, s:i, s:s, s:i, s:s}", "timestamp", ts, "flow_id",
                          (json_int_t)flow_id, "event_type", type, "src_ip", f->src_ip, "src_port", (int)f->src_port,
                          "dest_ip", f->dst_ip, "dest_port", (int)f->dst_port, "proto",
                          proto_name(f->transport, pbuf), "ip_v", f->ip_version, "app_proto", f->app);
    if (o && f->vlan)
        json_object_set_new(o, "vlan", f->vlan_inner ? json_pack("[i, i]", (int)f->vlan, (int)f->vlan_inner)
                                                     : json_pack("[i]", (int)f->vlan));
    return o;
}

/* Suricata's flow.reason and flow.state for a flow's end. */
static void flow_end_words(const struct store_flow *f, const char **reason, const char **state)
{
    bool closed = !strcmp(f->end_reason, "fin") || !strcmp(f->end_reason, "rst");
    *state = closed ? "closed" : f->pkts_rev ? "established" : "new";
    *reason = !strcmp(f->end_reason, "evicted") ? "forced" : !strcmp(f->end_reason, "end") ? "shutdown" : "timeout";
}

/* The "flow" object: Suricata's counters and times. */
static json_t *flow_obj(const struct store_flow *f)
{
    char start[40], end[40];
    const char *reason, *state;
    rfc3339(f->first_us, start);
    rfc3339(f->last_us, end);
    flow_end_words(f, &reason, &state);
    return json_pack("{s:I, s:I, s:I, s:I, s:s, s:s, s:I, s:s, s:s, s:b}", "pkts_toserver", (json_int_t)f->pkts_fwd,
                     "pkts_toclient", (json_int_t)f->pkts_rev, "bytes_toserver", (json_int_t)f->bytes_fwd,
                     "bytes_toclient", (json_int_t)f->bytes_rev, "start", start, "end", end, "age",
                     (json_int_t)((f->last_us - f->first_us) / 1000000u), "state", state, "reason", reason,
                     "alerted", f->nviolations > 0);
}

/* app_detail as an object when it is JSON text, else as the text. */
static json_t *detail_value(const char *d)
{
    if (!d)
        return json_null();
    json_t *j = d[0] == '{' ? json_loads(d, 0, NULL) : NULL;
    return j ? j : json_string(d);
}

/* lync.tunnel: the outermost tunnel of the flow's first packet, or NULL. */
static json_t *tunnel_obj(const struct store_flow *f)
{
    if (!f->tunnel)
        return NULL;
    char a[INET6_ADDRSTRLEN] = "", b[INET6_ADDRSTRLEN] = "";
    int af = f->tunnel_ipver == 6 ? AF_INET6 : AF_INET;
    if (f->tunnel_src)
        inet_ntop(af, f->tunnel_src, a, sizeof a);
    if (f->tunnel_dst)
        inet_ntop(af, f->tunnel_dst, b, sizeof b);
    json_t *t = json_pack("{s:s, s:s, s:s}", "type", f->tunnel, "src_ip", a, "dest_ip", b);
    if (t && f->tunnel_id >= 0)
        json_object_set_new(t, "id", json_integer(f->tunnel_id));
    return t;
}

/* The "lync" object of a flow or alert event: roles, verdict, label. */
static json_t *lync_obj(const struct eve *e, const struct store_flow *f)
{
    json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s?, s:o, s:{s:s?, s:s?, s:s?}, s:s, s:I}", "run_id",
                          (json_int_t)e->run_id, "src_role", f->src_role ? f->src_role : "any", "dest_role",
                          f->dst_role ? f->dst_role : "any", "verdict", f->verdict ? f->verdict : "unscoped",
                          "rule_id", f->rule_id, "app_detail", detail_value(f->app_detail), "ndpi", "master",
                          f->ndpi_master, "app", f->ndpi_app, "confidence", f->ndpi_confidence, "end_reason",
                          f->end_reason, "icmp_errors", (json_int_t)f->icmp_errors);
    json_t *t = tunnel_obj(f);
    if (o && t)
        json_object_set_new(o, "tunnel", t);
    else
        json_decref(t);
    return o;
}

/* Suricata's alert.severity (1 most severe) and the syslog severity. */
static void severities(const char *sev, int *suricata, int *slog)
{
    *suricata = !strcmp(sev, "high") ? 1 : !strcmp(sev, "medium") ? 2 : 3;
    *slog = !strcmp(sev, "high") ? 3 : !strcmp(sev, "medium") ? 4 : !strcmp(sev, "low") ? 5 : 6;
}

/* The flow event of the row f (flows.id flow_id). */
static json_t *flow_event(const struct eve *e, int64_t flow_id, const struct store_flow *f)
{
    json_t *o = flow_head("flow", flow_id, f);
    json_t *fl = flow_obj(f), *lync = lync_obj(e, f);
    if (o && fl && lync && json_object_set_new(o, "flow", fl) == 0 && json_object_set_new(o, "lync", lync) == 0)
        return o;
    json_decref(o);
    json_decref(fl);
    json_decref(lync);
    return NULL;
}

/* An alert event: the flow event's fields (shared, not copied) as
 * event_type "alert", with the violation v in "alert" and "lync". */
static json_t *alert_event(json_t *flow_ev, const struct store_flow *f, const struct store_violation *v,
                           int suricata_sev)
{
    json_t *o = json_copy(flow_ev), *lync = json_copy(json_object_get(flow_ev, "lync"));
    if (!o || !lync) {
        json_decref(o);
        json_decref(lync);
        return NULL;
    }
    json_object_set_new(o, "event_type", json_string("alert"));
    json_object_set_new(lync, "kind", json_string(v->kind));
    json_object_set_new(lync, "severity", json_string(v->severity));
    json_object_set_new(lync, "rule_id", v->rule_id ? json_string(v->rule_id) : json_null());
    json_object_set_new(lync, "reference", v->reference ? json_string(v->reference) : json_null());
    json_object_set_new(lync, "flow_rule_id", f->rule_id ? json_string(f->rule_id) : json_null());
    json_object_set_new(o, "lync", lync);
    json_object_set_new(o, "alert", json_pack("{s:s, s:s, s:s, s:i}", "action", "allowed", "signature", v->message,
                                              "category", v->kind, "severity", suricata_sev));
    return o;
}

void eve_flow(struct eve *e, int64_t flow_id, const struct store_flow *f)
{
    if (!e || (e->fd < 0 && !e->slog_path[0]))
        return;
    json_t *o = flow_event(e, flow_id, f);
    if (!o) {
        e->oom = true;
        return;
    }
    if (e->fd >= 0) /* with syslog alone, no flow events */
        hold(e, json_incref(o), -1);
    for (int i = 0; i < f->nviolations; i++) {
        int sev, slog;
        severities(f->violations[i].severity, &sev, &slog);
        hold(e, alert_event(o, f, &f->violations[i], sev), slog);
    }
    json_decref(o);
}

void eve_run_start(struct eve *e, const struct eve_run *r)
{
    if (!e)
        return;
    e->run_id = r->id;
    if (e->fd < 0)
        return;
    char ts[40];
    rfc3339(now_us(), ts);
    json_t *src = json_array();
    for (int i = 0; src && i < r->nsources; i++)
        json_array_append_new(src, json_string(r->sources[i]));
    const struct store_run *row = r->row;
    json_t *run = json_pack("{s:s, s:s, s:o, s:s?, s:s?, s:s?, s:I, s:o}", "event", "start", "database",
                            r->database, "sources", src, "filter", row->filter, "topology", row->topology,
                            "topology_name", row->topology_name, "rules_loaded", (json_int_t)row->rules_loaded,
                            "versions", report_versions());
    /* provenance (docs/usage.md): what a result can be tied to */
    const char *prov[][2] = {{"label", row->label}, {"rules_version", row->rules_version},
                             {"rules_sha256", row->rules_sha256}, {"topology_sha256", row->topology_sha256}};
    for (size_t i = 0; run && i < sizeof prov / sizeof prov[0]; i++)
        if (prov[i][1])
            json_object_set_new(run, prov[i][0], json_string(prov[i][1]));
    write_now(e, json_pack("{s:s, s:s, s:o, s:{s:I}}", "timestamp", ts, "event_type", "run", "run", run, "lync",
                           "run_id", (json_int_t)e->run_id));
}

/* The run's counters as a JSON object (run end, stats). */
static json_t *counters_obj(const struct store_counters *c)
{
    json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "packets", (json_int_t)c->packets, "bytes",
                          (json_int_t)c->bytes, "undecodable", (json_int_t)c->undecodable, "flows",
                          (json_int_t)c->flows, "flows_evicted", (json_int_t)c->flows_evicted, "flows_dropped",
                          (json_int_t)c->flows_dropped, "violations", (json_int_t)c->violations);
    if (o && c->live) {
        json_object_set_new(o, "pcap_received", json_integer((json_int_t)c->pcap_received));
        json_object_set_new(o, "pcap_dropped", json_integer((json_int_t)c->pcap_dropped));
        json_object_set_new(o, "pcap_ifdropped", json_integer((json_int_t)c->pcap_ifdropped));
    }
    return o;
}

void eve_run_end(struct eve *e, const char *status, const char *message, const struct store_counters *c)
{
    if (!e || e->fd < 0)
        return;
    char ts[40];
    rfc3339(now_us(), ts);
    json_t *run = json_pack("{s:s, s:s, s:s?}", "event", "end", "status", status, "message", message);
    json_t *n = counters_obj(c);
    if (run && n)
        json_object_update(run, n);
    json_decref(n);
    write_now(e, json_pack("{s:s, s:s, s:o, s:{s:I}}", "timestamp", ts, "event_type", "run", "run", run, "lync",
                           "run_id", (json_int_t)e->run_id));
}

void eve_stats(struct eve *e, const struct store_counters *c, uint64_t live_flows, double uptime)
{
    if (!e || e->fd < 0)
        return;
    char ts[40];
    rfc3339(now_us(), ts);
    json_t *lync = counters_obj(c);
    if (lync) {
        json_object_set_new(lync, "run_id", json_integer(e->run_id));
        json_object_set_new(lync, "live_flows", json_integer((json_int_t)live_flows));
    }
    json_t *stats = json_pack("{s:I, s:{s:I, s:I}, s:{s:I, s:I, s:I}}", "uptime", (json_int_t)uptime, "capture",
                              "kernel_packets", (json_int_t)c->pcap_received, "kernel_drops",
                              (json_int_t)c->pcap_dropped, "decoder", "pkts", (json_int_t)c->packets, "bytes",
                              (json_int_t)c->bytes, "invalid", (json_int_t)c->undecodable);
    write_now(e, json_pack("{s:s, s:s, s:o, s:o}", "timestamp", ts, "event_type", "stats", "stats", stats, "lync",
                           lync));
}

/* ---- open, reopen, close ---- */

struct eve *eve_open(const struct eve_config *c, char *err, size_t errlen)
{
    if (!c->path && !c->syslog)
        return NULL;
    struct eve *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->fd = -1;
    e->slog = -1;
    e->rotate = c->rotate_bytes;
    e->facility = c->facility;
    if (c->path && strcmp(c->path, "-") && !(e->path = strdup(c->path)))
        goto oom;
    if (c->path && !e->path) {
        e->fd = STDOUT_FILENO;
    } else if (e->path && (e->fd = open_file(e->path, &e->size, &e->regular)) < 0) {
        snprintf(err, errlen, "--eve %s: cannot open: %s", e->path, strerror(errno));
        eve_close(e);
        return NULL;
    }
    if (c->syslog) {
        const char *sock = getenv("LYNCAUDIT_SYSLOG_SOCKET"); /* tests: a listener of their own */
        snprintf(e->slog_path, sizeof e->slog_path, "%s", sock && sock[0] ? sock : "/dev/log");
        if (gethostname(e->host, sizeof e->host - 1) != 0 || !e->host[0])
            snprintf(e->host, sizeof e->host, "-");
        for (char *p = e->host; *p; p++)
            if (*p <= ' ' || *p > '~')
                *p = '-';
        if ((e->slog = slog_connect(e)) < 0) {
            say(e, "--syslog: cannot connect to %s: %s; alerts not sent are counted", e->slog_path, strerror(errno));
            e->slog_said = true;
        }
    }
    return e;
oom:
    snprintf(err, errlen, "out of memory");
    eve_close(e);
    return NULL;
}

void eve_reopen(struct eve *e)
{
    if (!e || !e->path || e->fd < 0)
        return;
    uint64_t size = 0;
    bool regular = e->regular;
    int fd = open_file(e->path, &size, &regular);
    if (fd < 0) {
        fprintf(stderr, "lyncaudit: --eve %s: cannot open again: %s; events go on in the file as it was open\n",
                e->path, strerror(errno));
        return;
    }
    close(e->fd);
    e->fd = fd;
    e->size = size;
    e->regular = regular;
}

const char *eve_trouble(const struct eve *e)
{
    return e && e->trouble[0] ? e->trouble : NULL;
}

void eve_close(struct eve *e)
{
    if (!e)
        return;
    if (e->slog_lost)
        fprintf(stderr, "lyncaudit: --syslog: %llu alert%s could not be sent to %s\n",
                (unsigned long long)e->slog_lost, e->slog_lost == 1 ? "" : "s", e->slog_path);
    if (e->fd >= 0 && e->path)
        close(e->fd);
    if (e->slog >= 0)
        close(e->slog);
    free(e->path);
    free(e->buf);
    free(e->held);
    free(e);
}

int eve_facility(const char *name)
{
    static const struct {
        const char *name;
        int code;
    } F[] = {{"user", 1}, {"daemon", 3}, {"auth", 4}, {"authpriv", 10}, {"local0", 16}, {"local1", 17},
             {"local2", 18}, {"local3", 19}, {"local4", 20}, {"local5", 21}, {"local6", 22}, {"local7", 23}};
    for (size_t i = 0; i < sizeof F / sizeof F[0]; i++)
        if (!strcmp(name, F[i].name))
            return F[i].code;
    return -1;
}

uint64_t eve_size(const char *text)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || text[0] == '-')
        return 0;
    int shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10;
    else if (*end == 'M' || *end == 'm')
        shift = 20;
    else if (*end == 'G' || *end == 'g')
        shift = 30;
    if (shift)
        end++;
    if (*end || v > (UINT64_MAX >> shift))
        return 0;
    return (uint64_t)v << shift;
}
