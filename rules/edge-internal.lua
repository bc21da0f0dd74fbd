-- Edge internal interface (doc 002, "Firewall Summary for Single
-- Consolidated Edge with Private IP Addresses Using NAT: Internal Interface").
--
-- "Edge Server internal interface" -> edge_internal.
-- "Any (can be defined as X, Y ...)" -> any_or{ roles of X, Y }: the named
-- roles by default, any address when any_means_any = true (two rules each,
-- the second with id suffix ".any"). A "pool IP address" is the pool's load
-- balancer VIP (fe_load_balancer / director_load_balancer) when the pool sits
-- behind one, so those roles are listed with the servers. A plain "Any" is
-- any address.

cite { doc = "002_0c217b23fef43165.txt",
       table = "Firewall Summary for Single Consolidated Edge with Private IP Addresses Using NAT: Internal Interface" }

local FE_DIR = { "director", "director_load_balancer", "front_end", "fe_load_balancer" }

rule { id = "edge-int.xmpp-gateway-23456-in",
  ref = row(1, "XMPP/MTLS/TCP/23456 | Any (can be defined as Standard Edition server IP, Standard Edition server IP address, or pool IP address running the XMPP Gateway service) | Edge Server internal interface | Outbound XMPP traffic from XMPP Gateway service running on Front End Server or Front End pool"),
  from = any_or { "front_end", "fe_load_balancer" }, to = "edge_internal",
  transport = "tcp", dports = 23456,
  apps = labels.xmpp_tls, when = { xmpp_federation = true }, severity = "high" }

rule { id = "edge-int.sip-mtls-5061-in",
  ref = row(2, "SIP/MTLS/TCP/5061 | Any (can be defined as Director, Director pool IP address, Front End Server or Front End pool IP address) | Edge Server internal interface | Outbound SIP traffic (from Director, Director pool IP address, Front End Server or Front End pool IP address) to Edge Server internal interface"),
  from = any_or(FE_DIR), to = "edge_internal", transport = "tcp", dports = 5061,
  apps = labels.sip_tls, severity = "high" }

rule { id = "edge-int.sip-mtls-5061-out",
  ref = row(3, "SIP/MTLS/TCP/5061 | Edge Server internal interface | Any (can be defined as Director, Director pool IP address, Front End Server or Front End pool IP address) | Inbound SIP traffic (to Director, Director pool IP address, Front End Server or Front End pool IP address) from Edge Server internal interface"),
  from = "edge_internal", to = any_or(FE_DIR), transport = "tcp", dports = 5061,
  apps = labels.sip_tls, severity = "high" }

rule { id = "edge-int.psom-mtls-8057-in",
  ref = row(4, "PSOM/MTLS/TCP/8057 | Any (can be defined as Front End Server IP address, or each Front End Server IP address in a Front End pool) | Edge Server internal interface | Web conferencing traffic from Front End Server or each Front End Server if in a pool, to Edge Server internal interface"),
  from = any_or { "front_end" }, to = "edge_internal", transport = "tcp", dports = 8057,
  apps = labels.psom, severity = "high" }

rule { id = "edge-int.av-auth-sip-mtls-5062-in",
  ref = row(5, "SIP/MTLS/TCP/5062 | Any (can be defined as Front End Server IP address, or Front End pool IP address or any Survivable Branch Appliance or Survivable Branch Server using this Edge Server) | Edge Server internal interface | Authentication of A/V users (A/V authentication service) from Front End Server or Front End pool IP address or any Survivable Branch Appliance or Survivable Branch Server using this Edge Server"),
  from = any_or { "front_end", "fe_load_balancer", "sba" }, to = "edge_internal",
  transport = "tcp", dports = 5062,
  apps = labels.sip_tls, severity = "high" }

rule { id = "edge-int.av-stun-udp3478-in",
  ref = row(6, "STUN/MSTURN/UDP/3478 | Any | Edge Server internal interface | Preferred path for A/V media transfer between internal and external users, Survivable Branch Appliance or Survivable Branch Server"),
  from = "any", to = "edge_internal", transport = "udp", dports = 3478,
  apps = labels.media, severity = "medium" }

rule { id = "edge-int.av-stun-tcp443-in",
  ref = row(7, "STUN/MSTURN/TCP/443 | Any | Edge Server internal interface | Fallback path for A/V media transfer between internal and external users, Survivable Branch Appliance or Survivable Branch Server if UDP communication cannot be established, TCP is used for file transfer and desktop sharing"),
  from = "any", to = "edge_internal", transport = "tcp", dports = 443,
  apps = labels.media, severity = "medium" }

rule { id = "edge-int.cms-replication-https-4443-in",
  ref = row(8, "HTTPS/TCP/4443 | Any (can be defined as the Front End Server IP address, or pool that holds the Central Management store) | Edge Server internal interface | Replication of changes from the Central Management store to the Edge Server"),
  from = any_or { "front_end", "fe_load_balancer" }, to = "edge_internal",
  transport = "tcp", dports = 4443,
  apps = labels.https, severity = "high" }

rule { id = "edge-int.cls-mtls-50001-in",
  ref = row(9, "MTLS/TCP/50001 | Any | Edge Server internal interface | Centralized Logging Service controller using Lync Server Management Shell and Centralized Logging Service cmdlets, ClsController command line (ClsController.exe) or agent (ClsAgent.exe) commands and log collection"),
  from = "any", to = "edge_internal", transport = "tcp", dports = 50001,
  apps = labels.https, severity = "medium" }

rule { id = "edge-int.cls-mtls-50002-in",
  ref = row(10, "MTLS/TCP/50002 | Any | Edge Server internal interface | Centralized Logging Service controller using Lync Server Management Shell and Centralized Logging Service cmdlets, ClsController command line (ClsController.exe) or agent (ClsAgent.exe) commands and log collection"),
  from = "any", to = "edge_internal", transport = "tcp", dports = 50002,
  apps = labels.https, severity = "medium" }

rule { id = "edge-int.cls-mtls-50003-in",
  ref = row(11, "MTLS/TCP/50003 | Any | Edge Server internal interface | Centralized Logging Service controller using Lync Server Management Shell and Centralized Logging Service cmdlets, ClsController command line (ClsController.exe) or agent (ClsAgent.exe) commands and log collection"),
  from = "any", to = "edge_internal", transport = "tcp", dports = 50003,
  apps = labels.https, severity = "medium" }
