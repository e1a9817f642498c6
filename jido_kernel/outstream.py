"""The kernel's ``sys.stdout`` and ``sys.stderr``: ipykernel's streams, whose ``flush``
returns at once when nothing written is still unsent.

ipykernel sends stream output from its IOPub thread, so each ``flush`` from another thread
hands a flush to that thread and waits for it. A cell flushes both streams several times
(its result's display, the end of the request, the end of its handling): on a cell that
printed nothing, six waits for a thread that has nothing to send, most of a short cell's
time in the kernel. Here a flush waits only when something written has not yet been
handed to the IOPub socket; when it returns, everything written before it has been, as
with ipykernel's.
"""

from __future__ import annotations

import threading
from typing import Any

from ipykernel.iostream import OutStream as IPyOutStream


class OutStream(IPyOutStream):
    """ipykernel's ``OutStream`` whose ``flush`` skips the IOPub thread when it has nothing to send."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._unsent_lock = threading.Lock()
        self._unsent = 0  # writes since the last send began (an overcount is harmless)
        self._sending = 0  # sends in progress
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
        if self.echo is None:
            with self._unsent_lock:
                if not self._unsent and not self._sending:
                    return
        super().flush()

    def _flush(self) -> None:
        with self._unsent_lock:  # cleared before the buffers are taken: a later write counts again
            self._unsent = 0
            self._sending += 1
        try:
            super()._flush()
        finally:
            with self._unsent_lock:
                self._sending -= 1
