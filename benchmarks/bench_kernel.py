"""The jido kernel against a stock python3 kernel, as a front end sees them.

Every case is a paired ratio measured in the same run (the two kernels side by side,
their rounds interleaved), repeated ``RUNS`` times (starts ``START_RUNS``) and shown as
min/median/max:

- ``%%lua return 1`` (jido) vs ``1`` (python3), execute → idle: <= 1.0x (stretch 0.5x);
- kernel start → ``kernel_info`` reply, jido vs python3: <= 1.1x (the target is for a
  loaded machine: ``python -m benchmarks --load kernel``); the first ``%%lua`` sent right
  after start vs stock's first cell: <= 1.2x (it never waits for the worker to start: a
  wait would cost tens of milliseconds; each kernel's first cell pays IPython's one-time
  costs, 2-3x a steady cell on both, shown for reference);
- idle kernel + worker RSS vs the stock kernel: <= 1.3x (summed RSS counts the pages of
  the libraries both processes map, libpython's among them, twice; their unique memory is
  shown for reference); each extra session: <= 15 MiB;
- printing 10 MB from Lua vs from Python: <= 1.1x the time, <= 20 IOPub stream messages;
- a 100k-row table returned by Lua vs the same Python list: <= 3x; ``--no-return``;
- ``-i`` / ``-o`` of 1e6 floats and of a 1e5-key dict vs a JSON round trip of it in
  Python (``json.loads(json.dumps(v))``): <= 2x.

Run: ``python -m benchmarks kernel``.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager, start_new_kernel

from benchmarks._report import header, row, rss, uss

RUNS = 5
START_RUNS = 9
"""Kernel starts are the noisiest measure (two processes' start-ups side by side)."""
HEAVY_RUNS = 3
ROUNDS = 40
WARMUP = 10
MIB = 1024 * 1024

PRINT_LUA = '%%lua\nlocal s = string.rep("x", 99) for i = 1, 100000 do print(s) end'
PRINT_PY = 's = "x" * 99\nfor i in range(100000): print(s)'
ROWS_LUA = "%%lua\nlocal t = {} for i = 1, 100000 do t[i] = {id = i, name = 'row' .. i, value = i * 0.5} end return t"
ROWS_PY = "[{'id': i, 'name': f'row{i}', 'value': i * 0.5} for i in range(1, 100001)]"
SETUP = "import json\nfloats = [i + 0.5 for i in range(10**6)]\nkeyed = {f'k{i}': i for i in range(10**5)}\n_ = None"


@contextmanager
def kernel(name: str, cwd: str) -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    # Warnings (TCP without encryption) would bury the table; errors still show.
    manager, client = start_new_kernel(
        kernel_name=name, cwd=cwd, startup_timeout=120, extra_arguments=["--log-level=ERROR"]
    )
    try:
        yield manager, client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def execute(client: BlockingKernelClient, code: str) -> tuple[float, int]:
    """Seconds from sending ``code`` to the kernel's idle after it, and the stream
    messages it sent (the reply must be ``ok``)."""
    start = time.perf_counter()
    msg_id = client.execute(code)
    streams = 0
    while True:
        msg = client.get_iopub_msg(timeout=300)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        streams += msg["msg_type"] == "stream"
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            elapsed = time.perf_counter() - start
            break
    reply = client.get_shell_msg(timeout=60)
    while reply["parent_header"].get("msg_id") != msg_id:  # a reply left from start-up
        reply = client.get_shell_msg(timeout=60)
    assert reply["content"]["status"] == "ok", reply["content"]
    return elapsed, streams


def paired(jido: BlockingKernelClient, stock: BlockingKernelClient, lua: str, python: str, rounds: int) -> float:
    """Ratio of the median times of ``lua`` on jido and ``python`` on stock, interleaved."""
    times: dict[str, list[float]] = {"lua": [], "python": []}
    for index in range(rounds):
        pairs = [("lua", jido, lua), ("python", stock, python)]
        for case, client, code in pairs if index % 2 else reversed(pairs):
            times[case].append(execute(client, code)[0])
    return statistics.median(times["lua"]) / statistics.median(times["python"])


def cells(cwd: str) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {}
    with kernel("jido", cwd) as (jido_manager, jido), kernel("python3", cwd) as (stock_manager, stock):
        for _ in range(WARMUP):
            execute(jido, "%%lua\nreturn 1")
            execute(stock, "1")
        time.sleep(1.0)
        idle = rss(jido_manager.provisioner.pid) / rss(stock_manager.provisioner.pid)  # type: ignore[union-attr]
        results["idle RSS, kernel + worker vs stock"] = [idle]
        unique = uss(jido_manager.provisioner.pid) / uss(stock_manager.provisioner.pid)  # type: ignore[union-attr]
        results["  (unique memory, kernel + worker vs stock)"] = [unique]
        for _ in range(RUNS):
            add(results, "%%lua return 1 vs 1 (round trip)", paired(jido, stock, "%%lua\nreturn 1", "1", ROUNDS))
            add(results, "1 on jido vs 1 (reference)", paired(jido, stock, "1", "1", ROUNDS))
        for _ in range(HEAVY_RUNS):
            lua_time, lua_streams = execute(jido, PRINT_LUA)
            py_time, py_streams = execute(stock, PRINT_PY)
            add(results, "print 10 MB: time vs Python", lua_time / py_time)
            add(results, "print 10 MB: IOPub stream messages", lua_streams)
            add(results, "  (Python: IOPub stream messages)", py_streams)
            add(results, "100k rows returned vs Python list", paired(jido, stock, ROWS_LUA, ROWS_PY, 3))
            no_return = ROWS_LUA.replace("%%lua", "%%lua --no-return")
            add(results, "100k rows, --no-return vs Python list", paired(jido, stock, no_return, ROWS_PY, 3))
        execute(jido, SETUP)
        execute(jido, "%%lua -i floats,keyed\nfloats2, keyed2 = floats, keyed")
        for _ in range(HEAVY_RUNS):
            for label, name in (("1e6 floats", "floats"), ("1e5-key dict", "keyed")):
                base = execute(jido, f"_ = json.loads(json.dumps({name}))")[0]
                pushed = execute(jido, f"%%lua -i {name}\nlocal _ = 0")[0]
                pulled = execute(jido, f"%%lua -o {name}2\nlocal _ = 0")[0]
                add(results, f"-i {label} vs JSON round trip", pushed / base)
                add(results, f"-o {label} vs JSON round trip", pulled / base)
        results["extra session RSS (MiB)"] = [extra_sessions(jido, jido_manager) / MIB]
    return results


def extra_sessions(client: BlockingKernelClient, manager: KernelManager, count: int = 3) -> float:
    """RSS added per extra session (kernel + workers), once their workers are ready."""
    pid = manager.provisioner.pid  # type: ignore[union-attr]
    time.sleep(0.5)
    before = rss(pid)
    code = (
        "import tempfile, jido_kernel.session.lifecycle as _l\n"
        f"_extra = [_l.open_session(tempfile.mkdtemp(), name=f'extra{{i}}') for i in range({count})]\n"
        "for _s in _extra: _s.manager.run_lua('return 1')"
    )
    execute(client, code)
    time.sleep(0.5)
    return (rss(pid) - before) / count


def starts(cwd: str) -> dict[str, list[float]]:
    """Start → kernel_info of each kernel, interleaved; then each one's first cell at once
    (``%%lua return 1`` on jido, ``1`` on stock) and its steady cells."""
    results: dict[str, list[float]] = {}
    for index in range(START_RUNS):
        timings: dict[str, float] = {}
        firsts: dict[str, float] = {}
        for name in ("jido", "python3") if index % 2 else ("python3", "jido"):
            code = "%%lua\nreturn 1" if name == "jido" else "1"
            with ExitStack() as stack:
                start = time.perf_counter()
                _, client = stack.enter_context(kernel(name, cwd))
                timings[name] = time.perf_counter() - start
                firsts[name] = execute(client, code)[0]
                steady = statistics.median(execute(client, code)[0] for _ in range(10))
                add(results, f"  (first cell vs a steady one: {name})", firsts[name] / steady)
        add(results, "kernel start -> kernel_info vs stock", timings["jido"] / timings["python3"])
        add(results, "first %%lua after start vs stock's first 1", firsts["jido"] / firsts["python3"])
    return results


def add(results: dict[str, list[float]], name: str, value: Any) -> None:
    results.setdefault(name, []).append(float(value))


TARGETS: dict[str, tuple[float | None, str, float | None]] = {
    "%%lua return 1 vs 1 (round trip)": (1.0, "x", 0.5),
    "1 on jido vs 1 (reference)": (None, "x", None),
    "kernel start -> kernel_info vs stock": (1.1, "x", None),
    "first %%lua after start vs stock's first 1": (1.2, "x", None),
    "  (first cell vs a steady one: jido)": (None, "x", None),
    "  (first cell vs a steady one: python3)": (None, "x", None),
    "idle RSS, kernel + worker vs stock": (1.3, "x", None),
    "  (unique memory, kernel + worker vs stock)": (None, "x", None),
    "extra session RSS (MiB)": (15.0, " MiB", None),
    "print 10 MB: time vs Python": (1.1, "x", None),
    "print 10 MB: IOPub stream messages": (20.0, "", None),
    "  (Python: IOPub stream messages)": (None, "", None),
    "100k rows returned vs Python list": (3.0, "x", None),
    "100k rows, --no-return vs Python list": (3.0, "x", None),
}


def main() -> None:
    header()
    with tempfile.TemporaryDirectory() as cwd:
        for section in (starts, cells):
            for name, values in section(cwd).items():
                target, unit, stretch = TARGETS.get(name, (2.0, "x", None))
                row(name, values, target, unit, stretch)
    print("baselines: the stock python3 kernel in the same run; JSON round trips in the jido kernel's Python")


if __name__ == "__main__":
    main()
