/* fuzz_pcapng.c - libFuzzer target: the pcapng reader (src/pcapng.c) on a
 * whole file held in memory (fmemopen). Beyond "no crash", it checks the
 * reader's promises: every packet's bytes can be read (each one is touched,
 * so ASan sees a read past the block), a packet never claims more bytes
 * than the file has, a failed reader says why and stays failed, and an end
 * stays an end. Seeds: the shared pcapng captures and a mergecap merge
 * (run.sh). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcapng.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    FILE *f = fmemopen((void *)data, size, "rb");
    if (!f)
        return 0;
    char err[512] = "";
    struct pcapng *r = pcapng_open(f, err, sizeof err);
    if (!r) {
        if (!err[0])
            __builtin_trap(); /* a refusal says why */
        fclose(f);
        return 0;
    }
    struct pcapng_packet p;
    enum pcapng_status st;
    size_t packets = 0;
    volatile uint8_t sink = 0;
    while ((st = pcapng_next(r, &p)) == PCAPNG_PACKET) {
        if (p.caplen > size || ++packets > size / 12)
            __builtin_trap(); /* every block is 12 bytes at least */
        for (uint32_t i = 0; i < p.caplen; i++)
            sink ^= p.data[i];
    }
    if (st != PCAPNG_END && st != PCAPNG_ERROR)
        __builtin_trap();
    if (st == PCAPNG_ERROR && (!pcapng_error(r)[0] || pcapng_next(r, &p) != PCAPNG_ERROR))
        __builtin_trap();
    if (st == PCAPNG_END && pcapng_next(r, &p) != PCAPNG_END)
        __builtin_trap();
    (void)sink;
    pcapng_close(r);
    fclose(f);
    return 0;
}
