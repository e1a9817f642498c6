"""Line windows over text, and jido_code's line-numbered agent format."""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Iterable

DEFAULT_LIMIT = 2000
MAX_LINE_CHARS = 2000
TRUNCATED = " [truncated]"
_NUMBERED_AS_BYTES = 64 * 1024

_LINE = re.compile(r"[^\n]*\n|[^\n]+")


def check_window(offset: int | None, limit: int | None) -> None:
    """Raise ``TypeError``/``ValueError`` for an unusable ``offset`` or ``limit``."""
    if offset is not None and not isinstance(offset, int):
        raise TypeError(f"offset must be an int, not {type(offset).__name__}")
    if limit is not None and not isinstance(limit, int):
        raise TypeError(f"limit must be an int, not {type(limit).__name__}")
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be 0 or more, got {limit}")


def _window(offset: int | None, limit: int | None, default_limit: int | None) -> tuple[int, int | None]:
    check_window(offset, limit)
    start = max(0, (offset if offset is not None else 1) - 1)
    return start, (limit if limit is not None else default_limit)


def number_lines(text: str, offset: int | None = None, limit: int | None = None) -> str:
    """``"%*d→line"`` per line, width ``max(6, digits of the line count)``.

    Lines split on ``\\r?\\n``, and a final line ending ends the last line (a file of two
    lines gives lines 1 and 2); ``offset`` is 1-based (default 1; values below 1 count as
    1), ``limit`` defaults to 2000 lines; numbers stay those of the whole text. Lines
    longer than 2000 characters keep 2000 and gain ``" [truncated]"``. An empty text
    is one empty line: ``"     1→"``.
    """
    start, count = (0, DEFAULT_LIMIT) if offset is None and limit is None else _window(offset, limit, DEFAULT_LIMIT)
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    lines = text.split("\n")  # splits as \r?\n does: a lone \r stays in its line
    if len(lines) > 1 and not lines[-1]:
        lines.pop()
    total = len(lines)
    stop = total if count is None else min(total, start + count)
    window = lines[start:stop] if start or stop < total else lines
    # No line of a text of at most MAX_LINE_CHARS characters can be longer.
    if len(text) > MAX_LINE_CHARS and max(map(len, window), default=0) > MAX_LINE_CHARS:
        window = [line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + TRUNCATED for line in window]
    if not start and total <= DEFAULT_LIMIT:  # from line 1 of a text of at most 2000 lines (width 6)
        return _template(stop) % tuple(window)
    return "\n".join(map(operator.add, _prefixes(start + 1, stop + 1, max(6, len(str(total)))), window))


@functools.lru_cache(maxsize=8)
def _template(lines: int) -> str:
    """The numbered form of lines 1 to ``lines`` (at most 2000), each line a ``%s`` (the
    prefixes hold no ``%``)."""
    return "\n".join(prefix + "%s" for prefix in _first_prefixes()[:lines])


def _prefixes(first: int, stop: int, width: int) -> Iterable[str]:
    """The ``"%*d→"`` prefixes of lines ``first`` to ``stop - 1``."""
    if width == 6 and stop <= DEFAULT_LIMIT + 1:
        return _first_prefixes()[first - 1 : stop - 1]
    return map(f"{{:>{width}}}→".format, range(first, stop))


@functools.cache
def _first_prefixes() -> list[str]:
    """The prefixes of lines 1 to 2000 (a default window from the start)."""
    return [f"{number:>6}→" for number in range(1, DEFAULT_LIMIT + 1)]


def number_lines_utf8(data: bytes, offset: int | None = None, limit: int | None = None) -> bytes:
    """:func:`number_lines` of the text ``data`` holds (invalid UTF-8 replaced), as UTF-8.

    Valid UTF-8 of at most 64 KiB in at most 2000 lines of at most 2000 bytes, numbered
    from line 1, is numbered as bytes (larger texts seldom fit in the default window);
    other text goes through ``str``."""
    if offset is None and limit is None and len(data) <= _NUMBERED_AS_BYTES and b"\r" not in data:
        lines = data.split(b"\n")
        if len(lines) > 1 and not lines[-1]:
            lines.pop()
        short = len(data) <= MAX_LINE_CHARS or max(map(len, lines)) <= MAX_LINE_CHARS
        if short and len(lines) <= DEFAULT_LIMIT and _is_utf8(data):
            return _template_utf8(len(lines)) % tuple(lines)
    return number_lines(data.decode("utf-8", "replace"), offset, limit).encode("utf-8")


def line_window_utf8(data: bytes, offset: int | None = None, limit: int | None = None) -> bytes:
    """:func:`line_window` of the text ``data`` holds (invalid UTF-8 replaced), as UTF-8:
    valid UTF-8 without a window is ``data`` itself."""
    if offset is None and limit is None and _is_utf8(data):
        return data
    return line_window(data.decode("utf-8", "replace"), offset, limit).encode("utf-8")


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@functools.lru_cache(maxsize=8)
def _template_utf8(lines: int) -> bytes:
    """:func:`_template` as UTF-8 (the prefixes hold no ``%``)."""
    return _template(lines).encode("utf-8")


def line_window(text: str, offset: int | None = None, limit: int | None = None) -> str:
    """The lines ``offset`` (1-based) to ``offset + limit - 1`` of ``text``, line endings kept."""
    if offset is None and limit is None:
        return text
    start, count = _window(offset, limit, None)
    lines = _LINE.findall(text)
    return "".join(lines[start : None if count is None else start + count])
