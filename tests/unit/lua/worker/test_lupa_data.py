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
from lupa.lua54 import LuaRuntime

from jido_kernel.lua import LuaSandbox, LuaValueError
from jido_kernel.lua.wire import INT_MAX, INT_MIN, WireError, check_value, decode, encode
from jido_kernel.lua.worker.lupa_data import from_lua, text

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
