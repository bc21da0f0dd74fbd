# tests/eve/lib.sh: the EVE stream against the database, sourced by the
# tests in this folder. Needs jq and sqlite3; run lyncaudit with TZ=UTC so
# that event times read as the database's (...Z).
#
# eve_flows EVE RUN / db_flows DB RUN: one line per flow, sorted: flow_id,
# the tuple, transport, packets and bytes per direction, first and last
# seen, label, roles, verdict, rule, end reason, IP version.
# eve_alerts EVE RUN / db_alerts DB RUN: one line per violation, sorted:
# flow_id, kind, rule, severity, message, reference (and the alert's own
# signature, category and numeric severity agree with them).
# eve_runs EVE RUN / db_run DB RUN: the run's start and end as the stream
# and the runs table say them.

# jq reads the file line by line (-c per input: a line that is not one JSON
# object fails the whole call).
eve_lines() { jq -c . "$1"; }

eve_flows() {
    jq -r --argjson run "$2" 'select(.event_type == "flow" and .lync.run_id == $run) |
        [.flow_id, .src_ip, .src_port, .dest_ip, .dest_port,
         (if .proto == "IPv6-ICMP" then "icmp6" elif (.proto | test("^[0-9]+$")) then "ip-" + .proto
          else (.proto | ascii_downcase) end),
         .flow.pkts_toserver, .flow.pkts_toclient, .flow.bytes_toserver, .flow.bytes_toclient,
         (.flow.start | sub("\\+00:00$"; "Z")), (.flow.end | sub("\\+00:00$"; "Z")),
         .app_proto, .lync.src_role, .lync.dest_role, .lync.verdict, (.lync.rule_id // "-"),
         .lync.end_reason, .ip_v] | @tsv' "$1" | sort
}

db_flows() {
    sqlite3 -separator $'\t' "$1" "SELECT id, src_ip, src_port, dst_ip, dst_port, transport,
        packets_src2dst, packets_dst2src, bytes_src2dst, bytes_dst2src, first_seen, last_seen,
        app, src_role, dst_role, verdict, coalesce(rule_id, '-'), end_reason, ip_version
        FROM flows WHERE run_id = $2" | sort
}

eve_alerts() {
    jq -r --argjson run "$2" 'select(.event_type == "alert" and .lync.run_id == $run) |
        if .alert.category == .lync.kind and
           .alert.severity == ({"high": 1, "medium": 2}[.lync.severity] // 3) and .alert.action == "allowed"
        then [.flow_id, .lync.kind, (.lync.rule_id // "-"), .lync.severity, .alert.signature,
              (.lync.reference // "-")] | @tsv
        else "alert fields disagree: \(.)" end' "$1" | sort
}

db_alerts() {
    sqlite3 -separator $'\t' "$1" "SELECT flow_id, kind, coalesce(rule_id, '-'), severity, message,
        coalesce(reference, '-') FROM violations WHERE run_id = $2" | sort
}

# "start|sources|topology|rules" and "end|status|message|packets|flows|violations"
eve_runs() {
    jq -r --argjson run "$2" 'select(.event_type == "run" and .lync.run_id == $run) | .run |
        if .event == "start" then [.event, (.sources | join(" ")), (.topology // "-"), .rules_loaded]
        else [.event, .status, (.message // "-"), .packets, .flows, .violations] end | map(tostring) | join("|")' "$1"
}

db_run() {
    sqlite3 "$1" "SELECT 'start', sources, coalesce(topology, '-'), rules_loaded FROM runs WHERE id = $2;
                  SELECT 'end', status, coalesce(message, '-'), packets, flows, violations FROM runs WHERE id = $2"
}

# same WHAT A B: passes when the two sorted lists are equal and not empty
# (a diff of the first lines that differ otherwise).
same() {
    if [ -n "$2" ] && [ "$2" = "$3" ]; then
        ok "$1 ($(printf '%s\n' "$2" | wc -l) lines)"
    else
        bad "$1: $(diff <(printf '%s\n' "$2") <(printf '%s\n' "$3") | head -n 6 | tr '\n' ' ')"
    fi
}
