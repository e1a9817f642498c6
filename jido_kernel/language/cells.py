"""Which text of a cell is Lua: a ``%%lua`` cell's body, a ``%lua`` line's code, or a
whole cell of the Lua-first kernel (unless it starts with ``%``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

CELL_MAGIC = re.compile(r"[ \t]*%%lua\b[^\n]*\n")
LINE_MAGIC = re.compile(r"(?<!%)%lua[ \t]+")


@dataclass(frozen=True)
class LuaText:
    """Lua ``code`` of a cell and where it starts in the cell (``offset``)."""

    code: str
    offset: int
    magic: str  # "cell", "line" or "lua-first"


def lua_cell_body(cell: str) -> str | None:
    """The body of a ``%%lua`` cell, or None."""
    match = CELL_MAGIC.match(cell)
    return cell[match.end() :] if match else None


def lua_text(cell: str, cursor: int, *, lua_first: bool = False) -> LuaText | None:
    """The Lua text around ``cursor`` in ``cell``, or None when the cursor is in Python."""
    match = CELL_MAGIC.match(cell)
    if match:
        return LuaText(cell[match.end() :], match.end(), "cell") if cursor >= match.end() else None
    if lua_first and not cell.lstrip().startswith("%"):
        return LuaText(cell, 0, "lua-first")
    start = cell.rfind("\n", 0, cursor) + 1
    end = cell.find("\n", cursor)
    line = cell[start : len(cell) if end < 0 else end]
    found = next((m for m in LINE_MAGIC.finditer(line) if start + m.end() <= cursor), None)
    if found is None:
        return None
    return LuaText(line[found.end() :], start + found.end(), "line")
