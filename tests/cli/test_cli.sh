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
SRC="$(cd "$(dirname "$0")/../.." && pwd)" # the sample capture and topology
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
expect_rc 3 "a capture on stdin" sh -c "exec \"\$0\" -q -d \"\$1\" - <\"\$2\"" "$LA" "$T/stdin.db" "$SIP"
[ "$(q "$T/stdin.db" "select sources || ' ' || status || ' ' || (flows > 0) from runs")" = "- complete 1" ] && ok || bad "a capture on stdin: $(q "$T/stdin.db" "select * from runs")"
expect_rc 2 "bad option value" "$LA" --max-flows -3 "$SIP"
expect_err "max-flows wants a whole number" "bad option value"
expect_rc 2 "unknown option" "$LA" --frobnicate "$SIP"
expect_err "^lyncaudit: unknown option '--frobnicate'\$" "unknown option, nothing close"
# "did you mean" (issue 18): a misspelt long option, a value given to a flag,
# an ambiguous abbreviation, a missing value; report and export the same.
expect_rc 2 "misspelt option" "$LA" --jsno "$SIP"
expect_err "^lyncaudit: unknown option '--jsno' \(did you mean '--json'\?\)\$" "misspelt option"
grep -q "^Try 'lyncaudit --help'.\$" "$T/err" && ok || bad "misspelt option: no 'Try' line: $(cat "$T/err")"
expect_rc 2 "misspelt option with a value" "$LA" --databse=x.db "$SIP"
expect_err "^lyncaudit: unknown option '--databse' \(did you mean '--database'\?\)\$" "misspelt option with a value"
expect_rc 2 "a value to a flag" "$LA" --json=1 "$SIP"
expect_err "^lyncaudit: option '--json' takes no value\$" "a value to a flag"
expect_rc 2 "ambiguous option" "$LA" --ev x "$SIP"
expect_err "^lyncaudit: option '--ev' is ambiguous \(--eve, --eve-rotate, --evidence" "ambiguous option"
expect_rc 2 "missing value" "$LA" "$SIP" --max-flows
expect_err "^lyncaudit: option '--max-flows' wants a value\$" "missing value"
expect_rc 2 "report: misspelt option" "$LA" report --fromat md x.db
expect_err "^lyncaudit: report: unknown option '--fromat' \(did you mean '--format'\?\)\$" "report: misspelt option"
[ ! -e "$T/x.db" ] && ok || bad "a usage error must not create the database"
# -B is KiB handed to libpcap as bytes in an int: 4194305 once wrapped to a
# 1 KiB buffer (issue 20 H); past 2097151 it is refused, the largest is taken.
expect_rc 2 "-B past an int of bytes" "$LA" -B 4194305 -i lo -d "$T/m.db"
expect_err "^lyncaudit: --buffer-size wants KiB \(1-2097151\), not .4194305." "-B past an int of bytes"
expect_rc 2 "-B 0" "$LA" -B 0 -i lo -d "$T/m.db"
[ ! -e "$T/m.db" ] && ok || bad "-B refused must not create the database"
expect_rc 3 "-B 2097151 (2 GiB) on a file run (no topology: nothing audited)" "$LA" -q -B 2097151 -d "$T/b.db" "$SIP"

# The command line as tcpdump users write it (issue 18): options anywhere,
# -r and -F, a file named like a filter word, a folder given as a capture.
expect_rc 3 "option after the file" "$LA" "$SIP" -q -d "$T/perm.db"
[ ! -s "$T/out" ] && ok || bad "-q after the file must still be -q: $(head -c 200 "$T/out")"
[ "$(q "$T/perm.db" "select filter is null from runs")" = 1 ] && ok || bad "-q after the file taken as a filter word"
expect_rc 3 "-r twice, filter words" "$LA" -q -d "$T/r.db" -r "$SIP" -r "$JAB" udp
[ "$(q "$T/r.db" "select sources || '|' || filter from runs")" = "$SIP $JAB|udp" ] && ok || bad "-r twice: $(q "$T/r.db" "select sources, filter from runs")"
[ "$(q "$T/r.db" "select count(*) from flows where transport <> 'udp'")" = 0 ] && ok || bad "-r: the filter applies"
printf 'udp\n  port 5060\n' >"$T/filter.txt"
expect_rc 3 "-F FILE" "$LA" -q -d "$T/F.db" -F "$T/filter.txt" "$SIP"
[ "$(q "$T/F.db" "select filter from runs")" = "udp   port 5060" ] && ok || bad "-F: $(q "$T/F.db" "select filter from runs")"
expect_rc 2 "-F and a filter" "$LA" -q -d "$T/F.db" -F "$T/filter.txt" "$SIP" tcp
expect_err "give one of them" "-F and a filter"
mkdir -p "$T/words" && printf 'not a capture\n' >"$T/words/udp"
(cd "$T/words" && "$LA" -q -d "$T/words.db" "$SIP" udp port 5060 >"$T/out" 2>"$T/err")
[ $? -eq 3 ] && ok || bad "a file named udp in the working folder: $(cat "$T/err")"
[ "$(q "$T/words.db" "select filter from runs")" = "udp port 5060" ] && ok || bad "a file named udp became a capture"
expect_rc 3 "-- ends the options" "$LA" -q -d "$T/dd.db" -- "$SIP" udp
[ "$(q "$T/dd.db" "select filter from runs")" = udp ] && ok || bad "--: $(q "$T/dd.db" "select filter from runs")"
expect_rc 2 "a folder as a capture" "$LA" -q -d "$T/m.db" "$T/words"
expect_err "^lyncaudit: $T/words: is a directory, not a capture file\$" "a folder as a capture"
expect_rc 2 "-r a folder" "$LA" -q -d "$T/m.db" -r "$T/words"
expect_err "is a directory" "-r a folder"
expect_rc 2 "-i and -r" "$LA" -q -d "$T/m.db" -i lo -r "$SIP"
expect_err "not both" "-i and -r"
[ ! -e "$T/m.db" ] && ok || bad "usage errors must not create the database"

# Default database in the working folder; a second run appends.
expect_rc 3 "default db" "$LA" -q "$SIP"
[ -f "$T/lyncaudit.db" ] && ok || bad "default database lyncaudit.db in the working folder"
[ ! -s "$T/out" ] && ok || bad "-q prints nothing"
expect_rc 3 "second run" "$LA" "$SIP"
grep -q "packets" "$T/out" && ok || bad "summary on stdout"
grep -q "top applications" "$T/out" && ok || bad "summary lists applications"
[ "$(q lyncaudit.db 'select count(*) from runs')" = 2 ] && ok || bad "two runs"
[ "$(q lyncaudit.db "select count(*) from runs where status='complete' and finished_at is not null")" = 2 ] && ok || bad "both runs complete"
[ "$(q lyncaudit.db 'select count(*) from flows where run_id=1')" = "$(q lyncaudit.db 'select count(*) from flows where run_id=2')" ] && ok || bad "same flows each run"
[ "$(q lyncaudit.db 'select packets from runs where id=1')" = 112 ] && ok || bad "112 packets in sip.pcap"
[ "$(q lyncaudit.db 'select flows from runs where id=2')" = "$(q lyncaudit.db 'select count(*) from flows where run_id=2')" ] && ok || bad "runs.flows counts the flow rows"

# A filter selects packets; several files make one run.
expect_rc 3 "filter" "$LA" -q -d f.db "$SIP" udp port 5060
[ "$(q f.db 'select count(*) from flows where src_port<>5060 and dst_port<>5060')" = 0 ] && ok || bad "filter keeps only port 5060"
[ "$(q f.db "select filter from runs")" = "udp port 5060" ] && ok || bad "run records its filter"
expect_rc 3 "two files" "$LA" -q -d two.db "$SIP" "$JAB"
[ "$(q two.db 'select count(*) from runs')" = 1 ] && ok || bad "two files, one run"
[ "$(q two.db 'select sources from runs')" = "$SIP $JAB" ] && ok || bad "run names both files"
n1=$("$LA" --json -d one.db "$SIP" | jq .packets)
n2=$("$LA" --json -d one.db "$JAB" | jq .packets)
[ "$(q two.db 'select packets from runs')" = $((n1 + n2)) ] && ok || bad "two-file run counts both files' packets"
[ "$(q two.db "select count(*) from flows where app='xmpp'")" -ge 1 ] && ok || bad "jabber.pcap gives an xmpp flow"

# Every packet is accounted for: in a flow, as an ICMP error counted with
# the flow it quotes, or undecodable.
expect_rc 3 "accounting" "$LA" -q -d acct.db "$P/nDPI/stun.pcap" "$P/nDPI/skype__old2020.pcap" "$P/arkime/nflog.pcap"
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
expect_err "^lyncaudit: $T/bad.lua:3: unknown role 'fornt_end' \(did you mean 'front_end'\?\)\$" "bad topology"
[ ! -e "$T/topo.db" ] && ok || bad "bad topology must not create the database"
# A misspelt key, option, option value or capture point: a suggestion, and
# a bad value names the accepted ones (issue 18).
topo_err() { # description regex topology-text
    printf '%s\n' "$3" >"$T/bad2.lua"
    expect_rc 2 "$1" "$LA" -q -t "$T/bad2.lua" -d "$T/topo.db" "$SIP"
    expect_err "^lyncaudit: $T/bad2.lua:2: $2\$" "$1"
    [ ! -e "$T/topo.db" ] && ok || bad "$1: the database must not be created"
}
topo_err "misspelt key" "unknown key 'rolse' \(did you mean 'roles'\?\); the keys are name, roles, .*" \
    $'return {\n  rolse = {},\n}'
topo_err "misspelt option" "unknown option 'load_balancer' \(did you mean 'load_balancing'\?\)" \
    $'return { options = {\n  load_balancer = "dns",\n} }'
topo_err "misspelt option value" "option 'load_balancing' must be \"dns\" or \"hlb\" \(did you mean 'dns'\?\)" \
    $'return { options = {\n  load_balancing = "dsn",\n} }'
topo_err "bad option value" "option 'load_balancing' must be \"dns\" or \"hlb\"" \
    $'return { options = {\n  load_balancing = "round_robin",\n} }'
topo_err "bad boolean" "option 'public_im' must be true or false" \
    $'return { options = {\n  public_im = "yes",\n} }'
topo_err "misspelt capture point" "capture_point is \"inside\" or \"outside\" \(of the Edge's NAT\) \(did you mean 'outside'\?\)" \
    $'return {\n  capture_point = "outsde",\n}'
topo_err "role far from any" "unknown role 'zzzzzz'" $'return { roles = {\n  zzzzzz = { "10.0.0.1" },\n} }'
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
    expect_rc 3 "--json, -r twice and a filter" "$LA" --json -d "$T/j2.db" -r "$SIP" -r "$JAB" udp
    [ "$(J '[.sources[], .filter, .topology, .exit_code, (.violation_list | length)] | map(tostring) | join("|")')" = "$SIP|$JAB|udp|null|3|0" ] &&
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

# SIGINT mid-run: the run is closed as interrupted, flows kept, exit 3 (no
# topology: nothing audited; with one it would be 0 or 1).
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
[ "$rc" -eq 3 ] && ok || bad "SIGINT exit $rc, wanted 3 (no topology: nothing audited): $(cat "$T/err")"
[ "$(q int.db "select status from runs")" = interrupted ] && ok || bad "interrupted run status: $(q int.db 'select status from runs')"
[ "$(q int.db "select finished_at is not null from runs")" = 1 ] && ok || bad "interrupted run closed"
[ "$(q int.db "select packets from runs")" = 376 ] && ok || bad "interrupted run counted every packet read"
[ "$(q int.db "select sum(packets_src2dst+packets_dst2src) from flows")" = "$(q int.db "select packets-undecodable from runs")" ] && ok || bad "interrupted run kept every flow"
[ "$(q int.db "pragma integrity_check")" = ok ] && ok || bad "integrity after SIGINT"

# --count: a file cut by it is "stopped" with the bound named; a file that
# ends exactly at the bound is "complete" (issue 17).
expect_rc 3 "--count 5" "$LA" -q -d "$T/count.db" --count 5 "$SIP"
n="$(q "$T/count.db" "select packets from runs")"
expect_rc 3 "--count all" "$LA" -q -d "$T/count.db" --count 100000 "$SIP"
all="$(q "$T/count.db" "select packets from runs where id = 2")"
expect_rc 3 "--count exactly all" "$LA" -q -d "$T/count.db" --count "$all" "$SIP"
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
[ "$rc" -eq 3 ] && ok || bad "signal after the last packet: exit $rc (wanted 3, no topology): $(cat "$T/err")"
[ "$(q "$T/late.db" "select status || ':' || packets from runs")" = "complete:$all" ] && ok || \
  bad "signal after the last packet: $(q "$T/late.db" "select status, message, packets from runs")"

# -Z USER when reading files (issue 18; tcpdump -r -Z drops there too): every
# capture and the database are opened as root, then the process becomes USER
# for good. Here the captures and the database sit in this test's folder
# (mode 0700, root's): nobody could not even reach them. The run reads a
# private copy of a capture, then a FIFO that a writer holds open; while it
# waits on the FIFO its /proc/PID/status must show nobody's ids, no
# capabilities (effective and bounding) and no_new_privs; once the writer
# closes, the run completes with the flows of both.
if [ "$(id -u)" = 0 ] && getent passwd nobody >/dev/null; then
    install -m 0600 "$SIP" "$T/private.pcap"
    mkfifo "$T/z.fifo"
    python3 - "$JAB" "$T/z.fifo" "$T/z.go" <<'PY' &
import os, sys, time
data = open(sys.argv[1], "rb").read()
with open(sys.argv[2], "wb") as f:
    f.write(data)
    f.flush()
    for _ in range(200):              # at most 20 s, until the test has looked
        if os.path.exists(sys.argv[3]):
            break
        time.sleep(0.1)
PY
    writer=$!
    "$LA" -d "$T/z.db" -Z nobody "$T/private.pcap" "$T/z.fifo" >"$T/z.out" 2>"$T/z.err" &
    la=$!
    st=""
    for _ in $(seq 100); do
        st="$(cat "/proc/$la/status" 2>/dev/null)"
        grep -qE "^Uid:[[:space:]]+65534[[:space:]]" <<<"$st" && break
        sleep 0.1
    done
    field() { sed -n "s/^$1:[[:space:]]*//p" <<<"$st" | tr -s '[:space:]' ' ' | sed 's/ $//'; }
    [ "$(field Uid)" = "65534 65534 65534 65534" ] && ok || bad "-Z nobody on files: Uid '$(field Uid)'"
    [ "$(field Gid)" = "$(id -g nobody) $(id -g nobody) $(id -g nobody) $(id -g nobody)" ] && ok ||
        bad "-Z nobody on files: Gid '$(field Gid)'"
    [ "$(field Groups)" = "" ] && ok || bad "-Z nobody on files: supplementary groups '$(field Groups)'"
    [ "$(field CapEff)" = "0000000000000000" ] && [ "$(field CapBnd)" = "0000000000000000" ] && ok ||
        bad "-Z nobody on files: CapEff '$(field CapEff)', CapBnd '$(field CapBnd)'"
    [ "$(field NoNewPrivs)" = 1 ] && ok || bad "-Z nobody on files: NoNewPrivs '$(field NoNewPrivs)'"
    touch "$T/z.go"
    wait "$writer"
    for _ in $(seq 300); do kill -0 "$la" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$la" 2>/dev/null && { kill -9 "$la"; bad "-Z nobody on files: still running 30 s after its input ended"; }
    wait "$la"
    rc=$?
    [ "$rc" = 3 ] && ok || bad "-Z nobody on files: exit $rc (wanted 3: no topology, nothing audited): $(cat "$T/z.err")"
    grep -q "^lyncaudit: reading as user nobody (uid 65534)$" "$T/z.err" && ok ||
        bad "-Z nobody on files: stderr does not say it: $(cat "$T/z.err")"
    "$LA" -q -d "$T/z0.db" "$SIP" "$JAB"
    want="$(q "$T/z0.db" "select count(*) from flows")"
    [ "$(q "$T/z.db" "select status || ' ' || sources || ' ' || (select count(*) from flows) from runs")" = "complete $T/private.pcap $T/z.fifo $want" ] && ok ||
        bad "-Z nobody on files: run $(q "$T/z.db" "select status, sources, message from runs"), flows $(q "$T/z.db" "select count(*) from flows") want $want"
    expect_rc 2 "-Z nosuchuser on files" "$LA" -q -d "$T/zz.db" -Z nosuchuser "$SIP"
    expect_err "^lyncaudit: -Z nosuchuser: no such user\$" "-Z nosuchuser on files"
    [ ! -e "$T/zz.db" ] && ok || bad "-Z nosuchuser on files must not create the database"
    if command -v setpriv >/dev/null; then
        mkdir -m 0777 "$T/pub" && chmod 0711 "$T"
        expect_rc 2 "-Z when not root" setpriv --reuid=65534 --regid=65534 --clear-groups "$LA" -q -d "$T/pub/n.db" -Z nobody "$SIP"
        expect_err "^lyncaudit: -Z nobody: not running as root, nothing to drop\$" "-Z when not root"
        [ ! -e "$T/pub/n.db" ] && ok || bad "-Z when not root must not create the database"
        chmod 0700 "$T"
    fi
fi

# Issue 17, a verdict a user can trust: nothing audited is exit 3 with one
# warning line; declared roles that never appeared are named (run_roles,
# unseen_roles); flows allowed by port alone are counted per rule and run,
# and with unconfirmed = "finding" are unconfirmed_protocol violations; a
# snapshot length that cuts the payload is warned about.
SAMPLE="$SRC/samples/lync-sample.pcap"
STOPO="$SRC/samples/topology.lua"
expect_rc 3 "no topology: nothing audited" "$LA" -d "$T/n1.db" "$SAMPLE"
expect_err "^lyncaudit: nothing audited: none of the 29 flows was between known roles \(no topology\); exit code 3, not 0$" "no topology: the warning"
[ "$(grep -c 'nothing audited' "$T/err")" = 1 ] && ok || bad "nothing audited: one line, got $(grep -c 'nothing audited' "$T/err")"
[ "$(q "$T/n1.db" "select flows_audited || '|' || flows_unconfirmed || '|' || flows from runs")" = "0|0|29" ] && ok || bad "no topology: runs counts $(q "$T/n1.db" "select flows_audited, flows_unconfirmed, flows from runs")"
[ -z "$(cd "$T" && "$LA" -q -d "$T/n2.db" "$SAMPLE" 2>&1 && echo COMPLIANT)" ] && ok || bad "-q && echo COMPLIANT printed something for a run that audited nothing"
printf 'return { name = "empty", roles = {} }\n' >"$T/empty.lua"
expect_rc 3 "roles = {}" "$LA" -d "$T/n3.db" -t "$T/empty.lua" "$SAMPLE"
expect_err "nothing audited: none of the 29 flows was between known roles \($T/empty.lua declares no addresses\)" "roles = {}: the warning"
[ "$(q "$T/n3.db" "select count(*) from run_roles")" = 0 ] && ok || bad "roles = {}: no run_roles rows"
printf 'return { name = "elsewhere", roles = { front_end = { "10.99.0.1" }, edge_av = { "10.99.0.2", "10.98.0.0/16" } } }\n' >"$T/else.lua"
expect_rc 3 "a topology whose addresses match no packet" "$LA" -d "$T/n4.db" -t "$T/else.lua" "$SAMPLE"
expect_err "between known roles \($T/else.lua: none of its roles' addresses seen\)" "addresses match nothing: the warning"
[ "$(q "$T/n4.db" "select group_concat(role || '=' || addresses || ':' || flows, ' ') from (select * from run_roles order by role)")" = \
  "edge_av=10.99.0.2,10.98.0.0/16:0 front_end=10.99.0.1:0" ] && ok || bad "run_roles: $(q "$T/n4.db" "select * from run_roles")"
[ "$(q "$T/n4.db" "select count(*) from unseen_roles where run_id = 1")" = 2 ] && ok || bad "unseen_roles lists both"
if command -v jq >/dev/null; then
    expect_rc 3 "--json, nothing audited" "$LA" --json -q -d "$T/n5.db" -t "$T/else.lua" "$SAMPLE"
    [ "$(jq -c '[.exit_code, .flows_audited, .flows_unconfirmed, .roles_declared, .roles_unseen]' "$T/out")" = '[3,0,0,2,["front_end","edge_av"]]' ] && ok ||
        bad "--json nothing audited: $(jq -c '[.exit_code, .flows_audited, .flows_unconfirmed, .roles_declared, .roles_unseen]' "$T/out")"
fi
# The sample: every declared role seen, 3 flows allowed by port alone (random
# bytes from the A/V Edge to a client's UDP 3478, no STUN recognised).
expect_rc 1 "the sample" "$LA" -d "$T/s.db" -t "$STOPO" "$SAMPLE"
grep -q "never seen\|nothing audited" "$T/err" && bad "the sample: a coverage warning: $(cat "$T/err")" || ok
grep -q "^audited: 29 flows between known roles; 3 of them allowed by port alone" "$T/out" && ok || bad "the summary's audited line: $(grep audited "$T/out")"
[ "$(q "$T/s.db" "select count(*) || '|' || sum(flows = 0) from run_roles")" = "13|0" ] && ok || bad "the sample's run_roles: $(q "$T/s.db" "select * from run_roles")"
[ "$(q "$T/s.db" "select flows_audited || '|' || flows_unconfirmed from runs")" = "29|3" ] && ok || bad "the sample: runs counts $(q "$T/s.db" "select flows_audited, flows_unconfirmed from runs")"
[ "$(q "$T/s.db" "select id || '|' || matched || '|' || unconfirmed from rules where unconfirmed > 0")" = "av-edge.dst.udp3478-out|3|3" ] && ok ||
    bad "rules.unconfirmed: $(q "$T/s.db" "select id, matched, unconfirmed from rules where unconfirmed > 0")"
[ "$(q "$T/s.db" "select count(*) from flows where rule_id = 'av-edge.dst.udp3478-out' and app = 'unknown' and verdict = 'ok'")" = 3 ] && ok || bad "the 3 flows are ok by port"
# Some declared roles not seen: the Mediation Server and the PSTN gateway left out.
expect_rc 1 "mediation left out" "$LA" -d "$T/s2.db" -t "$STOPO" "$SAMPLE" not host 127.20.4.10
expect_err "^lyncaudit: declared roles never seen \(no flow to or from their addresses\): mediation, pstn_gateway$" "roles never seen: the warning"
grep -q "^roles never seen: mediation, pstn_gateway$" "$T/out" && ok || bad "the summary names the roles never seen: $(cat "$T/out")"
[ "$(q "$T/s2.db" "select group_concat(role, ' ') from (select role from unseen_roles order by role)")" = "mediation pstn_gateway" ] && ok || bad "unseen_roles: $(q "$T/s2.db" "select * from unseen_roles")"
# unconfirmed = "finding": those 3 flows are unconfirmed_protocol violations, nothing else changes.
sed 's/^  options = {$/  options = {\n    unconfirmed = "finding",/' "$STOPO" >"$T/strict.lua"
expect_rc 1 "unconfirmed = finding" "$LA" -q -d "$T/strict.db" -t "$T/strict.lua" "$SAMPLE"
[ "$(q "$T/strict.db" "select count(*) from violations where kind = 'unconfirmed_protocol' and severity = 'low' and rule_id = 'av-edge.dst.udp3478-out' and message like '%allowed by its port alone%'")" = 3 ] && ok ||
    bad "unconfirmed_protocol: $(q "$T/strict.db" "select kind, rule_id, message from violations where kind = 'unconfirmed_protocol'")"
[ "$(q "$T/strict.db" "attach '$T/s.db' as o; select count(*) from (select src_port, dst_port, kind, v.rule_id, message from violations v join flows f on f.id = flow_id where kind <> 'unconfirmed_protocol' except select src_port, dst_port, kind, w.rule_id, message from o.violations w join o.flows g on g.id = flow_id)")" = 0 ] &&
    [ "$(q "$T/strict.db" "select violations - 3 from runs")" = "$(q "$T/s.db" "select violations from runs")" ] && ok || bad "unconfirmed = finding changed other verdicts"
[ "$(q "$T/strict.db" "select flows_unconfirmed from runs")" = 3 ] && ok || bad "unconfirmed = finding: still counted"
if command -v editcap >/dev/null; then
    # -s 96: the cleartext HTTP to 4443 becomes unknown, ok under the HTTPS rule by port alone
    editcap -F pcap -s 96 "$SAMPLE" "$T/s96.pcap"
    expect_rc 1 "snapshot length 96" "$LA" -d "$T/s96.db" -t "$STOPO" "$T/s96.pcap"
    expect_err "^lyncaudit: $T/s96.pcap: snapshot length 96 is below 512 bytes: payloads are cut" "snapshot length 96: the warning"
    [ "$(q "$T/s96.db" "select app || '|' || verdict || '|' || rule_id from flows where dst_port = 4443")" = "unknown|ok|srv.fe.web-https-4443" ] && ok ||
        bad "-s 96: the HTTP to 4443 $(q "$T/s96.db" "select app, verdict, rule_id from flows where dst_port = 4443")"
    [ "$(q "$T/s96.db" "select flows_unconfirmed > 3 from runs")" = 1 ] && [ "$(q "$T/s96.db" "select unconfirmed from rules where id = 'srv.fe.web-https-4443'")" = 1 ] && ok ||
        bad "-s 96: counted $(q "$T/s96.db" "select flows_unconfirmed from runs")"
    expect_rc 1 "snapshot length 96, unconfirmed = finding" "$LA" -q -d "$T/s96s.db" -t "$T/strict.lua" "$T/s96.pcap"
    [ ! -s "$T/err" ] && ok || bad "-q: no warning: $(cat "$T/err")"
    [ "$(q "$T/s96s.db" "select kind || '|' || v.rule_id from violations v join flows f on f.id = flow_id where dst_port = 4443")" = "unconfirmed_protocol|srv.fe.web-https-4443" ] && ok ||
        bad "-s 96 with unconfirmed = finding: the HTTP to 4443 $(q "$T/s96s.db" "select kind, v.rule_id from violations v join flows f on f.id = flow_id where dst_port = 4443")"
    # pcapng written by editcap keeps the original snapshot length in its header: said at the end
    editcap -s 96 "$SAMPLE" "$T/s96.pcapng"
    expect_rc 1 "pcapng cut to 96" "$LA" -d "$T/s96n.db" -t "$STOPO" "$T/s96.pcapng"
    expect_err "^lyncaudit: [0-9]+ packets were cut to 96 bytes or less, below 512" "pcapng cut to 96: the warning"
    expect_rc 1 "snapshot length 512: no warning" sh -c 'editcap -F pcap -s 512 "$1" "$2" && exec "$0" -d "$3" -t "$4" "$2"' "$LA" "$SAMPLE" "$T/s512.pcap" "$T/s512.db" "$STOPO"
    grep -q "snapshot\|were cut" "$T/err" && bad "512: a warning: $(cat "$T/err")" || ok
else
    echo "SKIP: snapshot length checks need editcap"
fi

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
