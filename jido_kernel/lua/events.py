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
from itertools import chain
from typing import Any

from jido_kernel.lua import protocol
from jido_kernel.lua.errors import LuaError, LuaMemoryError, LuaSyntaxError, LuaTimeoutError, LuaValueError
from jido_kernel.lua.protocol import (
    CONFINEMENT_FIELDS,
    ERROR_FIELDS,
    FUNCTIONS,
    MAX_ARGUMENTS,
    MAX_CALLS,
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


def checked_tool_calls(rows: list[Any]) -> list[dict[str, Any]]:
    """The records of a ``tool_calls`` message, fit for the session's state, in order:
    rows of the :data:`TOOL_CALL_FIELDS` values, one record each, or of a finished call's
    values and ``true``, its ``running`` record then its own. :class:`ProtocolError` if
    there are more than :data:`MAX_CALLS` rows or any is malformed; each field is checked
    over all rows at once, by the rules a single record has."""
    if len(rows) > MAX_CALLS:
        raise ProtocolError(f"tool_calls message with more than {MAX_CALLS} records")
    if not rows:
        return []
    lengths = set(map(len, rows)) if set(map(type, rows)) == {list} else set()
    if not lengths or not lengths <= {_FIELDS, _FIELDS + 1}:
        raise ProtocolError(f"tool_calls records must be arrays of {_FIELDS} values (and true)")
    columns = list(zip(*rows, strict=False))[:_FIELDS]  # the fields (a shorter row stops zip at them)
    for name, values, types in zip(TOOL_CALL_FIELDS, columns, _FIELD_TYPES, strict=True):
        if not set(map(type, values)) <= types:
            raise ProtocolError(f"tool_call message has a mistyped {name!r}")
    _, names, arguments, statuses, _, _ = columns
    if not set(statuses) <= TOOL_STATUSES:
        status = next(status for status in statuses if status not in TOOL_STATUSES)
        raise ProtocolError(f"unknown tool call status {status[:80]!r}")
    if not set(names) <= _FUNCTIONS:
        name = next(name for name in names if name not in _FUNCTIONS)
        raise ProtocolError(f"tool call of unknown function {name[:80]!r}")
    if _FIELDS + 1 in lengths:
        finished = rows if len(lengths) == 1 else [row for row in rows if len(row) > _FIELDS]
        _, _, _, ends, _, _, marks = zip(*finished, strict=True)
        if set(map(type, marks)) != {bool} or False in marks or "running" in ends:
            raise ProtocolError("a tool call announced and finished at once must be a finished call followed by true")
    if _arguments_too_large(arguments):
        raise ProtocolError(f"tool call arguments larger than {MAX_ARGUMENTS} bytes")
    records: list[dict[str, Any]] = []
    append = records.append
    one_line_summaries = {None}  # summaries seen to be one line already (a run's repeat)
    for row in rows:
        call_id, shown, summary = row[0][:64], row[2], row[5]
        if summary not in one_line_summaries:
            if _is_one_line(summary):
                one_line_summaries.add(summary)
            else:
                summary = one_line(summary)
        if len(row) > _FIELDS:
            append({"id": call_id, "name": row[1], "arguments": shown, "status": "running", "duration_ms": None,
                    "result_summary": None})  # fmt: skip
            shown = dict(shown)  # each record its own dict of arguments (tables in them are shared)
        append({"id": call_id, "name": row[1], "arguments": shown, "status": row[3], "duration_ms": row[4],
                "result_summary": summary})  # fmt: skip
    return records


def _is_one_line(text: str) -> bool:
    """True when ``one_line(text)`` is ``text``: short, printable (no whitespace but the
    space), no space at either end or next to another."""
    return len(text) <= MAX_TEXT and text.isprintable() and "  " not in text and text[:1] != " " != text[-1:]


_FIELDS = len(TOOL_CALL_FIELDS)
_JSON_TYPES = (str, int, float, bool, type(None), list, dict)
_FIELD_TYPES = tuple(frozenset(t for t in _JSON_TYPES if issubclass(t, kind)) for kind in TOOL_CALL_FIELDS.values())
"""Per field of a record, the types of parsed JSON that :data:`TOOL_CALL_FIELDS` allows."""
_FUNCTIONS = frozenset(FUNCTIONS)


_MEASURED_TOGETHER = 32
"""Records whose arguments are measured as one JSON array while it fits in :data:`MAX_ARGUMENTS`."""
_measure = json.JSONEncoder(check_circular=False).encode
"""``json.dumps`` (the same text) without looking for cycles, which parsed JSON never has."""


def _arguments_too_large(arguments: tuple[dict[str, Any], ...]) -> bool:
    """True when one of ``arguments`` takes more than :data:`MAX_ARGUMENTS` bytes as
    ``json.dumps`` writes it.

    Arguments of text values only are bounded at once: a string of ``n`` characters
    takes at most ``12 n + 2`` bytes, an entry adds ``": "`` and ``", "``. Others are
    measured :data:`_MEASURED_TOGETHER` at a time: the JSON of an array holds each item's
    JSON, so an array that fits has only items that fit; the items of an array that does
    not are measured one by one (the work stays linear in the size of the message)."""
    values = list(chain.from_iterable(map(dict.values, arguments)))
    if set(map(type, values)) <= {str}:
        longest = max(map(len, chain(values, chain.from_iterable(arguments))), default=0)
        if 2 + max(map(len, arguments)) * (2 * (12 * longest + 2) + 4) <= MAX_ARGUMENTS:
            return False
    try:
        for start in range(0, len(arguments), _MEASURED_TOGETHER):
            group = list(arguments[start : start + _MEASURED_TOGETHER])
            if len(_measure(group)) > MAX_ARGUMENTS and any(len(_measure(shown)) > MAX_ARGUMENTS for shown in group):
                return True
    except RecursionError:
        raise ProtocolError("tool call arguments nested too deeply") from None
    return False


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
