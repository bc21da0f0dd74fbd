/* source.c - capture files through libpcap (see source.h). */
#include "source.h"

#include <errno.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/if_packet.h>

#include "decode.h"

struct source {
    pcap_t *pcap;
    char *name;
    int dlt;
    uint64_t size;      /* file size for progress, 0 if unknown */
    uint64_t packets;   /* records read, before the filter */
    int live;
    int regular;        /* a regular file (not a pipe, stdin or device) */
    struct source_stats last;   /* pcap_stats' 32-bit counters, widened */
    char err[PCAP_ERRBUF_SIZE + 512];
};

static int set_filter(pcap_t *p, const char *name, const char *filter, char *err, size_t errlen);

/* Checks the link type, sets the filter and wraps an open pcap_t (closed on failure). */
static struct source *wrap(pcap_t *p, const char *name, const char *filter, int live, char *err, size_t errlen)
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
    s->live = live;
    return s;
}

struct source *source_open_file(const char *path, const char *filter, char *err, size_t errlen)
{
    char perr[PCAP_ERRBUF_SIZE] = "";
    struct stat st;
    if (!strcmp(path, "-")) {
        memset(&st, 0, sizeof st);
    } else if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: cannot read capture: %s", path, strerror(errno));
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: cannot read capture: is a folder", path);
        return NULL;
    }
    /* Our own FILE with a large buffer: libpcap reads each record with two
     * freads, and the default 4 KiB buffer made that a read(2) per packet. */
    FILE *fp = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!fp) {
        snprintf(err, errlen, "%s: cannot read capture: %s", path, strerror(errno));
        return NULL;
    }
    setvbuf(fp, NULL, _IOFBF, 1 << 20);
    /* Only this thread reads it: no lock around each of those freads. */
    __fsetlocking(fp, FSETLOCKING_BYCALLER);
    pcap_t *p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_MICRO, perr);
    if (!p) {
        if (fp != stdin)
            fclose(fp);
        snprintf(err, errlen, "%s: cannot read capture: %s", path, perr);
        return NULL;
    }
    struct source *s = wrap(p, path, filter, 0, err, errlen);
    if (!s)
        return NULL;
    s->size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    s->regular = S_ISREG(st.st_mode) && strcmp(path, "-") != 0;
    return s;
}

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
    return wrap(p, iface, filter, 1, err, errlen);
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
        uint32_t parts[3] = {ps.ps_recv, ps.ps_drop, ps.ps_ifdrop};
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
    pcap_breakloop(s->pcap);
}

enum source_status source_next(struct source *s, struct pcap_pkthdr **hdr, const uint8_t **data)
{
    int rc = pcap_next_ex(s->pcap, hdr, data);
    if (rc == 0 && s->live) {
        struct pollfd pfd = {pcap_get_selectable_fd(s->pcap), POLLIN, 0};
        if (poll(&pfd, 1, 200) > 0)
            rc = pcap_next_ex(s->pcap, hdr, data);
    }
    if (rc == 1) {
        s->packets++;
        return SOURCE_PACKET;
    }
    if (rc == 0)
        return SOURCE_TIMEOUT;
    if (rc == PCAP_ERROR_BREAK)
        return SOURCE_END;
    /* rc == PCAP_ERROR: a damaged record; libpcap says what. */
    if (s->live)
        snprintf(s->err, sizeof s->err, "%s: capture failed: %s", s->name, pcap_geterr(s->pcap));
    else
        snprintf(s->err, sizeof s->err, "%s: unreadable after record %llu: %s", s->name,
                 (unsigned long long)s->packets, pcap_geterr(s->pcap));
    return SOURCE_ERROR;
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

double source_progress(const struct source *s)
{
    FILE *f = pcap_file(s->pcap);
    if (!f || s->size == 0)
        return -1;
    long pos = ftell(f);
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
    pcap_close(s->pcap);
    free(s->name);
    free(s);
}
