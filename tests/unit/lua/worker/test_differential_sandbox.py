"""Stock Lua through the whole sandbox (:class:`LuaSandbox`, a real worker process):
``jido.sleep``, the owner's time zone, Lua frames of an error, and the items of the
differential corpus that depend on the worker rather than the Lua state."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jido_kernel.lua import LuaSandbox, LuaTimeoutError
from jido_kernel.lua.errors import LuaError, LuaMemoryError


@pytest.fixture
def sandbox(project: Path) -> Iterator[LuaSandbox]:
    sandbox = LuaSandbox(project, timeout=10, grace_period=1.0)
    yield sandbox
    sandbox.close()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class TestSleep:
    def test_waits_without_using_cpu_and_returns_true(self, sandbox: LuaSandbox) -> None:
        sandbox.run("return 1")
        pid = sandbox.pid
        assert pid is not None
        cpu = _cpu_seconds(pid)
        start = time.monotonic()
        assert sandbox.run("return jido.sleep(0.5)").values == [True]
        assert time.monotonic() - start >= 0.5
        assert _cpu_seconds(pid) - cpu < 0.2

    @pytest.mark.parametrize(
        ("argument", "shown"), [("-1", "-1"), ("0/0", "nan"), ("'1'", "string"), ("nil", "nil"), ("{}", "table")]
    )
    def test_refuses_what_is_not_a_duration(self, sandbox: LuaSandbox, argument: str, shown: str) -> None:
        values = sandbox.run(f"return jido.sleep({argument})").values
        assert values[0] is None and values[1].startswith("jido.sleep: seconds must be a non-negative number")
        assert shown in values[1].replace("-nan", "nan")

    def test_zero_returns_at_once(self, sandbox: LuaSandbox) -> None:
        assert sandbox.run("return jido.sleep(0)").values == [True]

    def test_a_sleep_past_the_deadline_is_the_time_limit(self, sandbox: LuaSandbox) -> None:
        start = time.monotonic()
        with pytest.raises(LuaTimeoutError):
            sandbox.run("jido.sleep(math.huge) return 1", timeout=0.5)
        assert time.monotonic() - start < 3
        assert sandbox.run("return 2").values == [2]

    def test_an_interrupt_ends_it_promptly(self, sandbox: LuaSandbox) -> None:
        sandbox.run("return 1")
        timer = threading.Timer(0.3, sandbox.interrupt)
        timer.start()
        start = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            sandbox.run("jido.sleep(30) return 1")
        assert time.monotonic() - start < 3
        assert sandbox.run("return 2").values == [2]


def test_os_date_uses_the_owners_time_zone(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    sandbox = LuaSandbox(project, timeout=10)
    try:
        assert sandbox.run("return os.date('%H', 0), os.time({year = 1970, month = 1, day = 1, hour = 9})").values == [
            "09",
            0,
        ]
    finally:
        sandbox.close()


class TestErrors:
    def test_frames_of_an_error_two_functions_deep(self, sandbox: LuaSandbox) -> None:
        code = (
            "local function parse(s)\n  return tonumber(s) + 1\nend\n"
            "local function load_all()\n  return parse('x') * 2\nend\nload_all()"
        )
        with pytest.raises(LuaError) as raised:
            sandbox.run(code, name="<cell 3>")
        assert str(raised.value) == "<cell 3>:2: attempt to perform arithmetic on a nil value"
        assert raised.value.lua_traceback == [
            "<cell 3>:2: in function 'parse'",
            "<cell 3>:5: in function 'load_all'",
            "<cell 3>:7: in main chunk",
        ]

    def test_frames_are_bounded(self, sandbox: LuaSandbox) -> None:
        with pytest.raises(LuaError) as raised:
            sandbox.run("local function f(n) if n == 0 then error('deep') end return (f(n - 1)) end f(100)")
        assert len(raised.value.lua_traceback) == 20

    def test_an_argument_error_names_the_cells_line(self, sandbox: LuaSandbox) -> None:
        with pytest.raises(LuaError, match=r"^<cell 1>:2: bad argument #2 to 'setmetatable'"):
            sandbox.run("local t = {}\nsetmetatable(t, 5)", name="<cell 1>")

    def test_not_enough_memory_raised_by_a_cell_is_an_ordinary_error(self, sandbox: LuaSandbox) -> None:
        assert sandbox.run("return pcall(error, 'not enough memory')").values == [False, "not enough memory"]
        with pytest.raises(LuaError) as raised:
            sandbox.run("error('not enough memory', 0)")
        assert type(raised.value) is LuaError and str(raised.value) == "not enough memory"
        with pytest.raises(LuaMemoryError):
            sandbox.run("while true do pcall(string.rep, 'x', 300 * 1024 * 1024) end")

    def test_methods_added_to_string_persist(self, sandbox: LuaSandbox) -> None:
        sandbox.run("function string.trim(s) return (s:gsub('^%s+', ''):gsub('%s+$', '')) end")
        assert sandbox.run("return ('  x '):trim()").values == ["x"]
