/* fuzz_rtp.c - libFuzzer target: RTP/RTCP headers and the stream track. */
#include <stdlib.h>
#include <string.h>

#include "dissect/rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *b = malloc(size ? size : 1);
    if (!b)
        return 0;
    memcpy(b, data, size);
    struct rtp_track t = {0};
    /* the input as a run of datagrams, each prefixed by a 1-byte length */
    struct cursor c = cur_make(b, size);
    while (c.len > 0) {
        uint8_t n = cur_u8(&c);
        struct cursor one = cur_sub(&c, n);
        struct rtp_verdict v;
        if (rtp_dissect(one, &v))
            (void)rtp_track_step(&t, &v);
    }
    struct rtp_verdict v;
    (void)rtp_dissect(cur_make(b, size), &v);
    free(b);
    return 0;
}
