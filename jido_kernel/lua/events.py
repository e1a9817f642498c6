"""Checks and conversions of what a worker sends during a run (kernel side).

Everything here treats the worker as untrusted: tool-call records and errors are
checked against :mod:`~jido_kernel.lua.protocol` and bounded before the kernel uses
them, and printed text is capped per run.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from typing import Any

from jido_kernel.lua import protocol
from jido_kernel.lua.errors import LuaError, LuaMemoryError, LuaSyntaxError, LuaTimeoutError, LuaValueError
from jido_kernel.lua.protocol import (
    CONFINEMENT_FIELDS,
    ERROR_FIELDS,
    FUNCTIONS,
    MAX_ARGUMENTS,
    MAX_ERROR,
    MAX_TEXT,
    TOOL_CALL_FIELDS,
    TOOL_STATUSES,
    ProtocolError,
    one_line,
)
from jido_kernel.text import terminal_safe

log = logging.getLogger("jido_kernel.lua.sandbox")

MIB = 1024 * 1024
MAX_OUTPUT = 32 * MIB
"""Characters of printed text passed on per run; the worker stops sooner (its own bound)."""
MAX_NOTES = 20
_ERRORS: dict[str, type[LuaError]] = {
    "LuaError": LuaError,
    "LuaSyntaxError": LuaSyntaxError,
    "LuaTimeoutError": LuaTimeoutError,
    "LuaMemoryError": LuaMemoryError,
}


def checked_tool_call(record: dict[str, Any]) -> dict[str, Any]:
    """A ``tool_call`` record fit for the session's state; :class:`ProtocolError` if malformed."""
    protocol.check_fields(record, TOOL_CALL_FIELDS, "tool_call")
    if record["status"] not in TOOL_STATUSES:
        raise ProtocolError(f"unknown tool call status {record['status']!r}")
    if record["name"] not in FUNCTIONS:
        raise ProtocolError(f"tool call of unknown function {record['name'][:80]!r}")
    if len(json.dumps(record["arguments"])) > MAX_ARGUMENTS:
        raise ProtocolError(f"tool call arguments larger than {MAX_ARGUMENTS} bytes")
    record["id"] = record["id"][:64]
    if record["result_summary"] is not None:
        record["result_summary"] = one_line(record["result_summary"])
    return record


def error_from(record: dict[str, Any]) -> BaseException:
    """The exception an ``error`` record stands for; :class:`ProtocolError` if malformed."""
    protocol.check_fields(record, ERROR_FIELDS, "error")
    kind, message = record["type"], record["message"][: MAX_ERROR + 100]
    if kind == "KeyboardInterrupt":
        return KeyboardInterrupt(message)
    if kind == "LuaValueError":
        return LuaValueError(message)
    frames = protocol.frames(record)
    return _ERRORS.get(kind, LuaError)(
        message,
        chunk=chunk_name(record["chunk"]) if record["chunk"] else record["chunk"],
        line=record["line"],
        lua_traceback=frames,
    )


def check_ready(item: dict[str, Any]) -> None:
    """Check a ``ready`` message's confinement report; :class:`ProtocolError` if malformed."""
    protocol.check_fields(item["confinement"], CONFINEMENT_FIELDS, "confinement")
    notes = item["confinement"]["notes"]
    if len(notes) > MAX_NOTES or not all(isinstance(n, str) and len(n) <= MAX_TEXT for n in notes):
        raise ProtocolError(f"confinement notes must be at most {MAX_NOTES} short strings")


def state_error(call_id: int, message: str) -> bytes:
    """A failed ``state_reply``: ``nil, message`` in Lua, the message on one line."""
    reply = {"type": "state_reply", "id": call_id, "ok": False, "value": None, "error": one_line(message)}
    return protocol.dump(reply)


def chunk_name(name: str) -> str:
    """A chunk name fit for Lua's messages: one line, at most 80 characters."""
    text = " ".join(str(name).split())[:80]
    return text or "<lua>"


def print_text(text: str) -> None:
    """Default ``on_stdout``: printed text to ``sys.stdout``, without terminal control.

    Not flushed: the stream batches it (ipykernel sends one message per flush interval),
    and the end of the cell flushes what is left.
    """
    sys.stdout.write(terminal_safe(text))


class Output:
    """Printed text of one run on its way to ``write``: at most :data:`MAX_OUTPUT`
    characters, and a failing ``write`` never stops the run's messages."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write
        self._room = MAX_OUTPUT

    def write(self, text: str) -> None:
        if self._room <= 0:
            return
        if len(text) >= self._room:
            text = text[: self._room] + f"\n[output truncated: the cell printed more than {MAX_OUTPUT >> 20} MiB]\n"
        self._room -= len(text)
        try:
            self._write(text)
        except Exception:
            log.exception("on_stdout failed; printed text was lost")
