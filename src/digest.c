/* digest.c - SHA-256 of the run's inputs (see digest.h). */
#include "digest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gcrypt.h>

#define BLOCK (1u << 20)

struct digest {
    gcry_md_hd_t h;
};

/* A running SHA-256; libgcrypt wants its version checked before first use
 * (calling it again is harmless). */
struct digest *digest_new(void)
{
    gcry_check_version(NULL);
    struct digest *d = calloc(1, sizeof *d);
    if (d && gcry_md_open(&d->h, GCRY_MD_SHA256, 0) != 0) {
        free(d);
        d = NULL;
    }
    return d;
}

/* Adds bytes to the digest (d may be NULL: nothing happens). */
void digest_add(struct digest *d, const void *buf, size_t len)
{
    if (d && len)
        gcry_md_write(d->h, buf, len);
}

/* The hex digest of what was added ("" when d is NULL); frees d. */
void digest_end(struct digest *d, char out[DIGEST_HEX])
{
    out[0] = '\0';
    if (!d)
        return;
    const unsigned char *md = gcry_md_read(d->h, GCRY_MD_SHA256);
    for (int i = 0; md && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    gcry_md_close(d->h);
    free(d);
}

/* Reads the file once, in 1 MiB blocks, into the digest. */
int digest_file(const char *path, uint64_t *size, char out[DIGEST_HEX], char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = f ? malloc(BLOCK) : NULL;
    struct digest *d = buf ? digest_new() : NULL;
    *size = 0;
    if (!d) {
        snprintf(err, errlen, "%s: %s", path, f ? "out of memory" : strerror(errno));
        free(buf);
        if (f)
            fclose(f);
        return -1;
    }
    size_t n;
    while ((n = fread(buf, 1, BLOCK, f)) > 0) {
        digest_add(d, buf, n);
        *size += n;
    }
    int bad = ferror(f);
    fclose(f);
    free(buf);
    digest_end(d, out);
    if (bad) {
        snprintf(err, errlen, "%s: read error", path);
        return -1;
    }
    return 0;
}
