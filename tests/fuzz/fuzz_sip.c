/* fuzz_sip.c - libFuzzer target: SIP start lines. */
#include <stdlib.h>
#include <string.h>

#include "dissect/sip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *b = malloc(size ? size : 1);
    if (!b)
        return 0;
    memcpy(b, data, size);
    struct sip_verdict v;
    if (sip_dissect(cur_make(b, size), &v) && v.kind == SIP_REQUEST)
        (void)sip_method_name(v.method);
    free(b);
    return 0;
}
