/* decode_dump.c - prints what decode_packet finds in every record of a
 * capture, one tab-separated line per packet, for test_decode.py to hold
 * against tshark's dissection of the same file. */
#include <arpa/inet.h>
#include <stdio.h>

#include "decode.h"
#include "source.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: decode_dump FILE\n");
        return 2;
    }
    char err[1024];
    struct source *s = source_open_file(argv[1], NULL, err, sizeof err);
    if (!s) {
        fprintf(stderr, "decode_dump: %s\n", err);
        return 2;
    }
    struct source_packet sp;
    unsigned long n = 0;
    while (source_next(s, &sp) == SOURCE_PACKET) {
        struct packet p;
        p.ts_us = 0;
        p.wirelen = sp.wirelen;
        enum decode_result r = decode_packet(sp.dlt, sp.data, sp.caplen, &p);
        n++;
        if (r != DECODE_OK) {
            printf("%lu\t%s\n", n, decode_result_name(r));
            continue;
        }
        char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
        int af = p.ipver == 4 ? AF_INET : AF_INET6;
        inet_ntop(af, p.src, a, sizeof a);
        inet_ntop(af, p.dst, b, sizeof b);
        printf("%lu\tok\t%u\t%s\t%s\t%u\t%u\t%u\t%u\t%u", n, p.ipver, a, b, p.proto, p.sport,
               p.dport, p.fragment ? 1u : 0u, p.payload_len);
        /* then the tunnel (kind, id or -, outer addresses) and VLAN ids */
        const char *tk = decode_tunnel_name(p.tunnel);
        if (tk) {
            int taf = p.tun_ipver == 4 ? AF_INET : AF_INET6;
            inet_ntop(taf, p.tun_src, a, sizeof a);
            inet_ntop(taf, p.tun_dst, b, sizeof b);
            printf("\t%s\t%ld\t%s\t%s", tk, p.tun_has_id ? (long)p.tun_id : -1L, a, b);
        } else {
            printf("\t-\t-1\t-\t-");
        }
        printf("\t%u\t%u\n", p.vlan[0], p.vlan[1]);
    }
    source_close(s);
    return 0;
}
