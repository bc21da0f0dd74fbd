-- lyncaudit rule language (Lua side).
--
-- This chunk returns a module M. The C side (or tests/rules/dump_rules.lua)
-- runs it once, with the label vocabulary as its argument (a list of
-- names, see LABEL_LIST below), then for each rules/*.lua file, sorted by name:
--     local env = M.new_env()
--     local chunk = load(source, "@rules/<file>.lua", "t", env)
--     chunk()
-- and finally reads M.rules() (the normalized rules) and M.options_schema().
-- docs/rules.md describes the language and the contract.
--
-- Errors in a rule file are raised with error(msg, 2) from the DSL function
-- the file called, so the message starts with "rules/<file>.lua:<line>:".
-- Nothing here uses the debug library.

local M = {}
M.version = "1"

---------------------------------------------------------------------------
-- Vocabulary
---------------------------------------------------------------------------

-- The one list of roles: the C side reads it once per load (M.roles(),
-- src/topology.c) for the names a topology may use and a rule may name, in
-- this order (at most 31). src/audit.c looks up by name the roles whose
-- meaning its verdicts depend on (the Edge's interfaces, clients, partners,
-- PSTN gateways: KNOWN_ROLES); a load without one of those is refused.
local ROLE_LIST = {
  "front_end", "director", "mediation", "pstn_gateway", "sba",
  "edge_internal", "edge_access", "edge_webconf", "edge_av",
  "reverse_proxy", "office_web_apps", "persistent_chat", "exchange_um",
  "fe_load_balancer", "director_load_balancer", "mediation_load_balancer",
  "client_internal", "client_external",
  "federation_partner", "public_im_partner", "xmpp_partner",
}
local ROLES = {}
for _, r in ipairs(ROLE_LIST) do ROLES[r] = true end

local TRANSPORTS = { tcp = true, udp = true, esp = true, ah = true }

-- " (did you mean 'x'?)" for the key of set closest to word when it is close
-- enough to be a misspelling (edit distance with swaps of neighbours: 1 for
-- words of up to 4 characters, 2 up to 8, 3 beyond), else "". The same rule
-- as src/suggest.c, for the topology file's keys, roles and options.
local function did_you_mean(word, set)
  if type(word) ~= "string" or #word > 64 then return "" end
  local limit = #word <= 4 and 1 or #word <= 8 and 2 or 3
  local names = {}
  for k in pairs(set) do if type(k) == "string" then names[#names + 1] = k end end
  table.sort(names)
  local best, best_d = nil, limit + 1
  for _, c in ipairs(names) do
    local n, m, d = #word, #c, {}
    for i = 0, n do d[i] = { [0] = i } end
    for j = 0, m do d[0][j] = j end
    for i = 1, n do
      for j = 1, m do
        local cost = word:byte(i) == c:byte(j) and 0 or 1
        local v = math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
        if i > 1 and j > 1 and word:byte(i) == c:byte(j - 1) and word:byte(i - 1) == c:byte(j) then
          v = math.min(v, d[i - 2][j - 2] + 1)
        end
        d[i][j] = v
      end
    end
    if d[n][m] == 0 then return "" end
    if d[n][m] < best_d then best, best_d = c, d[n][m] end
  end
  return best and string.format(" (did you mean '%s'?)", best) or ""
end

-- Flow labels a rule may expect: the Lync dissectors' own and the nDPI
-- names (lowercased) the rules use. The list is classify's (src/classify.c,
-- classify_rule_label): whoever runs this chunk passes it as the chunk's
-- argument. A typo in a rule file is an error.
local LABEL_LIST = {}
for i, l in ipairs((...) or {}) do LABEL_LIST[i] = l end
local LABELS = {}
for _, l in ipairs(LABEL_LIST) do LABELS[l] = true end

local KINDS = { allow = true, ipsec_exempt = true, port_range = true, deny = true }
local SEVERITIES = { high = true, medium = true, low = true }

-- Every topology option the rules may read (in `when`), with its meaning.
-- type: "boolean", "enum" (values), or "port_range" ({lo, hi} or nil).
local OPTIONS = {
  ocs2007_federation = {
    type = "boolean", default = false,
    doc = "A federation partner runs Office Communications Server 2007: "
       .. "TCP and UDP 50,000-59,999 open inbound and outbound on the A/V Edge "
       .. "(doc 001, doc 002 external rows 9-12). When false, UDP/TCP "
       .. "50,000-59,999 inbound to the A/V Edge is a port_range violation.",
  },
  xmpp_federation = {
    type = "boolean", default = false,
    doc = "The XMPP proxy (Edge) and XMPP gateway (Front End) are deployed: "
       .. "TCP 5269 on the Access Edge, TCP 23456 on the Edge internal interface.",
  },
  public_im = {
    type = "boolean", default = false,
    doc = "Public IM connectivity is configured: SIP 5061 with public IM "
       .. "partners and A/V with Live Messenger clients (doc 002/004 public IM tables).",
  },
  load_balancing = {
    type = "enum", values = { "dns", "hlb" }, default = "dns",
    doc = "\"hlb\": pools use only hardware load balancing (every port of "
       .. "doc 003's HLB-only table on the load balancer VIPs); \"dns\": DNS "
       .. "load balancing, the hardware load balancer carries web traffic only.",
  },
  client_media_ports = {
    type = "port_range", default = nil,
    doc = "{lo, hi}: the client media port range set with "
       .. "CsConferencingConfiguration (ClientMediaPortRange). nil means "
       .. "1024-65535 (doc 003, Required Client Ports). Rules refer to it "
       .. "as the port range \"client_media_ports\".",
  },
  port_policy = {
    type = "enum", values = { "destination", "source_and_destination" },
    default = "destination",
    doc = "Firewall style for the A/V Edge external interface (doc 001): "
       .. "\"destination\" checks destination ports only; "
       .. "\"source_and_destination\" also requires the Edge's source ports "
       .. "(TCP 50,000-59,999 toward TCP 443, UDP 3478 toward UDP 3478).",
  },
  any_means_any = {
    type = "boolean", default = false,
    doc = "Widen every \"Any (can be defined as X, Y ...)\" cell to any "
       .. "address. Default false: only the roles the cell names (least "
       .. "privilege, \"open only the ports required\").",
  },
  collocated_mediation = {
    type = "boolean", default = true,
    doc = "Front End servers also run a collocated Mediation Server "
       .. "(Lync 2013's default): the Mediation ports of doc 003 open on "
       .. "front_end and 5070 on the Front End load balancer.",
  },
  ipsec_deployed = {
    type = "boolean", default = false,
    doc = "IPsec is deployed between the internal roles (doc 000 is written "
       .. "\"for enterprise networks where IPsec has been deployed\"): IKE "
       .. "(UDP 500/4500), ESP and AH between internal roles are ok on the paths "
       .. "the IPsec exceptions do not exempt, and stay ipsec violations on the "
       .. "exempt ones. Default false: a capture cannot show whether a site "
       .. "deployed IPsec, and without it IPsec is a path no row opens (no_rule).",
  },
  unconfirmed = {
    type = "enum", values = { "count", "finding" }, default = "count",
    doc = "A flow whose label stays \"unknown\" (no dissector recognised it: "
       .. "encrypted, truncated by a short snapshot length, or not the "
       .. "protocol at all) on a port whose rule expects a protocol is "
       .. "allowed by the port alone. \"count\": it is ok, and counted "
       .. "(rules.unconfirmed, runs.flows_unconfirmed); \"finding\": it is "
       .. "an unconfirmed_protocol violation (severity low) citing the rule. "
       .. "Default \"count\", so that existing verdicts do not change.",
  },
  sip_tcp_5060 = {
    type = "boolean", default = false,
    doc = "TCP 5060 on Front End servers and Directors for static routes to "
       .. "trusted services (doc 003: \"optionally used\"). Default false.",
  },
}

-- The five Microsoft articles the rules encode, by the name a rule's cite{}
-- gives them (the file each came in): the article's title, its date
-- (ms.date, ISO), its asset id (ms.assetid) and its address, as the
-- article's own front matter gives them (doc 004 has none: its title line and
-- "Topic Last Modified"; no article names its address). The report, the
-- summary and the events cite these, never the file name (docs/rules.md).
-- tests/rules/test_documents.py checks them against the articles.
local DOCUMENTS = {
  ["000_7b1a4ef05ba5af1a.txt"] = {
    title = "IPsec exceptions in Lync Server 2013",
    date = "2015-03-09", asset_id = "241f1eca-6f2f-44de-90b1-2cb659cbe27c" },
  ["001_5c850280d6352e6d.txt"] = {
    title = "Determine external A/V firewall and port requirements for Lync Server 2013",
    date = "2015-03-09", asset_id = "3b849dc7-175d-40d1-820d-80e6ade6d332" },
  ["002_0c217b23fef43165.txt"] = {
    title = "Port summary - Single consolidated edge with private IP addresses using NAT in Lync Server 2013",
    date = "2015-03-09", asset_id = "3c1a389f-5f42-4719-a05b-e0b84aa3eb9e" },
  ["003_90a6bcb524c2ccb8.txt"] = {
    title = "Ports and protocols for internal servers in Lync Server 2013",
    date = "2016-04-06", asset_id = "c94063f1-e802-4a61-be90-022fc185335e" },
  ["004_eb0f73e4495f5ce0.txt"] = {
    title = "Port summary - SIP, XMPP federation, and public instant messaging in Lync Server 2013",
    date = "2013-03-15", asset_id = nil },
}

M.ROLE_LIST = ROLE_LIST
M.LABEL_LIST = LABEL_LIST

---------------------------------------------------------------------------
-- State shared by every rule file of one load
---------------------------------------------------------------------------

local collected = {}     -- normalized rules, in load order
local ids = {}           -- id -> "file:line:" where it was first defined

function M.reset()
  collected = {}
  ids = {}
end

---------------------------------------------------------------------------
-- Helpers
---------------------------------------------------------------------------

local function copy(t)
  if type(t) ~= "table" then return t end
  local c = {}
  for k, v in pairs(t) do c[k] = copy(v) end
  return c
end

-- "file:line:" of the rule file line that called the DSL function that
-- called where3() (level 4 as seen from inside pcall(error, ...)).
local function where3()
  local _, msg = pcall(error, "", 4)
  return msg
end

local function as_list(v)
  if type(v) == "table" then return v end
  return { v }
end

-- Port spec -> array of {lo, hi} (or the string "client_media_ports").
-- Accepts: 443, "443", "50000-59999", "any", "client_media_ports",
-- or a list of those. Returns nil, err on a bad spec.
local function parse_ports(spec, field)
  if spec == nil then return nil, "missing " .. field end
  if spec == "any" then return { { 0, 65535 } } end
  local out = {}
  for _, p in ipairs(as_list(spec)) do
    if type(p) == "number" then
      if p ~= math.floor(p) or p < 1 or p > 65535 then
        return nil, string.format("bad port %s in %s (1-65535)", tostring(p), field)
      end
      out[#out + 1] = { math.floor(p), math.floor(p) }
    elseif p == "client_media_ports" then
      out[#out + 1] = "client_media_ports"
    elseif p == "any" then
      return nil, "'any' cannot be mixed with other ports in " .. field
    elseif type(p) == "string" then
      local lo, hi = p:match("^%s*(%d+)%s*%-%s*(%d+)%s*$")
      if not lo then lo = p:match("^%s*(%d+)%s*$"); hi = lo end
      if not lo then
        return nil, string.format("bad port '%s' in %s", p, field)
      end
      lo, hi = tonumber(lo), tonumber(hi)
      if lo < 1 or hi > 65535 or lo > hi then
        return nil, string.format("bad port range '%s' in %s (1-65535, lo <= hi)", p, field)
      end
      out[#out + 1] = { lo, hi }
    else
      return nil, string.format("bad port %s in %s", tostring(p), field)
    end
  end
  if #out == 0 then return nil, "empty " .. field end
  return out
end

-- Marker for "Any (can be defined as X, Y ...)" cells.
local ANY_OR = {}

local function parse_roles(spec, field)
  if spec == nil then return nil, "missing " .. field end
  if spec == "any" then return "any" end
  if type(spec) == "table" and getmetatable(spec) == ANY_OR then
    return nil, field .. ": any_or{} must be expanded first"
  end
  local out, seen = {}, {}
  for _, r in ipairs(as_list(spec)) do
    if r == "any" then
      return nil, "'any' cannot be mixed with roles in " .. field
    end
    if type(r) ~= "string" or not ROLES[r] then
      return nil, string.format("unknown role '%s' in %s%s", tostring(r), field, did_you_mean(r, ROLES))
    end
    if not seen[r] then seen[r] = true; out[#out + 1] = r end
  end
  if #out == 0 then return nil, "empty " .. field end
  return out
end

local function parse_transport(spec)
  if spec == nil then return nil, "missing transport" end
  local out, seen = {}, {}
  for _, t in ipairs(as_list(spec)) do
    if type(t) ~= "string" or not TRANSPORTS[t] then
      return nil, string.format("unknown transport '%s'%s (tcp, udp, esp, ah)", tostring(t), did_you_mean(t, TRANSPORTS))
    end
    if not seen[t] then seen[t] = true; out[#out + 1] = t end
  end
  if #out == 0 then return nil, "empty transport" end
  return out
end

local function parse_apps(spec)
  if spec == nil then return {} end
  local out, seen = {}, {}
  for _, a in ipairs(as_list(spec)) do
    if #LABEL_LIST == 0 then
      return nil, "no label list: lua/dsl.lua must be given classify's labels"
    end
    if type(a) ~= "string" or not LABELS[a] then
      return nil, string.format("unknown app label '%s'%s", tostring(a), did_you_mean(a, LABELS))
    end
    if not seen[a] then seen[a] = true; out[#out + 1] = a end
  end
  return out
end

local function check_option(name, value)
  local o = OPTIONS[name]
  if not o then
    return nil, string.format("unknown option '%s' in when%s", tostring(name), did_you_mean(name, OPTIONS))
  end
  if o.type == "boolean" then
    if type(value) ~= "boolean" then
      return nil, string.format("option '%s' takes true or false", name)
    end
  elseif o.type == "enum" then
    local ok = false
    for _, v in ipairs(o.values) do if v == value then ok = true end end
    if not ok then
      local vals = {}
      for _, v in ipairs(o.values) do vals[v] = true end
      return nil, string.format("option '%s' takes one of: %s%s", name, table.concat(o.values, ", "),
        did_you_mean(value, vals))
    end
  else
    return nil, string.format("option '%s' cannot be used in when", name)
  end
  return true
end

local function parse_when(spec)
  if spec == nil then return nil end
  if type(spec) ~= "table" then return nil, "when must be a table of options" end
  local out, n = {}, 0
  for k, v in pairs(spec) do
    local ok, err = check_option(k, v)
    if not ok then return nil, err end
    out[k] = v
    n = n + 1
  end
  if n == 0 then return nil end
  return out
end

local function parse_ref(spec, cited)
  if spec == nil then return nil, "missing ref (every rule cites its document row)" end
  if type(spec) ~= "table" then return nil, "ref must be a table (use row(n, text))" end
  for k in pairs(spec) do
    if k ~= "doc" and k ~= "table" and k ~= "row" and k ~= "text" then
      return nil, string.format("unknown field '%s' in ref", tostring(k))
    end
  end
  local doc = spec.doc or (cited and cited.doc)
  local tbl = spec.table or (cited and cited.table)
  if type(doc) ~= "string" or doc == "" then
    return nil, "missing ref: no doc (call cite{} first or give ref.doc)"
  end
  if type(tbl) ~= "string" or tbl == "" then
    return nil, "missing ref: no table title (call cite{} first or give ref.table)"
  end
  local r = spec.row
  if type(r) ~= "number" or r < 0 or r ~= math.floor(r) then
    return nil, "missing ref: row must be a positive integer (0: a sentence of the text, see sentence())"
  end
  if type(spec.text) ~= "string" or spec.text == "" then
    return nil, "missing ref: no row text"
  end
  return { doc = doc, table = tbl, row = math.floor(r), text = spec.text }
end

local RULE_FIELDS = {
  id = true, from = true, to = true, transport = true, dports = true,
  sports = true, apps = true, kind = true, when = true, severity = true,
  ref = true, check = true, note = true,
}

-- Normalize one rule spec (from/to already plain). Returns rule or nil, err.
local function normalize(spec, cited)
  local r = {}
  if type(spec.id) ~= "string" or not spec.id:match("^[a-z0-9][a-z0-9._-]*$") then
    return nil, string.format("bad or missing id %s (lowercase letters, digits, . _ -)",
      spec.id == nil and "" or "'" .. tostring(spec.id) .. "'")
  end
  r.id = spec.id
  local err
  r.from, err = parse_roles(spec.from, "from"); if not r.from then return nil, err end
  r.to, err = parse_roles(spec.to, "to"); if not r.to then return nil, err end
  r.transport, err = parse_transport(spec.transport); if not r.transport then return nil, err end
  r.dports, err = parse_ports(spec.dports, "dports"); if not r.dports then return nil, err end
  if spec.sports ~= nil and spec.sports ~= "any" then
    r.sports, err = parse_ports(spec.sports, "sports"); if not r.sports then return nil, err end
  end
  r.apps, err = parse_apps(spec.apps); if not r.apps then return nil, err end
  r.kind = spec.kind or "allow"
  if not KINDS[r.kind] then
    return nil, string.format("unknown kind '%s'%s (allow, ipsec_exempt, port_range, deny)", tostring(r.kind),
      did_you_mean(r.kind, KINDS))
  end
  r.severity = spec.severity or "medium"
  if not SEVERITIES[r.severity] then
    return nil, string.format("unknown severity '%s'%s (high, medium, low)", tostring(r.severity),
      did_you_mean(r.severity, SEVERITIES))
  end
  if spec.when ~= nil then
    r.when, err = parse_when(spec.when)
    if err then return nil, err end
  end
  r.ref, err = parse_ref(spec.ref, cited); if not r.ref then return nil, err end
  if spec.check ~= nil and type(spec.check) ~= "function" then
    return nil, "check must be a function(flow) returning true|false, reason"
  end
  r.check = spec.check
  if spec.note ~= nil and type(spec.note) ~= "string" then
    return nil, "note must be a string"
  end
  r.note = spec.note
  return r
end

-- Expand any_or{} markers into the two rules the contract wants.
local function expand(spec)
  local f_any = type(spec.from) == "table" and getmetatable(spec.from) == ANY_OR
  local t_any = type(spec.to) == "table" and getmetatable(spec.to) == ANY_OR
  if not f_any and not t_any then return { spec } end
  if spec.when ~= nil and type(spec.when) ~= "table" then
    return nil, "when must be a table of options"
  end
  if spec.when and spec.when.any_means_any ~= nil then
    return nil, "any_or{} sets when.any_means_any itself; do not set it"
  end
  local strict, wide = copy(spec), copy(spec)
  strict.when = copy(spec.when) or {}
  wide.when = copy(spec.when) or {}
  strict.when.any_means_any = false
  wide.when.any_means_any = true
  wide.id = spec.id .. ".any"
  if f_any then strict.from = spec.from.roles; wide.from = "any" end
  if t_any then strict.to = spec.to.roles; wide.to = "any" end
  strict.check, wide.check = spec.check, spec.check
  return { strict, wide }
end

---------------------------------------------------------------------------
-- The environment of one rule file
---------------------------------------------------------------------------

local function strict_table(name, t)
  return setmetatable(t, {
    __index = function(tbl, k)
      error(string.format("unknown name '%s.%s'%s", name, tostring(k), did_you_mean(k, tbl)), 2)
    end,
  })
end

local function frozen_copy(lib, drop)
  local c = {}
  for k, v in pairs(lib) do
    if not (drop and drop[k]) then c[k] = v end
  end
  return c
end

function M.new_env()
  local cited = nil      -- current {doc, table} of this file

  local env = {
    ipairs = ipairs, pairs = pairs, tostring = tostring, tonumber = tonumber,
    type = type, error = error, select = select, next = next,
    string = frozen_copy(string, { dump = true }),
    table = frozen_copy(table),
    math = frozen_copy(math),
  }

  -- cite{ doc = "...", table = "..." }: the document and table the
  -- following row() calls of this file refer to.
  function env.cite(t)
    if type(t) ~= "table" then error("cite expects { doc = ..., table = ... }", 2) end
    for k in pairs(t) do
      if k ~= "doc" and k ~= "table" then
        error(string.format("unknown field '%s' in cite", tostring(k)), 2)
      end
    end
    if type(t.doc) ~= "string" or not t.doc:match("^[%w_.-]+%.txt$") then
      error("cite: doc must be a seed file name like '003_90a6bcb524c2ccb8.txt'", 2)
    end
    if not DOCUMENTS[t.doc] then
      error(string.format("cite: '%s' is none of the five documents (lua/dsl.lua DOCUMENTS)", t.doc), 2)
    end
    if type(t.table) ~= "string" or t.table == "" then
      error("cite: missing table title", 2)
    end
    cited = { doc = t.doc, table = t.table }
  end

  -- row(n, text): a reference to data row n (1-based) of the cited table.
  function env.row(n, text)
    if not cited then error("row() before cite{}", 2) end
    if type(n) ~= "number" or n < 1 or n ~= math.floor(n) then
      error("row: row number must be a positive integer", 2)
    end
    if type(text) ~= "string" or text == "" then
      error("row: missing row text", 2)
    end
    return { doc = cited.doc, table = cited.table, row = n, text = text }
  end

  -- sentence(text): a reference to a sentence of the cited document's text
  -- (not a table row): row 0 of the cited table. For a rule that a
  -- document's prose decides (doc 000: "where IPsec has been deployed").
  function env.sentence(text)
    if not cited then error("sentence() before cite{}", 2) end
    if type(text) ~= "string" or text == "" then
      error("sentence: missing text", 2)
    end
    return { doc = cited.doc, table = cited.table, row = 0, text = text }
  end

  -- any_or{ "director", "front_end" }: an "Any (can be defined as ...)"
  -- cell. The rule becomes two rules: `id` with these roles, active when
  -- any_means_any = false, and `id.any` with "any", when any_means_any = true.
  function env.any_or(roles)
    local list, err = parse_roles(roles, "any_or")
    if not list or list == "any" then error(err or "any_or needs roles", 2) end
    return setmetatable({ roles = list }, ANY_OR)
  end

  -- range(lo, hi) -> "lo-hi"
  function env.range(lo, hi)
    if type(lo) ~= "number" or type(hi) ~= "number" then
      error("range(lo, hi) takes two numbers", 2)
    end
    return string.format("%d-%d", lo, hi)
  end

  -- rule{ ... }: declare a rule (two with any_or).
  function env.rule(spec)
    if type(spec) ~= "table" then error("rule expects a table: rule{ ... }", 2) end
    for k in pairs(spec) do
      if not RULE_FIELDS[k] then
        error(string.format("unknown field '%s' in rule %s%s", tostring(k),
          type(spec.id) == "string" and ("'" .. spec.id .. "'") or "", did_you_mean(k, RULE_FIELDS)), 2)
      end
    end
    local list, err = expand(spec)
    if not list then error(err, 2) end
    local out = {}
    for _, s in ipairs(list) do
      local r, e = normalize(s, cited)
      if not r then
        error(string.format("rule %s: %s",
          type(spec.id) == "string" and ("'" .. spec.id .. "'") or "", e), 2)
      end
      if ids[r.id] then
        error(string.format("duplicate rule id '%s' (first defined at %s)", r.id,
          (ids[r.id]:gsub(":%s*$", ""))), 2)
      end
      out[#out + 1] = r
    end
    local pos = where3()
    for _, r in ipairs(out) do
      ids[r.id] = pos
      collected[#collected + 1] = r
    end
  end

  -- Label presets (strict: a typo is an error).
  env.labels = strict_table("labels", {
    sip_tls = { "sip_tls", "tls" },              -- SIP over TLS / MTLS
    sip_any = { "sip_tls", "tls", "sip" },       -- a row that says only "TCP" on a SIP port
    psom    = { "psom", "tls" },                 -- PSOM over TLS
    https   = { "tls" },                         -- HTTPS, MTLS (nDPI says tls)
    http    = { "http" },
    media   = { "rtp", "rtcp", "stun", "msturn" },  -- STUN/MS-TURN, RTP/RTCP
    xmpp    = { "xmpp" },
    xmpp_tls = { "xmpp", "tls" },
    dns     = { "dns" },
    dhcp    = { "dhcp" },
    any     = {},                                -- no expectation
  })

  -- Role sets used by several rule files.
  env.sets = strict_table("sets", {
    clients = { "client_internal", "client_external" },
    -- "All Servers" of doc 003: the internal Lync server roles
    lync_internal_servers = { "front_end", "director", "mediation", "persistent_chat", "sba" },
    -- servers that terminate audio (doc 003, "All internal servers" row)
    audio_servers = { "front_end", "mediation", "sba" },
    -- the roles outside the organisation's internal network: external
    -- clients, partners, and the Edge's external interfaces
    external = { "client_external", "federation_partner", "public_im_partner",
                 "xmpp_partner", "edge_access", "edge_webconf", "edge_av" },
    -- the roles inside it (every other role; an address in no role is in
    -- neither set)
    internal = { "director", "front_end", "mediation", "pstn_gateway", "sba",
                 "edge_internal", "reverse_proxy", "office_web_apps", "persistent_chat",
                 "exchange_um", "fe_load_balancer", "director_load_balancer",
                 "mediation_load_balancer", "client_internal" },
    -- the ports of doc 003's server table and load balancer tables
    internal_servers = { "front_end", "director", "mediation", "sba", "persistent_chat",
                         "office_web_apps", "fe_load_balancer", "director_load_balancer",
                         "mediation_load_balancer" },
  })

  return setmetatable(env, {
    __index = function(tbl, k)
      error(string.format("unknown name '%s'%s", tostring(k), did_you_mean(k, tbl)), 2)
    end,
  })
end

---------------------------------------------------------------------------
-- Port overrides: the topology's `ports` section (docs/topology.md)
---------------------------------------------------------------------------
-- A deployment may move a service off its documented port (Topology
-- Builder lets it). Each override names a role, a transport, the documented
-- port (or range) and the port the topology gives. Before the rules are
-- compiled, every rule toward that role (dports) or from it (sports) that
-- names exactly the documented port is split: a copy for that role and
-- transport with the moved port, id "<id>@topology:<port>", the same
-- document reference, and a note saying where the port came from; the
-- original keeps the other roles and transports. The documented port on
-- that role is then allowed by no rule of it: a flow there is a finding,
-- a port_range one ("<id>@documented:<port>") whose message says why.

local port_overrides = {}

local function range_text(g)
  return g[1] == g[2] and tostring(g[1]) or (g[1] .. "-" .. g[2])
end

-- The line of text where needle appears (the nth time) after the "ports" key.
local function ports_line(text, needle, nth)
  if type(text) ~= "string" then return 0 end
  local start = text:find("ports%s*=") or 1
  local at = start
  for _ = 1, nth or 1 do
    at = needle and text:find(needle, at + 1, true) or at
  end
  local line = 1
  for _ in text:sub(1, at):gmatch("\n") do line = line + 1 end
  return line
end

local OVERRIDE_FIELDS = { role = true, transport = true, default = true, port = true, source = true }

-- One entry of ports -> list of normalized overrides (one per transport), or nil, err, token.
local function parse_override(e, i)
  local where = "ports[" .. i .. "]"
  if type(e) ~= "table" then return nil, where .. " must be a table { role = ..., transport = ..., default = ..., port = ... }" end
  for k in pairs(e) do
    if not OVERRIDE_FIELDS[k] then
      return nil, string.format("unknown field '%s' in %s%s (role, transport, default, port, source)", tostring(k), where,
        did_you_mean(k, OVERRIDE_FIELDS)), tostring(k)
    end
  end
  if type(e.role) ~= "string" or not ROLES[e.role] then
    return nil, string.format("unknown role '%s' in %s%s", tostring(e.role), where, did_you_mean(e.role, ROLES)),
      tostring(e.role)
  end
  local ts, err = parse_transport(e.transport)
  if not ts then return nil, err .. " in " .. where, tostring(e.transport) end
  local out = {}
  local from, to
  for _, f in ipairs({ "default", "port" }) do
    local v = e[f]
    if type(v) == "number" and (v ~= math.floor(v) or v < 1 or v > 65535) then
      return nil, string.format("port %s outside 1-65535 in %s.%s", tostring(v), where, f), tostring(v)
    end
    local g, perr = parse_ports(v, where .. "." .. f)
    if not g then return nil, perr, type(v) == "string" and v or f end
    if #g ~= 1 or type(g[1]) ~= "table" then
      return nil, string.format("%s.%s must be one port or one range", where, f), f
    end
    if f == "default" then from = g[1] else to = g[1] end
  end
  if e.source ~= nil and type(e.source) ~= "string" then
    return nil, where .. ".source must be a string", "source"
  end
  for _, t in ipairs(ts) do
    if t ~= "tcp" and t ~= "udp" then return nil, "ports move tcp or udp ports only in " .. where, t end
    out[#out + 1] = { role = e.role, transport = t, default = from, port = to, source = e.source }
  end
  return out
end

-- Called by the C side with the topology's ports table and its text:
-- returns nil when every entry is good, else message, line.
function M.set_ports(list, text)
  port_overrides = {}
  if type(list) ~= "table" then return "ports must be a list of { role, transport, default, port }", ports_line(text) end
  local seen, per_role = {}, {}
  for i, e in ipairs(list) do
    if type(e) == "table" and type(e.role) == "string" then per_role[e.role] = (per_role[e.role] or 0) + 1 end
    local ovs, err, token = parse_override(e, i)
    if not ovs then return err, ports_line(text, token) end
    for _, ov in ipairs(ovs) do
      local key = ov.role .. "/" .. ov.transport .. "/" .. range_text(ov.default)
      if seen[key] then
        return string.format("ports[%d] moves %s %s %s again (first in ports[%d])", i, ov.role,
          ov.transport, range_text(ov.default), seen[key]), ports_line(text, '"' .. ov.role .. '"', per_role[ov.role])
      end
      seen[key] = i
      port_overrides[#port_overrides + 1] = ov
    end
  end
  return nil
end

local function has(list, v)
  if type(list) ~= "table" then return false end
  for _, x in ipairs(list) do if x == v then return true end end
  return false
end

local function without(list, v)
  local out = {}
  for _, x in ipairs(list) do if x ~= v then out[#out + 1] = x end end
  return out
end

-- The rule's port list with the documented range replaced, or nil when it
-- does not name it.
local function moved_ports(list, ov)
  if type(list) ~= "table" then return nil end
  local out, hit = {}, false
  for i, g in ipairs(list) do
    if type(g) == "table" and g[1] == ov.default[1] and g[2] == ov.default[2] then
      out[i] = { ov.port[1], ov.port[2] }
      hit = true
    else
      out[i] = copy(g)
    end
  end
  return hit and out or nil
end

-- Splits rule r by override ov on one side (roles field, ports field).
local function split(r, ov, side, pside, out)
  local ports = has(r[side], ov.role) and has(r.transport, ov.transport) and moved_ports(r[pside], ov)
  if not ports then return false end
  local moved = copy(r)
  moved.check = r.check
  moved[side] = { ov.role }
  moved.transport = { ov.transport }
  moved[pside] = ports
  local p = range_text(ov.port)
  moved.id = r.id .. "@topology:" .. p
  moved.note = string.format("%s %s %s of %s from the topology%s instead of the documented %s%s",
    pside == "dports" and "port" or "source port", ov.transport, p, ov.role,
    ov.source and (" (" .. ov.source .. ")") or "", range_text(ov.default),
    r.note and ("; " .. r.note) or "")
  out[#out + 1] = moved
  local others = without(r[side], ov.role)
  if #others > 0 then
    local rest = copy(r)
    rest.check = r.check
    rest[side] = others
    out[#out + 1] = rest
  end
  local other_t = without(r.transport, ov.transport)
  if #other_t > 0 then
    local rest = copy(r)
    rest.check = r.check
    rest[side] = { ov.role }
    rest.transport = other_t
    rest.id = r.id .. "@" .. table.concat(other_t, ",")
    out[#out + 1] = rest
  end
  return true
end

-- A flow to the documented port of a moved service: a port_range rule
-- whose message says the topology moved it (the first moved rule's row).
local function documented_port_rule(r, ov)
  local d = range_text(ov.default)
  return {
    id = r.id .. "@documented:" .. d, from = "any", to = { ov.role }, transport = { ov.transport },
    dports = { { ov.default[1], ov.default[2] } }, apps = {}, kind = "port_range",
    when = copy(r.when), severity = r.severity, ref = copy(r.ref),
    note = string.format("the topology moves this service of %s from the documented %s %s to %s%s: "
      .. "nothing of it should answer on %s", ov.role, ov.transport, d, range_text(ov.port),
      ov.source and (" (" .. ov.source .. ")") or "", d),
  }
end

-- The rules after one override.
local function apply_override(rules, ov)
  local out, first = {}, nil
  for _, r in ipairs(rules) do
    if split(r, ov, "to", "dports", out) then
      first = first or r
    elseif not split(r, ov, "from", "sports", out) then
      out[#out + 1] = r
    end
  end
  if first then out[#out + 1] = documented_port_rule(first, ov) end
  return out
end

---------------------------------------------------------------------------
-- Read-out for the C side
---------------------------------------------------------------------------

-- The normalized rules, in load order. Each: id, from, to, transport,
-- dports, sports (nil = any), apps, kind, when (nil = always), severity,
-- ref {doc, table, row, text}, check (function or nil), note (or nil).
function M.rules()
  local out = {}
  for i, r in ipairs(collected) do
    local c = copy(r)
    c.check = r.check
    out[i] = c
  end
  for _, ov in ipairs(port_overrides) do out = apply_override(out, ov) end
  return out
end

-- Every option the rules may read: name -> {type, default, values?, doc}.
function M.options_schema()
  return copy(OPTIONS)
end

-- The documents rules may cite, in name order: a list of
-- {doc, title, date, asset_id (or nil), url (or nil)}.
function M.documents()
  local names, out = {}, {}
  for k in pairs(DOCUMENTS) do names[#names + 1] = k end
  table.sort(names)
  for i, k in ipairs(names) do
    local d = DOCUMENTS[k]
    out[i] = { doc = k, title = d.title, date = d.date, asset_id = d.asset_id, url = d.url }
  end
  return out
end

function M.roles() return copy(ROLE_LIST) end
function M.labels() return copy(LABEL_LIST) end

return M
