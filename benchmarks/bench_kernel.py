"""Kernel round trips: a ``%%lua`` cell on the jido kernel vs a Python cell on stock ipykernel.

Both kernels run in the same benchmark; each round trip is one ``execute_request``
until its ``execute_reply`` and the kernel's ``idle`` status, as a front end sees it.
Compared: ``%%lua\\nreturn 1`` on ``jido`` vs ``1`` on ``python3`` (target <= 1.1x), and,
for reference, ``1`` on ``jido`` (the price of the extension's hooks on plain cells).

Run: ``python benchmarks/bench_kernel.py``.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import start_new_kernel

TARGET = 1.1
ROUNDS = 300
WARMUP = 20


@contextmanager
def kernel(name: str, cwd: str) -> Iterator[BlockingKernelClient]:
    manager, client = start_new_kernel(kernel_name=name, cwd=cwd, startup_timeout=120)
    try:
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def round_trip(client: BlockingKernelClient, code: str) -> float:
    """Seconds from sending ``code`` to the kernel's idle after it (reply checked)."""
    start = time.perf_counter()
    msg_id = client.execute(code)
    reply = client.get_shell_msg(timeout=60)
    assert reply["parent_header"]["msg_id"] == msg_id and reply["content"]["status"] == "ok", reply
    while True:
        msg = client.get_iopub_msg(timeout=60)
        if (
            msg["parent_header"].get("msg_id") == msg_id
            and msg["msg_type"] == "status"
            and msg["content"]["execution_state"] == "idle"
        ):
            return time.perf_counter() - start


def measure() -> dict[str, float]:
    """Median round trip (s) of each case, the cases interleaved round by round."""
    cases = {
        "%%lua return 1 (jido)": ("jido", "%%lua\nreturn 1"),
        "1 (python3)": ("python3", "1"),
        "1 (jido)": ("jido", "1"),
    }
    times: dict[str, list[float]] = {case: [] for case in cases}
    with tempfile.TemporaryDirectory() as cwd, kernel("jido", cwd) as jido, kernel("python3", cwd) as stock:
        clients = {"jido": jido, "python3": stock}
        for index in range(WARMUP + ROUNDS):
            for case, (name, code) in cases.items():
                elapsed = round_trip(clients[name], code)
                if index >= WARMUP:
                    times[case].append(elapsed)
    return {case: statistics.median(values) for case, values in times.items()}


def main() -> None:
    medians = measure()
    base = medians["1 (python3)"]
    print(f"{'cell (kernel)':<26}{'median ms':>11}{'vs python3':>12}{'target':>9}")
    for case, median in medians.items():
        ratio = median / base
        target = f"<={TARGET}x" if case.startswith("%%lua") else ""
        verdict = ("ok" if ratio <= TARGET else "MISS") if target else ""
        print(f"{case:<26}{median * 1000:>11.2f}{ratio:>11.2f}x{target:>9}  {verdict}")


if __name__ == "__main__":
    main()
