"""Lists of numbers crossing packed (``$f64`` / ``$i64``) under hostile input.

From Lua: special numbers, holes that leave ``#t`` equal to the entry count, metatables,
library functions replaced in the cell's environment, deep nesting, results past the
message's entry budget; each converts to exactly the plain form's value and the session
goes on. From a worker that breaks the rules: packed lists where none is accepted, past
the budget (alone, many small ones, beside ``$rows``), malformed, or as keys and row
values, are refused; NaNs of any sign or payload read as ``float("nan")``.
"""

from __future__ import annotations

import base64
import json
import math
import struct
from typing import Any

import pytest

from jido_kernel.lua import LuaSandbox, LuaWorkerCrashed
from jido_kernel.lua.wire import MAX_ROWS_ENTRIES, RowBudget, WireError, decode
from tests.fake_worker import result


def sign(number: float) -> float:
    return math.copysign(1.0, number)


# -- from Lua ----------------------------------------------------------------------------


def test_special_floats_packed_are_the_plain_forms(sandbox: LuaSandbox) -> None:
    code = """
    local specials = {0/0, -(0/0), 1/0, -1/0, -0.0, 0.0, 4.9e-324, 2^53 + 1.0, math.huge}
    local long, short = {}, {}
    for i = 1, 90 do long[i] = specials[(i - 1) % #specials + 1] end
    for i = 1, #specials do short[i] = specials[i] end
    return long, short
    """
    long, short = sandbox.run(code).values
    assert len(long) == 90 and len(short) == 9
    for index, value in enumerate(long):
        plain = short[index % 9]
        assert type(value) is float
        if math.isnan(plain):
            assert math.isnan(value) and sign(value) == sign(plain) == 1.0  # one NaN, as float("nan")
        else:
            assert value == plain and sign(value) == sign(plain)


def test_integer_extremes_stay_integers(sandbox: LuaSandbox) -> None:
    code = "local t = {} for i = 1, 200 do t[i] = ({math.mininteger, math.maxinteger, 0, -1})[i % 4 + 1] end return t"
    (value,) = sandbox.run(code).values
    assert value == [[-(2**63), 2**63 - 1, 0, -1][i % 4] for i in range(1, 201)]
    assert {type(item) for item in value} == {int}


def test_a_list_of_both_number_types_keeps_each_type(sandbox: LuaSandbox) -> None:
    (value,) = sandbox.run("local t = {} for i = 1, 100 do t[i] = (i == 77) and 3 or 3.0 end return t").values
    assert [type(item) for item in value] == [float] * 76 + [int] + [float] * 23


@pytest.mark.parametrize("hole", [1, 40, 70])
def test_holes_that_leave_the_length_at_the_entry_count_read_as_the_plain_form(sandbox: LuaSandbox, hole: int) -> None:
    code = f"""
    local t = {{}} for i = 1, 70 do t[i] = i + 0.5 end
    t[{hole}] = nil t.extra = 1.5  -- n entries again, and #t may still be 70
    return #t, t
    """
    length, value = sandbox.run(code).values
    expected: dict[Any, Any] = {i: i + 0.5 for i in range(1, 71) if i != hole}
    expected["extra"] = 1.5
    assert length in (70, hole - 1) and value == expected


def test_metatables_never_run_and_the_raw_numbers_cross(sandbox: LuaSandbox) -> None:
    code = """
    hits = 0
    local function hit() hits = hits + 1 return 7 end
    local mt = {__index = hit, __newindex = hit, __len = function() hits = hits + 1 return 3 end,
                __pairs = function() hits = hits + 1 return next, {} end, __metatable = false}
    local t = setmetatable({}, mt)
    for i = 1, 100 do rawset(t, i, i * 0.25) end
    return t
    """
    (value,) = sandbox.run(code).values
    assert value == [i * 0.25 for i in range(1, 101)]
    assert sandbox.run("return hits").values == [0]


def test_replaced_library_functions_in_the_cell_do_not_reach_the_reader(sandbox: LuaSandbox) -> None:
    code = """
    string.pack = function() return 'x' end
    string.rep = function() return '' end
    table.unpack = function() return 1 end
    table.concat = function() return '' end
    math.type = function() return 'integer' end
    getmetatable = function() return nil end
    rawlen = function() return 0 end
    next = function() return nil end
    local t = {} for i = 1, 100 do t[i] = i / 2 end
    return t
    """
    (value,) = sandbox.run(code).values
    assert value == [i / 2 for i in range(1, 101)]
    assert sandbox.run("return 1 + 1").values == [2]


def test_deepest_packed_list_matches_the_plain_form(sandbox: LuaSandbox) -> None:
    for count in (10, 100):
        (value,) = sandbox.run(
            f"local t = {{}} for i = 1, {count} do t[i] = i + 0.5 end for d = 1, 99 do t = {{t}} end return t"
        ).values
        for _ in range(99):
            (value,) = value
        assert value == [i + 0.5 for i in range(1, count + 1)]


def test_results_past_the_entry_budget_cross_plain(sandbox: LuaSandbox) -> None:
    code = "local a, b = {}, {} for i = 1, 600000 do a[i] = i b[i] = -i end return a, b, a"
    a, b, again = sandbox.run(code).values
    assert a == again == list(range(1, 600_001)) and b == [-i for i in range(1, 600_001)]


def test_outputs_pulls_and_state_calls_get_plain_lists(sandbox: LuaSandbox) -> None:
    run = sandbox.run("floats = {} ints = {} for i = 1, 300 do floats[i] = i * 1.5 ints[i] = i end", outputs=["floats"])
    assert run.outputs["floats"] == [i * 1.5 for i in range(1, 301)]
    assert type(run.outputs["floats"]) is list
    pulled = sandbox.pull("ints")
    assert type(pulled) is list and pulled == list(range(1, 301)) and {type(i) for i in pulled} == {int}
    (answer,) = sandbox.run("return jido.state.update_todos(floats)").values
    assert answer == [[i * 1.5 for i in range(1, 301)]]


# -- from a worker that breaks the rules ---------------------------------------------------


def packed(code: str, numbers: list[Any]) -> str:
    return base64.b64encode(struct.pack(f"={len(numbers)}{code}", *numbers)).decode("ascii")


def test_decoded_packed_lists_equal_the_plain_forms() -> None:
    floats = [0.0, -0.0, 1.5, math.inf, -math.inf, 5e-324, 1.7976931348623157e308]
    ints = [-(2**63), 2**63 - 1, 0, -1, 1]
    assert decode({"$f64": packed("d", floats)}, RowBudget()) == floats
    got = decode({"$f64": packed("d", floats)}, RowBudget())
    assert [sign(x) for x in got] == [sign(x) for x in floats]
    assert decode({"$i64": packed("q", ints)}, RowBudget()) == ints
    assert decode({"$f64": ""}, RowBudget()) == [] and decode({"$i64": ""}, RowBudget()) == []


def test_nans_of_any_sign_or_payload_decode_as_float_nan() -> None:
    nans = [
        struct.pack("=Q", bits)
        for bits in (0x7FF8000000000000, 0xFFF8000000000000, 0x7FF0000000000001, 0xFFFFFFFFFFFFFFFF)
    ]
    body = base64.b64encode(b"".join(nans) + struct.pack("=d", 2.5)).decode("ascii")
    values = decode({"$f64": body}, RowBudget())
    assert len(values) == 5 and values[4] == 2.5
    assert all(math.isnan(v) and sign(v) == 1.0 for v in values[:4])
    assert {struct.pack("=d", v) for v in values[:4]} == {struct.pack("=d", float("nan"))}
    (row,) = decode({"$rows": [["a"], [{"$f64": base64.b64encode(nans[1]).decode("ascii")}]]}, RowBudget())
    assert math.isnan(row["a"]) and sign(row["a"]) == 1.0


@pytest.mark.parametrize(
    "data",
    [
        {"$f64": "AAAAAAAAAAA="},  # 8 bytes but no rows budget: refused below
        {"x": [{"$i64": ""}]},
        {"$map": [[1, {"$f64": ""}]]},
    ],
)
def test_packed_lists_need_a_budget(data: Any) -> None:
    with pytest.raises(WireError, match=r"where none is accepted"):
        decode(data)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"$f64": "AAAA"}, r"not a whole number of 8-byte values"),
        ({"$i64": "A"}, r"malformed \$i64"),
        ({"$f64": "AAAA AAAAAAA="}, r"malformed \$f64"),
        ({"$f64": 12}, r"malformed \$f64"),
        ({"$f64": ["AAAAAAAAAAA="]}, r"malformed \$f64"),
        ({"$f64": "", "$i64": ""}, r"exactly one key"),
        ({"$f64": "", "x": 1}, r"exactly one key"),
        ({"$map": [[{"$f64": ""}, 1]]}, r"where none is accepted"),
        ({"$rows": [["a"], [[{"$f64": ""}]]]}, r"not a scalar"),
        ({"$rows": [["a"], [{"$f64": ""}]]}, r"empty or of different lengths"),
    ],
)
def test_malformed_packed_lists_are_refused(data: Any, problem: str) -> None:
    with pytest.raises(WireError, match=problem):
        decode(data, RowBudget())


def test_the_budget_holds_for_one_many_and_mixed_packed_values() -> None:
    one = {"$i64": base64.b64encode(bytes(8 * (MAX_ROWS_ENTRIES + 1))).decode("ascii")}
    with pytest.raises(WireError, match=r"entries in one message"):
        decode(one, RowBudget())
    small = {"$f64": packed("d", [0.0] * 1000)}
    budget = RowBudget()
    decode([small] * 1000, budget)  # exactly the budget
    assert budget.left == 0
    for more in ([small], {"$f64": packed("d", [1.0])}, {"$map": [[1, small]]}, {"k": small}):
        with pytest.raises(WireError, match=r"entries in one message"):
            decode(more, budget)
    assert decode({"$f64": ""}, budget) == []  # nothing left, nothing taken
    mixed = RowBudget()
    rows = {"$rows": [["a", "b"], [{"$i64": packed("q", [1] * 300_000)}, [2] * 300_000]]}  # 900,000 entries
    decode(rows, mixed)
    with pytest.raises(WireError, match=r"entries in one message"):
        decode({"$f64": packed("d", [0.5] * 100_001)}, mixed)


def test_many_small_packed_lists_past_the_budget_restart_the_worker(rogue: Any) -> None:
    small = json.dumps({"$f64": packed("d", [0.0] * 1000)})
    values = "[" + ", ".join([small] * 600) + "]"
    outputs = "{" + ", ".join(f'"o{i}": {small}' for i in range(401)) + "}"
    sandbox = rogue(result(values, outputs))  # 1,001,000 entries in all
    with pytest.raises(LuaWorkerCrashed, match=r"broke the protocol: malformed value.*entries in one message"):
        sandbox.run("")


def test_packed_values_within_the_budget_arrive_as_lists(rogue: Any) -> None:
    small = json.dumps({"$i64": packed("q", [7] * 64)})
    sandbox = rogue(result(f'[{small}, {{"$map": [[true, {small}]]}}]', f'{{"o": {small}}}'))
    run = sandbox.run("", outputs=["o"])
    assert run.values == [[7] * 64, {True: [7] * 64}] and run.outputs == {"o": [7] * 64}


def test_packed_lists_in_a_state_call_are_refused(rogue: Any) -> None:
    call = '{"type": "state_call", "id": RID, "call_id": 1, "op": "update_todos", "args": [{"$f64": ""}]}'
    sandbox = rogue(call, result("[]"))
    with pytest.raises(LuaWorkerCrashed, match=r"malformed value.*\$f64 value where none is accepted"):
        sandbox.run("")


def test_packed_lists_in_a_pull_answer_are_checked(rogue: Any) -> None:
    sandbox = rogue('{"type": "value", "id": RID, "value": {"$f64": "AAAAAAAAAA=="}}')
    with pytest.raises(LuaWorkerCrashed, match=r"malformed value.*8-byte values"):
        sandbox.pull("x")
