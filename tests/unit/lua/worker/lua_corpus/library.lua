-- case: table functions
local t = {5, 2, 8, 1}
table.sort(t)
local u = {"b", "a", "c"}
table.sort(u, function(a, b) return a > b end)
table.insert(t, 9) table.insert(t, 1, 0)
local removed = table.remove(t, 2)
local last = table.remove(t)
return table.concat(t, ","), table.concat(u), removed, last, table.concat({1, 2, 3}, "-", 2, 3), table.unpack({1, 2, 3}, 2),
  select("#", table.unpack({}, 1, 3)), table.pack(1, nil, 3).n
-- case: table.move
local a = {1, 2, 3, 4, 5}
table.move(a, 2, 4, 1)
local b = table.move({1, 2, 3}, 1, 3, 2, {})
return table.concat(a, ","), b[1], b[2], b[4]
-- case: table.sort invalid order function
return pcall(table.sort, {3, 1, 2, 5, 4, 7, 6, 9, 8, 10, 12, 11}, function(a, b) return true end)
-- case: table.sort errors
return pcall(table.sort, {1, "x"}), pcall(table.sort, {1, 2}, 3)
-- case: table.remove edge cases
local t = {}
return table.remove(t), #t, table.remove({1}, 1), pcall(table.remove, {1, 2, 3}, 7)
-- case: table.concat errors
return pcall(table.concat, {1, {}, 3}), pcall(table.concat, {}, 1), table.concat({}, ",")
-- case: unpack too many
return pcall(table.unpack, {}, 1, 1e8)
-- case: length with metamethod
local t = setmetatable({}, {__len = function() return 42 end})
return #t, rawlen(t), rawlen("abc")
-- case: math functions
return math.floor(3.7), math.ceil(3.2), math.floor(-3.5), math.abs(-4), math.max(1, 5, 3), math.min(2, -1),
  math.fmod(7, 3), math.fmod(-7, 3), math.sqrt(16), math.huge, -math.huge, math.pi, math.maxinteger, math.mininteger,
  math.tointeger(3.0), math.tointeger(3.5), math.type(1), math.type(1.0), math.type("1"), math.ult(1, -1),
  math.exp(0), math.log(8, 2), math.log(100, 10), math.log(1), math.sin(0), math.cos(0), math.tan(0), math.modf(3.7), math.modf(-3.7)
-- case: math errors
return pcall(math.floor, {}), pcall(math.fmod, 1, 0), math.fmod(1, 0.0) ~= math.fmod(1, 0.0), pcall(math.random, 2, 1), pcall(math.max)
-- case: math.random seeded
math.randomseed(42)
local a, b, c = math.random(), math.random(10), math.random(5, 7)
math.randomseed(42)
local a2, b2, c2 = math.random(), math.random(10), math.random(5, 7)
return a == a2, b == b2, c == c2, a >= 0 and a < 1, b >= 1 and b <= 10
-- case: integer float semantics
return 1 == 1.0, math.type(2^53), 3 // 0.0, -3 // 0.0, 0/0 ~= 0/0, 1e308 * 10, math.maxinteger + 1 == math.mininteger, 5 // 2 * 2 + 5 % 2,
  string.format("%.17g", 0.1 + 0.2), 7 // -2, 7 % -2, -7 % 2, 7.0 % -2
-- case: utf8
return utf8.char(72, 228, 8364, 128512), utf8.len("häll€"), utf8.len("\xff"), utf8.codepoint("häll", 1, -1), utf8.offset("häll", 3),
  utf8.charpattern, pcall(utf8.codepoint, "\xff")
-- case: utf8 codes
local r = {}
for p, c in utf8.codes("aé€") do r[#r + 1] = p .. ":" .. c end
return table.concat(r, ","), pcall(function() for p, c in utf8.codes("a\xffb") do end end)
-- case: os.time and os.date
return os.time({year = 2020, month = 1, day = 1, hour = 12}), os.date("!%Y-%m-%d %H:%M:%S", 86400), os.date("%Y", 0) ~= nil,
  type(os.clock()), os.date("!*t", 3600).hour, os.time({year = 2021, month = 14, day = 1, hour = 0}), pcall(os.time, {year = 2020})
-- case: os.date local
local t = os.date("*t", 1700000000)
return t.year, t.month, t.day, t.hour, t.min, t.isdst, os.date("%H:%M %Z", 1700000000), os.date("%c", 0)
-- case: os.date errors
return pcall(os.date, "%Ez"), pcall(os.date, "%"), pcall(os.time, {})
-- case: base functions
local t = {10, 20, 30, nil, 50}
local n = 0
for i, v in ipairs(t) do n = n + i end
local keys = 0
for k, v in pairs({a = 1, b = 2, 3}) do keys = keys + 1 end
return n, keys, select("#", 1, 2, 3), select(2, "a", "b", "c"), select(-1, "a", "b"), type(print), type(nil), rawequal("a", "a"),
  rawget(setmetatable({}, {__index = function() return 1 end}), "x"), next({}, nil), _VERSION, type(_G), _G._G == _G
-- case: pairs with __pairs
local t = setmetatable({}, {__pairs = function(t) return function(_, k) if not k then return 1, "one" end end, t, nil end})
local r = {}
for k, v in pairs(t) do r[#r + 1] = k .. v end
return table.concat(r)
-- case: load text chunks
local f = load("return 1 + ...")
local g = load("syntax error here")
local h, e = load("x =", "=mychunk")
return f(41), g, h, e, load("return x", "c", "t", {x = 5})(), select(2, load(function() return nil end))
-- case: load with reader pieces
local parts = {"return ", "1", " + ", "2"}
local i = 0
local f = load(function() i = i + 1 return parts[i] end)
return f()
-- case: load reader errors
return pcall(function() return load(function() return {} end), load(function() error("reader boom") end) end)
-- case: load with default chunk name
local f, e = load("error('x')")
return pcall(f)
-- case: load env nil
local f = load("return print", "n", "t", nil)
return pcall(f)
-- case: load mode text
return load("return 1", "n", "t")(), select(2, load("return 1", "n", "x"))
-- case: compile-heavy
local src = {}
for i = 1, 200 do src[#src + 1] = "local v" .. i .. " = " .. i end
src[#src + 1] = "return v1 + v200"
local total = 0
for j = 1, 20 do total = total + load(table.concat(src, "\n"))() end
return total
-- case: collectgarbage kept options
return type(collectgarbage("count")), collectgarbage("isrunning"), collectgarbage(), collectgarbage("step") ~= nil, pcall(collectgarbage, "bogus")
-- case: globals via _ENV
local function f() local _ENV = {x = 3} return x end
x_global = 7
return f(), x_global, _ENV.x_global
-- case: varargs and select
local function f(...) return select("#", ...), ... end
return f(nil, nil), (f(1, 2, 3)), pcall(select, 0, 1)
-- case: integer for loops
local r = {}
for i = 10, 1, -3 do r[#r + 1] = i end
for i = 1.0, 2.0, 0.5 do r[#r + 1] = i end
return table.concat(r, ","), pcall(function() for i = 1, 10, 0 do end end)
-- case: string to number in for
return pcall(function() for i = "a", 2 do end end)
