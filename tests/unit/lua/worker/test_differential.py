"""The sandbox speaks stock Lua 5.4: the same programs, run in a bare ``lupa.lua54`` state
and through the sandbox (:class:`SandboxRuntime`), give the same values and the same
error messages (the chunk has the same name on both sides).

A hand-written corpus (``lua_corpus/*.lua``, one ``-- case: name`` per program) covers
error handling (``pcall``/``xpcall``/``error`` levels, ``__close``, argument errors),
coroutines, the string/table/math/utf8/os libraries, ``load`` and metatables; hypothesis
generates expressions over the kept library and runs them in the same contexts.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lupa.lua54
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jido_kernel.lua.worker.bridge import FUNCTIONS, STATE_OPS
from jido_kernel.lua.worker.lupa_data import from_lua
from jido_kernel.lua.worker.runtime import Callbacks, SandboxRuntime
from jido_kernel.lua.worker.stopper import Limiter

CORPUS = Path(__file__).with_name("lua_corpus")
NAME = "<cell>"
_TRACEBACK = re.compile(r"\nstack traceback:\n.*", re.DOTALL)
_ADDRESS = re.compile(r"0x[0-9a-f]+", re.IGNORECASE)


def _cases() -> list[tuple[str, str]]:
    cases = []
    for path in sorted(CORPUS.glob("*.lua")):
        for block in path.read_text().split("-- case: ")[1:]:
            title, _, code = block.partition("\n")
            cases.append((f"{path.stem}: {title.strip()}", code))
    return cases


def _plain(values: list[Any]) -> list[str]:
    """Values compared by their repr (NaN equals NaN; tables and functions by kind)."""
    shown = []
    for value in values:
        if isinstance(value, float) and math.isnan(value):
            shown.append("nan")
        else:
            shown.append(_ADDRESS.sub("0x…", repr(value)))
    return shown


class Raw:
    """A bare ``lupa.lua54`` state: stock Lua 5.4."""

    def __init__(self) -> None:
        self.lua = lupa.lua54.LuaRuntime(encoding=None)
        # As the sandbox runs a cell: compiled as text, called under a message handler that
        # shows an error object as lua.c's does (its __tostring, or its type).
        self._run = self.lua.eval(
            "function(code, name) local f, e = load(code, name, 't') if not f then error(e, 0) end "
            "local function shown(m) if type(m) == 'string' or type(m) == 'number' then return tostring(m) end "
            "local mt = debug.getmetatable(m) "
            "if type(mt) == 'table' and rawget(mt, '__tostring') ~= nil then return tostring(m) end "
            "return string.format('(error object is a %s value)', type(m)) end "
            "local r = table.pack(xpcall(f, shown)) if not r[1] then error(r[2], 0) end "
            "return table.pack(table.unpack(r, 2, r.n)) end"
        )

    def run(self, code: str) -> tuple[str, list[str]]:
        try:
            packed = self._run(code.encode("utf-8", "surrogateescape"), f"={NAME}".encode())
        except lupa.lua54.LuaError as error:
            message = str(error).encode("latin-1", "replace").decode("utf-8", "replace")
            if not message:  # lupa gives a memory error no message
                message = "not enough memory"
            return "error", [_ADDRESS.sub("0x…", _TRACEBACK.sub("", message))]
        values = [packed[index] for index in range(1, packed[b"n"] + 1)]
        return "ok", _plain([from_lua(value, strict=False, name="the result") for value in values])


class Sandboxed:
    """The same program as a cell of the sandbox."""

    def __init__(self, limiter: Limiter) -> None:
        callbacks = Callbacks(
            emit=lambda data: None,
            bridge=lambda name, args: (None, "no bridge here"),
            state=lambda op, args: (None, "no state here"),
            bridge_names=FUNCTIONS,
            state_names=STATE_OPS,
        )
        self.runtime = SandboxRuntime(callbacks, limiter, max_memory=256 * 1024 * 1024)

    def run(self, code: str) -> tuple[str, list[str]]:
        outcome = self.runtime.run(code, NAME, timeout=20, want_return=True)
        if outcome.error is not None:
            return "error", [_ADDRESS.sub("0x…", outcome.error.message)]
        return "ok", _plain(outcome.values)


@pytest.fixture(scope="module")
def sides() -> Iterator[tuple[Raw, Sandboxed]]:
    limiter = Limiter()
    threading.Thread(target=limiter.watch, daemon=True).start()
    sandboxed = Sandboxed(limiter)
    yield Raw(), sandboxed
    sandboxed.runtime.close()


@pytest.mark.parametrize(("title", "code"), _cases(), ids=[title for title, _ in _cases()])
def test_corpus(sides: tuple[Raw, Sandboxed], title: str, code: str) -> None:
    raw, sandboxed = sides
    assert sandboxed.run(code) == raw.run(code)


def test_corpus_is_large() -> None:
    assert len(_cases()) >= 100


@pytest.mark.parametrize(
    "code",
    [
        "return pcall(error, 'x', 2)",
        "return setmetatable(1, {})",
        "local co = coroutine.create(function() end) return coroutine.resume(co, 1)",
        "return pcall(coroutine.resume, 1)",
        "return pcall(setmetatable, {}, 1)",
        "local function f() return error('deep', 2) end local function g() return f() end return pcall(g)",
    ],
)
def test_tail_calls_keep_the_callers_position(sides: tuple[Raw, Sandboxed], code: str) -> None:
    # The sandbox's pcall, error, setmetatable and coroutine functions are C functions
    # like stock Lua's: a tail call into one leaves the calling frame, and its name.
    raw, sandboxed = sides
    assert sandboxed.run(code) == raw.run(code)


# -- generated programs ------------------------------------------------------------------

_ATOMS = [
    "0", "1", "-3", "7", "2^53", "math.maxinteger", "math.mininteger", "0.5", "-0.0", "1e300", "math.huge", "(0/0)",
    '""', '"a"', '"abc"', '"10"', '"0x1F"', '" 3 "', '"1e2"', '"é"', "nil", "true", "false", "{}", "{1, 2, 3}",
    "{a = 1}", "print", "setmetatable({}, {__index = function(t, k) return k end})",
    "setmetatable({}, {__tostring = function() return 'T' end})",
    "setmetatable({}, {__add = function() return 99 end})",
]  # fmt: skip
_UNARY = ["-{}", "not {}", "#{}", "~{}"]
_BINARY = [
    "+",
    "-",
    "*",
    "/",
    "//",
    "%",
    "^",
    "..",
    "==",
    "~=",
    "<",
    "<=",
    ">",
    ">=",
    "and",
    "or",
    "&",
    "|",
    "~",
    "<<",
    ">>",
]
_CALLS = [
    "tostring({})", "tonumber({})", "type({})", "math.floor({})", "math.abs({})", "math.max({}, {})",
    "string.rep({}, 2)",
    "string.sub({}, {}, {})", "string.format('%s', {})", "string.format('%d', {})", "string.format('%5.1f', {})",
    "select('#', {}, {})", "table.concat({{{}, {}}}, ',')", "string.byte({})", "string.char({})", "utf8.char({})",
    "math.tointeger({})", "math.type({})", "rawlen({})", "rawequal({}, {})", "next({{{}}})", "string.len({})",
    "string.upper({})", "string.find({}, {})", "string.find({}, {}, 1, true)", "string.gsub({}, 'a', {})",
    "({}):rep(2)", "(tostring({})):upper()", "setmetatable({}, {})", "assert({}, {})",
    "error({})", "error({}, 2)", "error({}, 0)", "utf8.len({})", "math.fmod({}, {})", "table.unpack({{{}, {}}})",
    "select(2, pcall(error, {}, 2))", "ipairs({})", "math.ult({}, {})", "string.format('%q', {})",
]  # fmt: skip
# Expressions are never in tail position: a tail call into the sandbox's Lua functions
# loses the caller's position (test_a_tail_call_into_the_sandbox_loses_the_callers_position).
_CONTEXTS = [
    "return pcall(function() local r = table.pack({}) return table.unpack(r, 1, r.n) end)",
    "return xpcall(function() local r = table.pack({}) return table.unpack(r, 1, r.n) end, "
    "function(m) return 'handled: ' .. tostring(m) end)",
    "return xpcall(function() local r = table.pack({}) return table.unpack(r, 1, r.n) end, error)",
    "return select(2, pcall(coroutine.wrap(function() local r = table.pack({}) return table.unpack(r, 1, r.n) end)))",
    "local co = coroutine.create(function() local r = table.pack({}) return table.unpack(r, 1, r.n) end) "
    "return coroutine.resume(co)",
    "local co = coroutine.wrap(function() coroutine.yield({}) end) return pcall(co)",
    "local ok, e = pcall(function() local x <close> = setmetatable({{}}, {{__close = function() end}}) return {} end) "
    "return ok, e",
    "local r = table.pack({}) return table.unpack(r, 1, r.n)",
]  # fmt: skip


def _fill(template: str, parts: list[str]) -> str:
    return template.format(*parts)


_expressions = st.recursive(
    st.sampled_from(_ATOMS),
    lambda inner: st.one_of(
        st.builds(lambda op, a: op.format(f"({a})"), st.sampled_from(_UNARY), inner),
        st.builds(lambda a, op, b: f"({a}) {op} ({b})", inner, st.sampled_from(_BINARY), inner),
        st.builds(
            lambda call, args: _fill(call, [f"({arg})" for arg in args]),
            st.sampled_from(_CALLS),
            st.lists(inner, min_size=3, max_size=3),
        ),
    ),
    max_leaves=6,
)


def _program(context: str, expression: str) -> str:
    # The result of a generated program: plain values only (tables and functions by kind).
    body = context.replace("{}", expression, 1) if "{{" not in context else context.format(expression)
    return (
        "local function shown(...) local r = table.pack(...) for i = 1, r.n do local t = type(r[i]) "
        "if t == 'table' or t == 'function' or t == 'thread' then r[i] = t end end return table.unpack(r, 1, r.n) end\n"
        f"return shown((function()\n{body}\nend)())"
    )


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(context=st.sampled_from(_CONTEXTS), expression=_expressions)
def test_generated(sides: tuple[Raw, Sandboxed], context: str, expression: str) -> None:
    raw, sandboxed = sides
    code = _program(context, expression)
    assert sandboxed.run(code) == raw.run(code), code
