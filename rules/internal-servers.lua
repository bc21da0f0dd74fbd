-- Internal server ports by role (doc 003, "Required Server Ports (by Server
-- Role)"): "the ports that need to be open on each internal server role".
--
-- Reading: a port opened on a role accepts flows from any address, unless the
-- row names the source ("from the PSTN gateway", "from Front End Servers",
-- "(from Reverse Proxy)"); then only from that role. Rows about *outgoing*
-- requests ("outgoing SIP requests ... to the PSTN gateway", "outbound E9-1-1
-- gateway") are flows from the row's server role to the named peer, on the
-- row's port.
--
-- Role readings: "Front End Servers" (and "... where the Central Management
-- store resides", "... running Conferencing Attendant") -> front_end;
-- "Front End Servers that also run a Collocated Mediation Server" ->
-- front_end, when collocated_mediation = true; "Directors" -> director;
-- "Mediation Servers" -> mediation; "Persistent Chat Front End Server" ->
-- persistent_chat; "Office Web Apps Servers" -> office_web_apps;
-- "All Servers" -> sets.lync_internal_servers (front_end, director,
-- mediation, persistent_chat, sba); "All internal servers" (audio media) ->
-- sets.audio_servers (front_end, mediation, sba: the text names the servers
-- that terminate audio, and an SBA holds a Mediation Server).
--
-- Expected labels: a row saying TLS or MTLS expects TLS (sip_tls on SIP
-- ports, psom on PSOM ports, tls otherwise); a SIP port whose row says only
-- "TCP" accepts cleartext SIP too (labels.sip_any); rows whose protocol has
-- no label of its own (DCOM/RPC, SMB, SQL Browser, the Bandwidth Policy
-- Service) expect nothing (labels.any).
--
-- Sources: the rows are "the ports that need to be open on each internal
-- server role", so an "any" source is any *internal* source: a deny rule
-- (srv.internal-sources) holds external roles (external clients, partners,
-- the Edge's external interfaces) to no_rule on these servers, whatever the
-- row; they reach the deployment through the Edge (doc 004: partners
-- "initiate communications to the Access Edge service").
--
-- Media port ranges are the server's own media ports. A range row gives an
-- inbound rule (destination port in range). A source range says which ports
-- a server's media leaves from, not where it may go: media out of a server
-- is judged by the receiving side's rows (clients' media range, other
-- servers' media ranges, the Edge internal 3478/443); only toward a PSTN
-- gateway, which has no rows of its own, does the server's range decide
-- (srv.all.audio-media-to-gateway). Media from a server on a source port
-- outside its ranges is a port_range finding (source-side port_range rules).

cite { doc = "003_90a6bcb524c2ccb8.txt", table = "Required Server Ports (by Server Role)" }

local COLLOCATED = { collocated_mediation = true }
local SIP5060 = { sip_tcp_5060 = true }

-- srv{...}: defaults from = "any", transport = "tcp"
local function srv(t)
  t.from = t.from or "any"
  t.transport = t.transport or "tcp"
  rule(t)
end

-- media range: the inbound rule for one row
local function media(id, ref, roles, transport, range, note)
  rule { id = id .. "-in", ref = ref, from = "any", to = roles, transport = transport,
    dports = range, apps = labels.media, severity = "medium", note = note }
end

rule { id = "srv.internal-sources", kind = "deny",
  ref = sentence("The following table lists the ports that need to be open on each internal server role."),
  from = sets.external, to = sets.internal_servers, transport = { "tcp", "udp" }, dports = "any",
  severity = "medium",
  note = "Doc 003's server and load balancer ports are opened for internal sources; external clients, "
      .. "partners and the Edge's external interfaces reach the deployment through the Edge." }

srv { id = "srv.all.sql-browser-1434", ref = row(1, "All Servers | SQL Browser | 1434 | UDP | SQL Browser for the local replicated copy of the the Central Management Store database."),
  to = sets.lync_internal_servers, transport = "udp", dports = 1434,
  apps = labels.any, severity = "low" }

srv { id = "srv.fe.sip-5060", ref = row(2, "Front End Servers | Lync Server Front-End service | 5060 | TCP | Optionally used by Standard Edition servers and Front End Servers for static routes to trusted services, such as remote call control servers."),
  to = "front_end", dports = 5060, apps = labels.sip_any, when = SIP5060, severity = "medium",
  note = "Optional (static routes to trusted services); active when sip_tcp_5060 = true." }

srv { id = "srv.fe.sip-tls-5061", ref = row(3, "Front End Servers | Lync Server Front-End service | 5061 | TCP (TLS) | Used by Standard Edition servers and Front End pools for all internal SIP communications between servers (MTLS), for SIP communications between Server and Client (TLS) and for SIP communications between Front End Servers and Mediation Servers (MTLS). Also used for communications with Monitoring Server."),
  to = "front_end", dports = 5061, apps = labels.sip_tls, severity = "high" }

srv { id = "srv.fe.https-444", ref = row(4, "Front End Servers | Lync Server Front-End service | 444 | HTTPS TCP | Used for HTTPS communication between the Focus (the Lync Server component that manages conference state) and the individual servers. This port is also used for TCP communication between Survivable Branch Appliances and Front End Servers."),
  to = "front_end", dports = 444, apps = labels.https, severity = "high" }

srv { id = "srv.fe.dcom-rpc-135", ref = row(5, "Front End Servers | Lync Server Front-End service | 135 | DCOM and remote procedure call (RPC) | Used for DCOM based operations such as Moving Users, User Replicator Synchronization, and Address Book Synchronization."),
  to = "front_end", dports = 135, apps = labels.any, severity = "low",
  note = "DCOM/RPC endpoint mapper, TCP." }

srv { id = "srv.fe.im-conf-sip-5062", ref = row(6, "Front End Servers | Lync Server IM Conferencing service | 5062 | TCP | Used for incoming SIP requests for instant messaging (IM) conferencing."),
  to = "front_end", dports = 5062, apps = labels.sip_any, severity = "medium" }

srv { id = "srv.fe.psom-8057", ref = row(7, "Front End Servers | Lync Server Web Conferencing service | 8057 | TCP (TLS) | Used to listen for Persistent Shared Object Model (PSOM) connections from client."),
  from = "client_internal", to = "front_end", dports = 8057, apps = labels.psom, severity = "high",
  note = "The row names the source: PSOM connections from clients (internal ones: external clients come "
      .. "through the Web Conferencing Edge). Doc 002 has PSOM 8057 from the Front End to the Edge, not back." }

srv { id = "srv.fe.psom-compat-8058", ref = row(8, "Front End Servers | Lync Server Web Conferencing Compatibility service | 8058 | TCP (TLS) | Used to listen for Persistent Shared Object Model (PSOM) connections from the Live Meeting client and previous versions of Lync Server."),
  to = "front_end", dports = 8058, apps = labels.psom, severity = "high" }

srv { id = "srv.fe.av-conf-sip-5063", ref = row(9, "Front End Servers | Lync Server Audio/Video Conferencing service | 5063 | TCP | Used for incoming SIP requests for audio/video (A/V) conferencing."),
  to = "front_end", dports = 5063, apps = labels.sip_any, severity = "medium" }

media("srv.fe.av-conf-video-media", row(10, "Front End Servers | Lync Server Audio/Video Conferencing service | 57501-65535 | TCP/UDP | Media port range used for video conferencing."), "front_end", { "tcp", "udp" }, "57501-65535")

srv { id = "srv.fe.web-compat-http-80", ref = row(11, "Front End Servers | Lync Server Web Compatibility service | 80 | HTTP | Used for communication from Front End Servers to the web farm FQDNs (the URLs used by IIS web components) when HTTPS is not used."),
  from = "front_end", to = "front_end", dports = 80, apps = labels.http, severity = "low",
  note = "The row names the source: Front End servers toward the web farm FQDNs." }

srv { id = "srv.fe.web-compat-https-443", ref = row(12, "Front End Servers | Lync Server Web Compatibility service | 443 | HTTPS | Used for communication from Front End Servers to the web farm FQDNs (the URLs used by IIS web components)."),
  from = "front_end", to = "front_end", dports = 443, apps = labels.https, severity = "high",
  note = "The row names the source: Front End servers toward the web farm FQDNs." }

srv { id = "srv.fe.web-compat-8080", ref = row(13, "Front End Servers | Lync Server Web Compatibility service | 8080 | TCP and HTTP | Used by web components for external access."),
  to = "front_end", dports = 8080, apps = labels.http, severity = "low" }

srv { id = "srv.fe.web-https-4443", ref = row(14, "Front End Servers | Web server component | 4443 | HTTPS | HTTPS (from Reverse Proxy) and HTTPS Front End inter-pool communications for Autodiscover sign-in."),
  from = { "reverse_proxy", "front_end" }, to = "front_end", dports = 4443,
  apps = labels.https, severity = "high",
  note = "The row names the sources: the reverse proxy and Front End inter-pool traffic." }

srv { id = "srv.fe.web-mtls-8060", ref = row(15, "Front End Servers | Web server component | 8060 | TCP (MTLS) |"),
  to = "front_end", dports = 8060, apps = labels.https, severity = "medium" }

srv { id = "srv.fe.web-mtls-8061", ref = row(16, "Front End Servers | Web server component | 8061 | TCP (MTLS) |"),
  to = "front_end", dports = 8061, apps = labels.https, severity = "medium" }

srv { id = "srv.fe.mobility-sip-mtls-5086", ref = row(17, "Front End Servers | Mobility Services component | 5086 | TCP (MTLS) | SIP port used by Mobility Services internal processes"),
  to = "front_end", dports = 5086, apps = labels.sip_tls, severity = "high" }

srv { id = "srv.fe.mobility-sip-mtls-5087", ref = row(18, "Front End Servers | Mobility Services component | 5087 | TCP (MTLS) | SIP port used by Mobility Services internal processes"),
  to = "front_end", dports = 5087, apps = labels.sip_tls, severity = "high" }

srv { id = "srv.fe.mobility-https-443", ref = row(19, "Front End Servers | Mobility Services component | 443 | HTTPS |"),
  to = "front_end", dports = 443, apps = labels.https, severity = "high" }

srv { id = "srv.fe.conf-attendant-sip-5064", ref = row(20, "Front End Servers | Lync Server Conferencing Attendant service (dial-in conferencing) | 5064 | TCP | Used for incoming SIP requests for dial-in conferencing."),
  to = "front_end", dports = 5064, apps = labels.sip_any, severity = "medium" }

srv { id = "srv.fe.conf-attendant-sip-5072", ref = row(21, "Front End Servers | Lync Server Conferencing Attendant service (dial-in conferencing) | 5072 | TCP | Used for incoming SIP requests for Attendant (dial in conferencing)."),
  to = "front_end", dports = 5072, apps = labels.sip_any, severity = "medium" }

srv { id = "srv.fe-med.sip-5070", ref = row(22, "Front End Servers that also run a Collocated Mediation Server | Lync Server Mediation service | 5070 | TCP | Used by the Mediation Server for incoming requests from the Front End Server to the Mediation Server."),
  from = "front_end", to = "front_end", dports = 5070, apps = labels.sip_any,
  when = COLLOCATED, severity = "medium",
  note = "The row names the source: the Front End server." }

srv { id = "srv.fe-med.gateway-sip-tls-5067", ref = row(23, "Front End Servers that also run a Collocated Mediation Server | Lync Server Mediation service | 5067 | TCP (TLS) | Used for incoming SIP requests from the PSTN gateway to the Mediation Server."),
  from = "pstn_gateway", to = "front_end", dports = 5067, apps = labels.sip_tls,
  when = COLLOCATED, severity = "high" }

srv { id = "srv.fe-med.gateway-sip-5068", ref = row(24, "Front End Servers that also run a Collocated Mediation Server | Lync Server Mediation service | 5068 | TCP | Used for incoming SIP requests from the PSTN gateway to the Mediation Server."),
  from = "pstn_gateway", to = "front_end", dports = 5068, apps = labels.sip_any,
  when = COLLOCATED, severity = "medium" }

srv { id = "srv.fe-med.to-gateway-sip-5081", ref = row(25, "Front End Servers that also run a Collocated Mediation Server | Lync Server Mediation service | 5081 | TCP | Used for outgoing SIP requests from the Mediation Server to the PSTN gateway."),
  from = "front_end", to = "pstn_gateway", dports = 5081, apps = labels.sip_any,
  when = COLLOCATED, severity = "medium",
  note = "Outgoing requests: read as the gateway-side destination port." }

srv { id = "srv.fe-med.to-gateway-sip-tls-5082", ref = row(26, "Front End Servers that also run a Collocated Mediation Server | Lync Server Mediation service | 5082 | TCP (TLS) | Used for outgoing SIP requests from the Mediation Server to the PSTN gateway."),
  from = "front_end", to = "pstn_gateway", dports = 5082, apps = labels.sip_tls,
  when = COLLOCATED, severity = "high",
  note = "Outgoing requests: read as the gateway-side destination port." }

srv { id = "srv.fe.app-sharing-sip-5065", ref = row(27, "Front End Servers | Lync Server Application Sharing service | 5065 | TCP | Used for incoming SIP listening requests for application sharing."),
  to = "front_end", dports = 5065, apps = labels.sip_any, severity = "medium" }

media("srv.fe.app-sharing-media", row(28, "Front End Servers | Lync Server Application Sharing service | 49152-65535 | TCP | Media port range used for application sharing."), "front_end", "tcp", "49152-65535")

srv { id = "srv.fe.announcement-sip-5073", ref = row(29, "Front End Servers | Lync Server Conferencing Announcement service | 5073 | TCP | Used for incoming SIP requests for the Lync Server Conferencing Announcement service (that is, for dial-in conferencing)."),
  to = "front_end", dports = 5073, apps = labels.sip_any, severity = "medium" }

srv { id = "srv.fe.call-park-sip-5075", ref = row(30, "Front End Servers | Lync Server Call Park service | 5075 | TCP | Used for incoming SIP requests for the Call Park application."),
  to = "front_end", dports = 5075, apps = labels.sip_any, severity = "medium" }

srv { id = "srv.fe.audio-test-sip-5076", ref = row(31, "Front End Servers | Lync Server Audio Test service | 5076 | TCP | Used for incoming SIP requests for the Audio Test service."),
  to = "front_end", dports = 5076, apps = labels.sip_any, severity = "medium" }

srv { id = "srv.fe.e911-gateway-sip-5066", ref = row(32, "Front End Servers | Not applicable | 5066 | TCP | Used for outbound Enhanced 9-1-1 (E9-1-1) gateway."),
  from = "front_end", to = "pstn_gateway", dports = 5066, apps = labels.sip_any,
  severity = "medium",
  note = "Outbound to the E9-1-1 (ELIN) gateway, which the topology lists as a pstn_gateway." }

srv { id = "srv.fe.response-group-sip-5071", ref = row(33, "Front End Servers | Lync Server Response Group service | 5071 | TCP | Used for incoming SIP requests for the Response Group application."),
  to = "front_end", dports = 5071, apps = labels.sip_any, severity = "medium" }

srv { id = "srv.fe.response-group-sip-mtls-8404", ref = row(34, "Front End Servers | Lync Server Response Group service | 8404 | TCP (MTLS) | Used for incoming SIP requests for the Response Group application."),
  to = "front_end", dports = 8404, apps = labels.sip_tls, severity = "high" }

srv { id = "srv.fe.bandwidth-policy-5080", ref = row(35, "Front End Servers | Lync Server Bandwidth Policy Service | 5080 | TCP | Used for call admission control by the Bandwidth Policy service for A/V Edge TURN traffic."),
  to = "front_end", dports = 5080, apps = labels.any, severity = "low" }

srv { id = "srv.fe.bandwidth-policy-448", ref = row(36, "Front End Servers | Lync Server Bandwidth Policy Service | 448 | TCP | Used for call admission control by the Lync Server Bandwidth Policy Service."),
  to = "front_end", dports = 448, apps = labels.any, severity = "low" }

srv { id = "srv.fe.cms-replicator-445", ref = row(37, "Front End Servers where the Central Management store resides | Lync Server Master Replicator Agent service | 445 | TCP | Used to push configuration data from the Central Management store to servers running Lync Server."),
  from = "front_end", to = sets.lync_internal_servers, dports = 445, apps = labels.any, severity = "low",
  note = "The push goes from the Front End holding the Central Management store to the servers running "
      .. "Lync Server: 445 on those servers, from a front_end (the topology does not say which one holds the store)." }

srv { id = "srv.all.sql-browser-1434-b", ref = row(38, "All Servers | SQL Browser | 1434 | UDP | SQL Browser for local replicated copy of Central Management store data in local SQL Server instance"),
  to = sets.lync_internal_servers, transport = "udp", dports = 1434,
  apps = labels.any, severity = "low" }

local R39 = row(39, "All internal servers | Various | 49152-57500 | TCP/UDP | Media port range used for audio conferencing on all internal servers. Used by all servers that terminate audio: Front End Servers (for Lync Server Conferencing Attendant service, Lync Server Conferencing Announcement service, and Lync Server Audio/Video Conferencing service), and Mediation Server.")

media("srv.all.audio-media", R39, sets.audio_servers, { "tcp", "udp" }, "49152-57500")

rule { id = "srv.all.audio-media-to-gateway", ref = R39,
  from = sets.audio_servers, to = "pstn_gateway", transport = { "tcp", "udp" },
  sports = "49152-57500", dports = "any", apps = labels.media, severity = "medium",
  note = "Media from the server's own range toward a PSTN gateway, whose ports no row gives." }

rule { id = "srv.all.audio-media-source", ref = R39, kind = "port_range",
  from = { "mediation", "sba" }, to = "any", transport = { "tcp", "udp" },
  sports = "49152-57500", dports = "any", apps = labels.media, severity = "medium",
  note = "Media from a Mediation Server or SBA leaves from 49152-57500; a source port outside it is out of range." }

rule { id = "srv.fe.media-source", ref = R39, kind = "port_range",
  from = "front_end", to = "any", transport = { "tcp", "udp" },
  sports = { "49152-57500", "57501-65535" }, dports = "any", apps = labels.media, severity = "medium",
  note = "Media from a Front End leaves from its audio (49152-57500), video (57501-65535, row 10) and "
      .. "application sharing (49152-65535, row 28) ranges; a source port outside them is out of range." }

rule { id = "srv.all.audio-media-outside-range", ref = R39, kind = "port_range",
  from = "any", to = sets.audio_servers, transport = { "tcp", "udp" }, dports = "1024-65535",
  apps = labels.media, severity = "medium",
  note = "Media (STUN/TURN, RTP, RTCP) toward an audio server on a port no media rule allows is outside its documented range." }

srv { id = "srv.owa.https-443", ref = row(40, "Office Web Apps Servers |  | 443 |  | Used by Lync Server 2013 to connect to Office Web Apps Server."),
  from = "front_end", to = "office_web_apps", dports = 443, apps = labels.https, severity = "high",
  note = "The row names the source: Lync Server (Front End) connects to Office Web Apps Server. The row states no protocol; 443 is HTTPS over TCP." }

srv { id = "srv.dir.sip-5060", ref = row(41, "Directors | Lync Server Front-End service | 5060 | TCP | Optionally used for static routes to trusted services, such as remote call control servers."),
  to = "director", dports = 5060, apps = labels.sip_any, when = SIP5060, severity = "medium",
  note = "Optional (static routes to trusted services); active when sip_tcp_5060 = true." }

srv { id = "srv.dir.https-444", ref = row(42, "Directors | Lync Server Front-End service | 444 | HTTPS TCP | Inter-server communication between Front End and Director. Additionally, client certificate publish (to Front End Servers) or validate if the client certificate has already been published."),
  to = "director", dports = 444, apps = labels.https, severity = "high" }

srv { id = "srv.dir.web-compat-http-80", ref = row(43, "Directors | Lync Server Web Compatibility service | 80 | TCP | Used for initial communication from Directors to the web farm FQDNs (the URLs used by IIS web components). In normal operation, will switch to HTTPS traffic, using port 443 and protocol type TCP."),
  from = "director", to = "director", dports = 80, apps = labels.http, severity = "low",
  note = "The row names the source: Directors toward the web farm FQDNs." }

srv { id = "srv.dir.web-compat-https-443", ref = row(44, "Directors | Lync Server Web Compatibility service | 443 | HTTPS | Used for communication from Directors to the web farm FQDNs (the URLs used by IIS web components)."),
  from = "director", to = "director", dports = 443, apps = labels.https, severity = "high",
  note = "The row names the source: Directors toward the web farm FQDNs." }

srv { id = "srv.dir.sip-tls-5061", ref = row(45, "Directors | Lync Server Front-End service | 5061 | TCP | Used for internal communications between servers and for client connections."),
  to = "director", dports = 5061, apps = labels.sip_tls, severity = "high",
  note = "The row says TCP; 5061 is the SIP over TLS port (the Front End row of the same port says TLS)." }

srv { id = "srv.med.sip-5070", ref = row(46, "Mediation Servers | Lync Server Mediation service | 5070 | TCP | Used by the Mediation Server for incoming requests from the Front End Server."),
  from = "front_end", to = "mediation", dports = 5070, apps = labels.sip_any, severity = "medium" }

srv { id = "srv.med.gateway-sip-tls-5067", ref = row(47, "Mediation Servers | Lync Server Mediation service | 5067 | TCP (TLS) | Used for incoming SIP requests from the PSTN gateway."),
  from = "pstn_gateway", to = "mediation", dports = 5067, apps = labels.sip_tls, severity = "high" }

srv { id = "srv.med.gateway-sip-5068", ref = row(48, "Mediation Servers | Lync Server Mediation service | 5068 | TCP | Used for incoming SIP requests from the PSTN gateway."),
  from = "pstn_gateway", to = "mediation", dports = 5068, apps = labels.sip_any, severity = "medium" }

srv { id = "srv.med.sip-mtls-5070", ref = row(49, "Mediation Servers | Lync Server Mediation service | 5070 | TCP (MTLS) | Used for SIP requests from the Front End Servers."),
  from = "front_end", to = "mediation", dports = 5070, apps = labels.sip_tls, severity = "high" }

srv { id = "srv.pchat.sip-mtls-5041", ref = row(50, "Persistent Chat Front End Server | Persistent Chat SIP | 5041 | TCP (MTLS) |"),
  to = "persistent_chat", dports = 5041, apps = labels.sip_tls, severity = "high" }

srv { id = "srv.pchat.wcf-tls-881", ref = row(51, "Persistent Chat Front End Server | Persistent Chat Windows Communication Foundation (WCF) | 881 | TCP (TLS) and TCP (MTLS) |"),
  to = "persistent_chat", dports = 881, apps = labels.https, severity = "high" }

srv { id = "srv.pchat.file-transfer-tls-443", ref = row(52, "Persistent Chat Front End Server | Persistent Chat File Transfer Service | 443 | TCP (TLS) |"),
  to = "persistent_chat", dports = 443, apps = labels.https, severity = "high" }
