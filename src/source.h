/* source.h - where packets come from: capture files, one after another.
 *
 * Wraps libpcap. A source is opened and checked (format, link type, BPF
 * filter) before anything is read, so a bad file or filter stops a run
 * before the database is touched. */
#ifndef LYNCAUDIT_SOURCE_H
#define LYNCAUDIT_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include <pcap/pcap.h>

struct source;

/* Opens a capture file (pcap or pcapng, by its magic number) and compiles
 * `filter` (NULL: none) for its link type. NULL on failure, reason in err. */
struct source *source_open_file(const char *path, const char *filter, char *err, size_t errlen);

enum source_status { SOURCE_PACKET = 1, SOURCE_END = 0, SOURCE_ERROR = -1 };

/* The next packet that passes the filter. On SOURCE_ERROR, source_error()
 * says what is wrong with the file and where. */
enum source_status source_next(struct source *s, struct pcap_pkthdr **hdr, const uint8_t **data);

int source_datalink(const struct source *s);
const char *source_datalink_name(const struct source *s);

/* How much of the file has been read, 0..1 (-1 when unknown). */
double source_progress(const struct source *s);

const char *source_error(const struct source *s);
const char *source_name(const struct source *s);
void source_close(struct source *s);

#endif
