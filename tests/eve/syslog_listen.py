#!/usr/bin/env python3
"""A syslog daemon of the tests' own: binds a Unix datagram socket at SOCKET
(lyncaudit sends there with LYNCAUDIT_SYSLOG_SOCKET=SOCKET) and writes each
datagram as one line to OUT, flushed at once. Ends on SIGTERM, or after
SECONDS in all (bounded).

Usage: syslog_listen.py SOCKET OUT SECONDS"""
import os
import signal
import socket
import sys
import time


def main():
    path, out, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    os.chmod(path, 0o666)  # lyncaudit may have become nobody
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    end = time.monotonic() + seconds
    with open(out, "wb") as f:
        while time.monotonic() < end:
            s.settimeout(max(0.05, end - time.monotonic()))
            try:
                d = s.recv(1 << 20)
            except socket.timeout:
                continue
            f.write(d.replace(b"\n", b"\\n") + b"\n")
            f.flush()


if __name__ == "__main__":
    main()
