"""One message streamed at a time: its chunks, its bounds and its end in the history."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from jido_kernel.state.limits import StateLimits
from jido_kernel.state.observable import Observable
from jido_kernel.state.records import Message, StateError, check_id, check_role, new_id, utc_now
from jido_kernel.state.snapshot import StreamWriter


class StreamingState(Observable, abc.ABC):
    """The streaming part of :class:`~jido_kernel.state.model.SessionState`.

    Chunks are kept as a list and joined when read, so a long stream costs linear time.
    """

    limits: StateLimits
    _total_chars: int

    def __init__(self) -> None:
        super().__init__()
        self._stream_id: str | None = None
        self._stream_role = "assistant"
        self._stream_started: datetime | None = None
        self._chunks: list[str] = []
        self._stream_chars = 0

    @abc.abstractmethod
    def _add_message(self, message: Message) -> None:
        """Append a message to the history within the bounds (lock held)."""

    @abc.abstractmethod
    def _trim_total(self) -> None:
        """Evict old content past the session's total (lock held)."""

    @property
    def is_streaming(self) -> bool:
        return self._stream_id is not None

    @property
    def streaming_message_id(self) -> str | None:
        return self._stream_id

    @property
    def streaming_message(self) -> str | None:
        """The content streamed so far, or ``None`` when not streaming."""
        with self._lock:
            return self._stream_text() if self._stream_id is not None else None

    def _stream_text(self) -> str:
        chunks = self._chunks
        if len(chunks) > 1:
            chunks[:] = ["".join(chunks)]
        return chunks[0] if chunks else ""

    def get_streaming(self) -> Message | None:
        """The message being streamed (content so far), or ``None``."""
        with self._lock:
            if self._stream_id is None:
                return None
            return Message(
                self._stream_id,
                self._stream_role,
                self._stream_text(),
                self._stream_started or utc_now(),
            )

    def start_streaming(self, message_id: str | None = None, *, role: str = "assistant") -> str:
        """Begin streaming a message; returns its id.

        StateError ``already_streaming`` if another message is streaming.
        """
        message_id = new_id() if message_id is None else message_id
        check_id(message_id, "message")
        check_role(role)
        with self._lock:
            if self._stream_id is not None:
                raise StateError(
                    f"Message {self._stream_id} is already streaming: call end_streaming() before starting another.",
                    reason="already_streaming",
                )
            self._stream_id = message_id
            self._stream_role = role
            self._stream_started = utc_now()
            self._chunks = []
            self._stream_chars = 0
            started = Message(message_id, role, "", self._stream_started)
            observers, event = self._changed("stream_started", started)
        self._emit(observers, event)
        return message_id

    def update_streaming(self, chunk: str) -> None:
        """Append ``chunk`` to the streaming message; ignored when nothing is streaming."""
        self._write_chunk(chunk, None)

    def _write_chunk(self, chunk: str, message_id: str | None) -> None:
        if not isinstance(chunk, str):
            raise StateError(
                f"Invalid stream chunk: expected a string, got {type(chunk).__name__}.",
                reason="invalid_chunk",
            )
        if not chunk:
            return
        with self._lock:
            current = self._stream_id
            if current is None or (message_id is not None and message_id != current):
                if message_id is None:
                    return
                raise StateError(
                    f"Message {message_id} is no longer streaming: write inside its stream() block.",
                    reason="not_streaming",
                )
            self._check_chunk(len(chunk))
            self._chunks.append(chunk)
            self._stream_chars += len(chunk)
            self._total_chars += len(chunk)
            self._trim_total()
            self._seq += 1
            seq = self._seq
            observers = self._chunk_observers
        if observers:
            self._emit_chunk(seq, chunk, observers)

    def end_streaming(self, *, interrupted: bool = False) -> Message:
        """Finish the stream: the message joins the history and is returned.

        StateError ``not_streaming`` when nothing is streaming.
        """
        message = self._end(None, interrupted)
        if message is None:
            raise StateError(
                "No message is streaming: call start_streaming() first.",
                reason="not_streaming",
            )
        return message

    def _end(self, message_id: str | None, interrupted: bool) -> Message | None:
        """End the stream (only if it is ``message_id``, when given); None if not ended."""
        with self._lock:
            current = self._stream_id
            if current is None or (message_id is not None and message_id != current):
                return None
            message = Message(
                current,
                self._stream_role,
                self._stream_text(),
                utc_now(),
                interrupted,
            )
            self._total_chars -= self._stream_chars
            self._stream_id = None
            self._stream_started = None
            self._chunks = []
            self._stream_chars = 0
            self._add_message(message)
            observers, event = self._changed("stream_ended", message)
        self._emit(observers, event)
        return message

    @contextmanager
    def stream(self, role: str = "assistant", *, message_id: str | None = None) -> Iterator[StreamWriter]:
        """Stream one message: ``with state.stream() as s: s.write(chunk)``.

        The stream ends when the block ends; if the block raises (including
        KeyboardInterrupt) the message is kept, marked ``interrupted``, and the error
        propagates.
        """
        writer = StreamWriter(self, self.start_streaming(message_id, role=role), role)
        try:
            yield writer
        except BaseException:
            writer.message = self._end(writer.message_id, True)
            raise
        writer.message = self._end(writer.message_id, False)

    def _check_chunk(self, size: int) -> None:
        """StateLimitError when a chunk of ``size`` is too large for itself or its stream."""
        limits = self.limits
        limits.check(size, "max_chunk_chars", "The stream chunk", "chunk_too_large")
        limits.check(
            self._stream_chars + size,
            "max_stream_chars",
            "The stream",
            "stream_too_large",
        )
