-- Client ports (doc 003, "Required Client Ports").
--
-- "Clients" -> client_internal / client_external. The 443, 3478 and 5061
-- rows are "for external user access": external clients toward the Edge
-- services (Access Edge for SIP, Web Conferencing Edge for PSOM, A/V Edge for
-- STUN/MS-TURN). The table's note widens them: "required for any scenario in
-- which the client must traverse the organization's firewall (for example,
-- any external communications or meetings hosted by other organizations)",
-- so each row also gives a rule from client_internal to a federation partner
-- (the other organisation's Edge; place its addresses in federation_partner). DHCP (67/68) is the client's UDP 68 toward a DHCP server's
-- UDP 67 (a Lync Registrar answers DHCPINFORM); listed phones are internal
-- clients too. The file transfer range 6891-6901 is between clients.
-- The media ranges "1024-65535 *" are the client's own ports: the footnote
-- makes them configurable (ClientMediaPortRange), so they are the port range
-- "client_media_ports" (topology option; nil = 1024-65535) as the destination
-- of flows toward a client, and the source of a client's own media. Audio
-- and video media to a client port outside that range, or from one, is a
-- port_range violation. Client-to-client rows (file transfer, media) are
-- judged on flows between two clients.

cite { doc = "003_90a6bcb524c2ccb8.txt", table = "Required Client Ports" }

local MEDIA_RANGE = "client_media_ports"

rule { id = "client.dhcp", ref = row(1, "Clients | 67/68 | DHCP | Used by Lync Server to find the Registrar FQDN (that is, if DNS SRV fails and manual settings are not configured)."),
  from = "client_internal", to = "any", transport = "udp", sports = 68, dports = 67,
  apps = labels.dhcp, severity = "low" }

local R_sip_tls_443 = row(2, "Clients | 443 | TCP (TLS) | Used for client-to-server SIP traffic for external user access.")
rule { id = "client.ext.sip-tls-443", ref = R_sip_tls_443,
  from = "client_external", to = "edge_access", transport = "tcp", dports = 443,
  apps = labels.sip_tls, severity = "high" }
rule { id = "client.int.sip-tls-443-out", ref = R_sip_tls_443,
  from = "client_internal", to = "federation_partner", transport = "tcp", dports = 443,
  apps = labels.sip_tls, severity = "high",
  note = "Through the firewall to another organisation's Edge (the table's note: meetings hosted by other organizations)." }

local R_psom_443 = row(3, "Clients | 443 | TCP (PSOM/TLS) | Used for external user access to web conferencing sessions.")
rule { id = "client.ext.psom-443", ref = R_psom_443,
  from = "client_external", to = "edge_webconf", transport = "tcp", dports = 443,
  apps = labels.psom, severity = "high" }
rule { id = "client.int.psom-443-out", ref = R_psom_443,
  from = "client_internal", to = "federation_partner", transport = "tcp", dports = 443,
  apps = labels.psom, severity = "high",
  note = "Through the firewall to another organisation's Edge (the table's note: meetings hosted by other organizations)." }

local R_av_msturn_tcp443 = row(4, "Clients | 443 | TCP (STUN/MSTURN) | Used for external user access to A/V sessions and media (TCP)")
rule { id = "client.ext.av-msturn-tcp443", ref = R_av_msturn_tcp443,
  from = "client_external", to = "edge_av", transport = "tcp", dports = 443,
  apps = labels.media, severity = "medium" }
rule { id = "client.int.av-msturn-tcp443-out", ref = R_av_msturn_tcp443,
  from = "client_internal", to = "federation_partner", transport = "tcp", dports = 443,
  apps = labels.media, severity = "medium",
  note = "Through the firewall to another organisation's Edge (the table's note: meetings hosted by other organizations)." }

local R_av_msturn_udp3478 = row(5, "Clients | 3478 | UDP (STUN/MSTURN) | Used for external user access to A/V sessions and media (UDP)")
rule { id = "client.ext.av-msturn-udp3478", ref = R_av_msturn_udp3478,
  from = "client_external", to = "edge_av", transport = "udp", dports = 3478,
  apps = labels.media, severity = "medium" }
rule { id = "client.int.av-msturn-udp3478-out", ref = R_av_msturn_udp3478,
  from = "client_internal", to = "federation_partner", transport = "udp", dports = 3478,
  apps = labels.media, severity = "medium",
  note = "Through the firewall to another organisation's Edge (the table's note: meetings hosted by other organizations)." }

local R_sip_mtls_5061 = row(6, "Clients | 5061 | TCP (MTLS) | Used for client-to-server SIP traffic for external user access.")
rule { id = "client.ext.sip-mtls-5061", ref = R_sip_mtls_5061,
  from = "client_external", to = "edge_access", transport = "tcp", dports = 5061,
  apps = labels.sip_tls, severity = "high" }
rule { id = "client.int.sip-mtls-5061-out", ref = R_sip_mtls_5061,
  from = "client_internal", to = "federation_partner", transport = "tcp", dports = 5061,
  apps = labels.sip_tls, severity = "high",
  note = "Through the firewall to another organisation's Edge (the table's note: meetings hosted by other organizations)." }

rule { id = "client.legacy-file-transfer", ref = row(7, "Clients | 6891-6901 | TCP | Used for file transfer between Lync clients and previous clients (clients of Microsoft Office Communications Server 2007 R2, Microsoft Office Communications Server 2007, and Live Communications Server 2005)."),
  from = sets.clients, to = sets.clients, transport = "tcp", dports = "6891-6901",
  apps = labels.any, severity = "low" }

local R8 = row(8, "Clients | 1024-65535 * | TCP/UDP | Audio port range (minimum of 20 ports required)")
rule { id = "client.audio-media", ref = R8,
  from = "any", to = sets.clients, transport = { "tcp", "udp" }, dports = MEDIA_RANGE,
  apps = labels.media, severity = "medium" }
rule { id = "client.audio-media-outside-range", ref = R8, kind = "port_range",
  from = "any", to = sets.clients, transport = { "tcp", "udp" }, dports = "1024-65535",
  apps = labels.media, severity = "medium",
  note = "Media toward a client port outside client_media_ports." }
rule { id = "client.media-source", ref = R8, kind = "port_range",
  from = sets.clients, to = "any", transport = { "tcp", "udp" }, sports = MEDIA_RANGE, dports = "any",
  apps = labels.media, severity = "medium",
  note = "A client's audio and video (row 9) leave from client_media_ports; media from a source port outside it is out of range." }

local R9 = row(9, "Clients | 1024-65535 * | TCP/UDP | Video port range (minimum of 20 ports required).")
rule { id = "client.video-media", ref = R9,
  from = "any", to = sets.clients, transport = { "tcp", "udp" }, dports = MEDIA_RANGE,
  apps = labels.media, severity = "medium" }
rule { id = "client.video-media-outside-range", ref = R9, kind = "port_range",
  from = "any", to = sets.clients, transport = { "tcp", "udp" }, dports = "1024-65535",
  apps = labels.media, severity = "medium",
  note = "Media toward a client port outside client_media_ports." }

rule { id = "client.p2p-file-transfer", ref = row(10, "Clients | 1024-65535 * | TCP | Peer-to-peer file transfer (for conferencing file transfer, clients use PSOM)."),
  from = sets.clients, to = sets.clients, transport = "tcp", dports = MEDIA_RANGE,
  apps = labels.any, severity = "low",
  note = "Between clients only (peer-to-peer); the row names no protocol, so any label." }

rule { id = "client.app-sharing", ref = row(11, "Clients | 1024-65535 * | TCP | Application sharing."),
  from = "any", to = sets.clients, transport = "tcp", dports = MEDIA_RANGE,
  apps = labels.media, severity = "medium" }

rule { id = "client.phones-dhcp", ref = row(12, "Aastra 6721ip common area phone Aastra 6725ip desk phone HP 4110 IP Phone (common area phone) HP 4120 IP Phone (desk phone) Polycom CX500 IP common area phone Polycom CX600 IP desk phone Polycom CX700 IP desk phone Polycom CX3000 IP conference phone | 67/68 | DHCP | Used by the listed devices to find the Lync Server certificate, provisioning FQDN, and Registrar FQDN."),
  from = "client_internal", to = "any", transport = "udp", sports = 68, dports = 67,
  apps = labels.dhcp, severity = "low",
  note = "The listed IP phones are placed in client_internal." }
