"""The worker's two serving threads over a real pipe: each request is handled once and in
order, interrupts and state replies are acted on while a request is handled, and both
threads return when the pipe ends."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from jido_kernel.lua import protocol
from jido_kernel.lua.worker.main import Inbox, Requests

WAIT = 10.0
STATE_REPLY = {"type": "state_reply", "id": 0, "ok": True, "value": None, "error": None}


class Served:
    """:class:`Requests` served by two threads from a pipe this test writes to."""

    def __init__(self) -> None:
        read, self._write = os.pipe()
        self.handled: list[int] = []  # request ids
        self._closed = False
        self.acted: list[str] = []
        self.started = threading.Event()  # the first request is being handled
        self.release = threading.Event()  # lets the first request end
        self.done = threading.Condition()
        self.requests = Requests(Inbox(read), self._act, self._handle)
        self.threads = [threading.Thread(target=self.requests.serve, daemon=True) for _ in range(2)]
        for thread in self.threads:
            thread.start()
        self._read = read

    def close(self) -> None:
        """End the pipe: both threads return."""
        if self._closed:
            return
        self._closed = True
        os.close(self._write)
        for thread in self.threads:
            thread.join(WAIT)
            assert not thread.is_alive()
        os.close(self._read)

    def _act(self, message: dict[str, Any]) -> bool:
        if message["type"] in ("interrupt", "state_reply"):
            self.acted.append(message["type"])
            if message["type"] == "interrupt":
                self.release.set()  # as the limiter stops the running chunk
            return True
        return False

    def _handle(self, message: dict[str, Any]) -> None:
        if message["id"] == 1:
            self.started.set()
            assert self.release.wait(WAIT)
        with self.done:
            self.handled.append(message["id"])
            self.done.notify_all()

    def send(self, *messages: dict[str, Any]) -> None:
        os.write(self._write, b"".join(protocol.dump(message) for message in messages))

    def wait_for(self, count: int) -> None:
        with self.done:
            assert self.done.wait_for(lambda: len(self.handled) >= count, WAIT)


@pytest.fixture
def served() -> Iterator[Served]:
    serving = Served()
    yield serving
    serving.release.set()
    serving.close()


def test_an_interrupt_is_read_while_a_request_is_handled(served: Served) -> None:
    served.send({"type": "reset", "id": 1})
    assert served.started.wait(WAIT)
    served.send({"type": "interrupt", "id": 1})  # only the other thread can read it
    served.wait_for(1)
    assert served.acted == ["interrupt"]


def test_requests_that_arrive_meanwhile_are_handled_once_in_order(served: Served) -> None:
    served.send({"type": "reset", "id": 1})
    assert served.started.wait(WAIT)
    served.send(*({"type": "pull", "id": n, "name": "x"} for n in range(2, 12)), STATE_REPLY)
    served.send({"type": "interrupt", "id": 1})
    served.wait_for(11)
    assert served.handled == list(range(1, 12))
    assert served.acted == ["state_reply", "interrupt"]


def test_requests_sent_one_after_another_are_each_handled_once(served: Served) -> None:
    served.release.set()
    for request in range(1, 21):
        served.send({"type": "pull", "id": request, "name": "x"})
        served.wait_for(request)
    assert served.handled == list(range(1, 21))


def test_both_threads_return_when_the_pipe_ends(served: Served) -> None:
    served.release.set()
    served.send({"type": "reset", "id": 1}, {"type": "pull", "id": 2, "name": "x"})
    served.close()  # joins both (the fixture's second close finds them gone)
    assert served.handled == [1, 2]


BROKEN = """
import os, sys
from jido_kernel.lua import protocol
from jido_kernel.lua.worker.main import Inbox, Requests, _serve
read, write = os.pipe()
os.write(write, protocol.dump({"type": "interrupt", "id": 1}))
def act(message):
    raise RuntimeError("cannot act")
_serve(Requests(Inbox(read), act, lambda message: None))
"""


def test_a_serving_thread_that_cannot_go_on_ends_the_worker() -> None:
    """The kernel sees the worker end (and starts another) rather than one left deaf."""
    done = subprocess.run([sys.executable, "-c", BROKEN], capture_output=True, text=True, timeout=WAIT)
    assert done.returncode == 3
    assert "internal error reading the kernel's messages: RuntimeError('cannot act')" in done.stderr
