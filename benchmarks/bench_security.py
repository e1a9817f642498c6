"""Per-call cost of path validation and of a confined read, against plain Python.

- ``validate_path`` of a file 5 directories deep vs ``os.path.realpath`` + prefix check
  (target: at most 3x);
- confined ``read_file`` of a small file 5 directories deep vs ``open().read()``
  (target: at most 2x);

each with ``openat2`` (when the kernel has it) and with the ``O_NOFOLLOW`` walk.
Run: ``python benchmarks/bench_security.py``.
"""

from __future__ import annotations

import os
import tempfile
import timeit
from collections.abc import Callable

from jido_kernel.security import openat2, read_file, validate_path

DEPTH_PATH = "a/b/c/d/e/small.txt"
CONTENT = "hello, confined world\n" * 20
TARGETS = {"validate_path": 3.0, "read_file": 2.0}


def per_call(func: Callable[[], object], *, repeat: int = 7, number: int = 4000) -> float:
    """Best-of-``repeat`` seconds per call."""
    return min(timeit.repeat(func, repeat=repeat, number=number)) / number


def measure(root: str) -> list[tuple[str, float, float, float]]:
    """Rows of (case, measured seconds, baseline seconds, target ratio)."""
    full = os.path.join(root, DEPTH_PATH)
    prefix = root + os.sep

    def baseline_validate() -> object:
        real = os.path.realpath(full)
        if not (real == root or real.startswith(prefix)):
            raise ValueError(real)
        return real

    def baseline_read() -> str:
        with open(full, encoding="utf-8") as handle:
            return handle.read()

    rows = []
    modes = [("openat2", True), ("walk", False)] if openat2.AVAILABLE else [("walk", False)]
    for label, enabled in modes:
        openat2.ENABLED = enabled
        validate = per_call(lambda: validate_path(DEPTH_PATH, root))
        plain_validate = per_call(baseline_validate)
        read = per_call(lambda: read_file(DEPTH_PATH, root))
        plain_read = per_call(baseline_read)
        rows.append((f"validate_path ({label})", validate, plain_validate, TARGETS["validate_path"]))
        rows.append((f"read_file ({label})", read, plain_read, TARGETS["read_file"]))
    openat2.ENABLED = openat2.AVAILABLE
    return rows


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.realpath(tmp)
        os.makedirs(os.path.join(root, os.path.dirname(DEPTH_PATH)))
        with open(os.path.join(root, DEPTH_PATH), "w", encoding="utf-8") as handle:
            handle.write(CONTENT)
        assert read_file(DEPTH_PATH, root) == CONTENT
        rows = measure(root)
    print(f"{'case':<26}{'measured':>12}{'baseline':>12}{'ratio':>8}{'target':>9}  ok")
    for case, measured, baseline, target in rows:
        ratio = measured / baseline
        print(
            f"{case:<26}{measured * 1e6:>10.2f}us{baseline * 1e6:>10.2f}us{ratio:>8.2f}{'<= ' + format(target, 'g'):>9}"
            f"  {'yes' if ratio <= target else 'NO'}"
        )
    print("baselines: os.path.realpath + prefix check; open(path).read()")


if __name__ == "__main__":
    main()
