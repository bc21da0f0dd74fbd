-- string.rep of the empty string loops math.maxinteger times in C
local s = string.rep("", math.maxinteger)
