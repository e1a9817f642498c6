"""Line windows over text, and jido_code's line-numbered agent format."""

from __future__ import annotations

import re

DEFAULT_LIMIT = 2000
MAX_LINE_CHARS = 2000
TRUNCATED = " [truncated]"

_NEWLINE = re.compile(r"\r?\n")
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
    start, count = _window(offset, limit, DEFAULT_LIMIT)
    lines = _NEWLINE.split(text)
    if len(lines) > 1 and not lines[-1]:
        lines.pop()
    width = max(6, len(str(len(lines))))
    stop = None if count is None else start + count
    out = []
    for number, line in enumerate(lines[start:stop], start + 1):
        if len(line) > MAX_LINE_CHARS:
            line = line[:MAX_LINE_CHARS] + TRUNCATED
        out.append(f"{number:>{width}}→{line}")
    return "\n".join(out)


def line_window(text: str, offset: int | None = None, limit: int | None = None) -> str:
    """The lines ``offset`` (1-based) to ``offset + limit - 1`` of ``text``, line endings kept."""
    if offset is None and limit is None:
        return text
    start, count = _window(offset, limit, None)
    lines = _LINE.findall(text)
    return "".join(lines[start : None if count is None else start + count])
