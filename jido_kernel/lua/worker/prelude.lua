-- Trusted set-up of one sandboxed Lua state (jido_kernel.lua.worker.runtime runs it once).
--
-- It runs with the real globals and builds the environment cells run in from an
-- allow-list. Trusted functions keep private references captured here and never call
-- through a table or metatable a cell can reach, nor use method syntax on strings.
-- Python callables stay upvalues of these closures: cells never see a Python object.
-- Returns the entry points the runtime calls from Python.

local emit, co_enter, sleep_call, trip_memory, limit_on, lift, restore,
      bridge_call, state_call, bridge_names, state_names = ...

local assert, error, ipairs, next, pairs, select = assert, error, ipairs, next, pairs, select
local rawequal, rawget, rawlen, rawset = rawequal, rawget, rawlen, rawset
local getmetatable, setmetatable, tonumber, tostring, type = getmetatable, setmetatable, tonumber, tostring, type
local pcall, xpcall, load, collectgarbage, _VERSION = pcall, xpcall, load, collectgarbage, _VERSION
local string, table, math, utf8, os = string, table, math, utf8, os
local co_create, co_resume, co_close = coroutine.create, coroutine.resume, coroutine.close
local co_status, co_running, co_yield, co_isyieldable = coroutine.status, coroutine.running, coroutine.yield,
                                                         coroutine.isyieldable
local sethook, debug_getmetatable, getinfo = debug.sethook, debug.getmetatable, debug.getinfo
local format, concat, pack, unpack = string.format, table.concat, table.pack, table.unpack
local find, sub, gsub, byte = string.find, string.sub, string.gsub, string.byte

local MEMERR = "not enough memory"
local STOPPED = "Lua execution stopped: a time, interrupt or memory limit was reached"
local SANDBOX = "[jido sandbox]"
local BINARY = "attempt to load a binary chunk (the sandbox loads text chunks only)"
local MAX_FRAMES, MAX_FRAME = 20, 200

---------------------------------------------------------------------------------------
-- Limits. `hook` is the Lua hook function of every thread; the runtime arms it (count
-- 1) on the running threads when a limit trips, and it raises before every instruction
-- until the chunk has unwound, so pcall, xpcall and coroutines cannot swallow the stop.

local stopped = setmetatable({}, {__mode = "k"})  -- coroutine -> true once stopped by the hook
local pointer = setmetatable({}, {__mode = "k"})  -- coroutine -> its lua_State* as an integer
local tripped = false  -- the hook has fired in this run: message handlers of cells stay out

local function hook()
  tripped = true
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

local function address(co)
  local p = pointer[co]
  if p == nil then
    p = tonumber(format("%p", co))
    pointer[co] = p
  end
  return p
end

local function bad_argument(n, fname, expected, value, absent)
  local got = absent and "no value" or type(value)
  error(format("bad argument #%d to '%s' (%s expected, got %s)", n, fname, expected, got), 3)
end

---------------------------------------------------------------------------------------
-- Positions. A message the sandbox's own code gave a position (a library function it
-- calls raised, or an `error` level counted its frames) gets the position of the cell's
-- code that called into the sandbox instead, as stock Lua reports it.

local function is_user(info)
  return info.what ~= "C" and info.short_src ~= SANDBOX
end

-- Where stock Lua would have put the position the sandbox's code got at `line`: the code
-- that called into the sandbox, found from `level` of `co` (nil: the running thread) up —
-- nothing when that was a C function or a tail call (whose caller Lua no longer knows).
local function user_where(co, level, line)
  local function at(l)
    if co then return getinfo(co, l, "Slt") end
    return getinfo(l + 1, "Slt")  -- not counting this function
  end
  local l, info = level, nil
  repeat
    info = at(l)
    if info == nil or l > level + 40 then return "" end
    l = l + 1
  until info.short_src == SANDBOX and info.currentline == line
  local tail = info.istailcall
  info = at(l)
  while info ~= nil and info.short_src == SANDBOX and l < level + 80 do
    tail = info.istailcall
    l = l + 1
    info = at(l)
  end
  if info == nil or tail or info.what == "C" or info.currentline <= 0 then return "" end
  return format("%s:%d: ", info.short_src, info.currentline)
end

-- `e` with the sandbox's position replaced; `level` is the raising frame as user_where counts.
local function relocated(e, co, level)
  if type(e) == "string" and byte(e, 1) == 91 and sub(e, 1, 15) == "[jido sandbox]:" then  -- 91: "["
    local _, stop, line = find(e, "^%[jido sandbox%]:(%d+): ")
    if stop then return user_where(co, level + 1, tonumber(line)) .. sub(e, stop + 1) end
  end
  return e
end

-- The cells' frames of the running thread from `level` on, innermost first, as luaL_traceback
-- words them; at most MAX_FRAMES frames of at most MAX_FRAME characters.
local function user_frames(level)
  local frames, n = {}, 0
  for l = level, level + 10000 do
    local info = getinfo(l, "Sln")
    if info == nil or n >= MAX_FRAMES then break end
    if is_user(info) then
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
-- Protected calls. Stock Lua raises an error whose value is the string "not enough
-- memory" as a memory error, like an allocation failure; only the latter sticks. The
-- cells' error and assert note that they raise that string themselves (`raised`), and
-- the next protected call or resume that fails takes the note.

local raised = false

local function allocation_failed()
  local note = raised
  raised = false
  return not note
end

local function checked(ok, ...)
  if not ok then
    if rawequal((...), MEMERR) then
      if allocation_failed() then memory_tripped() end
    else
      raised = false
    end
  end
  return ok, ...
end

local tointeger = math.tointeger

local function sb_error(msg, ...)
  raised = rawequal(msg, MEMERR)
  if type(msg) ~= "string" then return error(msg, ...) end
  local level = ...
  local n = 1
  if level ~= nil then n = tointeger(level) end
  if n == nil or n <= 0 then return error(msg, level) end  -- the library checks the level
  -- Count the levels from the cell's code, as if this frame were not there; a tail call
  -- into it replaced the calling frame, whose line is then unknown.
  if getinfo(1, "t").istailcall then
    if n == 1 then return error(msg, 0) end
    return error(msg, n)
  end
  return error(msg, n + 1)
end

local function sb_assert(...)
  local v, msg = ...
  if not v then raised = rawequal(msg, MEMERR) end
  return assert(...)
end

-- The message handler of the cells' pcall: at the error point, give a position the
-- sandbox's own frames got back to the cell's code.
local function mark(e)
  local relocated_e = relocated(e, nil, 3)
  return relocated_e
end

local function sb_pcall(...)
  if select("#", ...) == 0 then error("bad argument #1 to 'pcall' (value expected)", 2) end
  return checked(xpcall(..., mark, select(2, ...)))
end

local function sb_xpcall(...)
  local f, handler = ...
  if type(handler) ~= "function" then
    local got = select("#", ...) < 2 and "no value" or type(handler)
    error(format("bad argument #2 to 'xpcall' (function expected, got %s)", got), 2)
  end
  -- The handler runs at the error point, before __close handlers, as in stock Lua; when
  -- the error comes from the limit hook it runs with hooks off, so the cell's is skipped.
  return checked(xpcall(f, function(e)
    if tripped then return e end
    local relocated_e = relocated(e, nil, 3)
    return handler(relocated_e)
  end, select(3, ...)))
end

local env  -- the cells' global table, built below

local function sb_load(...)
  local chunk, chunkname, mode = ...
  if select("#", ...) == 0 then bad_argument(1, "load", "function", nil, true) end
  local given = mode
  if mode == nil then
    mode = "t"
  elseif type(mode) == "string" and find(mode, "b", 1, true) then
    mode = (gsub(mode, "b", ""))
  end
  local binary_ok = given == nil or (type(given) == "string" and find(given, "b", 1, true))
  if binary_ok and type(chunk) == "string" and sub(chunk, 1, 1) == "\27" then return nil, BINARY end
  local fn, err
  if select("#", ...) < 4 then
    fn, err = load(chunk, chunkname, mode, env)
  else
    fn, err = load(chunk, chunkname, mode, (select(4, ...)))
  end
  if fn ~= nil then return fn end
  if type(err) == "string" and given ~= mode then
    if binary_ok and find(err, "^attempt to load a binary chunk") then
      err = BINARY
    elseif err == format("attempt to load a text chunk (mode is '%s')", mode) then
      err = format("attempt to load a text chunk (mode is '%s')", given)
    end
  end
  return nil, err
end

local GC_OPTIONS = {collect = true, count = true, step = true, isrunning = true}
local GC_REMOVED = {stop = true, restart = true, setpause = true, setstepmul = true,
                    incremental = true, generational = true}

local function sb_collectgarbage(option, ...)
  if option == nil then option = "collect" end
  if type(option) == "string" and GC_REMOVED[option] then
    error(format("collectgarbage: option \"%s\" is not available in the sandbox "
                 .. "(use \"collect\", \"count\", \"step\" or \"isrunning\")", option), 2)
  end
  return collectgarbage(option, ...)
end

local function sb_setmetatable(...)
  local _, mt = ...
  if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
    error("setmetatable: metatables with a __gc field are not allowed in the sandbox "
          .. "(finalizers run where time limits cannot stop them)", 2)
  end
  return setmetatable(...)
end

local function sb_print(...)
  local n = select("#", ...)
  local parts = {...}
  for i = 1, n do parts[i] = tostring(parts[i]) end
  emit(concat(parts, "\t", 1, n) .. "\n")
end

---------------------------------------------------------------------------------------
-- Coroutines: every thread gets the hook function registered at creation. The runtime
-- knows, for each depth of nested resumes, the thread last resumed at that depth; that
-- thread stays referenced in `entered` until another takes its place (the runtime is told
-- first), so the runtime only ever arms live threads, and a tripped limit reaches every
-- running one. Resuming the thread the runtime already has for its depth (a generator)
-- does not call into the runtime.

local MAX_DEPTH = 256  -- more nested resumes than the C stack allows
local entered = {}     -- depth -> thread; preallocated, so recording one never allocates
local depth = 0

local function forget_entered()
  for d = 1, MAX_DEPTH do entered[d] = false end
  depth = 0
end
forget_entered()

-- `co` is resumed at depth `d` and the runtime has another thread there.
local function enter(co, d)
  if d > MAX_DEPTH then error("C stack overflow", 3) end
  co_enter(address(co), d)
  entered[d] = co
end

local real_memerr = false
local last_error = nil  -- the error value of the last failed resume or close, as raised

local function sb_create(...)
  local f = ...
  if type(f) ~= "function" then bad_argument(1, "create", "function", f, select("#", ...) == 0) end
  local co = co_create(f)
  sethook(co, hook, "", 0)
  stopped[co] = false
  pointer[co] = tonumber(format("%p", co))
  return co
end

local function resumed(co, ok, ...)
  depth = depth - 1
  if ok then return true, ... end
  local err = ...
  last_error = err
  if rawequal(err, MEMERR) then
    real_memerr = allocation_failed()
    if real_memerr then memory_tripped() end
    return false, err
  end
  raised = false
  return false, relocated(err, co, -1)
end

local function sb_resume(co, ...)
  if type(co) ~= "thread" then bad_argument(1, "resume", "thread", co) end
  local d = depth + 1
  if entered[d] ~= co then enter(co, d) end
  depth = d
  return resumed(co, co_resume(co, ...))
end

local function sb_close(co)
  if type(co) ~= "thread" then bad_argument(1, "close", "thread", co) end
  if stopped[co] then return false, STOPPED end
  local status = co_status(co)
  if status ~= "suspended" and status ~= "dead" then
    error(format("cannot close a %s coroutine", status), 2)
  end
  local d = depth + 1
  if entered[d] ~= co then enter(co, d) end
  depth = d
  return resumed(co, co_close(co))
end

local function wrap_failed(co, ok, err)
  local memory = rawequal(err, MEMERR) and real_memerr
  real_memerr = false
  if rawequal(err, MEMERR) and not memory then raised = true end  -- for the close below
  if co_status(co) == "dead" then  -- as coroutine.wrap does: close it; a __close error replaces the error
    local original = last_error
    local closed, closing = sb_close(co)
    if not closed and not rawequal(last_error, original) then err = closing end
  end
  last_error = nil
  if rawequal(err, MEMERR) then  -- a memory error, real or raised, gets no position
    raised = not memory
    error(err, 0)
  end
  error(err, 2)  -- a string error gets the caller's position, as with coroutine.wrap
end

local function unwrapped(co, ok, ...)
  if ok then
    depth = depth - 1
    return ...
  end
  return wrap_failed(co, resumed(co, ok, ...))
end

local function sb_wrap(...)
  local f = ...
  if type(f) ~= "function" then bad_argument(1, "wrap", "function", f, select("#", ...) == 0) end
  local co = sb_create(f)
  return function(...)
    local d = depth + 1
    if entered[d] ~= co then enter(co, d) end
    depth = d
    return unwrapped(co, co_resume(co, ...))
  end
end

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

env = {
  _VERSION = _VERSION,
  assert = sb_assert, error = sb_error, ipairs = ipairs, next = next, pairs = pairs, select = select,
  rawequal = rawequal, rawget = rawget, rawlen = rawlen, rawset = rawset,
  getmetatable = getmetatable, setmetatable = sb_setmetatable,
  tonumber = tonumber, tostring = tostring, type = type,
  pcall = sb_pcall, xpcall = sb_xpcall, load = sb_load, collectgarbage = sb_collectgarbage,
  print = sb_print,
  string = cell_string,
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
  results, frames, tripped, real_memerr, raised = nil, nil, false, false, false
  forget_entered()
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

-- After a tripped run: coroutines armed on their way out may survive suspended; disarm all.
local function finish()
  for co in next, pointer do
    if co_status(co) ~= "dead" then sethook(co, hook, "", 0) end
  end
end

-- lupa uses the global debug.traceback as the message handler of every call into Lua:
-- this one notes the cells' frames at the error point and turns any error object into
-- one clear string, and is out of the cells' reach.
local function message(e)
  frames = user_frames(2)
  e = relocated(e, nil, 3)
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
  release = forget_entered,
  allocation_failed = allocation_failed,
  finish = finish,
  set = function(name, value) rawset(env, name, value) end,
  get = function(name) return rawget(env, name) end,
}
