"""The kernel's output streams over a real IOPub thread and zmq socket: a flush sends
everything written before it, and waits for the IOPub thread only when that is not done."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import zmq
from ipykernel.iostream import IOPubThread
from jupyter_client.session import Session

from jido_kernel.outstream import OutStream

_endpoints = itertools.count()
WAIT = 10.0
"""Seconds a blocked flush is given; the stream's own timed flush comes only after this."""


class Iopub:
    """A started IOPub thread on an inproc PUB socket, its stream and a subscriber."""

    def __init__(self) -> None:
        self.context = zmq.Context()
        endpoint = f"inproc://outstream-{next(_endpoints)}"
        publisher = self.context.socket(zmq.PUB)
        publisher.bind(endpoint)
        self.subscriber = self.context.socket(zmq.SUB)
        self.subscriber.setsockopt(zmq.SUBSCRIBE, b"")
        self.subscriber.connect(endpoint)
        self.session = Session(key=b"")
        self.thread = IOPubThread(publisher)
        self.thread.start()
        self.stream = OutStream(self.session, self.thread, "stdout", watchfd=False)
        self.stream.flush_interval = WAIT * 3  # output arrives within a test only through flush()
        self.stream.flush_timeout = WAIT * 3
        self._subscribed()

    def _subscribed(self) -> None:
        """Wait until the subscription has reached the publisher (a probe gets through)."""
        while True:
            self.thread.send_multipart([b"probe"])
            if self.subscriber.poll(50):
                self.subscriber.recv_multipart()
                while self.subscriber.poll(50):  # probes sent while the subscription settled
                    self.subscriber.recv_multipart()
                return

    def texts(self, timeout: float = 0.05) -> list[str]:
        """The text of every stream message that arrives within ``timeout`` s of the last one."""
        texts = []
        while self.subscriber.poll(int(timeout * 1000)):
            message = self.session.deserialize(self.session.feed_identities(self.subscriber.recv_multipart())[1])
            texts.append(message["content"]["text"])
        return texts

    def hold(self) -> threading.Event:
        """Keep the IOPub thread busy until the returned event is set."""
        release, held = threading.Event(), threading.Event()

        def busy() -> None:
            held.set()
            release.wait(WAIT)

        self.thread.schedule(busy)
        assert held.wait(WAIT)
        return release

    def close(self) -> None:
        # The loop is stopped directly: IOPubThread.stop() leaves the thread's housekeeping
        # task pending, which asyncio reports when the task is collected.
        loop = self.thread.io_loop
        loop.add_callback(loop.stop)
        self.thread.thread.join(WAIT)
        self.context.destroy(linger=0)


@pytest.fixture
def iopub() -> Iterator[Iopub]:
    channel = Iopub()
    try:
        yield channel
    finally:
        channel.close()


def in_thread(call: Callable[[], Any]) -> threading.Thread:
    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread


def test_a_flush_has_sent_what_was_written_when_it_returns(iopub: Iopub) -> None:
    iopub.stream.write("one\n")
    iopub.stream.write("two\n")
    iopub.stream.flush()
    assert "".join(iopub.texts()) == "one\ntwo\n"


def test_a_flush_with_nothing_unsent_does_not_wait_for_the_iopub_thread(iopub: Iopub) -> None:
    iopub.stream.write("sent\n")
    iopub.stream.flush()
    assert iopub.texts() == ["sent\n"]
    release = iopub.hold()
    try:
        idle = in_thread(iopub.stream.flush)
        idle.join(WAIT)
        assert not idle.is_alive()  # returned while the IOPub thread was busy
        assert iopub.stream.write("") == 0  # writes nothing, and schedules no flush
        empty = in_thread(iopub.stream.flush)
        empty.join(WAIT)
        assert not empty.is_alive()
        iopub.stream.write("waits\n")
        pending = in_thread(iopub.stream.flush)
        pending.join(0.3)
        assert pending.is_alive()  # something unsent: it waits for the IOPub thread
    finally:
        release.set()
    pending.join(WAIT)
    assert not pending.is_alive()
    assert iopub.texts() == ["waits\n"]


def test_a_flush_waits_for_a_send_in_progress(iopub: Iopub) -> None:
    """Text taken from the buffer but not yet on the socket is still unsent."""
    inside, release = threading.Event(), threading.Event()

    def slow(message: dict[str, Any]) -> dict[str, Any]:
        inside.set()
        release.wait(WAIT)
        return message

    iopub.thread.schedule(lambda: iopub.stream.register_hook(slow))  # hooks are per thread: the IOPub one
    iopub.stream.write("in flight\n")
    first = in_thread(iopub.stream.flush)
    try:
        assert inside.wait(WAIT)  # the IOPub thread has taken the text and is sending it
        second = in_thread(iopub.stream.flush)  # nothing written since
        second.join(0.3)
        assert second.is_alive()
    finally:
        release.set()
    for flush in (first, second):
        flush.join(WAIT)
        assert not flush.is_alive()
    assert iopub.texts() == ["in flight\n"]


def test_writes_and_flushes_from_many_threads_lose_nothing(iopub: Iopub) -> None:
    def writer(name: int) -> None:
        for line in range(200):
            iopub.stream.write(f"{name}:{line}\n")
            if line % 7 == name:
                iopub.stream.flush()

    threads = [in_thread(lambda name=name: writer(name)) for name in range(4)]
    for thread in threads:
        thread.join(WAIT)
    iopub.stream.flush()
    lines = "".join(iopub.texts()).splitlines()
    assert sorted(lines) == sorted(f"{name}:{line}" for name in range(4) for line in range(200))
    for name in range(4):
        assert [line for line in lines if line.startswith(f"{name}:")] == [f"{name}:{line}" for line in range(200)]
