"""How live views reach the front end: the display publisher and the one flusher thread."""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Protocol

from jido_kernel.state.records import StateError

if TYPE_CHECKING:
    from jido_kernel.display.live import LiveView

_log = logging.getLogger("jido_kernel.display.live")


class DisplayPublisher(Protocol):
    """What a live view sends through: IPython's ``shell.display_pub`` interface."""

    def publish(
        self,
        data: dict[str, Any],
        metadata: dict[str, Any] | None = None,
        *,
        transient: dict[str, Any] | None = None,
        update: bool = False,
    ) -> None: ...


class Flusher:
    """One daemon thread that sends the updates of every view when they fall due."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, LiveView, int]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def schedule(self, due: float, view: LiveView, generation: int) -> None:
        with self._cond:
            order = next(self._order)
            heapq.heappush(self._heap, (due, order, view, generation))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="jido-live-display", daemon=True)
                self._thread.start()
            elif self._heap[0][1] == order:
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                due, _, view, generation = self._heap[0]
                delay = due - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                heapq.heappop(self._heap)
            try:
                view._send(generation)
            except Exception:
                _log.exception("Live view %s failed to send an update", view.display_id)


FLUSHER = Flusher()


def running_shell() -> Any:
    """The running IPython shell, or ``None`` (IPython is imported only if it is loaded)."""
    if "IPython" not in sys.modules:
        return None
    from IPython.core.interactiveshell import InteractiveShell

    return InteractiveShell.instance() if InteractiveShell.initialized() else None


def shell_publisher() -> DisplayPublisher:
    shell = running_shell()
    if shell is None:
        raise StateError(
            "Live views need a running IPython shell (a Jupyter kernel or IPython): "
            "display the state object instead, or pass publisher=.",
            reason="no_display",
        )
    publisher: DisplayPublisher = shell.display_pub
    return publisher
