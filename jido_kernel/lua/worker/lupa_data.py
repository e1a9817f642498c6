"""Conversion between lupa's Lua values and plain Python data (worker side).

Reading Lua tables uses only raw access (``lua_next`` through lupa's ``items()``, and
``next``/``rawget`` — or indexing a table that has no metatable — in the bulk reader
below): no ``__index``, ``__pairs`` or ``__tostring`` metamethod — no cell code — ever
runs while a value is converted. See :mod:`jido_kernel.lua.wire` for the rules.

Large tables of plain data are read in bulk: a Lua function walks the whole table tree
once (raw) into one flat array of tokens that crosses to Python in a few calls, and
Python rebuilds the lists and dicts with C-speed builtins. Anything that is not plain
data (a function, a cycle, too deep a nesting, too many entries, keys that collide in
Python) makes the bulk reader give up, and the table is read entry by entry instead, so
every refusal and placeholder comes from one place (:class:`_Reader`).
"""

from __future__ import annotations

import gc
from collections.abc import Collection, Iterator, Sequence
from itertools import chain, islice
from operator import itemgetter, methodcaller

from lupa.lua54 import LuaError, LuaRuntime, lua_type

from jido_kernel.lua.errors import LuaValueError
from jido_kernel.lua.wire import MAX_DEPTH, MAX_ITEMS, PACKED_FROM, TEXT_SEPARATOR, JoinedText, LuaOpaque, Records

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_NUMBERS = frozenset({bool, int, float})
_SCALARS = frozenset({type(None), bool, int, float, str, bytes})
_bytes = methodcaller("encode", "utf-8", "surrogateescape")
"""A Python string as Lua's bytes: UTF-8, and the original bytes of a name that was not
UTF-8 (the OS's names are decoded with ``surrogateescape``)."""


def _all_bytes(strings: Collection[str]) -> list[bytes]:
    """:data:`_bytes` of each string (strict UTF-8, the fast path, when it can)."""
    try:
        return list(map(str.encode, strings))
    except UnicodeEncodeError:
        return list(map(_bytes, strings))


_FIRST = itemgetter(0)
_SECOND = itemgetter(1)
_LUA_SCALARS = frozenset({bool, int, float, bytes})
_TEXTS = _LUA_SCALARS | {str}
_BULK_ENTRIES = 64
_SMALL_RECORD = 8
"""Entries from which a table is read in bulk (below, a call into Lua costs more than it saves)."""
_CHUNK = 8192
"""Tokens per call when the bulk reader's tokens cross to Python."""
_COLLECT = 1 << 16
"""Entries of a temporary Lua array (1 MiB) from which it is collected at once; smaller
ones are left to Lua's incremental collector, like a cell's own garbage."""

_BULK_READER = b"""
local next, rawget, rawlen, type, getmetatable = next, rawget, rawlen, type, getmetatable
local unpack, concat, mtype, pack, rep = table.unpack, table.concat, math.type, string.pack, string.rep
local scalar = {number = true, string = true, boolean = true}
local PACKED = 4096

-- n numbers of one type in one piece: 1 and the integers packed ("j"), 2 and the floats
-- packed ("d"); else 0, false.
local function pack_numbers(column, n)
  local kind = mtype(column[1])
  if not kind then return 0, false end
  for i = 2, n do
    if mtype(column[i]) ~= kind then return 0, false end
  end
  local code = kind == "integer" and "j" or "d"
  local parts, full = {}, rep(code, PACKED)
  for s = 1, n, PACKED do
    local e = s + PACKED - 1
    if e > n then e = n end
    parts[#parts + 1] = pack(e - s + 1 == PACKED and full or rep(code, e - s + 1), unpack(column, s, e))
  end
  return kind == "integer" and 1 or 2, concat(parts)
end

-- A column of n values in one piece when they are of one type: pack_numbers's, or 3 and
-- the strings joined by "\\127" (DEL); else 0, false.
local function pack_column(column, n)
  local first = column[1]
  if mtype(first) then return pack_numbers(column, n) end
  if type(first) ~= "string" then return 0, false end
  for i = 2, n do
    if type(column[i]) ~= "string" then return 0, false end
  end
  return 3, concat(column, "\\127")
end

-- The tokens of a table tree of plain data, or nil when it is not one (see lupa_data.py).
-- Per table: 0, n, s, its n values, c, the c positions of its tables, then those tables
-- (s: whether a value is a string); or 1, n, s, its n keys and values in pairs, c,
-- positions, tables (not a sequence); or 3, n, code, its n numbers as pack_numbers gives
-- them (a sequence of numbers of one type, no metatable);
-- or 2, n, k, the k string keys, then per key its column of n values as pack_column gives
-- it and the column itself (a sequence of records, tried when `shapes`; the reader checks
-- that the values are scalars, and else reads again without it). A sequence of numbers
-- is packed from pack_from of them.
local function flatten(root, depth, max_depth, budget, shapes, pack_from)
  local buf, m, path = {}, 0, {}

  local function records(t, n, depth)
    local plain = getmetatable(t) == nil  -- then t[i] is a raw read (and a faster one)
    local first = rawget(t, 1)
    if not shapes or type(first) ~= "table" or depth + 1 >= max_depth then return false end
    local keys, index, columns, k = {}, {}, {}, 0
    for key, value in next, first do
      if type(key) ~= "string" or not scalar[type(value)] then return false end
      k = k + 1
      keys[k], index[key], columns[k] = key, k, {}
    end
    if k == 0 or n * k > budget then return false end
    -- one raw pass per row: k entries, each under one of the first row's keys
    for i = 1, n do
      local row
      if plain then row = t[i] else row = rawget(t, i) end
      if type(row) ~= "table" then return false end
      local count = 0
      for key, value in next, row do
        local j = index[key]
        if j == nil then return false end
        columns[j][i] = value
        count = count + 1
      end
      if count ~= k then return false end
    end
    budget = budget - n * k
    buf[m + 1], buf[m + 2], buf[m + 3] = 2, n, k
    m = m + 3
    for j = 1, k do buf[m + j] = keys[j] end
    m = m + k
    for j = 1, k do
      buf[m + 1], buf[m + 2] = pack_column(columns[j], n)
      buf[m + 3] = columns[j]
      m = m + 3
    end
    return true
  end

  local function walk(t, depth)
    if depth >= max_depth or path[t] then return false end
    local n = 0
    for _ in next, t do n = n + 1 end
    budget = budget - n
    if budget < 0 then return false end
    -- n entries and a value at each of 1..n: the keys are exactly 1..n
    local sequence = rawlen(t) == n
    if sequence and n > 0 and records(t, n, depth) then return true end
    if sequence and n >= pack_from and getmetatable(t) == nil then  -- (t[i] is then a raw read)
      local code, packed = pack_numbers(t, n)
      if code > 0 then
        buf[m + 1], buf[m + 2], buf[m + 3], buf[m + 4] = 3, n, code, packed
        m = m + 4
        return true
      end
    end
    path[t] = true
    local tables, positions, c, strings = {}, {}, 0, false
    local base = m + 3
    if sequence then
      local plain = getmetatable(t) == nil  -- then t[i] is a raw read (and a faster one)
      for i = 1, n do
        local value
        if plain then value = t[i] else value = rawget(t, i) end
        local kind = type(value)
        if kind == "string" then
          strings = true
        elseif kind == "table" then
          c = c + 1
          tables[c], positions[c], value = value, i, false
        elseif kind == "nil" then
          sequence = false
          break
        elseif kind == "function" or kind == "userdata" or kind == "thread" then
          return false
        end
        buf[base + i] = value
      end
    end
    if not sequence then
      tables, positions, c, strings = {}, {}, 0, false
      local i, booleans, numbers = 0, false, false
      for key, value in next, t do
        i = i + 1
        local kind = type(key)
        if kind == "number" then
          numbers = true
        elseif kind == "boolean" then
          booleans = true
        elseif kind ~= "string" then
          return false
        end
        kind = type(value)
        if kind == "string" then
          strings = true
        elseif kind == "table" then
          c = c + 1
          tables[c], positions[c], value = value, i, false
        elseif kind == "function" or kind == "userdata" or kind == "thread" then
          return false
        end
        buf[base + 2 * i - 1], buf[base + 2 * i] = key, value
      end
      if booleans and numbers then return false end  -- true and 1 may collide in Python
    end
    buf[m + 1], buf[m + 2], buf[m + 3] = sequence and 0 or 1, n, strings
    m = base + (sequence and n or 2 * n) + 1
    buf[m] = c
    for j = 1, c do buf[m + j] = positions[j] end
    m = m + c
    for j = 1, c do
      if not walk(tables[j], depth + 1) then return false end
    end
    path[t] = nil
    return true
  end

  if walk(root, depth) then return buf, m, budget end
  return nil
end

local function take(buf, i, j)
  return true, unpack(buf, i, j)
end

return flatten, take
"""


_RECORDS_BUILDER = b"""
-- Rows of k fields from the k keys then the n rows' values in flat (nil values left out).
return function(flat, n, k)
  local rows = {}
  for r = 1, n do
    local row, base = {}, r * k
    for j = 1, k do row[flat[j]] = flat[base + j] end
    rows[r] = row
  end
  return rows
end
"""


_uncollected: list[LuaRuntime] = []
"""Lua states holding a large temporary array of a bulk read for the wire (Lua thread only)."""


def collect_garbage() -> None:
    """Collect what bulk reads for the wire left (``from_lua(..., wire=True)``): called
    once their value is sent, so the collection does not delay the answer, and before a
    value is pushed, so the push's memory check counts no garbage."""
    while _uncollected:
        _uncollected.pop().gccollect()


def text(data: bytes) -> str | bytes:
    """A Lua string as ``str``, or as ``bytes`` when it is not valid UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


def _texts(items: list[Any]) -> list[Any]:
    """``items`` (a fresh list) with every Lua string as :func:`text` gives it."""
    return _typed_texts(items)[0]


def _typed_texts(items: list[Any]) -> tuple[list[Any], set[type]]:
    """:func:`_texts` of ``items`` and the types of its values."""
    kinds = set(map(type, items))
    if bytes not in kinds:
        return items, kinds
    if kinds == {bytes}:
        try:
            return list(map(bytes.decode, items)), {str}
        except UnicodeDecodeError:
            pass
    items = [text(item) if type(item) is bytes else item for item in items]
    return items, set(map(type, items))


def to_lua(runtime: LuaRuntime, value: Any) -> Any:
    """A value lupa hands to Lua as plain data, from checked plain data
    (:func:`~jido_kernel.lua.wire.check_value`): strings as Lua strings, containers as
    fresh tables. Run with the Lua memory limit lifted (lupa cannot recover from an
    allocation failure while it builds a table)."""
    collect_garbage()
    if type(value) is bytes:  # a file's text: the usual answer
        return value
    if type(value) is list and len(value) >= _BULK_ENTRIES:
        records = _records(value)
        if records is not None:
            build = runtime.compile(_RECORDS_BUILDER, name=b"=[jido data]", mode="t")()
            rows = build(runtime.table_from(records), len(value), len(records) // (len(value) + 1))
            if len(records) >= _COLLECT:  # the flat array is garbage: it must not count against the state's memory
                runtime.gccollect()
            return rows
    prepared = _prepare(value)
    if isinstance(prepared, (list, dict)):
        return runtime.table_from(prepared, recursive=True)
    return prepared


def _records(rows: list[Any]) -> list[Any] | None:
    """The keys of ``rows`` then their values row by row, strings as bytes, when ``rows``
    are dicts of scalars with the same keys in the same order (``jido.list_dir``'s
    entries); else ``None``."""
    if set(map(type, rows)) != {dict}:
        return None
    shapes = set(map(tuple, rows))
    if len(shapes) != 1:
        return None
    flat = [*shapes.pop(), *chain.from_iterable(map(dict.values, rows))]
    kinds = set(map(type, flat))
    if not kinds <= _SCALARS:
        return None
    if kinds == {str}:
        return _all_bytes(flat)
    if str in kinds:
        return [_bytes(item) if type(item) is str else item for item in flat]
    return flat


def _prepare(value: Any) -> Any:
    # Fresh containers everywhere: lupa's recursive table_from de-duplicates by id().
    if isinstance(value, str):
        return _bytes(value)
    if isinstance(value, list):
        kinds = set(map(type, value))
        if kinds <= _SCALARS - {str}:
            return list(value)
        if kinds == {str}:
            return _all_bytes(value)
        return [_prepare(item) for item in value]
    if isinstance(value, dict):
        if set(map(type, value)) == {str} and set(map(type, value.values())) <= _SCALARS - {str}:
            return dict(zip(_all_bytes(value), value.values(), strict=True))
        return {_prepare(key): _prepare(item) for key, item in value.items()}
    return value


def from_lua(value: Any, *, strict: bool, name: str, max_items: int = MAX_ITEMS, wire: bool = False) -> Any:
    """Plain Python data for a Lua value (dict keys in :func:`order`).

    ``strict``: functions, coroutines, userdata and cycles raise :class:`LuaValueError`
    naming ``name``; otherwise they become :class:`LuaOpaque` placeholders. More than
    ``max_items`` table entries in all always raise.

    ``wire``: the value is for :func:`~jido_kernel.lua.wire.encode`, read with the
    memory limit lifted (a result, a pulled value): a large list of records read in bulk
    (same text keys, scalar values) stays in columns, a :class:`~jido_kernel.lua.wire.Records`,
    and a large temporary array of the bulk reader is left for :func:`collect_garbage`,
    called once the value is sent.
    """
    if value is None or type(value) in _NUMBERS:
        return value
    if type(value) is bytes:
        return text(value)
    if lua_type(value) == "table":
        small = _small_record(value, max_items)
        if small is not None:
            return small
    reader = _Reader(strict, max_items, wire)
    try:
        return reader.value(value, 0, frozenset())
    except _Refused as refused:
        if wire:  # the value is not sent: nothing waits for the collection
            collect_garbage()
        where = name + "".join(f"[{key!r}]" for key in reversed(refused.keys))
        raise LuaValueError(f"Cannot convert {where} to Python: {refused.problem}.") from None


def _small_record(table: Any, max_items: int) -> dict[str, Any] | None:
    """A table of a few scalars under text keys (a bridge call's options) as a dict, the
    common case read without the general reader; ``None`` for any other table."""
    entries = list(islice(table.items(), _SMALL_RECORD + 1))
    if not entries or len(entries) > min(_SMALL_RECORD, max_items):
        return None
    if len(entries) == 1:  # the usual options table: one flag
        ((key, item),) = entries
        shown = text(key) if type(key) is bytes and type(item) in _LUA_SCALARS else None
        if type(shown) is not str:
            return None
        return {shown: text(item) if type(item) is bytes else item}
    record = {}
    for key, item in entries:
        if type(key) is not bytes or type(item) not in _LUA_SCALARS:
            return None
        shown = text(key)
        if type(shown) is not str:
            return None
        record[shown] = text(item) if type(item) is bytes else item
    return dict(sorted(record.items()))


class _NotRecords(Exception):
    """The bulk reader's sequence of records holds a value that is not a scalar."""


class _Refused(Exception):
    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.keys: list[Any] = []


class _Reader:
    def __init__(self, strict: bool, max_items: int, wire: bool = False) -> None:
        self.strict = strict
        self.max_items = max_items
        self.wire = wire
        self.items = 0
        self.bulk: tuple[Any, Any] | None = None
        self.bulk_failed = False  # then the value is not plain data: read the rest entry by entry

    def value(self, value: Any, depth: int, path: frozenset[str]) -> Any:
        if value is None or type(value) in _NUMBERS:
            return value
        if type(value) is bytes:
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
        address = repr(table) if path else ""  # "<Lua table at 0x…>": lua_topointer, no metamethod
        if address in path:
            return self.opaque("table", "<Lua table (cycle)>", "the table contains itself")
        if depth >= MAX_DEPTH:
            problem = f"its tables nest more than {MAX_DEPTH} levels"
            return self.opaque("table", "<Lua table (nested too deeply)>", problem)
        iterator = table.items()
        entries = list(islice(iterator, _BULK_ENTRIES))
        if len(entries) == _BULK_ENTRIES and not self.bulk_failed:
            found, value = self.read_bulk(table, depth)
            if found:
                return value
        self.count(len(entries))
        for entry in iterator:
            self.count(1)
            entries.append(entry)
        count = len(entries)
        keys = list(map(_FIRST, entries))
        scalars = set(map(type, map(_SECOND, entries))) <= _LUA_SCALARS  # no table or opaque value
        if set(map(type, keys)) <= {int} and (not keys or (min(keys) >= 1 and max(keys) <= count)):
            result: list[Any] = [None] * count
            if scalars:
                for key, item in entries:
                    result[key - 1] = item
                return _texts(result)
            inner = path | {address or repr(table)}
            for key, item in entries:
                result[key - 1] = self.child(key, item, depth, inner)
            return result
        if scalars and set(map(type, keys)) == {bytes}:
            shown = _texts(keys)
            if set(map(type, shown)) == {str}:
                return _sorted_dict(shown, _texts(list(map(_SECOND, entries))))
        inner = path | {address or repr(table)}
        keyed = sorted(((self.key(key), key, item) for key, item in entries), key=lambda entry: order(entry[0]))
        mapping: dict[Any, Any] = {}
        for shown_key, key, item in keyed:
            if shown_key in mapping:
                raise _Refused(_collision(shown_key, next(other for other in mapping if other == shown_key)))
            mapping[shown_key] = self.child(key, item, depth, inner)
        return mapping

    def count(self, entries: int) -> None:
        self.items += entries
        if self.items > self.max_items:
            raise _Refused(f"it holds more than {self.max_items} table entries in total (too large to transfer)")

    def read_bulk(self, table: Any, depth: int) -> tuple[bool, Any]:
        """``(True, value)`` for a table tree of plain data within the limits, read in
        bulk; ``(False, None)`` when it must be read entry by entry."""
        try:
            runtime = next((r for r in gc.get_referents(table) if isinstance(r, LuaRuntime)), None)
            if runtime is None:
                self.bulk_failed = True
                return False, None
            if self.bulk is None:
                self.bulk = runtime.compile(_BULK_READER, name=b"=[jido data]", mode="t")()
            for shapes in (True, False):  # records of scalars in columns, then without them
                tokens, left = self.tokens(runtime, table, depth, shapes)
                if tokens is None:
                    self.bulk_failed = True
                    return False, None
                paused = gc.isenabled()
                gc.disable()  # the rebuilt containers hold no cycles: no collection needs to look at them
                try:
                    value = _rebuild(iter(tokens), self.wire, self.bulk[1])
                except _NotRecords:
                    continue
                finally:
                    if paused:
                        gc.enable()
                self.items = self.max_items - left
                return True, value
        except LuaError:  # a limit tripped meanwhile: the entry-by-entry reader runs no Lua
            pass
        self.bulk_failed = True
        return False, None

    def tokens(self, runtime: LuaRuntime, table: Any, depth: int, shapes: bool) -> tuple[list[Any] | None, int]:
        """The bulk reader's tokens for ``table`` and the entries left of the budget;
        ``None`` when it gave up. A large token array is collected at once, or for the
        wire once the value is sent (:func:`collect_garbage`)."""
        if self.wire:  # no memory limit: Lua's collector waits (the reader's growing arrays
            with runtime.nogc():  # would otherwise pay, step by step, for the cell's garbage)
                tokens, size, left = self.read_tokens(table, depth, shapes)
        else:
            tokens, size, left = self.read_tokens(table, depth, shapes)
        if size >= _COLLECT:  # the temporary arrays must not count against the state's memory
            if not self.wire:
                runtime.gccollect()
            elif runtime not in _uncollected:
                _uncollected.append(runtime)
        return tokens, left

    def read_tokens(self, table: Any, depth: int, shapes: bool) -> tuple[list[Any] | None, int, int]:
        """The tokens, how many entries the walk made temporary arrays for (at least the
        tokens), and the entries left of the budget."""
        assert self.bulk is not None
        flatten, take = self.bulk
        budget = self.max_items - self.items
        flat = flatten(table, depth, MAX_DEPTH, budget, shapes, PACKED_FROM)
        if not isinstance(flat, tuple):
            return None, 0, 0
        buffer, size, left = flat
        return _taken(take, buffer, size), max(size, budget - left), left

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


def _taken(take: Any, array: Any, size: int) -> list[Any]:
    """Items ``1..size`` of a Lua array, :data:`_CHUNK` per call."""
    items: list[Any] = []
    for start in range(1, size + 1, _CHUNK):
        items.extend(islice(take(array, start, min(size, start + _CHUNK - 1)), 1, None))
    return items


def _rebuild(tokens: Iterator[Any], records: bool, take: Any) -> Any:
    """The value of one table from the bulk reader's ``tokens`` (consumed as read); lists
    of records with text keys as :class:`Records` and packed lists of numbers as a
    memoryview of them (``"q"``, ``"d"``) when ``records`` (the value is for the wire)."""
    kind, n = next(tokens), next(tokens)
    if kind == 3:  # n integers (code 1) or floats (2), packed
        code, packed = next(tokens), next(tokens)
        numbers = memoryview(packed).cast("q" if code == 1 else "d")
        if len(numbers) != n:
            raise _Refused("its numbers did not read back whole (string.pack was replaced?)")
        return numbers if records else numbers.tolist()
    if kind == 2:
        keys = _texts(list(islice(tokens, next(tokens))))
        columns = [_column(n, next(tokens), next(tokens), next(tokens), take) for _ in keys]
        if not all(kinds <= _TEXTS for _, kinds in columns):
            raise _NotRecords  # a value that is a table, a function…: not a list of records
        ordered = sorted(range(len(keys)), key=lambda index: order(keys[index]))
        names = [keys[index] for index in ordered]
        values = [columns[index][0] for index in ordered]
        table = Records(names, values, [columns[index][1] for index in ordered])
        if records and set(map(type, names)) == {str}:  # (a key that is not UTF-8 text stays bytes)
            return table
        return table.rows()
    strings = next(tokens)
    if kind == 1:
        pairs = list(islice(tokens, 2 * n))
        keys, values = _texts(pairs[::2]), pairs[1::2]
    else:
        keys, values = [], list(islice(tokens, n))
    if strings:
        values = _texts(values)
    for position in list(islice(tokens, next(tokens))):
        values[position - 1] = _rebuild(tokens, records, take)
    if kind == 0:
        return values
    if set(map(type, keys)) == {str}:
        return _sorted_dict(keys, values)
    return dict(sorted(zip(keys, values, strict=True), key=lambda entry: order(entry[0])))


def _column(count: int, code: int, packed: Any, column: Any, take: Any) -> tuple[Sequence[Any] | JoinedText, set[type]]:
    """The values of a column of records and their types: integers or floats unpacked as
    a memoryview of them, strings as they are joined (when none holds a DEL and all are
    UTF-8 text), else taken one by one from the Lua ``column``."""
    if code in (1, 2):
        view = memoryview(packed).cast("q" if code == 1 else "d")
        if len(view) == count:
            return view, {int} if code == 1 else {float}
    elif code == 3:
        try:
            joined = packed.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            if joined.count(TEXT_SEPARATOR) == count - 1:
                return JoinedText(joined, count), {str}
    return _typed_texts(_taken(take, column, count))


def _sorted_dict(keys: list[str], values: list[Any]) -> dict[str, Any]:
    """``dict(zip(keys, values))`` in key order (sorting the keys alone is several times faster)."""
    found = dict(zip(keys, values, strict=True))
    ordered = sorted(keys)
    return dict(zip(ordered, map(found.__getitem__, ordered), strict=True))


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
