"""Lists of records crossing in columns (``$rows``) under hostile input.

From Lua: rows with metatables, special numbers, strings that look like separators,
keys that collide, shared and cyclic tables, results far larger than the Lua state;
each converts to exactly the plain form's value, or fails with one clear error, and the
session goes on. From a worker that breaks the rules: every malformed columnar form is
refused before a row is made, with work bounded by the message's size.
"""

from __future__ import annotations

import base64
import json
import math
import struct
import time
from pathlib import Path
from typing import Any

import pytest

from jido_kernel.lua import LuaError, LuaSandbox, LuaValueError, LuaWorkerCrashed
from jido_kernel.lua.wire import MAX_ROWS_ENTRIES, TEXT_SEPARATOR, RowBudget, WireError, decode
from tests.fake_worker import result
from tests.typed import texts


def rows_of(sandbox: LuaSandbox, body: str, count: int = 100) -> Any:
    """The value of ``t`` after ``body`` ran once per row ``i`` of ``count``."""
    (value,) = sandbox.run(f"local t = {{}} for i = 1, {count} do {body} end return t").values
    return value


# -- from Lua ----------------------------------------------------------------------------


def test_metamethods_never_run_while_rows_are_read(sandbox: LuaSandbox) -> None:
    code = """
    hits = 0
    local function hit() hits = hits + 1 return 7 end
    local mt = {__index = hit, __newindex = hit, __len = hit, __pairs = function() hits = hits + 1 return next, {} end,
                __eq = hit, __lt = hit, __le = hit, __concat = hit, __tostring = hit, __name = 'evil', __metatable = 1}
    local t = setmetatable({}, mt)
    for i = 1, 300 do rawset(t, i, setmetatable({a = i, b = 'r' .. i}, mt)) end
    return t
    """
    (rows,) = sandbox.run(code).values
    assert rows == [{"a": i, "b": f"r{i}"} for i in range(1, 301)]
    assert sandbox.run("return hits").values == [0]


def test_special_numbers_cross_packed_columns_exactly(sandbox: LuaSandbox) -> None:
    rows = rows_of(
        sandbox,
        "t[i] = {nan = 0/0, inf = 1/0, ninf = -1/0, negzero = -0.0, big = 2^53 + 1.0, "
        "max = math.maxinteger, min = math.mininteger, tiny = 4.9e-324}",
        5000,
    )
    assert len(rows) == 5000
    for row in (rows[0], rows[-1]):
        assert math.isnan(row["nan"]) and row["inf"] == math.inf and row["ninf"] == -math.inf
        assert math.copysign(1.0, row["negzero"]) == -1.0
        assert row["max"] == 2**63 - 1 and row["min"] == -(2**63) and type(row["max"]) is int
        assert row["big"] == 2.0**53 and type(row["big"]) is float and row["tiny"] == 5e-324


def test_a_column_of_mixed_numbers_keeps_integers_and_floats_apart(sandbox: LuaSandbox) -> None:
    rows = rows_of(sandbox, "t[i] = {v = (i % 2 == 0) and 1 or 1.0, w = (i == 100) and 'x' or i}")
    assert [type(row["v"]) for row in rows] == [float, int] * 50
    assert rows[-1]["w"] == "x" and rows[0]["w"] == 1


def test_strings_holding_the_separator_nul_or_bytes_cross_unchanged(sandbox: LuaSandbox) -> None:
    rows = rows_of(sandbox, "t[i] = {a = 'x\\127y' .. i, b = '\\0', c = '\\255' .. i, d = ''}", 200)
    assert rows[4] == {"a": "x\x7fy5", "b": "\x00", "c": b"\xff5", "d": ""}
    # one row's string holds the separator: the others must not be split around it
    rows = rows_of(sandbox, "t[i] = {a = (i == 50) and '\\127\\127' or 'v'}", 200)
    assert [row["a"] for row in rows] == ["v"] * 49 + ["\x7f\x7f"] + ["v"] * 150
    rows = rows_of(sandbox, "t[i] = {a = (i == 3) and '\\x80' or 'v'}", 200)
    assert rows[2] == {"a": b"\x80"} and rows[3] == {"a": "v"}


def test_keys_that_are_not_text_or_collide_in_python(sandbox: LuaSandbox) -> None:
    rows = rows_of(sandbox, "t[i] = {['\\255'] = i, ok = true}")
    assert rows[0] == {b"\xff": 1, "ok": True}
    with pytest.raises(LuaValueError, match=r"keys \[1\] and \[true\] are distinct in Lua but the same key"):
        rows_of(sandbox, "t[i] = {[1] = 'a', [true] = 'b'}")
    assert sandbox.run("return 1").values == [1]


def test_rows_that_stop_being_records_late_read_as_the_plain_form(sandbox: LuaSandbox) -> None:
    # the first rows are records; the last one has an extra key, a table or a function
    extra = rows_of(sandbox, "t[i] = {a = i} if i == 5000 then t[i].b = 2 end", 5000)
    assert extra[-1] == {"a": 5000, "b": 2} and extra[0] == {"a": 1}
    nested = rows_of(sandbox, "t[i] = {a = i} if i == 5000 then t[i].a = {deep = {1}} end", 5000)
    assert nested[-1] == {"a": {"deep": [1]}} and nested[-2] == {"a": 4999}
    (value,) = sandbox.run("local t = {} for i = 1, 500 do t[i] = {a = i} end t[500].a = print return t").values
    assert repr(value[-1]["a"]) == "<Lua function>" and value[0] == {"a": 1}
    with pytest.raises(LuaValueError, match="it is a Lua function"):
        sandbox.run("rows = {} for i = 1, 500 do rows[i] = {a = i} end rows[500].a = print", outputs=["rows"])


def test_cycles_and_deep_nesting_inside_rows(sandbox: LuaSandbox) -> None:
    (value,) = sandbox.run("local t = {} for i = 1, 100 do t[i] = {a = i} end t[100].a = t return t").values
    assert repr(value[-1]["a"]) == "<Lua table (cycle)>"
    code = (
        "local t = {} for i = 1, 100 do t[i] = {a = i} end "
        "local d = {} t[100].a = d for _ = 1, 300 do d.x = {} d = d.x end return t"
    )
    (value,) = sandbox.run(code).values
    inner = value[-1]["a"]
    while isinstance(inner, dict):
        inner = inner["x"]
    assert repr(inner) == "<Lua table (nested too deeply)>"


def test_one_row_shared_a_million_times_is_refused_quickly(sandbox: LuaSandbox) -> None:
    started = time.monotonic()
    with pytest.raises(LuaValueError, match="more than 1000000 table entries"):
        sandbox.run("local r = {a = 1, b = 'x'} local t = {} for i = 1, 600000 do t[i] = r end return t")
    assert time.monotonic() - started < 10
    assert sandbox.run("return 2").values == [2]


def test_one_long_string_in_many_rows_is_bounded_by_the_message_size(sandbox: LuaSandbox) -> None:
    # 100 references to 1 MiB: 100 MiB of text from 1 MiB of Lua memory
    with pytest.raises(LuaValueError, match="message too large"):
        sandbox.run("local s = string.rep('x', 1 << 20) local t = {} for i = 1, 100 do t[i] = {a = s} end return t")
    assert sandbox.run("return 3").values == [3]


def test_one_long_string_in_thousands_of_rows_fails_with_an_error(sandbox: LuaSandbox) -> None:
    # 2000 references to 1 MiB: 2 GiB of text the worker cannot make; the kernel stays small
    with pytest.raises(LuaValueError, match="out of memory converting values for Python; return or pull less"):
        sandbox.run("local s = string.rep('x', 1 << 20) local t = {} for i = 1, 2000 do t[i] = {a = s} end return t")
    assert sandbox.run("return 4").values == [4]


def test_rows_in_outputs_pulls_and_state_calls(sandbox: LuaSandbox) -> None:
    expected = [{"id": i, "v": i / 2} for i in range(1, 1001)]
    code = "rows = {} for i = 1, 1000 do rows[i] = {id = i, v = i / 2} end"
    result = sandbox.run(code + " return rows, rows", outputs=["rows"])
    assert result.values == [expected, expected] and result.outputs == {"rows": expected}
    assert sandbox.pull("rows") == expected
    (args,) = sandbox.run("return jido.state.update_todos(rows)").values
    assert args == [expected]


def test_a_long_list_of_records_converts_in_linear_time(sandbox: LuaSandbox) -> None:
    code = "local t = {} for i = 1, %d do t[i] = {a = i, b = 'n' .. i, c = i * 0.5} end %s return t"
    timings = []
    for count in (50_000, 200_000):
        started = time.monotonic()
        (rows,) = sandbox.run(code % (count, f"t[{count}].c = {{}}")).values  # the last row is not a record
        timings.append(time.monotonic() - started)
        assert len(rows) == count and rows[-1]["c"] == []
    assert timings[1] < 10 * timings[0] + 1


def test_a_small_memory_limit_is_not_evaded_by_building_rows(project: Path) -> None:
    sandbox = LuaSandbox(project, timeout=30, max_memory=16 * 1024 * 1024)
    try:
        with pytest.raises(LuaError, match="memory"):
            sandbox.run("local t = {} for i = 1, 1000000 do t[i] = {a = i, b = 'n' .. i} end return t")
        (rows,) = sandbox.run("local t = {} for i = 1, 50000 do t[i] = {a = i} end return t").values
        assert len(rows) == 50_000
    finally:
        sandbox.close()


# -- from a worker that breaks the rules (the kernel's decoder) --------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def form(keys: Any, columns: Any) -> dict[str, Any]:
    return {"$rows": [keys, columns]}


MALFORMED = {
    "not a pair": {"$rows": [["a"]]},
    "body not a list": {"$rows": {"a": [1]}},
    "keys not a list": form("a", [[1]]),
    "no keys": form([], []),
    "a key not a string": form([1], [[1]]),
    "duplicate keys": form(["a", "a"], [[1], [2]]),
    "more columns than keys": form(["a"], [[1], [2]]),
    "unequal columns": form(["a", "b"], [[1, 2], [3]]),
    "no rows": form(["a"], [[]]),
    "a column that is a string": form(["a"], ["abc"]),
    "a column with two tags": form(["a"], [{"$i64": b64(bytes(8)), "$f64": b64(bytes(8))}]),
    "an unknown column tag": form(["a"], [{"$u8": "AA=="}]),
    "packed data not a string": form(["a"], [{"$i64": [1, 2]}]),
    "packed data not base64": form(["a"], [{"$i64": "@@@@@@@@@@@="}]),
    "packed data with whitespace": form(["a"], [{"$f64": "AAAA AAAAAAA="}]),
    "packed data of 7 bytes": form(["a"], [{"$f64": b64(bytes(7))}]),
    "packed and list columns of unequal lengths": form(["a", "b"], [{"$i64": b64(bytes(16))}, [1]]),
    "text and list columns of unequal lengths": form(["a", "b"], [{"$text": "x\x7fy"}, [1]]),
    "a nested $rows value": form(["a"], [[form(["b"], [[1]])]]),
    "a list value": form(["a"], [[[1]]]),
    "an object value": form(["a"], [[{"b": 1}]]),
    "a $map value": form(["a"], [[{"$map": []}]]),
    "a $lua value": form(["a"], [[{"$lua": ["function", "f"]}]]),
    "a malformed $bytes value": form(["a"], [[{"$bytes": "!"}]]),
    "a $float value that is not one": form(["a"], [[{"$float": "1e999"}]]),
    "a tagged value with two keys": form(["a"], [[{"$bytes": "", "$float": "nan"}]]),
    "a $rows key in a $map": {"$map": [[form(["a"], [[1]]), 1]]},
    "a $rows form with another key": {"$rows": [["a"], [[1]]], "x": 1},
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_columns_are_refused(data: Any) -> None:
    with pytest.raises(WireError):
        decode(data, RowBudget())
    with pytest.raises(WireError):
        decode(json.loads(json.dumps([{"x": data}])), RowBudget())


def test_columns_are_refused_where_no_budget_is_given() -> None:
    with pytest.raises(WireError, match="where none is accepted"):
        decode([form(["a"], [[1]])])


def test_special_floats_in_packed_columns_are_values() -> None:
    packed = struct.pack("=3d", math.nan, math.inf, -0.0)
    (nan, inf, zero) = decode(form(["a"], [{"$f64": b64(packed)}]), RowBudget())
    assert math.isnan(nan["a"]) and inf["a"] == math.inf and math.copysign(1, zero["a"]) == -1
    (low, high) = decode(form(["a"], [{"$i64": b64(struct.pack("=2q", -(2**63), 2**63 - 1))}]), RowBudget())
    assert low == {"a": -(2**63)} and high == {"a": 2**63 - 1}


@pytest.mark.parametrize(
    "data",
    [
        # one column of packed zeros, 8 bytes a row: 1,000,001 rows of 1 field
        form(["a"], [{"$i64": b64(bytes(8 * (MAX_ROWS_ENTRIES // 2 + 1)))}]),
        # separators only: the count comes before any split
        form(["a"], [{"$text": TEXT_SEPARATOR * (MAX_ROWS_ENTRIES // 2)}]),
        # a million keys of one row
        form([f"k{i}" for i in range(MAX_ROWS_ENTRIES)], [[0]] * MAX_ROWS_ENTRIES),
    ],
    ids=["packed", "text", "keys"],
)
def test_one_form_past_the_budget_is_refused_before_its_rows_are_made(data: Any) -> None:
    started = time.monotonic()
    with pytest.raises(WireError, match="entries in one message"):
        decode(data, RowBudget())
    assert time.monotonic() - started < 5


def test_forms_of_one_message_share_the_budget() -> None:
    half = form(["a"], [{"$i64": b64(bytes(8 * (MAX_ROWS_ENTRIES // 4)))}])  # half of the budget each
    budget = RowBudget()
    assert len(decode(half, budget)) == MAX_ROWS_ENTRIES // 4
    assert len(decode({"x": [half]}, budget)) == 1
    with pytest.raises(WireError, match="entries in one message"):
        decode({"$map": [[1, half]]}, budget)


# -- through the pipe ----------------------------------------------------------------------


def test_columns_past_the_budget_across_values_and_outputs_restart_the_worker(rogue: Any) -> None:
    column = json.dumps(form(["a"], [{"$i64": b64(bytes(8 * 300_000))}]))  # 600,000 entries
    sandbox = rogue(result(f"[{column}]", f'{{"rows": {column}}}'))
    with pytest.raises(LuaWorkerCrashed, match=r"broke the protocol: malformed value.*entries in one message"):
        sandbox.run("")


def test_columns_in_a_pull_answer_are_checked_too(rogue: Any) -> None:
    bad = json.dumps(form(["a", "b"], [[1], [1, 2]]))
    sandbox = rogue(f'{{"type": "value", "id": RID, "value": {bad}}}')
    with pytest.raises(LuaWorkerCrashed, match=r"malformed value.*different lengths"):
        sandbox.pull("x")


def test_packed_columns_with_raw_json_escapes_are_refused(rogue: Any) -> None:
    # base64 spelled with JSON escapes decodes as base64; a NUL inside does not
    sandbox = rogue(result('[{"$rows": [["a"], [{"$i64": "AAAA\\u0000AAAAAA="}]]}]'))
    with pytest.raises(LuaWorkerCrashed, match=r"malformed \$i64"):
        sandbox.run("")


def test_strings_from_a_worker_are_valid_unicode_or_refused(rogue: Any) -> None:
    sandbox = rogue(result('[{"$rows": [["k\\ud800"], [{"$text": "a\\u007fb\\udfff"}]]}]'))
    try:
        values = sandbox.run("").values
    except LuaWorkerCrashed:
        return  # refused as a protocol violation: the defence holds
    for text in texts(values):
        text.encode("utf-8")


def test_a_message_holding_more_values_than_the_kernel_takes_is_refused_before_it_is_parsed() -> None:
    # Each `{}` (3 bytes) would become a 64-byte dict: the bytes alone do not bound what a
    # parsed message holds, the count of values does.
    from jido_kernel.lua import protocol

    line = '{{"type": "result", "id": 1, "values": [[{}]], "outputs": {{}}, "duration": 0}}'.format(
        ",".join(["{}"] * (protocol.MAX_VALUES + 1))
    )
    started = time.perf_counter()
    with pytest.raises(protocol.ProtocolError, match="more than 8,000,000 values"):
        protocol._parse(bytearray(line.encode()), protocol.FROM_WORKER)
    assert time.perf_counter() - started < 5


def test_commas_inside_strings_are_not_values() -> None:
    from jido_kernel.lua import protocol

    text = ",:[{" * (protocol.MAX_VALUES // 2)
    line = json.dumps({"type": "stdout", "id": 1, "text": text}).encode()
    assert protocol._parse(bytearray(line), protocol.FROM_WORKER)["text"] == text


def test_a_result_of_more_values_than_a_message_holds_is_a_clear_error(project: Path) -> None:
    sandbox = LuaSandbox(project, timeout=60)
    try:
        code = (
            "local r = {} for j = 1, 9 do local t = {} for i = 1, 1000000 do t[i] = 0 end r[j] = t end "
            "kept = 42 return table.unpack(r)"
        )
        with pytest.raises(LuaValueError, match="more than 8,000,000 values"):
            sandbox.run(code)
        assert sandbox.run("return kept").values == [42]
    finally:
        sandbox.close()
