-- case: resume and yield values
local co = coroutine.create(function(a, b)
  local c = coroutine.yield(a + b)
  local d, e = coroutine.yield(c * 2)
  return d + e, "done"
end)
local r = {}
for _, args in ipairs({{1, 2}, {10}, {3, 4}, {}}) do
  r[#r + 1] = table.pack(coroutine.resume(co, table.unpack(args)))
end
local out = {}
for i, p in ipairs(r) do out[i] = table.concat({tostring(p[1]), tostring(p[2]), tostring(p[3])}, " ") end
return table.concat(out, "|"), coroutine.status(co)
-- case: wrap generator
local function range(n) return coroutine.wrap(function() for i = 1, n do coroutine.yield(i) end end) end
local s = 0
for i in range(100) do s = s + i end
return s
-- case: wrap dead
local g = coroutine.wrap(function() return 1 end)
g()
return pcall(g)
-- case: resume dead
local co = coroutine.create(function() end)
coroutine.resume(co)
return coroutine.resume(co)
-- case: resume running
local co
co = coroutine.create(function() return coroutine.resume(co) end)
return coroutine.resume(co)
-- case: error inside coroutine
local co = coroutine.create(function() error("inside") end)
return coroutine.resume(co)
-- case: error object inside coroutine
local t = {}
local co = coroutine.create(function() error(t) end)
local ok, e = coroutine.resume(co)
return ok, e == t, coroutine.status(co)
-- case: wrap error gets caller position
local g = coroutine.wrap(function() error("w") end)
local ok, e = pcall(function() g() end)
return ok, e
-- case: wrap error with level 0
local g = coroutine.wrap(function() error("w", 0) end)
return pcall(g)
-- case: wrap non-string error
local g = coroutine.wrap(function() error(42) end)
return pcall(g)
-- case: wrap keeps a __close error
local g = coroutine.wrap(function()
  local x <close> = setmetatable({}, {__close = function() error("from close", 0) end})
  error("original", 0)
end)
return pcall(g)
-- case: close suspended with __close
local log = {}
local co = coroutine.create(function()
  local x <close> = setmetatable({}, {__close = function() log[#log + 1] = "closed" end})
  coroutine.yield(1)
end)
coroutine.resume(co)
return coroutine.close(co), coroutine.status(co), table.concat(log)
-- case: close with __close error
local co = coroutine.create(function()
  local x <close> = setmetatable({}, {__close = function() error("cerr", 0) end})
  coroutine.yield(1)
end)
coroutine.resume(co)
return coroutine.close(co)
-- case: close dead with error
local co = coroutine.create(function() error("E", 0) end)
coroutine.resume(co)
return coroutine.close(co)
-- case: close running
return pcall(coroutine.close, coroutine.running())
-- case: status and running
local main, ismain = coroutine.running()
local inner
local co = coroutine.create(function()
  local c, m = coroutine.running()
  inner = {coroutine.status(c), m, coroutine.isyieldable()}
end)
coroutine.resume(co)
return type(main), ismain, inner[1], inner[2], inner[3], coroutine.isyieldable(), coroutine.status(co)
-- case: yield outside coroutine
return pcall(coroutine.yield, 1)
-- case: yield across pcall
local co = coroutine.create(function()
  local ok, v = pcall(function() return coroutine.yield("y") + 1 end)
  return ok, v
end)
local a, b = coroutine.resume(co)
local c, d, e = coroutine.resume(co, 41)
return a, b, c, d, e
-- case: yield across metamethod
local t = setmetatable({}, {__index = function(_, k) return coroutine.yield(k) end})
local co = coroutine.wrap(function() return t.key .. "!" end)
return co(), co("value")
-- case: nested coroutines
local function gen(n)
  return coroutine.wrap(function()
    for i = 1, n do
      local inner = coroutine.wrap(function() coroutine.yield(i * 10) end)
      coroutine.yield(inner())
    end
  end)
end
local r = {}
for v in gen(5) do r[#r + 1] = v end
return table.concat(r, ",")
-- case: table.sort with yielding comparator is an error
local co = coroutine.create(function() table.sort({3, 2, 1}, function(a, b) coroutine.yield() return a < b end) end)
return coroutine.resume(co)
-- case: many coroutines
local total = 0
for i = 1, 200 do
  local co = coroutine.create(function(x) return x * 2 end)
  local _, v = coroutine.resume(co, i)
  total = total + v
end
return total
-- case: wrap with varargs
local g = coroutine.wrap(function(...) local n = select("#", ...) local a = {coroutine.yield(n)} return #a end)
return g(1, nil, 3), g(4, 5)
-- case: coroutine error position of a library call
local co = coroutine.create(function() local t = setmetatable({}, 7) end)
return coroutine.resume(co)
