"""Oversized traffic between the kernel and its Lua worker, and kernel-side time.

Whatever crosses the pipe is bounded; a reply too large for its bound is ``nil, message``
for Lua or one clear error for the cell, and the worker and the kernel stay in step: the
next run starts at once, with the Lua state intact. Time the kernel spends serving a run
(a slow ``jido.state`` handler, slow output) is not charged to Lua's time limit.
Real worker processes, real lupa; the handlers do real work.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from jido_kernel.errors import JidoError
from jido_kernel.lua import LuaSandbox, LuaTimeoutError, LuaValueError
from jido_kernel.lua.protocol import MAX_ARGUMENTS, MAX_MESSAGE, MAX_REPLY

MIB = 1024 * 1024
QUICK = 3.0  # seconds: a run that follows a desynchronised one waits for the old run's time limit


def _busy(seconds: float) -> None:
    """Real CPU work for about ``seconds`` (hashing), as a slow kernel-side handler does."""
    digest, end = b"", time.monotonic() + seconds
    while time.monotonic() < end:
        digest = hashlib.sha256(digest + b"x" * 4096).digest()


class StateHandler:
    """A ``jido.state`` handler: ``end_streaming`` answers ``size`` characters, other
    operations ``True`` after ``work`` seconds of hashing, or raise ``error``."""

    def __init__(self, size: int = 0, work: float = 0.0, error: Exception | None = None) -> None:
        self.size, self.work, self.error = size, work, error
        self.calls: list[str] = []

    def __call__(self, op: str, args: Sequence[Any]) -> Any:
        self.calls.append(op)
        if self.error is not None:
            raise self.error
        if op == "end_streaming":
            return "x" * self.size
        _busy(self.work)
        return True


@pytest.fixture
def handler() -> StateHandler:
    return StateHandler()


@pytest.fixture
def sandbox(project: Path, handler: StateHandler) -> Iterator[LuaSandbox]:
    sandbox = LuaSandbox(project, on_state_call=handler, timeout=20, grace_period=1.0)
    sandbox.run("keep = 'alive'")
    yield sandbox
    sandbox.close()


def assert_in_step(sandbox: LuaSandbox, pid: int | None) -> None:
    """The next run answers at once, from the same worker, with the earlier global."""
    started = time.monotonic()
    assert sandbox.run("return keep").values == ["alive"]
    assert time.monotonic() - started < QUICK
    assert sandbox.pid == pid


class TestOversizedStateReplies:
    @pytest.mark.parametrize("size", [MAX_MESSAGE + MIB, MAX_REPLY + MIB])
    def test_a_reply_too_large_is_nil_message(self, sandbox: LuaSandbox, handler: StateHandler, size: int) -> None:
        handler.size = size
        pid = sandbox.pid
        value, message = sandbox.run("return jido.state.end_streaming()").values
        assert value is None
        assert message == f"jido.state.end_streaming: its result is larger than {MAX_REPLY} bytes" or (
            message.startswith(f"jido.state.end_streaming: its result is larger than {MAX_REPLY} bytes (")
        )
        assert_in_step(sandbox, pid)

    def test_the_cell_goes_on_after_the_refused_reply(self, sandbox: LuaSandbox, handler: StateHandler) -> None:
        handler.size = MAX_MESSAGE + MIB
        code = "local v, e = jido.state.end_streaming() after = 'went on' return v == nil, after"
        assert sandbox.run(code, timeout=5).values == [True, "went on"]
        assert sandbox.run("return after").values == ["went on"]

    def test_a_reply_just_below_the_bound_arrives(self, sandbox: LuaSandbox, handler: StateHandler) -> None:
        handler.size = MAX_REPLY - 1024
        assert sandbox.run("local v = jido.state.end_streaming() return #v").values == [MAX_REPLY - 1024]
        assert_in_step(sandbox, sandbox.pid)

    @pytest.mark.parametrize(
        "error",
        [
            JidoError("first line\nsecond line\n" + "y" * 10_000),
            RuntimeError(f"bad {object()}\nTraceback (most recent call last):\n  File x"),
            MemoryError(),
        ],
    )
    def test_any_handler_error_is_one_line(self, sandbox: LuaSandbox, handler: StateHandler, error: Exception) -> None:
        handler.error = error
        pid = sandbox.pid
        value, message = sandbox.run("return jido.state.append_message('user', 'hi')").values
        assert value is None and isinstance(message, str)
        assert "\n" not in message and len(message) <= 2000
        assert message.startswith(("first line second line", "jido.state.append_message failed: "))
        assert_in_step(sandbox, pid)


class TestOversizedResults:
    def test_a_huge_return_value_is_one_error_line(self, sandbox: LuaSandbox) -> None:
        pid = sandbox.pid
        with pytest.raises(LuaValueError) as caught:
            sandbox.run(f"return string.rep('x', {MAX_MESSAGE + MIB})")
        assert "\n" not in str(caught.value) and "cannot be sent to Python" in str(caught.value)
        assert_in_step(sandbox, pid)

    def test_a_huge_output_variable_is_one_error_line(self, sandbox: LuaSandbox) -> None:
        pid = sandbox.pid
        with pytest.raises(LuaValueError) as caught:
            sandbox.run(f"big = string.rep('x', {MAX_MESSAGE + MIB}) small = 1", outputs=["small", "big"])
        assert "\n" not in str(caught.value)
        assert_in_step(sandbox, pid)
        assert sandbox.run("return #big, small").values == [MAX_MESSAGE + MIB, 1]

    def test_a_read_file_result_near_the_limit_crosses(self, sandbox: LuaSandbox, project: Path) -> None:
        lines = 9_900_000 // 100  # just under the 10 MB file size limit
        (project / "big.txt").write_bytes((b"z" * 99 + b"\n") * lines)
        code = f"content = jido.read_file('big.txt', {{limit = {lines}}}) return #content"
        result = sandbox.run(code, outputs=["content"])
        assert result.outputs["content"].count("\n") in (lines - 1, lines)
        assert result.values == [len(result.outputs["content"].encode())]
        assert_in_step(sandbox, sandbox.pid)

    def test_many_large_prints_are_cut_and_the_run_answers(self, sandbox: LuaSandbox) -> None:
        printed: list[str] = []
        result = sandbox.run(
            "local line = string.rep('p', 1024 * 1024 - 1) for i = 1, 48 do print(line) end return 'done'",
            on_stdout=printed.append,
        )
        text = "".join(printed)
        assert result.values == ["done"]
        assert text.endswith("[output truncated: the cell printed more than 32 MiB]\n")
        assert len(text) < 33 * MIB
        assert_in_step(sandbox, sandbox.pid)

    def test_a_failing_output_listener_keeps_the_run_in_step(self, sandbox: LuaSandbox) -> None:
        def broken(text: str) -> None:
            raise RuntimeError("display bug")

        pid = sandbox.pid
        code = "for i = 1, 3 do print(i) end local v = jido.state.append_message('user', 'x') return v"
        assert sandbox.run(code, on_stdout=broken).values == [True]
        assert_in_step(sandbox, pid)


class TestKernelTimeIsNotLuas:
    def test_a_slow_state_handler_is_not_a_lua_timeout(self, sandbox: LuaSandbox, handler: StateHandler) -> None:
        handler.work = 1.5
        pid = sandbox.pid
        code = "for i = 1, 3 do jido.state.add_reasoning_step('step ' .. i) end slow = 'done' return slow"
        started = time.monotonic()
        assert sandbox.run(code, timeout=1.0).values == ["done"]
        assert time.monotonic() - started >= 4.5
        assert handler.calls == ["add_reasoning_step"] * 3
        assert_in_step(sandbox, pid)

    def test_slow_output_is_not_a_lua_timeout(self, sandbox: LuaSandbox) -> None:
        pid = sandbox.pid
        code = "local line = string.rep('o', 64 * 1024) for i = 1, 40 do print(line) end return 'printed'"
        assert sandbox.run(code, timeout=1.0, on_stdout=lambda text: _busy(0.1)).values == ["printed"]
        assert_in_step(sandbox, pid)

    def test_slow_tool_call_records_do_not_reset_the_state(self, project: Path) -> None:
        sandbox = LuaSandbox(project, on_tool_call=lambda record: _busy(0.8), timeout=20, grace_period=0.5)
        try:
            sandbox.run("keep = 'alive'")
            pid = sandbox.pid
            code = "for i = 1, 3 do jido.file_exists('x' .. i) end return 'listed'"
            assert sandbox.run(code, timeout=1.0).values == ["listed"]
            assert_in_step(sandbox, pid)
        finally:
            sandbox.close()

    def test_lua_time_between_slow_calls_still_counts(self, sandbox: LuaSandbox, handler: StateHandler) -> None:
        handler.work = 0.2
        pid = sandbox.pid
        with pytest.raises(LuaTimeoutError) as caught:
            sandbox.run("while true do jido.state.add_reasoning_step('again') local t = os.clock() "
                        "while os.clock() - t < 0.05 do end end", timeout=1.0)  # fmt: skip
        assert not caught.value.state_reset
        assert_in_step(sandbox, pid)

    def test_kernel_time_has_its_own_bound(self, sandbox: LuaSandbox, handler: StateHandler) -> None:
        handler.work = 0.3
        sandbox.kernel_time = 1.0
        pid = sandbox.pid
        started = time.monotonic()
        with pytest.raises(LuaTimeoutError) as caught:
            sandbox.run("while true do jido.state.add_reasoning_step('again') end", timeout=1.0)
        elapsed = time.monotonic() - started
        assert not caught.value.state_reset
        assert 2.0 <= elapsed < 2.0 + 1.0 + QUICK
        assert_in_step(sandbox, pid)

    def test_after_a_call_that_outlasts_the_deadline_lua_time_runs_out_on_time(
        self, sandbox: LuaSandbox, handler: StateHandler
    ) -> None:
        """The call moves the deadline by the time it took, not by the kernel's whole allowance."""
        handler.work = 0.6
        sandbox.kernel_time = 30.0
        started = time.monotonic()
        with pytest.raises(LuaTimeoutError):
            sandbox.run("jido.state.add_reasoning_step('once') while true do end", timeout=0.3)
        elapsed = time.monotonic() - started
        assert 0.9 <= elapsed < 1.6  # the kernel's own backstop would stop it at 1.9 s


def test_tool_call_records_stay_small(project: Path) -> None:
    records: list[Mapping[str, Any]] = []
    sandbox = LuaSandbox(project, on_tool_call=records.append, timeout=20)
    try:
        code = (
            "local huge = string.rep('k', 1000000) "
            "local wide = {} for i = 1, 900 do wide[i] = string.rep('w', 190) .. i end "
            "jido.list_dir('.', {[huge] = 1}) jido.read_file(huge) jido.shell('ls', wide, {[huge] = wide}) "
            "jido.write_file(huge, huge) return keep"
        )
        assert sandbox.run(code).values == [None]
    finally:
        sandbox.close()
    assert len(records) == 8
    for record in records:
        assert len(json.dumps(record["arguments"])) <= MAX_ARGUMENTS
        assert record["result_summary"] is None or len(record["result_summary"]) <= 2000
