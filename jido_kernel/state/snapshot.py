"""A consistent copy of a session's state, and the writer of one stream."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jido_kernel.state.records import Message, ReasoningStep, Todo, ToolCall

if TYPE_CHECKING:
    from jido_kernel.state.streaming import StreamingState


@dataclass(frozen=True, slots=True)
class StateSnapshot:
    """A consistent copy of a :class:`SessionState` at one change (``seq``).

    ``streaming`` is the message being streamed (content so far), or ``None``.
    """

    session_id: str
    messages: tuple[Message, ...]
    reasoning_steps: tuple[ReasoningStep, ...]
    tool_calls: tuple[ToolCall, ...]
    todos: tuple[Todo, ...]
    scroll_offset: int
    streaming: Message | None
    seq: int

    @property
    def is_streaming(self) -> bool:
        return self.streaming is not None

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from jido_kernel.display import state as render

        return render.part_bundle(self, "state")


class StreamWriter:
    """Writes chunks into one stream; returned by :meth:`SessionState.stream`.

    ``message`` is the final :class:`Message` once the ``with`` block has ended.
    """

    __slots__ = ("_state", "message", "message_id", "role")

    def __init__(self, state: StreamingState, message_id: str, role: str) -> None:
        self._state = state
        self.message_id = message_id
        self.role = role
        self.message: Message | None = None

    def write(self, chunk: str) -> None:
        """Append ``chunk``; StateError ``not_streaming`` once this stream has ended."""
        self._state._write_chunk(chunk, self.message_id)

    @property
    def text(self) -> str:
        """The content written so far (the final content once ended)."""
        if self.message is not None:
            return self.message.content
        current = self._state.get_streaming()
        return current.content if current is not None and current.id == self.message_id else ""


def append_capped(items: list[Any], item: Any, cap: int) -> int:
    """Append ``item``, drop the oldest items past ``cap``; returns the characters dropped."""
    items.append(item)
    if len(items) <= cap:
        return 0
    dropped = items[: len(items) - cap]
    del items[: len(items) - cap]
    return sum(len(old.content) for old in dropped)


def todo_chars(todos: Iterable[Todo]) -> int:
    return sum(len(todo.content) + len(todo.active_form or "") for todo in todos)
