#!/usr/bin/env bash
# Install every Debian package lyncaudit's build, sample and tests need.
# Usage: scripts/install-deps.sh [build|all]   (default: all)
# Safe to run again: it asks apt only for what is missing.
set -euo pipefail

build_pkgs=(cmake make gcc pkg-config libpcap-dev libndpi-dev libsqlite3-dev libpq-dev liblua5.4-dev libxml2-dev
            libgcrypt20-dev libjansson-dev)
test_pkgs=(sqlite3 python3 tshark libndpi-bin sip-tester coturn prosody openssl socat tcpdump
           lua5.4 clang libclang-rt-14-dev procps iproute2 ike-scan tcpreplay chromium
           man-db groff-base bash-completion systemd dpkg-dev strace jq postgresql cppcheck)

want=("${build_pkgs[@]}")
[ "${1:-all}" = "all" ] && want+=("${test_pkgs[@]}")

missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "lyncaudit: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# coturn and prosody start services on install where an init system runs; we
# only need their binaries, and the tests start their own instances.
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
