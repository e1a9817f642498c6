"""Plain data that crosses between Python and Lua, and its JSON wire form.

Python → Lua accepts ``None``, ``bool``, ``int`` (64-bit), ``float``, ``str``, ``bytes``,
and lists, tuples and dicts of those, nested (see :func:`check_value`). Lua → Python
gives ``None``, ``bool``, ``int``, ``float``, ``str`` (``bytes`` when a Lua string is not
valid UTF-8), and tables as ``list`` (keys exactly ``1..n``, so the empty table is
``[]``) or ``dict``. Lua's integer/float distinction is kept (``1`` vs ``1.0``).

Lua has no ``nil`` inside tables: ``None`` in a list leaves a hole (``[1, None, 3]``
comes back as ``{1: 1, 3: 3}``) and a dict entry whose value is ``None`` is dropped.

Values with no plain-data form (functions, coroutines, userdata, and in results a table
that contains itself) come back as :class:`LuaOpaque` placeholders in a run's return
values; pulling them as data (``pull``, ``outputs``) is an error instead.

The wire form is JSON: scalars and lists as themselves, dicts with string keys as
objects, and single-key ``"$"`` objects for the rest — ``{"$bytes": base64}``,
``{"$float": "inf"|"-inf"|"nan"}``, ``{"$map": [[key, value], ...]}`` (non-string keys,
or string keys starting with ``$``) and ``{"$lua": [kind, description]}``.

A list of records — tables with the same string keys and only scalars as values, such as
a query's rows — may cross from the worker in columns: ``{"$rows": [keys, columns]}``,
the distinct keys and one column of values per key, all of one length — a list of wire
scalars, ``{"$f64": base64}`` / ``{"$i64": base64}``, 64-bit floats or integers packed
in the machine's byte order (the worker runs beside the kernel), or ``{"$text": text}``,
strings joined by U+007F (DEL; none of them holds one) — which decodes to the list of
dicts the plain form gives. A list of numbers of one type (all integers or all floats)
may likewise cross packed, as ``{"$f64": base64}`` / ``{"$i64": base64}`` itself. The
worker's bulk reader builds them (:class:`Records`, a memoryview); the kernel accepts
them only in results and pulled values, and at most :data:`MAX_ROWS_ENTRIES` entries of
them per message (:class:`RowBudget`).
"""

from __future__ import annotations

import base64
import binascii
import functools
import gc
import math
import numbers
import operator
import re
import struct
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence, Set
from itertools import chain, compress, repeat

from jido_kernel.lua.errors import LuaValueError
from jido_kernel.values import FrozenValue

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    _RowBuilder = Callable[[list[str], Sequence[Sequence[Any]]], list[dict[str, Any]]]

MAX_DEPTH = 100
"""Deepest nesting of tables that crosses in either direction."""

MAX_ITEMS = 1_000_000
"""Most table entries one value may hold in total (every nesting level counted)."""

INT_MIN, INT_MAX = -(1 << 63), (1 << 63) - 1
OPAQUE_KINDS = frozenset({"function", "thread", "userdata", "table"})
LUA_KEYWORDS = frozenset(
    [
        "and",
        "break",
        "do",
        "else",
        "elseif",
        "end",
        "false",
        "for",
        "function",
        "goto",
        "if",
        "in",
        "local",
        "nil",
        "not",
        "or",
        "repeat",
        "return",
        "then",
        "true",
        "until",
        "while",
    ]
)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class LuaOpaque(FrozenValue):
    """A Lua value with no plain-data form: ``kind`` is its Lua type, ``description``
    what is shown (``<Lua function>``; ``<Lua table (cycle)>`` for a table met again
    inside itself)."""

    _fields = ("kind", "description")
    __slots__ = _fields
    kind: str
    description: str

    def __init__(self, kind: str, description: str) -> None:
        self._set(kind, description)

    def __repr__(self) -> str:
        return self.description


class WireError(ValueError):
    """Wire data that no well-behaved peer produces."""


MAX_ROWS_ENTRIES = MAX_ITEMS
"""Entries (each row and each of its fields) that the ``$rows`` forms of one message may
hold in all: a columnar form expands to more Python objects per byte than the plain form,
so what it may expand to is bounded by a count."""


class RowBudget:
    """What is left of :data:`MAX_ROWS_ENTRIES` for the ``$rows`` forms of one message,
    shared by its values."""

    __slots__ = ("left",)

    def __init__(self, entries: int = MAX_ROWS_ENTRIES) -> None:
        self.left = entries

    def take(self, rows: int, keys: int) -> bool:
        """True, and the entries taken, when ``rows`` rows of ``keys`` fields fit."""
        size = rows * (keys + 1)
        if size > self.left:
            return False
        self.left -= size
        return True


TEXT_SEPARATOR = "\x7f"
"""What joins the strings of a ``$text`` column: a character JSON writes as it is."""


class JoinedText:
    """A column of ``count`` strings joined by :data:`TEXT_SEPARATOR`, none holding it
    (sent as ``$text``; split only when the values are needed)."""

    __slots__ = ("count", "text")

    def __init__(self, text: str, count: int) -> None:
        self.text = text
        self.count = count

    def __len__(self) -> int:
        return self.count

    def values(self) -> list[str]:
        return self.text.split(TEXT_SEPARATOR)


class Records:
    """A list of ``len(columns[0])`` dicts held as columns (made by the worker's bulk
    reader): the distinct string ``keys`` in the order of the dicts' keys, and per key the
    values of every row, scalars (``bool``, ``int``, ``float``, ``str``, ``bytes``): a
    list, a memoryview of 64-bit integers or floats (``"q"``, ``"d"``), or strings as
    :class:`JoinedText`.
    :func:`encode` sends it as ``$rows`` while the message's :class:`RowBudget` lasts, and
    as the list of dicts after."""

    __slots__ = ("columns", "keys", "kinds")

    def __init__(
        self, keys: list[str], columns: Sequence[Sequence[Any] | JoinedText], kinds: list[set[type]] | None = None
    ) -> None:
        self.keys = keys
        self.columns = columns
        self.kinds = kinds  # the types of each column's values, when known

    def __len__(self) -> int:
        return len(self.columns[0])

    def __repr__(self) -> str:
        return f"<Records: {len(self)} rows of {self.keys!r}>"

    def rows(self) -> list[dict[str, Any]]:
        """The list of dicts."""
        return expand_rows(self.keys, self.values())

    def values(self) -> list[Sequence[Any]]:
        """The columns' values."""
        return [column.values() if isinstance(column, JoinedText) else column for column in self.columns]


_DISPLAYED_KEYS = 8


@functools.cache
def _row_builder(count: int) -> _RowBuilder:
    """A function building rows of ``count`` keys as dict displays, twice as fast as
    ``dict(zip(keys, row))``; its source is made from ``count`` alone (as dataclasses
    make their methods), never from any data."""
    names = [f"k{index}" for index in range(count)]
    items = ", ".join(f"k{index}: v{index}" for index in range(count))
    values = ", ".join(f"v{index}" for index in range(count))
    source = (
        f"def rows(keys, columns):\n"
        f"    {', '.join(names)}, = keys\n"
        f"    return [{{{items}}} for {values}, in zip(*columns, strict=True)]\n"
    )
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # the source above is fixed by count
    builder: _RowBuilder = namespace["rows"]
    return builder


def expand_rows(keys: list[str], columns: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """One dict per row from distinct ``keys`` and their equally long ``columns``, keys in
    the order given. The dicts hold no cycles: the collector is paused while they are made."""
    paused = gc.isenabled()
    gc.disable()
    try:
        if 0 < len(keys) <= _DISPLAYED_KEYS:
            return _row_builder(len(keys))(keys, columns)
        return list(map(dict, map(zip, repeat(keys), zip(*columns, strict=True))))
    finally:
        if paused:
            gc.enable()


def is_identifier(name: object) -> bool:
    """True for a Lua name (letters, digits, ``_``; not a keyword)."""
    return isinstance(name, str) and _IDENTIFIER.fullmatch(name) is not None and name not in LUA_KEYWORDS


def check_name(name: object) -> str:
    """``name`` if it can name a Lua global; else :class:`LuaValueError`."""
    if not is_identifier(name):
        raise LuaValueError(
            f"{name!r} is not a Lua variable name: use letters, digits and '_', not starting with a digit "
            "and not a Lua keyword."
        )
    return name  # type: ignore[return-value]


def check_value(value: Any, name: str) -> Any:
    """Return ``value`` as plain data Lua can hold, or raise :class:`LuaValueError`.

    Tuples become lists, other mappings dicts, ``bytearray`` bytes, integral and real
    numbers ``int`` and ``float``. ``name`` (the variable) is used in messages.
    """
    if type(value) in _CONTAINERS and _checked_tree(value):
        return value
    checker = _Checker(name)
    return checker.check(value, name, 0, frozenset())


def _checked_tree(value: list[Any] | dict[Any, Any]) -> bool:
    """True when ``value`` is already what :func:`check_value` makes of it: exact lists and
    dicts with ``str`` keys, holding scalars it returns unchanged (64-bit ints, valid
    Unicode), at most :data:`MAX_DEPTH` levels and :data:`MAX_ITEMS` items. Checked one
    nesting level at a time with C-speed builtins (no Python call per item); ``False``
    sends the value through the item-by-item check, which also says what is wrong."""
    level: list[Any] = [value]
    items = 0
    for _ in range(MAX_DEPTH):
        dicts = [item for item in level if type(item) is dict]
        lists = [item for item in level if type(item) is list]
        items += sum(map(len, dicts)) + sum(map(len, lists))
        if items > MAX_ITEMS:
            return False
        # Rows repeat their keys: each is checked once.
        keys = list(set(chain.from_iterable(dicts)) if len(dicts) > 1 else chain.from_iterable(dicts))
        if not set(map(type, keys)) <= {str} or not _checked_scalars(keys):
            return False
        values = list(_items(lists, dicts))
        kinds = set(map(type, values))
        containers = kinds & _CONTAINERS
        if containers != kinds:
            scalars = [item for item in values if type(item) not in _CONTAINERS] if containers else values
            if not _checked_scalars(scalars):
                return False
        if not containers:
            return True
        level = values if containers == kinds else [item for item in values if type(item) in _CONTAINERS]
    return False


class _Checker:
    def __init__(self, name: str) -> None:
        self.name = name
        self.items = 0

    def fail(self, where: str, problem: str) -> LuaValueError:
        return LuaValueError(f"Cannot pass {self.name!r} to Lua: {where} {problem}.")

    def check(self, value: Any, where: str, depth: int, path: frozenset[int]) -> Any:
        if value is None or isinstance(value, (bool, str)):
            if isinstance(value, str):
                _check_text(value, lambda: self.fail(where, "contains a lone surrogate (not valid Unicode)"))
            return value
        if isinstance(value, numbers.Integral):
            number = int(value)
            if not INT_MIN <= number <= INT_MAX:
                raise self.fail(where, f"is {number}, beyond Lua's 64-bit integers; pass it as a float or a string")
            return number
        if isinstance(value, numbers.Real):
            return float(value)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
        if isinstance(value, (list, tuple, Mapping)):
            if depth >= MAX_DEPTH:
                raise self.fail(where, f"is nested more than {MAX_DEPTH} levels deep")
            if id(value) in path:
                raise self.fail(where, "contains itself (Lua tables passed in must not form cycles)")
            inner = path | {id(value)}
            self.items += len(value)
            if self.items > MAX_ITEMS:
                raise self.fail(where, f"holds more than {MAX_ITEMS} items in total")
            if isinstance(value, Mapping):
                return self.mapping(value, where, depth, inner)
            if _checked_scalars(value):
                return list(value)
            return [self.check(item, f"{where}[{index}]", depth + 1, inner) for index, item in enumerate(value)]
        raise self.fail(
            where,
            f"is a Python {type(value).__name__}; use None, bool, int, float, str, bytes, "
            "or lists, tuples and dicts of those",
        )

    def mapping(self, value: Mapping[Any, Any], where: str, depth: int, path: frozenset[int]) -> dict[Any, Any]:
        """A checked dict; two keys that are one Lua key (``"a"`` and ``b"a"``) raise."""
        # Distinct valid str keys are distinct Lua keys: a dict of str keys and plain scalars passes as it is.
        keys = list(value)
        if set(map(type, keys)) <= {str} and _checked_scalars(keys) and _checked_scalars(list(value.values())):
            return dict(value)
        result: dict[Any, Any] = {}
        seen: dict[Any, Any] = {}
        for key, item in value.items():
            checked = self.key(key, where)
            same = seen.setdefault(_lua_identity(checked), key)
            if same is not key:
                raise self.fail(where, f"has keys {same!r} and {key!r}, which are the same key in Lua")
            result[checked] = self.check(item, f"{where}[{key!r}]", depth + 1, path)
        return result

    def key(self, key: Any, where: str) -> Any:
        if isinstance(key, float) and math.isnan(key):
            raise self.fail(where, "has a NaN key (Lua tables cannot hold one)")
        if key is None or not isinstance(key, (str, bytes, numbers.Real)):
            raise self.fail(where, f"has a Python {type(key).__name__} key; use str, bytes, int, float or bool keys")
        return self.check(key, f"{where} key {key!r}", 0, frozenset())


_SCALARS = frozenset({int, float, str, bool, type(None)})


def _checked_scalars(items: list[Any] | tuple[Any, ...]) -> bool:
    """True when every item is an exact ``None``/``bool``/``int``/``float``/``str`` that
    :meth:`_Checker.check` would return unchanged (64-bit ints, valid Unicode): the fast
    path for long arrays, at C speed. ``False`` sends the items through the full check."""
    types = set(map(type, items))
    if not types <= _SCALARS:
        return False
    if int in types:
        ints = [item for item in items if type(item) is int]
        if min(ints) < INT_MIN or max(ints) > INT_MAX:
            return False
    if str in types:
        try:
            "".join(items if types == {str} else [item for item in items if type(item) is str]).encode("utf-8")
        except UnicodeEncodeError:
            return False
    return True


def _lua_identity(key: Any) -> tuple[str, Any]:
    """What makes a checked key distinct in a Lua table: strings are bytes, floats with an
    integer value are integers."""
    if isinstance(key, bool):
        return ("boolean", key)
    if isinstance(key, str):
        return ("string", key.encode("utf-8"))
    if isinstance(key, bytes):
        return ("string", key)
    if isinstance(key, float) and key.is_integer() and INT_MIN <= key < -float(INT_MIN):
        return ("number", int(key))
    return ("number", key)


def _check_text(text: str, error: Any) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise error() from None


# -- wire form -------------------------------------------------------------------------


_AS_IS = frozenset({int, str, bool, type(None)})
"""Types whose wire form is the value itself, whatever it is (exact types: no subclasses)."""
_NUMBERS = frozenset({int, float})
_STARTS_TAG = operator.methodcaller("startswith", "$")


def _as_is(items: Any) -> bool:
    """True when every item of ``items`` (a list, or a dict's values) is its own wire form:
    the fast path of :func:`encode` and :func:`decode`, checked at C speed (no call per item)."""
    types = set(map(type, items))
    if types <= _AS_IS:
        return True
    return types <= _NUMBERS and all(map(math.isfinite, items))


def _plain_keys(value: dict[Any, Any]) -> bool:
    """True when every key is a ``str`` not starting with ``$`` (an object's keys as is)."""
    return set(map(type, value)) <= {str} and not any(map(_STARTS_TAG, value))


_CONTAINERS = frozenset({list, dict})
_PLAIN = frozenset({list, dict, int, float, str, bool, type(None)})
_is_float = float.__instancecheck__


def _items(lists: list[list[Any]], dicts: list[dict[Any, Any]]) -> Iterator[Any]:
    """The items of ``lists`` and the values of ``dicts``, one after the other."""
    return chain(chain.from_iterable(lists), chain.from_iterable(map(dict.values, dicts)))


def _plain_tree(value: list[Any] | dict[Any, Any], *, finite: bool) -> bool:
    """True when no dict in ``value`` has a key other than a ``str`` not starting with
    ``$``, every value is a list, dict or JSON scalar (a finite float when ``finite``) and
    tables nest at most ``MAX_DEPTH + 1`` levels below it: then ``value`` is its own wire
    form and its own value. Checked one nesting level at a time with C-speed builtins
    (no Python call per item); ``False`` sends the value through the item-by-item path."""
    level: list[Any] = [value]
    level_kinds = {type(value)}
    for _ in range(MAX_DEPTH + 2):
        if level_kinds == {dict}:
            dicts, lists = level, []
        elif level_kinds == {list}:
            dicts, lists = [], level
        else:
            dicts = [item for item in level if type(item) is dict]
            lists = [item for item in level if type(item) is list]
        keys = set(chain.from_iterable(dicts))
        if not set(map(type, keys)) <= {str} or any(map(_STARTS_TAG, keys)):
            return False
        kinds = set(map(type, _items(lists, dicts)))
        if not kinds <= _PLAIN:
            return False
        if finite and float in kinds:
            floats = _items(lists, dicts) if kinds == {float} else filter(_is_float, _items(lists, dicts))
            if not math.isfinite(sum(floats)):
                return False  # (or finite floats whose sum overflows: the slow path decides)
        containers = kinds & _CONTAINERS
        if not containers:
            return True
        if kinds == containers:
            level = list(_items(lists, dicts))
        else:
            level = list(compress(_items(lists, dicts), map(_CONTAINERS.__contains__, map(type, _items(lists, dicts)))))
        level_kinds = containers
    return False


PACKED_FROM = 64
"""Numbers from which a list of one number type is sent packed (the worker's bulk reader
is given the same count): shorter lists are as short as JSON text."""


def encode(value: Any, rows: RowBudget | None = None) -> Any:
    """The JSON-ready wire form of a checked plain value (see the module docstring): while
    ``rows`` lasts, a :class:`Records` inside it is sent as ``$rows``, and the value itself
    packed when it is a list of at least :data:`PACKED_FROM` numbers of one type."""
    if rows is not None and type(value) is list and len(value) >= PACKED_FROM:
        kinds = frozenset(map(type, value))
        if kinds in _PACKED and rows.take(len(value), 0):
            return _encode_column(value, kinds)
    if type(value) in _CONTAINERS and _plain_tree(value, finite=True):
        return value
    return _encode(value, rows)


def _encode(value: Any, rows: RowBudget | None = None) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return {"$float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, list):
        return value if _as_is(value) else [_encode(item, rows) for item in value]
    if isinstance(value, dict):
        if _plain_keys(value):
            return value if _as_is(value.values()) else {key: _encode(item, rows) for key, item in value.items()}
        return {"$map": [[_encode(key), _encode(item, rows)] for key, item in value.items()]}
    if isinstance(value, LuaOpaque):
        return {"$lua": [value.kind, value.description]}
    if type(value) is memoryview and value.format in ("d", "q"):  # a list of numbers, packed
        if rows is None or not rows.take(len(value), 0):
            return _encode(value.tolist(), rows)
        return _encode_column(value, set())
    if isinstance(value, Records):
        if rows is None or not rows.take(len(value), len(value.keys)):
            return _encode(value.rows(), rows)
        kinds = value.kinds or [set(map(type, column)) for column in value.values()]
        return {"$rows": [list(value.keys), list(map(_encode_column, value.columns, kinds))]}
    raise TypeError(f"not plain data: {type(value).__name__}")


_PACKED = {frozenset({float}): ("$f64", "d"), frozenset({int}): ("$i64", "q")}
"""Columns of one number type, packed: a number's text is slow to write and to read."""


def _encode_column(column: Sequence[Any] | JoinedText, kinds: Set[type]) -> Any:
    """A column of :class:`Records` whose values have the types ``kinds``: packed
    (``$f64``, ``$i64``), joined (``$text``), else a list of wire scalars."""
    if isinstance(column, JoinedText):
        return {"$text": column.text}
    if type(column) is memoryview and column.format in ("d", "q"):
        return {"$f64" if column.format == "d" else "$i64": base64.b64encode(column).decode("ascii")}
    if type(column) is not list:
        column = list(column)
    packed = _PACKED.get(frozenset(kinds))
    if packed is not None:
        tag, code = packed
        return {tag: base64.b64encode(struct.pack(f"={len(column)}{code}", *column)).decode("ascii")}
    if kinds <= _AS_IS:
        return column
    return column if _as_is(column) else list(map(_encode, column))


def decode(data: Any, rows: RowBudget | None = None) -> Any:
    """The value of wire ``data``; :class:`WireError` for anything :func:`encode` never makes.

    ``$rows`` forms are accepted only with ``rows``, the budget of the message they came in.
    """
    if type(data) in _CONTAINERS and _plain_tree(data, finite=False):
        return data
    return _decode(data, 0, rows)


def _decode(data: Any, depth: int, rows: RowBudget | None = None) -> Any:
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if depth > MAX_DEPTH + 1:
        raise WireError("value nested too deeply")
    if isinstance(data, list):
        return data if _as_is(data) else [_decode(item, depth + 1, rows) for item in data]
    if not isinstance(data, dict):
        raise WireError(f"unexpected {type(data).__name__}")
    tags = [key for key in data if key.startswith("$")]
    if not tags:
        if _as_is(data.values()):
            return data
        return {key: _decode(item, depth + 1, rows) for key, item in data.items()}
    if len(data) != 1:
        raise WireError("a tagged value must have exactly one key")
    tag, body = tags[0], data[tags[0]]
    if tag == "$bytes" and isinstance(body, str):
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error:
            raise WireError("malformed $bytes") from None
    if tag == "$float" and body in ("inf", "-inf", "nan"):
        return float(body)
    if tag == "$lua" and isinstance(body, list) and len(body) == 2:
        kind, description = body
        if kind in OPAQUE_KINDS and isinstance(description, str):
            return LuaOpaque(kind, description)
    if tag == "$map" and isinstance(body, list):
        result: dict[Any, Any] = {}
        for pair in body:
            if not isinstance(pair, list) or len(pair) != 2:
                raise WireError("malformed $map entry")
            key = _decode(pair[0], depth + 1)
            if not isinstance(key, (str, bytes, int, float, LuaOpaque)):
                raise WireError(f"unusable key type {type(key).__name__}")
            if key in result:
                raise WireError(f"duplicate $map key {key!r}")
            result[key] = _decode(pair[1], depth + 1, rows)
        return result
    if tag == "$rows":
        return _decode_rows(body, depth, rows)
    if tag in _PACKED_TAGS:
        return _decode_numbers(tag, body, rows)
    raise WireError(f"unknown or malformed tag {tag!r}")


_PACKED_TAGS = frozenset({"$f64", "$i64"})


def _decode_numbers(tag: str, body: Any, rows: RowBudget | None) -> list[Any]:
    """The list of a ``$f64`` / ``$i64`` value (a list of numbers, packed), counted against
    the message's budget before its numbers are made."""
    if rows is None:
        raise WireError(f"a {tag} value where none is accepted")
    if type(body) is not str:
        raise WireError(f"malformed {tag}")
    numbers = _packed(tag, body)
    if not rows.take(len(numbers), 0):
        raise WireError(f"packed values of more than {MAX_ROWS_ENTRIES} entries in one message")
    return numbers.tolist()


_WIRE_SCALARS = frozenset({int, float, str, bool, type(None)})
_SCALAR_TAGS = frozenset({"$bytes", "$float"})


def _decode_rows(body: Any, depth: int, rows: RowBudget | None) -> list[dict[str, Any]]:
    """The list of dicts of a ``$rows`` form (at ``depth``: its dicts are one level below),
    checked whole before any dict is made: distinct string keys, one column per key, all of
    one length (at least 1) and within the message's budget (checked before a packed value
    is unpacked), values wire scalars."""
    if rows is None:
        raise WireError("a $rows value where none is accepted")
    if depth > MAX_DEPTH:
        raise WireError("value nested too deeply")
    if type(body) is not list or len(body) != 2 or type(body[0]) is not list or type(body[1]) is not list:
        raise WireError("malformed $rows: not [keys, columns]")
    keys, columns = body
    if not keys or set(map(type, keys)) != {str} or len(set(keys)) != len(keys):
        raise WireError("malformed $rows: its keys are not distinct strings")
    if len(columns) != len(keys):
        raise WireError("malformed $rows: not one column per key")
    values = list(map(_column, columns))
    count = len(values[0])
    if count == 0 or any(len(column) != count for column in values):
        raise WireError("malformed $rows: its columns are empty or of different lengths")
    if not rows.take(count, len(keys)):
        raise WireError(f"$rows values of more than {MAX_ROWS_ENTRIES} entries in one message")
    return expand_rows(keys, list(map(_values, values, repeat(depth))))


def _values(column: Sequence[Any] | JoinedText, depth: int) -> Sequence[Any]:
    """The values of a checked ``$rows`` column (:func:`_column`)."""
    if isinstance(column, JoinedText):
        return column.values()
    return column if type(column) is memoryview else _scalars(column, depth)


_COLUMN_TAGS = frozenset({"$f64", "$i64", "$text"})


def _column(column: Any) -> Sequence[Any] | JoinedText:
    """A ``$rows`` column, its length known without making its values: a list (its values
    checked by :func:`_scalars`), ``{"$f64": base64}`` / ``{"$i64": base64}`` of packed
    64-bit floats or integers, as a memoryview of them, or ``{"$text": text}`` of strings
    joined by :data:`TEXT_SEPARATOR`; anything else is refused."""
    if type(column) is list:
        return column
    if type(column) is not dict:
        raise WireError("malformed $rows: a column that is neither a list nor $f64, $i64 or $text")
    tag = next(iter(column), None)
    if len(column) != 1 or tag not in _COLUMN_TAGS or type(column[tag]) is not str:
        raise WireError("malformed $rows: a column that is neither a list nor $f64, $i64 or $text")
    if tag == "$text":
        return JoinedText(column[tag], column[tag].count(TEXT_SEPARATOR) + 1)
    return _packed(tag, column[tag])


def _packed(tag: str, body: str) -> memoryview[Any]:
    """The 64-bit floats (``$f64``) or integers (``$i64``) packed in base64 ``body``.

    Every NaN is ``float("nan")``, as the plain form's ``{"$float": "nan"}`` gives it:
    the packed bits would keep a NaN's sign and payload (Lua's ``0/0`` is a negative NaN
    on x86), so ``math.copysign`` and ``struct.pack`` would tell the two forms apart."""
    try:
        data = base64.b64decode(body, validate=True)
    except binascii.Error:
        raise WireError(f"malformed {tag}") from None
    if len(data) % 8:
        raise WireError(f"malformed {tag}: not a whole number of 8-byte values")
    if tag == "$i64":
        return memoryview(data).cast("q")
    floats = memoryview(data).cast("d")
    if floats != floats:  # a NaN (never equal to itself, compared at C speed): make each one float("nan")
        floats = memoryview(array("d", [math.nan if number != number else number for number in floats]))
    return floats


def _scalars(column: Sequence[Any], depth: int) -> Sequence[Any]:
    """The values of a list column: JSON scalars as they are, ``$bytes`` and ``$float``
    decoded; anything else is refused."""
    if set(map(type, column)) <= _WIRE_SCALARS:
        return column
    return [item if type(item) in _WIRE_SCALARS else _tagged_scalar(item, depth) for item in column]


def _tagged_scalar(item: Any, depth: int) -> Any:
    if type(item) is not dict or len(item) != 1 or not _SCALAR_TAGS.issuperset(item):
        raise WireError("malformed $rows: a value that is not a scalar")
    return _decode(item, depth + 2)
