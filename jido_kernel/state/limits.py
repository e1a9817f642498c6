"""Bounds on what a session's state may hold: per item, per stream, per session.

Content sent by untrusted code (a Lua cell's ``jido.state.*`` calls) is refused above
its bound with a :class:`StateLimitError` (Lua gets ``nil, message``); records the kernel
makes itself (tool calls) are clipped with a visible marker instead.
"""

from __future__ import annotations

import reprlib
from typing import Any

from traitlets import Int
from traitlets.config import Configurable

from jido_kernel.state.records import StateError
from jido_kernel.text import clip, size_text

MiB = 1 << 20


class StateLimitError(StateError):
    """Content above one of the bounds of :class:`StateLimits`.

    ``reason`` is ``message_too_large``, ``chunk_too_large``, ``stream_too_large``,
    ``too_many_todos`` or ``todo_too_large``.
    """

    reason = "state_limit"


def _bound(default: int, text: str) -> Int:
    return Int(default, min=1, help=text).tag(config=True)


class StateLimits(Configurable):
    """The bounds of one :class:`~jido_kernel.state.model.SessionState`, in characters
    (``c.StateLimits.max_message_chars = …`` in the IPython or kernel configuration).

    Lists past their count (``max_messages``, ``max_reasoning_steps``,
    ``max_tool_calls``) drop their oldest entries; while the session's text exceeds
    ``max_total_chars`` the oldest reasoning steps, then messages, are dropped (the newest
    of each stays). The defaults keep the newest items, the todos and a stream within it.
    """

    max_message_chars = _bound(MiB, "Most characters of one message or reasoning step.")
    max_chunk_chars = _bound(MiB, "Most characters of one stream chunk.")
    max_stream_chars = _bound(4 * MiB, "Most characters of one streamed message.")
    max_total_chars = _bound(16 * MiB, "Most characters of text a session keeps; the oldest go.")
    max_messages = _bound(1000, "Most messages kept; the oldest go.")
    max_reasoning_steps = _bound(100, "Most reasoning steps kept; the oldest go.")
    max_todos = _bound(1000, "Most todos in the todo list.")
    max_todo_chars = _bound(4096, "Most characters of one todo's content or active form.")
    max_tool_calls = _bound(500, "Most tool call records kept; the oldest go.")
    max_tool_text_chars = _bound(16 * 1024, "Most characters of a tool call's arguments or result; more is clipped.")

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
