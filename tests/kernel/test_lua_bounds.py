"""Oversized traffic and slow kernel-side work through a real ``jido`` kernel.

Each attack cell is followed by a cell that proves the worker and the kernel are still in
step: a global set before is still there, from the same worker process, at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager
from kernel_helpers import Execution, execute, jido_kernel

pytestmark = pytest.mark.kernel

MIB = 1024 * 1024
FRAME = 64 * MIB
QUICK = 5.0  # seconds: a desynchronised worker makes the next cell wait for the old run's time limit

Kernel = tuple[KernelManager, BlockingKernelClient, Path]

SLOW_OBSERVER = """
import hashlib, time
from jido_kernel.session import current_session

def kernel_work(event, seconds=1.5):
    digest, end = b"", time.monotonic() + seconds
    while time.monotonic() < end:
        digest = hashlib.sha256(digest + b"x" * 4096).digest()

unsubscribe = current_session().state.subscribe(kernel_work, kinds=("reasoning_added",))
"""


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    root = tmp_path_factory.mktemp("lua-bounds-project").resolve()
    with jido_kernel(root) as (km, kc):
        prepared = execute(kc, "%lua keep = 'alive'")
        assert prepared.status == "ok", prepared.error
        yield km, kc, root


def run(kernel: Kernel, code: str) -> Execution:
    return execute(kernel[1], code, timeout=180)


def worker_pid(kernel: Kernel) -> int:
    done = run(kernel, "from jido_kernel.session import current_session\ncurrent_session().manager.lua.pid")
    assert done.result is not None, done.error
    return int(done.result["text/plain"])


def assert_in_step(kernel: Kernel, pid: int) -> None:
    started = time.monotonic()
    done = run(kernel, "%lua keep")
    assert done.status == "ok", done.error
    assert done.result is not None and done.result["text/plain"] == "'alive'"
    assert time.monotonic() - started < QUICK
    assert worker_pid(kernel) == pid


def assert_one_line_error(done: Execution, ename: str, *words: str) -> None:
    assert done.status == "error" and done.error is not None
    assert done.error["ename"] == ename, done.error
    assert len(done.error["traceback"]) == 1 and "\n" not in done.error["evalue"]
    for word in words:
        assert word in done.error["evalue"]


def test_a_state_reply_larger_than_the_frame_is_nil_message(kernel: Kernel) -> None:
    pid = worker_pid(kernel)
    done = run(
        kernel,
        "%%lua\n"
        "local refused = {}\n"
        "local function check(value, message) if value == nil then refused[#refused + 1] = message end end\n"
        "check(jido.state.start_streaming())\n"
        "local chunk = string.rep('s', 8 * 1024 * 1024)\n"
        "for i = 1, 9 do check(jido.state.update_streaming(chunk)) end\n"
        "check(jido.state.end_streaming())\n"
        "after = 'went on'\n"
        "return #refused > 0, refused[#refused]",
    )
    assert done.status == "ok", done.error
    assert done.result is not None and done.result["text/plain"].startswith("true"), done.result
    refusal = done.result["text/plain"]
    assert "\\n" not in refusal and "Traceback" not in refusal and "object at" not in refusal
    after = run(kernel, "%lua after").result
    assert after is not None and after["text/plain"] == "'went on'"
    assert_in_step(kernel, pid)


def test_a_huge_return_value(kernel: Kernel) -> None:
    pid = worker_pid(kernel)
    done = run(kernel, f"%%lua\nreturn string.rep('x', {FRAME + MIB})")
    assert_one_line_error(done, "LuaValueError", "cannot be sent to Python")
    assert_in_step(kernel, pid)


def test_a_huge_output_variable(kernel: Kernel) -> None:
    pid = worker_pid(kernel)
    done = run(kernel, f"%%lua -o big --no-return\nbig = string.rep('x', {FRAME + MIB})")
    assert_one_line_error(done, "LuaValueError", "cannot be sent to Python")
    assert_in_step(kernel, pid)


def test_a_read_file_result_near_the_limit(kernel: Kernel) -> None:
    lines = 9_900_000 // 100
    (kernel[2] / "big.txt").write_bytes((b"z" * 99 + b"\n") * lines)
    pid = worker_pid(kernel)
    done = run(kernel, f"%%lua -o content --no-return\ncontent = jido.read_file('big.txt', {{limit = {lines}}})")
    assert done.status == "ok", done.error
    counted = run(kernel, "content.count('z')")
    assert counted.result is not None and counted.result["text/plain"] == str(99 * lines)
    assert_in_step(kernel, pid)


def test_many_large_prints(kernel: Kernel) -> None:
    pid = worker_pid(kernel)
    done = run(
        kernel, "%%lua --no-return\nlocal line = string.rep('p', 1024 * 1024 - 1)\nfor i = 1, 40 do print(line) end"
    )
    assert done.status == "ok", done.error
    assert 0 < len(done.stdout) < 33 * MIB
    assert_in_step(kernel, pid)


def test_colliding_table_keys(kernel: Kernel) -> None:
    pid = worker_pid(kernel)
    done = run(kernel, "%%lua\nreturn {[1] = 'a', [true] = 'b'}")
    assert_one_line_error(done, "LuaValueError", "[1] and [true]")
    assert_in_step(kernel, pid)


def test_slow_kernel_side_state_handling_is_not_a_lua_timeout(kernel: Kernel) -> None:
    assert run(kernel, SLOW_OBSERVER).status == "ok"
    pid = worker_pid(kernel)
    try:
        started = time.monotonic()
        done = run(
            kernel,
            "%%lua --timeout 1\nfor i = 1, 2 do jido.state.add_reasoning_step('step ' .. i) end\n"
            "slow = 'done'\nreturn slow",
        )
        elapsed = time.monotonic() - started
    finally:
        run(kernel, "unsubscribe()")
    assert done.status == "ok", done.error
    assert done.result is not None and done.result["text/plain"] == "'done'"
    assert elapsed >= 3.0
    assert_in_step(kernel, pid)


def test_a_state_bound_reaches_lua_as_one_line(kernel: Kernel) -> None:
    pid = worker_pid(kernel)
    done = run(
        kernel,
        "%%lua\nlocal value, message = jido.state.append_message('user', string.rep('m', 8 * 1024 * 1024))\n"
        "return value == nil, type(message), message",
    )
    assert done.status == "ok", done.error
    assert done.result is not None and done.result["text/plain"].startswith('true, "string", "'), done.result
    assert "\\n" not in done.result["text/plain"] and "Traceback" not in done.result["text/plain"]
    assert_in_step(kernel, pid)
