-- lua/dsl.lua's port overrides on rules written here: which rules split,
-- what each part keeps, and the errors of a bad ports section.
-- Usage: lua5.4 tests/topology/test_ports_dsl.lua REPO_ROOT
local root = arg[1] or "."
local f = assert(io.open(root .. "/lua/dsl.lua", "rb"))
local src = f:read("a")
f:close()
local env = { pcall = pcall, error = error, setmetatable = setmetatable, getmetatable = getmetatable,
  pairs = pairs, ipairs = ipairs, type = type, tostring = tostring, tonumber = tonumber,
  select = select, next = next, string = string, table = table, math = math }
local M = assert(load(src, "@lua/dsl.lua", "t", env))()

local rules_src = [[
cite { doc = "002_0c217b23fef43165.txt", table = "T" }
rule { id = "a", ref = row(1, "r1"), from = "any", to = { "edge_access", "edge_webconf" },
  transport = { "tcp", "udp" }, dports = 443, note = "n" }
rule { id = "b", ref = row(2, "r2"), from = "edge_av", to = "any", transport = "tcp",
  sports = "50000-59999", dports = 443 }
rule { id = "c", ref = row(3, "r3"), from = "any", to = "edge_webconf", transport = "tcp",
  dports = { 443, 8057 } }
rule { id = "d", ref = row(4, "r4"), from = "edge_webconf", to = "any", transport = "tcp", dports = 443 }
]]
assert(load(rules_src, "@t.lua", "t", M.new_env()))()

local failures = 0
local function expect(cond, what)
  print((cond and "ok   " or "FAIL ") .. what)
  if not cond then failures = failures + 1 end
end

local text = [[
return { ports = {
  { role = "edge_webconf", transport = "tcp", default = 443, port = 444, source = "here" },
  { role = "edge_av", transport = { "tcp" }, default = "50000-59999", port = "40000-49999" },
} }
]]
local topo = assert(load(text, "=t", "t", {}))()
expect(M.set_ports(topo.ports, text) == nil, "a good ports section is accepted")

local by = {}
for _, r in ipairs(M.rules()) do by[r.id] = r end
local function ports(p)
  local o = {}
  for _, g in ipairs(p or {}) do o[#o + 1] = g[1] == g[2] and tostring(g[1]) or (g[1] .. "-" .. g[2]) end
  return table.concat(o, ",")
end
local m = by["a@topology:444"]
expect(m and table.concat(m.to, ",") == "edge_webconf" and table.concat(m.transport, ",") == "tcp"
  and ports(m.dports) == "444" and m.ref.row == 1, "a: the moved part: edge_webconf tcp 444, same ref")
expect(m and m.note:find("port tcp 444 of edge_webconf from the topology (here) instead of the documented 443; n", 1, true),
  "a: the note names the topology's port, the documented one and keeps the rule's note")
expect(by.a and table.concat(by.a.to, ",") == "edge_access" and ports(by.a.dports) == "443"
  and table.concat(by.a.transport, ",") == "tcp,udp", "a: the rest keeps the other role, both transports, 443")
expect(by["a@udp"] and table.concat(by["a@udp"].to, ",") == "edge_webconf" and ports(by["a@udp"].dports) == "443",
  "a: UDP to edge_webconf (not moved) keeps 443")
expect(by["b@topology:40000-49999"] and ports(by["b@topology:40000-49999"].sports) == "40000-49999"
  and ports(by["b@topology:40000-49999"].dports) == "443" and not by.b, "b: the source range of edge_av moves")
expect(by["c@topology:444"] and ports(by["c@topology:444"].dports) == "444,8057" and not by.c,
  "c: only the documented port of a list moves")
expect(by.d and not by["d@topology:444"] and ports(by.d.dports) == "443",
  "d: a rule from the role toward its destination port 443 is not moved")

local doc = by["a@documented:443"]
expect(doc and doc.kind == "port_range" and table.concat(doc.to, ",") == "edge_webconf" and ports(doc.dports) == "443"
  and #doc.apps == 0 and doc.ref.row == 1 and doc.note:find("from the documented tcp 443 to 444 (here)", 1, true),
  "the documented port gets a port_range rule whose note names the topology's port")
expect(not by["b@documented:50000-59999"], "no such rule for a moved source range")

local bad = {
  { '{ { role = "edge_webconf", transport = "tcp", default = 443, port = 0 } }', "outside 1-65535" },
  { '{ { role = "edge_web", transport = "tcp", default = 443, port = 444 } }', "unknown role 'edge_web'" },
  { '{ { role = "edge_webconf", transport = "esp", default = 443, port = 444 } }', "tcp or udp" },
  { '{ { role = "edge_webconf", transport = "tcp", default = 443, prot = 444 } }', "unknown field 'prot'" },
  { '{ { role = "edge_webconf", transport = "tcp", default = 443, port = 444 },\n'
    .. '  { role = "edge_webconf", transport = "tcp", default = 443, port = 445 } }', "again" },
}
for _, b in ipairs(bad) do
  local t = "return {\n ports = " .. b[1] .. "\n}\n"
  local msg, line = M.set_ports(assert(load(t, "=t", "t", {}))().ports, t)
  expect(msg and msg:find(b[2], 1, true) and line == (b[2] == "again" and 3 or 2), string.format("error '%s' at line %s", tostring(msg), tostring(line)))
end
print(failures .. " failure(s)")
os.exit(failures == 0 and 0 or 1)
