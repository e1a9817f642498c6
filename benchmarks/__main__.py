"""``python -m benchmarks [--load] [SUITE ...]``: run benchmarks (default: all).

``--load`` runs them with a CPU hog on another core (a loaded machine).
"""

from __future__ import annotations

import importlib
import sys
import time

from benchmarks._report import cpu_hog

SUITES = {
    "security": "validate_path and a confined read vs realpath and a plain open",
    "lua": "VM-bound Lua in the sandbox vs raw lupa; run() round trips",
    "kernel": "jido vs stock ipykernel: cell round trip, start, RSS, printing, results, -i/-o",
    "bridge": "jido.read_file, list_dir, shell from Lua vs the same in Python; worker start",
    "state": "streaming with a live view vs the producer alone; update rate, latency",
    "persistence": "streaming and appends with the state saved vs not; resuming 1,000 messages",
    "language": "Lua completion, help and is_complete over the protocol, in ms",
}


def main(names: list[str]) -> int:
    """Run the named suites (all when none is named); print each ratio with its target."""
    if "-h" in names or "--help" in names:
        print(__doc__.strip())
        for name, what in SUITES.items():
            print(f"  {name:<12} {what}")
        return 0
    if "--load" in names:
        names = [name for name in names if name != "--load"]
        with cpu_hog():
            print("(under load: a CPU hog runs on another core)")
            return main(names)
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
