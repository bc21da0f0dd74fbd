#!/usr/bin/env bash
# `cmake --install` (issue 14), into a DESTDIR (nothing on this machine is
# touched):
#   1  exactly the FHS files under the build's prefix: bin/lyncaudit,
#      share/lyncaudit/{lua,rules}, share/man/man1 (four pages),
#      lib/systemd/system/lyncaudit@.service, share/bash-completion/completions/
#      lyncaudit, share/doc/lyncaudit, and SYSCONFDIR/lyncaudit/topology.lua
#      (/etc for the prefix /usr, PREFIX/etc otherwise);
#   2  the installed unit and man page name the prefix's paths;
#   3  the installed binary, run from the DESTDIR, audits the sample with the
#      installed example topology and reads its own rules (one rule file left
#      in its share/ folder: fewer rules loaded);
#   4  a second install keeps an edited SYSCONFDIR/lyncaudit/topology.lua;
#   5  `lyncaudit topology discover -o FILE` writes a file others can read
#      (0644 under umask 022; the service reads it as lyncaudit), and keeps
#      the mode of a file it replaces.
# Usage: test_install.sh BUILD_DIR SOURCE_DIR CMAKE
set -u
BUILD="$(realpath "$1")"
SRC="$(realpath "$2")"
CMAKE="$3"
command -v sqlite3 >/dev/null || { echo "SKIP: sqlite3 missing"; exit 77; }

W="$(mktemp -d /tmp/lyncaudit-install.XXXXXX)"
trap 'rm -rf "$W"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "PASS: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
eq() { # description got want
    if [ "$2" = "$3" ]; then ok "$1 ($2)"; else bad "$1: got '$2', wanted '$3'"; fi
}
q() { sqlite3 -batch -noheader "$1" "$2" 2>&1; }
cache() { sed -n "s/^$1:[A-Z]*=//p" "$BUILD/CMakeCache.txt"; }

P="$(cache CMAKE_INSTALL_PREFIX)"
UNITDIR="$(cache LYNCAUDIT_SYSTEMD_UNIT_DIR)"
case "$UNITDIR" in /*) ;; *) UNITDIR="$P/$UNITDIR" ;; esac
if [ "$P" = /usr ]; then SYSCONF=/etc/lyncaudit; else SYSCONF="$P/etc/lyncaudit"; fi
R="$W/root"

# 1
if DESTDIR="$R" "$CMAKE" --install "$BUILD" >"$W/install.log" 2>&1; then ok "cmake --install (DESTDIR)"; else
    bad "cmake --install: $(tail -5 "$W/install.log")"
fi
{
    echo "$P/bin/lyncaudit"
    echo "$P/share/lyncaudit/lua/dsl.lua"
    echo "$P/share/lyncaudit/lua/exceptions.lua"
    for f in "$SRC"/rules/*; do echo "$P/share/lyncaudit/rules/$(basename "$f")"; done
    for m in lyncaudit lyncaudit-topology lyncaudit-report lyncaudit-export; do echo "$P/share/man/man1/$m.1"; done
    echo "$UNITDIR/lyncaudit@.service"
    echo "$P/share/bash-completion/completions/lyncaudit"
    echo "$P/share/doc/lyncaudit/README.md"
    echo "$P/share/doc/lyncaudit/copyright"
    for f in "$SRC"/docs/*.md; do echo "$P/share/doc/lyncaudit/$(basename "$f")"; done
    echo "$SYSCONF/topology.lua"
} | sort >"$W/want"
(cd "$R" && find . -type f | sed 's|^\.||' | sort) >"$W/got"
if diff "$W/want" "$W/got" >"$W/diff"; then ok "installed files: $(wc -l <"$W/got"), each where it belongs (prefix $P)"; else
    bad "installed files differ (< wanted, > installed): $(tr '\n' ' ' <"$W/diff")"
fi
[ -x "$R$P/bin/lyncaudit" ] && ok "bin/lyncaudit executable" || bad "bin/lyncaudit not executable"

# 2
grep -q "^ExecStart=$P/bin/lyncaudit -i %I -Z lyncaudit .* -t $SYSCONF/topology.lua " "$R$UNITDIR/lyncaudit@.service" &&
    ok "the unit runs $P/bin/lyncaudit with $SYSCONF/topology.lua" || bad "the unit's ExecStart: $(grep ExecStart= "$R$UNITDIR/lyncaudit@.service")"
grep -q "^\.B $SYSCONF/topology.lua" "$R$P/share/man/man1/lyncaudit.1" && ok "lyncaudit.1 names $SYSCONF/topology.lua" ||
    bad "lyncaudit.1 does not name $SYSCONF/topology.lua"
grep -q "@[A-Z_]*@" "$R$UNITDIR/lyncaudit@.service" "$R$P"/share/man/man1/*.1 "$R$SYSCONF/topology.lua" &&
    bad "a template variable left unreplaced: $(grep -l "@[A-Z_]*@" "$R$UNITDIR/lyncaudit@.service" "$R$P"/share/man/man1/*.1)" ||
    ok "no @VARIABLE@ left in the unit, pages and topology"

# 3
LA="$R$P/bin/lyncaudit"
pcap="$SRC/samples/lync-sample.pcap"
"$LA" -q -d "$W/a.db" -t "$R$SYSCONF/topology.lua" "$pcap"
eq "installed binary on the sample, installed example topology: exit code" "$?" 1
"$BUILD/lyncaudit" -q -d "$W/b.db" -t "$SRC/samples/topology.lua" "$pcap"
run="SELECT flows, violations, rules_loaded, topology_name FROM runs"
eq "same run as the build's binary with samples/topology.lua" "$(q "$W/a.db" "$run")" "$(q "$W/b.db" "$run")"
find "$R$P/share/lyncaudit/rules" -name '*.lua' ! -name 'xmpp.lua' -delete
"$LA" -q -d "$W/c.db" -t "$R$SYSCONF/topology.lua" "$pcap"
all="$(q "$W/a.db" "SELECT rules_loaded FROM runs")"
one="$(q "$W/c.db" "SELECT rules_loaded FROM runs")"
[ -n "$one" ] && [ "$one" -gt 0 ] && [ "$one" -lt "$all" ] &&
    ok "the installed binary reads its own share/lyncaudit/rules ($one rules from xmpp.lua alone, $all from all)" ||
    bad "rules loaded with only xmpp.lua installed: '$one' (all: '$all')"

# 4
echo "-- edited" >>"$R$SYSCONF/topology.lua"
DESTDIR="$R" "$CMAKE" --install "$BUILD" >"$W/install2.log" 2>&1
grep -q "Keeping: $R$SYSCONF/topology.lua" "$W/install2.log" && tail -1 "$R$SYSCONF/topology.lua" | grep -q "^-- edited$" &&
    ok "a second install keeps the edited topology.lua" || bad "the edited topology.lua: $(tail -1 "$R$SYSCONF/topology.lua")"

# 5
(umask 022 && "$BUILD/lyncaudit" topology discover "$pcap" -o "$W/site.lua" 2>/dev/null)
eq "topology discover -o under umask 022: mode" "$(stat -c %a "$W/site.lua" 2>&1)" 644
chmod 640 "$W/site.lua"
(umask 022 && "$BUILD/lyncaudit" topology discover "$pcap" -o "$W/site.lua" 2>/dev/null)
eq "topology discover -o over a 0640 file: mode kept" "$(stat -c %a "$W/site.lua" 2>&1)" 640

echo "install: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
