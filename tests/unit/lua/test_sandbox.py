"""LuaSandbox end to end: real worker processes, real signals, real kills."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jido_kernel.errors import JidoError
from jido_kernel.lua import (
    LuaError,
    LuaMemoryError,
    LuaResult,
    LuaSandbox,
    LuaSyntaxError,
    LuaTimeoutError,
    LuaValueError,
    LuaWorkerCrashed,
    protocol,
    transport,
)
from jido_kernel.lua.protocol import MAX_MESSAGE

BACKTRACK = "return string.find(('a?'):rep(50) .. ('a'):rep(50), ('a?'):rep(50) .. ('a'):rep(50))"
MARGIN = 3.0  # seconds of slack on a shared machine


@pytest.fixture
def sandbox(project: Path) -> Iterator[LuaSandbox]:
    sandbox = LuaSandbox(project, timeout=10, grace_period=1.0)
    sandbox.start()
    yield sandbox
    sandbox.close()


class Printed:
    """An on_stdout callback recording text and when it arrived."""

    def __init__(self, started: threading.Event | None = None) -> None:
        self.chunks: list[tuple[float, str]] = []
        self.started = started

    def __call__(self, text: str) -> None:
        self.chunks.append((time.monotonic(), text))
        if self.started is not None:
            self.started.set()

    @property
    def text(self) -> str:
        return "".join(text for _, text in self.chunks)


def _kill_when(event: threading.Event, pid: int, sig: int) -> threading.Thread:
    def kill() -> None:
        if event.wait(20):
            os.kill(pid, sig)

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread


class TestRuns:
    def test_values_outputs_and_printed_text(self, sandbox: LuaSandbox) -> None:
        printed = Printed()
        result = sandbox.run(
            "print('hello', x[2]) y = {sum = x[1] + x[2]} return x, #x, 'é'",
            name="<cell 1>",
            inputs={"x": (40, 2)},
            outputs=["y", "x"],
            on_stdout=printed,
        )
        assert isinstance(result, LuaResult)
        assert (result.values, result.outputs) == ([[40, 2], 2, "é"], {"y": {"sum": 42}, "x": [40, 2]})
        assert printed.text == "hello\t2\n" and result.duration > 0

    def test_globals_persist_and_push_pull(self, sandbox: LuaSandbox) -> None:
        sandbox.run("counter = 1")
        sandbox.push("step", 10)
        assert sandbox.run("counter = counter + step return counter").values == [11]
        assert sandbox.pull("counter") == 11
        assert sandbox.pull("never_set") is None
        assert sandbox.run("x = 1", want_return=False).values == []

    def test_printing_streams_while_the_cell_runs(self, sandbox: LuaSandbox) -> None:
        printed = Printed()
        sandbox.run(
            "print('first') local t = os.clock() while os.clock() - t < 1.5 do end print('last')", on_stdout=printed
        )
        ended = time.monotonic()
        (first_at, first), *_ = printed.chunks
        assert first == "first\n" and printed.text == "first\nlast\n"
        assert ended - first_at > 1.0  # the first line arrived while the cell still ran

    def test_everything_printed_arrives_in_order(self, sandbox: LuaSandbox) -> None:
        printed = Printed()
        sandbox.run("for i = 1, 100000 do print(i) end", on_stdout=printed)
        assert printed.text == "".join(f"{i}\n" for i in range(1, 100001))
        assert len(printed.chunks) < 1000  # batched

    def test_prints_and_tool_calls_keep_their_order(self, project: Path) -> None:
        events: list[str] = []
        sandbox = LuaSandbox(project, on_tool_call=lambda record: events.append(f"{record['name']}:{record['status']}"))
        try:
            sandbox.run(
                "print('a') jido.file_exists('x') print('b')", on_stdout=lambda text: events.append(text.strip())
            )
        finally:
            sandbox.close()
        assert events == ["a", "file_exists:running", "file_exists:completed", "b"]

    def test_timeout_trait_applies_to_the_next_run(self, sandbox: LuaSandbox) -> None:
        sandbox.timeout = 0.3
        start = time.monotonic()
        with pytest.raises(LuaTimeoutError, match=r"longer than 0\.3 s"):
            sandbox.run("while true do end")
        assert time.monotonic() - start < 0.3 + MARGIN
        with pytest.raises(LuaTimeoutError, match=r"longer than 0\.2 s"):
            sandbox.run("while true do end", timeout=0.2)

    def test_bad_arguments(self, sandbox: LuaSandbox) -> None:
        with pytest.raises(LuaValueError, match="Cannot pass 'x' to Lua: x is a Python object"):
            sandbox.run("return 1", inputs={"x": object()})
        with pytest.raises(LuaValueError, match="is not a Lua variable name"):
            sandbox.run("return 1", outputs=["not a name"])
        with pytest.raises(LuaValueError, match="positive number of seconds"):
            sandbox.run("return 1", timeout=0)


class TestErrors:
    def test_lua_error_is_one_line(self, sandbox: LuaSandbox) -> None:
        with pytest.raises(LuaError) as caught:
            sandbox.run("local a = 1\nnope()", name="<cell 3>")
        error = caught.value
        assert type(error) is LuaError and (error.chunk, error.line, error.state_reset) == ("<cell 3>", 2, False)
        assert str(error) == "<cell 3>:2: attempt to call a nil value (global 'nope')"
        assert error._render_traceback_() == [
            "\x1b[0;31mLuaError\x1b[0m: <cell 3>:2: attempt to call a nil value (global 'nope')"
        ]
        assert isinstance(error, JidoError)

    def test_syntax_error_points_at_the_line(self, sandbox: LuaSandbox) -> None:
        with pytest.raises(LuaSyntaxError) as caught:
            sandbox.run("x = 1\nif then", name="<cell 4>")
        assert caught.value.line == 2 and str(caught.value).startswith("<cell 4>:2:")

    def test_outputs_must_be_data(self, sandbox: LuaSandbox) -> None:
        with pytest.raises(LuaValueError, match="Cannot convert f to Python: it is a Lua function"):
            sandbox.run("f = print", outputs=["f"])
        with pytest.raises(LuaValueError, match="Cannot convert f to Python"):
            sandbox.pull("f")
        assert sandbox.run("return f").values[0].kind == "function"

    def test_memory_limit(self, project: Path) -> None:
        sandbox = LuaSandbox(project, max_memory=32 * 1024 * 1024)
        try:
            sandbox.run("kept = 'yes'")
            with pytest.raises(LuaMemoryError, match="needed more than 32 MiB"):
                sandbox.run("local t = {} while true do t[#t + 1] = {} end")
            with pytest.raises(LuaMemoryError):
                sandbox.run("while true do pcall(function() local t = {} while true do t[#t + 1] = {} end end) end")
            assert sandbox.run("return kept").values == ["yes"]
            with pytest.raises(LuaMemoryError, match="Cannot pass 'huge' to Lua"):
                sandbox.push("huge", "x" * (40 * 1024 * 1024))
            assert sandbox.pull("huge") is None
        finally:
            sandbox.close()

    def test_each_run_has_its_own_limits(self, sandbox: LuaSandbox) -> None:
        """The worker reuses the last run's limits only when the kernel sends the same."""
        roomy, tight = sandbox.limits, sandbox.limits.replace(max_memory=16 * 1024 * 1024)
        grow = "local s = string.rep('x', 24 * 1024 * 1024) return #s"
        for limits, fits in ((tight, False), (roomy, True), (roomy, True), (tight, False), (roomy, True)):
            if fits:
                assert sandbox.run(grow, limits=limits).values == [24 * 1024 * 1024]
            else:
                with pytest.raises(LuaMemoryError, match="needed more than 16 MiB"):
                    sandbox.run(grow, limits=limits)

    def test_inputs_are_checked_when_the_run_starts(self, sandbox: LuaSandbox) -> None:
        """A value changed while the run waited for the one before it is checked as it is sent."""
        value: list[Any] = [1, 2, 3]
        first = threading.Thread(target=sandbox.run, args=("jido.sleep(0.5)",))
        first.start()
        time.sleep(0.1)
        outcome: list[Any] = []

        def second() -> None:
            try:
                outcome.append(sandbox.run("return #x", inputs={"x": value}).values)
            except LuaValueError as error:
                outcome.append(error)

        waiting = threading.Thread(target=second)
        waiting.start()
        time.sleep(0.1)
        value.append({1, 2})  # not plain data
        for thread in (first, waiting):
            thread.join(10)
        assert isinstance(outcome[0], LuaValueError) and "x[3] is a Python set" in str(outcome[0])

    def test_values_too_large_for_the_protocol_are_a_typed_error(
        self, sandbox: LuaSandbox, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(protocol, "MAX_MESSAGE", 10_000)
        for attempt in (lambda: sandbox.push("big", "x" * 20_000),
                        lambda: sandbox.run("return 1", inputs={"big": "x" * 20_000})):  # fmt: skip
            with pytest.raises(LuaValueError, match="Too much data to send to Lua") as caught:
                attempt()
            assert caught.value.reason == "too_large"
        assert sandbox.run("return 2").values == [2]

    def test_stack_overflow_is_a_clean_error(self, sandbox: LuaSandbox) -> None:
        with pytest.raises(LuaError, match="stack overflow"):
            sandbox.run("local function f() return 1 + f() end return f()")
        assert sandbox.run("return 1").values == [1]

    def test_huge_error_messages_are_truncated(self, sandbox: LuaSandbox) -> None:
        with pytest.raises(LuaError) as caught:
            sandbox.run("error(string.rep('x', 8 * 1024 * 1024), 0)")
        assert str(caught.value) == "x" * 65536 + f"… (error message truncated, {8 * 1024 * 1024} characters)"

    def test_a_result_too_large_to_send(self, sandbox: LuaSandbox) -> None:
        with pytest.raises(LuaValueError, match="cannot be sent to Python: message too large"):
            sandbox.run(f"return string.rep('x', {MAX_MESSAGE})")
        assert sandbox.run("return 2").values == [2]


class TestLimitsThatNeedTheKill:
    def test_backtracking_pattern_is_killed_and_the_state_reset(self, sandbox: LuaSandbox) -> None:
        sandbox.run("kept = true")
        start = time.monotonic()
        with pytest.raises(LuaTimeoutError) as caught:
            sandbox.run(BACKTRACK, timeout=0.5)
        elapsed = time.monotonic() - start
        assert caught.value.state_reset is True
        assert "could not be stopped within the 1 s grace period" in str(caught.value)
        assert str(caught.value).endswith("the Lua state was reset (globals are lost).")
        assert 0.5 + 1.0 <= elapsed < 0.5 + 1.0 + MARGIN
        assert sandbox.run("return kept").values == [None]

    def test_worker_killed_between_runs(self, sandbox: LuaSandbox) -> None:
        sandbox.run("kept = true")
        pid = sandbox.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(LuaWorkerCrashed) as caught:
            sandbox.run("return kept")
        assert caught.value.state_reset is True
        assert str(caught.value) == (
            "The Lua worker stopped unexpectedly (killed by SIGKILL); the Lua state was reset (globals are lost)."
        )
        assert sandbox.run("return kept, 1").values == [None, 1]
        assert sandbox.pid != pid

    def test_worker_killed_during_a_run(self, sandbox: LuaSandbox) -> None:
        started = threading.Event()
        assert sandbox.pid is not None
        sandbox.run("return 1")
        _kill_when(started, sandbox.pid, signal.SIGKILL)
        start = time.monotonic()
        with pytest.raises(LuaWorkerCrashed, match="killed by SIGKILL"):
            sandbox.run("print('go') while true do end", timeout=60, on_stdout=Printed(started))
        assert time.monotonic() - start < MARGIN
        assert sandbox.run("return 'fresh'").values == ["fresh"]

    def test_a_killed_worker_takes_its_running_command_with_it(self, project: Path) -> None:
        records: list[dict[str, Any]] = []  # the call was seen running, though it never ended
        sandbox = LuaSandbox(project, timeout=60, shell_allowlist=["sleep"], on_tool_call=records.append)
        seen: list[int] = []

        def kill_worker_once_its_command_runs(worker: int) -> None:
            deadline = time.monotonic() + 20
            while not (seen and records) and time.monotonic() < deadline:
                seen[:] = seen or _children_running(worker, [b"sleep", b"30"])
                time.sleep(0.02)
            os.kill(worker, signal.SIGKILL)

        try:
            sandbox.run("return 1")
            assert sandbox.pid is not None
            killer = threading.Thread(target=kill_worker_once_its_command_runs, args=(sandbox.pid,))
            killer.start()
            with pytest.raises(LuaWorkerCrashed):
                sandbox.run("return jido.shell('sleep', {'30'}, {timeout = 50000})")
            killer.join()
            assert seen, "the command never started"
            assert [(record["name"], record["status"]) for record in records] == [("shell", "running")]
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and _running(seen[0]):
                time.sleep(0.05)
            assert not _running(seen[0]), "the command outlived its worker"
        finally:
            sandbox.close()

    def test_a_worker_outlives_the_thread_that_started_it(self, project: Path) -> None:
        sandbox = LuaSandbox(project)
        try:
            starter = threading.Thread(target=lambda: sandbox.run("kept = 42"))
            starter.start()
            starter.join()
            time.sleep(0.3)  # a worker tied to the exited thread would be SIGKILLed by now
            assert sandbox.run("return kept").values == [42]
        finally:
            sandbox.close()

    def test_hung_worker_never_hangs_the_kernel(self, sandbox: LuaSandbox) -> None:
        sandbox.run("return 1")
        pid = sandbox.pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        start = time.monotonic()
        with pytest.raises(LuaTimeoutError) as caught:
            sandbox.run("return 1", timeout=0.5)
        assert caught.value.state_reset and time.monotonic() - start < 0.5 + 1.0 + MARGIN
        assert sandbox.run("return 2").values == [2]
        os.kill(sandbox.pid or 0, signal.SIGSTOP)
        sandbox.timeout = 0.5
        with pytest.raises(LuaWorkerCrashed, match="did not answer a pull request"):
            sandbox.pull("x")
        assert sandbox.run("return 3").values == [3]

    def test_a_stopped_worker_never_blocks_a_large_send(self, sandbox: LuaSandbox) -> None:
        big = "x" * (8 * 1024 * 1024)  # far more than a pipe holds
        sandbox.run("return 1")
        os.kill(sandbox.pid or 0, signal.SIGSTOP)
        start = time.monotonic()
        with pytest.raises(LuaTimeoutError) as caught:
            sandbox.run("return #big", inputs={"big": big}, timeout=0.5)
        assert caught.value.state_reset and time.monotonic() - start < 0.5 + 1.0 + MARGIN
        assert sandbox.run("return #big", inputs={"big": big}).values == [len(big)]
        os.kill(sandbox.pid or 0, signal.SIGSTOP)
        sandbox.timeout = 0.5
        start = time.monotonic()
        with pytest.raises(LuaWorkerCrashed, match="did not answer a push request"):
            sandbox.push("big", big)
        assert time.monotonic() - start < 0.5 + 1.0 + MARGIN
        assert sandbox.run("return 4").values == [4]


def test_what_the_pipe_cannot_take_follows_in_order() -> None:
    read_end, write_end = os.pipe()
    outbox = transport._Outbox(os.fdopen(write_end, "wb", buffering=0))
    sent = [b"a" * 300_000 + b"\n", b"small\n", b"b" * 100_000 + b"\n", b"last\n"]
    try:
        for data in sent:
            outbox.send(data)  # returns at once: nobody reads yet
        received = bytearray()
        while len(received) < sum(map(len, sent)):
            received += os.read(read_end, 65536)
        assert bytes(received) == b"".join(sent)
    finally:
        outbox.close()
        with os.fdopen(read_end, "rb") as stream:
            assert stream.read() == b""  # the outbox's thread closed its end


def _children_running(parent: int, argv: list[bytes]) -> list[int]:
    """Pids of ``parent``'s children whose command line is ``argv``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")[:-1]
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and cmdline == argv:
            found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class TestInterrupts:
    def test_interrupt_from_another_thread(self, sandbox: LuaSandbox) -> None:
        sandbox.run("kept = 'intact'")
        started = threading.Event()
        threading.Thread(target=lambda: started.wait(20) and sandbox.interrupt(), daemon=True).start()
        start = time.monotonic()
        with pytest.raises(KeyboardInterrupt) as caught:
            sandbox.run(
                "print('go') while true do pcall(function() while true do end end) end", on_stdout=Printed(started)
            )
        message = str(caught.value)  # the position depends on where the stop landed
        assert message.startswith("Lua execution interrupted") and message.endswith("; the Lua state is intact.")
        assert time.monotonic() - start < MARGIN
        assert sandbox.run("return kept").values == ["intact"]

    def test_sigint_while_waiting(self, sandbox: LuaSandbox) -> None:
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            sandbox.run("kept = 'intact'")
            started = threading.Event()
            _kill_when(started, os.getpid(), signal.SIGINT)
            with pytest.raises(KeyboardInterrupt, match="the Lua state is intact"):
                sandbox.run("print('go') while true do end", on_stdout=Printed(started))
            assert sandbox.run("return kept").values == ["intact"]

            started.clear()
            _kill_when(started, os.getpid(), signal.SIGINT)
            start = time.monotonic()
            with pytest.raises(KeyboardInterrupt, match="the Lua state was reset"):
                sandbox.run(f"print('go') {BACKTRACK}", on_stdout=Printed(started))
            assert time.monotonic() - start < 1.0 + MARGIN
            assert sandbox.run("return kept").values == [None]
        finally:
            signal.signal(signal.SIGINT, previous)

    def test_interrupt_of_an_unstoppable_run_resets_the_state(self, sandbox: LuaSandbox) -> None:
        sandbox.run("kept = 'intact'")
        started = threading.Event()
        threading.Thread(target=lambda: started.wait(20) and sandbox.interrupt(), daemon=True).start()
        start = time.monotonic()
        with pytest.raises(KeyboardInterrupt, match="could not be stopped within the 1 s grace period"):
            sandbox.run(f"print('go') {BACKTRACK}", on_stdout=Printed(started))
        assert time.monotonic() - start < 1.0 + MARGIN
        assert sandbox.run("return kept").values == [None]

    @pytest.mark.parametrize("delay", [0.0, 0.01, 0.03, 0.07, 0.15])
    def test_sigint_while_output_streams_in(self, sandbox: LuaSandbox, delay: float) -> None:
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            sandbox.run("kept = 'intact'")
            started = threading.Event()

            def interrupt() -> None:
                if started.wait(20):
                    time.sleep(delay)
                    os.kill(os.getpid(), signal.SIGINT)

            threading.Thread(target=interrupt, daemon=True).start()
            with pytest.raises(KeyboardInterrupt, match="the Lua state is intact"):
                sandbox.run("while true do print(string.rep('x', 1000)) end", on_stdout=Printed(started))
            assert sandbox.run("return kept").values == ["intact"]
        finally:
            signal.signal(signal.SIGINT, previous)

    def test_interrupt_without_a_run_does_nothing(self, sandbox: LuaSandbox) -> None:
        sandbox.interrupt()
        assert sandbox.run("return 1").values == [1]


class TestSessions:
    def test_two_sandboxes_are_isolated(self, tmp_path: Path) -> None:
        roots = [tmp_path / "one", tmp_path / "two"]
        sandboxes = []
        for index, root in enumerate(roots):
            root.mkdir()
            (root / "name.txt").write_text(f"project {index}")
            sandboxes.append(LuaSandbox(root))
        try:
            for index, sandbox in enumerate(sandboxes):
                sandbox.run(f"who = {index}")
            for index, sandbox in enumerate(sandboxes):
                assert sandbox.run("return who, jido.read_file('name.txt')").values == [
                    index,
                    f"     1→project {index}",
                ]
            sandboxes[0].run("jido.write_file('only-one.txt', 'x')")
            assert sandboxes[1].run("return jido.file_exists('only-one.txt')").values == [False]
            assert sandboxes[0].pid != sandboxes[1].pid
        finally:
            for sandbox in sandboxes:
                sandbox.close()

    def test_tool_calls_and_state_calls_reach_the_session(self, project: Path) -> None:
        records: list[dict[str, Any]] = []
        applied: list[tuple[str, list[Any]]] = []

        def on_state_call(op: str, args: Any) -> Any:
            applied.append((op, list(args)))
            if op == "start_streaming":
                raise JidoError("Already streaming: end the current stream first.", reason="already_streaming")
            if op == "update_streaming":
                raise RuntimeError("listener bug")
            return {"ok": True} if op == "end_streaming" else True

        sandbox = LuaSandbox(project, on_tool_call=records.append, on_state_call=on_state_call)
        try:
            (answers,) = sandbox.run(
                "local r = {} local function add(value, err) r[#r + 1] = {value = value, err = err} end "
                "add(jido.state.append_message('user', 'hi')) add(jido.state.start_streaming()) "
                "add(jido.state.update_streaming('x')) add(jido.state.end_streaming()) "
                "add(jido.write_file('f.txt', 'data')) return r"
            ).values
        finally:
            sandbox.close()
        assert answers == [
            {"value": True},
            {"err": "Already streaming: end the current stream first."},
            {"err": "jido.state.update_streaming failed: RuntimeError: listener bug"},
            {"value": {"ok": True}},
            {"value": True},
        ]
        assert applied == [("append_message", ["user", "hi"]), ("start_streaming", []), ("update_streaming", ["x"]),
                           ("end_streaming", [])]  # fmt: skip
        assert [(r["name"], r["status"], r["result_summary"]) for r in records] == [
            ("write_file", "running", None), ("write_file", "completed", "wrote 4 bytes")
        ]  # fmt: skip

    def test_without_a_state_listener(self, sandbox: LuaSandbox) -> None:
        assert sandbox.run("return jido.state.add_reasoning_step('x')").values == [
            None,
            "jido.state.add_reasoning_step: no session state is attached to this Lua sandbox",
        ]

    def test_a_failing_tool_call_listener_does_not_break_runs(
        self, project: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        def broken(record: Any) -> None:
            raise ValueError("listener bug")

        sandbox = LuaSandbox(project, on_tool_call=broken)
        try:
            assert sandbox.run("return jido.is_dir('.')").values == [True]
        finally:
            sandbox.close()
        assert "on_tool_call failed for is_dir" in caplog.text

    def test_reset_gives_a_fresh_state(self, sandbox: LuaSandbox) -> None:
        sandbox.run("kept = 1 string.rep = nil")
        pid = sandbox.pid
        sandbox.reset()
        assert sandbox.run("return kept, ('a'):rep(2), string.rep ~= nil").values == [None, "aa", True]
        assert sandbox.pid == pid

    def test_close(self, project: Path) -> None:
        sandbox = LuaSandbox(project)
        sandbox.run("return 1")
        assert sandbox.alive
        sandbox.close()
        assert not sandbox.alive and sandbox.pid is None
        with pytest.raises(LuaError, match="closed"):
            sandbox.run("return 1")

    def test_the_worker_gets_a_minimal_environment(self, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("KERNEL_SECRET_TOKEN", "do-not-leak")
        sandbox = LuaSandbox(project)
        try:
            sandbox.run("return 1")
            environ = (Path("/proc") / str(sandbox.pid) / "environ").read_bytes()
        finally:
            sandbox.close()
        names = {entry.split(b"=", 1)[0].decode() for entry in environ.split(b"\0") if entry}
        assert names - {"JIDO_KERNEL_DISABLE_LANDLOCK"} == {"PATH", "LC_ALL", "GLIBC_TUNABLES"}
        assert b"glibc.malloc.tcache_count=" in environ

    def test_the_worker_never_loads_openssl_and_still_writes_files(self, sandbox: LuaSandbox) -> None:
        assert sandbox.run("return jido.write_file('a.txt', 'x'), jido.read_file('a.txt', {raw = true})").values == [
            True,
            "x",
        ]
        maps = (Path("/proc") / str(sandbox.pid) / "maps").read_text()
        assert "libcrypto" not in maps and "_hashlib" not in maps

    def test_confinement_report(self, sandbox: LuaSandbox) -> None:
        report = sandbox.confinement
        assert set(report) == {"landlock_abi", "landlock_enforced", "network_restricted", "git_read_only", "notes"}
        if report["landlock_abi"] is None:
            pytest.skip("Landlock is unavailable on this Linux kernel")
        assert report["landlock_enforced"] is True
        assert sandbox.run("return jido.shell('ls').stdout").values == [""]

    def test_allowlist_growth_restarts_the_worker(self, sandbox: LuaSandbox, caplog: pytest.LogCaptureFixture) -> None:
        sandbox.run("kept = 1")
        sandbox.shell_allowlist = [*sandbox.shell_allowlist, "uname"]
        assert sandbox.run("return kept, jido.shell('uname').exit_code").values == [None, 0]
        assert "restarting it" in caplog.text
        sandbox.shell_allowlist = ["echo"]
        assert sandbox.run("return select(2, jido.shell('ls'))").values == [
            "Security error: command not in allowlist (ls)"
        ]


def _session_members(sid: int) -> list[int]:
    members = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as stat:
                    fields = stat.read().rpartition(b")")[2].split()
            except OSError:
                continue
            if int(fields[3]) == sid and int(name) != sid:
                members.append(int(name))
    return members


@pytest.mark.parametrize("how", ["worker SIGKILLed", "sandbox closed"])
def test_commands_die_with_the_worker(sandbox: LuaSandbox, how: str) -> None:
    """A command still running when its worker ends is killed (with anything it started)."""
    pid = sandbox.pid
    assert pid is not None
    sandbox.run("return 1")
    errors: list[BaseException] = []

    def run() -> None:
        try:
            sandbox.run("jido.shell('sleep', {'30'}) return 1")
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 10
    while not _session_members(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    commands = _session_members(pid)
    assert commands, "the command did not start"
    if how == "worker SIGKILLed":
        os.kill(pid, signal.SIGKILL)
    else:
        sandbox.close()
    thread.join(10)
    assert not thread.is_alive()
    if how == "worker SIGKILLed":
        assert errors and isinstance(errors[0], LuaWorkerCrashed)
    deadline = time.monotonic() + 5
    while any(os.path.exists(f"/proc/{command}") and _session_members(pid) for command in commands):
        assert time.monotonic() < deadline, f"commands outlived their worker: {commands}"
        time.sleep(0.01)


def test_a_late_completion_answer_does_not_disturb_the_next_run(sandbox: LuaSandbox) -> None:
    sandbox.run("kept = 41; big = {} for i = 1, 200000 do big['k' .. i] = i end")
    assert sandbox.names(("big",), wait=0) is None  # gave up before the worker answered
    pid = sandbox.pid
    assert sandbox.run("return kept + 1").values == [42]
    assert sandbox.pid == pid


class TestPrestartedWorker:
    """A worker process started ahead of its sandbox (the kernel's start-up) and taken by it."""

    @staticmethod
    def _standby() -> Any:
        transport.SPAWNER.submit(transport._prestart).result()
        assert transport._standby is not None
        return transport._standby[0]

    def test_the_next_sandbox_takes_it(self, project: Path) -> None:
        standby = self._standby()
        sandbox = LuaSandbox(project)
        try:
            assert sandbox.run("x = 1 return x + 1").values == [2]
            assert sandbox.pid == standby.pid
            assert sandbox.confinement["landlock_abi"] is None or sandbox.confinement["landlock_enforced"]
        finally:
            sandbox.close()
        assert transport._standby is None

    def test_one_started_in_another_environment_is_not_taken(
        self, project: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        standby = self._standby()
        monkeypatch.setenv("TZ", "Pacific/Kiritimati")
        sandbox = LuaSandbox(project)
        try:
            sandbox.start()
            assert sandbox.pid != standby.pid
            assert b"TZ=Pacific/Kiritimati" in (Path("/proc") / str(sandbox.pid) / "environ").read_bytes()
        finally:
            sandbox.close()
        assert standby.poll() is not None

    def test_discarded_when_no_sandbox_needs_it(self) -> None:
        standby = self._standby()
        transport.discard_standby()
        transport.SPAWNER.submit(lambda: None).result()
        assert transport._standby is None
        assert standby.poll() is not None


def test_pushed_lists_of_numbers_reach_lua_exactly(sandbox: LuaSandbox) -> None:
    floats = [i + 0.25 for i in range(1000)]
    floats[1:4] = [-0.0, float("inf"), float("nan")]
    ints = [-(1 << 63), (1 << 63) - 1, *range(998)]
    sandbox.push("f", floats)
    found = sandbox.run(
        "return #f, math.type(f[1]), 1 / f[2], f[3], f[4] ~= f[4], #ints, math.type(ints[1]),"
        " ints[1] == math.mininteger, ints[2] == math.maxinteger",
        inputs={"ints": ints},
    ).values
    assert found == [1000, "float", float("-inf"), float("inf"), True, 1000, "integer", True, True]
    assert sandbox.pull("f")[4:] == floats[4:]
