"""The sandboxed Lua state itself (jido_kernel.lua.worker.runtime + prelude.lua), in this process.

Real lupa, real hooks, a real watchdog thread: what cells can reach, what they cannot,
and that every limit stops Lua however it tries to evade it — with the state intact.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from jido_kernel.lua.worker.bridge import FUNCTIONS, STATE_OPS
from jido_kernel.lua.worker.runtime import Callbacks, RunError, RunOutcome, SandboxRuntime
from jido_kernel.lua.worker.stopper import Limiter

MIB = 1024 * 1024
STOP_BOUND = 2.5  # seconds; a stop takes milliseconds, the bound is for a loaded machine


@pytest.fixture(scope="module")
def limiter() -> Limiter:
    limiter = Limiter()
    threading.Thread(target=limiter.watch, daemon=True).start()
    return limiter


class Lua:
    """A SandboxRuntime with recorded output and a stub bridge."""

    def __init__(self, limiter: Limiter, max_memory: int = 64 * MIB) -> None:
        self.printed: list[bytes] = []
        callbacks = Callbacks(
            emit=self.printed.append,
            bridge=lambda name, args: (None, f"{name}: no bridge here"),
            state=lambda op, args: (None, f"{op}: no state here"),
            bridge_names=FUNCTIONS,
            state_names=STATE_OPS,
        )
        self.runtime = SandboxRuntime(callbacks, limiter, max_memory=max_memory)
        self.count = 0

    def outcome(self, code: str, timeout: float = 10.0, run_id: int | None = None) -> RunOutcome:
        self.count += 1
        return self.runtime.run(
            code, f"<cell {self.count}>", timeout=timeout, want_return=True, run_id=run_id or self.count
        )

    def values(self, code: str, timeout: float = 10.0) -> list[Any]:
        outcome = self.outcome(code, timeout)
        assert outcome.error is None, outcome.error
        return outcome.values

    def value(self, code: str) -> Any:
        (value,) = self.values(code)
        return value

    def error(self, code: str, timeout: float = 10.0) -> RunError:
        outcome = self.outcome(code, timeout)
        assert outcome.error is not None, f"no error; returned {outcome.values}"
        return outcome.error

    def stopped(self, code: str, kind: str, timeout: float = 0.3) -> float:
        """Run ``code``, expect it stopped with ``kind``; return the seconds past the deadline."""
        start = time.monotonic()
        error = self.error(code, timeout)
        late = time.monotonic() - start - (timeout if kind == "LuaTimeoutError" else 0)
        assert error.type == kind, error
        assert late < STOP_BOUND
        return late


@pytest.fixture
def lua(limiter: Limiter) -> Iterator[Lua]:
    lua = Lua(limiter)
    yield lua
    lua.runtime.close()


class TestEnvironment:
    def test_globals_are_exactly_the_allow_list(self, lua: Lua) -> None:
        names = lua.value("local t = {} for k in pairs(_G) do t[#t + 1] = k end table.sort(t) return t")
        assert names == sorted(
            [
                "_G",
                "_VERSION",
                "assert",
                "collectgarbage",
                "coroutine",
                "error",
                "getmetatable",
                "ipairs",
                "jido",
                "load",
                "math",
                "next",
                "os",
                "pairs",
                "pcall",
                "print",
                "rawequal",
                "rawget",
                "rawlen",
                "rawset",
                "select",
                "setmetatable",
                "string",
                "table",
                "tonumber",
                "tostring",
                "type",
                "utf8",
                "xpcall",
            ]
        )

    @pytest.mark.parametrize(
        "expression",
        [
            "os.execute", "os.exit", "os.remove", "os.rename", "os.getenv", "os.tmpname", "os.setlocale",
            "io", "loadfile", "dofile", "require", "package", "debug", "string.dump", "python", "warn",
            "getmetatable('').__index.dump", "jido.python",
        ],
    )  # fmt: skip
    def test_removed(self, lua: Lua, expression: str) -> None:
        assert lua.value(f"return {expression} == nil") is True

    def test_os_has_only_time_clock_date(self, lua: Lua) -> None:
        assert lua.value("local t = {} for k in pairs(os) do t[#t + 1] = k end table.sort(t) return t") == [
            "clock",
            "date",
            "time",
        ]

    def test_kept_functions_work(self, lua: Lua) -> None:
        values = lua.values(
            """
            local t = {3, 1, 2}; table.sort(t)
            local co = coroutine.wrap(function(a) local b = coroutine.yield(a + 1) return b * 2 end)
            return ("x"):rep(3), string.format("%5.1f", math.pi), table.concat(t, ","), utf8.char(233),
                   utf8.len("é"), co(1), co(21), math.type(1), math.type(1.0), select("#", 1, nil, 3),
                   type(os.time()), type(os.clock()), os.date("!%Y-%m-%d", 0), tostring(nil), tonumber("0x10"),
                   rawlen({1, 2}), next({}), string.pack(">I2", 258), #string.format("%q", "a\\0b")
            """
        )
        assert values == ["xxx", "  3.1", "1,2,3", "é", 1, 2, 42, "integer", "float", 3, "number", "number",
                          "1970-01-01", "nil", 16, 2, None, "\x01\x02", 6]  # fmt: skip

    def test_os_date_with_a_bad_format_is_an_error_not_a_crash(self, lua: Lua) -> None:
        assert "invalid conversion specifier" in lua.error("return os.date('%Ez')").message
        assert lua.value("return 1") == 1

    def test_collectgarbage_keeps_only_harmless_options(self, lua: Lua) -> None:
        assert lua.values("return type(collectgarbage('count')), collectgarbage('isrunning'), collectgarbage()") == [
            "number",
            True,
            0,
        ]
        for option in ("stop", "restart", "incremental", "generational", "setpause"):
            error = lua.error(f"collectgarbage('{option}')")
            assert f'option "{option}" is not available in the sandbox' in error.message
        assert lua.value("return collectgarbage('isrunning')") is True

    def test_print_writes_tab_separated_lines(self, lua: Lua) -> None:
        lua.values(
            "print(1, nil, 'a', 2.5, true) print() print(setmetatable({}, {__tostring = function() return 'T' end}))"
        )
        assert lua.printed == [b"1\tnil\ta\t2.5\ttrue\n", b"\n", b"T\n"]

    def test_library_tables_are_the_cells_own(self, lua: Lua) -> None:
        assert lua.values("table.insert = nil; return table.insert, ('ab'):rep(2)") == [None, "abab"]
        assert lua.value("return table.insert") is None  # the change persists, in this state only

    def test_methods_added_to_string_work_on_strings(self, lua: Lua) -> None:
        lua.values("function string.trim(s) return (s:gsub('^%s+', ''):gsub('%s+$', '')) end")
        assert lua.value("return ('  x  '):trim()") == "x"  # and it persists, like any global
        assert lua.values("return getmetatable('').__index == string, ('x').dump") == [True, None]

    def test_globals_persist_between_runs(self, lua: Lua) -> None:
        lua.values("counter = 1 function bump() counter = counter + 1 return counter end")
        assert lua.value("return bump()") == 2
        assert lua.value("return bump()") == 3


class TestEscapes:
    def test_load_refuses_binary_chunks(self, lua: Lua) -> None:
        refused = [None, "attempt to load a binary chunk (the sandbox loads text chunks only)"]
        assert lua.values("return load('\\27Lua\\84\\0')") == refused
        assert lua.values("return load('\\27Lua', 'x', 'bt')") == refused
        assert lua.values("return load('\\27Lua', 'x', 'b')") == refused
        assert lua.values("return load('return 1', 'x', 'b')") == [None, "attempt to load a text chunk (mode is 'b')"]
        assert lua.values("return load('\\27Lua', 'x', 't')") == [None, "attempt to load a binary chunk (mode is 't')"]
        reader = "local parts = {'\\27', 'Lua'} return load(function() return table.remove(parts, 1) end)"
        assert lua.values(reader) == refused

    def test_load_uses_the_sandbox_environment(self, lua: Lua) -> None:
        lua.values("x = 5")
        assert lua.values("return load('return x, debug, io')()") == [5, None, None]
        assert lua.value("return load('return y', 'n', 't', {y = 7})()") == 7

    def test_string_metatable_is_read_only_and_private(self, lua: Lua) -> None:
        assert lua.values("local m = getmetatable('') return type(m), m.__index.dump, m.__index.rep('a', 2)") == [
            "table",
            None,
            "aa",
        ]
        for code in ("getmetatable('').__index = {}", "getmetatable('').__len = print"):
            assert "the string metatable is read-only" in lua.error(code).message
        lua.values("rawset(getmetatable(''), '__index', {rep = print}); rawset(getmetatable('').__index, 'rep', print)")
        assert lua.values("return ('a'):rep(3), getmetatable(getmetatable('')), getmetatable(_G)") == [
            "aaa",
            False,
            None,
        ]

    def test_no_python_object_is_reachable(self, lua: Lua) -> None:
        found = lua.value(
            """
            local seen, kinds = {}, {}
            local function walk(v)
              if seen[v] then return end
              local t = type(v)
              kinds[t] = true
              if t ~= "table" and t ~= "function" then return end
              seen[v] = true
              if t == "table" then for k, x in next, v do walk(k) walk(x) end end
              local mt = getmetatable(v); if mt ~= nil then walk(mt) end
            end
            walk(_G); walk(getmetatable("")); walk(coroutine.running())
            for _, f in ipairs({function() error({}) end, function() local x = nil; x() end}) do
              walk(select(2, pcall(f)))
            end
            local out = {} for k in pairs(kinds) do out[#out + 1] = k end table.sort(out) return out
            """
        )
        assert "userdata" not in found

    def test_bridge_failures_never_leak_python_objects(self, limiter: Limiter) -> None:
        def broken(name: str, args: tuple[Any, ...]) -> tuple[Any, str | None]:
            raise RuntimeError("boom")

        lua = Lua(limiter)
        lua.runtime._callbacks = Callbacks(  # a bridge that raises
            emit=lua.printed.append, bridge=broken, state=broken, bridge_names=FUNCTIONS, state_names=STATE_OPS
        )
        assert lua.values("return jido.read_file('x')") == [
            None,
            "read_file: internal error in the jido bridge (RuntimeError)",
        ]
        assert lua.values("return type(select(2, jido.state.append_message('user', 'x')))") == ["string"]

    def test_gc_metamethods_are_refused(self, lua: Lua) -> None:
        message = lua.error("setmetatable({}, {__gc = function() end})").message
        assert "metatables with a __gc field are not allowed in the sandbox" in message
        assert "not allowed" in lua.error("setmetatable({}, {__gc = false})").message
        assert lua.value("local mt = {} local t = setmetatable({}, mt) mt.__gc = function() end return true") is True

    def test_errors_are_one_clear_message(self, lua: Lua) -> None:
        error = lua.error("local x = 1\nundefined_function()")
        assert (error.type, error.chunk, error.line) == ("LuaError", f"<cell {lua.count}>", 2)
        assert error.message == f"<cell {lua.count}>:2: attempt to call a nil value (global 'undefined_function')"
        assert lua.error("error({})").message == "(error object is a table value)"
        assert lua.error("error(setmetatable({}, {__tostring = function() return 'custom' end}))").message == "custom"
        assert lua.error("error(42)").message == "42"
        assert lua.error("error('plain', 0)").message == "plain"
        assert lua.error("error()").message == "(error object is a nil value)"

    def test_syntax_errors_name_the_line(self, lua: Lua) -> None:
        error = lua.error("x = 1\ny = = 2")
        assert (error.type, error.line) == ("LuaSyntaxError", 2)
        assert error.message == f"<cell {lua.count}>:2: unexpected symbol near '='"

    def test_invalid_utf8_never_breaks_anything(self, lua: Lua) -> None:
        assert lua.value("return '\\xff\\xfe'") == b"\xff\xfe"
        assert lua.error("error('bad \\xff byte')").message == f"<cell {lua.count}>:1: bad \ufffd byte"
        lua.values("print('\\xff')")
        assert lua.printed[-1] == b"\xff\n"


class TestTimeLimit:
    @pytest.mark.parametrize(
        "code",
        [
            "while true do end",
            "while true do pcall(function() while true do end end) end",
            "while true do pcall(error, 'x') end",
            "xpcall(function() error('x') end, function() while true do end end)",
            "while true do xpcall(function() while true do end end, function() while true do end end) end",
            "coroutine.wrap(function() while true do end end)()",
            "local co = coroutine.create(function() while true do end end) while true do coroutine.resume(co) end",
            """local co = coroutine.create(function()
                 local inner = coroutine.wrap(function() while true do pcall(function() while true do end end) end end)
                 while true do pcall(inner) end
               end)
               while true do coroutine.resume(co) end""",
            "local gen = coroutine.wrap(function() while true do coroutine.yield(1) end end) while true do gen() end",
            "local x <close> = setmetatable({}, {__close = function() while true do end end}) while true do end",
            "local x <close> = setmetatable({}, {__close = function() while true do end end}) error('boom')",
            """while true do pcall(function()
                 local x <close> = setmetatable({}, {__close = function() while true do end end}) error('e')
               end) end""",
            "local s = '' while true do s = s .. 'x' if #s > 4096 then s = '' end end",
            "while true do local t = {} for i = 1, 100 do t[i] = {i} end end",
            "local function f() return pcall(f) end while true do f() end",
            "while true do coroutine.close(coroutine.create(function() end)) end",
            ("local g = coroutine.wrap(function() for i = 1, 1e4 do coroutine.yield(i) end while true do end end) "
             "while true do g() end"),
            ("local a = coroutine.wrap(function() while true do coroutine.yield() end end) for i = 1, 100 do a() end "
             "local b = coroutine.wrap(function() local c = coroutine.wrap(function() while true do end end) c() end) "
             "b()"),
            ("local outer = coroutine.wrap(function() for i = 1, 100 do coroutine.yield() end "
             "local inner = coroutine.wrap(function() while true do coroutine.yield() end end) "
             "while true do inner() end end) for i = 1, 100 do outer() end outer()"),
            "table.sort({3, 2, 1}, function(a, b) while true do end end)",
            "string.gsub('aaa', 'a', function() while true do end end)",
            "local t = setmetatable({}, {__index = function() while true do end end}) return t.x",
            ("for k, v in pairs(setmetatable({}, {__pairs = function() return function() while true do end end end})) "
             "do end"),
        ],
    )  # fmt: skip
    def test_stops_and_keeps_the_state(self, lua: Lua, code: str) -> None:
        lua.values("kept = {answer = 42}")
        lua.stopped(code, "LuaTimeoutError")
        assert lua.value("return kept.answer") == 42
        assert not lua.runtime.limiter.hooked()

    def test_message_says_where_and_what_to_do(self, lua: Lua) -> None:
        error = lua.error("local n = 0\nwhile true do n = n + 1 end", timeout=0.2)
        assert error.type == "LuaTimeoutError" and error.line == 2
        assert error.message == (
            f"Lua time limit exceeded: the cell ran longer than 0.2 s and was stopped at <cell {lua.count}>:2. "
            "The Lua state is intact; allow more time with --timeout or the lua_timeout setting."
        )

    def test_stops_promptly(self, lua: Lua) -> None:
        lateness = [lua.stopped("while true do end", "LuaTimeoutError", 0.2) for _ in range(5)]
        assert max(lateness) < STOP_BOUND
        print(f"stopped {min(lateness) * 1000:.1f}-{max(lateness) * 1000:.1f} ms after the deadline")

    @pytest.mark.parametrize("earlier", [0.1, 30.0])
    def test_deadline_holds_after_quick_runs_with_another_timeout(self, lua: Lua, earlier: float) -> None:
        # Quick runs leave the watchdog waiting for their deadline; a run with a shorter
        # or a longer limit must still stop at its own, neither early nor late.
        for _ in range(20):
            assert lua.values("return 1", timeout=earlier) == [1]
        start = time.monotonic()
        lua.stopped("while true do end", "LuaTimeoutError", timeout=0.5)
        assert time.monotonic() - start >= 0.5

    def test_coroutine_stopped_by_the_hook_cannot_be_closed_later(self, lua: Lua) -> None:
        code = """
            co = coroutine.create(function()
              local x <close> = setmetatable({}, {__close = function() while true do end end})
              while true do end
            end)
            coroutine.resume(co)
        """
        lua.stopped(code, "LuaTimeoutError")
        start = time.monotonic()
        assert lua.values("return coroutine.status(co), coroutine.close(co)", timeout=5)[:2] == ["dead", False]
        assert time.monotonic() - start < STOP_BOUND

    def test_coroutines_run_normally_after_a_stop(self, lua: Lua) -> None:
        code = "gen = coroutine.wrap(function() while true do coroutine.yield(1) end end) while true do gen() end"
        lua.stopped(code, "LuaTimeoutError")
        code = "local g = coroutine.wrap(function() for i = 1, 3 do coroutine.yield(i) end end) g() g() return g()"
        assert lua.value(code) == 3

    def test_a_coroutine_kept_from_an_earlier_run_is_stopped(self, lua: Lua) -> None:
        lua.values("gen = coroutine.wrap(function() while true do coroutine.yield(1) end end) gen() gen()")
        lua.stopped("local spin = coroutine.wrap(function() gen() while true do end end) spin()", "LuaTimeoutError")
        lua.stopped("while true do gen() end", "LuaTimeoutError")

    def test_a_run_that_ends_without_tripping_leaves_no_hook(self, lua: Lua) -> None:
        lua.values("local s = 0 for i = 1, 1e6 do s = s + i end return s", timeout=5)
        assert not lua.runtime.limiter.hooked()


class TestInterrupt:
    def test_interrupt_from_another_thread(self, lua: Lua) -> None:
        lua.values("kept = 'yes'")
        run_id = 1000
        timer = threading.Timer(0.2, lua.runtime.limiter.interrupt, args=(run_id,))
        timer.start()
        start = time.monotonic()
        error = lua.outcome("while true do pcall(function() while true do end end) end", run_id=run_id).error
        assert error is not None and error.type == "KeyboardInterrupt"
        assert error.message.startswith("Lua execution interrupted") and error.message.endswith(
            "the Lua state is intact."
        )
        assert time.monotonic() - start < 0.2 + STOP_BOUND
        assert lua.value("return kept") == "yes"

    def test_interrupt_arriving_before_the_run_starts_it_stopped(self, lua: Lua) -> None:
        lua.runtime.limiter.interrupt(2000)
        error = lua.outcome("while true do end", run_id=2000).error
        assert error is not None and error.type == "KeyboardInterrupt"

    def test_interrupt_for_another_run_is_ignored(self, lua: Lua) -> None:
        lua.runtime.limiter.interrupt(3000)
        assert lua.outcome("return 1", run_id=3001).values == [1]


class TestMemoryLimit:
    @pytest.mark.parametrize(
        "code",
        [
            "local t = {} for i = 1, 1e9 do t[i] = i end",
            "local s = string.rep('x', 200 * 1024 * 1024)",
            "while true do pcall(function() local t = {} for i = 1, 1e9 do t[i] = i end end) end",
            "while true do pcall(string.rep, 'x', 200 * 1024 * 1024) end",
            ("while true do xpcall(function() local t = {} for i = 1, 1e9 do t[i] = {} end end, "
             "function(e) return e end) end"),
            """local co = coroutine.create(function() local t = {} for i = 1, 1e9 do t[i] = i end end)
               while true do coroutine.resume(co) end""",
            "while true do pcall(coroutine.wrap(function() local t = {} for i = 1, 1e9 do t[i] = i end end)) end",
            "local parts = {} for i = 1, 1e9 do parts[i] = tostring(i) .. 'padding-padding-padding' end",
            "while true do pcall(load, string.rep('x = 1 ', 20 * 1024 * 1024)) end",
        ],
    )  # fmt: skip
    def test_stops_sticks_and_reclaims(self, lua: Lua, code: str) -> None:
        lua.values("kept = {answer = 42}")
        before = lua.runtime.memory_used()
        error = lua.error(code, timeout=30)
        assert error.type == "LuaMemoryError", error
        assert error.message.startswith("Lua memory limit exceeded: the cell needed more than 64 MiB")
        assert lua.value("return kept.answer") == 42
        # Reclaimed: far below the limit (Lua shrinks its string table by halves, over later collections).
        assert lua.runtime.memory_used() < before + 8 * MIB
        assert lua.value("local t = {} for i = 1, 1e5 do t[i] = i end return #t") == 100000

    def test_memory_error_in_a_global_keeps_what_was_stored(self, lua: Lua) -> None:
        assert lua.error("big = {} for i = 1, 1e9 do big[i] = i end").type == "LuaMemoryError"
        assert lua.value("return #big > 1000") is True
        lua.values("big = nil")
        lua.runtime.lua.gccollect()
        assert lua.runtime.memory_used() < 4 * MIB


class TestRecursion:
    def test_deep_recursion_is_a_clean_error(self, limiter: Limiter) -> None:
        lua = Lua(limiter, max_memory=256 * MIB)
        error = lua.error("local function f(n) return 1 + f(n + 1) end return f(1)", timeout=30)
        assert error.type == "LuaError"
        assert "stack overflow" in error.message
        assert lua.value("return 1") == 1
