"""Shared reporting: paired ratios over several runs, printed as min/median/max with the target."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

HEADER = f"{'measure':<46}{'min':>9}{'median':>9}{'max':>9}  {'target':<12}verdict"


def header() -> None:
    print(HEADER)


def row(name: str, values: list[float], target: float | None, unit: str = "x", stretch: float | None = None) -> None:
    """One line: min/median/max of ``values``; the verdict is the median against ``target``."""
    low, mid, high = min(values), statistics.median(values), max(values)
    if target is None:
        goal, verdict = "", ""
    else:
        goal = f"<= {target:g}{unit}"
        verdict = "ok" if mid <= target else "MISS"
        if stretch is not None:
            verdict += f" (stretch <= {stretch:g}{unit}: {'ok' if mid <= stretch else 'not yet'})"
    print(f"{name:<46}{low:>9.3g}{mid:>9.3g}{high:>9.3g}  {goal:<12}{verdict}", flush=True)


@contextmanager
def cpu_hog() -> Iterator[None]:
    """A busy process for the duration (a CPU hog on the other core)."""
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        hog.kill()
        hog.wait()


def rss(pid: int, *, children: bool = True) -> int:
    """Resident set size of ``pid`` (and its descendants), in bytes, from /proc."""
    return _memory(pid, "/proc/{}/status", ("VmRSS:",), children)


def uss(pid: int) -> int:
    """Unique set size of ``pid`` and its descendants, in bytes: the memory none of them
    shares with another process (RSS counts a shared library's pages in each)."""
    return _memory(pid, "/proc/{}/smaps_rollup", ("Private_Clean:", "Private_Dirty:"), True)


def _memory(pid: int, path: str, fields: tuple[str, ...], children: bool) -> int:
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            with open(path.format(current), encoding="ascii") as status:
                for line in status:
                    if line.startswith(fields):
                        total += int(line.split()[1]) * 1024
            if children:
                for task in os.listdir(f"/proc/{current}/task"):
                    with open(f"/proc/{current}/task/{task}/children", encoding="ascii") as kids:
                        pending += [int(kid) for kid in kids.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total
