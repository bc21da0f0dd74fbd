#!/usr/bin/env python3
"""A SIGHUP reload never ends the run (issue 20 E).

    test_reload.py LYNCAUDIT WORK_DIR

A capture is streamed to lyncaudit on stdin (UDP flows made by mkflood.py,
in chunks of 8192 records: a file run looks at signals every 4096 packets),
and the topology file is swapped before each SIGHUP:

1. a topology with a syntax error: the reload is refused, the run goes on;
2. a FIFO in its place: refused at once ("not a regular file"), not read;
3. a large topology (500,000 prefixes, 200,000 in the sanitizer build) that
   gives the flows' destination a role, and while the process loads it after
   its trial load, the process is stopped for 5 s (SIGSTOP, SIGCONT): a
   load that takes longer than the old 4 s alarm in the process that holds
   the run. The reload must succeed.

Then the rest of the capture, and the end. The run must exit 0 or 1, be
`complete`, hold every flow, and every flow (they all end at the end) must
carry the role the last topology gives. Cases listed in known_bugs.txt
report KNOWN BUG instead of failing.
"""
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SANITIZED = os.environ.get("LYNCAUDIT_SANITIZED", "0") not in ("", "0", "OFF", "off")
CHUNK = 8192
RECORD = 16 + 62  # pcap record header + the UDP frame mkflood.py writes
CASE = "reload-never-ends-run"


def known(case):
    with open(os.path.join(HERE, "known_bugs.txt")) as f:
        return case in (line.strip() for line in f if not line.startswith("#"))


def children(pid):
    """PIDs of pid's children (every thread's)."""
    out = []
    try:
        for t in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{t}/children") as f:
                out += f.read().split()
    except OSError:
        pass
    return out


def write_topology(path, text):
    if os.path.lexists(path):
        os.unlink(path)
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)


class Run:
    def __init__(self, binary, work):
        self.err = []
        self.p = subprocess.Popen([binary, "-d", os.path.join(work, "run.db"), "-t",
                                   os.path.join(work, "topology.lua"), "-"],
                                  stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        threading.Thread(target=self.read_err, daemon=True).start()

    def read_err(self):
        for line in self.p.stderr:
            self.err.append(line.decode(errors="replace").rstrip("\n"))

    def wait_for(self, text, count, seconds):
        """Until `count` stderr lines contain text, or the process ended."""
        end = time.time() + seconds
        while time.time() < end and self.p.poll() is None:
            if sum(text in line for line in self.err) >= count:
                return True
            time.sleep(0.02)
        return sum(text in line for line in self.err) >= count


def stop_during_load(pid, seconds):
    """Once a child (the trial load) has come and gone, stops pid for
    `seconds`: the process is then loading the files itself."""
    seen = False
    end = time.time() + 120
    while time.time() < end:
        kids = children(pid)
        if kids:
            seen = True
        elif seen:
            os.kill(pid, signal.SIGSTOP)
            time.sleep(seconds)
            os.kill(pid, signal.SIGCONT)
            return True
        time.sleep(0.002)
    return False


def main():
    binary, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    for f in os.listdir(work):  # a run of the test before this one
        os.unlink(os.path.join(work, f))
    cap = os.path.join(work, "flows.pcap")
    nchunks = 5
    subprocess.run([sys.executable, os.path.join(HERE, "mkflood.py"), "udp", str(CHUNK * nchunks), cap], check=True)
    data = open(cap, "rb").read()
    header, records = data[:24], data[24:]
    chunks = [records[i * CHUNK * RECORD:(i + 1) * CHUNK * RECORD] for i in range(nchunks)]
    topo = os.path.join(work, "topology.lua")
    write_topology(topo, 'return { name = "first", roles = { client_internal = { "10.1.0.0/16" } } }\n')
    prefixes = 200000 if SANITIZED else 500000
    big = ('local fe = { "10.99.0.1" }\n'
           f'for i = 1, {prefixes} do fe[#fe + 1] = ("172.%d.%d.%d"):format(16 + (i >> 16), (i >> 8) & 255, i & 255) end\n'
           'return { name = "big", roles = { front_end = fe } }\n')
    failures = []
    run = Run(binary, work)
    pid = run.p.pid
    try:
        run.p.stdin.write(header + chunks[0])
        run.p.stdin.flush()
        # 1. a syntax error
        write_topology(topo, "return { roles = = 1 }\n")
        os.kill(pid, signal.SIGHUP)
        run.p.stdin.write(chunks[1])
        run.p.stdin.flush()
        if not run.wait_for("reload failed", 1, 30):
            failures.append("a broken topology: no 'reload failed' line")
        # 2. a FIFO
        os.unlink(topo)
        os.mkfifo(topo)
        os.kill(pid, signal.SIGHUP)
        t0 = time.time()
        run.p.stdin.write(chunks[2])
        run.p.stdin.flush()
        if not run.wait_for("reload failed", 2, 30):
            failures.append("a FIFO topology: no second 'reload failed' line")
        elif not any("not a regular file" in line for line in run.err):
            failures.append("a FIFO topology: the message does not say 'not a regular file'")
        if time.time() - t0 > 3:
            failures.append(f"a FIFO topology took {time.time() - t0:.1f} s to refuse (it was opened?)")
        # 3. a large topology, the process stopped for 5 s while it loads it
        write_topology(topo, big)
        os.kill(pid, signal.SIGHUP)
        writer = threading.Thread(target=lambda: (run.p.stdin.write(chunks[3]), run.p.stdin.flush()))
        writer.start()
        if not stop_during_load(pid, 5):
            failures.append("never saw the trial load's child come and go")
        writer.join(120)
        if not run.wait_for("reloaded the topology and rules", 1, 120):
            failures.append("the large topology was not reloaded")
        if run.p.poll() is None:
            run.p.stdin.write(chunks[4])
            run.p.stdin.close()
    except (BrokenPipeError, OSError) as e:
        failures.append(f"the run ended while being fed ({e})")
    try:
        rc = run.p.wait(120)
    except subprocess.TimeoutExpired:
        run.p.kill()
        rc = run.p.wait()
        failures.append("still running 120 s after its input ended")
    time.sleep(0.1)
    if rc not in (0, 1):
        failures.append(f"exit {rc} (128+N is signal N, 2 is trouble); stderr: {run.err[-3:]}")
    db = os.path.join(work, "run.db")
    if os.path.exists(db):
        con = sqlite3.connect(db)
        status, nflows = con.execute("SELECT status, flows FROM runs").fetchone()
        rows = con.execute("SELECT count(*) FROM flows").fetchone()[0]
        roled = con.execute("SELECT count(*) FROM flows WHERE dst_role = 'front_end'").fetchone()[0]
        con.close()
        total = CHUNK * nchunks
        if status != "complete" or nflows != total or rows != total:
            failures.append(f"run {status}, runs.flows {nflows}, rows {rows}; wanted complete, {total}, {total}")
        if roled != total:
            failures.append(f"{roled} of {total} flows have the reloaded topology's role")
    else:
        failures.append("no database")
    if failures:
        tag = "KNOWN BUG" if known(CASE) else "FAIL"
        for f in failures:
            print(f"{tag} [{CASE}]: {f}", file=sys.stderr)
        print("stderr of the run:\n  " + "\n  ".join(run.err[-8:]), file=sys.stderr)
        return 0 if tag == "KNOWN BUG" else 1
    if known(CASE):
        print(f"FIXED [{CASE}]: passes now; remove it from tests/robust/known_bugs.txt", file=sys.stderr)
        return 1
    print(f"reloads: 2 refused, 1 taken after a 5 s stop in the loading process; {CHUNK * nchunks} flows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
