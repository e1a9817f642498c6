"""The columnar wire forms of a list of records (``$rows``) and of a list of numbers
(``$f64``, ``$i64``): each decodes to exactly what the plain form decodes to, within one
budget per message, and anything malformed is refused with a clear :class:`WireError`
before a single row or number is made."""

from __future__ import annotations

import base64
import json
import math
import re
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jido_kernel.lua.wire import (
    INT_MAX,
    INT_MIN,
    MAX_DEPTH,
    MAX_ROWS_ENTRIES,
    PACKED_FROM,
    TEXT_SEPARATOR,
    JoinedText,
    Records,
    RowBudget,
    WireError,
    decode,
    encode,
)
from tests.typed import typed

column_values = (
    st.none()
    | st.booleans()
    | st.integers(INT_MIN, INT_MAX)
    | st.floats()
    | st.sampled_from([0.0, -0.0, math.inf, -math.inf, math.nan])
    | st.text(max_size=5)
    | st.binary(max_size=4)
)
one_kind_columns = (
    st.lists(st.integers(INT_MIN, INT_MAX), min_size=1, max_size=1).map(lambda v: ("int", v[0]))
    | st.floats().map(lambda v: ("float", v))
    | st.text(max_size=5).map(lambda v: ("str", v))
)


def sent(data: Any) -> Any:
    """``data`` as the pipe carries it: JSON text, parsed again."""
    return json.loads(json.dumps(data, allow_nan=False))


@st.composite
def records(draw: st.DrawFn, values: st.SearchStrategy[Any] = column_values) -> tuple[list[str], list[list[Any]]]:
    keys = draw(
        st.lists(st.text(max_size=4) | st.sampled_from(["$bytes", "$x", "id"]), min_size=1, max_size=9, unique=True)
    )
    count = draw(st.integers(1, 12))
    columns = [draw(st.lists(values, min_size=count, max_size=count)) for _ in keys]
    return keys, columns


def rows_of(keys: list[str], columns: list[list[Any]]) -> list[dict[str, Any]]:
    return [dict(zip(keys, row, strict=True)) for row in zip(*columns, strict=True)]


class TestSameValues:
    @settings(max_examples=300, deadline=None)
    @given(records(), st.booleans())
    def test_columns_decode_to_what_the_plain_form_decodes_to(
        self, shape: tuple[list[str], list[list[Any]]], known_kinds: bool
    ) -> None:
        keys, columns = shape
        kinds = [set(map(type, column)) for column in columns] if known_kinds else None
        wire = sent(encode(Records(keys, columns, kinds), RowBudget()))
        assert list(wire) == ["$rows"]
        plain = sent(encode(rows_of(keys, columns)))
        assert typed(decode(wire, RowBudget())) == typed(decode(plain)) == typed(rows_of(keys, columns))

    @settings(max_examples=200, deadline=None)
    @given(st.lists(one_kind_columns, min_size=1, max_size=30), st.sampled_from(["int", "float", "str"]))
    def test_columns_of_one_type_are_packed_and_keep_every_value(self, drawn: list[Any], kind: str) -> None:
        values = [value for name, value in drawn if name == kind] or {"int": [0], "float": [0.5], "str": [""]}[kind]
        column = [*values, INT_MIN, INT_MAX] if kind == "int" else values
        wire = sent(encode(Records(["v"], [column]), RowBudget()))
        (form,) = wire["$rows"][1]
        assert (list(form) if isinstance(form, dict) else "list") == {"int": ["$i64"], "float": ["$f64"]}.get(
            kind, "list"
        )
        assert typed(decode(wire, RowBudget())) == typed([{"v": value} for value in column])

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.text(max_size=6).filter(lambda text: TEXT_SEPARATOR not in text), min_size=1, max_size=20))
    def test_joined_strings_cross_as_text(self, strings: list[str]) -> None:
        column = JoinedText(TEXT_SEPARATOR.join(strings), len(strings))
        wire = sent(encode(Records(["s", "n"], [column, list(range(len(strings)))], [{str}, {int}]), RowBudget()))
        assert wire["$rows"][1][0] == {"$text": TEXT_SEPARATOR.join(strings)}
        expected = [{"s": text, "n": index} for index, text in enumerate(strings)]
        assert typed(decode(wire, RowBudget())) == typed(expected)
        assert encode(Records(["s", "n"], [column, list(range(len(strings)))])) == expected  # no budget: plain

    def test_records_nested_anywhere_and_mixed_numbers(self) -> None:
        table = Records(["a", "b"], [[1, 2.5, True], ["x", b"\xff", "z"]])
        value = {"rows": table, "list": [1, table], "keys": {1: table}}
        expected = [{"a": 1, "b": "x"}, {"a": 2.5, "b": b"\xff"}, {"a": True, "b": "z"}]
        assert decode(sent(encode(value, RowBudget())), RowBudget()) == {
            "rows": expected,
            "list": [1, expected],
            "keys": {1: expected},
        }


class TestBudget:
    def test_records_past_the_budget_go_in_the_plain_form(self) -> None:
        table = Records(["a", "b"], [[1, 2, 3], [4, 5, 6]])  # 3 rows of 2 fields: 9 entries
        budget = RowBudget(10)
        first, second = encode(table, budget), encode(table, budget)
        assert list(first) == ["$rows"] and budget.left == 1
        assert second == [{"a": 1, "b": 4}, {"a": 2, "b": 5}, {"a": 3, "b": 6}]
        assert encode(table) == second  # no budget: the plain form

    def test_the_kernel_refuses_a_message_past_its_budget(self) -> None:
        budget = RowBudget()
        wire = sent(encode(Records(["a"], [list(range(300_000))]), RowBudget()))  # 600,000 entries
        assert len(decode(wire, budget)) == 300_000
        with pytest.raises(WireError, match=f"more than {MAX_ROWS_ENTRIES} entries in one message"):
            decode(wire, budget)

    def test_packed_columns_are_counted_before_they_are_unpacked(self) -> None:
        packed = {"$i64": base64.b64encode(bytes(8 * 600_000)).decode()}
        with pytest.raises(WireError, match="entries in one message"):
            decode({"$rows": [["a"], [packed]]}, RowBudget(1_000_000))  # 1,200,000 entries
        assert decode({"$rows": [["a"], [packed]]}, RowBudget(1_200_000))[-1] == {"a": 0}

    def test_rows_are_refused_where_none_are_expected(self) -> None:
        wire = sent(encode(Records(["a"], [[1]]), RowBudget()))
        with pytest.raises(WireError, match="a \\$rows value where none is accepted"):
            decode(wire)
        with pytest.raises(WireError, match="where none is accepted"):
            decode({"$map": [[wire, 1]]}, RowBudget())  # never a key


def nested(value: Any, levels: int) -> Any:
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize("levels", [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1])
def test_depth_is_bounded_as_for_the_plain_form(levels: int) -> None:
    plain = nested([{"a": 1}], levels)
    columnar = nested({"$rows": [["a"], [[1]]]}, levels)
    try:
        expected = ("ok", decode(sent(plain)))
    except WireError as error:
        expected = ("refused", str(error))
    try:
        found = ("ok", decode(sent(columnar), RowBudget()))
    except WireError as error:
        found = ("refused", str(error))
    assert found == expected


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("x", "not \\[keys, columns\\]"),
        ([["a"]], "not \\[keys, columns\\]"),
        ([["a"], [[1]], 3], "not \\[keys, columns\\]"),
        (["a", [[1]]], "not \\[keys, columns\\]"),
        ([["a"], {"a": [1]}], "not \\[keys, columns\\]"),
        ([[], []], "keys are not distinct strings"),
        ([[1], [[1]]], "keys are not distinct strings"),
        ([[None], [[1]]], "keys are not distinct strings"),
        ([["a", "a"], [[1], [2]]], "keys are not distinct strings"),
        ([["a", "b"], [[1]]], "not one column per key"),
        ([["a"], [[1], [2]]], "not one column per key"),
        ([["a"], ["1"]], "neither a list nor \\$f64, \\$i64 or \\$text"),
        ([["a"], [None]], "neither a list nor \\$f64, \\$i64 or \\$text"),
        ([["a"], [{"$f32": "AAAAAAAAAAA="}]], "neither a list nor \\$f64, \\$i64 or \\$text"),
        ([["a"], [{"$f64": "AAAAAAAAAAA=", "x": 1}]], "neither a list nor \\$f64, \\$i64 or \\$text"),
        ([["a"], [{"$f64": [1.5]}]], "neither a list nor \\$f64, \\$i64 or \\$text"),
        ([["a"], [{"$i64": "!!!!"}]], "malformed \\$i64"),
        ([["a"], [{"$f64": "AAAA"}]], "malformed \\$f64: not a whole number of 8-byte values"),
        ([["a"], [{"$text": ["x"]}]], "neither a list nor \\$f64, \\$i64 or \\$text"),
        ([["a", "b"], [[1, 2], {"$text": "x\x7fy\x7fz"}]], "columns are empty or of different lengths"),
        ([["a", "b"], [[1], {"$text": "x\x7fy"}]], "columns are empty or of different lengths"),
        ([["a"], [[]]], "columns are empty or of different lengths"),
        ([["a"], [{"$f64": ""}]], "columns are empty or of different lengths"),
        ([["a", "b"], [[1, 2], [3]]], "columns are empty or of different lengths"),
        ([["a", "b"], [[1, 2], {"$i64": "AQAAAAAAAAA="}]], "columns are empty or of different lengths"),
        ([["a"], [[[1]]]], "a value that is not a scalar"),
        ([["a"], [[{"b": 1}]]], "a value that is not a scalar"),
        ([["a"], [[{"$map": []}]]], "a value that is not a scalar"),
        ([["a"], [[{"$lua": ["function", "<Lua function>"]}]]], "a value that is not a scalar"),
        ([["a"], [[{"$rows": [["b"], [[1]]]}]]], "a value that is not a scalar"),
        ([["a"], [[{"$bytes": "AA==", "$float": "nan"}]]], "a value that is not a scalar"),
        ([["a"], [[{"$bytes": "!"}]]], "malformed \\$bytes"),
        ([["a"], [[{"$float": "1.5"}]]], "unknown or malformed tag '\\$float'"),
    ],
)
def test_malformed_rows_are_refused(body: Any, problem: str) -> None:
    with pytest.raises(WireError, match=problem):
        decode({"$rows": body}, RowBudget())


def json_containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["$f64", "$i64", "$bytes", "a"]), inner, max_size=2
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=3),
    json_containers,
    max_leaves=12,
)
SCALARS = (type(None), bool, int, float, str, bytes)


@settings(max_examples=500, deadline=None)
@given(json_values, st.integers(0, 40))
def test_anything_is_refused_or_gives_rows_of_its_keys(body: Any, room: int) -> None:
    """Whatever a worker sends as ``$rows``: a clear refusal, or a list of dicts with its
    keys and scalar values, within the budget."""
    budget = RowBudget(room)
    try:
        rows = decode({"$rows": body}, budget)
    except WireError:
        return
    keys = body[0]
    assert rows and all(list(row) == keys for row in rows)
    assert all(type(value) in SCALARS for row in rows for value in row.values())
    assert budget.left == room - len(rows) * (len(keys) + 1) >= 0


def packed(numbers: list[Any], code: str) -> memoryview:
    """``numbers`` packed as the worker's bulk reader packs a list of numbers of one type."""
    return memoryview(struct.pack(f"={len(numbers)}{code}", *numbers)).cast(code)


@settings(max_examples=200)
@given(
    st.lists(st.integers(INT_MIN, INT_MAX), max_size=80).map(lambda v: (v, "q"))
    | st.lists(st.floats() | st.sampled_from([-0.0, math.inf, math.nan]), max_size=80).map(lambda v: (v, "d")),
    st.integers(0, 100),
)
def test_packed_numbers_decode_to_their_list_within_the_budget(numbers: tuple[list[Any], str], room: int) -> None:
    values, code = numbers
    budget = RowBudget(room)
    data = sent(encode(packed(values, code), budget))
    if len(values) <= room:
        assert data == {"$f64" if code == "d" else "$i64": base64.b64encode(packed(values, code)).decode("ascii")}
    else:  # over the budget: the plain list
        assert isinstance(data, list)
    assert typed(decode(data, RowBudget(room))) == typed(values)


@pytest.mark.parametrize(
    ("body", "rows", "problem"),
    [
        ({"$f64": base64.b64encode(b"\0" * 16).decode()}, None, "where none is accepted"),
        ({"$i64": 5}, RowBudget(), "malformed $i64"),
        ({"$f64": "not base64!"}, RowBudget(), "malformed $f64"),
        ({"$f64": base64.b64encode(b"\0" * 12).decode()}, RowBudget(), "whole number of 8-byte values"),
        ({"$i64": base64.b64encode(b"\0" * 88).decode()}, RowBudget(10), f"more than {MAX_ROWS_ENTRIES} entries"),
        ({"$f64": base64.b64encode(b"\0" * 8).decode(), "x": 1}, RowBudget(), "exactly one key"),
    ],
)
def test_malformed_packed_numbers_are_refused(body: Any, rows: RowBudget | None, problem: str) -> None:
    with pytest.raises(WireError, match=re.escape(problem)):
        decode(body, rows)


def test_packed_numbers_share_the_budget_of_their_message() -> None:
    budget = RowBudget(100)
    message = [{"$i64": base64.b64encode(packed(list(range(60)), "q")).decode()}] * 2
    with pytest.raises(WireError, match="more than"):
        decode(message, budget)
    assert decode(message[:1], RowBudget(100)) == [list(range(60))]


@settings(max_examples=100)
@given(
    st.lists(st.integers(INT_MIN, INT_MAX), min_size=60, max_size=80)
    | st.lists(st.floats() | st.sampled_from([-0.0, math.inf, math.nan]), min_size=60, max_size=80)
    | st.lists(st.booleans() | st.integers(0, 3), min_size=60, max_size=80),
    st.integers(0, 100),
)
def test_a_pushed_list_of_numbers_is_packed_within_the_budget(values: list[Any], room: int) -> None:
    data = sent(encode(values, RowBudget(room)))
    kinds = set(map(type, values))
    assert isinstance(data, dict) == (len(values) >= PACKED_FROM and kinds in ({int}, {float}) and len(values) <= room)
    assert typed(decode(data, RowBudget(room))) == typed(values)


def test_a_pushed_list_is_plain_without_a_budget() -> None:
    assert encode([0.5] * 100) == [0.5] * 100
