"""Immutable records of a session's state: messages, reasoning steps, tool calls, todos.

Every record validates its fields on construction (a bad value is a :class:`StateError`
with a machine-readable ``reason``) and renders itself through ``_repr_mimebundle_``.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from jido_kernel.errors import JidoError

ROLES: tuple[str, ...] = ("user", "assistant", "system", "tool")
TOOL_STATUSES: tuple[str, ...] = ("pending", "running", "completed", "error")
TODO_STATUSES: tuple[str, ...] = ("pending", "in_progress", "completed")


class StateError(JidoError):
    """A refused change to a session's state.

    ``reason`` is one of ``invalid_id``, ``invalid_role``, ``invalid_content``, ``invalid_chunk``,
    ``not_streaming``, ``already_streaming``, ``invalid_todo``, ``invalid_tool_call``,
    ``tool_call_not_found``, ``invalid_scroll_offset``, ``invalid_pagination``,
    ``invalid_part``.
    """

    reason = "state_error"


def new_id() -> str:
    """A fresh record id (a UUID4 string)."""
    return str(uuid.uuid4())


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def check_role(role: Any) -> str:
    """``role`` if it is a message role; StateError ``invalid_role`` otherwise."""
    if role not in ROLES:
        raise StateError(
            f"Invalid message role {role!r}: use one of {', '.join(ROLES)}.",
            reason="invalid_role",
        )
    return role


def check_text(value: object, what: str) -> str:
    """``value`` if it is a string; StateError ``invalid_content`` otherwise."""
    if not isinstance(value, str):
        raise StateError(
            f"Invalid {what}: expected a string, got {type(value).__name__}.",
            reason="invalid_content",
        )
    return value


def check_id(value: object, what: str) -> str:
    """``value`` if it is a non-empty string; StateError ``invalid_id`` otherwise."""
    if not isinstance(value, str) or not value:
        raise StateError(f"Invalid {what} id {value!r}: use a non-empty string.", reason="invalid_id")
    return value


@dataclass(frozen=True, slots=True)
class Message:
    """One conversation message; ``interrupted`` marks a stream that ended on an error.

    ``role`` is one of ``user``, ``assistant``, ``system``, ``tool``.
    """

    id: str
    role: str
    content: str
    timestamp: datetime = field(default_factory=utc_now)
    interrupted: bool = False

    def __post_init__(self) -> None:
        check_id(self.id, "message")
        check_role(self.role)
        check_text(self.content, "message content")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (timestamp in ISO 8601)."""
        return {
            "id": self.id,
            "role": self.role,
            "content": self.content,
            "timestamp": self.timestamp.isoformat(),
            "interrupted": self.interrupted,
        }

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from jido_kernel.display import state as render

        return render.message_bundle(self)


@dataclass(frozen=True, slots=True)
class ReasoningStep:
    """One step of the model's chain of thought."""

    id: str
    content: str
    timestamp: datetime = field(default_factory=utc_now)

    def __post_init__(self) -> None:
        check_id(self.id, "reasoning step")
        check_text(self.content, "reasoning step content")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (timestamp in ISO 8601)."""
        return {"id": self.id, "content": self.content, "timestamp": self.timestamp.isoformat()}

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from jido_kernel.display import state as render

        return render.reasoning_bundle((self,))


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One tool invocation; ``result`` and ``duration_ms`` are set once it finishes.

    ``status`` is one of ``pending``, ``running``, ``completed``, ``error``.

    ``arguments`` is a shallow copy of the caller's dict; treat it as read-only.
    """

    id: str
    name: str
    arguments: dict[str, Any]
    status: str = "pending"
    result: str | None = None
    duration_ms: float | None = None
    timestamp: datetime = field(default_factory=utc_now)

    def __post_init__(self) -> None:
        check_id(self.id, "tool call")
        if not isinstance(self.name, str) or not self.name:
            raise StateError(
                f"Invalid tool call name {self.name!r}: use a non-empty string.",
                reason="invalid_tool_call",
            )
        if not isinstance(self.arguments, dict) or not all(isinstance(key, str) for key in self.arguments):
            raise StateError(
                f"Invalid arguments for tool call {self.name!r}: use a dict with string keys.",
                reason="invalid_tool_call",
            )
        if self.status not in TOOL_STATUSES:
            raise StateError(
                f"Invalid tool call status {self.status!r}: use one of {', '.join(TOOL_STATUSES)}.",
                reason="invalid_tool_call",
            )
        if self.result is not None and not isinstance(self.result, str):
            raise StateError(
                f"Invalid result for tool call {self.name!r}: use a string or None.",
                reason="invalid_tool_call",
            )
        duration = self.duration_ms
        if duration is not None and (
            isinstance(duration, bool)
            or not isinstance(duration, (int, float))
            or not math.isfinite(duration)
            or duration < 0
        ):
            raise StateError(
                f"Invalid duration {duration!r} for tool call {self.name!r}: use a number of "
                "milliseconds >= 0 or None.",
                reason="invalid_tool_call",
            )
        object.__setattr__(self, "arguments", dict(self.arguments))
        if duration is not None:
            object.__setattr__(self, "duration_ms", float(duration))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (timestamp in ISO 8601)."""
        return {
            "id": self.id,
            "name": self.name,
            "arguments": dict(self.arguments),
            "status": self.status,
            "result": self.result,
            "duration_ms": self.duration_ms,
            "timestamp": self.timestamp.isoformat(),
        }

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from jido_kernel.display import state as render

        return render.tool_calls_bundle((self,))


_TODO_KEYS = frozenset({"content", "status", "active_form"})


@dataclass(frozen=True, slots=True)
class Todo:
    """One task of the todo list; ``active_form`` is the wording shown while in progress.

    ``status`` is one of ``pending``, ``in_progress``, ``completed``.
    """

    content: str
    status: str = "pending"
    active_form: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.content, str) or not self.content.strip():
            raise StateError(
                f"Invalid todo content {self.content!r}: use a non-empty string.",
                reason="invalid_todo",
            )
        if self.status not in TODO_STATUSES:
            raise StateError(
                f"Invalid todo status {self.status!r} for {self.content!r}: use one of {', '.join(TODO_STATUSES)}.",
                reason="invalid_todo",
            )
        if self.active_form is not None and not isinstance(self.active_form, str):
            raise StateError(
                f"Invalid active_form for todo {self.content!r}: use a string or None.",
                reason="invalid_todo",
            )

    @classmethod
    def coerce(cls, item: Todo | dict[str, Any]) -> Todo:
        """A Todo from a Todo or a dict with keys content, status, active_form."""
        if isinstance(item, Todo):
            return item
        if not isinstance(item, dict):
            raise StateError(
                f"Invalid todo {item!r}: use a dict with keys content, status, active_form.",
                reason="invalid_todo",
            )
        unknown = sorted(str(key) for key in item if key not in _TODO_KEYS)
        if unknown:
            raise StateError(
                f"Invalid todo keys {', '.join(unknown)}: use only content, status, active_form.",
                reason="invalid_todo",
            )
        if "content" not in item:
            raise StateError("Invalid todo: the key 'content' is missing.", reason="invalid_todo")
        return cls(**item)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"content": self.content, "status": self.status, "active_form": self.active_form}

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from jido_kernel.display import state as render

        return render.todos_bundle((self,))


class StateEvent(NamedTuple):
    """One change of a :class:`~jido_kernel.state.model.SessionState`.

    ``kind`` names the change, ``seq`` is the state's change counter after it (increasing;
    events from concurrent producers may reach an observer out of order), ``payload`` is:

    ========================  ==============================================
    ``message_appended``      the new :class:`Message`
    ``messages_cleared``      ``None``
    ``stream_started``        a :class:`Message` with empty content (id, role)
    ``stream_chunk``          the chunk (``str``)
    ``stream_ended``          the final :class:`Message`
    ``reasoning_added``       the new :class:`ReasoningStep`
    ``reasoning_cleared``     ``None``
    ``tool_call_added``       the new :class:`ToolCall`
    ``tool_call_updated``     the updated :class:`ToolCall`
    ``todos_updated``         the new ``tuple[Todo, ...]``
    ``scroll``                the new scroll offset (``int``)
    ========================  ==============================================
    """

    kind: str
    seq: int
    payload: Any = None


EVENT_KINDS: frozenset[str] = frozenset(
    {
        "message_appended",
        "messages_cleared",
        "stream_started",
        "stream_chunk",
        "stream_ended",
        "reasoning_added",
        "reasoning_cleared",
        "tool_call_added",
        "tool_call_updated",
        "tool_calls_cleared",
        "todos_updated",
        "scroll",
    }
)
