"""``jido.sleep`` through a real kernel: it returns true, and a kernel interrupt ends it at once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager
from kernel_helpers import execute, interrupt_when_started, jido_kernel

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    root = tmp_path_factory.mktemp("lua-sleep-project").resolve()
    with jido_kernel(root) as (km, kc):
        yield km, kc


def test_sleep_returns_true_and_an_interrupt_ends_it(kernel: Any) -> None:
    km, kc = kernel
    assert execute(kc, "%lua return jido.sleep(0.05)").result["text/plain"] == "True"
    reply, delay = interrupt_when_started(km, kc, "%%lua\nprint('started')\njido.sleep(60)\nreturn 'slept'", idle=True)
    assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt"
    assert delay < 5
    assert execute(kc, "%lua return 1 + 1").result["text/plain"] == "2"
