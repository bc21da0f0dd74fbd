-- XMPP federation (doc 002 "Firewall Summary for Extensible Messaging and
-- Presence Protocol", doc 004 "Firewall Summary - Extensible Messaging and
-- Presence Protocol (XMPP)"). Active only when xmpp_federation = true.
--
-- "Access Edge service interface IP address" -> edge_access (the XMPP proxy
-- shares its address); "(Each) internal Edge Server Interface IP" ->
-- edge_internal. "Any" on 5269 is any address (federated XMPP partners on
-- the Internet). The 23456 row's "Any" is the path that the internal
-- interface table (rules/edge-internal.lua) writes "Any (can be defined as
-- Standard Edition server IP ... or pool IP address running the XMPP Gateway
-- service)", and its own comment names the source (the XMPP Gateway on the
-- Front End), so it reads the same way: any_or{ front_end, fe_load_balancer }.
-- Doc 004 row 3 states no transport; 23456 is TCP (MTLS), as doc 002 says.

local XMPP = { xmpp_federation = true }

local function xmpp(prefix, R)
  rule { id = prefix .. ".s2s-5269-in", ref = R[1],
    from = "any", to = "edge_access", transport = "tcp", dports = 5269,
    apps = labels.xmpp, when = XMPP, severity = "medium" }
  rule { id = prefix .. ".s2s-5269-out", ref = R[2],
    from = "edge_access", to = "any", transport = "tcp", dports = 5269,
    apps = labels.xmpp, when = XMPP, severity = "medium" }
  rule { id = prefix .. ".gateway-mtls-23456-in", ref = R[3],
    from = any_or { "front_end", "fe_load_balancer" }, to = "edge_internal",
    transport = "tcp", dports = 23456,
    apps = labels.xmpp_tls, when = XMPP, severity = "high" }
end

cite { doc = "002_0c217b23fef43165.txt", table = "Firewall Summary for Extensible Messaging and Presence Protocol" }

xmpp("xmpp.002", {
  row(1, "XMPP/TCP/5269 | Any | Edge Server Access Edge service interface IP address | Standard server-to-server communication port for XMPP. Allows communication to the Edge Server XMPP proxy from federated XMPP partners"),
  row(2, "XMPP/TCP/5269 | Edge Server Access Edge service interface IP address | Any | Standard server-to-server communication port for XMPP. Allows communication from the Edge Server XMPP proxy to federated XMPP partners"),
  row(3, "XMPP/MTLS/TCP/23456 | Any | Each internal Edge Server Interface IP | Internal XMPP traffic from the XMPP Gateway on the Front End Server or Front End pool to the Edge Server internal IP address or each Edge pool member's internal IP address"),
})

cite { doc = "004_eb0f73e4495f5ce0.txt", table = "Firewall Summary - Extensible Messaging and Presence Protocol (XMPP)" }

xmpp("xmpp.004", {
  row(1, "XMPP/TCP/5269 | Any | Access Edge service interface IP address | Standard server-to-server communication port for XMPP. Allows communication to the Edge Server XMPP proxy from federated XMPP partners"),
  row(2, "XMPP/TCP/5269 | Access Edge service interface IP address | Any | Standard server-to-server communication port for XMPP. Allows communication from the Edge Server XMPP proxy to federated XMPP partners"),
  row(3, "XMPP/MTLS/23456 | Any | Internal Edge Server Interface IP | Internal XMPP traffic from the XMPP Gateway on the Front End Server or Front End pool to the Edge Server"),
})
