"""Bounds on what a session's state may hold: per item, per stream, per session.

Content sent by untrusted code (a Lua cell's ``jido.state.*`` calls) is refused above
its bound with a :class:`StateLimitError` (Lua gets ``nil, message``); records the kernel
makes itself (tool calls) are clipped with a visible marker instead.
"""

from __future__ import annotations

import reprlib
from dataclasses import dataclass, fields
from typing import Any

from jido_kernel.state.records import StateError
from jido_kernel.state.text import clip, size_text

MiB = 1 << 20


class StateLimitError(StateError):
    """Content above one of the bounds of :class:`StateLimits`.

    ``reason`` is ``message_too_large``, ``chunk_too_large``, ``stream_too_large``,
    ``too_many_todos`` or ``todo_too_large``.
    """

    reason = "state_limit"


@dataclass(frozen=True, slots=True)
class StateLimits:
    """The bounds of one :class:`~jido_kernel.state.model.SessionState` (in characters).

    Lists past their count (``max_messages``, ``max_reasoning_steps``,
    ``max_tool_calls``) drop their oldest entries; while the session's text exceeds
    ``max_total_chars`` the oldest reasoning steps, then messages, are dropped (the newest
    of each stays). The defaults keep the newest items, the todos and a stream within it.
    """

    max_message_chars: int = MiB
    max_chunk_chars: int = MiB
    max_stream_chars: int = 4 * MiB
    max_total_chars: int = 16 * MiB
    max_messages: int = 1000
    max_reasoning_steps: int = 100
    max_todos: int = 1000
    max_todo_chars: int = 4096
    max_tool_calls: int = 500
    max_tool_text_chars: int = 16 * 1024

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise StateError(
                    f"Invalid state limit {item.name}={value!r}: use an integer >= 1.",
                    reason="invalid_limit",
                )

    def check(self, size: int, limit_name: str, what: str, reason: str) -> None:
        """StateLimitError ``reason`` when ``size`` exceeds the limit ``limit_name``."""
        limit = getattr(self, limit_name)
        if size > limit:
            raise StateLimitError(
                f"{what} has {size_text(size)} of text, above the limit of {size_text(limit)} "
                f"(StateLimits.{limit_name}): send it in smaller parts.",
                reason=reason,
            )


def _repr(max_chars: int) -> reprlib.Repr:
    shortener = reprlib.Repr()
    shortener.maxlevel = 3
    shortener.maxdict = shortener.maxlist = shortener.maxtuple = 20
    shortener.maxstring = shortener.maxother = max(40, max_chars // 8)
    return shortener


def _bounded_size(value: Any, budget: int) -> int:
    """Size of ``value``'s text, counted only until it exceeds ``budget``."""
    size, pending = 0, [value]
    while pending and size <= budget:
        item = pending.pop()
        if isinstance(item, str):
            size += len(item)
        elif isinstance(item, dict):
            size += 2 * len(item) + 2
            if size <= budget:
                pending.extend(item.keys())
                pending.extend(item.values())
        elif isinstance(item, (list, tuple)):
            size += len(item) + 2
            if size <= budget:
                pending.extend(item)
        else:
            size += 8
    return size


def clip_arguments(arguments: dict[str, Any], max_chars: int) -> dict[str, Any]:
    """``arguments`` as they are when small, else their values shortened with a marker."""
    if _bounded_size(arguments, max_chars) <= max_chars:
        return arguments
    shortener = _repr(max_chars)
    share = max(40, max_chars // max(1, min(len(arguments), 20)))
    clipped: dict[str, Any] = {}
    for index, (key, value) in enumerate(arguments.items()):
        if index == 20:
            clipped["\u2026"] = f"[clipped: {len(arguments) - 20} more arguments]"
            break
        key = clip(key, 200)
        if isinstance(value, str):
            clipped[key] = clip(value, share)
        elif _bounded_size(value, share) > share:
            clipped[key] = clip(shortener.repr(value), share)
        else:
            clipped[key] = value
    return clipped
