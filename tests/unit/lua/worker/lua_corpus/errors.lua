-- case: xpcall handler runs at the error point
local inner = false
local ok, e = xpcall(function() local function f() error("boom") end f() end,
  function(m) inner = true return m .. "!" end)
return ok, e, inner
-- case: xpcall handler before __close
local order = {}
local ok, e = xpcall(function()
  local x <close> = setmetatable({}, {__close = function() order[#order + 1] = "close" end})
  error("e")
end, function(m) order[#order + 1] = "handler" return m end)
return ok, e, table.concat(order, ",")
-- case: xpcall(error, error)
return xpcall(error, error)
-- case: xpcall failing handler
return xpcall(function() error("a") end, function(m) error("b") end)
-- case: xpcall handler returning several values
return xpcall(function() error("a") end, function(m) return 1, 2 end)
-- case: xpcall success passes arguments
return xpcall(function(a, b) return a + b, "x" end, print, 3, 4)
-- case: xpcall bad handler
return pcall(xpcall, function() end)
-- case: xpcall nil handler
return pcall(xpcall, function() end, nil)
-- case: xpcall stack overflow handled
local function f() return 1 + f() end
local ok, e = xpcall(f, function(m) return "handled: " .. tostring(m):sub(-14) end)
return ok, e
-- case: xpcall traceback-ish handler sees error value table
local t = {}
local ok, e = xpcall(function() error(t) end, function(m) return m == t end)
return ok, e
-- case: pcall no arguments
return pcall(pcall)
-- case: pcall nil
return pcall(nil)
-- case: pcall non-function
return pcall(42)
-- case: pcall error levels
local function f() error("lvl1", 1) end
local function g() error("lvl2", 2) end
local a, b = pcall(f)
local c, d = pcall(g)
return a, b, c, d
-- case: pcall(error, msg, 2)
local ok, e = pcall(error, "x", 2)
return ok, e
-- case: pcall(error, msg, 1)
return pcall(error, "x", 1)
-- case: pcall(error, msg, 0)
return pcall(error, "x", 0)
-- case: pcall(error, msg)
return pcall(error, "x")
-- case: pcall(error)
return pcall(error)
-- case: error with table value
local t = {}
local ok, e = pcall(error, t)
return ok, e == t
-- case: error with number
return pcall(error, 42)
-- case: error level 2 in nested call
local function check(x) if type(x) ~= "number" then error("want a number", 2) end return x end
local function use() return check("s") end
return pcall(use)
-- case: not enough memory as a plain error
return pcall(error, "not enough memory")
-- case: not enough memory via assert
return pcall(assert, false, "not enough memory")
-- case: not enough memory through xpcall
return xpcall(error, function(m) return m end, "not enough memory")
-- case: not enough memory from a coroutine
local co = coroutine.create(function() error("not enough memory", 0) end)
return coroutine.resume(co)
-- case: not enough memory through wrap
return pcall(coroutine.wrap(function() error("not enough memory", 0) end))
-- case: assert variants
return pcall(assert, false), pcall(assert, nil, "m"), select("#", assert(1, 2, 3)), pcall(assert)
-- case: runtime error messages
local r = {}
r[1] = select(2, pcall(function() local x = nil; return x.y end))
r[2] = select(2, pcall(function() local x = {} ; return x.y.z end))
r[3] = select(2, pcall(function() return 1 + {} end))
r[4] = select(2, pcall(function() return "a" < 1 end))
r[5] = select(2, pcall(function() return #nil end))
r[6] = select(2, pcall(function() undefinedfn() end))
r[7] = select(2, pcall(function() return ("x")() end))
r[8] = select(2, pcall(function() return 1 // 0 end))
r[9] = select(2, pcall(function() return 1 % 0 end))
r[10] = select(2, pcall(function() return math.tointeger(2^63) | 0 end))
r[11] = select(2, pcall(function() return "abc" + 1 end))
r[12] = select(2, pcall(function() local t = setmetatable({}, {__index = function(t, k) error("idx " .. k) end}) return t.q end))
return table.concat(r, "\n")
-- case: argument errors name the call site
local r = {}
r[1] = select(2, pcall(function() setmetatable(1, {}) end))
r[2] = select(2, pcall(function() setmetatable({}) end))
r[3] = select(2, pcall(function() setmetatable({}, 1) end))
r[4] = select(2, pcall(function() setmetatable(setmetatable({}, {__metatable = 1}), {}) end))
r[5] = select(2, pcall(function() string.rep() end))
r[6] = select(2, pcall(function() ("x"):rep("y") end))
r[7] = select(2, pcall(function() table.concat({{}}) end))
r[8] = select(2, pcall(function() table.insert({}, 1, 2, 3) end))
r[9] = select(2, pcall(function() math.floor("a") end))
r[10] = select(2, pcall(function() tostring() end))
r[11] = select(2, pcall(function() ipairs() end))
r[12] = select(2, pcall(function() select(0) end))
r[13] = select(2, pcall(function() rawset({}, nil, 1) end))
r[14] = select(2, pcall(function() load() end))
r[15] = select(2, pcall(function() load("x", {}) end))
r[16] = select(2, pcall(function() load("x", "n", {}) end))
r[17] = select(2, pcall(function() coroutine.resume(1) end))
r[18] = select(2, pcall(function() coroutine.wrap(1) end))
r[19] = select(2, pcall(function() coroutine.create() end))
r[20] = select(2, pcall(function() utf8.char(-1) end))
r[21] = select(2, pcall(function() string.format("%d", 1.5) end))
r[22] = select(2, pcall(function() next({}, "nope") end))
return table.concat(r, "\n")
-- case: setmetatable argument errors at top level of the pcall'd function
return pcall(setmetatable, 1, {})
-- case: setmetatable missing second argument through pcall
return pcall(setmetatable, {})
-- case: error position in top-level argument error
local ok, e = pcall(function()
  local t = {}
  local r = setmetatable(t, 5)
  return r
end)
return ok, e
-- case: __tostring must return a string
return pcall(tostring, setmetatable({}, {__tostring = function() return 1 end}))
-- case: tostring with __name
return (tostring(setmetatable({}, {__name = "MyType"})):gsub("0x%x+", "ADDR"))
-- case: __close error replaces the error
return pcall(function()
  local x <close> = setmetatable({}, {__close = function() error("in close") end})
  error("original")
end)
-- case: __close receives the error
local seen
pcall(function()
  local x <close> = setmetatable({}, {__close = function(_, e) seen = e end})
  error("E", 0)
end)
return seen
-- case: close non-closable value
return pcall(function() local x <close> = 42 end)
-- case: goto and integer division
local n = 0
::top:: n = n + 1
if n < 5 then goto top end
return n, 7 // 2, -7 // 2, 7 % -3, 7.5 // 2, 2^10, 10 / 4, 3 | 5, 3 ~ 5, ~0, 1 << 63, 1 >> 1
