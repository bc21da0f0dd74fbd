/* source.h - where packets come from: capture files, one after another.
 *
 * Classic pcap files and live capture through libpcap; pcapng files through
 * our own reader (pcapng.h: libpcap 1.10 refuses a pcapng whose interfaces
 * differ, as mergecap writes them). A source is opened and checked (format,
 * first link type, BPF filter) before anything is read, so a bad file or
 * filter stops a run before the database is touched. A pcapng file may
 * carry several link types: each packet comes with its own, and the filter
 * is compiled for each link type it meets. */
#ifndef LYNCAUDIT_SOURCE_H
#define LYNCAUDIT_SOURCE_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include <pcap/pcap.h>

struct source;

/* Opens a capture file (pcap or pcapng, by its magic number; "-" is
 * standard input) and compiles `filter` (NULL: none) for its first link
 * type. NULL on failure, reason in err. */
struct source *source_open_file(const char *path, const char *filter, char *err, size_t errlen);

/* Live capture settings (tcpdump's -p, -s, -B and immediate mode). */
struct source_live {
    int promisc;      /* 1: promiscuous */
    int snaplen;      /* bytes per packet kept; 0: whole packets */
    int buffer_kib;   /* kernel buffer; 0: libpcap's default */
    int immediate;    /* deliver packets at once rather than in batches */
};

/* Opens a network interface ("any" for all) and sets the filter. NULL on
 * failure, reason in err. */
struct source *source_open_live(const char *iface, const struct source_live *cfg, const char *filter,
                                char *err, size_t errlen);

/* Joins a live source's socket to the kernel's fanout group `group`
 * (Linux PACKET_FANOUT, hash with defrag: a flow's packets, both ways and
 * every fragment, reach one member). 0, or -1 with the reason in err. */
int source_set_fanout(struct source *s, int group, char *err, size_t errlen);

/* Prints the interfaces libpcap can capture on (tcpdump -D). 0 or -1. */
int source_list_interfaces(FILE *out, char *err, size_t errlen);

enum source_status { SOURCE_PACKET = 1, SOURCE_END = 0, SOURCE_ERROR = -1, SOURCE_TIMEOUT = 2 };

struct source_stats {
    uint64_t received, dropped, ifdropped;
};

/* Kernel capture statistics of a live source (all 0 for files). */
void source_stats(struct source *s, struct source_stats *out);

/* True for an interface. */
int source_is_live(const struct source *s);

/* True for a regular file (not a pipe, stdin or an interface). */
int source_is_regular(const struct source *s);

/* Makes a blocked source_next return (signal-safe). */
void source_break(struct source *s);

/* One packet as the source hands it over; `data` stays valid until the
 * next source_next. */
struct source_packet {
    const uint8_t *data;
    uint32_t caplen;   /* bytes in data */
    uint32_t wirelen;  /* the frame's length on the wire */
    uint64_t ts_us;    /* capture time, microseconds since the epoch: the
                        * formats' unsigned seconds (pcap: 32 bits, so past
                        * 2038; pcapng: 64-bit units of its interface's
                        * if_tsresol, plus if_tsoffset). A pcapng simple
                        * packet block has none: it takes the packet before's. */
    int dlt;           /* this packet's link type (DLT_*): pcapng interfaces differ */
};

/* The next packet that passes the filter. On SOURCE_ERROR, source_error()
 * says what is wrong with the file and where. */
enum source_status source_next(struct source *s, struct source_packet *pkt);

/* The link type of the first interface (the only one but in pcapng files). */
int source_datalink(const struct source *s);
const char *source_datalink_name(const struct source *s);

/* The snapshot length: bytes kept of each packet (a file's header, or the
 * first pcapng interface's; a live handle's -s); 0 when none is given. */
int source_snaplen(const struct source *s);

/* How much of the file has been read, 0..1 (-1 when unknown). */
double source_progress(const struct source *s);

const char *source_error(const struct source *s);
const char *source_name(const struct source *s);
void source_close(struct source *s);

#endif
