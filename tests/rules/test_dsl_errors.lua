-- Tests of the rule language (lua/dsl.lua): broken rule files give an error
-- that names the file and line and says what is wrong; the sandbox holds only
-- the documented names; the normalized rules have exactly the contract fields.
-- Usage: lua5.4 tests/rules/test_dsl_errors.lua [repo_root]
-- Last line: "N passed, M failed"; exit status 1 on any failure.

local root = arg[1] or "."
local passed, failed = 0, 0

local function ok(cond, what)
  if cond then passed = passed + 1
  else failed = failed + 1; print("FAIL: " .. what) end
  return cond
end

local function readall(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- dsl.lua runs with only what the C side's sandbox gives it
local function load_dsl()
  local env = {
    pcall = pcall, error = error, setmetatable = setmetatable,
    getmetatable = getmetatable, pairs = pairs, ipairs = ipairs, type = type,
    tostring = tostring, tonumber = tonumber, select = select, next = next,
    string = string, table = table, math = math,
  }
  local labels = dofile(root .. "/tests/rules/c_labels.lua")(root)
  return assert(load(readall(root .. "/lua/dsl.lua"), "@lua/dsl.lua", "t", env))(labels)
end

local tmpfiles = {}
local function tmpfile(src)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(src)
  f:close()
  tmpfiles[#tmpfiles + 1] = path
  return path
end

-- Load the given sources as rule files (fresh env each, shared module M).
-- Returns M, and the error message of the first file that failed (or nil).
local function run(sources, M)
  M = M or load_dsl()
  local paths = {}
  for i, src in ipairs(sources) do
    local path = tmpfile(src)
    paths[i] = path
    local chunk, err = load(src, "@" .. path, "t", M.new_env())
    if not chunk then return M, err, paths, i end
    local good, e = pcall(chunk)
    if not good then return M, tostring(e), paths, i end
  end
  return M, nil, paths
end

local CITE = 'cite { doc = "003_90a6bcb524c2ccb8.txt", table = "Required Client Ports" }\n'

local function good_rule(id, extra)
  return string.format([[
rule { id = %q, ref = row(2, "Clients | 443 | TCP (TLS) | x"),
  from = "client_external", to = "edge_access", transport = "tcp", dports = 443,
  apps = labels.sip_tls, severity = "high"%s }
]], id, extra or "")
end

-- expect_error(name, sources, line, pattern): the last source fails with a
-- message "<its path>:<line>: ..." matching pattern (plain find)
local function expect_error(name, sources, line, needle)
  local _, err, paths, idx = run(sources)
  if not ok(err ~= nil, name .. ": expected an error, got none") then return end
  local prefix = paths[idx] .. ":" .. line .. ":"
  ok(err:sub(1, #prefix) == prefix,
     string.format("%s: message should start with %q, got %q", name, prefix, err))
  ok(err:find(needle, 1, true) ~= nil,
     string.format("%s: message should contain %q, got %q", name, needle, err))
end

---------------------------------------------------------------------------
-- Broken rule files
---------------------------------------------------------------------------

expect_error("unknown role", { CITE .. [[

rule { id = "a", ref = row(1, "t"),
  from = "front_end", to = "edge_interna", transport = "tcp", dports = 5061 }
]] }, 3, "unknown role 'edge_interna' in to (did you mean 'edge_internal'?)")

expect_error("bad port 70000", { CITE .. [[
rule { id = "a", ref = row(1, "t"),
  from = "any", to = "front_end", transport = "tcp", dports = 70000 }
]] }, 2, "bad port 70000")

expect_error("bad port range", { CITE .. [[
rule { id = "a", ref = row(1, "t"),
  from = "any", to = "front_end", transport = "tcp", dports = "6000-5000" }
]] }, 2, "bad port range '6000-5000'")

expect_error("bad source port", { CITE .. [[
rule { id = "a", ref = row(1, "t"), sports = 0,
  from = "any", to = "front_end", transport = "tcp", dports = 1 }
]] }, 2, "bad port 0 in sports")

expect_error("unknown field", { CITE .. [[
rule { id = "a", ref = row(1, "t"), dport = 443,
  from = "any", to = "front_end", transport = "tcp" }
]] }, 2, "unknown field 'dport'")

expect_error("unknown transport", { CITE .. [[
rule { id = "a", ref = row(1, "t"),
  from = "any", to = "front_end", transport = "sctp", dports = 443 }
]] }, 2, "unknown transport 'sctp'")

expect_error("missing ref", { CITE .. [[
rule { id = "a",
  from = "any", to = "front_end", transport = "tcp", dports = 443 }
]] }, 2, "missing ref")

expect_error("ref without cite", { [[
rule { id = "a", ref = { row = 1, text = "t" },
  from = "any", to = "front_end", transport = "tcp", dports = 443 }
]] }, 1, "missing ref: no doc")

expect_error("cite of a document the rule set does not describe", { [[
cite { doc = "009_0000000000000000.txt", table = "T" }
]] }, 1, "cite: '009_0000000000000000.txt' is none of the five documents")

expect_error("row before cite", { [[
local r = row(1, "t")
]] }, 1, "row() before cite{}")

expect_error("sentence before cite", { [[
local r = sentence("x")
]] }, 1, "sentence() before cite{}")

expect_error("sentence without text", { CITE .. [[
local r = sentence("")
]] }, 2, "sentence: missing text")

do -- sentence(): row 0 of the cited table, the text kept; kind deny accepted
  local M, err = run({ CITE .. [[
rule { id = "s.deny", ref = sentence("The ports that need to be open."), kind = "deny",
  from = sets.external, to = sets.internal_servers, transport = "tcp", dports = "any" }
]] })
  ok(err == nil, "sentence() and deny load: " .. tostring(err))
  local r = M.rules()[1]
  ok(r and r.ref.row == 0 and r.ref.table == "Required Client Ports" and
     r.ref.text == "The ports that need to be open." and r.kind == "deny", "sentence ref normalized")
  ok(r and #r.from == 7 and r.from[1] == "client_external", "sets.external")
end

expect_error("duplicate id in one file", { CITE .. good_rule("x.one") .. "\n" .. good_rule("x.one") },
  6, "duplicate rule id 'x.one'")

do -- duplicate id across two files names the first definition
  local _, err, paths, idx = run({ CITE .. good_rule("x.two"), CITE .. "\n" .. good_rule("x.two") })
  if ok(err ~= nil and idx == 2, "duplicate id across files: expected an error in file 2") then
    ok(err:sub(1, #paths[2] + 3) == paths[2] .. ":3:", "duplicate id across files: position, got " .. err)
    ok(err:find(paths[1] .. ":2", 1, true) ~= nil,
       "duplicate id across files: should name the first definition " .. paths[1] .. ":2, got " .. err)
  end
end

expect_error("duplicate id from any_or expansion", { CITE .. [[
rule { id = "y.any", ref = row(1, "t"),
  from = "any", to = "front_end", transport = "tcp", dports = 443 }
rule { id = "y", ref = row(1, "t"),
  from = any_or { "director" }, to = "front_end", transport = "tcp", dports = 443 }
]] }, 4, "duplicate rule id 'y.any'")

expect_error("unknown option", { CITE .. [[
rule { id = "a", ref = row(1, "t"), when = { xmpp = true },
  from = "any", to = "front_end", transport = "tcp", dports = 443 }
]] }, 2, "unknown option 'xmpp'")

expect_error("misspelt option value", { CITE .. [[
rule { id = "a", ref = row(1, "t"), when = { load_balancing = "hbl" },
  from = "any", to = "front_end", transport = "tcp", dports = 443 }
]] }, 2, "option 'load_balancing' takes one of: dns, hlb (did you mean 'hlb'?)")

expect_error("misspelt field", { CITE .. [[
rule { id = "a", ref = row(1, "t"), dport = 443,
  from = "any", to = "front_end", transport = "tcp" }
]] }, 2, "unknown field 'dport' in rule 'a' (did you mean 'dports'?)")

expect_error("misspelt DSL name", { CITE .. [[
rul { id = "a", ref = row(1, "t"),
  from = "any", to = "front_end", transport = "tcp", dports = 443 }
]] }, 2, "unknown name 'rul' (did you mean 'rule'?)")

expect_error("bad option value", { CITE .. [[
rule { id = "a", ref = row(1, "t"), when = { load_balancing = "round_robin" },
  from = "any", to = "front_end", transport = "tcp", dports = 443 }
]] }, 2, "option 'load_balancing' takes one of: dns, hlb")

expect_error("unknown label", { CITE .. [[
rule { id = "a", ref = row(1, "t"), apps = { "sip-tls" },
  from = "any", to = "front_end", transport = "tcp", dports = 443 }
]] }, 2, "unknown app label 'sip-tls'")

expect_error("typo in a label preset", { CITE .. [[
rule { id = "a", ref = row(1, "t"), apps = labels.sip_tsl,
  from = "any", to = "front_end", transport = "tcp", dports = 443 }
]] }, 2, "unknown name 'labels.sip_tsl'")

expect_error("unknown kind", { CITE .. [[
rule { id = "a", ref = row(1, "t"), kind = "block",
  from = "any", to = "front_end", transport = "tcp", dports = 443 }
]] }, 2, "unknown kind 'block'")

expect_error("unknown severity", { CITE .. [[
rule { id = "a", ref = row(1, "t"), severity = "critical",
  from = "any", to = "front_end", transport = "tcp", dports = 443 }
]] }, 2, "unknown severity 'critical'")

expect_error("bad id", { CITE .. [[
rule { id = "Bad Id", ref = row(1, "t"),
  from = "any", to = "front_end", transport = "tcp", dports = 443 }
]] }, 2, "bad or missing id 'Bad Id'")

expect_error("any mixed with roles", { CITE .. [[
rule { id = "a", ref = row(1, "t"),
  from = { "any", "front_end" }, to = "front_end", transport = "tcp", dports = 443 }
]] }, 2, "'any' cannot be mixed with roles")

expect_error("unknown global (unquoted role)", { CITE .. [[
rule { id = "a", ref = row(1, "t"),
  from = front_end, to = "front_end", transport = "tcp", dports = 443 }
]] }, 3, "unknown name 'front_end'")

expect_error("syntax error", { CITE .. [[
rule { id = "a" ref = row(1, "t") }
]] }, 2, "'}' expected")

expect_error("bad check", { CITE .. [[
rule { id = "a", ref = row(1, "t"), check = "yes",
  from = "any", to = "front_end", transport = "tcp", dports = 443 }
]] }, 2, "check must be a function")

expect_error("error raised inside a local helper", { CITE .. [[
local function srv(t) t.from = "any"; t.transport = "tcp"; rule(t) end
srv { id = "a", ref = row(1, "t"), to = "frontend", dports = 1 }
]] }, 2, "unknown role 'frontend'")

---------------------------------------------------------------------------
-- Sandbox: only the documented names
---------------------------------------------------------------------------

for _, name in ipairs({ "os", "io", "debug", "require", "package", "load", "loadfile",
                        "dofile", "loadstring", "rawset", "rawget", "setmetatable",
                        "getmetatable", "collectgarbage", "print", "_G" }) do
  expect_error("sandbox hides " .. name, { "local x = " .. name .. "\n" }, 1,
    "unknown name '" .. name .. "'")
end
expect_error("no string.dump", { "local d = string.dump\nd(function() end)\n" }, 2, "attempt to call a nil value")
do
  local M = load_dsl()
  local env = M.new_env()
  for _, name in ipairs({ "ipairs", "pairs", "string", "table", "math", "tostring", "tonumber",
                          "type", "error", "select", "next", "rule", "cite", "row", "any_or",
                          "range", "labels", "sets" }) do
    ok(rawget(env, name) ~= nil, "sandbox provides " .. name)
  end
  ok(("abc"):upper() == "ABC", "string methods still work")
  -- a rule file cannot change another file's view of the presets
  local _, err = run({ "labels.sip_tls[1] = 'http'\nstring.upper = nil\n",
                       CITE .. good_rule("z.1") }, M)
  ok(err == nil, "mutating presets in one file is allowed and local: " .. tostring(err))
  local rs = M.rules()
  ok(#rs == 1 and rs[1].apps[1] == "sip_tls", "presets are per file")
  ok(string.upper ~= nil, "the host's string library is untouched")
end
do -- binary chunks are refused by mode "t" (the C side loads the same way)
  local bin = string.dump(function() return 1 end)
  local chunk, err = load(bin, "@rules/bin.lua", "t", {})
  ok(chunk == nil and err:find("binary", 1, true), "binary chunk refused: " .. tostring(err))
end

---------------------------------------------------------------------------
-- Normalized form (the contract with the C side)
---------------------------------------------------------------------------

do
  local M, err = run({ CITE .. [[
rule { id = "n.plain", ref = row(2, "Clients | 443 | TCP (TLS) | x"),
  from = "client_external", to = { "edge_access", "edge_access" }, transport = "tcp",
  dports = { 443, "5060-5061" }, sports = "any", apps = labels.sip_tls, severity = "high",
  note = "n" }
rule { id = "n.media", ref = row(8, "t"),
  from = any_or { "front_end", "director" }, to = "client_internal", transport = { "udp", "tcp" },
  dports = "client_media_ports", sports = range(50000, 50010), when = { public_im = true },
  check = function(flow) return true end, kind = "port_range" }
rule { id = "n.any", ref = { doc = "000_7b1a4ef05ba5af1a.txt", table = "T", row = 1, text = "x" },
  from = "any", to = "any", transport = "esp", dports = "any", kind = "ipsec_exempt" }
]] })
  ok(err == nil, "valid file loads: " .. tostring(err))
  local rs = M.rules()
  ok(#rs == 4, "4 rules (any_or makes two), got " .. #rs)
  local byid = {}
  for _, r in ipairs(rs) do byid[r.id] = r end
  local allowed = { id = 1, from = 1, to = 1, transport = 1, dports = 1, sports = 1, apps = 1,
                    kind = 1, when = 1, severity = 1, ref = 1, check = 1, note = 1 }
  for _, r in ipairs(rs) do
    for k in pairs(r) do ok(allowed[k], r.id .. ": unexpected field " .. tostring(k)) end
    for _, k in ipairs({ "id", "from", "to", "transport", "dports", "apps", "kind", "severity", "ref" }) do
      ok(r[k] ~= nil, r.id .. ": missing field " .. k)
    end
    ok(type(r.ref.doc) == "string" and type(r.ref.table) == "string" and
       math.type(r.ref.row) == "integer" and type(r.ref.text) == "string", r.id .. ": ref shape")
  end
  local p = byid["n.plain"]
  ok(p and #p.to == 1 and p.to[1] == "edge_access", "roles deduplicated")
  ok(p and p.dports[1][1] == 443 and p.dports[1][2] == 443 and p.dports[2][1] == 5060
     and p.dports[2][2] == 5061, "dports normalized to {lo, hi}")
  ok(p and p.sports == nil, "sports 'any' -> nil")
  ok(p and p.kind == "allow" and p.when == nil and p.note == "n", "defaults")
  ok(p and p.ref.doc == "003_90a6bcb524c2ccb8.txt" and p.ref.table == "Required Client Ports"
     and p.ref.row == 2, "ref from cite{} and row()")
  local s, w = byid["n.media"], byid["n.media.any"]
  ok(s and s.from[1] == "front_end" and s.from[2] == "director" and s.when.any_means_any == false
     and s.when.public_im == true, "any_or strict rule")
  ok(w and w.from == "any" and w.when.any_means_any == true and w.when.public_im == true,
     "any_or widened rule")
  ok(s and s.dports[1] == "client_media_ports", "client_media_ports kept as a string")
  ok(s and s.sports[1][1] == 50000 and s.sports[1][2] == 50010, "range(lo, hi)")
  ok(s and type(s.check) == "function" and w and type(w.check) == "function", "check carried")
  ok(s and s.apps and #s.apps == 0, "apps default: empty (any label)")
  ok(s and s.severity == "medium", "severity default medium")
  local a = byid["n.any"]
  ok(a and a.from == "any" and a.to == "any" and a.dports[1][1] == 0 and a.dports[1][2] == 65535,
     "'any' roles and ports")
  ok(a and a.ref.table == "T", "explicit ref table")
  -- M.rules() returns copies
  rs[1].id = "changed"
  ok(M.rules()[1].id ~= "changed", "M.rules() returns copies")
  M.reset()
  ok(#M.rules() == 0, "M.reset() clears")
end

do
  local M = load_dsl()
  local sch = M.options_schema()
  for _, k in ipairs({ "ocs2007_federation", "xmpp_federation", "public_im", "load_balancing",
                       "client_media_ports", "port_policy", "any_means_any",
                       "collocated_mediation", "sip_tcp_5060" }) do
    ok(sch[k] and sch[k].type and sch[k].doc, "options_schema has " .. k)
  end
  ok(sch.load_balancing.default == "dns" and sch.port_policy.default == "destination"
     and sch.ocs2007_federation.default == false and sch.any_means_any.default == false
     and sch.client_media_ports.default == nil, "option defaults")
  ok(#M.roles() == 21, "21 roles")
end

do -- the shipped rules load, and every `when` key is in the schema
  local lua = os.getenv("LUA") or "lua5.4"
  local p = io.popen(lua .. ' "' .. root .. '/tests/rules/dump_rules.lua" "' .. root .. '" 2>&1; echo "rc=$?"')
  local out = p:read("a")
  p:close()
  ok(out:find("rc=0", 1, true), "shipped rules load: " .. out:sub(-300))
end

for _, path in ipairs(tmpfiles) do os.remove(path) end
print(string.format("%d passed, %d failed", passed, failed))
os.exit(failed == 0 and 0 or 1)
