-- case: load a string and call it
return load("return 1 + ...")(41)
-- case: load with a chunk name in errors
local f, err = load("x = = 1", "=named")
return f, err
-- case: load default chunk name is the chunk
local f, err = load("return +")
return f, err
-- case: load a number as a string
return load(42) ~= nil, (select(2, load(42)))
-- case: load from a reader function
local parts, i = {"return ", "1 ", "+ 2"}, 0
return load(function() i = i + 1 return parts[i] end)()
-- case: load reader returning a non-string
return pcall(load, function() return {} end)
-- case: load reader raising an error
return pcall(function() return load(function() error("reader broke") end) end)
-- case: load with an explicit environment
local f = load("return x", "c", "t", {x = 7})
return f()
-- case: load with a nil environment
local f = load("return x", "c", "t", nil)
return pcall(f)
-- case: load in text mode
return load("return 3", "c", "t")()
-- case: load with mode bt
return load("return 4", "c", "bt")()
-- case: load a text chunk in binary-only mode
return load("return 5", "c", "b")
-- case: load with an unknown mode
return load("return 6", "c", "x")
-- case: load argument errors
local r = {}
r[1] = select(2, pcall(load))
r[2] = select(2, pcall(load, {}))
r[3] = select(2, pcall(load, "return 1", {}))
r[4] = select(2, pcall(load, "return 1", "c", {}))
r[5] = select(2, pcall(function() load(nil) end))
r[6] = select(2, pcall(function() return load(true) end))
r[7] = select(2, pcall(function() load("x", "c", setmetatable({}, {__name = "Thing"})) end))
return table.concat(r, "\n")
-- case: loaded functions see the cells' globals
shared_value = 11
return load("return shared_value")()
-- case: load syntax errors
local msgs = {}
for _, code in ipairs({"return (", "local 1", "x = 'unfinished", "goto nowhere", "return 1 2"}) do
  msgs[#msgs + 1] = select(2, load(code, "=c"))
end
return table.concat(msgs, "\n")
-- case: many loads
local n = 0
for i = 1, 200 do n = n + load("return " .. i)() end
return n
-- case: error values through coroutine.close
local co = coroutine.create(function() error("not enough memory") end)
local a, b = coroutine.resume(co)
return a, b, coroutine.close(co)
-- case: error values through wrap, caught
local w = coroutine.wrap(function() error({code = 1}) end)
local ok, e = pcall(w)
return ok, type(e), e.code
-- case: wrap error with position
local w = coroutine.wrap(function() error("plain", 0) end)
return pcall(w)
-- case: pcall(assert, false, "not enough memory")
return pcall(assert, false, "not enough memory")
-- case: error with non-string level
return pcall(error, "x", "2")
-- case: error with a bad level
return pcall(error, "x", {})
-- case: print with a bad __tostring
return pcall(function() print(setmetatable({}, {__tostring = function() return 1 end})) end)
-- case: print with a failing __tostring
return pcall(function() print(setmetatable({}, {__tostring = function() error("ts", 0) end})) end)
-- case: collectgarbage argument errors
local r = {}
r[1] = select(2, pcall(function() collectgarbage("nope") end))
r[2] = select(2, pcall(function() collectgarbage({}) end))
r[3] = select(2, pcall(function() collectgarbage("step", "x") end))
return table.concat(r, "\n")
-- case: collectgarbage count is a number
return type(collectgarbage("count")), collectgarbage("isrunning")
-- case: xpcall with a new handler each time
local out = {}
for i = 1, 5 do
  local ok, e = xpcall(error, function(m) return m .. i end, "e")
  out[i] = e
end
return table.concat(out, ",")
-- case: xpcall handler reused across coroutines
local h = function(m) return "h:" .. tostring(m) end
local co = coroutine.wrap(function()
  local a = select(2, xpcall(function() coroutine.yield() error("in", 0) end, h))
  return a
end)
co()
return select(2, xpcall(error, h, "out")), co()
-- case: setmetatable returns its table and respects __metatable
local t = setmetatable({}, {__metatable = "locked"})
return getmetatable(t), pcall(setmetatable, t, {})
