"""Lua in the notebook, through a real ``jido`` kernel over the Jupyter protocol, ``RUNS``
requests each (min/median/max, in ms):

- complete_request in a ``%%lua`` cell from the contract (``jido.rea``): <= 50 ms;
- complete_request of a live table's fields (``config.``, read raw in the worker): <= 200 ms;
- complete_request of a Python cell (``os.pa``), for reference;
- inspect_request on ``jido.read_file(``: <= 50 ms;
- is_complete_request on a 5,000-line ``%%lua`` cell: <= 200 ms.

Run: ``python -m benchmarks language``.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from typing import Any

from jupyter_client.manager import start_new_kernel

from benchmarks._report import header, row

RUNS = 30
LONG_CELL = "%%lua\n" + "for i = 1, 10 do\n  local s = 'x' .. i -- note\nend\n" * 1666 + "if x then"


def timed_ms(kc: Any, send: Callable[[], Any]) -> float:
    start = time.perf_counter()
    send()
    kc.get_shell_msg(timeout=30)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    with tempfile.TemporaryDirectory() as root:
        km, kc = start_new_kernel(kernel_name="jido", cwd=root)
        try:
            kc.execute_interactive("%%lua\nconfig = {depth = 2, name = 'x'}", timeout=60)
            kc.execute_interactive("import os", timeout=60)
            cases: list[tuple[str, Callable[[], Any], float | None]] = [
                ("complete %%lua jido.rea (contract)", lambda: kc.complete("%%lua\njido.rea"), 50),
                ("complete %%lua config. (live state)", lambda: kc.complete("%%lua\nconfig."), 200),
                ("complete Python os.pa (reference)", lambda: kc.complete("os.pa"), None),
                ("inspect %%lua jido.read_file(", lambda: kc.inspect("%%lua\njido.read_file("), 50),
                ("is_complete, 5,000-line %%lua cell", lambda: kc.is_complete(LONG_CELL), 200),
            ]
            header()
            for name, send, target in cases:
                timed_ms(kc, send)  # warm-up
                row(name, [timed_ms(kc, send) for _ in range(RUNS)], target, unit=" ms")
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
