"""Writes a session's state changes to its file as they happen, off the producer's thread.

A :class:`Persister` observes a :class:`~jido_kernel.state.SessionState`: each change is
put on a bounded queue (the producer never touches the disk) and a writer thread
commits whatever has queued up in one transaction. Stream chunks are not queued at all:
while a message streams, the writer reads the text streamed so far every
:data:`STREAM_POLL` seconds and appends what is new, so streaming costs the producer
nothing per chunk. A ``kill -9`` loses what was not yet committed: the changes of the
last moment (a batch gathers for :data:`BATCH_DELAY` seconds) and at most
:data:`STREAM_POLL` seconds of a stream. Should the writer fall :data:`QUEUE_SIZE`
changes or :data:`MAX_QUEUED_CHARS` characters of content behind (a stalled disk, or
Lua adding large messages faster than they can be written), producers wait for it
rather than lose changes — so what the queue holds is bounded in count and in size.
The writer thread also opens the file and, first, deletes the folder's files past their
retention, so opening a session never waits for the disk.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jido_kernel.persistence import store
from jido_kernel.state import SessionState
from jido_kernel.state.records import StateEvent

STREAM_POLL = 0.1
BATCH_DELAY = 0.01
QUEUE_SIZE = 10_000
MAX_QUEUED_CHARS = 32 * 1024 * 1024
MAX_WAIT = 30.0
"""Seconds a producer waits for room before queueing anyway (a stalled disk)."""
MAX_BATCH = 1_000
PERSISTED_KINDS = frozenset(
    {
        "message_appended",
        "messages_cleared",
        "stream_started",
        "stream_ended",
        "reasoning_added",
        "reasoning_cleared",
        "tool_call_added",
        "tool_call_updated",
        "tool_calls_cleared",
        "todos_updated",
    }
)

_log = logging.getLogger(__name__)
_STOP = ("stop", None)
_TICK = ("tick", None)
_KIND_OF = {
    "message_appended": "message",
    "stream_ended": "message",
    "reasoning_added": "reasoning",
    "tool_call_added": "tool_call",
    "tool_call_updated": "tool_call",
}


class Persister:
    """Keeps one session's file up to date with its state until :meth:`close`."""

    def __init__(
        self,
        state: SessionState,
        path: Path,
        *,
        name: str,
        project_root: str,
        max_bytes: int,
        keep_days: float | None = None,
    ) -> None:
        """``keep_days``: the writer thread first deletes the other session files of the
        folder unchanged for that many days."""
        self.path = path
        self.max_bytes = max_bytes
        self.keep_days = keep_days
        self.error: str | None = None
        self.dropped = 0
        self._state = state
        self._connection: sqlite3.Connection | None = None
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue(QUEUE_SIZE)
        self._queue.put(("open", {"name": name, "project_root": project_root}))
        self._queued_chars = 0
        self._room = threading.Condition()
        self._local = threading.local()
        self._stream: list[Any] | None = None  # [message id, next part, characters written]
        self._thread = threading.Thread(target=self._run, name=f"jido-persist-{path.stem[:8]}", daemon=True)
        self._thread.start()
        self._unsubscribe: Callable[[], None] = state.subscribe(self._observe, PERSISTED_KINDS)

    # -- producer side -------------------------------------------------------------

    def _observe(self, event: StateEvent) -> None:
        if getattr(self._local, "muted", False):
            return
        size = _content_size(event.payload)
        deadline = time.monotonic() + MAX_WAIT
        with self._room:
            while self._queued_chars and self._queued_chars + size > MAX_QUEUED_CHARS and self._thread.is_alive():
                left = deadline - time.monotonic()
                if left <= 0:  # never wedge the kernel on a stalled disk: queue it anyway
                    break
                self._room.wait(min(left, 1.0))
            self._queued_chars += size
        self._queue.put((event.kind, event.payload))

    @contextmanager
    def muted(self) -> Iterator[None]:
        """Changes this thread makes inside the block are not written (they are already saved)."""
        self._local.muted = True
        try:
            yield
        finally:
            self._local.muted = False

    def rename(self, name: str) -> None:
        """Record the session's new name."""
        self._queue.put(("meta", {"name": name}))

    def reset(self) -> None:
        """Delete everything saved for this session (later changes are written again)."""
        self._queue.put(("reset", None))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every change made so far is committed; False on timeout."""
        if not self._thread.is_alive():
            return False
        done = threading.Event()
        self._queue.put(("flush", done))
        return done.wait(timeout)

    def close(self) -> None:
        """Stop observing, write what is queued, and close the file."""
        self._unsubscribe()
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(10.0)
        if self._connection is not None:
            self._connection.close()

    # -- writer thread -------------------------------------------------------------

    def _run(self) -> None:
        if self.keep_days is not None:
            try:
                store.sweep(self.path.parent, self.keep_days, keep=self.path.name)
            except OSError as error:  # housekeeping: the session is saved all the same
                _log.warning("jido_kernel: deleting old session files in %s failed: %s", self.path.parent, error)
        running = True
        while running:
            try:
                first = self._queue.get(timeout=STREAM_POLL if self._stream else None)
            except queue.Empty:
                first = _TICK
            if first[0] not in ("flush", "stop", "tick"):
                time.sleep(BATCH_DELAY)  # let a burst of changes share one transaction
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            waiting = [payload for kind, payload in batch if kind == "flush"]
            running = _STOP not in batch
            try:
                self._write(batch)
            except Exception as error:  # a full disk or a broken file must not stop the kernel
                self.error = f"{type(error).__name__}: {error}"
                _log.exception("jido_kernel: writing the session state to %s failed", self.path)
            written = sum(_content_size(payload) for kind, payload in batch if kind in PERSISTED_KINDS)
            with self._room:
                self._queued_chars = max(0, self._queued_chars - written)
                self._room.notify_all()
            for done in waiting:
                done.set()

    def _write(self, batch: list[tuple[str, Any]]) -> None:
        if self._connection is None:  # opened by the first write, off the kernel's start-up
            self._connection = store.connect(self.path)
        with store.transaction(self._connection) as connection:
            changed = False
            for kind, payload in batch:
                changed |= self._apply(connection, kind, payload)
            changed |= self._poll_stream(connection)
            if changed:
                store.set_meta(connection, updated=repr(time.time()))
                self.dropped += store.enforce_cap(connection, self.max_bytes)

    def _apply(self, connection: Any, kind: str, payload: Any) -> bool:
        if kind in _KIND_OF:
            data = payload.to_dict()
            if kind == "stream_ended":
                store.end_parts(connection, payload.id)
                if self._stream and self._stream[0] == payload.id:
                    self._stream = None
            store.put_record(connection, _KIND_OF[kind], data)
        elif kind == "stream_started":
            store.put_record(connection, "message", {**payload.to_dict(), "streaming": True})
            self._stream = [payload.id, 0, 0]
        elif kind == "messages_cleared":
            store.clear(connection, ("message",))
        elif kind == "reasoning_cleared":
            store.clear(connection, ("reasoning",))
        elif kind == "tool_calls_cleared":
            store.clear(connection, ("tool_call",))
        elif kind == "todos_updated":
            store.set_meta(connection, todos=json.dumps([todo.to_dict() for todo in payload], ensure_ascii=False))
        elif kind == "open":  # the session's facts, not a change of its state
            store.set_meta(connection, **payload)
            return False
        elif kind == "meta":
            store.set_meta(connection, **payload)
        elif kind == "reset":
            store.clear(connection, store.KINDS)
            store.set_meta(connection, todos="[]")
        else:
            return False
        return True

    def _poll_stream(self, connection: Any) -> bool:
        """Append the text streamed since the last poll to the streaming message."""
        if self._stream is None:
            return False
        message_id, part, written = self._stream
        streaming = self._state.get_streaming()
        if streaming is None or streaming.id != message_id or len(streaming.content) <= written:
            return False
        text = streaming.content
        store.append_part(connection, message_id, part, text[written:])
        self._stream = [message_id, part + 1, len(text)]
        return True


def _content_size(payload: Any) -> int:
    """Characters of text a queued change holds (its content, or its todos' texts)."""
    if isinstance(payload, (list, tuple)):
        return sum(_content_size(item) for item in payload)
    content = getattr(payload, "content", None)
    return len(content) if isinstance(content, str) else 0
