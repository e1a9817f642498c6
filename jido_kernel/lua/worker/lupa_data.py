"""Conversion between lupa's Lua values and plain Python data (worker side).

Reading Lua tables uses only raw access (``lua_next`` through lupa's ``items()``): no
``__index``, ``__pairs`` or ``__tostring`` metamethod — no cell code — ever runs while a
value is converted. See :mod:`jido_kernel.lua.wire` for the rules.
"""

from __future__ import annotations

from typing import Any

from lupa.lua54 import LuaRuntime, lua_type

from jido_kernel.lua.errors import LuaValueError
from jido_kernel.lua.wire import MAX_DEPTH, MAX_ITEMS, LuaOpaque


def text(data: bytes) -> str | bytes:
    """A Lua string as ``str``, or as ``bytes`` when it is not valid UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


def to_lua(runtime: LuaRuntime, value: Any) -> Any:
    """A value lupa hands to Lua as plain data, from checked plain data
    (:func:`~jido_kernel.lua.wire.check_value`): strings as Lua strings, containers as
    fresh tables. Run with the Lua memory limit lifted (lupa cannot recover from an
    allocation failure while it builds a table)."""
    prepared = _prepare(value)
    if isinstance(prepared, (list, dict)):
        return runtime.table_from(prepared, recursive=True)
    return prepared


def _prepare(value: Any) -> Any:
    # Fresh containers everywhere: lupa's recursive table_from de-duplicates by id().
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, list):
        return [_prepare(item) for item in value]
    if isinstance(value, dict):
        return {_prepare(key): _prepare(item) for key, item in value.items()}
    return value


def from_lua(value: Any, *, strict: bool, name: str, max_items: int = MAX_ITEMS) -> Any:
    """Plain Python data for a Lua value (dict keys in :func:`order`).

    ``strict``: functions, coroutines, userdata and cycles raise :class:`LuaValueError`
    naming ``name``; otherwise they become :class:`LuaOpaque` placeholders. More than
    ``max_items`` table entries in all always raise.
    """
    reader = _Reader(strict, max_items)
    try:
        return reader.value(value, 0, frozenset())
    except _Refused as refused:
        where = name + "".join(f"[{key!r}]" for key in reversed(refused.keys))
        raise LuaValueError(f"Cannot convert {where} to Python: {refused.problem}.") from None


class _Refused(Exception):
    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.keys: list[Any] = []


class _Reader:
    def __init__(self, strict: bool, max_items: int) -> None:
        self.strict = strict
        self.max_items = max_items
        self.items = 0

    def value(self, value: Any, depth: int, path: frozenset[str]) -> Any:
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, bytes):
            return text(value)
        kind = lua_type(value) or "userdata"
        if kind == "table":
            return self.table(value, depth, path)
        problem = f"it is a Lua {kind}; only nil, booleans, numbers, strings and tables of those convert"
        return self.opaque(kind, f"<Lua {kind}>", problem)

    def opaque(self, kind: str, description: str, problem: str) -> LuaOpaque:
        if self.strict:
            raise _Refused(problem)
        return LuaOpaque(kind, description)

    def table(self, table: Any, depth: int, path: frozenset[str]) -> Any:
        address = repr(table)  # "<Lua table at 0x…>": lua_topointer, no metamethod
        if address in path:
            return self.opaque("table", "<Lua table (cycle)>", "the table contains itself")
        if depth >= MAX_DEPTH:
            problem = f"its tables nest more than {MAX_DEPTH} levels"
            return self.opaque("table", "<Lua table (nested too deeply)>", problem)
        entries = []
        for entry in table.items():
            self.items += 1
            if self.items > self.max_items:
                raise _Refused(f"it holds more than {self.max_items} table entries in total (too large to transfer)")
            entries.append(entry)
        inner = path | {address}
        count = len(entries)
        if all(type(key) is int and 1 <= key <= count for key, _ in entries):
            result: list[Any] = [None] * count
            for key, item in entries:
                result[key - 1] = self.child(key, item, depth, inner)
            return result
        keyed = sorted(((self.key(key), key, item) for key, item in entries), key=lambda entry: order(entry[0]))
        mapping: dict[Any, Any] = {}
        for shown, key, item in keyed:
            if shown in mapping:
                raise _Refused(_collision(shown, next(other for other in mapping if other == shown)))
            mapping[shown] = self.child(key, item, depth, inner)
        return mapping

    def child(self, key: Any, item: Any, depth: int, path: frozenset[str]) -> Any:
        try:
            return self.value(item, depth + 1, path)
        except _Refused as refused:
            refused.keys.append(text(key) if isinstance(key, bytes) else key)
            raise

    def key(self, key: Any) -> Any:
        if isinstance(key, (bool, int, float)):
            return key
        if isinstance(key, bytes):
            return text(key)
        kind = lua_type(key) or "userdata"
        where = repr(key).rsplit(" ", 1)[-1].rstrip(">")  # distinct keys stay distinct
        return self.opaque(
            kind, f"<Lua {kind} key {where}>", f"it has a {kind} key; table keys must be strings, numbers or booleans"
        )


def _collision(key: Any, other: Any) -> str:
    """Why two distinct Lua keys cannot both be Python dict keys (``true`` and ``1``)."""
    first, second = sorted((_lua_key(key), _lua_key(other)))  # only true/1 and false/0 collide
    return (
        f"its keys [{first}] and [{second}] are distinct in Lua but the same key in Python; "
        "use keys of one type (strings, or numbers) in one table"
    )


def _lua_key(key: Any) -> str:
    """A boolean or number key as Lua source shows it (``true``, ``1``, ``1.5``)."""
    if isinstance(key, bool):
        return "true" if key else "false"
    return repr(key)


def order(key: Any) -> tuple[int, Any, str]:
    """Sort key giving tables a stable order (Lua's traversal order varies between states):
    booleans, numbers, strings, byte strings, then the rest."""
    if isinstance(key, bool):
        return (0, int(key), "")
    if isinstance(key, (int, float)):
        return (1, key, "")
    if isinstance(key, str):
        return (2, 0, key)
    if isinstance(key, bytes):
        return (3, 0, key.decode("latin-1"))
    return (4, 0, repr(key))
