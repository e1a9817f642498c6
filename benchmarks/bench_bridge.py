"""``jido.*`` from Lua in a real sandbox (worker process, limits armed, tool calls recorded)
against the same work in plain Python, paired in each run, ``RUNS`` runs:

- ``jido.read_file`` of a small file, 10,000 times, vs ``open().read()``: <= 2.5x (the
  default numbered lines, and ``{raw=true}``, the text as is);
- ``jido.list_dir`` of a 10,000-entry directory vs ``os.scandir`` + sort: <= 2x;
- ``jido.shell('true')`` vs ``subprocess.run(['true'])``: <= 1.5x;
- a new worker, spawn → ready (confined, Lua state built): <= 60 ms.

The Lua side is the run's duration inside the worker (the work, its tool-call records
and their trip to the kernel); the Python side runs in this process.

Run: ``python -m benchmarks bridge``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from benchmarks._report import header, row
from jido_kernel.lua import LuaSandbox

RUNS = 5
READS = 10_000
ENTRIES = 10_000
LISTS = 20
SHELLS = 200
STARTS = 10


def timed(func: Callable[[], Any]) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def lua_time(sandbox: LuaSandbox, code: str) -> float:
    start = time.perf_counter()
    sandbox.run(code, want_return=False)
    return time.perf_counter() - start


def measure(root: Path) -> dict[str, list[float]]:
    (root / "small.txt").write_text("hello, confined world\n" * 20)
    big = root / "big"
    big.mkdir()
    for index in range(ENTRIES):
        (big / f"f{index:05d}").touch()
    calls: list[Mapping[str, Any]] = []
    sandbox = LuaSandbox(root, on_tool_call=calls.append)
    results: dict[str, list[float]] = {}
    try:
        sandbox.run("return 1")

        def read() -> None:
            for _ in range(READS):
                with open(root / "small.txt", encoding="utf-8") as handle:
                    handle.read()

        def listing() -> None:
            for _ in range(LISTS):
                entries = [(e.name, "directory" if e.is_dir() else "file") for e in os.scandir(big)]
                [{"name": name, "type": kind} for name, kind in sorted(entries)]

        def shell() -> None:
            for _ in range(SHELLS):
                subprocess.run(["true"], stdin=subprocess.DEVNULL, capture_output=True, check=True)

        cases = [
            ("jido.read_file x10k vs open().read()", f"for i = 1, {READS} do jido.read_file('small.txt') end", read),
            (
                "  {raw=true} (the text as is)",
                f"local o = {{raw = true}} for i = 1, {READS} do jido.read_file('small.txt', o) end",
                read,
            ),
            ("jido.list_dir 10k entries vs scandir+sort", f"for i = 1, {LISTS} do jido.list_dir('big') end", listing),
            ("jido.shell('true') vs subprocess.run", f"for i = 1, {SHELLS} do jido.shell('true') end", shell),
        ]
        for _ in range(RUNS):
            for name, code, python in cases:
                calls.clear()
                results.setdefault(name, []).append(lua_time(sandbox, code) / timed(python))
        for _ in range(RUNS):
            results.setdefault("worker start: spawn -> ready (ms)", []).append(start_time(root) * 1000)
    finally:
        sandbox.close()
    return results


def start_time(root: Path) -> float:
    """Median seconds from starting a worker to its ``ready``."""
    times = []
    for _ in range(STARTS):
        sandbox = LuaSandbox(root)
        start = time.perf_counter()
        sandbox.start()
        assert sandbox.confinement is not None  # waits for ready
        times.append(time.perf_counter() - start)
        sandbox.close()
    return statistics.median(times)


TARGETS = {
    "jido.read_file x10k vs open().read()": (2.5, "x"),
    "  {raw=true} (the text as is)": (2.5, "x"),
    "jido.list_dir 10k entries vs scandir+sort": (2.0, "x"),
    "jido.shell('true') vs subprocess.run": (1.5, "x"),
    "worker start: spawn -> ready (ms)": (60.0, " ms"),
}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        results = measure(Path(os.path.realpath(tmp)))
    header()
    for name, values in results.items():
        target, unit = TARGETS[name]
        row(name, values, target, unit)


if __name__ == "__main__":
    main()
