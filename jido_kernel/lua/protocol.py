"""The pipe protocol between the kernel and its Lua worker.

One JSON object per line (UTF-8, at most :data:`MAX_MESSAGE` bytes including the
newline), each with a ``"type"``. Nothing but plain JSON crosses: the worker is the
untrusted side, so every message it sends is checked against :data:`FROM_WORKER` before
the kernel uses it. Values inside messages use the wire form of
:mod:`jido_kernel.lua.wire`.

Kernel → worker: ``config`` (first, once), ``run``, ``push``, ``pull``, ``names``,
``reset``, ``interrupt``, ``state_reply``, ``shutdown``.
Worker → kernel: ``ready`` or ``fatal`` (once), then per request ``stdout``,
``tool_calls`` and ``state_call`` events and one ``result`` / ``value`` / ``done`` /
``error`` answer carrying the request's ``id``. A ``tool_calls`` message carries up to
:data:`MAX_CALLS` rows of tool-call records in order: each the values of
:data:`TOOL_CALL_FIELDS` in that order (one record), or those of a finished call followed
by ``true`` (two records: the call's ``running`` record, the same id, name and arguments
without duration or summary, then the row's own).
"""

from __future__ import annotations

import gc
import json
import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAX_MESSAGE = 64 * 1024 * 1024
"""Largest message either side sends or accepts, in bytes (a cell's result, a pulled value)."""

MAX_VALUES = 8_000_000
"""Most JSON values (and keys) in a message either side sends or accepts. A value of a
few bytes becomes a Python object of up to 64 (``{}``: a dict), so the bytes alone do not
bound what a parsed message holds; with this, the largest message costs the kernel at
most about 0.75 GB while it is parsed (its text as a Python string, up to 4 bytes a
character, the strings parsed from it alike, and these objects)."""

MAX_REPLY = 32 * 1024 * 1024
"""Largest ``state_reply`` the kernel sends, in bytes: above it Lua gets ``nil, message``
(the value is built in the Lua state with its memory limit lifted)."""

MAX_BACKLOG = 2 * MAX_MESSAGE
"""Bytes the kernel queues for a worker that does not read them; a worker that lets more
pile up is broken and is restarted."""

MAX_TEXT = 2000
"""Characters of a ``jido.state`` error or tool-call summary that cross, on one line."""

MAX_ERROR = 64 * 1024
"""Characters of a Lua error message that cross."""

MAX_ARGUMENTS = 16 * 1024
"""Bytes (as JSON) of a tool call's shown arguments; each argument gets a quarter."""

FUNCTIONS: tuple[str, ...] = (
    "read_file", "write_file", "list_dir", "glob", "file_exists", "is_file", "is_dir",
    "file_stat", "delete_file", "mkdir_p", "shell",
)  # fmt: skip
"""The ``jido.*`` bridge functions: the only tool-call names the kernel accepts."""

STATE_OPS: tuple[str, ...] = (
    "append_message", "add_reasoning_step", "update_todos", "start_streaming", "update_streaming", "end_streaming",
)  # fmt: skip
"""The ``jido.state.*`` operations."""

WIRE = object()
"""Field marker: a wire-form value, checked when it is decoded."""

_NUMBER = (int, float)
_TEXT_OR_NONE = (str, type(None))

FROM_KERNEL: dict[str, dict[str, Any]] = {
    "config": {"root": str, "limits": dict},
    "run": {
        "id": int, "code": str, "name": str, "inputs": dict, "outputs": list, "want_return": bool, "limits": dict,
    },
    "push": {"id": int, "name": str, "value": WIRE},
    "pull": {"id": int, "name": str},
    "reset": {"id": int},
    "names": {"id": int, "path": list},
    "interrupt": {"id": int},
    "state_reply": {"id": int, "ok": bool, "value": WIRE, "error": _TEXT_OR_NONE},
    "shutdown": {},
}  # fmt: skip

FROM_WORKER: dict[str, dict[str, Any]] = {
    "ready": {"confinement": dict, "lua": str},
    "fatal": {"message": str},
    "stdout": {"id": int, "text": str},
    "tool_calls": {"id": int, "calls": list},
    "state_call": {"id": int, "call_id": int, "op": str, "args": list},
    "result": {"id": int, "values": list, "outputs": dict, "duration": _NUMBER},
    "value": {"id": int, "value": WIRE},
    "done": {"id": int},
    "error": {"id": int, "error": dict},
}

TOOL_CALL_FIELDS: dict[str, Any] = {
    "id": str, "name": str, "arguments": dict, "status": str,
    "duration_ms": (int, float, type(None)), "result_summary": _TEXT_OR_NONE,
}  # fmt: skip
TOOL_STATUSES = frozenset({"running", "completed", "error"})
MAX_CALLS = 256
"""Rows one ``tool_calls`` message carries at most (each is small: its shown arguments
are bounded by :data:`MAX_ARGUMENTS`, its summary by :data:`MAX_TEXT`)."""

CONFINEMENT_FIELDS: dict[str, Any] = {
    "landlock_abi": (int, type(None)), "landlock_enforced": bool, "network_restricted": bool,
    "git_read_only": bool, "notes": list,
}  # fmt: skip

ERROR_FIELDS: dict[str, Any] = {"type": str, "message": str, "chunk": _TEXT_OR_NONE, "line": (int, type(None))}
"""An ``error`` record may also carry ``traceback``: the cells' Lua frames (see :func:`frames`)."""

MAX_FRAMES = 20
"""Lua frames an ``error`` record carries."""

MAX_FRAME = 200
"""Characters of one Lua frame."""


def frames(record: dict[str, Any]) -> list[str]:
    """The ``traceback`` of an ``error`` record, bounded; :class:`ProtocolError` if mistyped."""
    value = record.get("traceback", [])
    if not isinstance(value, list) or not all(isinstance(frame, str) for frame in value):
        raise ProtocolError("error message has a mistyped 'traceback'")
    return [frame[:MAX_FRAME] for frame in value[:MAX_FRAMES]]


class ProtocolError(Exception):
    """A message that breaks the protocol (malformed, oversized, unknown, mistyped)."""


def one_line(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` on one line (whitespace runs become one space), at most ``limit`` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else f"{line[: limit - 1]}…"


_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def dump(message: dict[str, Any]) -> bytes:
    """One message as a line of bytes; :class:`ProtocolError` if it exceeds the limit."""
    return _line(_ENCODER.encode(message))


_RECORDS_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"), check_circular=False)


def dump_records(message: dict[str, Any]) -> bytes:
    """:func:`dump` of a ``tool_calls`` message, without looking for reference cycles: its
    records are made of fresh containers only (a cycle would still end in
    ``RecursionError``, never in a line)."""
    return _line(_RECORDS_ENCODER.encode(message))


_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _escapes_surrogate(line: bytes | bytearray) -> bool:
    """Whether the JSON ``line`` escapes a ``\\uD800``-``\\uDFFF`` code unit: a lone
    surrogate, or half of a pair, which a writer of UTF-8 never escapes. A candidate is an
    escape when an even number of backslashes stands before it (each candidate looks back
    only as far as the one before it: linear)."""
    previous = 0
    for match in _SURROGATE_ESCAPE.finditer(line):
        before = line[previous : match.start()]
        if (len(before) - len(before.rstrip(b"\\"))) % 2 == 0:
            return True
        previous = match.end()
    return False


def _visible(match: re.Match[str]) -> str:
    """A lone surrogate as JSON source for text that shows it: ``\\xNN`` for a byte that
    was not UTF-8 (decoded with ``surrogateescape``), ``\\uXXXX`` for any other."""
    code = ord(match.group())
    return f"\\\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\\\u{code:04x}"


def _line(text: str) -> bytes:
    try:
        line = text.encode("utf-8") + b"\n"
    except UnicodeEncodeError:  # a lone surrogate (a path's bytes that are not UTF-8): shown, never sent
        line = _SURROGATE.sub(_visible, text).encode("utf-8") + b"\n"
    if len(line) > MAX_MESSAGE:
        raise ProtocolError(f"message too large ({len(line)} bytes; the limit is {MAX_MESSAGE})")
    _check_values(line)
    return line


_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_STRING = re.compile(rb'"[^"]*"')


def _check_values(line: bytes | bytearray) -> None:
    """:class:`ProtocolError` if the JSON ``line`` holds more than :data:`MAX_VALUES`
    values and keys. Each but the first follows a ``,``, ``:``, ``[`` or ``{``: those
    bytes are counted at C speed, and again without the strings' own only when the first
    count is over the limit: escapes are dropped first, so each ``"`` opens or closes a
    string as JSON reads it up to its first error, and no search scans past a closing
    quote (linear; nothing is parsed)."""
    if len(line) <= MAX_VALUES:
        return
    marks = (b",", b":", b"[", b"{")
    if sum(map(line.count, marks)) <= MAX_VALUES:
        return
    bare = _STRING.sub(b"", _ESCAPE.sub(b"", line))
    if sum(map(bare.count, marks)) > MAX_VALUES:
        raise ProtocolError(f"message holds more than {MAX_VALUES:,} values")


class Decoder:
    """Splits a byte stream into checked messages, fed in pieces as they arrive.

    :meth:`feed` the bytes, take messages with :meth:`next` until it returns ``None``,
    and call :meth:`end` when the stream ends.
    """

    def __init__(self, schemas: dict[str, dict[str, Any]]) -> None:
        self._schemas = schemas
        self._buffer = bytearray()
        self._scanned = 0  # bytes at the start of the buffer known to hold no newline
        self._skipping = False

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def next(self) -> dict[str, Any] | None:
        """The next complete message, ``None`` until more bytes arrive; :class:`ProtocolError`
        if it is malformed or larger than :data:`MAX_MESSAGE`."""
        while (end := self._buffer.find(b"\n", self._scanned)) >= 0:
            if end >= MAX_MESSAGE and not self._skipping:
                raise ProtocolError(f"message larger than {MAX_MESSAGE} bytes")
            message = None if self._skipping else _parse(self._buffer[:end], self._schemas)
            self._scanned = 0  # before the buffer shrinks: a stale offset would skip a newline
            del self._buffer[: end + 1]
            self._skipping = False
            if message is not None:
                return message
        if self._skipping:
            self._buffer.clear()
        elif len(self._buffer) >= MAX_MESSAGE:
            raise ProtocolError(f"message larger than {MAX_MESSAGE} bytes")
        self._scanned = len(self._buffer)
        return None

    def resync(self) -> None:
        """Drop everything up to the next newline: bytes of the stream were lost."""
        self._skipping = True

    def end(self) -> None:
        """The stream ended: :class:`ProtocolError` if it cut a message off."""
        if self._buffer and not self._skipping:
            raise ProtocolError("message cut off by the end of the stream")


_LARGE = 1024 * 1024
"""Bytes from which a message is parsed with the garbage collector paused."""


def _parse(line: bytearray, schemas: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if schemas is FROM_WORKER:  # the untrusted side; the worker does not check the kernel's again
        _check_values(line)
        if b"\\" in line and _escapes_surrogate(line):
            raise ProtocolError("message holds an escaped surrogate, which is not text (peers write UTF-8)")
    try:
        text = line.decode("utf-8")  # strict: JSON's own decoding lets encoded surrogates through
    except UnicodeDecodeError as error:
        raise ProtocolError(f"message is not UTF-8 ({error.reason} at byte {error.start})") from None
    # JSON makes no reference cycles: collections while a large value is built find nothing.
    paused = len(line) >= _LARGE and gc.isenabled()
    if paused:
        gc.disable()
    try:
        message = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise ProtocolError(f"message is not JSON ({error})") from None
    finally:
        if paused:
            gc.enable()
    return check(message, schemas)


def check(message: Any, schemas: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``message`` if it is an object of a known type whose fields have the right types."""
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ProtocolError("message is not an object with a string 'type'")
    fields = schemas.get(message["type"])
    if fields is None:
        raise ProtocolError(f"unknown message type {message['type']!r}")
    check_fields(message, fields, message["type"])
    return message


def check_fields(record: dict[str, Any], fields: dict[str, Any], what: str) -> None:
    """Every field of ``fields`` present in ``record`` with an allowed type."""
    for name, kind in fields.items():
        if name not in record:
            raise ProtocolError(f"{what} message lacks {name!r}")
        if kind is not WIRE and not isinstance(record[name], kind):
            raise ProtocolError(f"{what} message has a mistyped {name!r}")
