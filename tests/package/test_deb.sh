#!/usr/bin/env bash
# The Debian package on this machine (issue 14): built from the tree with
# cpack -G DEB, installed with `apt-get install ./lyncaudit_*.deb`, used,
# removed with `dpkg -r`, and purged. The machine is left as it was, also
# when a check fails (the EXIT trap), and after a run that was killed (a
# marker file says what that run changed; the next run undoes it).
#
#   1  the package: Depends names the Debian package of every shared library
#      the binary links (dpkg-shlibdeps) and adduser; conffiles is
#      /etc/lyncaudit/topology.lua; the maintainer scripts are there
#   2  installed: the files at their FHS places; the system user lyncaudit
#      (postinst); `lyncaudit -V` says what the build's binary says
#   3  /usr/bin/lyncaudit audits samples/lync-sample.pcap with no -t from a
#      folder with no topology.lua: the topology is /etc/lyncaudit/topology.lua
#      (the example conffile), and flows, violations and their kinds equal the
#      build's run with samples/topology.lua and the source rules; a
#      ./topology.lua comes before it
#   4  the installed unit: `systemd-analyze verify` silent (binary and man
#      page installed); its ExecStart run as systemd would start it (root
#      limited to the unit's CapabilityBoundingSet, no new privileges, umask
#      0077, /var/lib/lyncaudit as StateDirectory makes it) on lo: it becomes
#      lyncaudit, reloads on SIGHUP, writes the packets the test sends; the
#      sockets it opens are within RestrictAddressFamilies and it opens no
#      /proc file outside its own (ProcSubset=pid)
#   5  bash finds the completion (bash-completion's loader) and man the pages
#   6  dpkg -r leaves nothing of the package but its conffile (every path of
#      `dpkg -L`, and every *lyncaudit* name under /usr /etc /var, against
#      before the install); the user stays; dpkg -P keeps an audit database
#      in /var/lib/lyncaudit and removes /etc/lyncaudit
#
# Usage: test_deb.sh SOURCE_DIR WORK_DIR BUILD_LYNCAUDIT CMAKE CPACK
# Exit: 0 passed, 1 a check failed, 77 skipped (not root, a tool missing, or
# a lyncaudit package or user on this machine that this test did not make).
set -u
[ $# -eq 5 ] || { echo "usage: $0 SOURCE_DIR WORK_DIR BUILD_LYNCAUDIT CMAKE CPACK" >&2; exit 2; }
SRC="$(realpath "$1")"
WORK="$2"
BUILD_LA="$(realpath "$3")"
CMAKE="$4"
CPACK="$5"

[ "$(id -u)" -eq 0 ] || { echo "SKIP: installing a package needs root"; exit 77; }
for t in apt-get dpkg dpkg-deb dpkg-shlibdeps objdump sqlite3 python3 setpriv strace flock systemd-analyze man; do
    command -v "$t" >/dev/null || { echo "SKIP: $t missing (scripts/install-deps.sh all)"; exit 77; }
done

# One run at a time on this machine (other checkouts run this test too).
LOCK=/run/lock/lyncaudit-package-test.lock
exec 9>"$LOCK"
flock -w 400 9 || { echo "FAIL: another package test held $LOCK for 400 s"; exit 1; }

MARK=/var/lib/lyncaudit-package-test # what this test changed, until it is undone
STATE=/var/lib/lyncaudit
T0=$(date +%s)
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "PASS: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
eq() { # description got want
    if [ "$2" = "$3" ]; then ok "$1 ($2)"; else bad "$1: got '$2', wanted '$3'"; fi
}
q() { sqlite3 -batch -noheader "$1" "$2" 2>&1; }
pkg_status() { dpkg-query -W -f='${db:Status-Abbrev}' lyncaudit 2>/dev/null | tr -d ' '; }
pkg_known() { case "$(pkg_status)" in "" | un | pn) return 1 ;; esac; } # installed, or its conffiles are

# Undoes what the marker says this test did: the package (purged), the user
# and the state folder if this test made them.
undo() {
    [ -d "$MARK" ] || return 0
    if pkg_known; then
        dpkg -P lyncaudit >"$MARK/purge.log" 2>&1 || echo "undo: dpkg -P failed: $(tail -3 "$MARK/purge.log")"
    fi
    if [ -e "$MARK/made-user" ] && getent passwd lyncaudit >/dev/null; then
        userdel lyncaudit 2>/dev/null
        getent group lyncaudit >/dev/null && groupdel lyncaudit 2>/dev/null
    fi
    [ -e "$MARK/made-state" ] && rm -rf "$STATE"
    rm -rf "$MARK"
}

W=""
cleanup() {
    local p
    for p in ${PIDS[@]+"${PIDS[@]}"}; do kill "$p" 2>/dev/null; done
    for p in ${PIDS[@]+"${PIDS[@]}"}; do wait "$p" 2>/dev/null; done
    undo
    [ -n "$W" ] && rm -rf "$W"
}
PIDS=()
trap cleanup EXIT
trap 'exit 130' INT TERM

# A run that was killed left its marker: finish its cleanup first.
if [ -d "$MARK" ]; then
    echo "a killed run of this test left $MARK: undoing it"
    undo
fi
if pkg_known; then
    echo "SKIP: a lyncaudit package is on this machine ($(pkg_status)), not made by this test: not touching it"
    exit 77
fi
for p in "$STATE" /etc/lyncaudit; do
    [ -e "$p" ] && { echo "SKIP: $p exists, not made by this test: not touching it"; exit 77; }
done
if getent passwd lyncaudit >/dev/null; then
    echo "SKIP: a user lyncaudit exists, not made by this test"
    exit 77
fi

W="$(mktemp -d /tmp/lyncaudit-deb.XXXXXX)"
chmod 755 "$W"
# Every *lyncaudit* name the package could leave (dpkg's and apt's own
# records aside), before anything is installed.
names() {
    find /usr /etc /var -xdev \( -path /var/lib/dpkg -o -path /var/cache -o -path /var/log -o -path /var/tmp \
        -o -path "$MARK" \) -prune -o -name '*lyncaudit*' -print 2>/dev/null | sort
}
names >"$W/names.before"

# 1. the package
rm -rf "$WORK"
if ! { "$CMAKE" -S "$SRC" -B "$WORK" -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DBUILD_TESTING=OFF -DLYNCAUDIT_WERROR=ON -DLYNCAUDIT_SANITIZE=OFF &&
    "$CMAKE" --build "$WORK" -j2 --target lyncaudit; } >"$W/build.log" 2>&1; then
    bad "building for the package: $(tail -5 "$W/build.log")"
    exit 1
fi
if ! (cd "$WORK" && "$CPACK" -G DEB) >"$W/cpack.log" 2>&1; then
    bad "cpack -G DEB: $(tail -5 "$W/cpack.log")"
    exit 1
fi
DEB="$(ls "$WORK"/lyncaudit_*.deb 2>/dev/null | head -1)"
[ -f "$DEB" ] || { bad "no lyncaudit_*.deb in $WORK"; exit 1; }
ok "built $(basename "$DEB") ($(stat -c %s "$DEB") bytes) in $(($(date +%s) - T0)) s"
depends="$(dpkg-deb -f "$DEB" Depends)"
echo "Depends: $depends"
grep -qw adduser <<<"$depends" && ok "Depends: adduser" || bad "Depends lacks adduser: $depends"
multiarch="$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)"
for lib in $(objdump -p "$WORK/lyncaudit" | awk '/NEEDED/ {print $2}'); do
    owner="$(dpkg -S "*/$multiarch/$lib" 2>/dev/null | head -1 | cut -d: -f1)"
    if [ -n "$owner" ] && grep -qE "(^|, )$owner( |,|$)" <<<"$depends"; then
        ok "links $lib: Depends on $owner"
    else
        bad "links $lib (package '$owner') but Depends does not name it: $depends"
    fi
done
dpkg-deb -e "$DEB" "$W/control"
eq "conffiles" "$(cat "$W/control/conffiles")" "/etc/lyncaudit/topology.lua"
for s in postinst prerm postrm; do
    [ -x "$W/control/$s" ] && ok "maintainer script $s" || bad "maintainer script $s missing"
done

# The package's paths that are there before it (/usr, /usr/bin ...): they
# stay after dpkg -r; every other one must go.
dpkg-deb -c "$DEB" | awk '{print $6}' | sed 's|^\./|/|; s|/$||' | grep -v '^$' | while read -r f; do
    [ -e "$f" ] && echo "$f"
done | sort >"$W/preexisting"

# 2. installed
mkdir "$MARK"
echo "$DEB" >"$MARK/package"
touch "$MARK/made-user" # no lyncaudit user before (checked above): postinst makes it
cp "$DEB" "$W/"
if ! (cd "$W" && DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 \
    --no-install-recommends "./$(basename "$DEB")") >"$W/install.log" 2>&1; then
    bad "apt-get install ./$(basename "$DEB"): $(tail -5 "$W/install.log")"
    exit 1
fi
eq "dpkg status after apt-get install" "$(pkg_status)" "ii"
dpkg -L lyncaudit | sort >"$W/files"
for f in /usr/bin/lyncaudit /usr/share/lyncaudit/lua/dsl.lua /usr/share/lyncaudit/rules/internal-servers.lua \
    /usr/share/man/man1/lyncaudit.1 /usr/share/man/man1/lyncaudit-topology.1 /usr/share/man/man1/lyncaudit-report.1 \
    /usr/lib/systemd/system/lyncaudit@.service /usr/share/bash-completion/completions/lyncaudit \
    /etc/lyncaudit/topology.lua /usr/share/doc/lyncaudit/copyright /usr/share/doc/lyncaudit/usage.md; do
    if grep -qxF "$f" "$W/files" && [ -f "$f" ]; then ok "installed $f"; else bad "$f: not installed"; fi
done
eq "rule files installed" "$(ls /usr/share/lyncaudit/rules | tr '\n' ' ')" "$(ls "$SRC/rules" | tr '\n' ' ')"
IFS=: read -r _ _ uid gid _ home shell < <(getent passwd lyncaudit)
if [ -n "${uid:-}" ] && [ "$uid" -lt 1000 ] && [ "$shell" = /usr/sbin/nologin ] &&
    [ "$(getent group lyncaudit | cut -d: -f3)" = "$gid" ]; then
    ok "postinst made the system user lyncaudit (uid $uid, group lyncaudit, home $home, shell $shell)"
else
    bad "user lyncaudit: $(getent passwd lyncaudit)"
fi
eq "lyncaudit -V from /usr/bin (as the build's)" "$(/usr/bin/lyncaudit -V | head -n 1)" "$("$BUILD_LA" -V | head -n 1)"
eq "lyncaudit -V from /usr/bin: its libraries, and the installed rule set" "$(/usr/bin/lyncaudit -V | tail -n 1)" \
    "$("$BUILD_LA" -V | tail -n 1 | sed 's|(.*/rules)|(/usr/share/lyncaudit/rules)|')"

# 3. the sample, audited by the installed binary
mkdir "$W/run"
pcap="$SRC/samples/lync-sample.pcap"
(cd "$W/run" && /usr/bin/lyncaudit -d "$W/run/installed.db" "$pcap" >"$W/run/installed.out" 2>"$W/run/installed.err")
eq "exit code of /usr/bin/lyncaudit on the sample (violations)" "$?" "1"
eq "topology found on the search path" "$(q "$W/run/installed.db" "SELECT topology || ' ' || topology_name FROM runs")" \
    "/etc/lyncaudit/topology.lua contoso-sample"
"$BUILD_LA" -q -d "$W/run/build.db" -t "$SRC/samples/topology.lua" "$pcap"
summary="SELECT flows, violations, rules_loaded, status FROM runs"
kinds="SELECT group_concat(kind, ' ') FROM (SELECT DISTINCT kind FROM violations ORDER BY kind)"
eq "installed run = build run (flows|violations|rules|status)" "$(q "$W/run/installed.db" "$summary")" \
    "$(q "$W/run/build.db" "$summary")"
eq "violation kinds" "$(q "$W/run/installed.db" "$kinds")" "ipsec nat no_rule port_range wrong_protocol"
sed 's/name = "contoso-sample"/name = "here"/' "$SRC/samples/topology.lua" >"$W/run/topology.lua"
(cd "$W/run" && /usr/bin/lyncaudit -q -d "$W/run/here.db" "$pcap")
eq "./topology.lua before /etc/lyncaudit/topology.lua" "$(q "$W/run/here.db" "SELECT topology_name FROM runs")" "here"

# 4. the installed unit
UNIT=/usr/lib/systemd/system/lyncaudit@.service
out="$(cd "$W" && SYSTEMD_LOG_LEVEL=info systemd-analyze verify "$UNIT" 2>&1)"
rc=$?
if [ $rc -eq 0 ] && [ -z "$out" ]; then ok "systemd-analyze verify $UNIT: silent"; else bad "verify $UNIT: exit $rc: $out"; fi
unit_value() { sed -n "s/^$1=//p" "$UNIT" | tail -1; }
# systemd's specifiers for the instance lo, and the options a drop-in would add.
exec_line="$(unit_value ExecStart | sed 's/%I/lo/g; s/%i/lo/g')"
read -r -a cmd <<<"$exec_line"
opts=(--duration 4 --immediate net 127.23.0.0/16)
for i in "${!cmd[@]}"; do [ "${cmd[$i]}" = '$LYNCAUDIT_OPTS' ] && unset 'cmd[i]'; done
cmd=("${cmd[@]}" "${opts[@]}")
caps="$(unit_value CapabilityBoundingSet | tr 'A-Z' 'a-z' | sed 's/cap_//g; s/ /,+/g')"
touch "$MARK/made-state"
mkdir -m "$(unit_value StateDirectoryMode)" "$STATE"
echo "service: setpriv --bounding-set -all,+$caps --no-new-privs ${cmd[*]}"
(
    umask "$(unit_value UMask)"
    cd "$STATE" || exit 2
    exec strace -f -qq -o "$W/trace.all" -e trace=execve,socket,open,openat,openat2 \
        setpriv --bounding-set "-all,+$caps" --inh-caps -all --no-new-privs "${cmd[@]}"
) >"$W/service.out" 2>"$W/service.err" &
SVC=$!
PIDS+=("$SVC")
for ((i = 0; i < 100; i++)); do
    grep -q "capturing as user lyncaudit" "$W/service.err" 2>/dev/null && break
    sleep 0.1
done
sleep 0.5
python3 - <<'EOF'
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.23.0.2", 0))
for i in range(20):
    s.sendto(b"OPTIONS sip:probe@127.23.0.1 SIP/2.0\r\n\r\n", ("127.23.0.1", 5060))
    time.sleep(0.01)
EOF
# A reload after the change of user: the topology must still be readable.
# (SVC is strace; its child, setpriv, became lyncaudit.)
svc_pid="$(pgrep -P "$SVC" | head -1)"
[ -n "$svc_pid" ] && [ "$(readlink "/proc/$svc_pid/exe")" = /usr/bin/lyncaudit ] && kill -HUP "$svc_pid"
sleep 1
for ((i = 0; i < 150; i++)); do kill -0 "$SVC" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$SVC" 2>/dev/null; then
    bad "the service's lyncaudit did not end after --duration 4"
    kill "$SVC"
fi
wait "$SVC"
src=$?
{ [ $src -le 1 ] || [ $src -eq 3 ]; } && ok "the service's command ended with $src" || bad "the service's command: exit $src: $(tail -3 "$W/service.err")"
grep -q "capturing as user lyncaudit (uid $uid)" "$W/service.err" && ok "it became lyncaudit (uid $uid)" ||
    bad "no change to lyncaudit: $(head -5 "$W/service.err")"
grep -q "reloaded the topology and rules" "$W/service.err" && ok "SIGHUP as lyncaudit: topology and rules reloaded" ||
    bad "reload (pid '$svc_pid'): $(grep -i reload "$W/service.err")"
db="$STATE/lo.db"
eq "the service's run" "$(q "$db" "SELECT status, packets >= 20, topology FROM runs")" \
    "stopped|1|/etc/lyncaudit/topology.lua"
eq "its database: owner and mode (UMask)" "$(stat -c '%U %a' "$db")" "root 600"
# What lyncaudit did: the trace from its execve on (setpriv's own steps before).
sed -n '/execve("\/usr\/bin\/lyncaudit"/,$p' "$W/trace.all" >"$W/trace"
[ -s "$W/trace" ] || bad "no execve of /usr/bin/lyncaudit in the trace"
families="$(grep -oE 'socket\((AF|PF)_[A-Z0-9]+' "$W/trace" | sed 's/socket(//; s/^PF_/AF_/' | sort -u | tr '\n' ' ')"
allowed=" $(unit_value RestrictAddressFamilies) "
stray=""
for f in $families; do [[ $allowed == *" $f "* ]] || stray+="$f "; done
[ -n "$families" ] && [ -z "$stray" ] && ok "sockets opened: $families(RestrictAddressFamilies:$allowed)" ||
    bad "sockets outside RestrictAddressFamilies: '$stray' (opened: $families)"
proc="$(grep -E 'open(at2?)?\(.*"/proc/' "$W/trace" | grep -v ' = -1 ' | grep -oE '"/proc/[^"]*"' |
    grep -vE '"/proc/(self|thread-self|[0-9]+)(/|")' | sort -u | tr '\n' ' ')"
[ "$(unit_value ProcSubset)" = pid ] && [ -z "$proc" ] && ok "no /proc file opened outside its own (ProcSubset=pid)" ||
    bad "/proc files other than the process's own: $proc"
rm -rf "$STATE"
rm -f "$MARK/made-state"

# 5. found by bash and man
comp="$(bash -c '. /usr/share/bash-completion/bash_completion; _completion_loader lyncaudit; complete -p lyncaudit' 2>&1)"
eq "bash-completion loads the completion" "$comp" "complete -F _lyncaudit lyncaudit"
eq "man finds lyncaudit-report(1)" "$(man -w lyncaudit-report 2>&1)" "/usr/share/man/man1/lyncaudit-report.1"

# 6. removal
if dpkg -r lyncaudit >"$W/remove.log" 2>&1; then ok "dpkg -r lyncaudit"; else bad "dpkg -r: $(tail -3 "$W/remove.log")"; fi
eq "dpkg status after dpkg -r" "$(pkg_status)" "rc"
left=""
while read -r f; do
    [ -e "$f" ] || continue
    grep -qxF "$f" "$W/preexisting" && continue
    [ "$f" = /etc/lyncaudit ] || [ "$f" = /etc/lyncaudit/topology.lua ] && continue
    left+="$f "
done <"$W/files"
[ -z "$left" ] && ok "dpkg -r: of $(wc -l <"$W/files") paths in dpkg -L only the conffile and its folder stay" ||
    bad "dpkg -r left: $left"
names >"$W/names.after"
eq "*lyncaudit* names under /usr /etc /var, new since before the install" \
    "$(comm -13 "$W/names.before" "$W/names.after" | tr '\n' ' ')" "/etc/lyncaudit "
[ "$(ls -A /etc/lyncaudit 2>&1)" = topology.lua ] && ok "/etc/lyncaudit holds the conffile alone" ||
    bad "/etc/lyncaudit holds: $(ls -A /etc/lyncaudit 2>&1)"
getent passwd lyncaudit >/dev/null && ok "the user lyncaudit stays after dpkg -r" || bad "dpkg -r removed the user"
mkdir "$STATE" && touch "$MARK/made-state" && echo audit >"$STATE/eth9.db"
dpkg -P lyncaudit >"$W/purge.log" 2>&1
pkg_known && bad "dpkg -P: status $(pkg_status)" || ok "dpkg -P: the package is gone"
[ -e /etc/lyncaudit ] && bad "dpkg -P left /etc/lyncaudit" || ok "dpkg -P removed /etc/lyncaudit"
[ -f "$STATE/eth9.db" ] && ok "dpkg -P kept the audit database in $STATE" || bad "dpkg -P removed $STATE/eth9.db"
getent passwd lyncaudit >/dev/null && ok "the user lyncaudit stays after dpkg -P" || bad "dpkg -P removed the user"

echo "package: $pass passed, $fail failed in $(($(date +%s) - T0)) s"
[ "$fail" -eq 0 ]
