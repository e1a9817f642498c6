"""Helpers of the tests that stop untrusted Lua: a sandbox whose state must survive every
stopped cell, and the checks that it did."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from jido_kernel.lua import LuaSandbox, LuaTimeoutError

MIB = 1024 * 1024
LIMIT = 0.3  # seconds: the time limit of the stopped cells
LATE = 1.5  # seconds a stopped cell may take past its limit
STOPPED = "Lua execution stopped: a time, interrupt or memory limit was reached"

# A generator made by an earlier cell, resumed by the cell under test before its attack
# (so it is one of the threads the stop reaches) and again by the next cell.
GENERATOR = "gen = coroutine.wrap(function() local n = 0 while true do n = n + 1 coroutine.yield(n) end end)"
SPIN = "while true do end"
LOOP = "function() while true do end end"


def open_sandbox(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[LuaSandbox]:
    """A sandbox (64 MiB, 10 s) whose first cell set the global `keep`, for a module fixture."""
    box = LuaSandbox(tmp_path_factory.mktemp(name), max_memory=64 * MIB, timeout=10.0)
    box.run("keep = 'alive'", on_stdout=lambda text: None)
    yield box
    box.close()


def outcome(box: LuaSandbox, code: str, timeout: float | None = None) -> tuple[Any, float]:
    """The values of the run (a list), or the exception it raised; and its duration."""
    started = time.monotonic()
    try:
        result: Any = box.run(code, timeout=timeout, on_stdout=lambda text: None).values
    except Exception as error:  # the error is the outcome under test
        result = error
    return result, time.monotonic() - started


def values(box: LuaSandbox, code: str) -> list[Any]:
    result, _ = outcome(box, code)
    assert isinstance(result, list), result
    return result


def assert_intact(box: LuaSandbox, pid: int | None, generator_at: int) -> None:
    """Same worker, globals kept, the earlier cells' generator resumes normally, and a
    plain cell runs at once."""
    assert box.pid == pid
    result, took = outcome(box, "return keep, gen(), 6 * 7")
    assert result == ["alive", generator_at, 42], result
    assert took < 2.0


def assert_stopped(box: LuaSandbox, code: str, error: type[Exception] = LuaTimeoutError) -> None:
    """The cell (run after GENERATOR, resuming it once) is stopped by `error` in time and
    leaves the state intact."""
    pid = box.pid
    assert values(box, GENERATOR + " return gen()") == [1]
    result, took = outcome(box, "gen()\n" + code, timeout=LIMIT)
    assert isinstance(result, error), result
    assert took < LIMIT + LATE, took
    assert "intact" in str(result)
    assert_intact(box, pid, 3)
