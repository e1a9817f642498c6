"""``jido.sleep`` through a real kernel: it returns true, and a kernel interrupt ends it at once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager
from kernel_helpers import execute, jido_kernel, wait_for_stream

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    root = tmp_path_factory.mktemp("lua-sleep-project").resolve()
    with jido_kernel(root) as (km, kc):
        yield km, kc


def test_sleep_returns_true_and_an_interrupt_ends_it(kernel: Any) -> None:
    km, kc = kernel
    assert execute(kc, "%lua return jido.sleep(0.05)").result["text/plain"] == "True"
    msg_id = kc.execute("%%lua\nprint('started')\njido.sleep(60)\nreturn 'slept'")
    wait_for_stream(kc, msg_id, "started")
    interrupted = time.monotonic()
    km.interrupt_kernel()
    reply = kc.get_shell_msg(timeout=30)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=30)
    assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
    assert time.monotonic() - interrupted < 5
    assert execute(kc, "%lua return 1 + 1").result["text/plain"] == "2"
