"""Values crossing between Python and Lua: checks, the JSON wire form, real round trips
through a Lua state, and how results are displayed."""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from IPython.lib.pretty import pretty

from jido_kernel.display.lua import LuaTable, display_value, html_table, lua_repr
from jido_kernel.lua.errors import LuaValueError
from jido_kernel.lua.wire import (
    INT_MAX,
    INT_MIN,
    MAX_DEPTH,
    MAX_ITEMS,
    LuaOpaque,
    WireError,
    _Checker,
    _decode,
    _encode,
    check_name,
    check_value,
    decode,
    encode,
)
from jido_kernel.lua.worker.bridge import FUNCTIONS, STATE_OPS
from jido_kernel.lua.worker.lupa_data import text
from jido_kernel.lua.worker.runtime import Callbacks, SandboxRuntime
from jido_kernel.lua.worker.stopper import Limiter

integers = st.integers(INT_MIN, INT_MAX)
scalars = st.none() | st.booleans() | integers | st.floats() | st.text() | st.binary()
keys = st.text() | integers | st.booleans() | st.floats(allow_nan=False)


def nested(key: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=6) | st.dictionaries(key, inner, max_size=6),
        max_leaves=25,
    )


plain = nested(keys | st.binary())
_any_text = st.text(max_size=4) | st.sampled_from(["\ud800", "a\udfffb"])  # lone surrogates too
checked_or_not = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64) | st.floats() | _any_text | st.binary(),
    lambda inner: (
        st.lists(inner, max_size=6)
        | st.tuples(inner, inner)
        | st.dictionaries(_any_text | st.integers(-(2**64), 2**64) | st.floats() | st.binary(), inner, max_size=6)
    ),
    max_leaves=30,
)
lua_plain = nested(keys)  # "a" and b"a" would be one Lua key


def same(a: Any, b: Any) -> bool:
    """Equal with the same types all the way down (1 is not 1.0 nor True); NaN equals NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return len(a) == len(b) and all(
            any(same(key, other) for other in b) and same(value, _lookup(b, key)) for key, value in a.items()
        )
    return bool(a == b)


def _lookup(mapping: dict[Any, Any], key: Any) -> Any:
    return next(value for other, value in mapping.items() if same(other, key))


def lua_model(value: Any) -> Any:
    """What Lua gives back for plain Python data (see jido_kernel.lua.wire)."""
    if isinstance(value, bytes):
        return text(value)
    if isinstance(value, list):
        return _table({index: item for index, item in enumerate(value, 1)})
    if isinstance(value, dict):
        return _table(value)
    return value


def _table(entries: dict[Any, Any]) -> Any:
    table = {}
    for key, item in entries.items():
        if item is None:
            continue
        if isinstance(key, float) and key.is_integer() and -(2.0**63) <= key < 2.0**63:
            key = int(key)
        table[lua_model(key) if isinstance(key, bytes) else key] = lua_model(item)
    count = len(table)
    if all(type(key) is int and 1 <= key <= count for key in table):
        return [table[index] for index in range(1, count + 1)]
    return table


class TestCheck:
    def test_normalises_containers_and_numbers(self) -> None:
        checked = check_value((1, bytearray(b"x"), OrderedDict(a=(2.5,)), True), "v")
        assert same(checked, [1, b"x", {"a": [2.5]}, True])

    @pytest.mark.parametrize(
        ("value", "problem"),
        [
            (
                object(),
                "v is a Python object; use None, bool, int, float, str, bytes, or lists, tuples and dicts of those",
            ),
            (
                {"a": [1, {2, 3}]},
                "v['a'][1] is a Python set; "
                "use None, bool, int, float, str, bytes, or lists, tuples and dicts of those",
            ),
            (2**63, "v is 9223372036854775808, beyond Lua's 64-bit integers; pass it as a float or a string"),
            ({None: 1}, "v has a Python NoneType key; use str, bytes, int, float or bool keys"),
            ({float("nan"): 1}, "v has a NaN key (Lua tables cannot hold one)"),
            ({(1, 2): 1}, "v has a Python tuple key; use str, bytes, int, float or bool keys"),
            ("\ud800", "v contains a lone surrogate (not valid Unicode)"),
        ],
    )
    def test_refuses_with_the_variable_and_the_type(self, value: Any, problem: str) -> None:
        with pytest.raises(LuaValueError) as caught:
            check_value(value, "v")
        assert str(caught.value) == f"Cannot pass 'v' to Lua: {problem}."

    def test_refuses_cycles_and_depth(self) -> None:
        cycle: list[Any] = [1]
        cycle.append(cycle)
        with pytest.raises(LuaValueError, match="contains itself"):
            check_value(cycle, "c")
        deep: list[Any] = []
        for _ in range(MAX_DEPTH + 1):
            deep = [deep]
        with pytest.raises(LuaValueError, match=f"nested more than {MAX_DEPTH} levels"):
            check_value(deep, "d")
        shared = [1]
        assert check_value([shared, shared], "s") == [[1], [1]]  # shared is not a cycle

    @given(checked_or_not)
    @example({"\ud800": None})
    @example([{"a": None}, {"b": ["\udfff"]}])
    @example({"a": [1, {"b": 2**63}]})
    @example({"a": {"b": (1,)}, "c": b"x"})
    @example([{"a": 1}, {1: 2}])
    @example({math.nan: 1})
    def test_whole_trees_pass_unchanged_only_when_every_item_would(self, value: Any) -> None:
        """Plain trees are checked level by level, not item by item; the outcome is the same."""
        try:
            expected = _Checker("v").check(value, "v", 0, frozenset())
        except LuaValueError as error:
            with pytest.raises(LuaValueError) as caught:
                check_value(value, "v")
            assert str(caught.value) == str(error)
            return
        assert same(check_value(value, "v"), expected)

    def test_the_tree_check_keeps_the_item_and_depth_bounds(self) -> None:
        records = [{"id": index, "name": f"n{index}"} for index in range(MAX_ITEMS // 3)]
        assert check_value(records, "r") is records  # nothing to change: no copy
        with pytest.raises(LuaValueError, match=f"holds more than {MAX_ITEMS} items"):
            check_value([*records, *records], "r")
        deep: Any = {"a": 1}
        for _ in range(MAX_DEPTH - 1):
            deep = {"a": deep}
        assert check_value(deep, "d") is deep
        with pytest.raises(LuaValueError, match=f"nested more than {MAX_DEPTH} levels"):
            check_value([deep], "d")

    @pytest.mark.parametrize("name", ["x", "_x1", "Answer"])
    def test_names(self, name: str) -> None:
        assert check_name(name) == name

    @pytest.mark.parametrize("name", ["", "1x", "a.b", "end", "nil", "a b", "é"])
    def test_bad_names(self, name: str) -> None:
        with pytest.raises(LuaValueError, match="is not a Lua variable name"):
            check_name(name)


class TestWire:
    @given(plain)
    def test_round_trip_through_json_keeps_every_type(self, value: Any) -> None:
        try:
            checked = check_value(value, "v")
        except LuaValueError as error:  # "a" and b"a": one Lua key
            assert "which are the same key in Lua" in str(error)
            return
        assert same(decode(json.loads(json.dumps(encode(checked), allow_nan=False))), checked)

    def test_tags(self) -> None:
        assert encode({"a": b"\x00", "$b": math.inf, 2: LuaOpaque("function", "<Lua function>")}) == {
            "$map": [
                ["a", {"$bytes": "AA=="}],
                ["$b", {"$float": "inf"}],
                [2, {"$lua": ["function", "<Lua function>"]}],
            ]
        }

    @pytest.mark.parametrize(
        "data",
        [{"$x": 1}, {"$bytes": "!!"}, {"$float": "1"}, {"$map": [[1]]}, {"$map": [[[1], 2]]}, {"$a": 1, "b": 2},
         {"$lua": ["module", "x"]}, {"$lua": "function"}, (1,)],
    )  # fmt: skip
    def test_malformed_wire_data_is_refused(self, data: Any) -> None:
        with pytest.raises(WireError):
            decode(data)

    @given(st.recursive(scalars | st.sampled_from([math.inf, math.nan]), lambda inner: st.lists(inner, max_size=5)
           | st.dictionaries(keys | st.sampled_from(["$bytes", "$x"]), inner, max_size=5), max_leaves=40))  # fmt: skip
    def test_whole_trees_pass_as_is_only_when_every_item_would(self, value: Any) -> None:
        """Plain trees are recognised level by level, not item by item; the result is the same."""
        wire = encode(value)
        assert _same(wire, _encode(value))
        parsed = json.loads(json.dumps(wire, allow_nan=False))
        assert _same(decode(parsed), _decode(parsed, 0))
        tagged = json.loads(json.dumps({"$map": [[1, parsed]]}))
        assert _same(decode([tagged]), [_decode(tagged, 0)])

    def test_depth_is_bounded_on_the_fast_path_too(self) -> None:
        deep: Any = [1]
        for _ in range(MAX_DEPTH + 1):
            deep = [deep]
        assert decode(deep) == deep  # MAX_DEPTH + 1 levels below the top
        with pytest.raises(WireError, match="nested too deeply"):
            decode([deep])
        with pytest.raises(WireError, match="nested too deeply"):
            decode({"rows": [{"a": deep}]})


@pytest.fixture(scope="module")
def runtime() -> SandboxRuntime:
    limiter = Limiter()
    threading.Thread(target=limiter.watch, daemon=True).start()
    callbacks = Callbacks(
        emit=lambda data: None,
        bridge=lambda name, args: (None, "unused"),
        state=lambda op, args: (None, "unused"),
        bridge_names=FUNCTIONS,
        state_names=STATE_OPS,
    )
    return SandboxRuntime(callbacks, limiter, max_memory=64 * 1024 * 1024)


class TestThroughLua:
    @settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=300)
    @given(lua_plain)
    def test_python_to_lua_to_python(self, runtime: SandboxRuntime, value: Any) -> None:
        checked = check_value(value, "v")
        runtime.push("v", checked)
        assert same(runtime.pull("v"), lua_model(checked))

    def test_byte_string_keys(self, runtime: SandboxRuntime) -> None:
        runtime.push("v", {b"\xff": 1, b"ok": 2})
        assert runtime.pull("v") == {b"\xff": 1, "ok": 2}

    def test_lua_values_become_plain_data(self, runtime: SandboxRuntime) -> None:
        outcome = runtime.run(
            "return 1, 1.0, 2^53, -0.0, 1/0, 'é', '\\xff', true, nil, {}, {1, 2}, {[1] = 'a', [3] = 'c'}, "
            "{x = {y = {1}}}, {[true] = 1, [2.5] = 2, z = 3}",
            "<cell>",
            timeout=5,
            want_return=True,
        )
        expected = [1, 1.0, 9007199254740992.0, -0.0, math.inf, "é", b"\xff", True, None, [], [1, 2],
                    {1: "a", 3: "c"}, {"x": {"y": [1]}}, {True: 1, 2.5: 2, "z": 3}]  # fmt: skip
        assert same(outcome.values, expected)
        assert list(outcome.values[-1]) == [True, 2.5, "z"]  # stable key order

    def test_unconvertible_values_are_placeholders_in_results(self, runtime: SandboxRuntime) -> None:
        outcome = runtime.run(
            "local t = {f = print, co = coroutine.create(print)} t.me = t t[{}] = 1 return t, print",
            "<cell>",
            timeout=5,
            want_return=True,
        )
        table, function = outcome.values
        assert function == LuaOpaque("function", "<Lua function>")
        assert table["f"] == LuaOpaque("function", "<Lua function>")
        assert table["me"] == LuaOpaque("table", "<Lua table (cycle)>")
        (key,) = [key for key in table if isinstance(key, LuaOpaque)]
        assert key.kind == "table" and key.description.startswith("<Lua table key 0x")
        assert table["co"].kind in ("thread", "function")

    @pytest.mark.parametrize(
        ("code", "problem"),
        [
            ("v = print",
             "Cannot convert v to Python: it is a Lua function; "
             "only nil, booleans, numbers, strings and tables of those convert."),
            ("v = {a = {1, print}}", "Cannot convert v['a'][2] to Python: it is a Lua function"),
            ("v = {} v.v = v", "Cannot convert v['v'] to Python: the table contains itself."),
            ("v = {[{}] = 1}",
             "Cannot convert v to Python: it has a table key; table keys must be strings, numbers or booleans."),
        ],
    )  # fmt: skip
    def test_pulling_refuses_what_is_not_data(self, runtime: SandboxRuntime, code: str, problem: str) -> None:
        runtime.run(code, "<cell>", timeout=5, want_return=False)
        with pytest.raises(LuaValueError) as caught:
            runtime.pull("v")
        assert str(caught.value).startswith(problem)

    def test_pull_of_an_unset_global_is_none(self, runtime: SandboxRuntime) -> None:
        assert runtime.pull("never_set") is None

    def test_push_and_pull_ignore_environment_metamethods(self, runtime: SandboxRuntime) -> None:
        runtime.run(
            "local loop = function() while true do end end setmetatable(_G, {__newindex = loop, __index = loop})",
            "<cell>",
            timeout=5,
            want_return=False,
        )
        try:
            runtime.push("w", 5)
            assert runtime.pull("w") == 5
            assert runtime.pull("missing") is None
        finally:
            runtime.run("setmetatable(_G, nil)", "<cell>", timeout=5, want_return=False)

    def test_conversion_reads_tables_raw(self, runtime: SandboxRuntime) -> None:
        outcome = runtime.run(
            "return setmetatable({1}, {__index = function() while true do end end, __pairs = error, __len = error})",
            "<cell>",
            timeout=5,
            want_return=True,
        )
        assert outcome.values == [[1]]

    def test_too_large_a_value_is_refused(self, runtime: SandboxRuntime) -> None:
        runtime.run("big = {} for i = 1, 1000001 do big[i] = true end", "<cell>", timeout=20, want_return=False)
        with pytest.raises(LuaValueError, match="more than 1000000 table entries"):
            runtime.pull("big")
        runtime.run("big = nil", "<cell>", timeout=5, want_return=False)


class TestDisplay:
    def test_scalars_stay_python_values_and_tables_are_wrapped(self) -> None:
        assert display_value([]) is None
        assert display_value([3]) == 3
        assert display_value([[1, 2]]) == LuaTable([1, 2])
        assert display_value([1, {"a": 1}]) == (1, LuaTable({"a": 1}))
        several = display_value([None, "Security error: no", 2.5])
        assert several == (None, "Security error: no", 2.5) and isinstance(several, tuple)
        assert pretty(several) == 'nil, "Security error: no", 2.5' and several._repr_html_() is None
        with_table = display_value([{"a": 1}, True])
        assert pretty(with_table) == "{a = 1}, true" and "<table" in with_table._repr_html_()

    def test_text_is_a_lua_constructor(self) -> None:
        value = {"name": "x", "list": [1, 2.0, None, True], "nested key": {"deep": b"\xff\n"}, 1.5: math.inf}
        assert lua_repr(value) == (
            "{\n"
            '  name = "x",\n'
            "  list = {1, 2.0, nil, true},\n"
            '  ["nested key"] = {deep = "\\xff\\n"},\n'
            "  [1.5] = math.huge,\n"
            "}"
        )
        assert lua_repr({"a": "é\t", "b": -math.inf, "c": math.nan}) == '{a = "é\\t", b = -math.huge, c = 0/0}'
        long = lua_repr([{"name": f"file-{i}.txt", "type": "file"} for i in range(3)])
        assert long == (
            "{\n"
            '  {name = "file-0.txt", type = "file"},\n'
            '  {name = "file-1.txt", type = "file"},\n'
            '  {name = "file-2.txt", type = "file"},\n'
            "}"
        )
        assert lua_repr([]) == "{}" and lua_repr([LuaOpaque("function", "<Lua function>")]) == "{<Lua function>}"

    def test_html_escapes_and_uses_theme_variables(self) -> None:
        page = html_table({"<b>": "<script>alert(1)</script>", "n": [1, {"k": "v"}]})
        assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;b&gt;" in page
        assert page.count("<table") == 3 and "var(--jp-" in LuaTable({})._repr_mimebundle_()["text/html"]

    def test_records_become_rows(self) -> None:
        page = html_table([{"name": "a", "type": "file"}, {"name": "b", "type": "directory"}])
        assert page.count("<tr>") == 3 and ">name</th>" in page and ">type</th>" in page

    def test_mimebundle(self) -> None:
        bundle = LuaTable({"a": 1})._repr_mimebundle_()
        assert bundle["text/plain"] == "{a = 1}" and '<table class="jido-lua-table"' in bundle["text/html"]


_scalar = (
    st.none() | st.booleans() | st.integers(-(2**64), 2**64) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF, blacklist_categories=()))
)  # fmt: skip


@given(st.lists(_scalar, max_size=30))
def test_array_fast_paths_agree_with_the_item_by_item_path(items: list[Any]) -> None:
    """Long arrays skip the per-item walk only when every item would pass unchanged."""
    try:
        checked = [check_value(item, "x") for item in items]
    except LuaValueError:
        with pytest.raises(LuaValueError):
            check_value(items, "x")
        return
    assert _same(check_value(items, "x"), checked)
    assert _same(check_value(tuple(items), "x"), checked)
    wire = encode(checked)
    assert _same(wire, [encode(item) for item in checked])
    assert _same(decode(wire), [decode(encode(item)) for item in checked])
    keyed = {f"k{index}": item for index, item in enumerate(checked)}
    assert _same(check_value(keyed, "x"), {key: check_value(item, "x") for key, item in keyed.items()})
    assert _same(decode(encode(keyed)), {key: decode(encode(item)) for key, item in keyed.items()})


def _same(left: Any, right: Any) -> bool:
    """Equal, with NaN equal to NaN and types compared exactly."""
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(_same(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_same(left[key], right[key]) for key in left)
    if isinstance(left, float) and isinstance(right, float) and math.isnan(left):
        return math.isnan(right)
    return type(left) is type(right) and left == right
