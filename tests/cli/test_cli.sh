#!/usr/bin/env bash
# The command line as a user meets it: help, versions, exit codes, errors
# with the file named, filters, several files in one run, the default
# database in the working folder, appending runs, a run stopped by SIGINT,
# databases that cannot be written, and the --json summary (identity,
# versions, the violation list; on trouble the error as JSON, exit 2).
# Usage: test_cli.sh LYNCAUDIT PCAP_DIR
set -u
LA="$(realpath "$1")"
P="$(realpath "$2")"
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
expect_rc() { # expected_rc description command...
    local want="$1" what="$2"
    shift 2
    "$@" >"$T/out" 2>"$T/err"
    local got=$?
    if [ "$got" -eq "$want" ]; then ok; else bad "$what: exit $got, wanted $want; stderr: $(head -c 300 "$T/err")"; fi
}
expect_err() { # regex description
    if grep -qE "$1" "$T/err"; then ok; else bad "$2: stderr '$(head -c 300 "$T/err")' lacks /$1/"; fi
}
q() { sqlite3 "$1" "$2"; }

SIP="$P/nDPI/sip.pcap"
JAB="$P/nDPI/jabber.pcap"

# --help and --version
expect_rc 0 "--help" "$LA" --help
grep -q "Exit codes" "$T/out" && ok || bad "--help lists exit codes"
grep -q -- "--database" "$T/out" && ok || bad "--help lists --database"
expect_rc 0 "--version" "$LA" --version
grep -qE "^lyncaudit [0-9]+\.[0-9]+\.[0-9]+ \(nDPI 4\.2" "$T/out" && ok || bad "--version names nDPI: $(cat "$T/out")"
grep -qE "^SQLite 3\.[0-9.]+, Lua 5\.4\.[0-9]+, rule set [0-9.]+ \(/.*/rules\)$" "$T/out" && ok ||
    bad "--version names SQLite, Lua and the rule set: $(cat "$T/out")"

# Bad arguments and inputs: one line naming the file, exit 2, nothing written.
cd "$T"
expect_rc 2 "no file" "$LA"
expect_err "no capture file given" "no file"
expect_rc 2 "missing file" "$LA" -d "$T/m.db" "$T/nope.pcap"
expect_err "^lyncaudit: $T/nope.pcap: cannot read capture: No such file" "missing file"
[ ! -e "$T/m.db" ] && ok || bad "missing file must not create the database"
printf 'this is not a capture\n' >"$T/text.pcap"
expect_rc 2 "not a capture" "$LA" -d "$T/m.db" "$T/text.pcap"
expect_err "^lyncaudit: $T/text.pcap: cannot read capture: " "not a capture"
[ "$(wc -l <"$T/err")" -eq 1 ] && ok || bad "not a capture: one line of error, got $(wc -l <"$T/err")"
expect_rc 2 "bad filter" "$LA" -d "$T/m.db" "$SIP" udp port banana
expect_err "bad filter 'udp port banana'" "bad filter"
expect_rc 2 "second file missing, taken as filter" "$LA" -d "$T/m.db" "$SIP" "$T/missing.pcap"
expect_err "missing.pcap: cannot read capture: No such file" "second file missing"
[ ! -e "$T/m.db" ] && ok || bad "bad input must not create the database"
# Not a capture on stdin or a FIFO: the same as in a regular file, its header
# is read before the database is opened (issue 20, item 4).
expect_rc 2 "not a capture on stdin" sh -c "exec \"\$0\" -d \"\$1\" - <\"\$2\"" "$LA" "$T/m.db" "$T/text.pcap"
expect_err "^lyncaudit: -: cannot read capture: " "not a capture on stdin"
mkfifo "$T/notcap.fifo"
(cat "$T/text.pcap" >"$T/notcap.fifo") &
expect_rc 2 "not a capture in a FIFO" "$LA" -d "$T/m.db" "$T/notcap.fifo"
wait
expect_err "notcap.fifo: cannot read capture: " "not a capture in a FIFO"
[ ! -e "$T/m.db" ] && ok || bad "not a capture on stdin or a FIFO must not create the database"
expect_rc 0 "a capture on stdin" sh -c "exec \"\$0\" -q -d \"\$1\" - <\"\$2\"" "$LA" "$T/stdin.db" "$SIP"
[ "$(q "$T/stdin.db" "select sources || ' ' || status || ' ' || (flows > 0) from runs")" = "- complete 1" ] && ok || bad "a capture on stdin: $(q "$T/stdin.db" "select * from runs")"
expect_rc 2 "bad option value" "$LA" --max-flows -3 "$SIP"
expect_err "max-flows wants a whole number" "bad option value"
expect_rc 2 "unknown option" "$LA" --frobnicate "$SIP"

# The command line as tcpdump users write it (issue 18): options anywhere,
# -r and -F, a file named like a filter word, a folder given as a capture.
expect_rc 0 "option after the file" "$LA" "$SIP" -q -d "$T/perm.db"
[ ! -s "$T/out" ] && ok || bad "-q after the file must still be -q: $(head -c 200 "$T/out")"
[ "$(q "$T/perm.db" "select filter is null from runs")" = 1 ] && ok || bad "-q after the file taken as a filter word"
expect_rc 0 "-r twice, filter words" "$LA" -q -d "$T/r.db" -r "$SIP" -r "$JAB" udp
[ "$(q "$T/r.db" "select sources || '|' || filter from runs")" = "$SIP $JAB|udp" ] && ok || bad "-r twice: $(q "$T/r.db" "select sources, filter from runs")"
[ "$(q "$T/r.db" "select count(*) from flows where transport <> 'udp'")" = 0 ] && ok || bad "-r: the filter applies"
printf 'udp\n  port 5060\n' >"$T/filter.txt"
expect_rc 0 "-F FILE" "$LA" -q -d "$T/F.db" -F "$T/filter.txt" "$SIP"
[ "$(q "$T/F.db" "select filter from runs")" = "udp   port 5060" ] && ok || bad "-F: $(q "$T/F.db" "select filter from runs")"
expect_rc 2 "-F and a filter" "$LA" -q -d "$T/F.db" -F "$T/filter.txt" "$SIP" tcp
expect_err "give one of them" "-F and a filter"
mkdir -p "$T/words" && printf 'not a capture\n' >"$T/words/udp"
(cd "$T/words" && "$LA" -q -d "$T/words.db" "$SIP" udp port 5060 >"$T/out" 2>"$T/err")
[ $? -eq 0 ] && ok || bad "a file named udp in the working folder: $(cat "$T/err")"
[ "$(q "$T/words.db" "select filter from runs")" = "udp port 5060" ] && ok || bad "a file named udp became a capture"
expect_rc 0 "-- ends the options" "$LA" -q -d "$T/dd.db" -- "$SIP" udp
[ "$(q "$T/dd.db" "select filter from runs")" = udp ] && ok || bad "--: $(q "$T/dd.db" "select filter from runs")"
expect_rc 2 "a folder as a capture" "$LA" -q -d "$T/m.db" "$T/words"
expect_err "^lyncaudit: $T/words: is a directory, not a capture file\$" "a folder as a capture"
expect_rc 2 "-r a folder" "$LA" -q -d "$T/m.db" -r "$T/words"
expect_err "is a directory" "-r a folder"
expect_rc 2 "-i and -r" "$LA" -q -d "$T/m.db" -i lo -r "$SIP"
expect_err "not both" "-i and -r"
[ ! -e "$T/m.db" ] && ok || bad "usage errors must not create the database"

# Default database in the working folder; a second run appends.
expect_rc 0 "default db" "$LA" -q "$SIP"
[ -f "$T/lyncaudit.db" ] && ok || bad "default database lyncaudit.db in the working folder"
[ ! -s "$T/out" ] && ok || bad "-q prints nothing"
expect_rc 0 "second run" "$LA" "$SIP"
grep -q "packets" "$T/out" && ok || bad "summary on stdout"
grep -q "top applications" "$T/out" && ok || bad "summary lists applications"
[ "$(q lyncaudit.db 'select count(*) from runs')" = 2 ] && ok || bad "two runs"
[ "$(q lyncaudit.db "select count(*) from runs where status='complete' and finished_at is not null")" = 2 ] && ok || bad "both runs complete"
[ "$(q lyncaudit.db 'select count(*) from flows where run_id=1')" = "$(q lyncaudit.db 'select count(*) from flows where run_id=2')" ] && ok || bad "same flows each run"
[ "$(q lyncaudit.db 'select packets from runs where id=1')" = 112 ] && ok || bad "112 packets in sip.pcap"
[ "$(q lyncaudit.db 'select flows from runs where id=2')" = "$(q lyncaudit.db 'select count(*) from flows where run_id=2')" ] && ok || bad "runs.flows counts the flow rows"

# A filter selects packets; several files make one run.
expect_rc 0 "filter" "$LA" -q -d f.db "$SIP" udp port 5060
[ "$(q f.db 'select count(*) from flows where src_port<>5060 and dst_port<>5060')" = 0 ] && ok || bad "filter keeps only port 5060"
[ "$(q f.db "select filter from runs")" = "udp port 5060" ] && ok || bad "run records its filter"
expect_rc 0 "two files" "$LA" -q -d two.db "$SIP" "$JAB"
[ "$(q two.db 'select count(*) from runs')" = 1 ] && ok || bad "two files, one run"
[ "$(q two.db 'select sources from runs')" = "$SIP $JAB" ] && ok || bad "run names both files"
n1=$("$LA" --json -d one.db "$SIP" | jq .packets)
n2=$("$LA" --json -d one.db "$JAB" | jq .packets)
[ "$(q two.db 'select packets from runs')" = $((n1 + n2)) ] && ok || bad "two-file run counts both files' packets"
[ "$(q two.db "select count(*) from flows where app='xmpp'")" -ge 1 ] && ok || bad "jabber.pcap gives an xmpp flow"

# Every packet is accounted for: in a flow, as an ICMP error counted with
# the flow it quotes, or undecodable.
expect_rc 0 "accounting" "$LA" -q -d acct.db "$P/nDPI/stun.pcap" "$P/nDPI/skype__old2020.pcap" "$P/arkime/nflog.pcap"
[ "$(q acct.db "select packets = undecodable + icmp_errors + (select sum(packets_src2dst+packets_dst2src) from flows) from runs")" = 1 ] && ok || bad "packets = flows + icmp_errors + undecodable"
[ "$(q acct.db "select icmp_errors from runs")" -ge 2 ] && ok || bad "ICMP errors counted with their flows"
[ "$(q acct.db "select icmp_errors from runs")" = "$(q acct.db "select sum(icmp_errors) from flows")" ] && ok || bad "runs.icmp_errors = sum of flows.icmp_errors"

# Damaged capture: the flows before the damage are kept, the run says error, exit 2.
size=$(stat -c %s "$JAB")
head -c $((size * 2 / 3)) "$JAB" >"$T/cut.pcap"
expect_rc 2 "truncated capture" "$LA" -q -d cut.db "$T/cut.pcap"
expect_err "cut.pcap: unreadable after record [0-9]+: .*truncated" "truncated capture"
[ "$(q cut.db "select status from runs")" = error ] && ok || bad "damaged run marked error"
[ "$(q cut.db "select count(*) from flows")" -ge 1 ] && ok || bad "flows before the damage kept"
[ "$(q cut.db "select finished_at is not null from runs")" = 1 ] && ok || bad "damaged run closed"

# A database that cannot be written: exit 2, one clear line.
printf 'not a database, just text that is long enough to fill a page header....\n%.0s' {1..20} >"$T/notdb.db"
expect_rc 2 "not a database" "$LA" -q -d "$T/notdb.db" "$SIP"
expect_err "notdb.db: .*not a database" "not a database"
if [ "$(id -u)" -ne 0 ]; then
    mkdir "$T/ro" && chmod 555 "$T/ro"
    expect_rc 2 "read-only folder" "$LA" -q -d "$T/ro/x.db" "$SIP"
    expect_err "x.db: cannot open database" "read-only folder"
fi
expect_rc 2 "database in a missing folder" "$LA" -q -d "$T/no/such/dir/x.db" "$SIP"
expect_err "x.db: cannot open database" "database in a missing folder"

# Topology: a broken one stops the run before anything is written; with
# roles, violations make exit code 1 and land in the database.
printf 'return {\n  roles = {\n    fornt_end = { "10.0.0.1" },\n  },\n}\n' >"$T/bad.lua"
expect_rc 2 "bad topology" "$LA" -q -t "$T/bad.lua" -d "$T/topo.db" "$SIP"
expect_err "^lyncaudit: $T/bad.lua:3: unknown role 'fornt_end'\$" "bad topology"
[ ! -e "$T/topo.db" ] && ok || bad "bad topology must not create the database"
expect_rc 2 "missing topology" "$LA" -q -t "$T/none.lua" -d "$T/topo.db" "$SIP"
expect_err "none.lua: cannot read" "missing topology"
printf 'return { name = "t", roles = { front_end = { "212.242.33.35" }, client_internal = { "192.168.1.0/24" } } }\n' >"$T/topology.lua"
expect_rc 1 "violations found" "$LA" -q -d "$T/topo.db" "$SIP"
[ "$(q topo.db "select topology_name from runs")" = t ] && ok || bad "topology.lua in the working folder is the default"
[ "$(q topo.db "select count(*) from violations")" -ge 1 ] && ok || bad "violations stored"
[ "$(q topo.db "select violations from runs")" = "$(q topo.db "select count(*) from violations")" ] && ok || bad "runs.violations counts them"
[ "$(q topo.db "select count(*) from flows where verdict='violation'")" = "$(q topo.db "select count(distinct flow_id) from violations")" ] && ok || bad "violation flows match"
[ "$(q topo.db "select count(*) from rules where run_id=1")" -gt 150 ] && ok || bad "rules of the run stored"
rm -f "$T/topology.lua"

# --json (issue 18): the run's identity, versions, the violation list; on
# trouble the error as JSON with exit 2 (stdout was empty).
if command -v jq >/dev/null; then
    J() { jq -r "$1" "$T/out"; }
    printf 'return { name = "t", roles = { front_end = { "212.242.33.35" }, client_internal = { "192.168.1.0/24" } } }\n' >"$T/topo.lua"
    expect_rc 1 "--json with violations" "$LA" --json -q -t "$T/topo.lua" -d "$T/j.db" "$SIP"
    [ "$(wc -l <"$T/out")" = 1 ] && J 'type' | grep -qx object && ok || bad "--json: one object on one line: $(head -c 300 "$T/out")"
    [ "$(J '[.run_id, .database, .status, .exit_code, .error, .message] | map(tostring) | join("|")')" = "1|$T/j.db|complete|1|null|null" ] &&
        ok || bad "--json identity: $(J '[.run_id, .database, .status, .exit_code, .error, .message]')"
    [ "$(J '[.sources[], .filter, .topology.path, .topology.name, .rules_loaded] | map(tostring) | join("|")')" = \
      "$SIP|null|$T/topo.lua|t|$(q "$T/j.db" "select rules_loaded from runs")" ] && ok || bad "--json sources/topology: $(J '[.sources, .topology, .rules_loaded]')"
    [ "$(J '"lyncaudit \(.versions.lyncaudit) (nDPI \(.versions.ndpi), libpcap: libpcap version \(.versions.libpcap)"')" = \
      "$("$LA" -V | head -n 1 | sed 's/ (with.*//; s/)$//')" ] && ok || bad "--json versions vs -V: $(J .versions) / $("$LA" -V)"
    [ "$(J '"SQLite \(.versions.sqlite), Lua \(.versions.lua)"')" = "$("$LA" -V | tail -n 1 | cut -d, -f1-2)" ] && ok ||
        bad "--json SQLite and Lua versions vs -V: $(J .versions) / $("$LA" -V | tail -n 1)"
    [ "$(J '.versions.sqlite')" = "$(sqlite3 -version | cut -d' ' -f1)" ] && ok || bad "--json versions.sqlite: $(J .versions.sqlite)"
    J '.versions.lua' | grep -qE '^5\.4\.[0-9]+$' && ok || bad "--json versions.lua: $(J .versions.lua)"
    [ "$(J '[.packets, .flows] | map(tostring) | join("|")')" = "$(q "$T/j.db" "select packets, flows from runs")" ] && ok || bad "--json counters"
    [ "$(J '.violation_list[] | [.violation_id, .flow_id, .kind, (.rule_id // "-"), .severity, .message, .src_ip, .dst_port] | map(tostring) | join("|")')" = \
      "$(q "$T/j.db" "select v.id, flow_id, kind, coalesce(v.rule_id, '-'), severity, message, src_ip, dst_port from violations v join flows f on f.id = v.flow_id order by v.id")" ] &&
        ok || bad "--json violation_list = the violations rows: $(J '.violation_list | length') vs $(q "$T/j.db" "select count(*) from violations")"
    [ "$(J '.violation_list | length')" -ge 1 ] && [ "$(J .violation_list_truncated)" = false ] && ok || bad "--json: violations listed, not truncated"
    [ "$(J '.violations | to_entries | map("\(.key)|\(.value)") | sort | .[]')" = \
      "$(q "$T/j.db" "select kind, count(*) from violations group by kind order by 1")" ] && ok || bad "--json violation counts by kind"
    expect_rc 0 "--json, -r twice and a filter" "$LA" --json -d "$T/j2.db" -r "$SIP" -r "$JAB" udp
    [ "$(J '[.sources[], .filter, .topology, .exit_code, (.violation_list | length)] | map(tostring) | join("|")')" = "$SIP|$JAB|udp|null|0|0" ] &&
        ok || bad "--json sources and filter: $(J '[.sources, .filter, .topology]')"
    # trouble: the same object, error set, exit 2; before a run exists run_id is null
    trouble() { # WHAT REGEX ARGS...: exit 2, one JSON object with .error matching REGEX
        local what=$1 re=$2
        shift 2
        expect_rc 2 "--json trouble: $what" "$LA" "$@"
        if [ "$(wc -l <"$T/out")" = 1 ] && [ "$(J .exit_code)" = 2 ] && J .error | grep -qE -e "$re" &&
            [ "lyncaudit: $(J .error)" = "$(grep '^lyncaudit: ' "$T/err" | tail -n 1)" ]; then ok; else
            bad "--json trouble: $what: stdout '$(head -c 300 "$T/out")' stderr '$(head -c 200 "$T/err")'"
        fi
    }
    trouble "missing capture" "nope.pcap: cannot read capture: No such file" --json -d "$T/jt.db" "$T/nope.pcap"
    [ "$(J '[.run_id, .status, .database] | map(tostring) | join("|")')" = "null|null|$T/jt.db" ] && ok || bad "--json trouble before a run: $(J '[.run_id, .status]')"
    trouble "bad option value, --json after it" "max-flows wants a whole number" --max-flows -3 "$SIP" --json
    trouble "bad topology" "bad.lua:3: unknown role 'fornt_end'" --json -t "$T/bad.lua" -d "$T/jt.db" "$SIP"
    trouble "database that is not one" "notdb.db: .*not a database" --json -d "$T/notdb.db" "$SIP"
    [ ! -e "$T/jt.db" ] && ok || bad "--json trouble wrote a database"
    trouble "damaged capture" "cut.pcap: unreadable after record" --json -q -d "$T/jcut.db" "$T/cut.pcap"
    [ "$(J '[.run_id, .status, .flows > 0, .message == .error] | map(tostring) | join("|")')" = "1|error|true|true" ] &&
        [ "$(J .message)" = "$(q "$T/jcut.db" "select message from runs")" ] && ok || bad "--json damaged run: $(J '[.run_id, .status, .flows, .message]')"
else
    echo "SKIP: --json checks need jq (scripts/install-deps.sh all)"
fi

# SIGINT mid-run: the run is closed as interrupted, flows kept, exit 0.
mkfifo "$T/fifo"
python3 - "$JAB" "$T/fifo" <<'PY' &
import sys, time
data = open(sys.argv[1], "rb").read()
with open(sys.argv[2], "wb") as f:
    f.write(data)           # a whole capture, then the writer stays open
    f.flush()
    time.sleep(20)
PY
writer=$!
"$LA" -q -d int.db "$T/fifo" >"$T/out" 2>"$T/err" &
la=$!
for _ in $(seq 50); do
    [ "$(q int.db 'select count(*) from runs' 2>/dev/null)" = 1 ] && break
    sleep 0.1
done
sleep 0.5
kill -INT "$la"
wait "$la"
rc=$?
kill "$writer" 2>/dev/null
wait "$writer" 2>/dev/null
[ "$rc" -eq 0 ] && ok || bad "SIGINT exit $rc, wanted 0: $(cat "$T/err")"
[ "$(q int.db "select status from runs")" = interrupted ] && ok || bad "interrupted run status: $(q int.db 'select status from runs')"
[ "$(q int.db "select finished_at is not null from runs")" = 1 ] && ok || bad "interrupted run closed"
[ "$(q int.db "select packets from runs")" = 376 ] && ok || bad "interrupted run counted every packet read"
[ "$(q int.db "select sum(packets_src2dst+packets_dst2src) from flows")" = "$(q int.db "select packets-undecodable from runs")" ] && ok || bad "interrupted run kept every flow"
[ "$(q int.db "pragma integrity_check")" = ok ] && ok || bad "integrity after SIGINT"

# --count: a file cut by it is "stopped" with the bound named; a file that
# ends exactly at the bound is "complete" (issue 17).
expect_rc 0 "--count 5" "$LA" -q -d "$T/count.db" --count 5 "$SIP"
n="$(q "$T/count.db" "select packets from runs")"
expect_rc 0 "--count all" "$LA" -q -d "$T/count.db" --count 100000 "$SIP"
all="$(q "$T/count.db" "select packets from runs where id = 2")"
expect_rc 0 "--count exactly all" "$LA" -q -d "$T/count.db" --count "$all" "$SIP"
[ "$(q "$T/count.db" "select group_concat(status || ':' || coalesce(message, ''), '|') from runs")" = \
  "stopped:--count 5 reached before the end of the input|complete:|complete:" ] && ok || \
  bad "--count statuses: $(q "$T/count.db" "select status, message from runs")"
[ "$n" = 5 ] && ok || bad "--count 5 read $n packets"

# A signal after the last packet: the run is complete (issue 20, item I).
# The capture comes through a FIFO; once the run row is there the test takes
# the database's write lock for 3 s, the writer sends the rest and closes, so
# lyncaudit has read everything and waits for the lock when SIGINT comes.
mkfifo "$T/late.fifo"
python3 - "$SIP" "$T/late.fifo" "$T/late.db" "$T/late.go" <<'PY' &
import os, sqlite3, sys, time
data = open(sys.argv[1], "rb").read()
with open(sys.argv[2], "wb") as f:
    f.write(data[:24])          # the header: lyncaudit checks it, opens the database
    f.flush()
    for _ in range(100):        # until the run row is committed
        try:
            if sqlite3.connect(sys.argv[3]).execute("select count(*) from runs").fetchone()[0]:
                break
        except sqlite3.Error:
            pass
        time.sleep(0.05)
    c = sqlite3.connect(sys.argv[3], isolation_level=None, timeout=10)
    c.execute("BEGIN IMMEDIATE")
    f.write(data[24:])          # every record, then end of file
open(sys.argv[4], "w").close()
time.sleep(3)
c.execute("ROLLBACK")
PY
holder=$!
"$LA" -q -d "$T/late.db" "$T/late.fifo" >"$T/out" 2>"$T/err" &
la=$!
for _ in $(seq 100); do [ -e "$T/late.go" ] && break; sleep 0.05; done
sleep 1
kill -INT "$la"
wait "$la"
rc=$?
wait "$holder"
[ "$rc" -eq 0 ] && ok || bad "signal after the last packet: exit $rc: $(cat "$T/err")"
[ "$(q "$T/late.db" "select status || ':' || packets from runs")" = "complete:$all" ] && ok || \
  bad "signal after the last packet: $(q "$T/late.db" "select status, message, packets from runs")"

# Provenance (issue 17): --label, the topology's absolute path and SHA-256,
# the rule set's SHA-256 and version, each capture's name, size and SHA-256.
mkdir -p "$T/prov" && cd "$T/prov"
printf 'return { name = "p", roles = { front_end = { "212.242.33.35" }, client_internal = { "192.168.1.0/24" } } }\n' >site.lua
cp "$SIP" ./s.pcap
expect_rc 1 "--label run" "$LA" -q -t site.lua -d p.db --label "CHG-7 after the firewall change" s.pcap "$JAB"
[ "$(q p.db "select label from runs")" = "CHG-7 after the firewall change" ] && ok || bad "--label in runs.label"
[ "$(q p.db "select topology from runs")" = "$T/prov/site.lua" ] && ok || bad "runs.topology absolute: $(q p.db "select topology from runs")"
[ "$(q p.db "select topology_sha256 from runs")" = "$(sha256sum site.lua | cut -c1-64)" ] && ok || bad "runs.topology_sha256"
[ "$(q p.db "select length(rules_sha256) || ':' || rules_version from runs")" = "64:1" ] && ok || bad "rules hash and version"
want="1|s.pcap|$T/prov/s.pcap|$(stat -c %s s.pcap)|$(sha256sum s.pcap | cut -c1-64)
2|$JAB|$JAB|$(stat -c %s "$JAB")|$(sha256sum "$JAB" | cut -c1-64)"
[ "$(q p.db "select seq, name, path, size, sha256 from run_sources order by seq")" = "$want" ] && ok ||
  bad "run_sources: $(q p.db "select * from run_sources")"
# Another rule set (one file renamed) has another hash; stdin is named, not hashed.
mkdir rules && cp "$(dirname "$LA")"/../rules/*.lua rules/ 2>/dev/null || cp "$(dirname "$(realpath "$0")")"/../../rules/*.lua rules/
mv rules/xmpp.lua rules/zz-xmpp.lua
"$LA" -q -t site.lua -d p.db --rules rules - <s.pcap >/dev/null 2>&1
[ "$(q p.db "select count(distinct rules_sha256) from runs")" = 2 ] && ok || bad "a renamed rule file changes rules_sha256"
[ "$(q p.db "select name || ':' || coalesce(size, 'null') || ':' || coalesce(sha256, 'null') from run_sources where run_id = 2")" = "-:null:null" ] && ok ||
  bad "stdin: named, not hashed: $(q p.db "select * from run_sources where run_id = 2")"
# A broken exceptions file: file:line, exit 2, nothing written.
printf 'exception {\n  change = "C-1", reason = "r", from = "any",\n  to = "front_endd", transport = "tcp", dports = 5060 }\n' >ex.lua
expect_rc 2 "bad exceptions file" "$LA" -q -t site.lua -d ex.db --exceptions ex.lua s.pcap
expect_err "^lyncaudit: ex.lua:1: unknown role or bad address 'front_endd' in to\$" "bad exceptions file"
[ ! -e ex.db ] && ok || bad "a bad exceptions file must not create the database"
expect_rc 2 "missing exceptions file" "$LA" -q -t site.lua -d ex.db --exceptions none.lua s.pcap
expect_err "none.lua" "missing exceptions file"
[ ! -e ex.db ] && ok || bad "a missing exceptions file must not create the database"
cd "$T"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
