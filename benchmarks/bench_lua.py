"""VM-bound Lua in the sandbox, every limit armed, against raw lupa in the same run.

- recursive ``fib(27)``, table churn, string building, coroutine create, resume/yield,
  ``coroutine.wrap`` generators, ``pcall``/``xpcall``/``error``, ``setmetatable``-heavy
  code, many ``load`` calls and one large chunk, run through
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

import json
import statistics
import subprocess
import sys
import tempfile
import time

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
    "coroutine create": """
        local f = function(x) return x end
        local n = 0
        for i = 1, 100000 do local co = coroutine.create(f) n = n + select(2, coroutine.resume(co, 1)) end
        return n
    """,
    "resume/yield": """
        local co = coroutine.create(function() local n = 0 while true do n = n + coroutine.yield(n) end end)
        coroutine.resume(co)
        local last
        for i = 1, 200000 do last = select(2, coroutine.resume(co, 1)) end
        return last
    """,
    "wrap generators": """
        local function range(n) return coroutine.wrap(function() for i = 1, n do coroutine.yield(i) end end) end
        local s = 0
        for j = 1, 1000 do for i in range(200) do s = s + i end end
        return s
    """,
    "pcall/xpcall/error": """
        local ok_f = function(x) return x end
        local bad_f = function(x) error("bad " .. x) end
        local handler = function(m) return m end
        local n = 0
        for i = 1, 100000 do
          if pcall(ok_f, i) then n = n + 1 end
          if not pcall(bad_f, "x") then n = n + 1 end
          if not xpcall(bad_f, handler, "y") then n = n + 1 end
        end
        return n
    """,
    "setmetatable": """
        local Point = {}
        Point.__index = Point
        function Point.new(x, y) return setmetatable({x = x, y = y}, Point) end
        function Point:len2() return self.x * self.x + self.y * self.y end
        local s = 0
        for i = 1, 300000 do s = s + Point.new(i, 1):len2() end
        return s
    """,
    "many loads": """
        local n = 0
        for i = 1, 20000 do n = n + load("local a, b = ... return a + b + " .. i)(1, 2) end
        return n
    """,
    "large chunk": "local t = {}\n"
    + "\n".join(
        f"t[{i}] = function(x) local y = x * {i} if y > {i} then return y - {i} end return y end" for i in range(20000)
    )
    + "\nreturn #t\n",
}
TARGET = 0.9
ROUNDS = 7
PROCESSES = 5
"""Fresh processes per side: a Lua VM's speed varies with the process it runs in
(memory layout, CPU placement) by more than the difference being measured, so each
side gets as many fresh processes and the ratio of medians is reported."""
TRIPS = 500
IDLE_TRIPS = 200
IDLE_GAP = 0.01

RAW = """
import json, sys, time
import lupa.lua54
raw = lupa.lua54.LuaRuntime()
best = {}
for name, code in json.loads(sys.stdin.read()).items():
    times = []
    for _ in range(int(sys.argv[1])):
        start = time.perf_counter()
        raw.execute(code)
        times.append(time.perf_counter() - start)
    best[name] = min(times)
print(json.dumps(best))
"""


def _raw_process() -> dict[str, float]:
    """Best time of each workload in a fresh process running bare ``lupa.lua54``."""
    done = subprocess.run(
        [sys.executable, "-c", RAW, str(ROUNDS)],
        input=json.dumps(WORKLOADS),
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return json.loads(done.stdout)


def _sandbox_process(root: str) -> dict[str, float]:
    """Best in-worker time of each workload in a fresh sandbox worker (limits armed)."""
    sandbox = LuaSandbox(root, timeout=60)
    try:
        return {
            name: min(sandbox.run(code, name=f"<{name}>").duration for _ in range(ROUNDS))
            for name, code in WORKLOADS.items()
        }
    finally:
        sandbox.close()


def measure() -> tuple[list[tuple[str, list[float], list[float]]], dict[str, list[float]]]:
    """Per workload, the best times of each sandbox and each raw process; round trips (s)."""
    sandboxed: list[dict[str, float]] = []
    bare: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as root:
        for _ in range(PROCESSES):  # interleaved, so drifts of the machine hit both sides
            sandboxed.append(_sandbox_process(root))
            bare.append(_raw_process())
        rows = [(name, [s[name] for s in sandboxed], [b[name] for b in bare]) for name in WORKLOADS]
        sandbox = LuaSandbox(root, timeout=60)
        try:
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
    print(f"{'workload':<18}{'sandbox ms':>12}{'raw lupa ms':>13}{'speed':>9}{'range':>15}{'target':>9}")
    for name, sandboxed, bare in rows:
        speed = statistics.median(bare) / statistics.median(sandboxed)
        low, high = min(bare) / max(sandboxed), max(bare) / min(sandboxed)
        verdict = "ok" if speed >= TARGET else "MISS"
        print(
            f"{name:<18}{statistics.median(sandboxed) * 1000:>12.2f}{statistics.median(bare) * 1000:>13.2f}"
            f"{speed:>8.2f}x{f'{low:.2f}-{high:.2f}x':>15}{f'>={TARGET}x':>9}  {verdict}"
        )
    print(f"(medians over {PROCESSES} fresh processes per side, best of {ROUNDS} runs in each)")
    for label, times in trips.items():
        print(
            f"round trip of run('return 1'), {label}: median {statistics.median(times) * 1e6:.0f} us, "
            f"p90 {statistics.quantiles(times, n=10)[-1] * 1e6:.0f} us"
        )


if __name__ == "__main__":
    main()
