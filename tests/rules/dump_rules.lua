-- Load lua/dsl.lua and every rules/*.lua the way the C side does, and print
-- each normalized rule as one tab-separated line:
--   id, from, to, transport, dports, sports, apps, kind, when, doc, table,
--   row, severity, text
-- Lists are comma-separated, ranges "lo-hi", sports "*" when any, when
-- "k=v;k=v" (sorted) or "-". apps "-" when empty (any label).
-- Usage: lua5.4 tests/rules/dump_rules.lua <repo_root> [--files]
-- Exits 1 (message on stderr) if a rule file fails to load.

local root = arg[1] or "."
local list_files = arg[2] == "--files"

local function readall(path)
  local f, err = io.open(path, "rb")
  if not f then error(err) end
  local s = f:read("a")
  f:close()
  return s
end

-- rules/*.lua, sorted by name (no lfs: ask the shell for the listing)
local function rule_files()
  local p = io.popen('ls -1 "' .. root .. '/rules" 2>/dev/null')
  local names = {}
  for name in p:lines() do
    if name:match("^[%w_.-]+%.lua$") then names[#names + 1] = name end
  end
  p:close()
  table.sort(names)
  return names
end

-- dsl.lua itself runs with only these (what the C side's sandbox provides)
local dsl_env = {
  pcall = pcall, error = error, setmetatable = setmetatable,
  getmetatable = getmetatable, pairs = pairs, ipairs = ipairs, type = type,
  tostring = tostring, tonumber = tonumber, select = select, next = next,
  string = string, table = table, math = math,
}
local dsl_chunk = assert(load(readall(root .. "/lua/dsl.lua"), "@lua/dsl.lua", "t", dsl_env))
local M = dsl_chunk(dofile(root .. "/tests/rules/c_labels.lua")(root))

for _, name in ipairs(rule_files()) do
  local env = M.new_env()
  local chunk, err = load(readall(root .. "/rules/" .. name), "@rules/" .. name, "t", env)
  if not chunk then io.stderr:write(err, "\n"); os.exit(1) end
  local ok, e = pcall(chunk)
  if not ok then io.stderr:write(tostring(e), "\n"); os.exit(1) end
  if list_files then print(name) end
end
if list_files then os.exit(0) end

local function roles(v)
  if v == "any" then return "any" end
  return table.concat(v, ",")
end

local function ports(v)
  if v == nil then return "*" end
  local out = {}
  for _, r in ipairs(v) do
    if type(r) == "string" then out[#out + 1] = r
    elseif r[1] == r[2] then out[#out + 1] = tostring(r[1])
    else out[#out + 1] = r[1] .. "-" .. r[2] end
  end
  return table.concat(out, ",")
end

local function when(w)
  if not w then return "-" end
  local keys = {}
  for k in pairs(w) do keys[#keys + 1] = k end
  table.sort(keys)
  local out = {}
  for _, k in ipairs(keys) do out[#out + 1] = k .. "=" .. tostring(w[k]) end
  return table.concat(out, ";")
end

for _, r in ipairs(M.rules()) do
  print(table.concat({
    r.id, roles(r.from), roles(r.to), table.concat(r.transport, ","),
    ports(r.dports), ports(r.sports),
    #r.apps > 0 and table.concat(r.apps, ",") or "-",
    r.kind, when(r.when), r.ref.doc, r.ref.table, tostring(r.ref.row),
    r.severity, r.ref.text,
  }, "\t"))
end
