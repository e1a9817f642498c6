"""The session's conversation and UI state: thread-safe, observable, capped.

:class:`SessionState` mirrors jido_code's ``Session.State``: messages, one streaming
message at a time, reasoning steps, tool calls, todos and a scroll offset. Every change
is announced to observers as a :class:`~jido_kernel.state.records.StateEvent`; display
code subscribes, the model never imports a front end.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from collections.abc import Iterable
from typing import Any

from jido_kernel.state.limits import StateLimitError, StateLimits, clip_arguments
from jido_kernel.state.observable import Observer
from jido_kernel.state.records import Message, ReasoningStep, StateError, Todo, ToolCall, check_id, new_id
from jido_kernel.state.snapshot import StateSnapshot, StreamWriter, append_capped, todo_chars
from jido_kernel.state.streaming import StreamingState
from jido_kernel.text import clip

__all__ = [
    "MAX_MESSAGES",
    "MAX_REASONING_STEPS",
    "MAX_TOOL_CALLS",
    "Observer",
    "SessionState",
    "StateSnapshot",
    "StreamWriter",
]

MAX_MESSAGES: int = StateLimits.max_messages.default_value
MAX_REASONING_STEPS: int = StateLimits.max_reasoning_steps.default_value
MAX_TOOL_CALLS: int = StateLimits.max_tool_calls.default_value
_NAME_CHARS = 200

_log = logging.getLogger(__name__)


class SessionState(StreamingState):
    """Conversation and UI state of one session.

    All methods are thread-safe (one re-entrant lock): a background thread may stream
    while cells run. Accessors return tuples and immutable records, never live lists.
    Observers (:meth:`subscribe`) are called after each change, outside the lock, in the
    thread that made the change; an observer that raises is logged and skipped.

    Bounds: ``limits`` (a :class:`~jido_kernel.state.limits.StateLimits`). Content above
    a per-item or per-stream bound is refused (StateLimitError); past the list lengths
    the oldest entries are evicted (also when a stream ends), past the session's total
    text the oldest reasoning steps and then messages; tool call arguments and results
    are clipped with a marker.
    """

    def __init__(self, session_id: str, limits: StateLimits | None = None) -> None:
        check_id(session_id, "session")
        self._session_id = session_id
        self.limits = StateLimits() if limits is None else limits
        super().__init__()
        self._total_chars = 0  # text held by messages, reasoning, todos and the stream
        self._messages: list[Message] = []
        self._reasoning_steps: list[ReasoningStep] = []
        self._tool_calls: list[ToolCall] = []
        self._todos: tuple[Todo, ...] = ()
        self._scroll_offset = 0
        _log.debug("Session state initialised for session %s", session_id)

    # -- accessors -----------------------------------------------------------------

    @property
    def session_id(self) -> str:
        return self._session_id

    @property
    def messages(self) -> tuple[Message, ...]:
        with self._lock:
            return tuple(self._messages)

    @property
    def reasoning_steps(self) -> tuple[ReasoningStep, ...]:
        with self._lock:
            return tuple(self._reasoning_steps)

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        with self._lock:
            return tuple(self._tool_calls)

    @property
    def todos(self) -> tuple[Todo, ...]:
        return self._todos

    @property
    def scroll_offset(self) -> int:
        return self._scroll_offset

    def get_state(self) -> StateSnapshot:
        """A consistent snapshot of everything."""
        with self._lock:
            return StateSnapshot(
                session_id=self._session_id,
                messages=tuple(self._messages),
                reasoning_steps=tuple(self._reasoning_steps),
                tool_calls=tuple(self._tool_calls),
                todos=self._todos,
                scroll_offset=self._scroll_offset,
                streaming=self.get_streaming(),
                seq=self._seq,
            )

    def get_messages(self, offset: int = 0, limit: int | None = None) -> tuple[list[Message], dict[str, Any]]:
        """Messages oldest first, skipping ``offset``, at most ``limit`` (``None``: all).

        Returns ``(messages, {"total", "offset", "limit", "returned", "has_more"})``.
        """
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise StateError(
                f"Invalid offset {offset!r}: use an integer >= 0.",
                reason="invalid_pagination",
            )
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise StateError(
                f"Invalid limit {limit!r}: use an integer >= 1, or None for all.",
                reason="invalid_pagination",
            )
        with self._lock:
            total = len(self._messages)
            end = total if limit is None else offset + limit
            page = self._messages[offset:end]
        meta = {
            "total": total,
            "offset": offset,
            "limit": limit,
            "returned": len(page),
            "has_more": offset + len(page) < total,
        }
        return page, meta

    def get_tool_call(self, call_id: str) -> ToolCall:
        """The tool call with ``call_id``; StateError ``tool_call_not_found`` otherwise."""
        with self._lock:
            return self._tool_calls[self._tool_call_index(call_id)]

    # -- messages ------------------------------------------------------------------

    def append_message(self, role: str, content: str, *, id: str | None = None) -> Message:
        """Append a message (roles: user, assistant, system, tool)."""
        message = Message(new_id() if id is None else id, role, content)
        self.limits.check(len(content), "max_message_chars", "The message", "message_too_large")
        with self._lock:
            self._add_message(message)
            observers, event = self._changed("message_appended", message)
        self._emit(observers, event)
        return message

    def clear_messages(self) -> None:
        """Remove every message (a stream in progress goes on)."""
        with self._lock:
            self._total_chars -= sum(len(message.content) for message in self._messages)
            self._messages.clear()
            observers, event = self._changed("messages_cleared")
        self._emit(observers, event)

    # -- reasoning -----------------------------------------------------------------

    def add_reasoning_step(self, content: str, *, id: str | None = None) -> ReasoningStep:
        """Append a reasoning step."""
        step = ReasoningStep(new_id() if id is None else id, content)
        self.limits.check(len(content), "max_message_chars", "The reasoning step", "message_too_large")
        with self._lock:
            self._total_chars += len(content)
            self._total_chars -= append_capped(self._reasoning_steps, step, self.limits.max_reasoning_steps)
            self._trim_total()
            observers, event = self._changed("reasoning_added", step)
        self._emit(observers, event)
        return step

    def clear_reasoning_steps(self) -> None:
        """Remove every reasoning step."""
        with self._lock:
            self._total_chars -= sum(len(step.content) for step in self._reasoning_steps)
            self._reasoning_steps.clear()
            observers, event = self._changed("reasoning_cleared")
        self._emit(observers, event)

    # -- tool calls ----------------------------------------------------------------

    def clear_tool_calls(self) -> None:
        """Remove every tool call."""
        with self._lock:
            self._tool_calls.clear()
            observers, event = self._changed("tool_calls_cleared")
        self._emit(observers, event)

    def add_tool_call(
        self,
        name: str,
        arguments: dict[str, Any],
        *,
        status: str = "pending",
        id: str | None = None,
    ) -> ToolCall:
        """Record a tool call. StateError ``invalid_tool_call`` for a bad field or a used id."""
        limit = self.limits.max_tool_text_chars
        if isinstance(name, str):
            name = clip(name, _NAME_CHARS)
        if isinstance(arguments, dict):
            arguments = clip_arguments(arguments, limit)
        call = ToolCall(new_id() if id is None else id, name, arguments, status)
        with self._lock:
            if any(existing.id == call.id for existing in self._tool_calls):
                raise StateError(
                    f"A tool call with id {call.id!r} already exists: use a new id or update_tool_call().",
                    reason="invalid_tool_call",
                )
            self._tool_calls.append(call)
            del self._tool_calls[: max(0, len(self._tool_calls) - self.limits.max_tool_calls)]
            observers, event = self._changed("tool_call_added", call)
        self._emit(observers, event)
        return call

    def update_tool_call(
        self,
        call_id: str,
        *,
        status: str | None = None,
        result: str | None = None,
        duration_ms: float | None = None,
    ) -> ToolCall:
        """Change a tool call's status, result or duration (``None`` keeps the field)."""
        changes: dict[str, Any] = {}
        if status is not None:
            changes["status"] = status
        if result is not None:
            changes["result"] = clip(result, self.limits.max_tool_text_chars) if isinstance(result, str) else result
        if duration_ms is not None:
            changes["duration_ms"] = duration_ms
        with self._lock:
            index = self._tool_call_index(call_id)
            call = dataclasses.replace(self._tool_calls[index], **changes)
            self._tool_calls[index] = call
            observers, event = self._changed("tool_call_updated", call)
        self._emit(observers, event)
        return call

    def _tool_call_index(self, call_id: str) -> int:
        for index in range(len(self._tool_calls) - 1, -1, -1):
            if self._tool_calls[index].id == call_id:
                return index
        raise StateError(
            f"No tool call with id {call_id!r} (it may have been evicted past the "
            f"{self.limits.max_tool_calls} most recent): check the id returned by add_tool_call().",
            reason="tool_call_not_found",
        )

    # -- todos and scroll -------------------------------------------------------------

    def update_todos(self, todos: Iterable[Todo | dict[str, Any]]) -> tuple[Todo, ...]:
        """Replace the todo list; every item is validated before anything changes."""
        if isinstance(todos, (str, bytes, dict)) or not isinstance(todos, Iterable):
            raise StateError(
                f"Invalid todo list {todos!r}: use a list of todos.",
                reason="invalid_todo",
            )
        limits = self.limits
        items = tuple(Todo.coerce(item) for item in itertools.islice(todos, limits.max_todos + 1))
        if len(items) > limits.max_todos:
            raise StateLimitError(
                f"The todo list has more than {limits.max_todos} items (StateLimits.max_todos): keep the list shorter.",
                reason="too_many_todos",
            )
        for todo in items:
            limits.check(
                max(len(todo.content), len(todo.active_form or "")),
                "max_todo_chars",
                f"The todo {clip(todo.content, 40)!r}",
                "todo_too_large",
            )
        with self._lock:
            self._total_chars += todo_chars(items) - todo_chars(self._todos)
            self._todos = items
            self._trim_total()
            observers, event = self._changed("todos_updated", items)
        self._emit(observers, event)
        return items

    def set_scroll_offset(self, offset: int) -> None:
        """Set the UI scroll offset (an integer >= 0)."""
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise StateError(
                f"Invalid scroll offset {offset!r}: use an integer >= 0.",
                reason="invalid_scroll_offset",
            )
        with self._lock:
            self._scroll_offset = offset
            observers, event = self._changed("scroll", offset)
        self._emit(observers, event)

    # -- bounds --------------------------------------------------------------------

    def _add_message(self, message: Message) -> None:
        """Append to the history, evicting past the count and the total (lock held)."""
        self._total_chars += len(message.content)
        self._total_chars -= append_capped(self._messages, message, self.limits.max_messages)
        self._trim_total()

    def _trim_total(self) -> None:
        """Past the total, evict the oldest reasoning steps, then the oldest messages; the
        newest of each is kept (lock held)."""
        limit = self.limits.max_total_chars
        for history in (self._reasoning_steps, self._messages):
            dropped = 0
            while self._total_chars > limit and dropped < len(history) - 1:
                self._total_chars -= len(history[dropped].content)
                dropped += 1
            del history[:dropped]

    # -- display -------------------------------------------------------------------

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return self.get_state()._repr_mimebundle_()

    def __repr__(self) -> str:
        with self._lock:
            return (
                f"SessionState(session_id={self._session_id!r}, messages={len(self._messages)}, "
                f"reasoning_steps={len(self._reasoning_steps)}, "
                f"tool_calls={len(self._tool_calls)}, todos={len(self._todos)}, "
                f"is_streaming={self._stream_id is not None})"
            )
