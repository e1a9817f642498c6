-- Trusted set-up of one sandboxed Lua state (jido_kernel.lua.worker.runtime runs it once).
--
-- It runs with the real globals and builds the environment cells run in from an
-- allow-list. Trusted functions keep private references captured here and never call
-- through a table or metatable a cell can reach, nor use method syntax on strings.
-- Python callables stay upvalues of these closures: cells never see a Python object.
-- Returns the entry points the runtime calls from Python.

local emit, co_enter, co_leave, trip_memory, limit_on, lift, restore,
      bridge_call, state_call, bridge_names, state_names = ...

local assert, error, ipairs, next, pairs, select = assert, error, ipairs, next, pairs, select
local rawequal, rawget, rawlen, rawset = rawequal, rawget, rawlen, rawset
local getmetatable, setmetatable, tonumber, tostring, type = getmetatable, setmetatable, tonumber, tostring, type
local pcall, load, collectgarbage, _VERSION = pcall, load, collectgarbage, _VERSION
local string, table, math, utf8, os = string, table, math, utf8, os
local co_create, co_resume, co_close = coroutine.create, coroutine.resume, coroutine.close
local co_status, co_running, co_yield, co_isyieldable = coroutine.status, coroutine.running, coroutine.yield,
                                                         coroutine.isyieldable
local sethook, debug_getmetatable = debug.sethook, debug.getmetatable
local format, concat, pack, unpack = string.format, table.concat, table.pack, table.unpack

local MEMERR = "not enough memory"
local STOPPED = "Lua execution stopped: a time, interrupt or memory limit was reached"

---------------------------------------------------------------------------------------
-- Limits. `hook` is the Lua hook function of every thread; the runtime arms it (count
-- 1) on the running threads when a limit trips, and it raises before every instruction
-- until the chunk has unwound, so pcall, xpcall and coroutines cannot swallow the stop.

local stopped = setmetatable({}, {__mode = "k"})  -- coroutine -> true once stopped by the hook
local pointer = setmetatable({}, {__mode = "k"})  -- coroutine -> its lua_State* as an integer

local function hook()
  local co = co_running()
  -- A coroutine killed from inside the hook keeps hooks disabled; closing it would run
  -- its __close handlers unstoppably, so sb_close refuses it. (The key exists: no
  -- allocation here.)
  if stopped[co] == false then stopped[co] = true end
  error(STOPPED, 2)
end
sethook(hook, "", 0)  -- registered for the main thread, not armed

local function memory_tripped()
  -- Make a swallowed memory error stick: the runtime arms every running thread.
  if not pcall(trip_memory) then sethook(hook, "", 1) end
end

local function caught(ok, ...)
  if not ok and rawequal((...), MEMERR) then memory_tripped() end
  return ok, ...
end

local function address(co)
  local p = pointer[co]
  if p == nil then
    p = tonumber(format("%p", co))
    pointer[co] = p
  end
  return p
end

local function bad_argument(n, fname, expected, value)
  error(format("bad argument #%d to '%s' (%s expected, got %s)", n, fname, expected, type(value)), 3)
end

---------------------------------------------------------------------------------------
-- Base functions that need guarding.

local function sb_pcall(f, ...)
  return caught(pcall(f, ...))
end

local function first(ok, value)
  return false, value
end

local function handled(handler, ok, ...)
  if ok then return true, ... end
  local err = ...
  if rawequal(err, MEMERR) then
    memory_tripped()
    return false, err
  end
  -- The handler runs after unwinding, with hooks on: Lua calls a message handler with
  -- hooks off when the error came from a hook, where a looping handler could not be stopped.
  return first(caught(pcall(handler, err)))
end

local function sb_xpcall(f, handler, ...)
  if type(handler) ~= "function" then bad_argument(2, "xpcall", "function", handler) end
  return handled(handler, pcall(f, ...))
end

local env  -- the cells' global table, built below

local function sb_load(chunk, chunkname, mode, ...)
  if mode ~= nil and mode ~= "t" and mode ~= "bt" then
    return nil, "load: only text chunks can be loaded in the sandbox (mode must be \"t\")"
  end
  if select("#", ...) == 0 then
    return load(chunk, chunkname, "t", env)
  end
  return load(chunk, chunkname, "t", (...))
end

local GC_OPTIONS = {collect = true, count = true, step = true, isrunning = true}

local function sb_collectgarbage(option, ...)
  if option == nil then option = "collect" end
  if type(option) ~= "string" or not GC_OPTIONS[option] then
    error(format("collectgarbage: option %s is not available in the sandbox "
                 .. "(use \"collect\", \"count\", \"step\" or \"isrunning\")",
                 type(option) == "string" and ("\"" .. option .. "\"") or ("of type " .. type(option))), 2)
  end
  return collectgarbage(option, ...)
end

local function sb_setmetatable(t, mt)
  if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
    error("setmetatable: metatables with a __gc field are not allowed in the sandbox "
          .. "(finalizers run where time limits cannot stop them)", 2)
  end
  return setmetatable(t, mt)
end

local function sb_print(...)
  local n = select("#", ...)
  local parts = {...}
  for i = 1, n do parts[i] = tostring(parts[i]) end
  emit(concat(parts, "\t", 1, n) .. "\n")
end

---------------------------------------------------------------------------------------
-- Coroutines: every thread gets the hook function registered at creation, and every
-- resume or close tells the runtime which thread runs, so a tripped limit reaches it.

local function sb_create(f)
  if type(f) ~= "function" then bad_argument(1, "create", "function", f) end
  local co = co_create(f)
  sethook(co, hook, "", 0)
  stopped[co] = false
  pointer[co] = tonumber(format("%p", co))
  return co
end

local function resumed(ok, ...)
  co_leave()
  if not ok and rawequal((...), MEMERR) then memory_tripped() end
  return ok, ...
end

local function sb_resume(co, ...)
  if type(co) ~= "thread" then bad_argument(1, "resume", "coroutine", co) end
  co_enter(address(co))
  return resumed(co_resume(co, ...))
end

local function sb_close(co)
  if type(co) ~= "thread" then bad_argument(1, "close", "coroutine", co) end
  if stopped[co] then return false, STOPPED end
  local status = co_status(co)
  if status ~= "suspended" and status ~= "dead" then
    error(format("cannot close a %s coroutine", status), 2)
  end
  co_enter(address(co))
  return resumed(co_close(co))
end

local function unwrapped(co, ok, ...)
  if ok then return ... end
  local err = ...
  if co_status(co) == "dead" then sb_close(co) end  -- as coroutine.wrap does: run __close handlers
  if rawequal(err, MEMERR) then error(err, 0) end
  error(err, 2)  -- a string error gets the caller's position, as with coroutine.wrap
end

local function sb_wrap(f)
  if type(f) ~= "function" then bad_argument(1, "wrap", "function", f) end
  local co = sb_create(f)
  return function(...)
    return unwrapped(co, sb_resume(co, ...))
  end
end

---------------------------------------------------------------------------------------
-- Strings: methods come from a private copy without `dump`; getmetatable("") returns a
-- read-only view, so no cell reaches the real metatable or a writable method table.

local string_methods = {}
for name, fn in next, string do
  if name ~= "dump" then string_methods[name] = fn end
end

local function read_only()
  error("the string metatable is read-only in the sandbox", 2)
end

local string_view = setmetatable({}, {__index = string_methods, __newindex = read_only, __metatable = false})
local string_meta = debug_getmetatable("")
string_meta.__index = string_methods
string_meta.__metatable = setmetatable({}, {__index = {__index = string_view}, __newindex = read_only,
                                            __metatable = false})

---------------------------------------------------------------------------------------
-- The jido bridge: each function lifts the Lua memory limit while Python builds its
-- result (lupa cannot recover from an allocation failure there), and any failure of the
-- Python side becomes `nil, message`, never an error carrying a Python object.

local function bridged(name, call)
  return function(...)
    lift()
    local results = pack(pcall(call, name, ...))
    restore()
    if results[1] then return unpack(results, 2, results.n) end
    return nil, name .. ": internal error in the jido bridge"
  end
end

local bridge_functions, state_functions = {}, {}
for i = 1, rawlen(bridge_names) do
  local name = rawget(bridge_names, i)
  bridge_functions[name] = bridged(name, bridge_call)
end
for i = 1, rawlen(state_names) do
  local name = rawget(state_names, i)
  state_functions[name] = bridged(name, state_call)
end

---------------------------------------------------------------------------------------
-- The environment. Library tables are per-environment copies: a cell may change its own.

local function copy(source)
  local result = {}
  for k, v in next, source do result[k] = v end
  return result
end

env = {
  _VERSION = _VERSION,
  assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs, select = select,
  rawequal = rawequal, rawget = rawget, rawlen = rawlen, rawset = rawset,
  getmetatable = getmetatable, setmetatable = sb_setmetatable,
  tonumber = tonumber, tostring = tostring, type = type,
  pcall = sb_pcall, xpcall = sb_xpcall, load = sb_load, collectgarbage = sb_collectgarbage,
  print = sb_print,
  string = copy(string_methods),
  table = copy(table),
  math = copy(math),
  utf8 = copy(utf8),
  os = {time = os.time, clock = os.clock, date = os.date},
  coroutine = {
    create = sb_create, resume = sb_resume, wrap = sb_wrap, close = sb_close,
    yield = co_yield, status = co_status, running = co_running, isyieldable = co_isyieldable,
  },
  jido = copy(bridge_functions),
}
env._G = env
env.jido.state = copy(state_functions)

---------------------------------------------------------------------------------------
-- Entry points for the runtime (called from Python, outside any limit unless noted).

local results = nil

-- Compile and run one chunk under the memory limit; the runtime arms the time limits.
local function run(code, chunkname, want_return)
  results = nil
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

-- After a tripped run: coroutines armed on their way out may survive suspended; disarm all.
local function finish()
  for co in next, pointer do
    if co_status(co) ~= "dead" then sethook(co, hook, "", 0) end
  end
end

-- lupa uses the global debug.traceback as the message handler of every call into Lua:
-- this one turns any error object into one clear string, and is out of the cells' reach.
local function message(e)
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
  finish = finish,
  set = function(name, value) rawset(env, name, value) end,
  get = function(name) return rawget(env, name) end,
}
