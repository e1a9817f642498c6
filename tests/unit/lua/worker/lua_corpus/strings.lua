-- case: methods added to string
function string.trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end
return ("  hi  "):trim(), #("x"):trim()
-- case: string metatable index is string
return getmetatable("").__index == string, ("abc"):upper(), ("%d"):format(5)
-- case: string basics
return string.len("abc"), ("abc"):sub(2), ("abc"):sub(-2, -1), ("abc"):sub(0), ("abc"):sub(5),
  string.upper("aBc"), string.lower("AbC"), string.rep("ab", 3, "-"), string.rep("x", 0), string.reverse("abc")
-- case: byte and char
return string.byte("ABC", 1, -1), string.char(72, 105), pcall(string.char, 256)
-- case: find
return string.find("hello world", "o w"), string.find("hello", "l+"), string.find("a.b", ".", 1, true),
  string.find("abc", "b", -1), string.find("abc", "(b)(c)"), string.find("", "")
-- case: match and gmatch
local t = {}
for k, v in string.gmatch("a=1, b=2, c=3", "(%w+)=(%w+)") do t[#t + 1] = k .. v end
return table.concat(t, ";"), string.match("key = value", "(%w+)%s*=%s*(%w+)"), string.match("2024-01-02", "(%d+)-(%d+)-(%d+)"),
  string.match("hello", "()ll()")
-- case: gsub variants
return string.gsub("hello world", "o", "0"), string.gsub("abc", "%w", "%0%0"), string.gsub("abc", "", "-"),
  string.gsub("$name is $age", "%$(%w+)", {name = "Ann", age = 3}), string.gsub("abc", ".", function(c) return c:byte() end),
  string.gsub("abc", "b", "%1"), string.gsub("hello", "l", "L", 1)
-- case: gsub bad replacement
return pcall(string.gsub, "abc", "b", "%2")
-- case: malformed patterns
return pcall(string.find, "a", "[a"), pcall(string.find, "a", "%"), pcall(string.match, "a", "(()")
-- case: format
return string.format("%5.2f|%-5d|%05d|%x|%X|%o|%e|%g|%q|%s|%%|%c|%i", 3.14159, 42, 42, 255, 255, 8, 12345.678, 0.0001, "a\nb\0", nil, 65, 7)
-- case: format q integers and floats
return string.format("%q %q %q %q", 1, 1.5, math.mininteger, 1/0)
-- case: format a and errors
return string.format("%a", 1), pcall(string.format, "%y", 1), pcall(string.format, "%d", "x"), pcall(string.format, "%10.3q", "x")
-- case: tostring and tonumber
return tostring(1), tostring(1.0), tostring(-0.0), tostring(1e100), tostring(2^63), tonumber("  10  "), tonumber("0x1p4"),
  tonumber("10", 2), tonumber("zz", 36), tonumber("8", 8), tonumber(""), tonumber("1e"), tonumber("0x"), pcall(tonumber, "1", 99)
-- case: pack and unpack
local s = string.pack("<i4 >I2 z s1 d", -2, 513, "hi", "abc", 1.5)
return #s, string.unpack("<i4 >I2 z s1 d", s), string.packsize("i4 I2 d"), pcall(string.pack, "i17", 1)
-- case: string comparison and concat
return "a" < "b", "abc" < "abd", "" < "a", "Z" < "a", 1 .. 2, "x" .. 1.5, pcall(function() return "x" .. {} end)
-- case: coercions
return "10" + 5, "3" * "4", 10 .. "", "0x10" + 0, pcall(function() return "1e" + 1 end), math.type("10" + 0), math.type("10.0" + 0)
-- case: string index out of range methods
return ("abc"):len(), #"", ("x"):rep(3, ","), pcall(string.rep, "x", -1)
-- case: long strings and escapes
local s = [[
line1
line2]]
return s, "\65\066\x43\u{48}\z
       I", "tab\tend", #"\0\0"
