#!/usr/bin/env python3
"""Is a run in PostgreSQL the same as a run in a SQLite database?

    pgcompare.py PSQL PGURL PG_RUN SQLITE_DB SQLITE_RUN [--flows-only]

Reads the PostgreSQL run with psql (COPY ... TO STDOUT: PostgreSQL's own
text, times as UTC ISO 8601 with a Z, addresses without a prefix length),
the SQLite run with Python's sqlite3, and compares them table by table:
the runs row (counters, status, message, sources), every flow in id order,
every violation (its flow by position), every rule, every role_stats row.
Ids are each database's own and are compared only as positions. With
--flows-only, only the flows' 5-tuples and counts (a live run against the
same traffic read from a capture). Exit 0 equal, 1 with the differences.
"""
import sqlite3
import subprocess
import sys

VOLATILE = {"id", "run_id", "flow_id", "started_at", "finished_at", "uuid", "sensor", "severity_rank", "pid",
            "process_start"}
ORDER = {
    "runs": "id",
    "flows": "id",
    "violations": "id",
    "rules": "id",
    "role_stats": "src_role, dst_role, transport, dst_port, app",
    "run_sources": "seq",
    "documents": "doc",
    "exceptions": "id",
}
FLOW_KEY = ["transport", "src_ip", "src_port", "dst_ip", "dst_port", "packets_src2dst", "bytes_src2dst",
            "packets_dst2src", "bytes_dst2src"]


def unescape(field):
    if field == "\\N":
        return None
    out, i = [], 0
    while i < len(field):
        c = field[i]
        if c == "\\" and i + 1 < len(field):
            n = field[i + 1]
            out.append({"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}.get(n, n))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


class PG:
    def __init__(self, psql, url):
        self.psql, self.url = psql, url

    def rows(self, sql):
        p = subprocess.run([self.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", self.url, "-c",
                            f"COPY ({sql}) TO STDOUT"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        if p.returncode:
            sys.exit(f"psql: {p.stderr.decode(errors='replace')}")
        text = p.stdout.decode()
        return [[unescape(f) for f in line.split("\t")] for line in text.split("\n") if line]

    def columns(self, table):
        return self.rows("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
                         f"'{table}'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum")

    def select(self, table, cols, types, run, order):
        exprs = []
        for c in cols:
            t = types.get(c)
            if t == "timestamp with time zone":
                exprs.append(f"to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
            elif t == "inet":
                exprs.append(f"host({c})")
            else:
                exprs.append(c)
        where = "id" if table == "runs" else "run_id"
        order = ", ".join(f"{o.strip()} COLLATE \"C\"" if types.get(o.strip()) == "text" else o
                          for o in order.split(","))
        return self.rows(f"SELECT {', '.join(exprs)} FROM {table} WHERE {where} = {int(run)} ORDER BY {order}")


def text(v):
    return None if v is None else str(v)


def norm(cols, row):
    """rules.when_options lists options in the order Lua's pairs() gave
    them, seeded per process: compared as a set."""
    row = list(row)
    for i, c in enumerate(cols):
        if c == "when_options" and row[i]:
            row[i] = ",".join(sorted(row[i].split(",")))
    return row


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    flows_only = "--flows-only" in sys.argv
    psql, url, pg_run, db, sq_run = args
    pg, con = PG(psql, url), sqlite3.connect(db)
    diffs, n = [], 0
    tables = ["flows"] if flows_only else list(ORDER)
    for table in tables:
        types = dict((c, t) for c, t in pg.columns(table))
        sq_cols = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
        cols = [c for c in types if c in sq_cols and c not in VOLATILE]
        if flows_only:
            cols = FLOW_KEY
        order = ORDER[table]
        where = "id" if table == "runs" else "run_id"
        prows = [norm(cols, r) for r in pg.select(table, cols, types, pg_run, order)]
        srows = [norm(cols, [text(v) for v in r]) for r in
                 con.execute(f"SELECT {', '.join(cols)} FROM {table} WHERE {where} = ? ORDER BY {order}", (sq_run,))]
        n += len(prows)
        if flows_only:
            prows.sort(key=repr)
            srows.sort(key=repr)
        if table == "violations":  # the flow of each violation, as its position in the run
            pf = {r[0]: i for i, r in enumerate(pg.rows(f"SELECT id FROM flows WHERE run_id = {int(pg_run)} ORDER BY id"))}
            sf = {r[0]: i for i, r in enumerate(con.execute("SELECT id FROM flows WHERE run_id = ? ORDER BY id", (sq_run,)))}
            pv = [pf[r[0]] for r in pg.rows(f"SELECT flow_id FROM violations WHERE run_id = {int(pg_run)} ORDER BY id")]
            sv = [sf[r[0]] for r in con.execute("SELECT flow_id FROM violations WHERE run_id = ? ORDER BY id", (sq_run,))]
            if pv != sv:
                diffs.append("violations: the flows they belong to differ")
        if len(prows) != len(srows):
            diffs.append(f"{table}: {len(prows)} rows in PostgreSQL, {len(srows)} in SQLite")
        for i, (a, b) in enumerate(zip(prows, srows)):
            for c, x, y in zip(cols, a, b):
                if x != y:
                    diffs.append(f"{table} row {i} {c}: PostgreSQL {x!r}, SQLite {y!r}")
    for d in diffs[:20]:
        print(d)
    print(f"{'DIFFERENT' if diffs else 'equal'}: PostgreSQL run {pg_run} and {db} run {sq_run} ({n} rows)")
    sys.exit(1 if diffs else 0)


main()
