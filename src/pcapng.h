/* pcapng.h - a reader of pcapng capture files, ours (part of the source stage).
 *
 * libpcap 1.10 refuses a pcapng file whose interfaces differ in link type or
 * snapshot length, which is what `mergecap` writes from captures of two
 * kinds; Wireshark's own reader (libwiretap) is GPL and lyncaudit is MIT. So
 * this small reader takes pcapng as the specification (and Wireshark's tools)
 * write it: several sections, each in its own byte order; several interfaces
 * per section, each with its link type, snapshot length and time resolution
 * (if_tsresol, if_tsoffset); enhanced, simple and obsolete packet blocks;
 * every other block skipped by its length. Every read of file bytes goes
 * through the checked cursor. No libpcap here (the fuzz target builds this
 * file alone): link types are pcapng's LINKTYPE_ numbers. */
#ifndef LYNCAUDIT_PCAPNG_H
#define LYNCAUDIT_PCAPNG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct pcapng;

/* One packet; `data` stays valid until the next pcapng_next. */
struct pcapng_packet {
    const uint8_t *data;
    uint32_t caplen, wirelen;
    uint64_t ts_us;    /* microseconds since the epoch (resolution and offset applied) */
    bool has_ts;       /* false for a simple packet block, which carries no time */
    uint16_t linktype; /* its interface's LINKTYPE_ value */
    uint32_t iface;    /* its interface's number within the section */
};

enum pcapng_status { PCAPNG_PACKET = 1, PCAPNG_END = 0, PCAPNG_ERROR = -1 };

/* True when the first four bytes of a file are pcapng's section header type. */
bool pcapng_magic(const uint8_t b[4]);

/* Reads the first section header and the blocks up to the first interface
 * description from f (positioned at the start of the file; not closed by
 * pcapng_close). NULL on failure, the reason in err. */
struct pcapng *pcapng_open(FILE *f, char *err, size_t errlen);

/* The next packet. On PCAPNG_ERROR pcapng_error() says what is wrong and at
 * which byte; the reader stays in error. */
enum pcapng_status pcapng_next(struct pcapng *r, struct pcapng_packet *p);

/* The link type of the first interface of the file. */
uint16_t pcapng_first_linktype(const struct pcapng *r);

/* The first interface's snapshot length (0: none given). */
uint32_t pcapng_first_snaplen(const struct pcapng *r);

const char *pcapng_error(const struct pcapng *r);
void pcapng_close(struct pcapng *r);

#endif
