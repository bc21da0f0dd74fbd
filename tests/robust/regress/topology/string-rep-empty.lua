-- string.rep of the empty string, from a topology (strings keep their methods)
return { name = (""):rep(9223372036854775807) }
