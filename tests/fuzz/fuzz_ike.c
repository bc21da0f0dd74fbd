/* fuzz_ike.c - libFuzzer target: ISAKMP on 500, NAT-T and ESP-in-UDP on 4500. */
#include <stdlib.h>
#include <string.h>

#include "dissect/ike.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *b = malloc(size ? size : 1);
    if (!b)
        return 0;
    memcpy(b, data, size);
    struct ike_verdict v;
    (void)ike_dissect(cur_make(b, size), IKE_PORT, IKE_PORT, &v);
    (void)ike_dissect(cur_make(b, size), 40000, IKE_NATT_PORT, &v);
    (void)ike_dissect(cur_make(b, size), 40000, 40001, &v);
    free(b);
    return 0;
}
