"""The kernel's ``sys.stdout`` and ``sys.stderr``: ipykernel's streams, whose ``flush``
returns at once when nothing written is still unsent.

ipykernel sends stream output from its IOPub thread, so each ``flush`` from another thread
hands a flush to that thread and waits for it. A cell flushes both streams several times
(its result's display, the end of the request, the end of its handling): on a cell that
printed nothing, six waits for a thread that has nothing to send, most of a short cell's
time in the kernel. Here a flush waits only when something written has not yet been
handed to the IOPub socket; when it returns, everything written before it has been, as
with ipykernel's.

Output written to the file descriptors (``os.write(1, ...)``, a child process, C code)
reaches the stream through ipykernel's pipe and its watcher thread. Here the watcher says
when it is taking data from the pipe, and a flush first waits (at most :data:`FD_WAIT`)
until the pipe is empty and the watcher has written what it took: such output is then
sent before the flush returns, which ipykernel's flush leaves to timing.
"""

from __future__ import annotations

import fcntl
import os
import select
import sys
import termios
import threading
import time
from typing import Any

from ipykernel.iostream import OutStream as IPyOutStream

PIPE_READ = 1000
"""Bytes the watcher reads at once (ipykernel's)."""
FD_WAIT = 0.05
"""Seconds a flush waits at most for the watcher to empty the pipe (a process that keeps
writing to the descriptor never lets it stay empty)."""


class OutStream(IPyOutStream):
    """ipykernel's ``OutStream`` whose ``flush`` skips the IOPub thread when it has nothing to send."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._unsent_lock = threading.Condition()
        self._unsent = 0  # writes since the last send began (an overcount is harmless)
        self._sending = 0  # sends in progress
        self._watching = False  # the descriptor watcher is taking data from the pipe
        super().__init__(*args, **kwargs)

    def write(self, string: str) -> int:
        """Write ``string`` (``""`` is a no-op: it schedules no flush)."""
        if isinstance(string, str) and not string:
            return 0
        super().write(string)
        with self._unsent_lock:  # counted once in the buffer, so a send never leaves it uncounted
            self._unsent += 1
        return len(string)

    def flush(self) -> None:
        """Send what was written; returns at once if that is nothing."""
        if self.echo is None and self._nothing_unsent():
            return
        super().flush()

    def _nothing_unsent(self) -> bool:
        """Whether everything written, at the descriptor too, is on the IOPub socket; when
        output is in the descriptor's pipe, first waits for the watcher to write it."""
        piped = self._piped()  # before the counts: data leaves the pipe only while watching
        with self._unsent_lock:
            if not piped and not self._watching:
                return not self._unsent and not self._sending
            deadline = time.monotonic() + FD_WAIT
            while self._watching or self._piped():
                left = deadline - time.monotonic()
                if left <= 0 or not self._unsent_lock.wait(left):
                    break
            return False

    def _piped(self) -> int:
        """Bytes waiting in the pipe of the redirected descriptor (0 when not watched)."""
        fid = getattr(self, "_fid", None)
        if fid is None or not self._should_watch:
            return 0
        try:
            return int.from_bytes(fcntl.ioctl(fid, termios.FIONREAD, bytes(4)), sys.byteorder)
        except OSError:
            return 0

    def _flush(self) -> None:
        with self._unsent_lock:  # cleared before the buffers are taken: a later write counts again
            self._unsent = 0
            self._sending += 1
        try:
            super()._flush()
        finally:
            with self._unsent_lock:
                self._sending -= 1

    def _watch_pipe_fd(self) -> None:
        """ipykernel's watcher of the redirected descriptor, which says when it is taking
        data: output in flight is always in the pipe, being taken, or written to the stream."""
        fid = getattr(self, "_fid", None)
        if fid is None:
            return
        poller = select.poll()
        poller.register(fid, select.POLLIN)
        try:
            while True:
                poller.poll()
                with self._unsent_lock:
                    self._watching = True
                data = b""
                try:
                    data = os.read(fid, PIPE_READ)
                    if data and self._should_watch:
                        self.write(data.decode(errors="replace"))
                finally:
                    with self._unsent_lock:
                        self._watching = False
                        self._unsent_lock.notify_all()
                if not data or not self._should_watch:
                    return
                os.write(self._original_stdstream_copy, data)
        except Exception:
            self._exc = sys.exc_info()
