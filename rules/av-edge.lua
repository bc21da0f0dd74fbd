-- External A/V Edge firewall ports (doc 001).
--
-- Doc 001 gives the same four paths in two firewall styles:
--   table (1): destination ports only   -> when port_policy = "destination"
--   table (2): source and destination   -> when port_policy = "source_and_destination"
-- The Edge's TCP 50,000-59,999 is its *source* range toward TCP 443.
-- The table "General Protocol Usage for UDP and TCP in Audio/Video and Media
-- Traffic" has no ports or addresses; its two rows are listed, with the
-- reason, in tests/rules/non_rules.tsv.
-- The OCS 2007 note of doc 001 (TCP/UDP 50,000-59,999 inbound and outbound)
-- is not a table row; the rows of doc 002 that say the same carry it
-- (rules/edge-external.lua, option ocs2007_federation).

local DEST = { port_policy = "destination" }
local SRCDST = { port_policy = "source_and_destination" }

cite { doc = "001_5c850280d6352e6d.txt",
       table = "External A/V Firewall Port Requirements for External User Access (1)" }

rule { id = "av-edge.dst.tcp443-out",
  ref = row(1, "A/V Edge service interface | Any | TCP 443"),
  from = "edge_av", to = "any", transport = "tcp", dports = 443,
  apps = labels.media, when = DEST, severity = "medium" }

rule { id = "av-edge.dst.udp3478-out",
  ref = row(2, "A/V Edge service interface | Any | UDP 3478"),
  from = "edge_av", to = "any", transport = "udp", dports = 3478,
  apps = labels.media, when = DEST, severity = "medium" }

rule { id = "av-edge.dst.tcp443-in",
  ref = row(3, "Any | A/V Edge service interface | TCP 443"),
  from = "any", to = "edge_av", transport = "tcp", dports = 443,
  apps = labels.media, when = DEST, severity = "medium" }

rule { id = "av-edge.dst.udp3478-in",
  ref = row(4, "Any | A/V Edge service interface | UDP 3478"),
  from = "any", to = "edge_av", transport = "udp", dports = 3478,
  apps = labels.media, when = DEST, severity = "medium" }

cite { doc = "001_5c850280d6352e6d.txt",
       table = "External A/V Firewall Port Requirements for External User Access (2)" }

rule { id = "av-edge.srcdst.tcp443-out",
  ref = row(1, "A/V Edge service interface | Any | TCP 50,000-59,999 | TCP 443"),
  from = "edge_av", to = "any", transport = "tcp",
  sports = "50000-59999", dports = 443,
  apps = labels.media, when = SRCDST, severity = "medium" }

rule { id = "av-edge.srcdst.udp3478-out",
  ref = row(2, "A/V Edge service interface | Any | UDP 3478 | UDP 3478"),
  from = "edge_av", to = "any", transport = "udp",
  sports = 3478, dports = 3478,
  apps = labels.media, when = SRCDST, severity = "medium" }

rule { id = "av-edge.srcdst.tcp443-in",
  ref = row(3, "Any | A/V Edge service interface | Any | TCP 443"),
  from = "any", to = "edge_av", transport = "tcp", sports = "any", dports = 443,
  apps = labels.media, when = SRCDST, severity = "medium" }

rule { id = "av-edge.srcdst.udp3478-in",
  ref = row(4, "Any | A/V Edge service interface | Any | UDP 3478"),
  from = "any", to = "edge_av", transport = "udp", sports = "any", dports = 3478,
  apps = labels.media, when = SRCDST, severity = "medium" }
