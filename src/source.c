/* source.c - capture files and interfaces (see source.h).
 *
 * Classic pcap and live capture through libpcap, pcapng through pcapng.c.
 * For files the filter is applied here, record by record, with a program
 * compiled for each link type met (pcap_open_dead + pcap_compile +
 * pcap_offline_filter, what pcap_setfilter does for a file): records are
 * counted before the filter, so a damaged file names its record. */
#define _GNU_SOURCE /* fopencookie */
#include "source.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <fcntl.h>
#include <unistd.h>
#include <linux/if_packet.h>

#include "decode.h"
#include "pcapng.h"

#define LINKTYPE_RAW 101 /* pcapng's number for raw IP; libpcap calls it DLT_RAW */

/* The filter compiled for one link type. */
struct prog {
    int dlt;
    bool ok; /* false: it does not compile for this link type, or we do not
              * decode it; none of its packets passes */
    struct bpf_program bpf;
};

struct source {
    pcap_t *pcap;       /* classic pcap files and live capture */
    struct pcapng *ng;  /* pcapng files */
    FILE *fp;           /* a file's stream (closed with pcap, or by us for pcapng) */
    char *name;
    int dlt;            /* the first interface's link type */
    uint64_t size;      /* file size for progress, 0 if unknown */
    uint64_t packets;   /* records read, before the filter */
    uint64_t last_ts_us; /* the time a pcapng simple packet block takes */
    int live;
    int regular;        /* a regular file (not a pipe, stdin or device) */
    char *filter;       /* files: compiled per link type (progs) */
    struct prog *progs;
    size_t nprogs, lastprog;
    struct source_stats last;   /* pcap_stats' 32-bit counters, widened */
    char err[PCAP_ERRBUF_SIZE + 512];
};

/* A live capture's filter, in the kernel where it can be. */
static int set_filter(pcap_t *p, const char *name, const char *filter, char *err, size_t errlen)
{
    if (!filter)
        return 0;
    struct bpf_program prog;
    if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        snprintf(err, errlen, "bad filter '%s': %s", filter, pcap_geterr(p));
        return -1;
    }
    int rc = pcap_setfilter(p, &prog);
    pcap_freecode(&prog);
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot set filter: %s", name, pcap_geterr(p));
        return -1;
    }
    return 0;
}

/* Checks the link type, sets the filter and wraps an open live pcap_t (closed on failure). */
static struct source *wrap(pcap_t *p, const char *name, const char *filter, char *err, size_t errlen)
{
    int dlt = pcap_datalink(p);
    if (!decode_link_supported(dlt)) {
        const char *n = pcap_datalink_val_to_name(dlt);
        snprintf(err, errlen, "%s: link type %d (%s) is not supported", name, dlt, n ? n : "unknown");
        pcap_close(p);
        return NULL;
    }
    if (set_filter(p, name, filter, err, errlen)) {
        pcap_close(p);
        return NULL;
    }
    struct source *s = calloc(1, sizeof *s);
    if (!s || !(s->name = strdup(name))) {
        free(s);
        pcap_close(p);
        snprintf(err, errlen, "%s: out of memory", name);
        return NULL;
    }
    s->pcap = p;
    s->dlt = dlt;
    s->live = 1;
    return s;
}

/* A pipe cannot be rewound once its magic number is read: this stream
 * hands those bytes back first, then reads the pipe (one read(2) a call, so
 * that what the writer has sent is read without waiting for more). */
struct replay {
    int fd;
    uint8_t head[4];
    size_t nhead, off;
};

/* fopencookie's read: the magic number's bytes, then the pipe. */
static ssize_t replay_read(void *cookie, char *buf, size_t n)
{
    struct replay *r = cookie;
    if (r->off < r->nhead) {
        size_t k = r->nhead - r->off < n ? r->nhead - r->off : n;
        memcpy(buf, r->head + r->off, k);
        r->off += k;
        return (ssize_t)k;
    }
    return read(r->fd, buf, n);
}

/* fopencookie's close: the pipe too, unless it is standard input. */
static int replay_close(void *cookie)
{
    struct replay *r = cookie;
    int rc = r->fd != STDIN_FILENO ? close(r->fd) : 0;
    free(r);
    return rc;
}

/* Closes a stream open_input gave (standard input stays open). */
static void close_input(FILE *fp)
{
    if (fp && fp != stdin)
        fclose(fp);
}

/* Reads up to 4 bytes from fd (fewer at its end). */
static size_t read_magic(int fd, uint8_t magic[4])
{
    size_t got = 0;
    while (got < 4) {
        ssize_t n = read(fd, magic + got, 4 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return got;
}

/* Opens the file (or standard input), reads its magic number and gives a
 * stream at its start again (a pipe: a replay stream). NULL on failure,
 * reason in err. */
static FILE *open_input(const char *path, uint8_t magic[4], size_t *nmagic, char *err, size_t errlen)
{
    bool is_stdin = !strcmp(path, "-");
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot read capture: %s", path, strerror(errno));
        return NULL;
    }
    off_t start = lseek(fd, 0, SEEK_CUR);
    *nmagic = read_magic(fd, magic);
    FILE *fp = NULL;
    if (start >= 0 && lseek(fd, start, SEEK_SET) == start) {
        fp = is_stdin ? stdin : fdopen(fd, "rb");
    } else {
        struct replay *r = calloc(1, sizeof *r);
        cookie_io_functions_t io = {replay_read, NULL, NULL, replay_close};
        fp = r ? fopencookie(r, "rb", io) : NULL;
        if (r && fp) {
            r->fd = fd;
            memcpy(r->head, magic, *nmagic);
            r->nhead = *nmagic;
        } else {
            free(r);
        }
    }
    if (!fp) {
        if (!is_stdin)
            close(fd);
        snprintf(err, errlen, "%s: cannot read capture: %s", path, strerror(errno ? errno : ENOMEM));
        return NULL;
    }
    /* A large buffer: libpcap reads each record with two freads, and the
     * default 4 KiB buffer made that a read(2) per packet. Only this thread
     * reads it: no lock around each fread. */
    setvbuf(fp, NULL, _IOFBF, 1 << 20);
    __fsetlocking(fp, FSETLOCKING_BYCALLER);
    return fp;
}

/* The filter's program for a link type, compiled the first time it is met.
 * NULL when out of memory. */
static const struct prog *prog_for(struct source *s, int dlt)
{
    if (s->lastprog < s->nprogs && s->progs[s->lastprog].dlt == dlt)
        return &s->progs[s->lastprog];
    for (size_t i = 0; i < s->nprogs; i++)
        if (s->progs[i].dlt == dlt)
            return &s->progs[s->lastprog = i];
    struct prog *np = realloc(s->progs, (s->nprogs + 1) * sizeof *np);
    if (!np)
        return NULL;
    s->progs = np;
    struct prog *pr = &np[s->nprogs];
    memset(pr, 0, sizeof *pr);
    pr->dlt = dlt;
    pcap_t *dead = decode_link_supported(dlt) ? pcap_open_dead(dlt, 262144) : NULL;
    if (dead) {
        pr->ok = pcap_compile(dead, &pr->bpf, s->filter, 1, PCAP_NETMASK_UNKNOWN) == 0;
        if (!pr->ok)
            snprintf(s->err, sizeof s->err, "bad filter '%s': %s", s->filter, pcap_geterr(dead));
        pcap_close(dead);
    } else if (decode_link_supported(dlt)) {
        snprintf(s->err, sizeof s->err, "%s: out of memory", s->name);
    }
    s->lastprog = s->nprogs++;
    return pr;
}

/* Checks a file's first link type and compiles the filter for it: a bad
 * filter is found before anything is read. 0 or -1 (reason in err). */
static int check_first(struct source *s, char *err, size_t errlen)
{
    if (!decode_link_supported(s->dlt)) {
        const char *n = pcap_datalink_val_to_name(s->dlt);
        snprintf(err, errlen, "%s: link type %d (%s) is not supported", s->name, s->dlt, n ? n : "unknown");
        return -1;
    }
    if (!s->filter)
        return 0;
    const struct prog *pr = prog_for(s, s->dlt);
    if (!pr || !pr->ok) {
        snprintf(err, errlen, "%s", pr ? s->err : "out of memory");
        return -1;
    }
    return 0;
}

/* The classic pcap path: libpcap reads the stream (and closes it). */
static int open_pcap(struct source *s, char *err, size_t errlen)
{
    char perr[PCAP_ERRBUF_SIZE] = "";
    s->pcap = pcap_fopen_offline_with_tstamp_precision(s->fp, PCAP_TSTAMP_PRECISION_MICRO, perr);
    if (!s->pcap) {
        snprintf(err, errlen, "%s: cannot read capture: %s", s->name, perr);
        return -1;
    }
    s->dlt = pcap_datalink(s->pcap);
    return check_first(s, err, errlen);
}

/* pcapng's numbers are libpcap's but for raw IP. */
static int dlt_of(uint16_t linktype)
{
    return linktype == LINKTYPE_RAW ? DLT_RAW : linktype;
}

/* The pcapng path: our reader reads the stream (closed by source_close). */
static int open_pcapng(struct source *s, char *err, size_t errlen)
{
    char nerr[512];
    s->ng = pcapng_open(s->fp, nerr, sizeof nerr);
    if (!s->ng) {
        snprintf(err, errlen, "%s: cannot read capture: %s", s->name, nerr);
        return -1;
    }
    s->dlt = dlt_of(pcapng_first_linktype(s->ng));
    return check_first(s, err, errlen);
}

struct source *source_open_file(const char *path, const char *filter, char *err, size_t errlen)
{
    struct stat st;
    memset(&st, 0, sizeof st);
    if (strcmp(path, "-") && stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: cannot read capture: %s", path, strerror(errno));
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: cannot read capture: is a folder", path);
        return NULL;
    }
    uint8_t magic[4];
    size_t nmagic = 0;
    FILE *fp = open_input(path, magic, &nmagic, err, errlen);
    if (!fp)
        return NULL;
    struct source *s = calloc(1, sizeof *s);
    if (!s || !(s->name = strdup(path)) || (filter && !(s->filter = strdup(filter)))) {
        close_input(fp);
        source_close(s);
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    s->fp = fp;
    s->size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    s->regular = S_ISREG(st.st_mode) && strcmp(path, "-") != 0;
    int rc = nmagic == 4 && pcapng_magic(magic) ? open_pcapng(s, err, errlen) : open_pcap(s, err, errlen);
    if (rc) {
        source_close(s);
        return NULL;
    }
    return s;
}

struct source *source_open_live(const char *iface, const struct source_live *cfg, const char *filter,
                                char *err, size_t errlen)
{
    char perr[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_create(iface, perr);
    if (!p) {
        snprintf(err, errlen, "%s: cannot capture: %s", iface, perr);
        return NULL;
    }
    pcap_set_snaplen(p, cfg->snaplen > 0 ? cfg->snaplen : 262144);
    pcap_set_promisc(p, cfg->promisc);
    /* A short timeout so that the loop sees signals, flushes and statistics
     * even when no packet comes. */
    pcap_set_timeout(p, 200);
    if (cfg->buffer_kib > 0)
        pcap_set_buffer_size(p, cfg->buffer_kib * 1024);
    if (cfg->immediate)
        pcap_set_immediate_mode(p, 1);
    int rc = pcap_activate(p);
    if (rc < 0) {
        const char *why = rc == PCAP_ERROR ? pcap_geterr(p) : pcap_statustostr(rc);
        if (rc == PCAP_ERROR_NO_SUCH_DEVICE || rc == PCAP_ERROR_PERM_DENIED)
            why = pcap_geterr(p)[0] ? pcap_geterr(p) : pcap_statustostr(rc);
        snprintf(err, errlen, "%s: cannot capture: %s", iface, why);
        pcap_close(p);
        return NULL;
    }
    /* Non-blocking, with our own poll: with TPACKET_V3 libpcap waits with no
     * timeout when no packet comes, and the run must still see the clock
     * (flushes, idle flows, --duration) and its signals. */
    if (pcap_setnonblock(p, 1, perr) != 0 || pcap_get_selectable_fd(p) < 0) {
        snprintf(err, errlen, "%s: cannot capture without blocking: %s", iface, perr);
        pcap_close(p);
        return NULL;
    }
    return wrap(p, iface, filter, err, errlen);
}

int source_set_fanout(struct source *s, int group, char *err, size_t errlen)
{
    /* On the activated handle's own socket (libpcap has no call for it). */
    int fd = pcap_fileno(s->pcap);
    uint32_t val = ((uint32_t)group & 0xffffu) | ((uint32_t)(PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG) << 16);
    if (fd < 0 || setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &val, sizeof val) != 0) {
        snprintf(err, errlen, "%s: cannot join the capture threads' fanout group: %s", s->name,
                 fd < 0 ? "no socket" : strerror(errno));
        return -1;
    }
    return 0;
}

int source_list_interfaces(FILE *out, char *err, size_t errlen)
{
    char perr[PCAP_ERRBUF_SIZE] = "";
    pcap_if_t *all;
    if (pcap_findalldevs(&all, perr) != 0) {
        snprintf(err, errlen, "cannot list interfaces: %s", perr);
        return -1;
    }
    int i = 0;
    for (pcap_if_t *d = all; d; d = d->next)
        fprintf(out, "%d.%s%s%s%s\n", ++i, d->name, d->description ? " (" : "",
                d->description ? d->description : "", d->description ? ")" : "");
    pcap_freealldevs(all);
    return 0;
}

void source_stats(struct source *s, struct source_stats *out)
{
    struct pcap_stat ps;
    if (s->live && pcap_stats(s->pcap, &ps) == 0) {
        /* 32-bit counters that wrap on long runs: keep 64-bit totals. */
        const uint32_t parts[3] = {ps.ps_recv, ps.ps_drop, ps.ps_ifdrop};
        uint64_t *tot[3] = {&s->last.received, &s->last.dropped, &s->last.ifdropped};
        for (int i = 0; i < 3; i++) {
            uint32_t prev = (uint32_t)*tot[i];
            *tot[i] += (uint32_t)(parts[i] - prev);
        }
    }
    *out = s->last;
}

int source_is_regular(const struct source *s)
{
    return s->regular;
}

int source_is_live(const struct source *s)
{
    return s->live;
}

void source_break(struct source *s)
{
    if (s->pcap)
        pcap_breakloop(s->pcap);
}

/* True when a file's record passes the filter (always without one). */
static bool passes(struct source *s, const struct source_packet *pkt)
{
    if (!s->filter)
        return true;
    const struct prog *pr = prog_for(s, pkt->dlt);
    if (!pr || !pr->ok)
        return false;
    struct pcap_pkthdr h = {.caplen = pkt->caplen, .len = pkt->wirelen};
    return pcap_offline_filter(&pr->bpf, &h, pkt->data) != 0;
}

/* What is wrong with the file, and after which record. */
static enum source_status damaged(struct source *s, const char *why)
{
    if (s->packets == 0)
        snprintf(s->err, sizeof s->err, "%s: unreadable before the first record: %s", s->name, why);
    else
        snprintf(s->err, sizeof s->err, "%s: unreadable after record %llu: %s", s->name,
                 (unsigned long long)s->packets, why);
    return SOURCE_ERROR;
}

/* The next record of a pcapng file that passes the filter. */
static enum source_status next_pcapng(struct source *s, struct source_packet *pkt)
{
    for (;;) {
        struct pcapng_packet p;
        enum pcapng_status st = pcapng_next(s->ng, &p);
        if (st == PCAPNG_END)
            return SOURCE_END;
        if (st == PCAPNG_ERROR)
            return damaged(s, pcapng_error(s->ng));
        s->packets++;
        if (p.has_ts)
            s->last_ts_us = p.ts_us;
        *pkt = (struct source_packet){p.data, p.caplen, p.wirelen, s->last_ts_us, dlt_of(p.linktype)};
        if (passes(s, pkt))
            return SOURCE_PACKET;
    }
}

/* The next packet through libpcap: a classic pcap file, or the interface. */
static enum source_status next_pcap(struct source *s, struct source_packet *pkt)
{
    for (;;) {
        struct pcap_pkthdr *h;
        const uint8_t *data;
        int rc = pcap_next_ex(s->pcap, &h, &data);
        if (rc == 0 && s->live) {
            struct pollfd pfd = {pcap_get_selectable_fd(s->pcap), POLLIN, 0};
            if (poll(&pfd, 1, 200) > 0)
                rc = pcap_next_ex(s->pcap, &h, &data);
        }
        if (rc == 0)
            return SOURCE_TIMEOUT;
        if (rc == PCAP_ERROR_BREAK)
            return SOURCE_END;
        if (rc != 1) {
            if (!s->live)
                return damaged(s, pcap_geterr(s->pcap));
            snprintf(s->err, sizeof s->err, "%s: capture failed: %s", s->name, pcap_geterr(s->pcap));
            return SOURCE_ERROR;
        }
        s->packets++;
        /* A file's seconds are unsigned 32 bits (they run to 2106); libpcap
         * 1.10 reads them signed, a negative time_t past 2038. The kernel's
         * time_t (live) is right as it is. */
        uint64_t sec = s->live ? (uint64_t)h->ts.tv_sec : (uint32_t)h->ts.tv_sec;
        *pkt = (struct source_packet){data, h->caplen, h->len, sec * 1000000u + (uint32_t)h->ts.tv_usec, s->dlt};
        if (s->live || passes(s, pkt))
            return SOURCE_PACKET;
    }
}

enum source_status source_next(struct source *s, struct source_packet *pkt)
{
    return s->ng ? next_pcapng(s, pkt) : next_pcap(s, pkt);
}

int source_datalink(const struct source *s)
{
    return s->dlt;
}

const char *source_datalink_name(const struct source *s)
{
    const char *n = pcap_datalink_val_to_name(s->dlt);
    return n ? n : "unknown";
}

int source_snaplen(const struct source *s)
{
    if (s->ng)
        return (int)(pcapng_first_snaplen(s->ng) > 0x7fffffffu ? 0 : pcapng_first_snaplen(s->ng));
    return s->pcap ? pcap_snapshot(s->pcap) : 0;
}

double source_progress(const struct source *s)
{
    if (!s->fp || s->size == 0)
        return -1;
    long pos = ftell(s->fp);
    return pos < 0 ? -1 : (double)pos / (double)s->size;
}

const char *source_error(const struct source *s)
{
    return s->err;
}

const char *source_name(const struct source *s)
{
    return s->name;
}

void source_close(struct source *s)
{
    if (!s)
        return;
    if (s->pcap)
        pcap_close(s->pcap); /* and its stream */
    else
        close_input(s->fp);
    pcapng_close(s->ng);
    for (size_t i = 0; i < s->nprogs; i++)
        if (s->progs[i].ok)
            pcap_freecode(&s->progs[i].bpf);
    free(s->progs);
    free(s->filter);
    free(s->name);
    free(s);
}
