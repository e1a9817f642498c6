"""Stopping untrusted Lua: time limits, interrupts and the memory limit against cells that
try to escape them, and the sandbox's C functions (coroutines, pcall, xpcall, error,
assert, load, collectgarbage, print, setmetatable) against hostile arguments.

Cells run in a :class:`LuaSandbox` and through a real ``jido`` kernel over the Jupyter
protocol. After every stopped cell the Lua state must be intact: the same worker, the
globals of earlier cells, and coroutines made by earlier cells that still resume.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lupa.lua54
import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager
from kernel_helpers import Execution, execute, interrupt_when_started, jido_kernel
from stop_helpers import (
    GENERATOR,
    LATE,
    LIMIT,
    LOOP,
    MIB,
    SPIN,
    STOPPED,
    assert_intact,
    assert_stopped,
    open_sandbox,
    outcome,
    values,
)

from jido_kernel.lua import LuaError, LuaMemoryError, LuaSandbox, LuaTimeoutError

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LuaSandbox]:
    yield from open_sandbox(tmp_path_factory, "stop-attacks")


def nested(depth: int, body: str, how: str) -> str:
    """`body` run `depth` coroutines deep, each level resumed with `how`."""
    resume = {
        "wrap": "coroutine.wrap(f)(n - 1)",
        "resume": "coroutine.resume(coroutine.create(f), n - 1)",
        "for": "for _ in coroutine.wrap(function() f(n - 1) end) do end",
        "close": (
            "local c = coroutine.create(function() local x <close> = setmetatable({}, "
            "{__close = function() f(n - 1) end}) coroutine.yield() end) coroutine.resume(c) coroutine.close(c)"
        ),
    }[how]
    return f"local function f(n) if n == 0 then {body} end {resume} {SPIN} end f({depth})"


def meta(event: str, trigger: str) -> str:
    return f"local t = setmetatable({{}}, {{{event} = {LOOP}}}) local _ = {trigger}"


HANGS = {
    "main": SPIN,
    "wrap": f"coroutine.wrap({LOOP})()",
    "resume": f"coroutine.resume(coroutine.create({LOOP}))",
    "generic-for": f"for _ in coroutine.wrap({LOOP}) do end",
    "resume-again-and-again": f"while true do coroutine.resume(coroutine.create({LOOP})) end",
    "wrap-swallowed-by-pcall": f"while true do pcall(coroutine.wrap({LOOP})) end",
    "pcall-in-coroutine": f"coroutine.wrap(function() while true do pcall({LOOP}) end end)()",
    "xpcall-handler": f"while true do xpcall(error, {LOOP}, 'x') end",
    "xpcall-looping-body-and-handler": f"while true do xpcall({LOOP}, {LOOP}) end",
    "xpcall-handler-in-coroutine": f"coroutine.wrap(function() while true do xpcall(error, {LOOP}) end end)()",
    "xpcall-handler-resumes": f"while true do xpcall(error, function() coroutine.wrap({LOOP})() end) end",
    "close-in-main": f"local x <close> = setmetatable({{}}, {{__close = {LOOP}}}) {SPIN}",
    "close-in-killed-wrap": f"coroutine.wrap(function() local x <close> = setmetatable({{}}, {{__close = {LOOP}}}) "
    f"{SPIN} end)()",
    "close-of-suspended": f"local co = coroutine.create(function() local x <close> = setmetatable({{}}, "
    f"{{__close = {LOOP}}}) coroutine.yield() end) coroutine.resume(co) coroutine.close(co)",
    "close-of-suspended-in-pcall-loop": f"while true do local co = coroutine.create(function() local x <close> = "
    f"setmetatable({{}}, {{__close = {LOOP}}}) coroutine.yield() end) coroutine.resume(co) "
    "pcall(coroutine.close, co) end",
    "close-after-error-in-wrap": f"while true do pcall(coroutine.wrap(function() local x <close> = setmetatable({{}}, "
    f"{{__close = {LOOP}}}) error('e') end)) end",
    "close-handlers-chain": f"local a <close> = setmetatable({{}}, {{__close = {LOOP}}}) "
    f"local b <close> = setmetatable({{}}, {{__close = {LOOP}}}) {SPIN}",
    "for-closing-value": f"for _ in function() return nil end, nil, nil, setmetatable({{}}, {{__close = {LOOP}}}) "
    f"do end {SPIN}",
    "index": meta("__index", "t.x"),
    "newindex": f"local t = setmetatable({{}}, {{__newindex = {LOOP}}}) t.y = 1",
    "call": meta("__call", "t()"),
    "concat": meta("__concat", "t .. 'x'"),
    "eq": meta("__eq", "t == setmetatable({}, getmetatable(t))"),
    "lt": meta("__lt", "t < t"),
    "le": meta("__le", "t <= t"),
    "len": meta("__len", "#t"),
    "unm": meta("__unm", "-t"),
    "tostring": meta("__tostring", "tostring(t)"),
    "print": meta("__tostring", "print(t)"),
    "sort-comparator": f"table.sort({{3, 1, 2, 5, 4}}, {LOOP})",
    "gsub-callback": f"string.gsub('abc', '%w', {LOOP})",
    "load-reader": f"load({LOOP})",
    "load-reader-in-coroutine": f"coroutine.wrap(function() load({LOOP}) end)()",
    "error-object-tostring": f"error(setmetatable({{}}, {{__tostring = {LOOP}}}))",
    "yield-in-pcall-loop": "local co = coroutine.wrap(function() while true do pcall(coroutine.yield) end end) "
    "while true do co() end",
    "generator-driven-forever": "local co = coroutine.wrap(function() while true do coroutine.yield(1) end end) "
    "while true do co() end",
    "nested-wrap-50": nested(50, SPIN, "wrap"),
    "nested-wrap-150": nested(150, SPIN, "wrap"),
    "nested-resume-150": nested(150, SPIN, "resume"),
    "nested-for-60": nested(60, SPIN, "for"),
    "nested-close-60": nested(60, SPIN, "close"),
    "deep-xpcall-then-loop": f"local function f(n) if n == 0 then {SPIN} end "
    f"xpcall(f, function(m) return m end, n - 1) {SPIN} end f(195)",
    "deep-gsub-then-loop": f"local function f(n) if n == 0 then {SPIN} end pcall(string.gsub, 'a', 'a', "
    f"function() f(n - 1) end) {SPIN} end f(120)",
    "deep-xpcall-in-coroutine": f"coroutine.wrap(function() local function f(n) if n == 0 then {SPIN} end "
    f"xpcall(f, function(m) return m end, n - 1) {SPIN} end f(190) end)()",
    "close-is-a-wrap": f"local x <close> = setmetatable({{}}, {{__close = coroutine.wrap({LOOP})}}) {SPIN}",
    "close-is-a-wrap-in-pcall": f"pcall(function() local x <close> = setmetatable({{}}, "
    f"{{__close = coroutine.wrap(function() end)}}) {SPIN} end)",
    "for-closing-value-is-a-wrap": "for _ in function() return true end, nil, nil, setmetatable({}, "
    f"{{__close = coroutine.wrap(function() end)}}) do {SPIN} end",
    "close-is-a-wrap-in-coroutine": "coroutine.wrap(function() local x <close> = setmetatable({}, "
    f"{{__close = coroutine.wrap(function() end)}}) {SPIN} end)()",
}


@pytest.mark.parametrize("code", list(HANGS.values()), ids=list(HANGS))
def test_a_looping_cell_is_stopped_in_time_and_keeps_the_state(sandbox: LuaSandbox, code: str) -> None:
    assert_stopped(sandbox, code)


def test_a_coroutine_of_an_earlier_cell_that_loops_is_stopped(sandbox: LuaSandbox) -> None:
    pid = sandbox.pid
    values(sandbox, GENERATOR + " gen() spin = coroutine.create(function() coroutine.yield() " + SPIN + " end)")
    assert values(sandbox, "return coroutine.resume(spin)") == [True]
    result, took = outcome(sandbox, "gen() coroutine.resume(spin)", timeout=LIMIT)
    assert isinstance(result, LuaTimeoutError) and took < LIMIT + LATE
    assert values(sandbox, "return coroutine.status(spin)") == ["dead"]
    assert values(sandbox, "return coroutine.close(spin)")[0] is False
    assert_intact(sandbox, pid, 3)


def test_many_stopped_cells_in_a_row_leave_no_hook_behind(sandbox: LuaSandbox) -> None:
    pid = sandbox.pid
    values(sandbox, GENERATOR + " return gen()")
    for code in ("gen() " + SPIN, f"gen() coroutine.wrap({LOOP})()", f"gen() xpcall(error, {LOOP})"):
        result, _ = outcome(sandbox, code, timeout=0.1)
        assert isinstance(result, LuaTimeoutError), result
    assert values(sandbox, "local n = 0 for i = 1, 3e6 do n = n + 1 end return n, gen()") == [3_000_000, 5]
    assert sandbox.pid == pid


MEMORY = {
    "table": "local t = {} for i = 1, 1e9 do t[i] = i end",
    "string-doubling": "local s = 'x' while true do s = s .. s end",
    "string-rep": "return string.rep('x', 1 << 28)",
    "table-concat": "local t = {} for i = 1, 1e8 do t[i] = 'abcdefgh' .. i end return table.concat(t)",
    "pcall-swallows": "local t = {} while true do pcall(function() for i = 1, 1e6 do t[#t + 1] = {} end end) end",
    "pcall-swallows-string-rep": "while true do pcall(string.rep, 'x', 1 << 28) end",
    "xpcall-swallows": "local t = {} while true do xpcall(function() while true do t[#t + 1] = {} end end, "
    "function(m) return m end) end",
    "wrap": "coroutine.wrap(function() local t = {} while true do t[#t + 1] = {} end end)()",
    "resume-swallows": "local t = {} while true do coroutine.resume(coroutine.create(function() while true do "
    "t[#t + 1] = {} end end)) end",
    "close-swallows": "local t = {} while true do local co = coroutine.create(function() local x <close> = "
    "setmetatable({}, {__close = function() while true do t[#t + 1] = {} end end}) coroutine.yield() end) "
    "coroutine.resume(co) coroutine.close(co) end",
    "close-in-main": "local t = {} local x <close> = setmetatable({}, {__close = function() while true do "
    "t[#t + 1] = {} end end}) error('e')",
    "nested-coroutines": nested(40, "local t = {} while true do t[#t + 1] = {} end", "resume"),
    "load-huge-text": "local s = string.rep('x = 1 ', 5e6) local f, e = load(s) return f, e",
    "load-reader-allocates": "local t = {} local f, e = load(function() while true do t[#t + 1] = {} end end) "
    "return f, e",
    "load-text-too-large": "local s = string.rep('local a = {} ', 4e6) local f, e = load(s) return f, e",
    "after-raised-message-in-load-reader": "load(function() error('not enough memory', 0) end) "
    "local ok, e = pcall(string.rep, 'x', 1 << 28) return ok, e",
    "after-raised-message-in-load-reader-uncaught": "load(function() error('not enough memory', 0) end) "
    "return #string.rep('x', 1 << 28)",
    "close-after-raised-death": "local co = coroutine.create(function() local x <close> = setmetatable({}, "
    "{__close = function() local t = {} while true do t[#t + 1] = {} end end}) coroutine.yield() "
    "error('not enough memory', 0) end) coroutine.resume(co) coroutine.resume(co) return coroutine.close(co)",
    "close-is-a-wrap": "local x <close> = setmetatable({}, {__close = coroutine.wrap(function() end)}) "
    "local t = {} local function grow() for i = 1, 1e9 do t[#t + 1] = {} end end while true do pcall(grow) end",
    "after-raised-message-in-pcall": "pcall(error, 'not enough memory', 0) "
    "local ok, e = pcall(string.rep, 'x', 1 << 28) return ok, e",
    "after-raised-message-in-assert": "pcall(assert, false, 'not enough memory') return #string.rep('x', 1 << 28)",
}


@pytest.mark.parametrize("code", list(MEMORY.values()), ids=list(MEMORY))
def test_real_memory_exhaustion_ends_the_cell_as_a_memory_error(sandbox: LuaSandbox, code: str) -> None:
    pid = sandbox.pid
    values(sandbox, GENERATOR + " return gen()")
    result, took = outcome(sandbox, "gen()\n" + code, timeout=8.0)
    assert isinstance(result, LuaMemoryError), result
    assert "memory limit" in str(result) and "intact" in str(result)
    assert took < 8.0
    assert_intact(sandbox, pid, 3)
    assert values(sandbox, "local t = {} for i = 1, 1e5 do t[i] = {} end return #t") == [100_000]


def test_an_xpcall_handler_keeps_no_data_of_its_cell_alive(tmp_path: Path) -> None:
    box = LuaSandbox(tmp_path, max_memory=64 * MIB, timeout=10.0)
    try:
        result, _ = outcome(box, "local t = {} xpcall(error, function() while true do t[#t + 1] = {} end end)")
        assert isinstance(result, LuaMemoryError), result
        assert values(box, "local t = {} for i = 1, 1e5 do t[i] = {} end return #t") == [100_000]
        values(box, "local big = {} for i = 1, 5e5 do big[i] = {} end xpcall(error, function() return #big end)")
        assert values(box, "collectgarbage() return collectgarbage('count') < 16 * 1024") == [True]
    finally:
        box.close()


RAISED = {
    "error": ("error('not enough memory', 0)", "not enough memory"),
    "error-with-position": ("error('not enough memory')", ":2: not enough memory"),
    "assert": ("assert(false, 'not enough memory')", "not enough memory"),
    "wrap": ("coroutine.wrap(function() error('not enough memory', 0) end)()", "not enough memory"),
    "wrap-in-wrap": (
        "coroutine.wrap(function() coroutine.wrap(function() error('not enough memory', 0) end)() end)()",
        "not enough memory",
    ),
    "xpcall-handler": ("xpcall(error, function() error('not enough memory', 0) end) error('after')", ":2: after"),
    "close-handler": (
        "local x <close> = setmetatable({}, {__close = function() error('not enough memory', 0) end}) error('e')",
        "not enough memory",
    ),
}


@pytest.mark.parametrize(("code", "message"), list(RAISED.values()), ids=list(RAISED))
def test_raising_the_memory_message_is_an_ordinary_error(sandbox: LuaSandbox, code: str, message: str) -> None:
    pid = sandbox.pid
    values(sandbox, GENERATOR + " return gen()")
    result, _ = outcome(sandbox, "gen()\n" + code)
    assert type(result) is LuaError, result
    assert message in str(result)
    assert_intact(sandbox, pid, 3)


def test_caught_memory_messages_are_values_as_in_stock_lua(sandbox: LuaSandbox) -> None:
    code = (
        "local r = {}\n"
        "r[1] = select(2, pcall(error, 'not enough memory', 0))\n"
        "r[2] = select(2, pcall(assert, false, 'not enough memory'))\n"
        "r[3] = select(2, pcall(coroutine.wrap(function() error('not enough memory', 0) end)))\n"
        "r[4] = select(2, coroutine.resume(coroutine.create(function() error('not enough memory', 0) end)))\n"
        "r[5] = select(2, xpcall(error, function(m) return 'handled' end, 'not enough memory', 0))\n"
        "r[6] = select(2, load(function() error('not enough memory', 0) end))\n"
        "return table.unpack(r, 1, 6)"
    )
    stock = lupa.lua54.LuaRuntime(encoding=None)
    expected = [v.decode() if isinstance(v, bytes) else v for v in stock.execute(code)]
    assert values(sandbox, code) == expected
    assert values(sandbox, "return keep") == ["alive"]


def test_a_coroutine_that_raises_the_stop_message_still_closes_its_variables(sandbox: LuaSandbox) -> None:
    code = (
        "local log = {}\n"
        "local co = coroutine.create(function()\n"
        "  local x <close> = setmetatable({}, {__close = function() log[#log + 1] = 'closed' end})\n"
        f"  error({STOPPED!r}, 0)\n"
        "end)\n"
        "coroutine.resume(co)\n"
        "local ok, e = coroutine.close(co)\n"
        "local w = coroutine.wrap(function()\n"
        "  local y <close> = setmetatable({}, {__close = function() log[#log + 1] = 'wrap closed' end})\n"
        f"  error({STOPPED!r}, 0)\n"
        "end)\n"
        "pcall(w)\n"
        "return ok, e, table.concat(log, ',')"
    )
    stock = lupa.lua54.LuaRuntime(encoding=None)
    expected = [v.decode() if isinstance(v, bytes) else v for v in stock.execute(code)]
    assert expected == [False, STOPPED, "closed,wrap closed"]
    assert values(sandbox, code) == expected


ESCAPES = {
    "load-sees-the-cells-globals": ("return load('return _G')() == _G, load('return keep')()", [True, "alive"]),
    "load-reader-sees-the-cells-globals": (
        "local parts = {'return ', '_G, ', 'keep'} local i = 0 "
        "local f = load(function() i = i + 1 return parts[i] end, 'reader') local g, k = f() return g == _G, k",
        [True, "alive"],
    ),
    "load-no-hidden-names": (
        "local f = load('return debug, require, io, package, python, jido_native, os.execute, string.dump, "
        "dofile, loadfile, rawget(_G, \"jido_native\")') return select('#', f()), f()",
        [11] + [None] * 11,
    ),
    "load-chunk-named-like-the-sandbox": (
        "local f = load('return debug, jido_native', '=[jido sandbox]') return f()",
        [None, None],
    ),
    "load-nil-environment": (
        "local f = load('return x', 'c', 't', nil) local ok, e = pcall(f) return ok, e:match('upvalue') ~= nil",
        [False, True],
    ),
    "load-table-environment": ("return load('return print', 'c', 't', {})()", [None]),
    "load-binary-chunk": (
        "local h = '\\27LuaT\\0\\25\\147\\r\\n\\26\\n\\4\\8\\8' local r = {} "
        "for _, mode in ipairs({'b', 'bt', 't'}) do r[#r + 1] = load(h .. string.rep('\\0', 64), 'c', mode) end "
        "r[#r + 1] = load(h) "
        "local i = 0 r[#r + 1] = load(function() i = i + 1 return i == 1 and h or nil end) "
        "return #r",
        [0],
    ),
    "string-metatable-is-a-view": (
        "local mt = getmetatable('') local ok = pcall(function() mt.__index = {} end) "
        "pcall(rawset, mt, '__index', {}) pcall(rawset, mt, '__gc', print) "
        "return ok, ('x'):upper(), string.dump == nil, ('x').dump == nil, getmetatable('abc') == mt",
        [False, "X", True, True, True],
    ),
    "metatables-of-values": (
        "return getmetatable(print), getmetatable(coroutine.running()), getmetatable(1), getmetatable(nil), "
        "getmetatable(true), getmetatable(load('return 1')), getmetatable(coroutine.create(print))",
        [None] * 7,
    ),
    "collectgarbage-options": (
        "local r = {} for _, o in ipairs({'stop', 'restart', 'setpause', 'setstepmul', 'generational', "
        "'incremental'}) do r[#r + 1] = pcall(collectgarbage, o) end "
        "return r[1] or r[2] or r[3] or r[4] or r[5] or r[6], collectgarbage('isrunning'), "
        "type(collectgarbage('count')), type(collectgarbage('step')), type(collectgarbage())",
        [False, True, "number", "boolean", "number"],
    ),
    "no-finalizers": (
        "ran = false local mt = {} local t = setmetatable({}, mt) mt.__gc = function() ran = true end t = nil "
        "collectgarbage() collectgarbage() local ok = pcall(setmetatable, {}, {__gc = false}) return ran, ok",
        [False, False],
    ),
    "error-objects-are-lua-values": (
        "local r = {} "
        "r[1] = type((select(2, pcall(print, setmetatable({}, {__tostring = function() return {} end}))))) "
        "r[2] = type((select(2, pcall(print, setmetatable({}, {__name = {}}))))) "
        "r[3] = type((select(2, pcall(coroutine.resume, 1)))) r[4] = type((select(2, pcall(load)))) "
        "r[5] = type((select(3, pcall(jido.sleep)))) r[6] = type((select(2, xpcall(error, function(m) return m end)))) "
        "return table.concat(r, ',')",
        ["string,nil,string,string,string,nil"],
    ),
    "print-is-the-sandbox-print": (
        "local ok = pcall(print, string.rep('x', 1e6), setmetatable({}, {__name = 'Thing'})) "
        "return ok, _G.print == print",
        [True, True],
    ),
    "coroutine-functions-hold-no-secrets": (
        "local r = {} for k, v in pairs(coroutine) do r[#r + 1] = type(v) end table.sort(r) "
        "return table.concat(r, ',')",
        ["function,function,function,function,function,function,function,function"],
    ),
}


@pytest.mark.parametrize(("code", "expected"), list(ESCAPES.values()), ids=list(ESCAPES))
def test_cells_reach_nothing_outside_their_environment(sandbox: LuaSandbox, code: str, expected: list[Any]) -> None:
    assert values(sandbox, code) == expected


def test_python_objects_never_reach_a_cell(sandbox: LuaSandbox) -> None:
    code = (
        "local seen = {} local function note(...) for i = 1, select('#', ...) do local v = select(i, ...) "
        "local t = type(v) if t == 'userdata' then seen[#seen + 1] = tostring(v) end end end "
        "note(pcall(print, setmetatable({}, {__tostring = function() error({}) end}))) "
        "note(pcall(jido.sleep, -1)) note(pcall(jido.sleep, 'x')) note(pcall(jido.read_file)) "
        "note(pcall(jido.read_file, {})) note(pcall(jido.state.update_todos, print)) "
        "note(xpcall(jido.read_file, function(m) return m end, 1 / 0)) "
        "return #seen, table.concat(seen, ' ')"
    )
    assert values(sandbox, code) == [0, ""]


CRASHES = {
    "resume-running": "return coroutine.resume(coroutine.running())",
    "close-main": "return pcall(coroutine.close, coroutine.running())",
    "close-running-coroutine": "return coroutine.wrap(function() return pcall(coroutine.close, "
    "coroutine.running()) end)()",
    "close-normal-coroutine": "local a a = coroutine.create(function() return coroutine.wrap(function() return "
    "pcall(coroutine.close, a) end)() end) return coroutine.resume(a)",
    "resume-normal-coroutine": "local a a = coroutine.create(function() return coroutine.wrap(function() return "
    "coroutine.resume(a) end)() end) return coroutine.resume(a)",
    "resume-dead": "local co = coroutine.create(print) coroutine.resume(co) return coroutine.resume(co, 1, 2)",
    "resume-dead-after-error": "local co = coroutine.create(error) coroutine.resume(co, 'x') "
    "return coroutine.resume(co), coroutine.close(co), coroutine.close(co)",
    "wrap-dead": "local w = coroutine.wrap(print) w() return pcall(w)",
    "bad-arguments": "local r = {} for _, f in ipairs({coroutine.resume, coroutine.close, coroutine.wrap, "
    "coroutine.create, coroutine.status, pcall, xpcall, error, assert, load, setmetatable, collectgarbage}) do "
    "for _, a in ipairs({1, 'x', {}, true, print, 1.5, -1, math.maxinteger}) do r[#r + 1] = pcall(f, a, a, a, a) "
    "end r[#r + 1] = pcall(f) end return #r",
    "nested-resume-300": "local function f(n) if n == 0 then return 'bottom' end "
    "return select(2, coroutine.resume(coroutine.create(f), n - 1)) end return f(300)",
    "nested-wrap-300": "local function f(n) if n == 0 then return 'bottom' end return coroutine.wrap(f)(n - 1) end "
    "return pcall(f, 300)",
    "nested-close-300": "local function f(n) if n == 0 then return end local co = coroutine.create(function() "
    "local x <close> = setmetatable({}, {__close = function() f(n - 1) end}) coroutine.yield() end) "
    "coroutine.resume(co) return coroutine.close(co) end return pcall(f, 300)",
    "huge-resume-arguments": "local t = {} for i = 1, 1e6 do t[i] = true end local r = {} "
    "r[1] = pcall(function() return coroutine.resume(coroutine.create(function(...) return select('#', ...) end), "
    "table.unpack(t, 1, 999000)) end) "
    "r[2] = pcall(function() return coroutine.wrap(function(...) return ... end)(table.unpack(t, 1, 500000)) end) "
    "r[3] = pcall(function() return coroutine.wrap(function() return table.unpack(t, 1, 999000) end)() end) "
    "r[4] = pcall(print, table.unpack(t, 1, 999000)) return #r",
    "huge-yield-values": "local co = coroutine.wrap(function() local t = {} for i = 1, 5e5 do t[i] = i end "
    "coroutine.yield(table.unpack(t)) end) return select('#', co())",
    "print-many": "local t = {} for i = 1, 2e5 do t[i] = setmetatable({}, {__name = 'N' .. i}) end "
    "print(table.unpack(t)) return true",
    "yield-across-pcall": "local co = coroutine.wrap(function() return pcall(coroutine.yield, 1) end) "
    "return co(), co(2)",
    "yield-across-xpcall-handler": "return pcall(coroutine.wrap(function() return xpcall(error, coroutine.yield, "
    "'x') end))",
    "yield-in-metamethods": "local co = coroutine.wrap(function() local t = setmetatable({}, {__index = "
    "function() return coroutine.yield('i') end, __lt = function() return coroutine.yield('l') end, __concat = "
    "function() return coroutine.yield('c') end}) return t.x, t < t, t .. t end) return co(), co('a'), co(true), "
    "co('z')",
    "yield-in-sort-gsub-load-tostring": "local r = {} for _, f in ipairs({function() table.sort({1, 2, 3}, "
    "function() coroutine.yield() end) end, function() string.gsub('a', 'a', coroutine.yield) end, function() "
    "load(coroutine.yield) end, function() tostring(setmetatable({}, {__tostring = coroutine.yield})) end, "
    "function() print(setmetatable({}, {__tostring = coroutine.yield})) end}) do "
    "r[#r + 1] = select(2, pcall(coroutine.wrap(f))) end return #r",
    "wrap-of-c-functions": "local r = {} r[1] = coroutine.wrap(coroutine.yield)(1) "
    "r[2] = select(2, coroutine.wrap(pcall)(coroutine.yield, 2)) r[3] = pcall(coroutine.wrap(error)) "
    "r[4] = select(2, pcall(coroutine.wrap(coroutine.close), coroutine.running())) "
    "r[5] = type(coroutine.wrap(coroutine.wrap)(print)) r[6] = select(2, coroutine.wrap(coroutine.resume)("
    "coroutine.create(function() return 6 end))) return r[1], r[2], r[5], r[6]",
    "close-self-from-close": "local co co = coroutine.create(function() local x <close> = setmetatable({}, "
    "{__close = function() coroutine.close(co) end}) coroutine.yield() end) coroutine.resume(co) "
    "return pcall(coroutine.close, co)",
    "resume-self-from-close": "local co co = coroutine.create(function() local x <close> = setmetatable({}, "
    "{__close = function() coroutine.resume(co) end}) coroutine.yield() end) coroutine.resume(co) "
    "return pcall(coroutine.close, co)",
    "close-from-inside-xpcall-handler": "local co = coroutine.create(function() coroutine.yield() end) "
    "coroutine.resume(co) return xpcall(error, function() return coroutine.close(co) end, 'x')",
    "error-levels": "local r = {} for _, l in ipairs({0, 1, 2, 50, -1, math.maxinteger, math.mininteger, 1 << 32}) do "
    "r[#r + 1] = select(2, pcall(error, 'm', l)) end return #r",
    "load-odd-arguments": "local r = {} r[1] = load('return 1', string.rep('n', 1e6)) "
    "r[2] = load('return 1', nil, nil, nil) r[3] = select(2, load(function() return {} end)) "
    "r[4] = select(2, pcall(load, 'return 1', {})) r[5] = select(2, pcall(load, 'return 1', 'c', {})) "
    "r[6] = load('return 1', 'c', 't\\0b') r[7] = load(function() return nil end) return #r",
    "xpcall-handlers-change": "local n = 0 for i = 1, 1000 do xpcall(error, i % 2 == 0 and print or "
    "function(m) n = n + 1 return m end) end return n",
    "setmetatable-protected": "local t = setmetatable({}, {__metatable = 'locked'}) "
    "return pcall(setmetatable, t, nil), getmetatable(t)",
    "status-of-everything": "local co = coroutine.create(print) local r = {coroutine.status(co), "
    "coroutine.status(coroutine.running())} coroutine.resume(co) r[3] = coroutine.status(co) "
    "return table.concat(r, ',')",
}


@pytest.mark.parametrize("code", list(CRASHES.values()), ids=list(CRASHES))
def test_hostile_arguments_never_crash_the_worker(sandbox: LuaSandbox, code: str) -> None:
    pid = sandbox.pid
    result, _ = outcome(sandbox, code, timeout=10.0)
    assert isinstance(result, (list, LuaError)) and not isinstance(result, LuaTimeoutError), result
    assert sandbox.pid == pid
    assert values(sandbox, "return keep") == ["alive"]


SEMANTICS = [
    "local co = coroutine.wrap(function() error('x') end) return pcall(co)",
    "local co = coroutine.wrap(function() error({}) end) local ok, e = pcall(co) return ok, type(e)",
    "return coroutine.resume(coroutine.running())",
    "local co = coroutine.create(function() end) coroutine.resume(co) return coroutine.resume(co)",
    "local co = coroutine.create(function() end) coroutine.resume(co) return coroutine.close(co)",
    "local co = coroutine.create(error) coroutine.resume(co, 'e', 0) return coroutine.close(co)",
    "local log = {} local co = coroutine.create(function() local x <close> = setmetatable({}, {__close = "
    "function(_, e) log[1] = e end}) coroutine.yield() end) coroutine.resume(co) return coroutine.close(co), log[1]",
    "local log = {} local w = coroutine.wrap(function() local x <close> = setmetatable({}, {__close = "
    "function(_, e) log[1] = e end}) error('w', 0) end) return pcall(w), log[1]",
    "return pcall(coroutine.wrap, 1)",
    "return pcall(coroutine.close, 'x')",
    "return select('#', pcall(error))",
    "return pcall(assert, 1, 2, 3)",
    "return pcall(assert, false)",
    "return pcall(assert)",
    "return xpcall(error, function(m) return 'h:' .. tostring(m) end, 'e', 0)",
    "return xpcall(function(...) return select('#', ...) end, print, 1, nil, 3)",
    "return pcall(xpcall, print)",
    "return pcall(setmetatable, {}, 1)",
    "return load('return 1', 'c', 'b')",
    "return load('return 1', 'c', '')",
    "return load('return 1', 'c', 'x')",
    "return pcall(load, {})",
    "local f = load('return ...', 'c', 't', {}) return f(1, 2)",
    "local i, parts = 0, {'return ', '1 ', '+ 2'} return load(function() i = i + 1 return parts[i] end)()",
    "local co = coroutine.wrap(function() local ok, v = pcall(coroutine.yield, 1) return ok, v end) co() return co(2)",
    "local co = coroutine.wrap(function() return setmetatable({}, {__index = function() return "
    "coroutine.yield('y') end}).x end) return co(), co('v')",
    "local function f(n) if n == 0 then return 'bottom' end return coroutine.wrap(f)(n - 1) end return pcall(f, 40)",
    "local a, b a = coroutine.create(function() return coroutine.resume(b) end) b = coroutine.create(function() "
    "return coroutine.resume(a) end) return coroutine.resume(a)",
    "local co co = coroutine.create(function() return coroutine.close(co) end) return coroutine.resume(co)",
    "return coroutine.isyieldable(), coroutine.status(coroutine.running())",
    "return pcall(print, setmetatable({}, {__tostring = function() return 1 end}))",
    "local t = setmetatable({}, {__metatable = 1}) return pcall(setmetatable, t, {})",
    "return pcall(collectgarbage, 'bogus')",
]


@pytest.mark.parametrize("code", SEMANTICS)
def test_the_c_functions_behave_as_stock_lua(sandbox: LuaSandbox, code: str) -> None:
    stock = lupa.lua54.LuaRuntime(encoding=None)
    expected = stock.execute(code)
    expected = list(expected) if isinstance(expected, tuple) else [expected]
    expected = [v.decode().replace('[string "<python>"]', "<lua>") if isinstance(v, bytes) else v for v in expected]
    assert values(sandbox, code) == expected


# -- through a real kernel ----------------------------------------------------------------------------------

Kernel = tuple[KernelManager, BlockingKernelClient, Path]


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    root = tmp_path_factory.mktemp("stop-attacks-kernel").resolve()
    with jido_kernel(root) as (km, kc):
        prepared = execute(kc, "%lua keep = 'alive'")
        assert prepared.status == "ok", prepared.error
        yield km, kc, root


def cell(kernel: Kernel, code: str) -> Execution:
    return execute(kernel[1], code)


def worker_pid(kernel: Kernel) -> int:
    done = cell(kernel, "from jido_kernel.session import current_session\ncurrent_session().manager.lua.pid")
    assert done.result is not None, done.error
    return int(done.result["text/plain"])


def kernel_intact(kernel: Kernel, pid: int, generator_at: int) -> None:
    started = time.monotonic()
    done = cell(kernel, "%lua keep, gen(), 6 * 7")
    assert done.status == "ok", done.error
    assert done.result is not None and done.result["text/plain"] == f'"alive", {generator_at}, 42'
    assert time.monotonic() - started < 3.0
    assert worker_pid(kernel) == pid


def interrupted(kernel: Kernel, code: str) -> tuple[dict[str, Any], float]:
    """Run the Lua `code` in a cell that prints 'started' first; interrupt it then."""
    km, kc, _ = kernel
    reply, delay = interrupt_when_started(km, kc, "%%lua\nprint('started')\n" + code, settle=0.1, idle=True)
    time.sleep(0.2)
    return reply, delay


INTERRUPTED = {
    "main": SPIN,
    "nested-wrap": nested(60, SPIN, "wrap"),
    "xpcall-handler": f"while true do xpcall(error, {LOOP}) end",
    "close-of-suspended": HANGS["close-of-suspended-in-pcall-loop"],
    "sort-comparator-in-coroutine": f"coroutine.wrap(function() table.sort({{3, 2, 1}}, {LOOP}) end)()",
    "load-reader": f"while true do pcall(load, {LOOP}) end",
    "close-is-a-wrap": HANGS["close-is-a-wrap-in-pcall"],
}


@pytest.mark.parametrize("code", list(INTERRUPTED.values()), ids=list(INTERRUPTED))
def test_a_kernel_interrupt_stops_the_cell_and_keeps_the_state(kernel: Kernel, code: str) -> None:
    pid = worker_pid(kernel)
    assert cell(kernel, "%lua " + GENERATOR + " return gen()").status == "ok"
    reply, delay = interrupted(kernel, "gen()\n" + code)
    assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt", reply
    assert "intact" in reply["evalue"]
    assert delay < LATE + 1.0
    kernel_intact(kernel, pid, 3)


KERNEL_LIMITS = {
    "timeout-in-nested-coroutines": ("--timeout 0.5", nested(80, SPIN, "resume"), "LuaTimeoutError"),
    "timeout-in-close-of-killed-wrap": ("--timeout 0.5", HANGS["close-in-killed-wrap"], "LuaTimeoutError"),
    "timeout-with-a-wrap-as-close": ("--timeout 0.5", HANGS["close-is-a-wrap"], "LuaTimeoutError"),
    "memory-in-coroutine": ("", MEMORY["wrap"], "LuaMemoryError"),
    "memory-swallowed-by-pcall": ("", MEMORY["pcall-swallows"], "LuaMemoryError"),
    "memory-after-load-reader-message": ("", MEMORY["after-raised-message-in-load-reader"], "LuaMemoryError"),
    "raised-memory-message": ("", "coroutine.wrap(function() error('not enough memory', 0) end)()", "LuaError"),
}


@pytest.mark.parametrize(("flags", "code", "ename"), list(KERNEL_LIMITS.values()), ids=list(KERNEL_LIMITS))
def test_kernel_cells_end_with_the_limit_they_hit(kernel: Kernel, flags: str, code: str, ename: str) -> None:
    pid = worker_pid(kernel)
    assert cell(kernel, "%lua " + GENERATOR + " return gen()").status == "ok"
    started = time.monotonic()
    done = cell(kernel, f"%%lua {flags}\ngen()\n{code}")
    assert done.status == "error" and done.error is not None
    assert done.error["ename"] == ename, done.error
    assert len(done.error["traceback"]) == 1
    assert time.monotonic() - started < 15
    kernel_intact(kernel, pid, 3)
