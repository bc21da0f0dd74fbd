#!/usr/bin/env python3
"""Real TCP and UDP flows on loopback, for a live capture.

    traffic.py PHASE N

N TCP connections (each sends a SIP OPTIONS request, reads the answer and
closes: a flow that ends with FIN) and N UDP exchanges (one request, one
answer), from 127.24.PHASE.1..N to a server this script runs on
127.24.0.1:5060 (TCP and UDP). Every address is in 127.24.0.0/16, the live
PostgreSQL test's own; every socket has a timeout, and the script ends.
"""
import socket
import sys
import threading

phase, n = int(sys.argv[1]), int(sys.argv[2])
SERVER = ("127.24.0.1", 5060)
MSG = b"OPTIONS sip:probe@127.24.0.1 SIP/2.0\r\nCall-ID: %d.%d\r\n\r\n"


def tcp_server(lst, count):
    for _ in range(count):
        c, _ = lst.accept()
        c.settimeout(5)
        with c:
            c.recv(2048)
            c.sendall(b"SIP/2.0 200 OK\r\n\r\n")


def udp_server(s, count):
    for _ in range(count):
        data, peer = s.recvfrom(2048)
        s.sendto(b"SIP/2.0 200 OK\r\n\r\n", peer)


lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lst.bind(SERVER)
lst.listen(64)
lst.settimeout(10)
us = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
us.bind(SERVER)
us.settimeout(10)
threads = [threading.Thread(target=tcp_server, args=(lst, n)), threading.Thread(target=udp_server, args=(us, n))]
for t in threads:
    t.start()
for i in range(1, n + 1):
    src = f"127.24.{phase}.{i}"
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.settimeout(5)
    c.bind((src, 0))
    c.connect(SERVER)
    c.sendall(MSG % (phase, i))
    c.recv(2048)
    c.close()
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(5)
    u.bind((src, 0))
    u.sendto(MSG % (phase, i), SERVER)
    u.recvfrom(2048)
    u.close()
for t in threads:
    t.join(15)
lst.close()
us.close()
