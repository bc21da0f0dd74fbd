#!/usr/bin/env bash
# Make samples/lync-sample.pcap: Lync Server 2013-shaped traffic between REAL
# peers (sipp, coturn, openssl, socat, prosody, ike-scan, python3) on loopback,
# each "host" on its own 127.20.x.y address (roles in samples/topology.lua,
# flows in samples/README.md).
#
# Usage: scripts/make-sample.sh [OUT.pcap]      (default: samples/lync-sample.pcap)
# Needs root (tcpdump on lo, ike-scan's raw socket, ports 443/500) and the
# packages of scripts/install-deps.sh all (ike-scan too; without it the IKE
# flow is left out, with a warning). Takes about 20 s. Rerunnable: everything
# it starts is stopped by PID, its temporary folder is removed, only the pcap
# is left.
#
# Only 127.20.0.0/16 is captured. Where a program cannot speak TLS itself
# (sipp is built without TLS) or cannot pick its source address, the program
# talks to a helper on 127.21.x.y (same last octets, never captured), and the
# helper (socat) carries the bytes on the captured 127.20.x.y address.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/samples/lync-sample.pcap}"

for t in tcpdump sipp socat openssl turnserver turnutils_uclient turnutils_stunclient \
         turnutils_peer prosody python3 ss reordercap capinfos; do
    command -v "$t" >/dev/null || { echo "make-sample: $t missing (run scripts/install-deps.sh all)" >&2; exit 2; }
done
[ "$(id -u)" -eq 0 ] || { echo "make-sample: run as root (tcpdump, ike-scan, port 443/500)" >&2; exit 2; }

W="$(mktemp -d /tmp/lyncaudit-sample.XXXXXX)"
mkdir -p "$W/log" "$W/pki"
tcpdump_pid=""

cleanup() {
    local rc=$?
    # Stop what is still running, by PID: only this shell's own background jobs.
    local p
    for p in $(jobs -pr); do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ "$rc" -ne 0 ]; then
        echo "make-sample: failed (rc $rc); logs:" >&2
        tail -n 5 "$W"/log/* >&2 2>/dev/null || true
    fi
    rm -rf "$W"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf 'make-sample: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# bg NAME CMD...: start CMD in the background, its output in $W/log/NAME.log; PID in $LAST.
bg() { local name=$1; shift; "$@" >"$W/log/$name.log" 2>&1 & LAST=$!; }

# stop PID...: end servers this script started (by PID) and reap them.
stop() {
    local p
    for p in "$@"; do kill "$p" 2>/dev/null || true; done
    for p in "$@"; do wait "$p" 2>/dev/null || true; done
}

# wait_listen tcp|udp ADDR PORT: until something listens there (5 s at most).
wait_listen() {
    local flag=t i
    [ "$1" = udp ] && flag=u
    for ((i = 0; i < 50; i++)); do
        [ -n "$(ss -Hln$flag "src $2:$3" 2>/dev/null)" ] && return 0
        sleep 0.1
    done
    die "nothing listens on $1 $2:$3"
}

# The helper-side twin of a captured address: 127.20.x.y -> 127.21.x.y.
twin() { printf '127.21.%s' "${1#127.20.}"; }

gap() { sleep 0.2; }

# ---------------------------------------------------------------- PKI
# One private CA; one certificate per server name (ECDSA P-256).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/O=Contoso sample/CN=Contoso Sample Root CA" \
    -keyout "$W/pki/ca.key" -out "$W/pki/ca.crt" 2>"$W/log/pki.log"
mkcert() { # NAME CN SAN
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=Contoso sample/CN=$2" \
        -keyout "$W/pki/$1.key" -out "$W/pki/$1.csr" 2>>"$W/log/pki.log"
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$3" >"$W/pki/$1.ext"
    openssl x509 -req -in "$W/pki/$1.csr" -CA "$W/pki/ca.crt" -CAkey "$W/pki/ca.key" -CAcreateserial \
        -days 3650 -extfile "$W/pki/$1.ext" -out "$W/pki/$1.crt" 2>>"$W/log/pki.log"
    cat "$W/pki/$1.crt" "$W/pki/$1.key" >"$W/pki/$1.pem"
}
mkcert fe01    sip.contoso.local        "DNS:sip.contoso.local,DNS:pool01.contoso.local,DNS:fe01.contoso.local"
mkcert fe02    fe02.contoso.local       "DNS:fe02.contoso.local,DNS:pool01.contoso.local"
mkcert med01   med01.contoso.local      "DNS:med01.contoso.local"
mkcert dir01   dir01.contoso.local      "DNS:dir01.contoso.local"
mkcert edgeint edge-int.contoso.local   "DNS:edge-int.contoso.local"
mkcert access  sip.contoso.com          "DNS:sip.contoso.com,DNS:access.contoso.com"
mkcert webconf webconf.contoso.com      "DNS:webconf.contoso.com"
mkcert xmppedge contoso.com             "DNS:contoso.com"
mkcert fabrikam-sip sip.fabrikam.com   "DNS:sip.fabrikam.com"
# The XMPP partner is another organisation: its own self-signed certificate.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/O=Fabrikam/CN=fabrikam.com" -addext "subjectAltName=DNS:fabrikam.com" \
    -keyout "$W/pki/fabrikam.key" -out "$W/pki/fabrikam.crt" 2>>"$W/log/pki.log"

# ---------------------------------------------------------------- flows
# sip_call NAME TRANSPORT(t1|u1) CLIENT SERVER PORT: one sipp call (uac -> uas)
# straight on the captured addresses.
sip_call() {
    local name=$1 tr=$2 cli=$3 srv=$4 port=$5 uas
    bg "$name-uas" sipp -sn uas -t "$tr" -i "$srv" -p "$port" -m 1 -nostdin; uas=$LAST
    wait_listen "$([ "$tr" = u1 ] && echo udp || echo tcp)" "$srv" "$port"
    timeout 15 sipp -sn uac -t "$tr" -i "$cli" "$srv:$port" -m 1 -nostdin \
        >"$W/log/$name-uac.log" 2>&1 || die "$name: sipp uac failed"
    stop "$uas"
}

# sip_over_tls NAME CLIENT SERVER PORT SNI SERVERCERT [CLIENTCERT]: one sipp
# call over TCP, carried as TLS 1.2 by socat from CLIENT to SERVER:PORT. With
# CLIENTCERT the server requires and checks a client certificate (MTLS).
sip_over_tls() {
    local name=$1 cli=$2 srv=$3 port=$4 sni=$5 scert=$6 ccert=${7:-}
    local bsrv bcli uas s1 s2 sopt copt
    bsrv="$(twin "$srv")"; bcli="$(twin "$cli")"
    sopt="cert=$W/pki/$scert.pem,verify=0"
    copt="cafile=$W/pki/ca.crt,snihost=$sni,commonname=$sni"
    if [ -n "$ccert" ]; then
        sopt="cert=$W/pki/$scert.pem,cafile=$W/pki/ca.crt,verify=1"
        copt="$copt,cert=$W/pki/$ccert.pem"
    fi
    bg "$name-uas" sipp -sn uas -t t1 -i "$bsrv" -p "$port" -m 1 -nostdin; uas=$LAST
    bg "$name-tls-server" socat OPENSSL-LISTEN:"$port",bind="$srv",reuseaddr,"$sopt",max-version=TLS1.2 \
        TCP:"$bsrv:$port"; s1=$LAST
    bg "$name-tls-client" socat TCP-LISTEN:"$port",bind="$bcli",reuseaddr \
        OPENSSL:"$srv:$port",bind="$cli",max-version=TLS1.2,"$copt"; s2=$LAST
    wait_listen tcp "$bsrv" "$port"; wait_listen tcp "$srv" "$port"; wait_listen tcp "$bcli" "$port"
    timeout 15 sipp -sn uac -t t1 -i "$bcli" "$bcli:$port" -m 1 -nostdin \
        >"$W/log/$name-uac.log" 2>&1 || die "$name: sipp uac through TLS failed"
    stop "$uas" "$s1" "$s2"
}

# tls_echo NAME CLIENT SERVER PORT SNI SERVERCERT TEXT [TLSFLAG]: openssl
# s_server (-rev: sends each line back reversed) and s_client, one connection.
tls_echo() {
    local name=$1 cli=$2 srv=$3 port=$4 sni=$5 scert=$6 text=$7 ver=${8:--tls1_2} s
    bg "$name-server" openssl s_server -accept "$srv:$port" -cert "$W/pki/$scert.crt" \
        -key "$W/pki/$scert.key" -naccept 1 -rev -quiet "$ver"; s=$LAST
    wait_listen tcp "$srv" "$port"
    { printf '%s\n' "$text"; sleep 0.3; } |
        timeout 10 openssl s_client -connect "$srv:$port" -bind "$cli:0" -servername "$sni" \
            -CAfile "$W/pki/ca.crt" -verify_return_error -quiet -no_ign_eof \
            >"$W/log/$name-client.log" 2>&1 || die "$name: s_client failed"
    stop "$s"
}

log "capturing"
tcpdump -i lo -s 0 -U --immediate-mode -Z root -w "$W/raw.pcap" 'net 127.20.0.0/16' \
    2>"$W/log/tcpdump.log" &
tcpdump_pid=$!
for ((i = 0; i < 50; i++)); do grep -q 'listening on' "$W/log/tcpdump.log" && break; sleep 0.1; done
grep -q 'listening on' "$W/log/tcpdump.log" || die "tcpdump did not start"
sleep 0.3

# -- Internal clients to the Front End pool (doc 003) ---------------------------
log "F1 SIP/TLS client_internal -> front_end:5061"
sip_over_tls sip-tls-fe 127.20.10.10 127.20.1.10 5061 sip.contoso.local fe01; gap

log "F2 cleartext SIP/TCP client_internal -> front_end:5060"
sip_call sip-tcp-fe-5060 t1 127.20.10.11 127.20.1.10 5060; gap

log "F3 cleartext SIP/TCP client_internal -> front_end:5061 (TLS documented)"
sip_call sip-tcp-fe-5061 t1 127.20.10.11 127.20.1.11 5061; gap

log "F4 TLS (PSOM stand-in) client_internal -> front_end:8057"
tls_echo psom-fe 127.20.10.12 127.20.1.10 8057 pool01.contoso.local fe01 "PSOM stand-in: web conferencing"; gap

log "F5 TLS client_internal -> front_end:7443 (undocumented port)"
tls_echo tls-fe-7443 127.20.10.13 127.20.1.10 7443 fe01.contoso.local fe01 "nothing documents this port" -tls1_3; gap

# -- Server to server: Front End, Director, Edge internal, Mediation, gateway --
log "F6 SIP/MTLS front_end -> mediation:5070"
sip_over_tls sip-mtls-med 127.20.1.11 127.20.4.10 5070 med01.contoso.local med01 fe02; gap

log "F7 SIP/MTLS director -> edge_internal:5061"
sip_over_tls sip-mtls-edge 127.20.6.10 127.20.2.1 5061 edge-int.contoso.local edgeint dir01; gap

log "F8 PSTN call: pstn_gateway -> mediation SIP/TCP 5068 with G.711 RTP"
python3 - "$W/tone.ulaw" <<'EOF'
# 0.6 s of a 440 Hz tone, G.711 u-law, 8 kHz: the RTP payload sipp streams.
import math, sys
def ulaw(s):
    sign = 0x80 if s < 0 else 0
    s = min(abs(s), 32635) + 0x84
    exp, mask = 7, 0x4000
    while exp > 0 and not s & mask:
        exp -= 1
        mask >>= 1
    return ~(sign | exp << 4 | (s >> (exp + 3)) & 0x0F) & 0xFF
with open(sys.argv[1], "wb") as f:
    f.write(bytes(ulaw(int(8000 * math.sin(2 * math.pi * 440 * i / 8000))) for i in range(4800)))
EOF
cat >"$W/gw-call.xml" <<'EOF'
<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<!-- lyncaudit sample: a PSTN gateway calls the Mediation Server over SIP/TCP
     and streams 0.6 s of G.711 u-law RTP to the media port of the answer. -->
<scenario name="gateway call with RTP">
  <send retrans="500">
    <![CDATA[
      INVITE sip:+14255550100@[remote_ip]:[remote_port];user=phone SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:+14255550199@[local_ip];user=phone>;tag=[pid]gw[call_number]
      To: <sip:+14255550100@[remote_ip];user=phone>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:+14255550199@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      User-Agent: lyncaudit-sample-gateway (sipp)
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=gw 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000

    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rtd="true"/>
  <send>
    <![CDATA[
      ACK sip:+14255550100@[remote_ip]:[remote_port];user=phone SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:+14255550199@[local_ip];user=phone>;tag=[pid]gw[call_number]
      To: <sip:+14255550100@[remote_ip];user=phone>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: <sip:+14255550199@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <nop><action><exec rtp_stream="tone.ulaw,1,0"/></action></nop>
  <pause milliseconds="800"/>
  <send retrans="500">
    <![CDATA[
      BYE sip:+14255550100@[remote_ip]:[remote_port];user=phone SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:+14255550199@[local_ip];user=phone>;tag=[pid]gw[call_number]
      To: <sip:+14255550100@[remote_ip];user=phone>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: <sip:+14255550199@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" crlf="true"/>
</scenario>
EOF
bg gw-call-uas sipp -sn uas -t t1 -i 127.20.4.10 -p 5068 -mi 127.20.4.10 -mp 49200 -rtp_echo -m 1 -nostdin
uas=$LAST
wait_listen tcp 127.20.4.10 5068
(cd "$W" && timeout 15 sipp -sf gw-call.xml -t t1 -i 127.20.5.10 -mi 127.20.5.10 -mp 6000 \
    127.20.4.10:5068 -m 1 -nostdin) >"$W/log/gw-call-uac.log" 2>&1 || die "gateway call failed"
stop "$uas"; gap

log "F9 SIP/UDP mediation -> pstn_gateway:5060 (UDP SIP is in no table)"
sip_call sip-udp-gw u1 127.20.4.10 127.20.5.10 5060; gap

# -- External users and the Edge (docs 001, 002) -------------------------------
log "F10 STUN/TURN over UDP client_external -> edge_av:3478, relayed to a peer on 3478"
turn_common=(-n --realm contoso.com --lt-cred-mech --user alice:lync2013 --no-tls --no-dtls --no-cli
             --allow-loopback-peers --listening-ip 127.20.3.10 --relay-ip 127.20.3.10 --simple-log
             --no-stdout-log)
bg turn-udp turnserver "${turn_common[@]}" --listening-port 3478 --min-port 50000 --max-port 50019 \
    --userdb "$W/turndb-3478" --pidfile "$W/turn-3478.pid" --log-file "$W/log/turnserver-3478.txt"
turn1=$LAST
bg turn-tcp turnserver "${turn_common[@]}" --listening-port 443 --min-port 50020 --max-port 50039 \
    --userdb "$W/turndb-443" --pidfile "$W/turn-443.pid" --log-file "$W/log/turnserver-443.txt"
turn2=$LAST
bg turn-peer turnutils_peer -L 127.20.20.20 -p 3478; peer=$LAST
wait_listen udp 127.20.3.10 3478; wait_listen tcp 127.20.3.10 443; wait_listen udp 127.20.20.20 3478
timeout 20 turnutils_uclient -L 127.20.20.10 -u alice -w lync2013 -e 127.20.20.20 -r 3478 \
    -n 5 -m 2 -l 160 -c 127.20.3.10 >"$W/log/turn-udp-client.log" 2>&1 || die "turnutils_uclient (UDP) failed"
gap
log "F11 STUN binding client_external -> edge_av:3478"
timeout 10 turnutils_stunclient -L 127.20.20.11 127.20.3.10 >"$W/log/stunclient.log" 2>&1 \
    || die "turnutils_stunclient failed"
gap
log "F12 TURN over TCP client_external -> edge_av:443"
timeout 20 turnutils_uclient -t -p 443 -L 127.20.20.12 -u alice -w lync2013 -e 127.20.20.20 -r 3478 \
    -n 5 -m 1 -l 160 -c 127.20.3.10 >"$W/log/turn-tcp-client.log" 2>&1 || die "turnutils_uclient (TCP) failed"
stop "$turn1" "$turn2" "$peer"; gap

log "F13 SIP/TLS client_external -> edge_access:443"
sip_over_tls sip-tls-access 127.20.20.13 127.20.3.9 443 sip.contoso.com access; gap

log "F14 SIP/MTLS federation_partner -> edge_access:5061"
sip_over_tls sip-mtls-federation 127.20.30.10 127.20.3.9 5061 sip.contoso.com access fabrikam-sip; gap

log "F15 TLS (PSOM stand-in) client_external -> edge_webconf:443"
tls_echo psom-webconf 127.20.20.14 127.20.3.11 443 webconf.contoso.com webconf "PSOM stand-in: web conferencing media"; gap

log "F16 UDP client_external -> edge_av:55000 (50,000-59,999 without OCS 2007)"
bg media-peer turnutils_peer -L 127.20.3.10 -p 55000; peer=$LAST
wait_listen udp 127.20.3.10 55000
{ for i in 1 2 3 4 5; do printf 'direct media %d\n' "$i"; sleep 0.02; done; sleep 0.3; } |
    timeout 10 socat -T 1 - UDP:127.20.3.10:55000,bind=127.20.20.15:50100 >"$W/log/media-client.log" 2>&1 \
    || die "UDP to 55000 failed"
stop "$peer"; gap

# -- XMPP federation (doc 002 external, doc 004) -------------------------------
log "F17 XMPP s2s xmpp_partner <-> edge_access:5269 (two prosody servers)"
# mod_sample_s2s gives prosody what it has no option for: a static route to
# the other domain (no DNS here) and the source address of outgoing s2s
# connections. The partner sends one XMPP ping; the Edge answers on its own
# connection back (s2s streams are one-way), so both directions of 5269 appear.
cat >"$W/mod_sample_s2s.lua" <<'EOF'
module:set_global();
local socket = require "socket";
local server = require "net.server";
local service = require "net.resolvers.service";
local manual = require "net.resolvers.manual";
local st = require "util.stanza";
local timer = require "util.timer";

local routes = module:get_option("sample_s2s_routes", {});   -- domain -> { ip, port }
local source = module:get_option_string("sample_s2s_source"); -- bind outgoing s2s here
local ping = module:get_option("sample_ping");                -- { from = host, to = domain }

local orig_new = service.new;
service.new = function(hostname, srv, conn_type, extra)
	local r = routes[hostname];
	if r then
		if srv == "xmpp-server" then
			return manual.new({ { "tcp4", r[1], r[2], extra } }, conn_type, extra);
		end
		return manual.new({}, conn_type, extra); -- no direct TLS (xmpps-server)
	end
	return orig_new(hostname, srv, conn_type, extra);
end

local orig_addclient = server.addclient;
server.addclient = function(...)
	local orig_tcp4 = socket.tcp4;
	socket.tcp4 = function()
		local s, err = orig_tcp4();
		if s and source then
			local ok, berr = s:bind(source, 0);
			if not ok then module:log("error", "bind %s: %s", source, berr); end
		end
		return s, err;
	end
	local ok, a, b = pcall(orig_addclient, ...);
	socket.tcp4 = orig_tcp4;
	if not ok then error(a); end
	return a, b;
end

if ping then
	module:hook_global("server-started", function()
		timer.add_task(0.5, function()
			module:log("info", "sending XMPP ping %s -> %s", ping.from, ping.to);
			prosody.core_route_stanza(prosody.hosts[ping.from],
				st.iq({ type = "get", from = ping.from, to = ping.to, id = "lyncaudit-ping-1" })
					:tag("ping", { xmlns = "urn:xmpp:ping" }));
		end);
	end);
end
EOF
prosody_cfg() { # NAME DOMAIN ADDR CERT REMOTE REMOTEADDR EXTRA
    mkdir -p "$W/$1-data" "$W/$1-certs"
    cat >"$W/$1.cfg.lua" <<EOF
run_as_root = true
pidfile = "$W/$1.pid"
data_path = "$W/$1-data"
certificates = "$W/$1-certs"
plugin_paths = { "$W" }
log = { debug = "$W/log/prosody-$1.txt" }
interfaces = { "$3" }
s2s_interfaces = { "$3" }
s2s_ports = { 5269 }
c2s_ports = { }
modules_enabled = { "dialback", "tls", "ping", "sample_s2s" }
modules_disabled = { "c2s", "offline" }
s2s_secure_auth = false
sample_s2s_routes = { ["$5"] = { "$6", 5269 } }
sample_s2s_source = "$3"
$7
VirtualHost "$2"
  ssl = { certificate = "$W/pki/$4.crt", key = "$W/pki/$4.key" }
EOF
}
prosody_cfg edge contoso.com 127.20.3.9 xmppedge fabrikam.com 127.20.31.10 ""
prosody_cfg partner fabrikam.com 127.20.31.10 fabrikam contoso.com 127.20.3.9 \
    'sample_ping = { from = "fabrikam.com", to = "contoso.com" }'
bg prosody-edge prosody -F --config "$W/edge.cfg.lua"; pe=$LAST
wait_listen tcp 127.20.3.9 5269
bg prosody-partner prosody -F --config "$W/partner.cfg.lua"; pp=$LAST
for ((i = 0; i < 100; i++)); do
    grep -q "Received\[s2sin\]: <iq.*lyncaudit-ping-1" "$W/log/prosody-partner.txt" 2>/dev/null && break
    sleep 0.1
done
grep -q "Received\[s2sin\]: <iq.*lyncaudit-ping-1" "$W/log/prosody-partner.txt" 2>/dev/null \
    || die "XMPP ping answer never reached the partner"
sleep 0.3
stop "$pp" "$pe"; gap

# -- Violations of other kinds --------------------------------------------------
log "F18 plain HTTP reverse_proxy -> front_end:4443 (HTTPS documented)"
mkdir -p "$W/www/autodiscover/autodiscoverservice.svc"
printf '{"AccessLocation":"Internal","Root":{"Links":[]}}\n' >"$W/www/autodiscover/autodiscoverservice.svc/root"
bg http-4443 python3 -m http.server 4443 --bind 127.20.1.10 --directory "$W/www"; http=$LAST
wait_listen tcp 127.20.1.10 4443
timeout 10 python3 - >"$W/log/http-client.log" 2>&1 <<'EOF' || die "HTTP GET on 4443 failed"
import http.client
c = http.client.HTTPConnection("127.20.1.10", 4443, timeout=5, source_address=("127.20.7.10", 0))
c.request("GET", "/autodiscover/autodiscoverservice.svc/root?originalDomain=contoso.com",
          headers={"User-Agent": "lyncaudit-sample-reverse-proxy", "Host": "lyncdiscover.contoso.com"})
r = c.getresponse()
print(r.status, r.read())
c.close()
EOF
stop "$http"; gap

log "F19 SIP/MTLS through a source-NAT device -> edge_internal:5061 (NAT forbidden there)"
# A socat relay on 127.20.9.1 stands in for a NAT device that rewrites the
# source address: front_end 127.20.1.10 talks (uncaptured) to the relay, and
# the relay opens the connection to the Edge internal interface from its own
# address. The bytes on the wire are the Front End's TLS session, end to end.
bg nat-relay socat TCP-LISTEN:5061,bind=127.21.9.1,reuseaddr TCP:127.20.2.1:5061,bind=127.20.9.1; nat=$LAST
wait_listen tcp 127.21.9.1 5061
bsrv="$(twin 127.20.2.1)"
bg nat-uas sipp -sn uas -t t1 -i "$bsrv" -p 5061 -m 1 -nostdin; uas=$LAST
bg nat-tls-server socat OPENSSL-LISTEN:5061,bind=127.20.2.1,reuseaddr,cert="$W/pki/edgeint.pem",cafile="$W/pki/ca.crt",verify=1,max-version=TLS1.2 \
    TCP:"$bsrv:5061"; s1=$LAST
bg nat-tls-client socat TCP-LISTEN:5061,bind=127.21.1.10,reuseaddr \
    OPENSSL:127.21.9.1:5061,bind=127.21.1.10,max-version=TLS1.2,cafile="$W/pki/ca.crt",snihost=edge-int.contoso.local,commonname=edge-int.contoso.local,cert="$W/pki/fe01.pem"; s2=$LAST
wait_listen tcp "$bsrv" 5061; wait_listen tcp 127.20.2.1 5061; wait_listen tcp 127.21.1.10 5061
timeout 15 sipp -sn uac -t t1 -i 127.21.1.10 127.21.1.10:5061 -m 1 -nostdin \
    >"$W/log/nat-uac.log" 2>&1 || die "SIP through the NAT relay failed"
stop "$uas" "$s1" "$s2" "$nat"; gap

if command -v ike-scan >/dev/null; then
    log "F20 IKE client_internal -> mediation:500 (IPsec exceptions: never to the Mediation Server)"
    timeout 10 ike-scan --sourceip=127.20.10.14 --retry=1 127.20.4.10 >"$W/log/ike-scan.log" 2>&1 \
        || die "ike-scan failed"
else
    log "WARNING: ike-scan missing: the sample has no IKE flow (apt-get install ike-scan)"
fi

sleep 0.5
kill "$tcpdump_pid"; wait "$tcpdump_pid" 2>/dev/null || true
grep -E 'captured|dropped' "$W/log/tcpdump.log" | sed 's/^/make-sample: tcpdump: /' >&2 || true

mkdir -p "$(dirname "$out")"
reordercap "$W/raw.pcap" "$W/sorted.pcap" >/dev/null
capinfos -t "$W/sorted.pcap" | grep -q 'File type:.* - pcap$' \
    || die "not a pcap file: $(capinfos -t "$W/sorted.pcap")"
mv "$W/sorted.pcap" "$out"
log "wrote $out ($(stat -c %s "$out") bytes, $(capinfos -c -M "$out" | awk -F': *' '/Number of packets/ {print $2}') packets)"
