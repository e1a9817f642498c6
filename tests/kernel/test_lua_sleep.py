"""``jido.sleep`` through a real kernel: it returns true, and a kernel interrupt ends it at once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from queue import Empty
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager
from kernel_helpers import execute, jido_kernel

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    root = tmp_path_factory.mktemp("lua-sleep-project").resolve()
    with jido_kernel(root) as (km, kc):
        yield km, kc


def _started(kc: BlockingKernelClient, msg_id: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=1)
        except Empty:
            continue
        ours = msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream"
        if ours and "started" in msg["content"]["text"]:
            return
    raise AssertionError("the cell never started")


def test_sleep_returns_true_and_an_interrupt_ends_it(kernel: Any) -> None:
    km, kc = kernel
    assert execute(kc, "%lua return jido.sleep(0.05)").result["text/plain"] == "True"
    msg_id = kc.execute("%%lua\nprint('started')\njido.sleep(60)\nreturn 'slept'")
    _started(kc, msg_id)
    interrupted = time.monotonic()
    km.interrupt_kernel()
    reply = kc.get_shell_msg(timeout=30)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=30)
    assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
    assert time.monotonic() - interrupted < 5
    assert execute(kc, "%lua return 1 + 1").result["text/plain"] == "2"
