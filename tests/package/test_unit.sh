#!/usr/bin/env bash
# The systemd unit lyncaudit@.service (issue 14), checked offline (no
# systemd runs here; systemd-analyze loads the unit as the manager would):
#   1  `systemd-analyze verify` has nothing to say about it: every directive
#      known, ExecStart's binary executable, Documentation= (man:lyncaudit(1))
#      found by man. The unit's ExecStart names the installed binary
#      (PREFIX/bin/lyncaudit); here that path is replaced by the build's
#      binary, and only that (tests/package/test_deb.sh verifies the
#      installed unit unchanged);
#   2  the same check fails on the unit with an unknown directive, with the
#      man page missing, and with a binary that is not there (so 1 means
#      something);
#   3  what the unit does: -i %I, -Z lyncaudit, the database in
#      /var/lib/lyncaudit (StateDirectory), reload by SIGHUP, exit 1 a success,
#      the capability bounding set exactly CAP_NET_RAW CAP_NET_ADMIN
#      CAP_SETUID CAP_SETGID, NoNewPrivileges, ProtectSystem=strict, as
#      systemd reads them (systemd-analyze dump of the loaded unit);
#   4  `systemd-analyze security` rates its exposure at most 2.5 (2.3 when
#      this test was written; 9.6 is a unit with no hardening).
# Usage: test_unit.sh UNIT LYNCAUDIT MANPAGE
# Exit: 0 passed, 1 a check failed, 77 skipped (systemd-analyze missing).
set -u
UNIT="$(realpath "$1")"
LA="$(realpath "$2")"
MAN="$(realpath "$3")"
command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze missing (Debian package systemd)"; exit 77; }
command -v man >/dev/null || { echo "SKIP: man missing (man-db)"; exit 77; }

W="$(mktemp -d /tmp/lyncaudit-unit.XXXXXX)"
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/man/man1" "$W/units"
ln -s "$MAN" "$W/man/man1/lyncaudit.1"
export MANPATH="$W/man"
export SYSTEMD_LOG_LEVEL=info  # warnings and notices, not the debug chatter
export SYSTEMD_LOG_COLOR=0

fail=0
pass=0
ok() { pass=$((pass + 1)); echo "PASS: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

installed_bin="$(sed -n 's/^ExecStart=\([^ ]*\) .*/\1/p' "$UNIT")"
case "$installed_bin" in
    /*/bin/lyncaudit) ok "ExecStart runs $installed_bin" ;;
    *) bad "ExecStart: '$installed_bin' is not PREFIX/bin/lyncaudit" ;;
esac
# The unit under test: the same file with the one path replaced.
U="$W/units/lyncaudit@.service"
sed "s|^ExecStart=$installed_bin |ExecStart=$LA |" "$UNIT" >"$U"
[ "$(diff "$UNIT" "$U" | grep -c '^>')" = 1 ] || bad "replacing ExecStart's binary changed $(diff "$UNIT" "$U" | grep -c '^>') lines, not 1"

verify() { # unit file -> prints what systemd-analyze said, returns its status
    (cd "$W/units" && systemd-analyze verify "$1" 2>&1)
}

# 1
out="$(verify "$U")"
rc=$?
if [ $rc -eq 0 ] && [ -z "$out" ]; then ok "systemd-analyze verify: silent, exit 0"; else bad "systemd-analyze verify: exit $rc: $out"; fi
cp "$U" "$W/units/lyncaudit@eth0.service"
out="$(verify "$W/units/lyncaudit@eth0.service")"
rc=$?
if [ $rc -eq 0 ] && [ -z "$out" ]; then ok "systemd-analyze verify lyncaudit@eth0.service: silent"; else bad "verify lyncaudit@eth0.service: exit $rc: $out"; fi
rm "$W/units/lyncaudit@eth0.service"

# 2
B="$W/units/bad"
mkdir -p "$B"
sed 's/^NoNewPrivileges=yes/NoNewPrivileges=yes\nNoNewPrivilege=yes/' "$U" >"$B/lyncaudit@.service"
out="$(verify "$B/lyncaudit@.service")"
grep -q "Unknown key 'NoNewPrivilege'" <<<"$out" && ok "an unknown directive is reported" || bad "a misspelt directive went unreported: $out"
sed "s|^ExecStart=$LA |ExecStart=$W/nothing/lyncaudit |" "$U" >"$B/lyncaudit@.service"
out="$(verify "$B/lyncaudit@.service")"
rc=$?
[ $rc -ne 0 ] && grep -q "not executable" <<<"$out" && ok "a missing binary fails verify" || bad "a missing binary: exit $rc: $out"
out="$(MANPATH="$W/nothing" verify "$U")"
rc=$?
[ $rc -ne 0 ] && grep -q "man lyncaudit(1)" <<<"$out" && ok "a missing man page fails verify" || bad "a missing man page: exit $rc: $out"

# 3: the unit as systemd reads it, not as grep reads it.
# (At log level debug, verify prints the loaded unit on stdout.)
dump="$(cd "$W/units" && SYSTEMD_LOG_LEVEL=debug systemd-analyze verify "$U" 2>/dev/null)"
field() { sed -n "s/^[[:space:]]*$1: //p" <<<"$dump" | head -1; }
want() { # name got want
    if [ "$2" = "$3" ]; then ok "$1 = $2"; else bad "$1: got '$2', want '$3'"; fi
}
want "ExecStart" "$(sed -n '/-> ExecStart:/{n;s/^[[:space:]]*Command Line: //p}' <<<"$dump")" \
    "$LA -i i -Z lyncaudit -d /var/lib/lyncaudit/i.db -t $(sed -n 's/.* -t \([^ ]*\) .*/\1/p' "$UNIT") \"\\\$LYNCAUDIT_OPTS\""
want "ExecReload" "$(sed -n '/-> ExecReload:/{n;s/^[[:space:]]*Command Line: //p}' <<<"$dump")" '/bin/kill -HUP "\$MAINPID"'
want "CapabilityBoundingSet" "$(field CapabilityBoundingSet | tr ' ' '\n' | sort | tr '\n' ' ')" "cap_net_admin cap_net_raw cap_setgid cap_setuid "
want "StateDirectory" "$(field StateDirectory)" "lyncaudit"
want "ProtectSystem" "$(field ProtectSystem)" "strict"
want "ProtectHome" "$(field ProtectHome)" "yes"
want "PrivateTmp" "$(field PrivateTmp)" "yes"
want "ProcSubset" "$(field ProcSubset)" "pid"
want "UMask" "$(field UMask)" "0077"
# (the dump does not show NoNewPrivileges=)
grep -q '^NoNewPrivileges=yes$' "$UNIT" && ok "NoNewPrivileges=yes" || bad "NoNewPrivileges=yes missing"
want "DynamicUser" "$(field DynamicUser)" "no"
grep -q '^SuccessExitStatus=1 3$' "$UNIT" && ok "SuccessExitStatus=1 3 (violations found, nothing audited: no failure)" || bad "SuccessExitStatus=1 3 missing"
grep -q '^User=' "$UNIT" && bad "User= set: the capture needs root at start (-Z drops it)" || ok "no User=: starts as root, -Z lyncaudit drops it"

# 4
sec="$(cd "$W/units" && systemd-analyze security --offline=true "$U" 2>&1)"
rc=$?
level="$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$sec")"
if [ $rc -eq 0 ] && [ -n "$level" ] && awk -v l="$level" 'BEGIN { exit !(l <= 2.5) }'; then
    ok "exposure level $level (at most 2.5)"
else
    bad "systemd-analyze security: exit $rc, level '$level' (at most 2.5 wanted): $(grep '✗' <<<"$sec")"
fi

echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
