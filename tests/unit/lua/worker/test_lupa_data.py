"""Table keys that are distinct on one side and one key on the other never lose entries.

Lua tells ``true`` from ``1`` and ``false`` from ``0``; Python's dict does not. Python
tells ``"a"`` from ``b"a"``; a Lua table does not. Converting such a table raises one
clear :class:`LuaValueError` naming both keys instead of silently keeping one entry.
Real lupa, real worker processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lupa.lua54 import LuaRuntime, lua_type

from jido_kernel.lua import LuaSandbox, LuaValueError
from jido_kernel.lua.wire import (
    INT_MAX,
    INT_MIN,
    MAX_ITEMS,
    Records,
    RowBudget,
    WireError,
    check_value,
    decode,
    encode,
)
from jido_kernel.lua.worker.lupa_data import _Reader, _Refused, collect_garbage, from_lua, text, to_lua
from tests.typed import typed

BUILD = b"""function(...)
  local t, n = {}, select('#', ...)
  for i = 1, n, 2 do rawset(t, (select(i, ...)), (select(i + 1, ...))) end
  return t
end"""

lua_keys = (
    st.integers(-3, 3)
    | st.integers(INT_MIN, INT_MAX)
    | st.booleans()
    | st.floats(allow_nan=False)
    | st.sampled_from([0.0, -0.0, 1.0, 2.0, 0.5])
    | st.text(max_size=3).map(lambda s: s.encode())
    | st.sampled_from([b"1", b"true", b"0"])
)


@pytest.fixture(scope="module")
def lua() -> LuaRuntime:
    return LuaRuntime(encoding=None)


def build(lua: LuaRuntime, entries: list[tuple[Any, Any]]) -> Any:
    return lua.eval(BUILD)(*[part for entry in entries for part in entry])


def colliding(keys: list[Any]) -> bool:
    """Lua keys that are one Python key: ``true`` and ``1``, ``false`` and ``0``."""
    kinds = {(type(key) is bool, key) for key in keys if type(key) in (bool, int)}
    return any((True, flag) in kinds and (False, int(flag)) in kinds for flag in (True, False))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(lua_keys, st.integers(0, 10**6)), max_size=8))
def test_conversion_keeps_every_entry_or_refuses(lua: LuaRuntime, entries: list[tuple[Any, Any]]) -> None:
    table = build(lua, entries)
    in_lua = list(table.items())  # what Lua holds, after its own key normalisation
    try:
        converted = from_lua(table, strict=True, name="t")
    except LuaValueError as error:
        assert colliding([key for key, _ in in_lua]), error
        assert "same key in Python" in str(error) and "\n" not in str(error)
        return
    assert not colliding([key for key, _ in in_lua])
    as_dict = dict(enumerate(converted, 1)) if isinstance(converted, list) else converted
    assert len(as_dict) == len(in_lua)
    for key, value in in_lua:
        wanted = text(key) if isinstance(key, bytes) else key
        (found,) = [k for k in as_dict if type(k) is type(wanted) and k == wanted]
        assert as_dict[found] == value
    assert decode(encode(converted)) == converted


@pytest.mark.parametrize(
    ("code", "first", "second"),
    [
        (b'{[1] = "a", [true] = "b"}', "1", "true"),
        (b'{[0] = "a", [false] = "b", x = 1}', "0", "false"),
        (b'{[2] = 1, [1] = "a", [true] = "b"}', "1", "true"),
    ],
)
def test_true_and_one_are_refused_by_name(lua: LuaRuntime, code: bytes, first: str, second: str) -> None:
    with pytest.raises(LuaValueError) as caught:
        from_lua(lua.eval(code), strict=False, name="the result")
    assert f"its keys [{first}] and [{second}] are distinct in Lua but the same key in Python" in str(caught.value)


def test_keys_that_stay_distinct_cross(lua: LuaRuntime) -> None:
    assert from_lua(lua.eval(b'{[1] = "a", ["1"] = "b"}'), strict=True, name="t") == {1: "a", "1": "b"}
    assert from_lua(lua.eval(b'{[1.0] = "a", [1] = "b"}'), strict=True, name="t") == ["b"]  # one key in Lua
    assert from_lua(lua.eval(b'{[true] = "b", [2] = "c"}'), strict=True, name="t") == {True: "b", 2: "c"}
    opaque = from_lua(lua.eval(b"{[{}] = 1, [{}] = 2, [print] = 3}"), strict=False, name="t")
    assert sorted(opaque.values()) == [1, 2, 3]


def test_table_and_function_keys_are_refused_when_pulled(lua: LuaRuntime) -> None:
    with pytest.raises(LuaValueError, match="it has a function key"):
        from_lua(lua.eval(b"{[print] = 1}"), strict=True, name="t")


def test_the_wire_refuses_a_repeated_key() -> None:
    with pytest.raises(WireError, match="duplicate"):
        decode({"$map": [[True, 1], [1, 2]]})


class TestPythonToLua:
    def test_text_and_bytes_that_are_one_lua_string(self) -> None:
        with pytest.raises(LuaValueError) as caught:
            check_value({"é": 1, "é".encode(): 2}, "data")
        assert (
            str(caught.value)
            == "Cannot pass 'data' to Lua: data has keys 'é' and b'\\xc3\\xa9', which are the same key in Lua."
        )

    def test_nested_collisions_are_found(self) -> None:
        with pytest.raises(LuaValueError, match=r"data\[0\]\['x'\] has keys 'k' and b'k'"):
            check_value([{"x": {"k": 1, b"k": 2}}], "data")

    def test_keys_python_already_merged_pass(self) -> None:
        assert check_value({True: "a", 1: "b"}, "data") == {True: "b"}  # noqa: F601 - Python keeps one
        assert check_value({1: "a", "1": "b", 1.5: "c"}, "data") == {1: "a", "1": "b", 1.5: "c"}


class TestThroughTheWorker:
    @pytest.fixture
    def sandbox(self, project: Path) -> Iterator[LuaSandbox]:
        sandbox = LuaSandbox(project, timeout=10, on_state_call=lambda op, args: True)
        sandbox.run("keep = 'alive'")
        yield sandbox
        sandbox.close()

    def test_a_returned_table(self, sandbox: LuaSandbox) -> None:
        with pytest.raises(LuaValueError, match=r"its keys \[1\] and \[true\]"):
            sandbox.run('return {[1] = "a", [true] = "b"}')
        assert sandbox.run("return keep").values == ["alive"]

    def test_an_output_variable(self, sandbox: LuaSandbox) -> None:
        with pytest.raises(LuaValueError, match=r"Cannot convert t\['inner'\] to Python: its keys \[0\] and \[false\]"):
            sandbox.run('t = {inner = {[0] = "a", [false] = "b"}}', outputs=["t"])
        with pytest.raises(LuaValueError, match=r"\[0\] and \[false\]"):
            sandbox.pull("t")
        assert sandbox.run("return keep").values == ["alive"]

    def test_a_state_call_argument(self, sandbox: LuaSandbox) -> None:
        value, message = sandbox.run("return jido.state.update_todos({[1] = 'a', [true] = 'b'})").values
        assert value is None and "its keys [1] and [true]" in message

    def test_an_input_variable(self, sandbox: LuaSandbox) -> None:
        with pytest.raises(LuaValueError, match="which are the same key in Lua"):
            sandbox.run("return 1", inputs={"data": {"a": 1, b"a": 2}})
        assert sandbox.run("return keep").values == ["alive"]


scalars = (
    st.booleans()
    | st.integers(INT_MIN, INT_MAX)
    | st.floats(allow_nan=False)
    | st.text(max_size=4)
    | st.binary(max_size=3)
)
table_keys = st.integers(-2, 70) | st.text(max_size=3) | st.binary(max_size=2) | st.booleans() | st.floats(-3, 3)
records = st.lists(
    st.fixed_dictionaries({"id": st.integers(INT_MIN, INT_MAX), "name": st.text(max_size=3)}), min_size=1, max_size=5
)
plain_trees = st.recursive(
    scalars | records,
    lambda inner: st.lists(inner, max_size=70) | st.dictionaries(table_keys, inner, max_size=6),
    max_leaves=150,
)


def entry_by_entry(table: Any, strict: bool, max_items: int) -> tuple[str, Any]:
    reader = _Reader(strict, max_items)
    reader.bulk_failed = True  # the reader that handles every case, one entry at a time
    try:
        return "ok", typed(reader.value(table, 0, frozenset()))
    except _Refused as refused:
        return "refused", refused.problem


def as_lua(lua: LuaRuntime, value: Any) -> Any:
    """``value`` as a Lua table built with plain ``rawset`` (no conversion under test)."""
    if isinstance(value, list):
        return build(lua, [(index, as_lua(lua, item)) for index, item in enumerate(value, 1)])
    if isinstance(value, dict):
        return build(lua, [(as_lua(lua, key), as_lua(lua, item)) for key, item in value.items()])
    return value.encode() if isinstance(value, str) else value


class TestBulkReading:
    """Large tables are read by a Lua walk in bulk; it gives exactly what reading entry by
    entry gives, or gives up and leaves the value to that reader."""

    @settings(max_examples=300, deadline=None)
    @given(plain_trees, st.booleans(), st.integers(1, 400))
    def test_bulk_reading_matches_reading_entry_by_entry(
        self, lua: LuaRuntime, value: Any, strict: bool, max_items: int
    ) -> None:
        table = as_lua(lua, value)
        if lua_type(table) != "table":
            return
        expected = entry_by_entry(table, strict, max_items)
        found, bulk = _Reader(strict, max_items).read_bulk(table, 0)
        if found:
            assert expected == ("ok", typed(bulk))

    @settings(max_examples=300, deadline=None)
    @given(plain_trees, st.booleans(), st.integers(1, 400))
    def test_every_shortcut_matches_reading_entry_by_entry(
        self, lua: LuaRuntime, value: Any, strict: bool, max_items: int
    ) -> None:
        table = as_lua(lua, value)
        expected = entry_by_entry(table, strict, max_items)
        try:
            found = ("ok", typed(from_lua(table, strict=strict, name="t", max_items=max_items)))
        except LuaValueError as error:
            assert expected[0] == "refused" and str(expected[1]) in str(error)
            return
        assert found == expected

    def test_what_is_not_plain_data_is_left_to_the_entry_reader(self, lua: LuaRuntime) -> None:
        for code in (
            b"{1, 2, print}",
            b"(function() local t = {1} t[2] = t return t end)()",
            b"{[true] = 1, [1] = 2}",
            b"{[{}] = 1}",
            b"{a = coroutine.create(print)}",
        ):
            assert _Reader(False, 100).read_bulk(lua.eval(code), 0) == (False, None)
        deep = lua.eval(b"(function() local t = {} for i = 1, 120 do t = {t} end return t end)()")
        assert _Reader(False, 1000).read_bulk(deep, 0) == (False, None)
        assert _Reader(False, 3).read_bulk(lua.eval(b"{1, 2, {3, 4}}"), 0) == (False, None)

    def test_large_values_keep_their_shape_and_order(self, lua: LuaRuntime) -> None:
        rows = lua.eval(
            b"(function() local t = {} for i = 1, 500 do t[i] = {id = i, name = 'r' .. i, x = i / 2} end "
            b"return t end)()"
        )
        converted = from_lua(rows, strict=True, name="rows")
        assert converted[0] == {"id": 1, "name": "r1", "x": 0.5} and list(converted[0]) == ["id", "name", "x"]
        assert len(converted) == 500 and converted[-1]["name"] == "r500"
        keyed = from_lua(
            lua.eval(b"(function() local t = {} for i = 1, 300 do t['k' .. i] = i end return t end)()"),
            strict=True,
            name="t",
        )
        assert list(keyed) == sorted(keyed) and keyed["k7"] == 7
        floats = from_lua(
            lua.eval(b"(function() local t = {} for i = 1, 120000 do t[i] = i + 0.5 end return t end)()"),
            strict=True,
            name="t",
        )
        assert floats[:2] == [1.5, 2.5] and len(floats) == 120000

    def test_large_tables_are_read_raw(self, lua: LuaRuntime) -> None:
        trap = b"{__index = function() error('ran') end, __len = error, __pairs = error, __newindex = error}"
        code = b"(function() local t = {} for i = 1, 300 do t[i] = i end t[150] = nil return setmetatable(t, %s) end)()"
        holes = from_lua(lua.eval(code % trap), strict=True, name="t")
        assert len(holes) == 299 and 150 not in holes and holes[151] == 151
        full = lua.eval(
            b"(function() local t = {} for i = 1, 300 do t[i] = {i} end return setmetatable(t, %s) end)()" % trap
        )
        assert from_lua(full, strict=True, name="t")[299] == [300]

    def test_bulk_transfers_leave_no_large_garbage_in_the_state(self) -> None:
        lua = LuaRuntime(encoding=None, max_memory=0)
        table = lua.eval(b"(function() local t = {} for i = 1, 200000 do t[i] = i + 0.5 end return t end)()")
        lua.gccollect()
        before = lua.get_memory_used()
        assert len(from_lua(table, strict=True, name="t")) == 200_000
        assert lua.get_memory_used() - before < 512 * 1024  # the 3 MiB token array is gone (room for a chunk stays)
        rows = [{"name": f"f{index}", "type": "file"} for index in range(40_000)]
        pushed = to_lua(lua, rows)
        used = lua.get_memory_used()
        lua.gccollect()
        assert used - lua.get_memory_used() < 512 * 1024  # the 1.3 MiB flat array of the records is gone
        assert len(from_lua(pushed, strict=True, name="rows")) == 40_000

    def test_the_limit_on_entries_still_applies(self, lua: LuaRuntime) -> None:
        table = lua.eval(b"(function() local t = {} for i = 1, 200 do t[i] = {i} end return t end)()")
        with pytest.raises(LuaValueError, match="more than 300 table entries in total"):
            from_lua(table, strict=True, name="t", max_items=300)
        assert len(from_lua(table, strict=True, name="t", max_items=400)) == 200

    @settings(max_examples=100, deadline=None)
    @given(
        st.lists(
            st.fixed_dictionaries({"name": st.text(max_size=5), "size": st.none() | st.integers(0, 9) | st.floats()}),
            min_size=64,
            max_size=90,
        )
    )
    def test_records_pushed_in_bulk_read_back(self, lua: LuaRuntime, rows: list[dict[str, Any]]) -> None:
        expected = [{key: item for key, item in sorted(row.items()) if item is not None} for row in rows]
        assert typed(from_lua(to_lua(lua, rows), strict=True, name="rows")) == typed(expected)

    def test_a_listing_inside_a_coroutine(self, project: Path) -> None:
        for index in range(150):
            (project / f"f{index:03d}").touch()
        sandbox = LuaSandbox(project, timeout=10)
        try:
            values = sandbox.run(
                "local before = 'x' "
                "local n, first = coroutine.wrap(function(a) local l = jido.list_dir('.') "
                "coroutine.yield(#l, l[1].name) end)(1) "
                "return before, n, first, #jido.list_dir('.')"
            ).values
        finally:
            sandbox.close()
        assert values == ["x", 150, "f000", 150]


def sent(value: Any) -> Any:
    """``value`` as the kernel gets it from a result: :class:`Records` as their lists of
    dicts, packed numbers as their list."""
    if isinstance(value, Records):
        return value.rows()
    if isinstance(value, memoryview):
        return value.tolist()
    if isinstance(value, list):
        return [sent(item) for item in value]
    if isinstance(value, dict):
        return {key: sent(item) for key, item in value.items()}
    return value


def holds_records(value: Any) -> bool:
    if isinstance(value, Records):
        return True
    if isinstance(value, list):
        return any(map(holds_records, value))
    if isinstance(value, dict):
        return any(map(holds_records, value.values()))
    return False


def read(table: Any, strict: bool, *, wire: bool) -> tuple[str, Any]:
    """What converting ``table`` gives: ``("ok", typed value)`` or ``("refused", message)``."""
    try:
        return "ok", typed(sent(from_lua(table, strict=strict, name="t", wire=wire)))
    except LuaValueError as error:
        return "refused", str(error)
    finally:
        collect_garbage()


def converts_as_today(table: Any, strict: bool) -> bool:
    """Reading ``table`` for the wire gives what reading it without gives, and that is the
    entry-by-entry reader's value, or its refusal; True when it converted."""
    expected = entry_by_entry(table, strict, MAX_ITEMS)
    today = read(table, strict, wire=False)
    assert read(table, strict, wire=True) == today
    assert today[0] == expected[0]
    if today[0] == "refused":
        assert str(expected[1]) in today[1]
        return False
    assert today[1] == expected[1]
    return True


TRAP = "{__index = function() error('ran') end, __len = error, __pairs = error, __newindex = error}"
RECORDS = "local t = {} for i = 1, 100 do t[i] = {id = i, name = 'r' .. i, x = i / 2} end "


class TestRecordsForTheWire:
    """Results and pulled values (``wire=True``) keep a list of records in columns; any
    other table, and any refusal, is exactly what reading without it gives."""

    @pytest.mark.parametrize(
        ("change", "columns"),
        [
            ("", True),
            ("t[50] = {id = 50, other = 1, x = 2}", False),
            ("t[50].extra = true", False),
            ("t[50].name = nil", False),
            ("t[50] = nil", False),
            ("t[101] = 5", False),
            ("t.n = 100", False),
            ("t[50].name = {1, 2}", False),
            ("t[50].name = print", False),
            ("t[50].name = coroutine.create(print)", False),
            ("t[50].name = t", False),
            ("t[50][1] = 'x'", False),
            ("t[50].name = '\\xff'", True),
            ("t[50].name = 'a\\0b'", True),
            ("t[50].name = 'a\\127b'", True),
            ("t[50].id = 50.0", True),
            ("t[50].x = 7", True),
            ("for i = 1, 100 do t[i].x = i % 2 == 0 end", True),
            ("for i = 1, 100 do t[i].id = math.maxinteger - i; t[i].x = -0.0 end t[7].x = 0/0", True),
            ("for i = 1, 100 do t[i]['\\xff'] = i end", False),
            (f"setmetatable(t[50], {TRAP})", True),
            (f"setmetatable(t, {TRAP})", True),
            ("t = {rows = t, n = 100}", True),
            ("t = {t, {print}}", True),
        ],
    )
    @pytest.mark.parametrize("strict", [False, True])
    def test_a_table_keeps_todays_value(self, lua: LuaRuntime, change: str, columns: bool, strict: bool) -> None:
        table = lua.execute((RECORDS + change + " return t").encode())
        if converts_as_today(table, strict):
            assert holds_records(from_lua(table, strict=strict, name="t", wire=True)) == columns
        collect_garbage()

    @settings(max_examples=200, deadline=None)
    @given(
        st.lists(
            st.fixed_dictionaries(
                {"id": scalars, "name": scalars},
                optional={"more": scalars | st.lists(scalars, max_size=2), b"\xff": scalars},
            )
            | st.lists(scalars, max_size=2),
            min_size=60,
            max_size=80,
        ),
        st.booleans(),
        st.integers(100, 400),
    )
    def test_records_read_for_the_wire_match_reading_entry_by_entry(
        self, lua: LuaRuntime, rows: list[Any], strict: bool, max_items: int
    ) -> None:
        table = as_lua(lua, rows)
        expected = entry_by_entry(table, strict, max_items)
        try:
            found = ("ok", typed(sent(from_lua(table, strict=strict, name="t", max_items=max_items, wire=True))))
        except LuaValueError as error:
            assert expected[0] == "refused" and str(expected[1]) in str(error)
            return
        finally:
            collect_garbage()
        assert found == expected

    @settings(max_examples=100, deadline=None)
    @given(st.lists(st.fixed_dictionaries({"id": scalars, "name": scalars, "$x": scalars}), min_size=64, max_size=70))
    def test_uniform_records_cross_in_columns(self, lua: LuaRuntime, rows: list[dict[str, Any]]) -> None:
        table = as_lua(lua, rows)
        found = from_lua(table, strict=True, name="t", wire=True)
        collect_garbage()
        assert isinstance(found, Records)
        assert ("ok", typed(found.rows())) == entry_by_entry(table, True, MAX_ITEMS)

    def test_the_columns_are_in_key_order_with_their_types(self, lua: LuaRuntime) -> None:
        found = from_lua(lua.execute(RECORDS.encode() + b"return t"), strict=True, name="t", wire=True)
        collect_garbage()
        assert isinstance(found, Records) and found.keys == ["id", "name", "x"] and len(found) == 100
        assert found.kinds == [{int}, {str}, {float}]
        assert found.rows()[1] == {"id": 2, "name": "r2", "x": 1.0}

    def test_the_token_array_waits_for_the_answer_but_not_for_a_push(self) -> None:
        lua = LuaRuntime(encoding=None, max_memory=0)
        table = lua.eval(b"(function() local t = {} for i = 1, 200000 do t[i] = i + 0.5 end return t end)()")
        lua.gccollect()
        before = lua.get_memory_used()
        assert len(from_lua(table, strict=True, name="t", wire=True)) == 200_000
        assert lua.get_memory_used() - before > 2 * 1024 * 1024  # the 3 MiB token array, not collected yet
        to_lua(lua, 1)  # a push collects it first: its memory check counts no garbage
        assert lua.get_memory_used() - before < 512 * 1024
        from_lua(table, strict=True, name="t", wire=True)
        collect_garbage()  # once the answer is sent
        assert lua.get_memory_used() - before < 512 * 1024


NUMBERS = "local t = {} for i = 1, 100 do t[i] = i * 3 end "


class TestNumbersForTheWire:
    """Results and pulled values keep a list of numbers of one type packed (a memoryview);
    any other table, and any refusal, is exactly what reading without it gives."""

    @pytest.mark.parametrize(
        ("change", "packed"),
        [
            ("", "q"),
            ("for i = 1, 100 do t[i] = i + 0.5 end", "d"),
            ("for i = 1, 100 do t[i] = i + 0.5 end t[3], t[4], t[5] = 0/0, -0.0, -math.huge", "d"),
            ("t[1], t[2] = math.mininteger, math.maxinteger", "q"),
            ("t[50] = 50.0", None),
            ("t[50] = true", None),
            ("t[50] = '50'", None),
            ("t[50] = nil", None),
            ("t[101] = 1", "q"),
            ("t[102] = 1", None),
            ("t.n = 100", None),
            ("t[50] = {1}", None),
            ("t[50] = print", None),
            (f"setmetatable(t, {TRAP})", None),
            ("t = {a = t, b = {t, t}}", "q"),
            ("t = {}", None),
        ],
    )
    @pytest.mark.parametrize("strict", [False, True])
    def test_a_table_keeps_todays_value(self, lua: LuaRuntime, change: str, packed: str | None, strict: bool) -> None:
        table = lua.execute((NUMBERS + change + " return t").encode())
        if converts_as_today(table, strict):
            assert _packed_formats(from_lua(table, strict=strict, name="t", wire=True)) == {packed}
        collect_garbage()

    @settings(max_examples=150, deadline=None)
    @given(
        st.lists(st.integers(INT_MIN, INT_MAX), min_size=64, max_size=90)
        | st.lists(st.floats(), min_size=64, max_size=90),
        st.booleans(),
    )
    def test_numbers_read_for_the_wire_match_reading_entry_by_entry(
        self, lua: LuaRuntime, numbers: list[Any], strict: bool
    ) -> None:
        table = as_lua(lua, numbers)
        found = from_lua(table, strict=strict, name="t", wire=True)
        collect_garbage()
        assert isinstance(found, memoryview)
        assert ("ok", typed(found.tolist())) == entry_by_entry(table, strict, MAX_ITEMS)
        assert ("ok", typed(decode(encode(found, RowBudget()), RowBudget()))) == entry_by_entry(
            table, strict, MAX_ITEMS
        )


def _packed_formats(value: Any) -> set[str | None]:
    """The formats of the packed lists in ``value`` (``{None}`` when there is none)."""
    if isinstance(value, memoryview):
        return {value.format}
    items = value if isinstance(value, list) else value.values() if isinstance(value, dict) else []
    found = set().union(*map(_packed_formats, items)) - {None} if items else set()
    return found or {None}
