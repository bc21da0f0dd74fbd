#!/usr/bin/env python3
"""Runs a command and writes its peak resident set size in KiB (the kernel's
ru_maxrss from wait4) to OUT; exits with the command's exit code (128+N when
signal N ended it), like GNU time -f %M -o OUT, without needing GNU time.
Usage: maxrss.py OUT COMMAND [ARG...]"""
import os
import sys


def main():
    out, cmd = sys.argv[1], sys.argv[2:]
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    with open(out, "w") as f:
        f.write("%d\n" % usage.ru_maxrss)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


if __name__ == "__main__":
    sys.exit(main())
