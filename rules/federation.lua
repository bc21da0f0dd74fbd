-- SIP federation and public IM connectivity (doc 002 and doc 004, which
-- repeat the same tables: "Firewall Summary for Federation" / "Firewall
-- Summary - SIP Federation" and "Firewall Summary - Public Instant Messaging
-- Connectivity").
--
-- Role readings:
--   "Access Edge service public IP address", "Edge Server Access Edge
--   service", "Edge Server Access interface" -> edge_access (the public
--   address maps to the role through the topology's nat table);
--   "Public IM connectivity partners", "Live Messenger clients" ->
--   public_im_partner (put the public IM provider's and its clients'
--   addresses in that role);
--   "Clients" -> client_external (external user access).
-- Doc 004's A/V rows name "Edge Server Access interface" where doc 002's same
-- rows name the "A/V Edge service": STUN/MS-TURN 3478 and RTP 50,000-59,999
-- are A/V Edge ports, so both map to edge_av.
-- Every public IM row is active only when public_im = true.
-- The A/V TCP 50,000-59,999 rows are the Edge's source range (doc 001); the
-- Messenger client's port is not documented, so any destination port.
-- The Edge's outbound UDP 3478 follows port_policy like rules/edge-external.lua.

local function public_im(prefix, R, av_note)
  local PIM = { public_im = true }
  rule { id = prefix .. ".sip-mtls-5061-in", ref = R[1],
    from = "public_im_partner", to = "edge_access", transport = "tcp", dports = 5061,
    apps = labels.sip_tls, when = PIM, severity = "high" }
  rule { id = prefix .. ".sip-mtls-5061-out", ref = R[2],
    from = "edge_access", to = "public_im_partner", transport = "tcp", dports = 5061,
    apps = labels.sip_tls, when = PIM, severity = "high" }
  rule { id = prefix .. ".client-sip-tls-443-in", ref = R[3],
    from = "client_external", to = "edge_access", transport = "tcp", dports = 443,
    apps = labels.sip_tls, when = PIM, severity = "high" }
  rule { id = prefix .. ".av-rtp-tcp-out", ref = R[4],
    from = "edge_av", to = "public_im_partner", transport = "tcp",
    sports = "50000-59999", dports = "any",
    apps = labels.media, when = PIM, severity = "medium",
    note = "Edge source range 50,000-59,999 (doc 001); " .. (av_note or "") }
  rule { id = prefix .. ".av-stun-udp3478-out", ref = R[5],
    from = "edge_av", to = "public_im_partner", transport = "udp", dports = 3478,
    apps = labels.media, when = { public_im = true, port_policy = "destination" },
    severity = "medium", note = av_note }
  rule { id = prefix .. ".av-stun-udp3478-out-srcdst", ref = R[5],
    from = "edge_av", to = "public_im_partner", transport = "udp", sports = 3478, dports = 3478,
    apps = labels.media, when = { public_im = true, port_policy = "source_and_destination" },
    severity = "medium", note = av_note }
  rule { id = prefix .. ".av-stun-udp3478-in", ref = R[6],
    from = "public_im_partner", to = "edge_av", transport = "udp", dports = 3478,
    apps = labels.media, when = PIM, severity = "medium", note = av_note }
end

-- doc 002 ------------------------------------------------------------------

cite { doc = "002_0c217b23fef43165.txt", table = "Firewall Summary for Federation" }

rule { id = "fed.002.sip-mtls-5061-out",
  ref = row(1, "Access/SIP(MTLS)/TCP/5061 | Access Edge service public IP address | Any | For federated and public IM connectivity using SIP"),
  from = "edge_access", to = "any", transport = "tcp", dports = 5061,
  apps = labels.sip_tls, severity = "high" }

cite { doc = "002_0c217b23fef43165.txt", table = "Firewall Summary - Public Instant Messaging Connectivity" }

public_im("pim.002", {
  row(1, "Access/SIP(MTLS)/TCP/5061 | Public IM connectivity partners | Edge Server Access Edge service | For federated and public IM connectivity using SIP"),
  row(2, "Access/SIP(MTLS)/TCP/5061 | Edge Server Access Edge service | Public IM connectivity partners | For federated and public IM connectivity using SIP"),
  row(3, "Access/SIP(TLS)/TCP/443 | Clients | Edge Server Access Edge service | Client-to-server SIP traffic for external user access"),
  row(4, "A/V/RTP/TCP/50,000-59,999 | Edge Server A/V Edge service | Live Messenger clients | Used for A/V sessions with Windows Live Messenger if public IM connectivity is configured."),
  row(5, "A/V/STUN,MSTURN/UDP/3478 | Edge Server A/V Edge service | Live Messenger clients | Required for public IM connectivity with Windows Live Messenger"),
  row(6, "A/V/STUN,MSTURN/UDP/3478 | Live Messenger clients | Edge Server A/V Edge service | Required for public IM connectivity with Windows Live Messenger"),
})

-- doc 004 ------------------------------------------------------------------

cite { doc = "004_eb0f73e4495f5ce0.txt", table = "Firewall Summary - SIP Federation" }

rule { id = "fed.004.sip-mtls-5061-out",
  ref = row(1, "Access/SIP(MTLS)/TCP/5061 | Access Edge service public IP address | Any | For federated and public IM connectivity using SIP"),
  from = "edge_access", to = "any", transport = "tcp", dports = 5061,
  apps = labels.sip_tls, severity = "high" }

cite { doc = "004_eb0f73e4495f5ce0.txt", table = "Firewall Summary – Public Instant Messaging Connectivity" }

public_im("pim.004", {
  row(1, "Access/SIP(MTLS)/TCP/5061 | Public IM connectivity partners | Edge Server Access interface | For federated and public IM connectivity that use SIP."),
  row(2, "Access/SIP(MTLS)/TCP/5061 | Edge Server Access interface | Public IM connectivity partners | For federated and public IM connectivity that use SIP."),
  row(3, "Access/SIP(TLS)/TCP/443 | Clients | Edge Server Access interface | Client-to-server SIP traffic for external user access."),
  row(4, "A/V/RTP/TCP/50,000-59,999 | Edge Server Access interface | Live Messenger clients | Used for A/V sessions with Windows Live Messenger if public IM connectivity is configured."),
  row(5, "A/V/STUN,MSTURN/UDP/3478 | Edge Server Access interface | Live Messenger clients | Required for public IM connectivity with Windows Live Messenger."),
  row(6, "A/V/STUN,MSTURN/UDP/3478 | Live Messenger clients | Edge Server Access interface | Required for public IM connectivity with Windows Live Messenger."),
}, "doc 004 names the Access interface; these are A/V Edge ports (doc 002's same row names the A/V Edge service).")

