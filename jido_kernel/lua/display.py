"""How a Lua cell's return values are shown.

Scalars stay plain Python values. A table (``list`` or ``dict``) is wrapped in
:class:`LuaTable`, shown as a Lua table constructor (``text/plain``) and as an HTML
table (``text/html``, styled with JupyterLab's CSS variables so light and dark themes
both read well). A list of records (tables with the same string keys, such as
``jido.list_dir`` results) becomes one row per record.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

from .values import LuaOpaque, is_identifier

WIDTH = 80
MAX_ROWS = 200
MAX_HTML_DEPTH = 3
MAX_COLUMNS = 20

_TABLE_STYLE = (
    "border-collapse: collapse; font-family: var(--jp-code-font-family, monospace); "
    "font-size: var(--jp-code-font-size, 13px); color: var(--jp-content-font-color1, inherit);"
)
_CELL_STYLE = (
    "border: 1px solid var(--jp-border-color2, #ccc); padding: 2px 6px; text-align: left; vertical-align: top;"
)
_HEAD_STYLE = _CELL_STYLE + " background: var(--jp-layout-color2, #f0f0f0); font-weight: bold;"


def display_value(values: Sequence[Any]) -> Any:
    """What a cell shows for its return ``values``: ``None`` for none, the value itself
    (tables wrapped in :class:`LuaTable`), or :class:`LuaValues` for several."""
    shown = [LuaTable(value) if isinstance(value, (list, dict)) else value for value in values]
    if not shown:
        return None
    return shown[0] if len(shown) == 1 else LuaValues(shown)


class LuaValues(tuple):  # type: ignore[type-arg]
    """Several values returned by a chunk: a plain ``tuple``, shown as Lua writes them
    (``nil, "Security error: …"``)."""

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(", ".join(repr(v) if isinstance(v, LuaTable) else _scalar(v) for v in self))

    def _repr_html_(self) -> str | None:
        if not any(isinstance(v, LuaTable) for v in self):
            return None
        return "".join(
            html_table(v.value) if isinstance(v, LuaTable) else f"<pre>{html.escape(_scalar(v))}</pre>"
            for v in self
        )


class LuaTable:
    """A Lua table returned by a cell; ``value`` is its plain data (``list`` or ``dict``)."""

    def __init__(self, value: list[Any] | dict[Any, Any]) -> None:
        self.value = value

    def __repr__(self) -> str:
        return lua_repr(self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LuaTable) and other.value == self.value

    __hash__ = None  # type: ignore[assignment]

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": lua_repr(self.value), "text/html": html_table(self.value)}


# -- text/plain ----------------------------------------------------------------------------


def lua_repr(value: Any, level: int = 0) -> str:
    """``value`` written as a Lua constructor: one line when it fits, else one entry per line."""
    if not isinstance(value, (list, dict)):
        return _scalar(value)
    if isinstance(value, list):
        parts = [lua_repr(item, level + 1) for item in value]
    else:
        parts = [f"{_key(key)} = {lua_repr(item, level + 1)}" for key, item in value.items()]
    if not parts:
        return "{}"
    flat = "{" + ", ".join(parts) + "}"
    if "\n" not in flat and 2 * level + len(flat) <= WIDTH:
        return flat
    inner = "  " * (level + 1)
    return "{\n" + "".join(f"{inner}{part},\n" for part in parts) + "  " * level + "}"


def _key(key: Any) -> str:
    return key if is_identifier(key) else f"[{_scalar(key)}]"


def _scalar(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "0/0"
        if math.isinf(value):
            return "math.huge" if value > 0 else "-math.huge"
        return repr(value)
    if isinstance(value, str):
        return _quote(value.encode("utf-8"), keep_utf8=True)
    if isinstance(value, bytes):
        return _quote(value, keep_utf8=False)
    if isinstance(value, LuaOpaque):
        return value.description
    return repr(value)


_ESCAPES = {ord("\\"): "\\\\", ord('"'): '\\"', ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}


def _quote(data: bytes, *, keep_utf8: bool) -> str:
    """A Lua string literal; non-printable bytes as ``\\xHH`` (and all non-ASCII for bytes)."""
    if keep_utf8:
        text = data.decode("utf-8")
        out = [_ESCAPES.get(ord(ch)) or (f"\\x{ord(ch):02x}" if ord(ch) < 32 or ord(ch) == 127 else ch) for ch in text]
    else:
        out = [_ESCAPES.get(byte) or (chr(byte) if 32 <= byte < 127 else f"\\x{byte:02x}") for byte in data]
    return '"' + "".join(out) + '"'


# -- text/html -----------------------------------------------------------------------------


def html_table(value: Any, depth: int = 0) -> str:
    """``value`` as an HTML table (nested tables nest, up to a few levels)."""
    if not isinstance(value, (list, dict)):
        return f"<code>{html.escape(_scalar(value))}</code>"
    if depth >= MAX_HTML_DEPTH:
        return f"<code>{html.escape(lua_repr(value))}</code>"
    if not value:
        return "<code>{}</code>"
    columns = _record_columns(value)
    if columns is not None:
        head = "".join(_cell(html.escape(column), head=True) for column in ["#", *columns])
        rows = [
            _row(str(index), *(_html_item(record.get(column), depth) for column in columns))
            for index, record in enumerate(value[:MAX_ROWS], 1)
        ]
    else:
        label = "#" if isinstance(value, list) else "key"
        head = _cell(label, head=True) + _cell("value", head=True)
        items = list(enumerate(value, 1)) if isinstance(value, list) else list(value.items())
        rows = [_row(html.escape(_key_text(key)), _html_item(item, depth)) for key, item in items[:MAX_ROWS]]
    more = len(value) - MAX_ROWS
    if more > 0:
        rows.append(f'<tr><td colspan="99" style="{_CELL_STYLE}">… {more} more</td></tr>')
    body = "".join(rows)
    return (
        f'<table class="jido-lua-table" style="{_TABLE_STYLE}">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _record_columns(value: list[Any] | dict[Any, Any]) -> list[str] | None:
    """Column names when ``value`` is a list of records with string keys."""
    if not isinstance(value, list) or not all(isinstance(item, dict) and item for item in value):
        return None
    columns: dict[str, None] = {}
    for record in value:
        for key in record:
            if not isinstance(key, str):
                return None
            columns[key] = None
    return list(columns) if len(columns) <= MAX_COLUMNS else None


def _key_text(key: Any) -> str:
    return str(key) if isinstance(key, (int, str)) and not isinstance(key, bool) else _scalar(key)


def _html_item(item: Any, depth: int) -> str:
    if item is None:
        return ""
    return html_table(item, depth + 1)


def _row(*cells: str) -> str:
    return "<tr>" + "".join(_cell(cell) for cell in cells) + "</tr>"


def _cell(content: str, *, head: bool = False) -> str:
    tag = "th" if head else "td"
    return f'<{tag} style="{_HEAD_STYLE if head else _CELL_STYLE}">{content}</{tag}>'
