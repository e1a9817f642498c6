"""Stopping untrusted Lua, continued: memory errors raised while another one unwinds,
memory failures the collector recovers from, the stop's own error value handed back to
cells, error objects met by load's reader at the top of a run, interrupts racing short
cells, Lua state resets and several sandboxes at once, and more of the C functions'
behaviour against stock Lua.

Every stopped or failed cell must leave the Lua state intact: the same worker, the
globals of earlier cells, and coroutines made by earlier cells that still resume.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lupa.lua54
import pytest
from kernel_helpers import execute, jido_kernel
from stop_helpers import (
    GENERATOR,
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

GROW = "local t = {} while true do t[#t + 1] = {} end"
RAISE_OTHER_IN_CLOSE = "local x <close> = setmetatable({}, {__close = function() error('e', 0) end})"
RAISE_IN_CLOSE = "local x <close> = setmetatable({}, {__close = function() error('not enough memory', 0) end})"
# About 41 MiB kept alive: with the collector's pause the next cycle would start past the
# 64 MiB limit, so a stream of garbage makes allocations fail until the emergency
# collection frees the garbage (each such failure is recovered from).
NEAR_LIMIT = (
    "local live = {} for i = 1, 40 do live[i] = string.rep(string.char(64 + i), 1024 * 1024) end collectgarbage()"
)
GARBAGE = "for i = 1, 1e6 do local _ = {i} end"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LuaSandbox]:
    yield from open_sandbox(tmp_path_factory, "stop-more")


def stock_values(code: str, max_memory: int = 0) -> list[Any]:
    runtime = lupa.lua54.LuaRuntime(encoding=None, max_memory=max_memory or None)
    result = runtime.execute(code)
    result = list(result) if isinstance(result, tuple) else [result]
    return [v.decode().replace('[string "<python>"]', "<lua>") if isinstance(v, bytes) else v for v in result]


# -- real exhaustion hidden behind a raised memory message -----------------------------------------------

MASKED = {
    "close-handler-raises-during-exhaustion-in-pcall": (
        f"while true do pcall(function() {RAISE_IN_CLOSE} {GROW} end) end"
    ),
    "close-handler-raises-another-error-in-pcall": (
        f"while true do pcall(function() {RAISE_OTHER_IN_CLOSE} {GROW} end) end"
    ),
    "close-handler-raises-another-error-in-wrap": (
        f"while true do pcall(coroutine.wrap(function() {RAISE_OTHER_IN_CLOSE} {GROW} end)) end"
    ),
    "close-handler-raises-another-error-in-resume": (
        f"while true do coroutine.resume(coroutine.create(function() {RAISE_OTHER_IN_CLOSE} {GROW} end)) end"
    ),
    "close-handler-raises-during-exhaustion-in-xpcall": (
        f"while true do xpcall(function() {RAISE_IN_CLOSE} {GROW} end, function(m) return m end) end"
    ),
    "close-handler-raises-in-pcall-in-coroutine": (
        f"local co = coroutine.wrap(function() while true do pcall(function() {RAISE_IN_CLOSE} {GROW} end) "
        "coroutine.yield() end end) while true do co() end"
    ),
    "close-handler-raises-in-load-reader": f"while true do pcall(load, function() {RAISE_IN_CLOSE} {GROW} end) end",
    "close-handler-raises-in-resumed-coroutine": (
        f"while true do local co = coroutine.create(function() {RAISE_IN_CLOSE} {GROW} end) coroutine.resume(co) end"
    ),
    "close-handler-raises-in-gsub-callback": (
        f"while true do pcall(string.gsub, 'a', 'a', function() {RAISE_IN_CLOSE} {GROW} end) end"
    ),
    "error-object-tostring-exhausts-in-load-reader": (
        f"while true do local f, e = load(function() error(setmetatable({{}}, {{__tostring = function() {GROW} end}})) "
        "end) tostring(e) end"
    ),
    "uncaught-error-object-tostring-exhausts": f"error(setmetatable({{}}, {{__tostring = function() {GROW} end}}))",
}


@pytest.mark.parametrize("code", list(MASKED.values()), ids=list(MASKED))
def test_real_exhaustion_is_a_memory_error_whatever_is_raised_while_it_unwinds(sandbox: LuaSandbox, code: str) -> None:
    pid = sandbox.pid
    values(sandbox, GENERATOR + " return gen()")
    result, took = outcome(sandbox, "gen()\n" + code, timeout=3.0)
    assert isinstance(result, LuaMemoryError), result
    assert took < 3.0
    assert_intact(sandbox, pid, 3)


SWALLOWED = {
    "print": "local s = string.rep('x', 1 << 24) while true do pcall(print, s, s, s, s) end",
    "string-format": "local s = string.rep('x', 1 << 24) while true do "
    "pcall(string.format, '%s%s%s%s', s, s, s, s) end",
    "table-concat": "local s = string.rep('x', 1 << 24) while true do pcall(table.concat, {s, s, s, s}) end",
    "tostring-metamethod": "local s = string.rep('x', 1 << 24) local t = setmetatable({}, {__tostring = function() "
    "return s .. s .. s .. s end}) while true do pcall(tostring, t) end",
    "print-of-long-names": "local s = string.rep('x', 1 << 24) local t = setmetatable({}, {__name = s}) "
    "while true do pcall(print, t, t, t, t) end",
    "table-concat-in-coroutine": "local s = string.rep('x', 1 << 24) local co = coroutine.wrap(function() "
    "while true do pcall(table.concat, {s, s, s, s}) coroutine.yield() end end) while true do co() end",
    "load-reader-pieces": "local s = string.rep('x', 1 << 24) while true do pcall(load, function() return s end) end",
    "close-of-suspended-concatenates": "local s = string.rep('x', 1 << 24) while true do local co = coroutine.create("
    "function() local x <close> = setmetatable({}, {__close = function() local _ = s .. s .. s .. s end}) "
    "coroutine.yield() end) coroutine.resume(co) pcall(coroutine.close, co) end",
    "pcall-then-collectgarbage-step": "local t = {} while true do pcall(function() while true do t[#t + 1] = {} end "
    "end) t = {} collectgarbage('step') end",
}


@pytest.mark.parametrize("code", list(SWALLOWED.values()), ids=list(SWALLOWED))
def test_exhaustion_inside_library_functions_is_a_memory_error(sandbox: LuaSandbox, code: str) -> None:
    result, took = outcome(sandbox, code, timeout=5.0)
    assert isinstance(result, LuaMemoryError), result
    assert took < 5.0
    assert values(sandbox, "return keep") == ["alive"]


# -- a raised memory message stays an ordinary error after failures the collector recovered ---------------

RECOVERED_CAUGHT = {
    "garbage-in-close-handler-of-pcall": (
        f"{NEAR_LIMIT} local ok, e = pcall(function() local x <close> = setmetatable({{}}, "
        f"{{__close = function() {GARBAGE} end}}) error('not enough memory', 0) end) return ok, e"
    ),
    "garbage-in-close-handler-of-wrap": (
        f"{NEAR_LIMIT} local ok, e = pcall(coroutine.wrap(function() local x <close> = setmetatable({{}}, "
        f"{{__close = function() {GARBAGE} end}}) error('not enough memory', 0) end)) return ok, e"
    ),
    "garbage-before-the-raise": (
        f"{NEAR_LIMIT} local ok, e = pcall(function() {GARBAGE} error('not enough memory', 0) end) return ok, e"
    ),
    "garbage-before-pcall": f"{NEAR_LIMIT} {GARBAGE} local ok, e = pcall(error, 'not enough memory', 0) return ok, e",
}
RECOVERED_OTHER = {
    "garbage-in-close-handler-of-pcall": (
        f"{NEAR_LIMIT} local ok, e = pcall(function() local x <close> = setmetatable({{}}, "
        f"{{__close = function() {GARBAGE} end}}) error('e', 0) end) return ok, e"
    ),
    "garbage-in-close-handler-of-wrap": (
        f"{NEAR_LIMIT} local ok, e = pcall(coroutine.wrap(function() local x <close> = setmetatable({{}}, "
        f"{{__close = function() {GARBAGE} end}}) error('e', 0) end)) return ok, e"
    ),
}


@pytest.mark.parametrize("code", list(RECOVERED_OTHER.values()), ids=list(RECOVERED_OTHER))
def test_an_ordinary_error_stays_one_after_recovered_failures(sandbox: LuaSandbox, code: str) -> None:
    assert values(sandbox, code) == [False, "e"]


@pytest.mark.parametrize("code", list(RECOVERED_CAUGHT.values()), ids=list(RECOVERED_CAUGHT))
def test_a_caught_memory_message_is_a_value_after_recovered_failures(sandbox: LuaSandbox, code: str) -> None:
    pid = sandbox.pid
    assert stock_values(code, 64 * MIB) == [False, "not enough memory"]
    result, _ = outcome(sandbox, code, timeout=5.0)
    assert result == [False, "not enough memory"], result
    assert sandbox.pid == pid
    assert values(sandbox, "return keep") == ["alive"]


def test_an_uncaught_memory_message_is_an_ordinary_error_after_recovered_failures(sandbox: LuaSandbox) -> None:
    code = (
        f"{NEAR_LIMIT} local x <close> = setmetatable({{}}, {{__close = function() {GARBAGE} end}}) "
        "error('not enough memory', 0)"
    )
    result, _ = outcome(sandbox, code, timeout=5.0)
    assert type(result) is LuaError, result
    assert "not enough memory" in str(result)
    assert values(sandbox, "return keep") == ["alive"]


def test_a_failure_the_collector_recovers_from_does_not_end_the_cell(sandbox: LuaSandbox) -> None:
    code = (
        f"{NEAR_LIMIT} local ok = pcall(function() {GARBAGE} end) local n = 0 for i = 1, 3 do {GARBAGE} end return ok"
    )
    assert values(sandbox, code) == [True]


# -- the stop's error value in a cell's hands ------------------------------------------------------------


def stop_value(box: LuaSandbox) -> None:
    """Leave the stop's own error value in global `S` (a coroutine killed by a stop, closed
    by the next cell, hands it out)."""
    values(box, "spin = coroutine.create(function() coroutine.yield() " + SPIN + " end) coroutine.resume(spin)")
    result, _ = outcome(box, "coroutine.resume(spin)", timeout=LIMIT)
    assert isinstance(result, LuaTimeoutError), result
    assert values(box, "local ok, s = coroutine.close(spin) S = s return ok, s") == [False, STOPPED]


STOP_VALUE = {
    "wrap": (
        "local log = {} local w = coroutine.wrap(function() local x <close> = setmetatable({}, "
        "{__close = function() log[1] = 'closed' end}) error(S, 0) end) local ok, e = pcall(w) "
        "return ok, e == S, log[1]",
        [False, True, "closed"],
    ),
    "resume-then-close": (
        "local log = {} local co = coroutine.create(function() local x <close> = setmetatable({}, "
        "{__close = function() log[1] = 'closed' end}) error(S, 0) end) coroutine.resume(co) "
        "local ok, e = coroutine.close(co) return ok, e == S, log[1]",
        [False, True, "closed"],
    ),
    "wrap-then-later-cell": (
        "local w = coroutine.wrap(function() local x <close> = setmetatable({}, "
        "{__close = function() closed_later = true end}) error(S, 0) end) pcall(w) return closed_later == true",
        [True],
    ),
}


@pytest.mark.parametrize(("code", "expected"), list(STOP_VALUE.values()), ids=list(STOP_VALUE))
def test_the_stop_value_raised_by_a_cell_is_an_ordinary_error(
    sandbox: LuaSandbox, code: str, expected: list[Any]
) -> None:
    pid = sandbox.pid
    stop_value(sandbox)
    assert values(sandbox, code) == expected
    assert sandbox.pid == pid
    values(sandbox, GENERATOR + " return gen()")
    assert_intact(sandbox, pid, 2)


def test_a_stop_value_raised_in_an_earlier_cell_does_not_stop_later_ones(sandbox: LuaSandbox) -> None:
    pid = sandbox.pid
    stop_value(sandbox)
    assert values(sandbox, "return pcall(error, S, 0)") == [False, STOPPED]
    result, _ = outcome(sandbox, "error(S, 0)")
    assert type(result) is LuaError, result
    assert values(sandbox, "local n = 0 for i = 1, 3e6 do n = n + 1 end return n") == [3_000_000]
    assert sandbox.pid == pid


# -- load's reader at the top of a run ---------------------------------------------------------------------

TOP_LEVEL_READER = [
    "local f, e = load(function() error({}) end) return f, type(e)",
    "local t = {} local f, e = load(function() error(t) end) return f, e == t",
    "local f, e = load(function() error(setmetatable({}, {__tostring = function() return 'T' end})) end) "
    "return f, type(e)",
    "local f, e = load(function() error(42) end) return f, math.type(e)",
]


@pytest.mark.parametrize("code", TOP_LEVEL_READER)
def test_load_returns_the_readers_error_value_unchanged(sandbox: LuaSandbox, code: str) -> None:
    inside_pcall = f"return pcall(function() {code} end)"
    expected = stock_values(inside_pcall)[1:]
    assert values(sandbox, inside_pcall)[1:] == expected
    assert values(sandbox, code) == expected


# -- more stops across C boundaries ------------------------------------------------------------------------

HANGS = {
    "gmatch-body-in-coroutine": f"for w in string.gmatch('a b c', '%a') do coroutine.wrap({LOOP})() end",
    "wrap-as-index": f"local t = setmetatable({{}}, {{__index = coroutine.wrap({LOOP})}}) local _ = t.x",
    "wrap-as-call": f"local t = setmetatable({{}}, {{__call = coroutine.wrap({LOOP})}}) t()",
    "wrap-as-iterator": f"for _ in coroutine.wrap({LOOP}) do end",
    "wrap-as-gsub-callback": f"string.gsub('abc', '%w', coroutine.wrap({LOOP}))",
    "wrap-as-sort-comparator": f"table.sort({{3, 1, 2}}, coroutine.wrap({LOOP}))",
    "wrap-as-load-reader": f"load(coroutine.wrap({LOOP}))",
    "wrap-as-tostring": f"tostring(setmetatable({{}}, {{__tostring = coroutine.wrap({LOOP})}}))",
    "wrap-as-xpcall-handler": f"xpcall(error, coroutine.wrap({LOOP}))",
    "index-chain-of-wraps": "local t = setmetatable({}, {__index = setmetatable({}, {__index = "
    f"coroutine.wrap({LOOP})}})}}) local _ = t.x",
    "close-resumes-others": "local co = coroutine.create(function() local x <close> = setmetatable({}, "
    "{__close = function() local a = coroutine.wrap(function() coroutine.yield() end) a() "
    f"coroutine.resume(coroutine.create({LOOP})) end}}) coroutine.yield() end) "
    "coroutine.resume(co) coroutine.close(co)",
    "coroutine-of-an-earlier-cell-deep": "local function f(n) if n == 0 then return keep end "
    f"return coroutine.wrap(f)(n - 1) end f(30) {SPIN}",
    "resume-after-swallowed-yields": "local co = coroutine.wrap(function() while true do pcall(coroutine.yield) "
    f"coroutine.wrap({LOOP})() end end) co() co()",
    "print-in-loop-with-coroutines": "while true do print(coroutine.wrap(function() return 1 end)()) end",
    "collectgarbage-step-loop": "while true do collectgarbage('step') end",
    "string-format-tostring": f"string.format('%s', setmetatable({{}}, {{__tostring = {LOOP}}}))",
    "table-concat-in-pcall-loop": "local t = {} for i = 1, 100 do t[i] = 'x' end while true do "
    "pcall(table.concat, t) end",
}


@pytest.mark.parametrize("code", list(HANGS.values()), ids=list(HANGS))
def test_a_looping_cell_is_stopped_through_any_boundary(sandbox: LuaSandbox, code: str) -> None:
    assert_stopped(sandbox, code)


def test_coroutines_of_earlier_stopped_cells_run_normally(sandbox: LuaSandbox) -> None:
    pid = sandbox.pid
    values(
        sandbox,
        "gens = {} for i = 1, 20 do gens[i] = coroutine.wrap(function() local n = 0 while true do n = n + 1 "
        "coroutine.yield(n) end end) end",
    )
    for round_ in range(3):
        code = "local function f(n) if n == 0 then " + SPIN + " end gens[n]() return coroutine.wrap(f)(n - 1) end f(20)"
        result, _ = outcome(sandbox, code, timeout=0.1 + 0.05 * round_)
        assert isinstance(result, LuaTimeoutError), result
    code = "local s = 0 for i = 1, 20 do s = s + gens[i]() end local n = 0 for i = 1, 3e6 do n = n + 1 end return s, n"
    started = time.monotonic()
    assert values(sandbox, code) == [20 * 4, 3_000_000]
    assert time.monotonic() - started < 2.0
    assert sandbox.pid == pid


# -- more of the C functions against stock Lua ------------------------------------------------------------

SEMANTICS = [
    "return pcall(coroutine.resume, setmetatable({}, {__name = 'Thing'}))",
    "return pcall(coroutine.wrap, setmetatable({}, {__name = 'Thing'}))",
    "return pcall(setmetatable, 1, {})",
    "return pcall(setmetatable, {})",
    "return pcall(xpcall, print, 1)",
    "return pcall(xpcall)",
    "return pcall(pcall)",
    "return pcall(error, 'm', 'x')",
    "return pcall(error, 'm', 2.5)",
    "return pcall(error, 'm', '2')",
    "local function f() error('lvl2', 2) end local function g() f() end return pcall(g)",
    "local function f() error('lvl2', 2) end local function g() return f() end return pcall(g)",
    "local function f() error('lvl3', 3) end local function g() f() end local function h() g() end return pcall(h)",
    "local function f() return error('tail', 1) end return pcall(f)",
    "local function f() return error('tail2', 2) end local function g() f() end return pcall(g)",
    "local function f() assert(false) end return pcall(f)",
    "return pcall(assert, false, nil)",
    "return select('#', assert(1, nil, nil))",
    "local f, e = load('x = ', '=name') return f, e",
    "local f, e = load('x = ', '@file.lua') return f, e",
    "local f, e = load('x = ') return f, e",
    "local f, e = load(function() return nil end, 'n') return type(f), e",
    "local i = 0 local f = load(function() i = i + 1 if i == 1 then return 'return ' elseif i == 2 then return 42 end "
    "end) return f()",
    "return pcall(load, 'return 1', 'c', 1)",
    "local ok, f = pcall(load, 'return 1', 1) return ok, type(f)",
    "return pcall(load, 1)",
    "return pcall(load, nil)",
    "return load('\\27Lua', 'c', 't')",
    "return load('x', 'c', 'bogus')",
    "return pcall(collectgarbage, 1)",
    "return pcall(collectgarbage, 'step', 'x')",
    "return select('#', collectgarbage('count'))",
    "return pcall(print, setmetatable({}, {__tostring = function() error('boom') end}))",
    "return pcall(print, setmetatable({}, {__tostring = function() return nil end}))",
    "return pcall(setmetatable, setmetatable({}, {__metatable = false}), {})",
    "local t = setmetatable({}, {__metatable = 'locked'}) return getmetatable(t), pcall(setmetatable, t, {})",
    "return select('#', setmetatable({}, nil))",
    "return pcall(coroutine.close)",
    "return pcall(coroutine.create)",
    "return pcall(coroutine.create, setmetatable({}, {__call = print}))",
    "local w = coroutine.wrap(function() error(42) end) return pcall(w)",
    "local w = coroutine.wrap(function() error('x', 2) end) return pcall(w)",
    "local w = coroutine.wrap(function() local x <close> = setmetatable({}, {__close = function() "
    "error('inclose', 0) end}) error('body', 0) end) return pcall(w)",
    "local co = coroutine.create(function() local x <close> = setmetatable({}, {__close = function() "
    "error('inclose', 0) end}) coroutine.yield() end) coroutine.resume(co) return coroutine.close(co)",
    "local co = coroutine.create(function() local x <close> = setmetatable({}, {__close = function() "
    "coroutine.yield() end}) coroutine.yield() end) coroutine.resume(co) return pcall(coroutine.close, co)",
    "local co = coroutine.create(function() coroutine.yield() end) coroutine.resume(co) "
    "return coroutine.close(co), coroutine.status(co), coroutine.resume(co)",
    "local co = coroutine.create(function() return pcall(coroutine.yield, 1, 2) end) local a = {coroutine.resume(co)} "
    "local b = {coroutine.resume(co, 3, 4)} return a[2], a[3], b[2], b[3], b[4]",
    "local co = coroutine.create(function() return xpcall(function() coroutine.yield(1) error('after') end, "
    "function(m) return 'h:' .. m end) end) coroutine.resume(co) return coroutine.resume(co)",
    "return xpcall(error, error, 'x')",
    "return xpcall(function() local t = nil; return t.x end, function(m) return 'H' .. m end)",
    "return pcall(xpcall, error, setmetatable({}, {__call = function() return 1 end}))",
    "local t = setmetatable({}, {__index = coroutine.wrap(function(t, k) while true do t, k = coroutine.yield(k .. "
    "'!') end end)}) return t.a, t.b",
    "return string.gsub('abc', '%w', coroutine.wrap(function(c) while true do c = coroutine.yield(c:upper()) end end))",
    "local t = {5, 2, 4, 1} table.sort(t, function(a, b) return coroutine.wrap(function() return a < b end)() end) "
    "return table.concat(t, ',')",
    "local f = coroutine.wrap(function() while true do coroutine.yield(1) end end) return xpcall(f, print)",
]


@pytest.mark.parametrize("code", SEMANTICS)
def test_more_c_functions_behave_as_stock_lua(sandbox: LuaSandbox, code: str) -> None:
    assert values(sandbox, code) == stock_values(code)


def test_print_writes_what_stock_tostring_gives(sandbox: LuaSandbox) -> None:
    args = (
        "1, 1.5, -0.0, 1e300, 1 / 0, -1 / 0, 2^63, math.mininteger, math.maxinteger, nil, true, false, 'a\\0b', "
        "'', setmetatable({}, {__tostring = function() return 'T' end}), "
        "setmetatable({}, {__name = 'N', __tostring = function() return 'named' end}), 3 // 1, 7 / 2"
    )
    expected = stock_values(
        f"local t = table.pack({args}) for i = 1, t.n do t[i] = tostring(t[i]) end "
        "return table.concat(t, '\\t', 1, t.n) .. '\\n'"
    )[0]
    printed: list[str] = []
    sandbox.run(f"print({args}) print() print(nil)", on_stdout=printed.append)
    assert "".join(printed) == expected + "\n" + "nil\n"


def test_a_stop_during_memory_exhaustion_with_wraps_as_close_handlers_keeps_the_worker(sandbox: LuaSandbox) -> None:
    pid = sandbox.pid
    for depth in (50, 100):
        code = (
            "local t = {} local function mk() return setmetatable({}, {__close = coroutine.wrap(function() end)}) end "
            "local function f(n) local a <close> = mk() local b <close> = mk() if n > 0 then return f(n - 1) end "
            f"while true do t[#t + 1] = {{}} end end while true do pcall(f, {depth}) end"
        )
        result, _ = outcome(sandbox, code, timeout=5.0)
        assert isinstance(result, LuaMemoryError), result
        assert sandbox.pid == pid
    code = (
        "local t = {} local function mk() return setmetatable({}, {__close = coroutine.wrap(function() "
        "for i = 1, 10 do t[#t + 1] = {} end end)}) end local function f(n) local a <close> = mk() "
        f"local b <close> = mk() if n > 0 then return f(n - 1) end {SPIN} end f(150)"
    )
    result, _ = outcome(sandbox, code, timeout=LIMIT)
    assert isinstance(result, LuaTimeoutError), result
    assert sandbox.pid == pid
    assert values(sandbox, "return keep") == ["alive"]


# -- interrupts racing short cells ---------------------------------------------------------------------------


def test_interrupts_at_random_moments_never_leave_a_hook_or_crash(tmp_path: Path) -> None:
    box = LuaSandbox(tmp_path, max_memory=64 * MIB, timeout=10.0)
    try:
        values(box, GENERATOR + " keep = 'alive' return gen()")
        pid = box.pid
        rng = random.Random(7)
        code = (
            "local s = 0 for i = 1, 200 do local co = coroutine.wrap(function(a) local b = coroutine.yield(a + 1) "
            "return b * 2 end) s = s + co(i) + co(i) pcall(coroutine.wrap(function() error('e') end)) end return s"
        )
        expected = sum((i + 1) + 2 * i for i in range(1, 201))
        interrupted = 0
        for _ in range(60):
            timer = threading.Timer(rng.uniform(0.0, 0.004), box.interrupt)
            timer.start()
            try:
                result: Any = box.run(code, on_stdout=lambda text: None).values
            except KeyboardInterrupt as error:  # the interrupt is the outcome under test
                result = error
            timer.cancel()
            if isinstance(result, KeyboardInterrupt):
                interrupted += 1
            else:
                assert result == [expected], result
        assert box.pid == pid
        assert values(box, code) == [expected]
        started = time.monotonic()
        assert values(box, "local n = 0 for i = 1, 3e6 do n = n + 1 end return n, gen(), keep") == [
            3_000_000,
            2,
            "alive",
        ]
        assert time.monotonic() - started < 2.0
    finally:
        box.close()


# -- resets and several sandboxes ------------------------------------------------------------------------------


def test_resets_between_stopped_cells_keep_the_worker_and_its_limits(tmp_path: Path) -> None:
    box = LuaSandbox(tmp_path, max_memory=64 * MIB, timeout=10.0)
    try:
        values(box, "keep = 'alive'")
        pid = box.pid
        for _ in range(5):
            assert values(box, GENERATOR + " keep = 'alive' return gen()") == [1]
            result, _ = outcome(box, "gen() " + f"coroutine.wrap({LOOP})()", timeout=0.2)
            assert isinstance(result, LuaTimeoutError), result
            box.reset()
            assert values(box, "return gen, keep") == [None, None]
            result, _ = outcome(box, GROW, timeout=5.0)
            assert isinstance(result, LuaMemoryError), result
            result, _ = outcome(box, f"coroutine.resume(coroutine.create({LOOP}))", timeout=0.2)
            assert isinstance(result, LuaTimeoutError), result
        assert box.pid == pid
        values(box, GENERATOR + " keep = 'alive' return gen()")
        assert_intact(box, pid, 2)
        result, _ = outcome(box, "return pcall(error, 'not enough memory', 0)")
        assert result == [False, "not enough memory"]
    finally:
        box.close()


def test_several_sandboxes_at_once_and_one_closed_mid_run(tmp_path: Path) -> None:
    for i in range(3):
        (tmp_path / str(i)).mkdir()
    boxes = [LuaSandbox(tmp_path / str(i), max_memory=32 * MIB, timeout=10.0) for i in range(3)]
    try:
        for i, box in enumerate(boxes):
            values(box, GENERATOR + f" keep = {i} return gen()")
        results: dict[int, Any] = {}

        def run(i: int) -> None:
            results[i], _ = outcome(boxes[i], "gen() " + f"coroutine.wrap({LOOP})()", timeout=5.0 if i == 0 else 1.0)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
        for thread in threads:
            thread.start()
        time.sleep(0.3)
        boxes[0].close()
        started = time.monotonic()
        for thread in threads:
            thread.join(10)
        assert time.monotonic() - started < 3.0
        assert isinstance(results[1], LuaTimeoutError) and isinstance(results[2], LuaTimeoutError), results
        assert isinstance(results[0], Exception) and not isinstance(results[0], LuaTimeoutError), results
        for i in (1, 2):
            assert values(boxes[i], "return keep, gen()") == [i, 3]
    finally:
        for box in boxes:
            box.close()


# -- through a real kernel ------------------------------------------------------------------------------------


def test_kernel_reset_after_stopped_cells_then_more_cells(tmp_path: Path) -> None:
    with jido_kernel(tmp_path.resolve()) as (_, kc):
        assert execute(kc, "%lua " + GENERATOR + " keep = 'alive' return gen()").status == "ok"
        done = execute(kc, f"%%lua --timeout 0.3\ngen()\ncoroutine.wrap({LOOP})()")
        assert done.error is not None and done.error["ename"] == "LuaTimeoutError", done.error
        assert execute(kc, "%lua_reset").status == "ok"
        done = execute(kc, "%lua gen == nil, keep == nil")
        assert done.result is not None and done.result["text/plain"] == "true, true", done.error
        assert execute(kc, "%lua " + GENERATOR + " return gen()").status == "ok"
        done = execute(kc, f"%%lua --timeout 0.3\ngen()\ncoroutine.resume(coroutine.create({LOOP}))")
        assert done.error is not None and done.error["ename"] == "LuaTimeoutError", done.error
        done = execute(kc, "%%lua\n" + GROW)
        assert done.error is not None and done.error["ename"] == "LuaMemoryError", done.error
        done = execute(kc, "%lua gen(), 6 * 7")
        assert done.result is not None and done.result["text/plain"] == "3, 42", done.error


def test_kernel_interrupts_at_random_moments_leave_later_cells_alone(tmp_path: Path) -> None:
    with jido_kernel(tmp_path.resolve()) as (km, kc):
        assert execute(kc, "%lua " + GENERATOR + " keep = 'alive' return gen()").status == "ok"
        done = execute(kc, "from jido_kernel.session import current_session\ncurrent_session().manager.lua.pid")
        assert done.result is not None, done.error
        pid = done.result["text/plain"]
        rng = random.Random(11)
        short = (
            "%%lua\nlocal s = 0 for i = 1, 3000 do local co = coroutine.wrap(function(a) "
            "return coroutine.yield(a) + 1 end) s = s + co(i) + co(i) end return s"
        )
        for _ in range(8):
            msg_id = kc.execute(short)
            time.sleep(rng.uniform(0.0, 0.08))
            km.interrupt_kernel()
            reply = kc.get_shell_msg(timeout=30)
            while reply["parent_header"].get("msg_id") != msg_id:
                reply = kc.get_shell_msg(timeout=30)
            assert reply["content"]["status"] == "ok" or reply["content"]["ename"] == "KeyboardInterrupt", reply
            while True:
                msg = kc.get_iopub_msg(timeout=30)
                if msg["parent_header"].get("msg_id") == msg_id and msg["content"].get("execution_state") == "idle":
                    break
            time.sleep(0.05)
            done = execute(kc, "%lua 6 * 7")
            assert done.status == "ok" and done.result is not None, done.error
            assert done.result["text/plain"] == "42"
        done = execute(kc, "%lua keep, gen()")
        assert done.result is not None and done.result["text/plain"] == '"alive", 2', done.error
        done = execute(kc, "from jido_kernel.session import current_session\ncurrent_session().manager.lua.pid")
        assert done.result is not None and done.result["text/plain"] == pid, done.error
