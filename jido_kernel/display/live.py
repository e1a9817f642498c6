"""Live views: a displayed part of a session's state, updated in place as it changes.

A :class:`LiveView` sends ``display_data`` once with a fresh ``display_id``, subscribes
to its :class:`~jido_kernel.state.model.SessionState`, and sends ``update_display_data``
for that id after changes, from whichever thread made them. Updates are coalesced: per
view at most :attr:`LiveDisplay.max_rate` per second and at most
:attr:`LiveDisplay.max_bytes_rate` bytes per second on average, so IOPub is never
flooded. One shared flusher thread sends the updates that are due; a producer only sets
a flag per change. Every update renders the current state, so the last one is complete.
Register :func:`flush_all` as a ``post_execute`` hook so a cell's last update is sent
before its reply (updates sent after ``idle`` are lost to headless runners).

Bounds: no update is larger than :attr:`LiveDisplay.max_update_bytes` (content beyond
it is clipped with a visible marker, the final update included), and at most
:attr:`LiveDisplay.max_stream_views` streams of one cell get a view of their own; the
later ones share one view.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Collection
from dataclasses import replace
from typing import Any, cast

from jido_kernel.display import state as render
from jido_kernel.display.publish import FLUSHER, DisplayPublisher, shell_publisher
from jido_kernel.display.registry import LiveDisplay, flush_all, follow_streams
from jido_kernel.state.model import SessionState, StateSnapshot
from jido_kernel.state.records import Message, StateError, StateEvent

TICK_SECONDS = 1.0
"""A tool calls view with a running call is redrawn this often: its elapsed time ticks."""

_HISTORY = frozenset({"message_appended", "messages_cleared", "stream_started", "stream_ended"})
_KINDS: dict[str, frozenset[str]] = {
    "state": _HISTORY
    | {
        "reasoning_added",
        "reasoning_cleared",
        "tool_call_added",
        "tool_call_updated",
        "tool_calls_cleared",
        "todos_updated",
    },
    "messages": _HISTORY,
    "todos": frozenset({"todos_updated"}),
    "tool_calls": frozenset({"tool_call_added", "tool_call_updated", "tool_calls_cleared"}),
    "reasoning": frozenset({"reasoning_added", "reasoning_cleared"}),
    "stream": frozenset({"stream_started", "stream_ended"}),
}

__all__ = ["TICK_SECONDS", "LiveDisplay", "LiveView", "flush_all", "follow_streams"]

_LISTS = {
    "messages": "messages",
    "tool_calls": "tool_calls",
    "reasoning": "reasoning_steps",
}


class LiveView:
    """A part of a session's state, displayed once and updated in place.

    ``part`` is one of ``state``, ``messages``, ``todos``, ``tool_calls``, ``reasoning``,
    ``stream``. The ``stream`` view shows only the streaming message (and, once it has
    ended, the message it became); it does not listen to chunks but looks at the state
    at the update rate while a message streams, so a producer pays nothing per chunk.
    The history views show that a message is streaming, not its text. With
    ``new_only`` the ``messages``, ``tool_calls`` and ``reasoning`` views leave out the
    items that existed when the view was created (a cell's own tool calls); ``hidden``
    names the ids to leave out explicitly (those that existed before a cell started).
    A ``single`` stream view shows one stream: it closes, after its final update, when
    that stream ends. ``note`` is shown above the view's content. ``publisher``
    defaults to the running shell's ``display_pub`` (looked up at each send);
    ``display`` to :meth:`LiveDisplay.current`.
    """

    def __init__(
        self,
        state: SessionState,
        part: str = "state",
        *,
        display: LiveDisplay | None = None,
        publisher: DisplayPublisher | None = None,
        new_only: bool = False,
        hidden: Collection[str] | None = None,
        single: bool = False,
        note: str | None = None,
    ) -> None:
        if part not in _KINDS:
            raise StateError(
                f"Unknown state view {part!r}: use one of {', '.join(render.PARTS)}.",
                reason="invalid_part",
            )
        if (new_only or hidden is not None) and part not in _LISTS:
            raise StateError(
                f"new_only and hidden apply to the {', '.join(_LISTS)} views, not {part!r}.",
                reason="invalid_part",
            )
        self.state = state
        self.part = part
        self.display_id = uuid.uuid4().hex
        self._display = display if display is not None else LiveDisplay.current()
        self._publisher = publisher
        self._lock = threading.Lock()  # guards the scheduling fields below
        self._send_lock = threading.Lock()  # one send at a time, in state order
        self._dirty = False  # a relevant change since the last send
        self._armed = False  # a flusher entry with the current generation is queued
        self._generation = 0
        self._closed = False
        self._last_sent = 0.0
        self._last_size = 0
        self._paid_until = 0.0  # when the byte budget has covered every update sent so far
        self._sent_seq = -1
        self._hold_until: float | None = None  # a visit deferred for the byte budget
        self._finishing = False  # a single stream view whose stream has ended
        self._last_stream: Message | None = None
        if single and part != "stream":
            raise StateError("single applies to the stream view only.", reason="invalid_part")
        self._single = single
        self._note = note
        self._hidden: frozenset[str] | None = None if hidden is None else frozenset(hidden)
        self._only: frozenset[str] | None = None  # set by finish(): the calls it keeps
        self._ticking = False  # a shown tool call is running: its elapsed time ticks
        if new_only:
            self._hidden = frozenset(item.id for item in getattr(state.get_state(), _LISTS[part]))
        self._display._register(self)
        self._unsubscribe = state.subscribe(self._on_event, _KINDS[part])
        try:
            self.show()
        except BaseException:
            self._unsubscribe()
            self._display._forget(self)
            raise

    @property
    def closed(self) -> bool:
        return self._closed

    def bundle(self) -> dict[str, str]:
        """The current mimebundle of this view."""
        return self._render(self.state.get_state())

    def _render(self, snapshot: StateSnapshot) -> dict[str, str]:
        if self._finishing:  # its own stream has ended: not the one that may follow
            snapshot = replace(snapshot, streaming=None)
        if self._hidden is not None:
            field = _LISTS[self.part]
            items = getattr(snapshot, field)
            kept = tuple(
                item for item in items if item.id not in self._hidden and (self._only is None or item.id in self._only)
            )
            snapshot = replace(snapshot, **cast(dict[str, Any], {field: kept}))
        return render.part_bundle(
            snapshot,
            self.part,
            limit=self._display.max_rows,
            stream_text=False,
            last_stream=self._last_stream,
            max_bytes=self._display.max_update_bytes,
            note=self._note,
            live=True,
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return self.bundle()

    def show(self) -> None:
        """Send ``display_data`` with this view's id (again: another place kept in sync)."""
        with self._send_lock:
            with self._lock:
                self._dirty = False
            self._publish(update=False)

    def flush(self) -> None:
        """Send the update now if the view is behind the state."""
        self._send(None)

    def close(self) -> None:
        """Send the last update and stop following the state (idempotent)."""
        if self._closed:
            return
        self._unsubscribe()
        self._send(None)
        self._retire()

    def finish(self) -> None:
        """End the view with its final state as an output of its own, for every client.

        The view keeps the items it shows now; its live output is emptied and the final
        rendering is sent as plain ``display_data``, so clients that never apply
        updates (``jupyter console``) keep the final state, not the first frame.
        """
        if self._closed:
            return
        self._unsubscribe()
        with self._send_lock:
            snapshot = self.state.get_state()
            if self._hidden is not None and self.part in _LISTS:
                items = getattr(snapshot, _LISTS[self.part])
                self._only = frozenset(item.id for item in items if item.id not in self._hidden)
            data = self._render(snapshot)
            publisher = self._publisher if self._publisher is not None else shell_publisher()
            publisher.publish({"text/plain": ""}, {}, transient={"display_id": self.display_id}, update=True)
            publisher.publish(data, {})
            with self._lock:  # before the send lock is released: no update may follow
                self._closed = True
                self._generation += 1
        self._display._forget(self)

    def _retire(self) -> None:
        """Stop following the state (after the last update has been sent)."""
        self._unsubscribe()
        with self._lock:
            self._closed = True
            self._generation += 1
        self._display._forget(self)

    def __enter__(self) -> LiveView:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "live"
        return f"<LiveView {self.part} {self.display_id} ({state})>"

    def _ready(self, size: int) -> float:
        """When an update of ``size`` bytes may be sent: one message interval after the last
        send, and once the byte budget has covered the updates sent so far and this one."""
        display = self._display
        return max(self._last_sent + 1.0 / display.max_rate, self._paid_until + size / display.max_bytes_rate)

    def _arm(self, earliest: float) -> None:
        """Queue a flusher visit at ``earliest`` or when the rate allows (lock held)."""
        if self._armed or self._closed:
            return
        self._armed = True
        self._generation += 1
        due = max(earliest, self._ready(self._last_size))
        FLUSHER.schedule(due, self, self._generation)

    def _on_event(self, event: StateEvent) -> None:
        with self._lock:
            if event.kind == "stream_ended":
                self._last_stream = event.payload
                self._finishing = self._single  # retired once its final update is sent
            self._dirty = True
            self._arm(time.monotonic())

    def _send(self, generation: int | None) -> None:
        """Publish an update if the view is behind; ``generation``: a flusher visit.

        A visit also waits until the byte budget covers what it is about to send (the
        streaming text grows between sends), once per update so that a stream growing
        faster than the budget is still shown; :meth:`flush` does not wait.
        """
        with self._send_lock:
            with self._lock:
                if self._closed or (generation is not None and generation != self._generation):
                    return
                if generation is not None:
                    self._armed = False
            if generation is not None:
                if self._hold_until is None:
                    ready = self._ready(self._next_size())
                    if ready > time.monotonic():
                        self._hold_until = ready
                        with self._lock:
                            self._arm(ready)
                        return
                self._hold_until = None
            with self._lock:
                dirty, self._dirty = self._dirty, False
                finishing = self._finishing
            stream_moved = self.part == "stream" and self.state.seq != self._sent_seq
            if dirty or stream_moved or (generation is not None and self._ticking):
                self._publish(update=True)
            elif generation is not None and not finishing:
                self._follow_stream(time.monotonic() + 1.0 / self._display.max_rate)
        if finishing:
            self._retire()

    def _next_size(self) -> int:
        """Expected size of the next update: the stream view grows with its text."""
        if self.part == "stream":
            text = self.state.streaming_message
            if text is not None:
                return min(max(self._last_size, 2 * len(text)), self._display.max_update_bytes)
        return self._last_size

    def _publish(self, *, update: bool) -> None:
        """Render the state and send it (send lock held)."""
        snapshot = self.state.get_state()
        data = self._render(snapshot)
        publisher = self._publisher if self._publisher is not None else shell_publisher()
        publisher.publish(data, {}, transient={"display_id": self.display_id}, update=update)
        self._sent_seq = snapshot.seq
        self._hold_until = None
        self._last_sent = time.monotonic()
        self._last_size = sum(map(_sent_size, data.values()))
        # An update larger than the budget had covered (a stream grows while its update
        # waits; a flush does not wait) is paid for by the wait before the next one.
        self._paid_until = max(self._last_sent, self._paid_until + self._last_size / self._display.max_bytes_rate)
        if snapshot.streaming is not None:
            self._follow_stream(self._last_sent)
        self._ticking = self.part == "tool_calls" and 'jido-status-running"' in data.get("text/html", "")
        if self._ticking:
            with self._lock:
                self._arm(self._last_sent + TICK_SECONDS)

    def _follow_stream(self, earliest: float) -> None:
        """While a message streams, the stream view looks again at the update rate."""
        if self.part == "stream" and self.state.is_streaming:
            with self._lock:
                self._arm(earliest)


def _sent_size(text: str) -> int:
    """The bytes ``text`` takes in the message, as Jupyter's JSON packer writes it (UTF-8,
    escapes included): what the byte rate counts, whatever the characters are."""
    return len(json.dumps(text, ensure_ascii=False).encode("utf-8", "surrogatepass")) - 2
