/* source.c - capture files through libpcap (see source.h). */
#include "source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "decode.h"

struct source {
    pcap_t *pcap;
    char *name;
    int dlt;
    uint64_t size;      /* file size for progress, 0 if unknown */
    uint64_t packets;   /* records read, before the filter */
    char err[PCAP_ERRBUF_SIZE + 512];
};

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
    pcap_t *p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_MICRO, perr);
    if (!p) {
        if (fp != stdin)
            fclose(fp);
        snprintf(err, errlen, "%s: cannot read capture: %s", path, perr);
        return NULL;
    }
    int dlt = pcap_datalink(p);
    if (!decode_link_supported(dlt)) {
        const char *n = pcap_datalink_val_to_name(dlt);
        snprintf(err, errlen, "%s: link type %d (%s) is not supported", path, dlt, n ? n : "unknown");
        pcap_close(p);
        return NULL;
    }
    if (filter) {
        struct bpf_program prog;
        if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
            snprintf(err, errlen, "bad filter '%s': %s", filter, pcap_geterr(p));
            pcap_close(p);
            return NULL;
        }
        int rc = pcap_setfilter(p, &prog);
        pcap_freecode(&prog);
        if (rc != 0) {
            snprintf(err, errlen, "%s: cannot set filter: %s", path, pcap_geterr(p));
            pcap_close(p);
            return NULL;
        }
    }
    struct source *s = calloc(1, sizeof *s);
    if (!s || !(s->name = strdup(path))) {
        free(s);
        pcap_close(p);
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    s->pcap = p;
    s->dlt = dlt;
    s->size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    return s;
}

enum source_status source_next(struct source *s, struct pcap_pkthdr **hdr, const uint8_t **data)
{
    int rc = pcap_next_ex(s->pcap, hdr, data);
    if (rc == 1) {
        s->packets++;
        return SOURCE_PACKET;
    }
    if (rc == PCAP_ERROR_BREAK)
        return SOURCE_END;
    /* rc == PCAP_ERROR: a damaged record; libpcap says what. */
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
