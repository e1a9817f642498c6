"""Driving a real kernel over the Jupyter protocol (jupyter_client) in tests."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty
from typing import Any

from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager, start_new_kernel

TIMEOUT = 60


@dataclass
class Execution:
    """What one execute_request produced: the reply and the IOPub messages of the cell."""

    reply: dict[str, Any]
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.reply["content"]["status"]

    @property
    def stdout(self) -> str:
        return self._stream("stdout")

    @property
    def stderr(self) -> str:
        return self._stream("stderr")

    def _stream(self, name: str) -> str:
        return "".join(
            m["content"]["text"] for m in self.messages if m["msg_type"] == "stream" and m["content"]["name"] == name
        )

    def of_type(self, *msg_types: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["msg_type"] in msg_types]

    @property
    def result(self) -> dict[str, Any] | None:
        """The data of the execute_result, if any."""
        results = self.of_type("execute_result")
        return results[-1]["content"]["data"] if results else None

    @property
    def error(self) -> dict[str, Any] | None:
        """The reply's ``ename``/``evalue``/``traceback`` when the cell failed."""
        return self.reply["content"] if self.status == "error" else None

    def displays(self) -> dict[str, dict[str, Any]]:
        """Final data of every display, applying update_display_data by display_id."""
        shown: dict[str, dict[str, Any]] = {}
        for m in self.messages:
            content = m["content"]
            display_id = content.get("transient", {}).get("display_id")
            if (m["msg_type"] == "display_data" and display_id) or (
                m["msg_type"] == "update_display_data" and display_id in shown
            ):
                shown[display_id] = content["data"]
        return shown


def execute(kc: BlockingKernelClient, code: str, timeout: float = TIMEOUT) -> Execution:
    """Run ``code``; collect IOPub messages until the kernel is idle again."""
    msg_id = kc.execute(code)
    reply = kc.get_shell_msg(timeout=timeout)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=timeout)
    run = Execution(reply)
    while True:
        try:
            msg = kc.get_iopub_msg(timeout=timeout)
        except Empty:
            raise AssertionError(f"no idle status from the kernel within {timeout}s") from None
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return run
        run.messages.append(msg)


@contextmanager
def jido_kernel(
    cwd: Path, env: Mapping[str, str] | None = None, kernel_name: str = "jido"
) -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    """A real kernel started in ``cwd`` with extra environment variables."""
    full_env = {**os.environ, **(env or {})}
    km, kc = start_new_kernel(kernel_name=kernel_name, cwd=str(cwd), env=full_env)
    try:
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def plain(run: Execution) -> str:
    """The ``text/plain`` of the cell's result (which must exist)."""
    assert run.result is not None, run.error
    return str(run.result["text/plain"])


def failure(run: Execution) -> dict[str, Any]:
    """The error content of a cell that must have failed."""
    assert run.error is not None, run.result
    return run.error


def wait_for_stream(kc: BlockingKernelClient, msg_id: str, text: str, timeout: float = 30) -> None:
    """Wait until the execution ``msg_id`` has printed ``text`` (a cell that says it started)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=1)
        except Empty:
            continue
        ours = msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream"
        if ours and text in msg["content"]["text"]:
            return
    raise AssertionError(f"the cell never printed {text!r}")


def interrupt_when_started(
    km: KernelManager, kc: BlockingKernelClient, code: str, settle: float = 0.0, idle: bool = False
) -> tuple[dict[str, Any], float]:
    """Run ``code`` (which prints 'started' first), interrupt the kernel ``settle`` s after
    that, and return the cell's reply content and how long after the interrupt it came;
    with ``idle``, also wait for the cell's idle status (so the next request is not
    aborted with it)."""
    msg_id = kc.execute(code)
    wait_for_stream(kc, msg_id, "started")
    time.sleep(settle)
    interrupted = time.monotonic()
    km.interrupt_kernel()
    reply = kc.get_shell_msg(timeout=30)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=30)
    delay = time.monotonic() - interrupted
    while idle:
        msg = kc.get_iopub_msg(timeout=30)
        idle = not (msg["parent_header"].get("msg_id") == msg_id and msg["content"].get("execution_state") == "idle")
    return reply["content"], delay
