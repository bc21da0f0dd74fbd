-- Edge external interface (doc 002, "Firewall Summary for Single
-- Consolidated Edge with Private IP Addresses using NAT: External Interface").
--
-- Role readings: "Edge Server Access Edge service" and the XMPP Proxy (which
-- shares its address) -> edge_access; "Web Conferencing Edge service" ->
-- edge_webconf; "A/V Edge service" -> edge_av. "Any" on the external side is
-- any address.
--
-- Readings of the A/V rows:
--  * row 9 (TCP 50,000-59,999 outbound, every partner version): doc 001
--    explains that this range holds the Edge's *source* ports toward the
--    partner's TCP 443; for OCS 2007 partners it is also the destination
--    range (RTP/TCP both ways). Two rules.
--  * rows 10-12 (only for OCS 2007 partners): allowed when
--    ocs2007_federation = true; when false a flow there is a `port_range`
--    violation (kind = "port_range"). Row 9's destination reading (OCS 2007
--    only) gets the same port_range rule, so both directions report alike.
--    These restrictions win over the general client media rules (the
--    precedence of docs/rules.md): A/V Edge to an external client's UDP
--    50010 without OCS 2007 is port_range, not client.audio-media.
--  * rows 13 and 16 (Edge outbound UDP 3478 / TCP 443): under
--    port_policy = "source_and_destination" the Edge's source port must also
--    be right (UDP 3478, TCP 50,000-59,999: doc 001 table (2)), so each row
--    gives a destination-only rule and a source-and-destination rule.

cite { doc = "002_0c217b23fef43165.txt",
       table = "Firewall Summary for Single Consolidated Edge with Private IP Addresses using NAT: External Interface" }

local DEST = { port_policy = "destination" }
local SRCDST = { port_policy = "source_and_destination" }
local OCS2007 = { ocs2007_federation = true }
local NO_OCS2007 = { ocs2007_federation = false }

rule { id = "edge-ext.xmpp-in",
  ref = row(1, "XMPP/TCP/5269 | Any | XMPP Proxy service (shares IP address with Access Edge service) | XMPP Proxy service accepts traffic from XMPP contacts in defined XMPP federations"),
  from = "any", to = "edge_access", transport = "tcp", dports = 5269,
  apps = labels.xmpp, when = { xmpp_federation = true }, severity = "medium" }

rule { id = "edge-ext.access-crl-http-out",
  ref = row(2, "Access/HTTP/TCP/80 | Edge Server Access Edge service | Any | Certificate revocation/CRL check and retrieval"),
  from = "edge_access", to = "any", transport = "tcp", dports = 80,
  apps = labels.http, severity = "low" }

rule { id = "edge-ext.access-dns-tcp-out",
  ref = row(3, "Access/DNS/TCP/53 | Edge Server Access Edge service | Any | DNS query over TCP"),
  from = "edge_access", to = "any", transport = "tcp", dports = 53,
  apps = labels.dns, severity = "low" }

rule { id = "edge-ext.access-dns-udp-out",
  ref = row(4, "Access/DNS/UDP/53 | Edge Server Access Edge service | Any | DNS query over UDP"),
  from = "edge_access", to = "any", transport = "udp", dports = 53,
  apps = labels.dns, severity = "low" }

rule { id = "edge-ext.access-sip-tls-443-in",
  ref = row(5, "Access/SIP(TLS)/TCP/443 | Any | Edge Server Access Edge service | Client-to-server SIP traffic for external user access"),
  from = "any", to = "edge_access", transport = "tcp", dports = 443,
  apps = labels.sip_tls, severity = "high" }

rule { id = "edge-ext.access-sip-mtls-5061-in",
  ref = row(6, "Access/SIP(MTLS)/TCP/5061 | Any | Edge Server Access Edge service | For federated and public IM connectivity using SIP"),
  from = "any", to = "edge_access", transport = "tcp", dports = 5061,
  apps = labels.sip_tls, severity = "high" }

rule { id = "edge-ext.access-sip-mtls-5061-out",
  ref = row(7, "Access/SIP(MTLS)/TCP/5061 | Edge Server Access Edge service | Any | For federated and public IM connectivity using SIP"),
  from = "edge_access", to = "any", transport = "tcp", dports = 5061,
  apps = labels.sip_tls, severity = "high" }

rule { id = "edge-ext.webconf-psom-443-in",
  ref = row(8, "Web Conferencing/PSOM(TLS)/TCP/443 | Any | Edge Server Web Conferencing Edge service | Web Conferencing media"),
  from = "any", to = "edge_webconf", transport = "tcp", dports = 443,
  apps = labels.psom, severity = "high" }

local R9 = row(9, "A/V/RTP/TCP/50,000-59,999 | Edge Server A/V Edge service | Any | Required for federating with partners running Office Communications Server 2007, Office Communications Server 2007 R2, Lync Server 2010 and Lync Server 2013.")

rule { id = "edge-ext.av-rtp-tcp-out", ref = R9,
  from = "edge_av", to = "any", transport = "tcp",
  sports = "50000-59999", dports = 443,
  apps = labels.media, severity = "medium",
  note = "The range is the Edge's source port range toward the partner A/V Edge's TCP 443 (doc 001)." }

rule { id = "edge-ext.av-rtp-tcp-out-ocs2007", ref = R9,
  from = "edge_av", to = "any", transport = "tcp", dports = "50000-59999",
  apps = labels.media, when = OCS2007, severity = "medium",
  note = "RTP/TCP toward an OCS 2007 partner's A/V Edge media range (doc 001)." }

rule { id = "edge-ext.av-rtp-tcp-out-no-ocs2007", ref = R9, kind = "port_range",
  from = "edge_av", to = "any", transport = "tcp", dports = "50000-59999",
  apps = labels.media, when = NO_OCS2007, severity = "medium",
  note = "The range is a destination only toward OCS 2007 partners (doc 001); without OCS 2007 federation "
      .. "outbound TCP to it is a port_range violation, as inbound is (row 11)." }

local R10 = row(10, "A/V/RTP/UDP/50,000-59,999 | Edge Server A/V Edge service | Any | Required only for federation with partners running Office Communications Server 2007.")

rule { id = "edge-ext.av-rtp-udp-out-ocs2007", ref = R10,
  from = "edge_av", to = "any", transport = "udp", dports = "50000-59999",
  apps = labels.media, when = OCS2007, severity = "medium" }

rule { id = "edge-ext.av-rtp-udp-out-no-ocs2007", ref = R10, kind = "port_range",
  from = "edge_av", to = "any", transport = "udp", dports = "50000-59999",
  apps = labels.media, when = NO_OCS2007, severity = "medium",
  note = "Only OCS 2007 federation uses this range; without it the flow is a port_range violation." }

local R11 = row(11, "A/V/RTP/TCP/50,000-59,999 | Any | Edge Server A/V Edge service | Required only for federation with partners running Office Communications Server 2007")

rule { id = "edge-ext.av-rtp-tcp-in-ocs2007", ref = R11,
  from = "any", to = "edge_av", transport = "tcp", dports = "50000-59999",
  apps = labels.media, when = OCS2007, severity = "medium" }

rule { id = "edge-ext.av-rtp-tcp-in-no-ocs2007", ref = R11, kind = "port_range",
  from = "any", to = "edge_av", transport = "tcp", dports = "50000-59999",
  apps = labels.media, when = NO_OCS2007, severity = "medium",
  note = "Only OCS 2007 federation uses this range inbound; without it the flow is a port_range violation." }

local R12 = row(12, "A/V/RTP/UDP/50,000-59,999 | Any | Edge Server A/V Edge service | Required only for federation with partners running Office Communications Server 2007")

rule { id = "edge-ext.av-rtp-udp-in-ocs2007", ref = R12,
  from = "any", to = "edge_av", transport = "udp", dports = "50000-59999",
  apps = labels.media, when = OCS2007, severity = "medium" }

rule { id = "edge-ext.av-rtp-udp-in-no-ocs2007", ref = R12, kind = "port_range",
  from = "any", to = "edge_av", transport = "udp", dports = "50000-59999",
  apps = labels.media, when = NO_OCS2007, severity = "medium",
  note = "UDP 50,000-59,999 inbound to the A/V Edge without OCS 2007 federation is a port_range violation." }

local R13 = row(13, "A/V/STUN,MSTURN/UDP/3478 | Edge Server A/V Edge service | Any | 3478 outbound is used to determine the version of Edge Server that Lync Server is communicating with and also for media traffic from Edge Server-to-Edge Server. Required for federation with Lync Server 2010, Windows Live Messenger, and Office Communications Server 2007 R2, and also if multiple Edge pools are deployed within a company.")

rule { id = "edge-ext.av-stun-udp3478-out", ref = R13,
  from = "edge_av", to = "any", transport = "udp", dports = 3478,
  apps = labels.media, when = DEST, severity = "medium" }

rule { id = "edge-ext.av-stun-udp3478-out-srcdst", ref = R13,
  from = "edge_av", to = "any", transport = "udp", sports = 3478, dports = 3478,
  apps = labels.media, when = SRCDST, severity = "medium",
  note = "Source port UDP 3478 as doc 001 table (2) requires." }

rule { id = "edge-ext.av-stun-udp3478-in",
  ref = row(14, "A/V/STUN,MSTURN/UDP/3478 | Any | Edge Server A/V Edge service | STUN/TURN negotiation of candidates over UDP/3478"),
  from = "any", to = "edge_av", transport = "udp", dports = 3478,
  apps = labels.media, severity = "medium" }

rule { id = "edge-ext.av-stun-tcp443-in",
  ref = row(15, "A/V/STUN,MSTURN/TCP/443 | Any | Edge Server A/V Edge service | STUN/TURN negotiation of candidates over TCP/443"),
  from = "any", to = "edge_av", transport = "tcp", dports = 443,
  apps = labels.media, severity = "medium" }

local R16 = row(16, "A/V/STUN,MSTURN/TCP/443 | Edge Server A/V Edge service | Any | STUN/TURN negotiation of candidates over TCP/443")

rule { id = "edge-ext.av-stun-tcp443-out", ref = R16,
  from = "edge_av", to = "any", transport = "tcp", dports = 443,
  apps = labels.media, when = DEST, severity = "medium" }

rule { id = "edge-ext.av-stun-tcp443-out-srcdst", ref = R16,
  from = "edge_av", to = "any", transport = "tcp", sports = "50000-59999", dports = 443,
  apps = labels.media, when = SRCDST, severity = "medium",
  note = "Source port TCP 50,000-59,999 as doc 001 table (2) requires." }
