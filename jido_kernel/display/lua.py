"""How a Lua cell's return values are shown.

Scalars stay plain Python values. A table (``list`` or ``dict``) is wrapped in
:class:`LuaTable`, shown as a Lua table constructor (``text/plain``) and as an HTML
table (``text/html``, styled by ``jido.css``). A list of records (tables with string
keys, such as ``jido.list_dir`` results) becomes one row per record (the rows shown
decide the columns). A multi-line
string is shown as text: a ``<pre>``, and a long string ``[[…]]`` in Lua constructors.

Renderings are bounded like IPython's reprs: :data:`MAX_DEPTH` levels, :data:`MAX_ITEMS`
entries per table, :data:`MAX_STRING` characters per string and a total of
:data:`MAX_REPR_CHARS` (text) or :data:`MAX_HTML_CHARS` (HTML); what is left out is
named by a marker (``--[[ 12 more ]]``, ``… 3.2 MB more``).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from itertools import chain
from typing import Any

from jido_kernel.display.html import page
from jido_kernel.lua.wire import LuaOpaque, is_identifier
from jido_kernel.text import clip, size_text, terminal_safe

WIDTH = 80
MAX_ROWS = 200
MAX_HTML_DEPTH = 3
MAX_COLUMNS = 20
MAX_DEPTH = 20
MAX_ITEMS = 1000
MAX_STRING = 10_000
MAX_REPR_CHARS = 200_000
MAX_HTML_CHARS = 500_000
_is_dict = dict.__instancecheck__
_is_str = str.__instancecheck__


class _Budget:
    """Characters a rendering may still produce."""

    __slots__ = ("left",)

    def __init__(self, chars: int) -> None:
        self.left = chars

    def take(self, text: str) -> str:
        self.left -= len(text)
        return text


def display_value(values: Sequence[Any]) -> Any:
    """What a cell shows for its return ``values``: ``None`` for none, the value itself
    (tables wrapped in :class:`LuaTable`), or :class:`LuaValues` for several."""
    shown = [_shown(value) for value in values]
    if not shown:
        return None
    return shown[0] if len(shown) == 1 else LuaValues(shown)


def _shown(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return LuaTable(value)
    if isinstance(value, str) and "\n" in value:
        return LuaText(value)
    return value


class LuaText(str):
    """A multi-line string returned by a cell (a plain ``str``), shown as text: no quotes
    or escapes, a ``<pre>`` in HTML, at most :data:`MAX_REPR_CHARS` characters shown."""

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(terminal_safe(clip(str(self), MAX_REPR_CHARS)))

    def _repr_html_(self) -> str:
        return page("lua", f'<pre class="jido-lua-text">{html.escape(clip(str(self), MAX_REPR_CHARS))}</pre>')


class LuaValues(tuple[Any, ...]):
    """Several values returned by a chunk: a plain ``tuple``, shown as Lua writes them
    (``nil, "Security error: …"``)."""

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        budget = _Budget(MAX_REPR_CHARS)
        parts = _bounded(self, budget, lambda v: _repr(v.value if isinstance(v, LuaTable) else v, 0, budget))
        p.text(clip(", ".join(parts), MAX_REPR_CHARS))

    def _repr_html_(self) -> str | None:
        if not any(isinstance(v, LuaTable) for v in self):
            return None
        budget = _Budget(MAX_HTML_CHARS)

        def one(v: Any) -> str:
            if isinstance(v, LuaTable):
                return _html(v.value, 0, budget)
            return budget.take(f"<pre>{html.escape(_scalar(v))}</pre>")

        return page("lua", _html_within("".join(_bounded(self, budget, one)), self))


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
        return {"text/plain": lua_repr(self.value), "text/html": page("lua", html_table(self.value))}


def _bounded(values: Sequence[Any], budget: _Budget, render: Any) -> list[str]:
    """``render(value)`` of each value while ``budget`` lasts, then a marker for the rest."""
    parts: list[str] = []
    for index, value in enumerate(values):
        if budget.left <= 0:
            parts.append(f"--[[ {len(values) - index} more values ]]")
            break
        parts.append(render(value))
    return parts


# -- text/plain ----------------------------------------------------------------------------


def lua_repr(value: Any, level: int = 0) -> str:
    """``value`` written as a Lua constructor: one line when it fits, else one entry per line.

    At most :data:`MAX_REPR_CHARS` characters; what is left out is marked.
    """
    return clip(_repr(value, level, _Budget(MAX_REPR_CHARS)), MAX_REPR_CHARS)


def _repr(value: Any, level: int, budget: _Budget) -> str:
    if not isinstance(value, (list, dict)):
        return budget.take(_long_string(value) or _scalar(value))
    if not value:
        return "{}"
    if level >= MAX_DEPTH:
        return budget.take(f"{{--[[ {len(value)} entries, nested too deep ]]}}")
    entries = enumerate(value) if isinstance(value, list) else value.items()
    parts: list[str] = []
    for index, (key, item) in enumerate(entries):
        if index >= MAX_ITEMS or budget.left <= 0:
            parts.append(f"--[[ {len(value) - index} more ]]")
            break
        text = _repr(item, level + 1, budget)
        parts.append(text if isinstance(value, list) else f"{budget.take(_key(key))} = {text}")
    flat = "{" + ", ".join(parts) + "}"
    if "\n" not in flat and 2 * level + len(flat) <= WIDTH:
        return flat
    inner = "  " * (level + 1)
    return "{\n" + "".join(f"{inner}{part},\n" for part in parts) + "  " * level + "}"


def _key(key: Any) -> str:
    return key if is_identifier(key) else f"[{_scalar(key)}]"


def scalar_repr(value: Any) -> str:
    """A scalar as Lua writes it, strings quoted (see :func:`_scalar`)."""
    return _scalar(value)


def _scalar(value: Any) -> str:
    """A scalar as Lua writes it; long strings are cut at :data:`MAX_STRING` with a marker."""
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
    if isinstance(value, (str, bytes)):
        more = len(value) - MAX_STRING
        text = value[:MAX_STRING]
        quoted = _quote(text)
        return quoted if more <= 0 else f"{quoted} --[[ {size_text(more)} more ]]"
    if isinstance(value, LuaOpaque):
        return terminal_safe(clip(value.description, 200))
    return terminal_safe(clip(repr(value), 200))


_LONG_LEVELS = 8


def _long_string(value: Any) -> str | None:
    """A multi-line string as a Lua long string (``[[…]]``, shown as the text reads), or
    ``None`` when it is not one or holds control characters other than tab."""
    if not isinstance(value, str) or "\n" not in value:
        return None
    text = value[:MAX_STRING]
    if any((ord(ch) < 32 and ch not in "\n\t") or 127 <= ord(ch) < 160 for ch in text):
        return None
    for level in range(_LONG_LEVELS):
        close = "]" + "=" * level + "]"
        if close not in text + "]":
            more = len(value) - len(text)
            tail = f" --[[ {size_text(more)} more ]]" if more > 0 else ""
            return f"[{'=' * level}[\n{text}{close}{tail}"
    return None


_ESCAPES = {ord("\\"): "\\\\", ord('"'): '\\"', ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}


def _quote(data: str | bytes) -> str:
    """A Lua string literal; control characters (C0, DEL, C1) as ``\\xHH`` bytes (and all
    non-ASCII for bytes)."""
    if isinstance(data, str):
        out = [_ESCAPES.get(ord(ch)) or (_hex(ch) if ord(ch) < 32 or 127 <= ord(ch) < 160 else ch) for ch in data]
    else:
        out = [_ESCAPES.get(byte) or (chr(byte) if 32 <= byte < 127 else f"\\x{byte:02x}") for byte in data]
    return '"' + "".join(out) + '"'


def _hex(ch: str) -> str:
    return "".join(f"\\x{byte:02x}" for byte in ch.encode("utf-8", "surrogatepass"))


# -- text/html -----------------------------------------------------------------------------


def html_table(value: Any, depth: int = 0) -> str:
    """``value`` as an HTML table (nested tables nest, up to a few levels), at most
    :data:`MAX_HTML_CHARS` characters."""
    return _html_within(_html(value, depth, _Budget(MAX_HTML_CHARS)), value)


def _html_within(page: str, value: Any) -> str:
    """``page``, or the text rendering when the last row or cell overshot the budget."""
    if len(page) <= MAX_HTML_CHARS + MAX_HTML_CHARS // 10:
        return page
    text = lua_repr(value.value) if isinstance(value, LuaTable) else lua_repr(value)
    return f"<pre>{html.escape(clip(text, MAX_HTML_CHARS // 6))}</pre>"


def _html(value: Any, depth: int, budget: _Budget) -> str:
    if isinstance(value, str) and "\n" in value:
        text = clip(value, MAX_STRING)
        return budget.take(f'<pre class="jido-lua-text">{html.escape(text)}</pre>')
    if not isinstance(value, (list, dict)):
        return budget.take(f"<code>{html.escape(_scalar(value))}</code>")
    if depth >= MAX_HTML_DEPTH:
        return budget.take(f"<code>{html.escape(_repr(value, 0, budget))}</code>")
    if not value:
        return "<code>{}</code>"
    columns = _record_columns(value)
    rows: list[str] = []
    if columns is not None:
        head = "".join(_cell(html.escape(column), head=True) for column in ["#", *columns])
        for index, record in enumerate(value[:MAX_ROWS], 1):
            if budget.left <= 0:
                break
            cells = (_html_item(record.get(column), depth, budget) for column in columns)
            rows.append(budget.take(_row(str(index), *cells)))
    else:
        label = "#" if isinstance(value, list) else "key"
        head = _cell(label, head=True) + _cell("value", head=True)
        items = enumerate(value, 1) if isinstance(value, list) else iter(value.items())
        for _, (key, item) in zip(range(MAX_ROWS), items, strict=False):
            if budget.left <= 0:
                break
            rows.append(budget.take(_row(html.escape(_key_text(key)), _html_item(item, depth, budget))))
    more = len(value) - len(rows)
    if more > 0:
        rows.append(f'<tr><td colspan="99">… {more} more</td></tr>')
    body = "".join(rows)
    return f'<table class="jido-lua-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _record_columns(value: list[Any] | dict[Any, Any]) -> list[str] | None:
    """Column names when the rows shown of ``value`` (the first :data:`MAX_ROWS`) are
    records with string keys; what is not shown is not looked at, as IPython's reprs do."""
    if not isinstance(value, list):
        return None
    shown = value[:MAX_ROWS]
    if not all(map(_is_dict, shown)) or not all(shown):
        return None
    columns = dict.fromkeys(chain.from_iterable(shown))  # the keys of the rows shown, in order of appearance
    if not all(map(_is_str, columns)):
        return None
    return list(columns) if len(columns) <= MAX_COLUMNS else None


def _key_text(key: Any) -> str:
    return str(key) if isinstance(key, (int, str)) and not isinstance(key, bool) else _scalar(key)


def _html_item(item: Any, depth: int, budget: _Budget) -> str:
    if item is None:
        return ""
    return _html(item, depth + 1, budget)


def _row(*cells: str) -> str:
    return "<tr>" + "".join(_cell(cell) for cell in cells) + "</tr>"


def _cell(content: str, *, head: bool = False) -> str:
    tag = "th" if head else "td"
    return f"<{tag}>{content}</{tag}>"
