"""Observers of a session's state: subscriptions by event kind, and change counting."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from jido_kernel.state.records import EVENT_KINDS, StateError, StateEvent

Observer = Callable[[StateEvent], None]
_Subscription = tuple[Observer, frozenset[str] | None]

_log = logging.getLogger("jido_kernel.state.model")


class Observable:
    """A re-entrant lock, a change counter and the observers told of each change.

    Observers are called after each change, outside the lock, in the thread that made
    the change; an observer that raises is logged and skipped.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._observers: tuple[_Subscription, ...] = ()
        self._chunk_observers: tuple[Observer, ...] = ()
        self._seq = 0

    @property
    def seq(self) -> int:
        """Number of changes so far."""
        return self._seq

    def subscribe(self, callback: Observer, kinds: Iterable[str] | None = None) -> Callable[[], None]:
        """Call ``callback(event)`` after every change (of the given ``kinds`` only).

        Returns the function that unsubscribes. Observers that leave out
        ``stream_chunk`` cost a streaming producer nothing per chunk.
        """
        wanted = None if kinds is None else frozenset(kinds)
        if wanted is not None and not wanted <= EVENT_KINDS:
            unknown = ", ".join(sorted(wanted - EVENT_KINDS))
            raise StateError(
                f"Unknown state event kind(s) {unknown}: use {', '.join(sorted(EVENT_KINDS))}.",
                reason="invalid_event_kind",
            )
        entry = (callback, wanted)
        with self._lock:
            self._set_observers((*self._observers, entry))

        def unsubscribe() -> None:
            with self._lock:
                self._set_observers(tuple(item for item in self._observers if item is not entry))

        return unsubscribe

    def _set_observers(self, observers: tuple[_Subscription, ...]) -> None:
        self._observers = observers
        self._chunk_observers = tuple(
            callback for callback, kinds in observers if kinds is None or "stream_chunk" in kinds
        )

    def _changed(self, kind: str, payload: Any = None) -> tuple[tuple[_Subscription, ...], StateEvent]:
        """Count a change (lock held) and return who to tell about it."""
        self._seq += 1
        return self._observers, StateEvent(kind, self._seq, payload)

    @staticmethod
    def _emit(observers: Iterable[_Subscription], event: StateEvent) -> None:
        kind = event.kind
        for callback, kinds in observers:
            if kinds is None or kind in kinds:
                try:
                    callback(event)
                except Exception:
                    _log.exception("State observer %r failed on a %s event", callback, kind)

    def _emit_chunk(self, seq: int, chunk: str, observers: tuple[Observer, ...]) -> None:
        """Tell the chunk ``observers`` of a ``stream_chunk`` event."""
        event = StateEvent("stream_chunk", seq, chunk)
        for callback in observers:
            try:
                callback(event)
            except Exception:
                _log.exception("State observer %r failed on a stream_chunk event", callback)
