"""Settings and registry of the live views: rates, bounds, the open views, a cell's streams."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from traitlets import Float, Int
from traitlets.config import SingletonConfigurable

from jido_kernel.display.publish import running_shell
from jido_kernel.state.model import SessionState
from jido_kernel.state.records import StateEvent

if TYPE_CHECKING:
    from jido_kernel.display.live import LiveView


class LiveDisplay(SingletonConfigurable):
    """Settings and registry of the live views (``c.LiveDisplay.max_rate = 5``)."""

    max_rate = Float(
        10.0,
        min=0.1,
        max=100.0,
        help="Most display updates per second sent for one live view.",
    ).tag(config=True)

    max_bytes_rate = Float(
        500_000.0,
        min=1000.0,
        help="Average bytes per second a live view may send; large views update less often "
        "(Jupyter Server drops output beyond 1 MB/s by default).",
    ).tag(config=True)

    max_rows = Int(
        200,
        min=1,
        help="Most recent messages, reasoning steps or tool calls shown by a live view.",
    ).tag(config=True)

    max_views = Int(
        20,
        min=1,
        help="Most live views kept updating; opening one more closes the oldest.",
    ).tag(config=True)

    max_stream_views = Int(
        20,
        min=1,
        help="Most streams of one cell shown in a live view of their own; the later ones "
        "share one view that shows the current stream.",
    ).tag(config=True)

    max_update_bytes = Int(
        512 * 1024,
        min=4096,
        help="Most bytes of one display or update message; longer content is clipped with a visible marker.",
    ).tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._lock = threading.Lock()
        self._views: list[LiveView] = []
        self._cell_streams = 0
        self._shared_stream: LiveView | None = None

    @classmethod
    def current(cls) -> LiveDisplay:
        """The process-wide instance, configured from the running IPython shell if any."""
        shell = running_shell()
        if not cls.initialized() and shell is not None:
            return cls.instance(parent=shell)
        return cls.instance()

    def show_stream(self, state: SessionState) -> None:
        """Show a stream that starts: in a view of its own, or past the cell's
        :attr:`max_stream_views` in the one view the later streams share."""
        with self._lock:
            self._cell_streams += 1
            own = self._cell_streams <= self.max_stream_views
            shared = self._shared_stream
            needed = not own and (shared is None or shared.closed or shared.state is not state)
        from jido_kernel.display.live import LiveView  # live views register here

        if own:
            LiveView(state, "stream", single=True, display=self)
        elif needed:
            note = (
                f"More than {self.max_stream_views} streams in this cell: the later ones are "
                "shown here, one at a time (LiveDisplay.max_stream_views)."
            )
            view = LiveView(state, "stream", display=self, note=note)
            with self._lock:
                self._shared_stream = view

    def end_cell(self) -> None:
        """Send every pending update; the next cell's streams get views of their own again."""
        self.flush_all()
        with self._lock:
            shared, self._shared_stream = self._shared_stream, None
            self._cell_streams = 0
        if shared is not None:
            shared.close()

    @property
    def views(self) -> tuple[LiveView, ...]:
        """The open views, oldest first."""
        with self._lock:
            return tuple(self._views)

    def flush_all(self) -> None:
        """Send every pending update now (from the calling thread)."""
        for view in self.views:
            view.flush()

    def close_all(self) -> None:
        """Send pending updates and stop updating every view."""
        for view in self.views:
            view.close()

    def _register(self, view: LiveView) -> None:
        with self._lock:
            self._views.append(view)
            evicted = self._views[: max(0, len(self._views) - self.max_views)]
        for old in evicted:
            old.close()

    def _forget(self, view: LiveView) -> None:
        with self._lock:
            if view in self._views:
                self._views.remove(view)


def follow_streams(state: SessionState) -> Callable[[], None]:
    """Show every stream of ``state`` live where it starts (the running cell's output):
    a ``single`` stream view opens when a message starts streaming, grows as chunks
    arrive and closes with the complete message. Returns the unsubscribe function."""

    def started(_event: StateEvent) -> None:
        LiveDisplay.current().show_stream(state)

    return state.subscribe(started, kinds=("stream_started",))


def flush_all(*_: object) -> None:
    """Send every pending live update now and end the cell's count of stream views;
    register as IPython ``post_execute`` hook."""
    if LiveDisplay.initialized():
        LiveDisplay.instance().end_cell()
