#!/usr/bin/env bash
# The event stream of a live capture with real peers on loopback (issue 14,
# "must show").
#
# lyncaudit captures on `lo` with --eve, --syslog and --stats 1 while
# openssl, sipp and coturn talk on the test's own 127.24.x.y addresses (roles
# from a topology), then SIGINT. Then:
#   1  jq reads the EVE file line by line: each line is one JSON object
#   2  its alert events equal the database's violations, its flow events the
#      flows, its run events the runs row; alerts and flows are there
#   3  the syslog listener (LYNCAUDIT_SYSLOG_SOCKET) got the same alerts
#   4  events appear while the capture runs (idle timeout 2 s + the 2 s
#      commit), and stats events with the kernel's counts
#   5  the expected verdicts: TLS to the Front End ok, cleartext SIP a
#      violation, TURN to the A/V Edge ok
#
# Usage: test_eve_live.sh LYNCAUDIT
# Exit: 0 passed, 1 a check failed, 77 skipped (not root, or a tool missing).
set -u
[ $# -ge 1 ] || { echo "usage: $0 LYNCAUDIT" >&2; exit 2; }
LA="$(realpath "$1")"
HERE="$(cd "$(dirname "$0")" && pwd)"
if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: live capture on lo needs root"
    exit 77
fi
for t in sipp openssl turnserver turnutils_uclient turnutils_peer jq sqlite3 python3 ss timeout; do
    command -v "$t" >/dev/null || { echo "SKIP: $t missing (scripts/install-deps.sh all)"; exit 77; }
done

W="$(mktemp -d /tmp/lyncaudit-evelive.XXXXXX)"
chmod 755 "$W"
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    if [ "${KEEP:-0}" = 1 ]; then echo "work folder kept: $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "PASS: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
eq() { if [ "$2" = "$3" ]; then ok "$1 ($2)"; else bad "$1: got '$2', wanted '$3'"; fi; }
q() { sqlite3 -batch -noheader "$1" "$2" 2>&1; }
. "$HERE/lib.sh"
export TZ=UTC

# bg NAME CMD...: CMD in the background, output in $W/NAME.log, PID in $LAST.
bg() {
    local name=$1
    shift
    "$@" >"$W/$name.log" 2>&1 &
    LAST=$!
    PIDS+=("$LAST")
}
stop() {
    local p
    for p in "$@"; do kill "$p" 2>/dev/null; done
    for p in "$@"; do wait "$p" 2>/dev/null; done
}
# wait_exit PID SECONDS: RC = its exit code, or 124 (killed) when it did not end.
wait_exit() {
    local p=$1 i
    for ((i = 0; i < $2 * 20; i++)); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$p" 2>/dev/null; then
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
        RC=124
    else
        wait "$p"
        RC=$?
    fi
}
wait_listen() { # tcp|udp ADDR PORT
    local flag=t i
    [ "$1" = udp ] && flag=u
    for ((i = 0; i < 50; i++)); do
        [ -n "$(ss -Hln$flag "src $2:$3" 2>/dev/null)" ] && return 0
        sleep 0.1
    done
    echo "nothing listens on $1 $2:$3" >&2
    return 1
}
wait_for() { # SECONDS COMMAND...
    local n=$(($1 * 10)) i
    shift
    for ((i = 0; i < n; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

TOPO="$W/topology.lua"
cat >"$TOPO" <<'EOF'
-- tests/eve live: every host is its own 127.24.x.y address.
return {
  name = "eve-live-test",
  roles = {
    front_end       = { "127.24.1.10", "127.24.1.11" },
    edge_av         = { "127.24.3.10" },
    client_internal = { "127.24.10.0/24" },
    client_external = { "127.24.20.0/24" },
  },
  options = { sip_tcp_5060 = false, port_policy = "destination" },
}
EOF
chmod 644 "$TOPO"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=sip.contoso.local" -keyout "$W/fe.key" -out "$W/fe.crt" 2>"$W/pki.log" ||
    { echo "FAIL: cannot make a certificate: $(cat "$W/pki.log")"; exit 1; }

python3 "$HERE/syslog_listen.py" "$W/log.sock" "$W/syslog.out" 120 &
LISTENER=$!
PIDS+=("$LISTENER")
wait_for 5 test -S "$W/log.sock" || { echo "FAIL: the syslog listener did not start"; exit 1; }

DB="$W/live.db"
EVE="$W/eve.json"
LYNCAUDIT_SYSLOG_SOCKET="$W/log.sock" "$LA" -q -i lo -t "$TOPO" -d "$DB" --eve "$EVE" --syslog --stats 1 \
    --idle-timeout 2 'net 127.24.0.0/16' >"$W/la.out" 2>"$W/la.err" &
LAPID=$!
PIDS+=("$LAPID")
run_started() { [ -s "$EVE" ] && grep -q '"event":"start"' "$EVE"; }
wait_for 10 run_started || bad "no run start event within 10 s: $(head -c 300 "$W/la.err")"

# TLS client_internal -> front_end:5061 (openssl s_server / s_client): ok.
bg tls-server openssl s_server -accept 127.24.1.10:5061 -cert "$W/fe.crt" -key "$W/fe.key" -naccept 1 -rev -quiet -tls1_2
tls_srv=$LAST
wait_listen tcp 127.24.1.10 5061
{ printf 'OPTIONS sip:sip.contoso.local SIP/2.0\r\n\r\n'; sleep 0.3; } |
    timeout 10 openssl s_client -connect 127.24.1.10:5061 -bind 127.24.10.13:0 -servername sip.contoso.local \
        -quiet -no_ign_eof >"$W/tls-client.log" 2>&1 || bad "s_client failed: $(tail -n 3 "$W/tls-client.log")"
stop "$tls_srv"

# One SIP call, sipp uac -> sipp uas: NAME t1|u1 CLIENT SERVER PORT.
sip_call() {
    local uas
    bg "$1-uas" sipp -sn uas -t "$2" -i "$4" -p "$5" -m 1 -nostdin -max_socket 100
    uas=$LAST
    wait_listen "$([ "$2" = u1 ] && echo udp || echo tcp)" "$4" "$5"
    timeout 10 sipp -sn uac -t "$2" -i "$3" "$4:$5" -m 1 -nostdin -max_socket 100 >"$W/$1-uac.log" 2>&1 ||
        bad "$1: sipp uac failed"
    wait_exit "$uas" 5
}
sip_call sip-tcp-5060 t1 127.24.10.12 127.24.1.10 5060 # cleartext SIP over TCP: a violation
sip_call sip-udp-5060 u1 127.24.10.11 127.24.1.11 5060 # SIP over UDP: a violation

# 4: events while the capture runs: the idle timeout (2 s) ends the UDP
# call's flow, the next commit (2 s) writes it and its alert.
alert_seen() { grep -q '"event_type":"alert"' "$EVE"; }
if wait_for 8 alert_seen; then ok "4: an alert event while the capture runs"; else bad "4: no alert event within 8 s"; fi
check_db_has_it() { [ "$(q "$DB" "SELECT count(*) > 0 FROM violations")" = 1 ]; }
if check_db_has_it; then ok "4: ... and the database has its violation"; else bad "4: an alert before its violation row"; fi

# TURN over UDP client_external -> edge_av:3478, relayed to a peer: ok.
bg turnserver turnserver -n --realm contoso.com --lt-cred-mech --user alice:lync2013 --no-tls --no-dtls \
    --no-cli --allow-loopback-peers --listening-ip 127.24.3.10 --relay-ip 127.24.3.10 --simple-log \
    --no-stdout-log --listening-port 3478 --min-port 50000 --max-port 50019 \
    --userdb "$W/turndb" --pidfile "$W/turn.pid" --log-file "$W/turnserver.txt"
turn=$LAST
bg turn-peer turnutils_peer -L 127.24.20.20 -p 3478
peer=$LAST
wait_listen udp 127.24.3.10 3478 && wait_listen udp 127.24.20.20 3478
timeout 20 turnutils_uclient -L 127.24.20.10 -u alice -w lync2013 -e 127.24.20.20 -r 3478 \
    -n 5 -m 1 -l 160 -c 127.24.3.10 >"$W/turn-client.log" 2>&1 || bad "turnutils_uclient failed"
stop "$turn" "$peer"
sleep 1.2 # one more --stats line

kill -INT "$LAPID"
wait_exit "$LAPID" 15
la_rc=$RC
sleep 0.3
stop "$LISTENER"

eq "the run: exit 1 (violations), closed after SIGINT" "$la_rc|$(q "$DB" "SELECT status FROM runs")" "1|interrupted"

# 1: line by line, each line one JSON object
nl=0
badl=0
while IFS= read -r line; do
    nl=$((nl + 1))
    jq -e 'type == "object"' <<<"$line" >/dev/null 2>&1 || badl=$((badl + 1))
done <"$EVE"
eq "1: jq reads each of the $nl lines as one object" "$badl" 0

# 2: the stream and the database
same "2: flow events = the flows rows" "$(eve_flows "$EVE" 1)" "$(db_flows "$DB" 1)"
same "2: alert events = the violations rows" "$(eve_alerts "$EVE" 1)" "$(db_alerts "$DB" 1)"
eq "2: run events = the runs row" "$(eve_runs "$EVE" 1 | tr '\n' ';')" "$(db_run "$DB" 1 | tr '\n' ';')"
eq "2: the run's counters in its end event" \
    "$(jq -r 'select(.run.event == "end") | [.run.pcap_received, .run.pcap_dropped] | map(tostring) | join("|")' "$EVE")" \
    "$(q "$DB" "SELECT pcap_received, pcap_dropped FROM runs")"

# 3: syslog
sed -E 's/^<[0-9]+>1 [^ ]+ [^ ]+ lyncaudit [0-9]+ alert - //' "$W/syslog.out" >"$W/syslog.json"
eq "3: syslog: one RFC 5424 message per violation (facility local5)" \
    "$(grep -cE '^<17[0-9]>1 [0-9T:.+-]+ [!-~]+ lyncaudit [0-9]+ alert - \{' "$W/syslog.out")" \
    "$(q "$DB" "SELECT count(*) FROM violations")"
same "3: syslog alerts = the violations rows" "$(eve_alerts "$W/syslog.json" 1)" "$(db_alerts "$DB" 1)"

# 4: stats events
nstats=$(jq -r 'select(.event_type == "stats" and .stats.capture.kernel_packets > 0) | 1' "$EVE" | wc -l)
[ "$nstats" -ge 3 ] && ok "4: $nstats stats events with the kernel's counts" || bad "4: $nstats stats events"

# 5: the verdicts the events carry
verdict() { # jq filter on flow events -> "app|verdict|alert kinds"
    jq -r "select(.event_type == \"flow\" and ($1)) | .flow_id" "$EVE" | head -n 1 | while read -r id; do
        printf '%s|%s\n' "$(jq -r --argjson id "$id" 'select(.event_type == "flow" and .flow_id == $id) |
            "\(.app_proto)|\(.lync.verdict)"' "$EVE")" \
            "$(jq -r --argjson id "$id" 'select(.event_type == "alert" and .flow_id == $id) | .alert.category' "$EVE" |
                sort | paste -sd, -)"
    done
}
eq "5: TLS client_internal -> front_end:5061" "$(verdict '.dest_ip == "127.24.1.10" and .dest_port == 5061')" "sip_tls|ok|"
eq "5: cleartext SIP/TCP -> front_end:5060" \
    "$(verdict '.proto == "TCP" and .dest_ip == "127.24.1.10" and .dest_port == 5060')" "sip|violation|no_rule"
eq "5: SIP/UDP -> front_end:5060" "$(verdict '.proto == "UDP" and .dest_ip == "127.24.1.11" and .dest_port == 5060')" \
    "sip|violation|no_rule"
eq "5: TURN client_external -> edge_av:3478" \
    "$(verdict '.src_ip == "127.24.20.10" and .dest_ip == "127.24.3.10" and .dest_port == 3478')" "stun|ok|"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
