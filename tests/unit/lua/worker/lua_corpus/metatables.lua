-- case: arithmetic metamethods
local V = {}
V.__index = V
V.__add = function(a, b) return setmetatable({x = a.x + b.x}, V) end
V.__eq = function(a, b) return a.x == b.x end
V.__lt = function(a, b) return a.x < b.x end
V.__le = function(a, b) return a.x <= b.x end
V.__tostring = function(a) return "V(" .. a.x .. ")" end
V.__concat = function(a, b) return tostring(a) .. tostring(b) end
V.__call = function(self, y) return self.x + y end
V.__unm = function(a) return setmetatable({x = -a.x}, V) end
V.__len = function(a) return a.x end
V.__idiv = function() return "idiv" end
V.__band = function() return "band" end
V.__shl = function() return "shl" end
V.__bnot = function() return "bnot" end
local a, b = setmetatable({x = 1}, V), setmetatable({x = 2}, V)
return tostring(a + b), a == b, a < b, a <= b, a > b, a .. b, a(10), tostring(-a), #b, a // b, a & b, a << 1, ~a
-- case: __index chain and __newindex
local base = {greet = function(self) return "hi " .. self.name end}
local obj = setmetatable({name = "x"}, {__index = base})
local log = {}
local proxy = setmetatable({}, {__newindex = function(t, k, v) log[#log + 1] = k rawset(t, k, v) end})
proxy.a = 1 proxy.a = 2 proxy.b = 3
return obj:greet(), table.concat(log, ","), proxy.a
-- case: protected metatable
local t = setmetatable({}, {__metatable = "locked"})
return getmetatable(t), pcall(setmetatable, t, {})
-- case: __gc in metatable is refused or allowed
local ok = pcall(setmetatable, {}, {})
return ok
-- case: __close and __mode
local weak = setmetatable({}, {__mode = "k"})
weak[{}] = 1
collectgarbage()
local n = 0
for _ in pairs(weak) do n = n + 1 end
return n
-- case: class pattern heavy
local Point = {}
Point.__index = Point
function Point.new(x, y) return setmetatable({x = x, y = y}, Point) end
function Point:len2() return self.x * self.x + self.y * self.y end
local s = 0
for i = 1, 1000 do s = s + Point.new(i, i):len2() end
return s
-- case: __index on strings via string table
string.shout = function(s) return s:upper() .. "!" end
return ("hey"):shout()
-- case: __eq only for same types
local mt = {__eq = function() return true end}
return setmetatable({}, mt) == setmetatable({}, mt), setmetatable({}, mt) == 1
-- case: comparison errors
return pcall(function() return {} < {} end), pcall(function() return {} < 1 end)
-- case: __tostring non-string via print-like
return pcall(tostring, setmetatable({}, {__tostring = function() return {} end}))
-- case: __call non-function
local t = setmetatable({}, {__call = 1})
return pcall(t)
-- case: deep __index
local t = {}
for i = 1, 50 do t = setmetatable({}, {__index = t}) end
return t.missing
-- case: __index loop
local t = setmetatable({}, {})
getmetatable(t).__index = t
return pcall(function() return t.x end)
