-- The label vocabulary as the binary hands it to lua/dsl.lua
-- (classify_rule_label), read from src/classify.c for the tests that load
-- dsl.lua without the binary: classify's own labels but "" and "unknown",
-- then the nDPI names the rules use.
-- Usage: local labels = dofile(root .. "/tests/rules/c_labels.lua")(root)
return function(root)
  local f = assert(io.open(root .. "/src/classify.c", "rb"))
  local src = f:read("a")
  f:close()
  local out = {}
  for _, list in ipairs({ "label_names%[CL_N%] = (%b{})", "ndpi_rule_labels%[%] = (%b{})" }) do
    local body = assert(src:match(list), "src/classify.c: no " .. list)
    for name in body:gmatch('"([%w_]*)"') do
      if name ~= "" and name ~= "unknown" then out[#out + 1] = name end
    end
  end
  return out
end
