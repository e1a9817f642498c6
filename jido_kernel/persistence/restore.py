"""``%session resume``: saved records back into a live session's state.

Records go through the state's own API, so its bounds and observers apply; a record
whose id the state already holds is skipped (resuming twice adds nothing). Timestamps
are those of the resume; the saved ones stay in the file and in exports. A message that
was streaming when its kernel died comes back as an interrupted message.
"""

from __future__ import annotations

from typing import Any

from jido_kernel.errors import JidoError
from jido_kernel.persistence.store import Saved
from jido_kernel.state import SessionState


def restore(state: SessionState, saved: Saved) -> dict[str, int]:
    """Add ``saved``'s records missing from ``state``; returns how many of each kind."""
    counts = {"message": 0, "reasoning": 0, "tool_call": 0, "todos": 0, "skipped": 0}
    have = {message.id for message in state.messages}
    for message in saved.records["message"]:
        if message["id"] not in have:
            counts["message" if _message(state, message) else "skipped"] += 1
    have = {step.id for step in state.reasoning_steps}
    for step in saved.records["reasoning"]:
        if step["id"] not in have:
            counts["reasoning" if _call(state.add_reasoning_step, step["content"], id=step["id"]) else "skipped"] += 1
    have = {call.id for call in state.tool_calls}
    for call in saved.records["tool_call"]:
        if call["id"] not in have:
            counts["tool_call" if _tool_call(state, call) else "skipped"] += 1
    if saved.todos and not state.todos and _call(state.update_todos, saved.todos):
        counts["todos"] = len(saved.todos)
    return counts


def _call(function: Any, *args: Any, **kwargs: Any) -> bool:
    """Apply one record; a record the state refuses (past a bound, malformed) is skipped."""
    try:
        function(*args, **kwargs)
    except (JidoError, KeyError, TypeError, ValueError):
        return False
    return True


def _message(state: SessionState, message: dict[str, Any]) -> bool:
    if not message.get("interrupted") or state.is_streaming:
        return _call(state.append_message, message["role"], message["content"], id=message["id"])
    return _call(_interrupted, state, message)


def _interrupted(state: SessionState, message: dict[str, Any]) -> None:
    """An interrupted message is a stream that ended on an error, as it was."""
    state.start_streaming(message["id"], role=message["role"])
    try:
        size = max(1, state.limits.max_chunk_chars)
        content = message["content"]
        for start in range(0, len(content), size):
            state.update_streaming(content[start : start + size])
    finally:
        state.end_streaming(interrupted=True)


def _tool_call(state: SessionState, call: dict[str, Any]) -> bool:
    def add() -> None:
        state.add_tool_call(call["name"], call["arguments"], status=call["status"], id=call["id"])
        if call.get("result") is not None or call.get("duration_ms") is not None:
            state.update_tool_call(call["id"], result=call.get("result"), duration_ms=call.get("duration_ms"))

    return _call(add)
