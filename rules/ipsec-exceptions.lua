-- IPsec exceptions (doc 000, "Recommended IPsec Exceptions").
--
-- Every row says: IPsec must not run on this path ("Do not authenticate").
-- kind = "ipsec_exempt": the C side raises an `ipsec` violation when it sees
-- IKE (UDP 500/4500), ESP or AH from a `from` address to a `to` address.
-- Transport and ports say which traffic the exemption covers; IPsec hides
-- them, so the C side matches IPsec flows on the role path only, except a
-- rule whose ports are narrower than "any" (row 15, Clients), which it holds
-- against the UDP ports an IKE or UDP-encapsulated ESP flow shows (see
-- docs/rules.md).
--
-- Role readings:
--   "A/V Edge Server Internal"  -> edge_internal
--   "A/V Edge Server External"  -> edge_av
--   "Front End Server running Conferencing Attendant", "Front End Servers",
--   "Application Sharing Servers" (the Application Sharing service runs on
--   Front End servers, doc 003) -> front_end
--   "Exchange Unified Messaging" -> exchange_um

cite { doc = "000_7b1a4ef05ba5af1a.txt", table = "Recommended IPsec Exceptions" }

local function exempt(t)
  t.kind = "ipsec_exempt"
  t.dports = t.dports or "any"
  t.severity = t.severity or "medium"
  rule(t)
end

exempt { id = "ipsec.av-edge-internal-in",
  ref = row(1, "A/V Edge Server Internal Inbound | Any | A/V Edge Server Internal | UDP and TCP | Any | Any | Do not authenticate"),
  from = "any", to = "edge_internal", transport = { "udp", "tcp" } }

exempt { id = "ipsec.av-edge-external-in",
  ref = row(2, "A/V Edge Server External Inbound | Any | A/V Edge Server External | UDP and TCP | Any | Any | Do not authenticate"),
  from = "any", to = "edge_av", transport = { "udp", "tcp" } }

exempt { id = "ipsec.av-edge-internal-out",
  ref = row(3, "A/V Edge Server Internal Outbound | A/V Edge Server Internal | Any | UDP & TCP | Any | Any | Do not authenticate"),
  from = "edge_internal", to = "any", transport = { "udp", "tcp" } }

exempt { id = "ipsec.av-edge-external-out",
  ref = row(4, "A/V Edge Server External Outbound | A/V Edge Server External | Any | UDP and TCP | Any | Any | Do not authenticate"),
  from = "edge_av", to = "any", transport = { "udp", "tcp" } }

exempt { id = "ipsec.mediation-in",
  ref = row(5, "Mediation Server Inbound | Any | Mediation Server(s) | UDP and TCP | Any | Any | Do not authenticate"),
  from = "any", to = { "mediation", "sba" }, transport = { "udp", "tcp" },
  note = "A Survivable Branch Appliance holds a Mediation Server (doc 003): sba too." }

exempt { id = "ipsec.mediation-out",
  ref = row(6, "Mediation Server Outbound | Mediation Server(s) | Any | UDP and TCP | Any | Any | Do not authenticate"),
  from = { "mediation", "sba" }, to = "any", transport = { "udp", "tcp" },
  note = "A Survivable Branch Appliance holds a Mediation Server (doc 003): sba too." }

exempt { id = "ipsec.conf-attendant-in",
  ref = row(7, "Conferencing Attendant Inbound | Any | Front End Server running Conferencing Attendant | UDP and TCP | Any | Any | Do not authenticate"),
  from = "any", to = "front_end", transport = { "udp", "tcp" },
  note = "Conferencing Attendant runs on Front End servers (doc 003)." }

exempt { id = "ipsec.conf-attendant-out",
  ref = row(8, "Conferencing Attendant Outbound | Front End Server running Conferencing Attendant | Any | UDP and TCP | Any | Any | Do not authenticate"),
  from = "front_end", to = "any", transport = { "udp", "tcp" },
  note = "Conferencing Attendant runs on Front End servers (doc 003)." }

exempt { id = "ipsec.av-conferencing-in",
  ref = row(9, "A/V Conferencing Inbound | Any | Front End Servers | UDP and TCP | Any | Any | Do not authenticate"),
  from = "any", to = "front_end", transport = { "udp", "tcp" } }

exempt { id = "ipsec.av-conferencing-out",
  ref = row(10, "A/V Conferencing Outbound | Front End Servers | Any | UDP and TCP | Any | Any | Do not authenticate"),
  from = "front_end", to = "any", transport = { "udp", "tcp" } }

exempt { id = "ipsec.exchange-um-in",
  ref = row(11, "Exchange Inbound | Any | Exchange Unified Messaging | UDP and TCP | Any | Any | Do not authenticate"),
  from = "any", to = "exchange_um", transport = { "udp", "tcp" } }

exempt { id = "ipsec.app-sharing-in",
  ref = row(12, "Application Sharing Servers Inbound | Any | Application Sharing Servers | TCP | Any | Any | Do not authenticate"),
  from = "any", to = "front_end", transport = "tcp",
  note = "The Application Sharing service runs on Front End servers (doc 003, port 5065 and 49152-65535)." }

exempt { id = "ipsec.app-sharing-out",
  ref = row(13, "Application Sharing Server Outbound | Application Sharing Servers | Any | TCP | Any | Any | Do not authenticate"),
  from = "front_end", to = "any", transport = "tcp",
  note = "The Application Sharing service runs on Front End servers (doc 003, port 5065 and 49152-65535)." }

exempt { id = "ipsec.exchange-um-out",
  ref = row(14, "Exchange Outbound | Exchange Unified Messaging | Any | UDP and TCP | Any | Any | Do not authenticate"),
  from = "exchange_um", to = "any", transport = { "udp", "tcp" } }

exempt { id = "ipsec.clients-media",
  ref = row(15, "Clients | Any | Any | UDP | Specified media port range | Any | Do not authenticate"),
  from = sets.clients, to = "any", transport = "udp", sports = "client_media_ports",
  note = "The row is the clients' (its name; its source IP says Any): UDP from the client media port range. IPsec hides the ports of ESP and AH, "
      .. "so the C side holds this row against what a capture can show: an IPsec flow (IKE or ESP "
      .. "over UDP) whose UDP source port is in the client media range and is not IKE's own 500 or 4500." }

-- Doc 000 is written "for enterprise networks where IPsec has been deployed":
-- IPsec is expected between internal roles, and disabled only on the paths
-- above. With ipsec_deployed = true, IKE, ESP and AH between internal roles
-- are allowed; on an exempt path the exemption decides (an ipsec violation).
local DEPLOYED = sentence("For enterprise networks where Internet Protocol security (IPsec) (see IETF RFC 4301-4309) has been deployed, IPsec must be disabled over the range of ports used for the delivery of audio, video, and panorama video.")

rule { id = "ipsec.deployed-ike", ref = DEPLOYED,
  from = sets.internal, to = sets.internal, transport = "udp", dports = { 500, 4500 },
  apps = { "ike", "esp" }, when = { ipsec_deployed = true }, severity = "medium",
  note = "IKE (and ESP over UDP 4500) between internal roles where IPsec is deployed." }

rule { id = "ipsec.deployed-esp-ah", ref = DEPLOYED,
  from = sets.internal, to = sets.internal, transport = { "esp", "ah" }, dports = "any",
  apps = labels.any, when = { ipsec_deployed = true }, severity = "medium",
  note = "ESP and AH between internal roles where IPsec is deployed." }
