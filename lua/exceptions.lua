-- lyncaudit site exceptions (Lua side): the language of an --exceptions file.
--
-- src/except.c runs this chunk once in the sandbox (src/luabox.h) with the
-- role vocabulary (lua/dsl.lua's M.roles()) as its argument, then the
-- exceptions file in the environment M.new_env() makes, then reads M.list().
-- docs/rules.md ("Site exceptions") describes the file.
--
-- A site records each accepted deviation from the documents:
--
--   exception {
--     change  = "CHG-2041",                        -- the change that accepted it (required)
--     reason  = "monitoring polls the pool on 8080", -- why (required)
--     from    = "client_internal",                  -- roles or addresses: "any", a role,
--     to      = { "front_end", "10.1.2.0/24" },     --   an address, a prefix, or a list
--     transport = "tcp",                            -- tcp, udp, esp, ah, or a list
--     dports  = 8080,                               -- 443, "8000-8100", a list, or "any"
--     apps    = { "http" },                         -- optional: only flows with these labels
--     expires = "2027-03-31",                       -- optional: the last day it holds (UTC)
--     id      = "CHG-2041/poll",                    -- optional: default the change
--   }
--
-- Errors are raised with error(msg, 2) from exception(), so the message
-- starts with "<file>:<line>:".

local ROLES = {}
for _, r in ipairs((...) or {}) do ROLES[r] = true end

local TRANSPORTS = { tcp = true, udp = true, esp = true, ah = true }
local FIELDS = {
  id = true, change = true, reason = true, from = true, to = true, transport = true,
  dports = true, apps = true, expires = true,
}

local M = {}
local collected, ids = {}, {}

local function as_list(v)
  if type(v) == "table" then return v end
  return { v }
end

-- A role name, an IPv4/IPv6 address or prefix (checked again in C), or "any".
local function parse_end(spec, field)
  if spec == nil then return nil, "missing " .. field end
  if spec == "any" then return { "any" } end
  local out = {}
  for _, e in ipairs(as_list(spec)) do
    if type(e) ~= "string" then
      return nil, string.format("bad %s entry %s (a role, an address or a prefix)", field, tostring(e))
    end
    if e == "any" then return nil, "'any' cannot be mixed with other entries in " .. field end
    local addr = e:match("^[%x:.]+/?%d*$") and (e:find("[.:]") ~= nil)
    if not addr and not ROLES[e] then
      return nil, string.format("unknown role or bad address '%s' in %s", e, field)
    end
    out[#out + 1] = e
  end
  if #out == 0 then return nil, "empty " .. field end
  return out
end

local function parse_transport(spec)
  if spec == nil then return nil, "missing transport" end
  local out = {}
  for _, t in ipairs(as_list(spec)) do
    if type(t) ~= "string" or not TRANSPORTS[t] then
      return nil, string.format("unknown transport '%s' (tcp, udp, esp, ah)", tostring(t))
    end
    out[#out + 1] = t
  end
  if #out == 0 then return nil, "empty transport" end
  return out
end

local function parse_ports(spec)
  if spec == nil then return nil, "missing dports" end
  if spec == "any" then return { { 0, 65535 } } end
  local out = {}
  for _, p in ipairs(as_list(spec)) do
    local lo, hi
    if type(p) == "number" then
      lo, hi = p, p
    elseif type(p) == "string" then
      lo, hi = p:match("^%s*(%d+)%s*%-%s*(%d+)%s*$")
      if not lo then lo = p:match("^%s*(%d+)%s*$"); hi = lo end
      lo, hi = tonumber(lo), tonumber(hi)
    end
    if not lo or lo ~= math.floor(lo) or hi ~= math.floor(hi) or lo < 1 or hi > 65535 or lo > hi then
      return nil, string.format("bad port %s in dports (1-65535, \"lo-hi\" or \"any\")", tostring(p))
    end
    out[#out + 1] = { math.floor(lo), math.floor(hi) }
  end
  if #out == 0 then return nil, "empty dports" end
  return out
end

local function parse_date(s)
  if s == nil then return nil end
  if type(s) ~= "string" then return nil, "expires must be a date \"YYYY-MM-DD\"" end
  local y, m, d = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
  y, m, d = tonumber(y), tonumber(m), tonumber(d)
  local mdays = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }
  if y and m >= 1 and m <= 12 and (y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)) then mdays[2] = 29 end
  if not y or m < 1 or m > 12 or d < 1 or d > mdays[m] then
    return nil, string.format("bad expires '%s' (a date \"YYYY-MM-DD\")", s)
  end
  return s
end

local function text(v, field)
  if type(v) ~= "string" or not v:find("%S") then return nil, "missing " .. field .. " (a non-empty string)" end
  return v
end

-- Normalizes one exception{} table; nil, err on a bad one.
local function normalize(spec)
  for k in pairs(spec) do
    if not FIELDS[k] then
      return nil, string.format("unknown field '%s' (id, change, reason, from, to, transport, dports, apps, expires)",
        tostring(k))
    end
  end
  local e, err = {}
  e.change, err = text(spec.change, "change"); if not e.change then return nil, err end
  e.reason, err = text(spec.reason, "reason"); if not e.reason then return nil, err end
  e.id = spec.id or e.change
  if type(e.id) ~= "string" or e.id == "" then return nil, "id must be a non-empty string" end
  e.from, err = parse_end(spec.from, "from"); if not e.from then return nil, err end
  e.to, err = parse_end(spec.to, "to"); if not e.to then return nil, err end
  e.transport, err = parse_transport(spec.transport); if not e.transport then return nil, err end
  e.dports, err = parse_ports(spec.dports); if not e.dports then return nil, err end
  e.apps = {}
  if spec.apps ~= nil then
    for _, a in ipairs(as_list(spec.apps)) do
      if type(a) ~= "string" then return nil, "apps must be labels (strings)" end
      e.apps[#e.apps + 1] = a
    end
  end
  if spec.expires ~= nil then
    e.expires, err = parse_date(spec.expires); if not e.expires then return nil, err end
  end
  return e
end

function M.new_env()
  local env = {
    ipairs = ipairs, pairs = pairs, tostring = tostring, tonumber = tonumber, type = type,
    error = error, string = { format = string.format, rep = string.rep },
  }
  -- exception{ ... }: one accepted deviation.
  function env.exception(spec)
    if type(spec) ~= "table" then error("exception expects a table: exception{ ... }", 2) end
    local e, err = normalize(spec)
    if not e then error(err, 2) end
    local _, at = pcall(error, "", 3)
    e.at = (at:gsub(":%s*$", ""))
    if ids[e.id] then
      error(string.format("duplicate exception id '%s' (first at %s; give each an id)", e.id, ids[e.id]), 2)
    end
    ids[e.id] = e.at
    collected[#collected + 1] = e
  end
  return setmetatable(env, {
    __index = function(_, k) error(string.format("unknown name '%s'", tostring(k)), 2) end,
  })
end

-- The exceptions, in file order: {id, change, reason, from, to, transport,
-- dports {{lo, hi}...}, apps, expires (or nil), at = "file:line"}.
function M.list()
  return collected
end

return M
