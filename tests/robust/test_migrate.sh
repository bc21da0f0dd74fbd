#!/usr/bin/env bash
# A database of the last released schema (2: tests/robust/schema2-sample.sql,
# written by lyncaudit as it landed) is upgraded in place by the next run:
# the schema version becomes the current one, the old run and its rows stay
# as they were, the new columns have their defaults, the views work (the
# violation report with its severity_rank), and the new run is written
# beside the old one.
# Usage: test_migrate.sh LYNCAUDIT PCAP_DIR
set -u
LA="$(realpath "$1")"
P="$(realpath "$2")"
HERE="$(cd "$(dirname "$0")" && pwd)"
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
eq() { if [ "$2" = "$3" ]; then ok; else bad "$1: got '$2', wanted '$3'"; fi; }
q() { sqlite3 "$T/old.db" "$1"; }

sqlite3 "$T/old.db" <"$HERE/schema2-sample.sql" || { echo "FAIL: cannot restore the schema 2 database"; exit 1; }
eq "fixture: schema 2" "$(q "pragma user_version")" 2
before="$(q "select id, status, packets, flows, violations from runs; select count(*), sum(packets_src2dst) from flows;
            select kind, count(*) from violations group by kind order by kind; select sum(matched) from rules;
            select sum(flows) from role_stats")"
"$LA" -q -d "$T/old.db" "$P/nDPI/sip.pcap" >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" -eq 3 ] && ok || bad "run on the schema 2 database: exit $rc (wanted 3: no topology, nothing audited): $(head -c 300 "$T/err")"
"$LA" -q -d "$T/new.db" "$P/nDPI/sip.pcap" >/dev/null 2>&1 # a database made new, to compare with
eq "upgraded to the current schema" "$(q "pragma user_version")" "$(sqlite3 "$T/new.db" "pragma user_version")"
after="$(q "select id, status, packets, flows, violations from runs where id = 1; select count(*), sum(packets_src2dst) from flows where run_id = 1;
           select kind, count(*) from violations where run_id = 1 group by kind order by kind; select sum(matched) from rules where run_id = 1;
           select sum(flows) from role_stats where run_id = 1")"
eq "the old run's rows unchanged" "$after" "$before"
eq "two runs now" "$(q "select count(*) from runs")" 2
for t in runs flows violations rules role_stats run_roles run_sources documents exceptions; do
    eq "the same columns as a new database: $t" \
        "$(q "select group_concat(name) from (select name from pragma_table_xinfo('$t') order by name)")" \
        "$(sqlite3 "$T/new.db" "select group_concat(name) from (select name from pragma_table_xinfo('$t') order by name)")"
done
eq "the old run's new counters are 0" "$(q "select not_ip + truncated + malformed + flows_dropped from runs where id = 1")" 0
eq "violation_report has severity_rank for the old run" \
    "$(q "select count(*) from violation_report where run_id = 1 and severity_rank between 1 and 3")" \
    "$(q "select count(*) from violations where run_id = 1")"
# Version 4 to 5 (MIGRATE_4_5): the counts no older run kept are NULL, not
# 0 (0 audited would say the run audited nothing); the new run has them.
eq "the old run's audited and port-only counts are unknown" \
    "$(q "select count(*) from runs where id = 1 and flows_audited is null and flows_unconfirmed is null")" 1
eq "the old run's rules have no port-only count" "$(q "select count(*) from rules where run_id = 1 and unconfirmed is not null")" 0
eq "the new run's counts" "$(q "select flows_audited || '|' || flows_unconfirmed || '|' || (flows > 0) from runs where id = 2")" "0|0|1"
eq "the new run's rules count" "$(q "select count(*) from rules where run_id = 2 and unconfirmed = 0")" "$(q "select count(*) from rules where run_id = 2")"
eq "run_roles and unseen_roles work" "$(q "select count(*) from run_roles; select count(*) from unseen_roles")" "0
0"
eq "schema 5: the new run's provenance (inputs, articles) in the upgraded file" \
    "$(q "select count(*) from run_sources where run_id = 2 and length(sha256) = 64; select count(*) from documents where run_id = 2")" \
    "$(printf '1\n5')"
eq "schema 5: the old run has none (NULL hashes, no rows)" \
    "$(q "select coalesce(rules_sha256, 'null') from runs where id = 1; select count(*) from run_sources where run_id = 1")" \
    "$(printf 'null\n0')"
eq "integrity" "$(q "pragma integrity_check")" ok

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
