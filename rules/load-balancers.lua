-- Hardware load balancer ports (doc 003): "Hardware Load Balancer Ports if
-- Using Only Hardware Load Balancing" (active when load_balancing = "hlb")
-- and "Hardware Load Balancer Ports if Using DNS Load Balancing" (active when
-- load_balancing = "dns"; those pools still put web traffic behind a hardware
-- load balancer).
--
-- "Front End Server load balancer" -> fe_load_balancer, "Director load
-- balancer" -> director_load_balancer, "Mediation Server load balancer" ->
-- mediation_load_balancer (their VIPs). Ports open on a load balancer accept
-- any source, except "HTTPS (from reverse proxy)", which names it.
-- "(if the pool also runs Mediation Server)" -> collocated_mediation = true.
-- Row 6 of the DNS table is empty in the document (tests/rules/non_rules.tsv).

local function lb(t)
  t.from = t.from or "any"
  t.transport = t.transport or "tcp"
  rule(t)
end

local HLB = { load_balancing = "hlb" }
local DNS = { load_balancing = "dns" }

cite { doc = "003_90a6bcb524c2ccb8.txt", table = "Hardware Load Balancer Ports if Using Only Hardware Load Balancing" }

lb { id = "lb.hlb.fe.sip-tls-5061", ref = row(1, "Front End Server load balancer | 5061 | TCP (TLS)"), to = "fe_load_balancer", dports = 5061,
  apps = labels.sip_tls, when = HLB, severity = "high" }
lb { id = "lb.hlb.fe.https-444", ref = row(2, "Front End Server load balancer | 444 | HTTPS"), to = "fe_load_balancer", dports = 444,
  apps = labels.https, when = HLB, severity = "high" }
lb { id = "lb.hlb.fe.dcom-rpc-135", ref = row(3, "Front End Server load balancer | 135 | DCOM and remote procedure call (RPC)"), to = "fe_load_balancer", dports = 135,
  apps = labels.any, when = HLB, severity = "low" }
lb { id = "lb.hlb.fe.http-80", ref = row(4, "Front End Server load balancer | 80 | HTTP"), to = "fe_load_balancer", dports = 80,
  apps = labels.http, when = HLB, severity = "low" }
lb { id = "lb.hlb.fe.http-8080", ref = row(5, "Front End Server load balancer | 8080 | TCP - Client and device retrieval of root certificate from Front End Server - clients and devices authenticated by NTLM"), to = "fe_load_balancer", dports = 8080,
  apps = labels.http, when = HLB, severity = "low" }
lb { id = "lb.hlb.fe.https-443", ref = row(6, "Front End Server load balancer | 443 | HTTPS"), to = "fe_load_balancer", dports = 443,
  apps = labels.https, when = HLB, severity = "high" }
lb { id = "lb.hlb.fe.https-4443", ref = row(7, "Front End Server load balancer | 4443 | HTTPS (from reverse proxy)"), from = "reverse_proxy", to = "fe_load_balancer",
  dports = 4443, apps = labels.https, when = HLB, severity = "high" }
lb { id = "lb.hlb.fe.sip-5072", ref = row(8, "Front End Server load balancer | 5072 | TCP"), to = "fe_load_balancer", dports = 5072,
  apps = labels.sip_any, when = HLB, severity = "medium" }
lb { id = "lb.hlb.fe.sip-5073", ref = row(9, "Front End Server load balancer | 5073 | TCP"), to = "fe_load_balancer", dports = 5073,
  apps = labels.sip_any, when = HLB, severity = "medium" }
lb { id = "lb.hlb.fe.sip-5075", ref = row(10, "Front End Server load balancer | 5075 | TCP"), to = "fe_load_balancer", dports = 5075,
  apps = labels.sip_any, when = HLB, severity = "medium" }
lb { id = "lb.hlb.fe.sip-5076", ref = row(11, "Front End Server load balancer | 5076 | TCP"), to = "fe_load_balancer", dports = 5076,
  apps = labels.sip_any, when = HLB, severity = "medium" }
lb { id = "lb.hlb.fe.sip-5071", ref = row(12, "Front End Server load balancer | 5071 | TCP"), to = "fe_load_balancer", dports = 5071,
  apps = labels.sip_any, when = HLB, severity = "medium" }
lb { id = "lb.hlb.fe.bandwidth-policy-5080", ref = row(13, "Front End Server load balancer | 5080 | TCP"), to = "fe_load_balancer", dports = 5080,
  apps = labels.any, when = HLB, severity = "low" }
lb { id = "lb.hlb.fe.bandwidth-policy-448", ref = row(14, "Front End Server load balancer | 448 | TCP"), to = "fe_load_balancer", dports = 448,
  apps = labels.any, when = HLB, severity = "low" }
lb { id = "lb.hlb.med.sip-5070", ref = row(15, "Mediation Server load balancer | 5070 | TCP"), to = "mediation_load_balancer", dports = 5070,
  apps = labels.sip_any, when = HLB, severity = "medium" }
lb { id = "lb.hlb.fe-med.sip-5070", ref = row(16, "Front End Server load balancer (if the pool also runs Mediation Server) | 5070 | TCP"), to = "fe_load_balancer", dports = 5070,
  apps = labels.sip_any, when = { load_balancing = "hlb", collocated_mediation = true },
  severity = "medium" }
lb { id = "lb.hlb.dir.https-443", ref = row(17, "Director load balancer | 443 | HTTPS"), to = "director_load_balancer", dports = 443,
  apps = labels.https, when = HLB, severity = "high" }
lb { id = "lb.hlb.dir.https-444", ref = row(18, "Director load balancer | 444 | HTTPS"), to = "director_load_balancer", dports = 444,
  apps = labels.https, when = HLB, severity = "high" }
lb { id = "lb.hlb.dir.sip-tls-5061", ref = row(19, "Director load balancer | 5061 | TCP"), to = "director_load_balancer", dports = 5061,
  apps = labels.sip_tls, when = HLB, severity = "high",
  note = "The row says TCP; 5061 is the SIP over TLS port." }
lb { id = "lb.hlb.dir.https-4443", ref = row(20, "Director load balancer | 4443 | HTTPS (from reverse proxy)"), from = "reverse_proxy", to = "director_load_balancer",
  dports = 4443, apps = labels.https, when = HLB, severity = "high" }

cite { doc = "003_90a6bcb524c2ccb8.txt", table = "Hardware Load Balancer Ports if Using DNS Load Balancing" }

lb { id = "lb.dns.fe.http-80", ref = row(1, "Front End Server load balancer | 80 | HTTP"), to = "fe_load_balancer", dports = 80,
  apps = labels.http, when = DNS, severity = "low" }
lb { id = "lb.dns.fe.https-443", ref = row(2, "Front End Server load balancer | 443 | HTTPS"), to = "fe_load_balancer", dports = 443,
  apps = labels.https, when = DNS, severity = "high" }
lb { id = "lb.dns.fe.http-8080", ref = row(3, "Front End Server load balancer | 8080 | TCP - Client and device retrieval of root certificate from Front End Server - clients and devices authenticated by NTLM"), to = "fe_load_balancer", dports = 8080,
  apps = labels.http, when = DNS, severity = "low" }
lb { id = "lb.dns.fe.https-4443", ref = row(4, "Front End Server load balancer | 4443 | HTTPS (from reverse proxy)"), from = "reverse_proxy", to = "fe_load_balancer",
  dports = 4443, apps = labels.https, when = DNS, severity = "high" }
lb { id = "lb.dns.dir.https-443", ref = row(5, "Director load balancer | 443 | HTTPS"), to = "director_load_balancer", dports = 443,
  apps = labels.https, when = DNS, severity = "high" }
lb { id = "lb.dns.dir.https-4443", ref = row(7, "Director load balancer | 4443 | HTTPS (from reverse proxy)"), from = "reverse_proxy", to = "director_load_balancer",
  dports = 4443, apps = labels.https, when = DNS, severity = "high" }

-- The DNS table lists every port these load balancers carry: a flow to
-- another port of the VIP is not opened by any row, whatever a more general
-- rule says (the Edge internal interface's "Front End pool IP address", for
-- one): deny rules, active with load_balancing = "dns".
local DNS_ONLY = sentence("The following table shows the ports that need to be open on these hardware load balancers.")

rule { id = "lb.dns.fe.unlisted-ports", ref = DNS_ONLY, kind = "deny",
  from = "any", to = "fe_load_balancer", transport = { "tcp", "udp" },
  dports = { "1-79", "81-442", "444-4442", "4444-8079", "8081-65535" }, when = DNS, severity = "medium",
  note = "With DNS load balancing the Front End load balancer carries 80, 443, 8080 and 4443 only (doc 003)." }

rule { id = "lb.dns.dir.unlisted-ports", ref = DNS_ONLY, kind = "deny",
  from = "any", to = "director_load_balancer", transport = { "tcp", "udp" },
  dports = { "1-442", "444-4442", "4444-65535" }, when = DNS, severity = "medium",
  note = "With DNS load balancing the Director load balancer carries 443 and 4443 only (doc 003)." }
