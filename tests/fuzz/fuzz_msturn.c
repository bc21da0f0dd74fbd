/* fuzz_msturn.c - libFuzzer target: STUN/TURN/MS-TURN and MS-TURN TCP framing. */
#include <stdlib.h>
#include <string.h>

#include "dissect/msturn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *b = malloc(size ? size : 1); /* exact size: ASan sees any overread */
    if (!b)
        return 0;
    memcpy(b, data, size);
    struct cursor c = cur_make(b, size);
    struct stun_verdict v;
    for (int exact = 0; exact < 2; exact++) {
        if (stun_dissect(c, exact, &v) && v.data_len && v.data_off <= size) {
            struct cursor d = c;
            cur_skip(&d, v.data_off);
            struct cursor inner = cur_sub(&d, v.data_len);
            (void)stun_dissect(inner, 1, &v);
        }
    }
    uint8_t type;
    struct cursor body;
    if (msturn_tcp_frame(c, &type, &body))
        (void)stun_dissect(body, 0, &v);
    for (unsigned i = 0; i < MSA_N; i++)
        (void)stun_ms_attr_name(i);
    free(b);
    return 0;
}
