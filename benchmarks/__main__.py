"""``python -m benchmarks [security|lua|state|kernel ...]``: run benchmarks (default: all)."""

from __future__ import annotations

import importlib
import sys
import time

SUITES = {
    "security": "validate_path and a confined read vs realpath and a plain open (issue 3)",
    "lua": "VM-bound Lua in the sandbox vs raw lupa; run() round trips (issue 4)",
    "kernel": "%%lua cell round trip on jido vs a Python cell on stock ipykernel (issue 4)",
    "state": "streaming with a live view vs the producer alone; update rate, latency (issue 6)",
}


def main(names: list[str]) -> int:
    unknown = [name for name in names if name not in SUITES]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(SUITES)}", file=sys.stderr)
        return 2
    for name in names or list(SUITES):
        print(f"\n== {name}: {SUITES[name]}", flush=True)
        started = time.perf_counter()
        importlib.import_module(f"benchmarks.bench_{name}").main()
        print(f"   ({time.perf_counter() - started:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
