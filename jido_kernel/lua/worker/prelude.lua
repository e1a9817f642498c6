-- Trusted set-up of one sandboxed Lua state (jido_kernel.lua.worker.runtime runs it once).
--
-- It runs with the real globals and builds the environment cells run in from an
-- allow-list. Trusted functions keep private references captured here and never call
-- through a table or metatable a cell can reach, nor use method syntax on strings.
-- Python callables stay upvalues of these closures: cells never see a Python object.
-- Returns the entry points the runtime calls from Python.

local emit, sleep_call, bridge_call, state_call, bridge_names, state_names, native, option_call, option_names = ...
local lift, limit_on = native.lift, native.limit_on  -- the memory limit: off, on

local assert, error, ipairs, next, pairs, select = assert, error, ipairs, next, pairs, select
local rawequal, rawget, rawlen, rawset = rawequal, rawget, rawlen, rawset
local getmetatable, setmetatable, tonumber, tostring, type = getmetatable, setmetatable, tonumber, tostring, type
local pcall, load, _VERSION = pcall, load, _VERSION
local string, table, math, utf8, os = string, table, math, utf8, os
local co_status, co_running, co_yield, co_isyieldable = coroutine.status, coroutine.running, coroutine.yield,
                                                         coroutine.isyieldable
local debug_getmetatable, getinfo = debug.getmetatable, debug.getinfo
local format, concat, pack, unpack = string.format, table.concat, table.pack, table.unpack
local sub, math_type = string.sub, math.type

local MAX_FRAMES, MAX_FRAME = 20, 200

---------------------------------------------------------------------------------------
-- The C functions (native.c): the coroutine library, pcall, xpcall, load, collectgarbage,
-- print and setmetatable as stock Lua writes them, working with the limit hook and the
-- sandbox's rules. They also replace the originals in the library tables, so a library
-- error names them as Lua names its own ("bad argument #1 to 'coroutine.resume'").

for name, f in next, {create = native.create, resume = native.resume, wrap = native.wrap, close = native.close} do
  coroutine[name] = f
end
_G.pcall, _G.xpcall, _G.setmetatable = native.pcall, native.xpcall, native.setmetatable
_G.collectgarbage = native.collectgarbage

-- The cells' frames of the running thread from `level` on, innermost first, as luaL_traceback
-- words them; at most MAX_FRAMES frames of at most MAX_FRAME characters.
local function user_frames(level)
  local frames, n = {}, 0
  for l = level, level + 10000 do
    local info = getinfo(l, "Sln")
    if info == nil or n >= MAX_FRAMES then break end
    if info.what ~= "C" and info.short_src ~= "[jido sandbox]" then
      local where
      if info.what == "main" then
        where = "main chunk"
      elseif info.namewhat ~= "" and info.name then
        where = format("%s '%s'", info.namewhat == "method" and "method" or "function", info.name)
      else
        where = format("function <%s:%d>", info.short_src, info.linedefined)
      end
      n = n + 1
      frames[n] = sub(format("%s:%d: in %s", info.short_src, info.currentline, where), 1, MAX_FRAME)
    end
  end
  return frames
end

---------------------------------------------------------------------------------------
-- The jido bridge: each function lifts the Lua memory limit while Python builds its
-- result (lupa cannot recover from an allocation failure there), and any failure of the
-- Python side becomes `nil, message`, never an error carrying a Python object.
--
-- A function with options (`option_call` given) called as `f(first, {key = value})`, one
-- entry whose value is a boolean or an integer, passes that entry instead of the table:
-- the usual options table reaches Python without a table to read (the reads are raw, as
-- Python's would be; no metamethod runs).

local function bridged(name, call, option_call)
  local failed = name .. ": internal error in the jido bridge"
  local function answer(ok, ...)  -- the results pass through as arguments: no table per call
    limit_on()
    if ok then return ... end
    return nil, failed
  end
  return function(...)
    lift()
    if option_call and select("#", ...) == 2 then
      local first, options = ...
      if type(options) == "table" then
        local key, value = next(options)
        if type(key) == "string" and next(options, key) == nil
           and (type(value) == "boolean" or math_type(value) == "integer") then
          return answer(pcall(option_call, name, first, key, value))
        end
      end
    end
    return answer(pcall(call, name, ...))
  end
end

local with_options = {}
for i = 1, rawlen(option_names) do
  with_options[rawget(option_names, i)] = true
end
local bridge_functions, state_functions = {}, {}
for i = 1, rawlen(bridge_names) do
  local name = rawget(bridge_names, i)
  bridge_functions[name] = bridged(name, bridge_call, with_options[name] and option_call)
end
for i = 1, rawlen(state_names) do
  local name = rawget(state_names, i)
  state_functions[name] = bridged(name, state_call)
end

-- jido.sleep(seconds): waits in the runtime (no CPU), ended early by any limit.
local function sb_sleep(seconds)
  if type(seconds) ~= "number" or seconds ~= seconds or seconds < 0 then
    return nil, format("jido.sleep: seconds must be a non-negative number, got %s",
                       type(seconds) == "number" and tostring(seconds) or type(seconds))
  end
  if not pcall(sleep_call, seconds) then return nil, "jido.sleep: internal error" end
  return true
end

---------------------------------------------------------------------------------------
-- The environment. Library tables are per-environment copies: a cell may change its own.

local function copy(source)
  local result = {}
  for k, v in next, source do result[k] = v end
  return result
end

local cell_string = copy(string)
cell_string.dump = nil

local env = {
  _VERSION = _VERSION,
  assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs, select = select,
  rawequal = rawequal, rawget = rawget, rawlen = rawlen, rawset = rawset,
  getmetatable = getmetatable, setmetatable = native.setmetatable,
  tonumber = tonumber, tostring = tostring, type = type,
  pcall = native.pcall, xpcall = native.xpcall, collectgarbage = native.collectgarbage,
  print = native.printer(emit),
  string = cell_string,
  table = copy(table),
  math = copy(math),
  utf8 = copy(utf8),
  os = {time = os.time, clock = os.clock, date = os.date},
  coroutine = {
    create = native.create, resume = native.resume, wrap = native.wrap, close = native.close,
    yield = co_yield, status = co_status, running = co_running, isyieldable = co_isyieldable,
  },
  jido = copy(bridge_functions),
}
env._G = env
env.load = native.loader(env)
_G.load, _G.print = env.load, env.print
env.jido.state = copy(state_functions)
env.jido.sleep = sb_sleep

---------------------------------------------------------------------------------------
-- Strings: the string metatable is shared by the whole state; its __index is the cells'
-- own `string` table (methods a cell adds work on strings, and `dump` is not there), and
-- getmetatable("") is a read-only view of it, so no cell reaches the real metatable.

local function read_only()
  error("the string metatable is read-only in the sandbox", 2)
end

local string_meta = debug_getmetatable("")
string_meta.__index = cell_string
string_meta.__metatable = setmetatable({}, {__index = {__index = cell_string}, __newindex = read_only,
                                            __metatable = false})

---------------------------------------------------------------------------------------
-- Entry points for the runtime (called from Python, outside any limit unless noted).

local results = nil
local frames = nil  -- the cells' frames where the run's error was raised

-- Compile and run one chunk under the memory limit; the runtime arms the time limits.
local function run(code, chunkname, want_return)
  results, frames = nil, nil
  limit_on()
  local fn, err = load(code, chunkname, "t", env)
  if not fn then return false, err end
  if want_return then
    results = pack(fn())
  else
    fn()
  end
  return true
end

local function take()
  local r = results
  results = nil
  if r == nil then return 0 end
  return r.n, r
end

local function traceback()
  local f = frames
  frames = nil
  return f
end

-- lupa uses the global debug.traceback as the message handler of every call into Lua:
-- this one notes the cells' frames at the error point and turns any error object into
-- one clear string, and is out of the cells' reach.
local function message(e)
  frames = user_frames(2)
  local t = type(e)
  if t == "string" then return e end
  if t == "number" then return tostring(e) end
  local mt = debug_getmetatable(e)
  if type(mt) == "table" and rawget(mt, "__tostring") ~= nil then
    local ok, s = pcall(tostring, e)
    if ok and type(s) == "string" then return s end
  end
  return format("(error object is a %s value)", t)
end
debug = {traceback = message}

-- Field names and types of a table reached from the globals by raw reads (no metamethod
-- runs), looking at no more than `limit` entries: for completion in the notebook.
local function names(path, limit)
  local t = env
  for i = 1, rawlen(path) do
    if type(t) ~= "table" then return nil end
    t = rawget(t, rawget(path, i))
  end
  if type(t) ~= "table" then return nil end
  local result, seen, k, v = {}, 0, nil, nil
  repeat
    k, v = next(t, k)
    if k == nil then break end
    if type(k) == "string" then result[k] = type(v) end
    seen = seen + 1
  until seen >= limit
  return result
end

return {
  run = run,
  names = names,
  take = take,
  traceback = traceback,
  release = native.release,
  set = function(name, value) rawset(env, name, value) end,
  get = function(name) return rawget(env, name) end,
}
