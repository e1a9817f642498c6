"""A Lua cell's own tool calls, shown where they happen among the cell's prints."""

from __future__ import annotations

import sys
import threading
from types import TracebackType

from jido_kernel.display.live import LiveView
from jido_kernel.display.publish import DisplayPublisher
from jido_kernel.state.model import SessionState
from jido_kernel.state.records import StateEvent, ToolCall
from jido_kernel.text import terminal_safe


class CellToolCalls:
    """Follow the tool calls a cell makes, in event order with what it prints.

    The first call opens a live ``tool_calls`` view (a segment) showing the calls made
    from then on, their elapsed time ticking while they run. Printed text
    (:meth:`write`, the run's ``on_stdout``) ends the segment: its final rendering
    becomes an output of its own and the text follows it; the next call opens a new
    segment. :meth:`close` ends the last one. So the output reads in the order things
    happened, and clients that ignore display updates keep each segment's final state.
    """

    def __init__(self, state: SessionState, *, publisher: DisplayPublisher | None = None) -> None:
        self.state = state
        self._publisher = publisher
        self._lock = threading.Lock()
        self._view: LiveView | None = None
        self._unsubscribe = state.subscribe(self._added, kinds=("tool_call_added",))

    def _added(self, event: StateEvent) -> None:
        call = event.payload
        new_id = call.id if isinstance(call, ToolCall) else None
        with self._lock:
            if self._view is not None:
                return
            hidden = [item.id for item in self.state.tool_calls if item.id != new_id]
            self._view = LiveView(self.state, "tool_calls", hidden=hidden, publisher=self._publisher)

    def _end_segment(self) -> None:
        with self._lock:
            view, self._view = self._view, None
        if view is not None:
            view.finish()

    def write(self, text: str) -> None:
        """Printed text of the run: after the calls shown so far."""
        self._end_segment()
        sys.stdout.write(terminal_safe(text))
        sys.stdout.flush()

    def close(self) -> None:
        """Stop following the state; the last segment gets its final output."""
        self._unsubscribe()
        self._end_segment()

    def __enter__(self) -> CellToolCalls:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
