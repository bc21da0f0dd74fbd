/* digest.h - SHA-256 of the run's inputs (runs.topology_sha256,
 * runs.rules_sha256, run_sources.sha256), from libgcrypt, as lowercase hex. */
#ifndef LYNCAUDIT_DIGEST_H
#define LYNCAUDIT_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define DIGEST_HEX 65 /* 64 hex digits and the NUL */

struct digest;

/* A running SHA-256; NULL when libgcrypt cannot make one. */
struct digest *digest_new(void);
void digest_add(struct digest *d, const void *buf, size_t len);
/* Writes the hex digest of everything added and frees d. */
void digest_end(struct digest *d, char out[DIGEST_HEX]);

/* SHA-256 of a file's bytes and how many there were, read in large blocks
 * (a capture is hashed before it is read: the page cache then serves the
 * read). 0, or -1 with "path: what" in err. */
int digest_file(const char *path, uint64_t *size, char out[DIGEST_HEX], char *err, size_t errlen);

#endif
