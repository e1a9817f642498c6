"""Live views in a real kernel: streams from a cell and from a background thread.

The stock ``python3`` kernel (ipykernel) runs the code; the test reads IOPub like a front
end, applying ``display_data`` / ``update_display_data`` by display id.
"""

from __future__ import annotations

import queue
import re
import textwrap
from collections.abc import Iterator
from typing import Any

import nbformat
import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager, start_new_kernel
from nbclient import NotebookClient

pytestmark = pytest.mark.kernel

CHUNKS = 10_000
RATE = 10.0
FINAL = "assistant: " + "".join(f"c{i};" for i in range(CHUNKS))

SETUP = f"""
import threading, time
from jido_kernel.display.live import LiveDisplay, LiveView, flush_all
from jido_kernel.state import SessionState
if flush_all not in get_ipython().events.callbacks["post_execute"]:
    get_ipython().events.register("post_execute", flush_all)
LiveDisplay.current().max_rate = {RATE}

def produce(state):
    started = time.monotonic()
    with state.stream() as writer:
        for index in range({CHUNKS}):
            writer.write(f"c{{index}};")
            if index % 100 == 0:
                time.sleep(0.01)
    return time.monotonic() - started
"""


class Kernel:
    """A kernel client that records IOPub messages in arrival order."""

    def __init__(self, manager: KernelManager, client: BlockingKernelClient) -> None:
        self.manager = manager
        self.client = client
        self.iopub: list[dict[str, Any]] = []

    def execute(self, code: str) -> tuple[str, dict[str, Any]]:
        msg_id = self.client.execute(textwrap.dedent(code))
        while True:
            message = self.client.get_iopub_msg(timeout=120)
            self.iopub.append(message)
            if (
                message["msg_type"] == "status"
                and message["content"]["execution_state"] == "idle"
                and message["parent_header"].get("msg_id") == msg_id
            ):
                break
        reply = self.client.get_shell_msg(timeout=120)
        assert reply["parent_header"]["msg_id"] == msg_id
        assert reply["content"]["status"] == "ok", reply["content"]
        return msg_id, reply

    def drain(self, seconds: float) -> list[dict[str, Any]]:
        late: list[dict[str, Any]] = []
        try:
            while True:
                late.append(self.client.get_iopub_msg(timeout=seconds))
        except queue.Empty:
            return late

    def stdout(self, msg_id: str) -> str:
        return "".join(
            m["content"]["text"]
            for m in self.iopub
            if m["msg_type"] == "stream" and m["parent_header"].get("msg_id") == msg_id
        )


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    manager, client = start_new_kernel(kernel_name="python3", startup_timeout=120)
    try:
        running = Kernel(manager, client)
        running.execute(SETUP)
        yield running
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def display_messages(messages: list[dict[str, Any]], display_id: str) -> list[dict[str, Any]]:
    return [
        m
        for m in messages
        if m["msg_type"] in ("display_data", "update_display_data")
        and m["content"].get("transient", {}).get("display_id") == display_id
    ]


def check_stream(kernel: Kernel, start: int, duration: float, last_msg_id: str) -> None:
    """The display of the stream, applied like a front end, ends complete and in time."""
    messages = kernel.iopub[start:]
    created = [m for m in messages if m["msg_type"] == "display_data"]
    assert len(created) == 1
    display_id = created[0]["content"]["transient"]["display_id"]
    shown = display_messages(messages, display_id)
    assert shown[0]["msg_type"] == "display_data"
    updates = shown[1:]
    assert all(m["msg_type"] == "update_display_data" for m in updates)
    displayed = shown[-1]["content"]["data"]["text/plain"]
    assert displayed == FINAL
    assert "shown as plain text" in shown[-1]["content"]["data"]["text/html"]  # past markdown
    assert len(updates) <= duration * RATE + 4, (len(updates), duration)
    prefix = "assistant (streaming): "
    seen = 0
    for update in updates[:-1]:
        text = update["content"]["data"]["text/plain"]
        if text.startswith(prefix):
            body = text[len(prefix) :]
            assert FINAL.startswith("assistant: " + body)
            assert len(body) >= seen
            seen = len(body)
    final_index = messages.index(shown[-1])
    idle_index = next(
        index
        for index, m in enumerate(messages)
        if m["msg_type"] == "status"
        and m["content"]["execution_state"] == "idle"
        and m["parent_header"].get("msg_id") == last_msg_id
    )
    assert final_index < idle_index
    assert display_messages(kernel.drain(0.5), display_id) == []


def duration_of(kernel: Kernel, msg_id: str) -> float:
    match = re.search(r"DURATION ([0-9.]+)", kernel.stdout(msg_id))
    assert match, kernel.stdout(msg_id)
    return float(match.group(1))


def test_stream_from_a_cell(kernel: Kernel) -> None:
    start = len(kernel.iopub)
    msg_id, _ = kernel.execute(
        """
        state = SessionState("cell")
        view = LiveView(state, "stream")
        print("DURATION", produce(state))
        """
    )
    check_stream(kernel, start, duration_of(kernel, msg_id), msg_id)


def test_stream_from_a_background_thread(kernel: Kernel) -> None:
    start = len(kernel.iopub)
    kernel.execute(
        """
        state = SessionState("thread")
        view = LiveView(state, "stream")
        result = {}
        worker = threading.Thread(target=lambda: result.update(duration=produce(state)))
        worker.start()
        """
    )
    msg_id, _ = kernel.execute('worker.join(); print("DURATION", result["duration"])')
    check_stream(kernel, start, duration_of(kernel, msg_id), msg_id)


def test_nbclient_applies_updates_from_a_background_thread() -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(SETUP),
        nbformat.v4.new_code_cell(
            'state = SessionState("nb")\n'
            'view = LiveView(state, "stream")\n'
            "worker = threading.Thread(target=produce, args=(state,))\n"
            "worker.start()"
        ),
        nbformat.v4.new_code_cell("worker.join()"),
    ]
    NotebookClient(notebook, kernel_name="python3", timeout=120).execute()
    (output,) = notebook.cells[1].outputs
    assert output["output_type"] == "display_data"
    assert output["data"]["text/plain"] == FINAL
    assert notebook.cells[2].outputs == []
