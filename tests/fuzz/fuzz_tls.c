/* fuzz_tls.c - libFuzzer target: TLS records, handshakes, SSL 2.0 hellos. */
#include <stdlib.h>
#include <string.h>

#include "dissect/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *b = malloc(size ? size : 1);
    if (!b)
        return 0;
    memcpy(b, data, size);
    struct tls_verdict v;
    (void)tls_dissect(cur_make(b, size), &v);
    if (size >= 2)
        (void)tls_port_service((uint16_t)(b[0] << 8 | b[1]));
    free(b);
    return 0;
}
