"""VM-bound Lua in the sandbox, every limit armed, against raw lupa in the same run.

- recursive ``fib(27)``, table churn and string building, run through
  :class:`~jido_kernel.lua.LuaSandbox` (worker process, time limit, memory limit,
  interrupt ready) and measured inside the worker (the run's ``duration``: no pipe
  overhead), vs the same code in a bare ``lupa.lua54.LuaRuntime()`` with no hook, in
  this process. Target: sandbox speed >= 0.9x raw.
- the round trip of ``run("return 1")`` as the kernel sees it, in microseconds: back
  to back, and after an idle gap of ``IDLE_GAP`` s (what a notebook sees between cells,
  when every thread involved is asleep).

Run: ``python benchmarks/bench_lua.py``.
"""

from __future__ import annotations

import statistics
import tempfile
import time

import lupa.lua54

from jido_kernel.lua import LuaSandbox

WORKLOADS = {
    "fib(27)": """
        local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
        return fib(27)
    """,
    "table churn": """
        local total = 0
        for i = 1, 300000 do
          local t = {i, i + 1, name = "x", nested = {i}}
          t[#t + 1] = t.nested[1]
          total = total + #t
        end
        return total
    """,
    "string building": """
        local parts = {}
        for i = 1, 200000 do parts[#parts + 1] = string.format("%d:%s", i, ("x"):rep(i % 7)) end
        local s = table.concat(parts, ",")
        local t = ""
        for i = 1, 20000 do t = t .. "ab" end
        return #s + #t
    """,
}
TARGET = 0.9
ROUNDS = 7
TRIPS = 500
IDLE_TRIPS = 200
IDLE_GAP = 0.01


def measure() -> tuple[list[tuple[str, float, float]], dict[str, list[float]]]:
    """Rows of (workload, sandbox seconds, raw seconds), best of ROUNDS; round trips (s)."""
    raw = lupa.lua54.LuaRuntime()
    rows = []
    with tempfile.TemporaryDirectory() as root:
        sandbox = LuaSandbox(root, timeout=60)
        try:
            for name, code in WORKLOADS.items():
                sandboxed, bare = [], []
                for _ in range(ROUNDS):
                    sandboxed.append(sandbox.run(code, name=f"<{name}>").duration)
                    start = time.perf_counter()
                    raw.execute(code)
                    bare.append(time.perf_counter() - start)
                rows.append((name, min(sandboxed), min(bare)))
            trips = {
                "back to back": _round_trips(sandbox, TRIPS, 0.0),
                f"after {IDLE_GAP * 1000:g} ms idle": _round_trips(sandbox, IDLE_TRIPS, IDLE_GAP),
            }
        finally:
            sandbox.close()
    return rows, trips


def _round_trips(sandbox: LuaSandbox, count: int, gap: float) -> list[float]:
    """Seconds of ``count`` runs of ``return 1``, each after ``gap`` s of sleep."""
    trips = []
    for _ in range(count):
        time.sleep(gap)
        start = time.perf_counter()
        sandbox.run("return 1")
        trips.append(time.perf_counter() - start)
    return trips


def main() -> None:
    rows, trips = measure()
    print(f"{'workload':<18}{'sandbox ms':>12}{'raw lupa ms':>13}{'speed':>9}{'target':>9}")
    for name, sandboxed, bare in rows:
        speed = bare / sandboxed
        verdict = "ok" if speed >= TARGET else "MISS"
        print(f"{name:<18}{sandboxed * 1000:>12.2f}{bare * 1000:>13.2f}{speed:>8.2f}x{f'>={TARGET}x':>9}  {verdict}")
    for label, times in trips.items():
        print(
            f"round trip of run('return 1'), {label}: median {statistics.median(times) * 1e6:.0f} us, "
            f"p90 {statistics.quantiles(times, n=10)[-1] * 1e6:.0f} us"
        )


if __name__ == "__main__":
    main()
