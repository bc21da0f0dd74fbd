/* fuzz_xmpp.c - libFuzzer target: XMPP stream headers and elements. */
#include <stdlib.h>
#include <string.h>

#include "dissect/xmpp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *b = malloc(size ? size : 1);
    if (!b)
        return 0;
    memcpy(b, data, size);
    struct xmpp_verdict v;
    (void)xmpp_dissect(cur_make(b, size), &v);
    free(b);
    return 0;
}
