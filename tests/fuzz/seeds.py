#!/usr/bin/env python3
"""Seed corpora for the fuzz targets: transport payloads from the shared
captures, one file per distinct payload (at most 200 per target), chosen by
what tshark dissects in them. Usage: seeds.py PCAP_DIR OUT_DIR"""
import hashlib
import os
import subprocess
import sys

# target: (tshark display filter, captures)
TARGETS = {
    "msturn": ("stun or classicstun", ["nDPI/teams.pcap", "nDPI/stun.pcap", "nDPI/skype-conference-call.pcap",
                                        "nDPI/stun_tcp_multiple_msgs_same_pkt.pcap", "arkime/stun-ice-testcall.pcap",
                                        "nDPI/stun_classic.pcap", "zeek/webrtc-stun.pcap"]),
    "rtp": ("rtp or rtcp", ["sipp/g711a.pcap", "rtpproxy/alice_srtp.pcap", "nDPI/rtcp_multiple_pkts_in_the_same_datagram.pcap",
                            "nDPI/rtp.pcapng", "heplify/sip_ipv4_tcp.pcap"]),
    "sip": ("sip", ["nDPI/sip.pcap", "suricata-verify/sip-tcp-method__sip-tcp.pcap", "heplify/sip_ipv6_udp.pcap",
                    "suricata-verify/public-cloudshark-sip-s0.pcap"]),
    "xmpp": ("xmpp", ["zeek/xmpp-starttls.pcap", "nDPI/jabber.pcap"]),
    "ike": ("isakmp or udpencap", ["tcpdump/ISAKMP_sa_setup.pcap", "tcpdump/isakmp4500.pcap", "scapy/ikev2_nat_t.pcapng",
                                   "scapy/ikev2_notify_redirect.pcap", "tcpdump/espudp1.pcap"]),
    "tls": ("tls", ["nDPI/teams.pcap", "sngrep/tlssaved.pcap", "zeek/xmpp-starttls.pcap", "nDPI/skype__old2020.pcap"]),
}


def main():
    pcaps, out = sys.argv[1], sys.argv[2]
    for target, (flt, files) in TARGETS.items():
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        n = 0
        for f in files:
            cmd = ["tshark", "-n", "-r", os.path.join(pcaps, f), "-o", "rtp.heuristic_rtp:TRUE",
                   "-o", "rtcp.heuristic_rtcp:TRUE", "-Y", flt, "-T", "fields", "-e", "udp.payload", "-e", "tcp.payload"]
            res = subprocess.run(cmd, capture_output=True, text=True, check=False)
            for line in res.stdout.splitlines():
                hexs = line.replace("\t", "").replace(":", "").strip()
                if not hexs or n >= 200:
                    continue
                try:
                    data = bytes.fromhex(hexs)
                except ValueError:
                    continue
                name = hashlib.sha1(data).hexdigest()[:16]
                path = os.path.join(d, name)
                if not os.path.exists(path):
                    with open(path, "wb") as fh:
                        fh.write(data)
                    n += 1
        print(f"{target}: {len(os.listdir(d))} seeds")


if __name__ == "__main__":
    main()
