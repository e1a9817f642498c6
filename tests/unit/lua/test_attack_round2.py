"""The worker's messages under hostile input, round two: the count of values, escaped
surrogates, strict UTF-8, memory per message, and the limits' value objects.

Each test states what must hold.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jido_kernel.lua import LuaSandbox, LuaValueError, LuaWorkerCrashed, protocol
from jido_kernel.lua.limits import SandboxLimits
from jido_kernel.lua.protocol import FROM_WORKER, MAX_MESSAGE, MAX_VALUES, ProtocolError
from jido_kernel.lua.wire import RowBudget, decode
from tests.fake_worker import PREAMBLE, result, workers
from tests.typed import texts


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LuaSandbox]:
    root = tmp_path_factory.mktemp("round2_project").resolve()
    sandbox = LuaSandbox(root, timeout=30)
    yield sandbox
    sandbox.close()


# -- the count of values: linear time on any line ----------------------------------------


def test_counting_values_in_a_line_of_unclosed_strings_is_linear() -> None:
    # 400 quotes that open strings never closed, then commas past the count: a linear
    # count takes well under a second; each quote costs a scan of the whole line.
    program = textwrap.dedent(
        f"""
        from jido_kernel.lua import protocol
        line = b'"' + b'\\\\"' * 400 + b',' * ({MAX_VALUES} + 1)
        try:
            protocol._check_values(bytearray(line))
        except protocol.ProtocolError:
            pass
        """
    )
    try:
        subprocess.run([sys.executable, "-c", program], timeout=6, check=True, cwd=Path(__file__).parents[3])
    except subprocess.TimeoutExpired:
        pytest.fail("counting the values of one 8 MB line took more than 6 s")


def test_commas_colons_and_brackets_inside_lua_strings_are_not_values(sandbox: LuaSandbox) -> None:
    (text,) = sandbox.run('x = 1 return string.rep(",:[{", 2500000)').values
    assert len(text) == 10_000_000
    assert sandbox.run("return x").values == [1]


def test_counting_values_in_many_short_strings_with_escapes_is_fast() -> None:
    line = bytearray(b'{"type":"value","id":1,"value":[' + b'"\\\\\\"",' * 1_500_000 + b"0]}")
    start = time.perf_counter()
    message = protocol._parse(line, FROM_WORKER)
    assert time.perf_counter() - start < 5
    assert len(message["value"]) == 1_500_001


# -- escaped surrogates: backslash parity ---------------------------------------------------


@pytest.mark.parametrize(
    ("line", "escapes"),
    [
        (rb'"\ud800"', True),
        (rb'"\\ud800"', False),
        (rb'"\\\ud800"', True),
        (rb'"\\\\ud800"', False),
        (rb'"\uDFFF"', True),
        (rb'"\\ud800\ud800"', True),
        (rb'"\\ud800\\ud800"', False),
        (rb'"\ud7ff\ue000"', False),
        (rb'"a\\" , "\ud800"', True),
        (rb'"\\\\\\\\\\\\\\\ud800"', True),
        (rb'"\\\\\\\\\\\\\\ud800"', False),
    ],
)
def test_escaped_surrogates_are_found_by_backslash_parity(line: bytes, escapes: bool) -> None:
    assert protocol._escapes_surrogate(line) is escapes


def test_looking_for_escaped_surrogates_is_linear() -> None:
    line = b'"' + b"\\" * 4_000_000 + b"\\\\ud8" * 1_000_000 + b'"'
    start = time.perf_counter()
    protocol._escapes_surrogate(line)
    assert time.perf_counter() - start < 3


def test_lua_text_that_spells_a_surrogate_crosses_as_text(sandbox: LuaSandbox) -> None:
    code = r"""y = 5 return '\\ud800', '\\\\udfff', '\\uD800\\uDC00', '"\\ud8', '\u{7ff}\u{e000}'"""
    values = sandbox.run(code).values
    assert values == ["\\ud800", "\\\\udfff", "\\uD800\\uDC00", '"\\ud8', "\u07ff\ue000"]
    assert sandbox.run("return y").values == [5]


def test_a_lua_string_of_an_encoded_surrogate_is_bytes_not_text(sandbox: LuaSandbox) -> None:
    (value,) = sandbox.run(r"return '\xed\xa0\x80', '\xc0\xaf'").values[:1]
    assert value == b"\xed\xa0\x80"


@pytest.mark.parametrize(
    "values",
    [
        '["\\ud800"]',
        '[{"\\udc80": 1}]',
        '[{"$text": "\\udfff"}]',
        '[{"$rows": [["k\\udbff"], [[1]]]}]',
    ],
)
def test_escaped_surrogates_from_a_worker_restart_it(rogue: Any, values: str) -> None:
    with pytest.raises(LuaWorkerCrashed, match="escaped surrogate"):
        rogue(result(values)).run("")


RAW = PREAMBLE + textwrap.dedent(
    """
    ready()
    while True:
        rid = receive()["id"]
        data = open(sys.argv[1], "rb").read().replace(b"RID", str(rid).encode())
        while data:
            data = data[os.write(1, data) :]
    """
)


@pytest.mark.parametrize(
    "message",
    [
        b'{"type": "stdout", "id": RID, "text": "\xed\xa0\x80"}',
        b'{"type": "stdout", "id": RID, "text": "\xc0\xaf"}',
        b'{"type": "stdout", "id": RID, "text": "\xf4\x90\x80\x80"}',
        b'{"type": "error", "id": RID, "error": {"type": "x\xff", "message": "m", "chunk": null, "line": null}}',
        b'{"type": "result", "id": RID, "values": [{"\xed\xb2\x80": 1}], "outputs": {}, "duration": 0}',
    ],
)
def test_bytes_that_are_not_utf8_from_a_worker_restart_it(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, message: bytes
) -> None:
    lines = tmp_path / "raw.bin"
    lines.write_bytes(message + b"\n")
    with workers(RAW, project, tmp_path, monkeypatch) as start, pytest.raises(LuaWorkerCrashed, match="not UTF-8"):
        start(str(lines)).run("")


def test_protocol_parse_refuses_encoded_surrogates_directly() -> None:
    with pytest.raises(ProtocolError, match="not UTF-8"):
        protocol._parse(bytearray(b'{"type": "stdout", "id": 1, "text": "\xed\xa0\x80"}'), FROM_WORKER)


# -- numbers and nesting from a worker --------------------------------------------------------


def test_an_integer_past_python_digit_limit_restarts_the_worker(rogue: Any) -> None:
    with pytest.raises(LuaWorkerCrashed, match="not JSON"):
        rogue(result("[" + "9" * 5000 + "]")).run("")


def test_nesting_past_the_recursion_limit_restarts_the_worker(rogue: Any) -> None:
    with pytest.raises(LuaWorkerCrashed, match=r"not JSON|nested"):
        rogue(result("[" * 200_000 + "]" * 200_000)).run("")


def test_many_long_integers_parse_in_bounded_time() -> None:
    number = b"9" * 4000
    line = bytearray(b'{"type":"value","id":1,"value":[' + b",".join([number] * 4000) + b"]}")
    start = time.perf_counter()
    protocol._parse(line, FROM_WORKER)
    assert time.perf_counter() - start < 5


# -- memory per message --------------------------------------------------------------------------


def _astral_string() -> bytes:
    body = b"a" * (MAX_MESSAGE - 200) + "\U0001f600".encode()
    return b'{"type":"value","id":1,"value":"' + body + b'"}'


def _floats_and_an_astral_string() -> bytes:
    floats = b",".join([b"0.5"] * (MAX_VALUES - 100))
    text = b"a" * (MAX_MESSAGE - len(floats) - 400) + "\U0001f600".encode()
    return b'{"type":"value","id":1,"value":[[' + floats + b'],"' + text + b'"]}'


@pytest.mark.parametrize("make", [_astral_string, _floats_and_an_astral_string])
def test_one_message_costs_at_most_three_quarters_of_a_gigabyte_while_it_is_parsed(make: Any) -> None:
    line = bytearray(make())
    assert len(line) < MAX_MESSAGE
    tracemalloc.start()
    try:
        message = protocol._parse(line, FROM_WORKER)
        decode(message["value"], RowBudget())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 768 * 1024 * 1024  # MAX_VALUES' bound


# -- the limits' value objects ---------------------------------------------------------------------


def test_limits_are_frozen_and_replace_checks_its_values() -> None:
    limits = SandboxLimits()
    with pytest.raises(AttributeError):
        limits.max_memory = 1 << 40  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del limits.shell_allowlist
    with pytest.raises(TypeError):
        limits.sources["timeout"] = "flag"  # type: ignore[index]
    for bad in ({"timeout": True}, {"max_memory": -1}, {"timeout": float("nan")}, {"shell_allowlist": "ls"}):
        with pytest.raises(Exception, match="limit"):
            limits.replace(**bad)
    with pytest.raises(Exception, match="sources"):
        limits.replace(sources={"timeout": "root"})


def test_limits_from_the_wire_take_exactly_their_form() -> None:
    wire = SandboxLimits().to_wire()
    assert SandboxLimits.from_wire(wire) == SandboxLimits()
    for bad in (
        {**wire, "timeout": True},
        {**wire, "shell_allowlist": "ls"},
        {**wire, "shell_allowlist": [1]},
        {**wire, "max_memory": 1.5},
        {**wire, "sources": {}},
        {k: v for k, v in wire.items() if k != "kernel_time"},
    ):
        with pytest.raises(ValueError):
            SandboxLimits.from_wire(bad)


# -- the worker after running out of its own memory ------------------------------------------


def test_running_out_of_memory_in_every_kind_of_answer_keeps_the_state(sandbox: LuaSandbox) -> None:
    sandbox.run("keep = 42 local s = string.rep('x', 1 << 20) big = {} for i = 1, 2000 do big[i] = {a = s} end")
    for attempt in (
        lambda: sandbox.run("return big"),
        lambda: sandbox.pull("big"),
        lambda: sandbox.run("local y = 1", outputs=["big"]),
        lambda: sandbox.run("return big"),
    ):
        with pytest.raises(LuaValueError, match="out of memory converting values"):
            attempt()
        assert sandbox.run("return keep, #big").values == [42, 2000]
    sandbox.run("big = nil")


# -- names that are not UTF-8 ---------------------------------------------------------------------


def test_names_that_are_not_utf8_stay_confined_and_distinct(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    raw = os.fsencode(root)
    os.mkdir(raw + b"/d\xff")
    (Path(os.fsdecode(raw + b"/d\xff/f\xfe.txt"))).write_text("hi")
    lua = LuaSandbox(root.resolve(), timeout=30)
    try:
        assert lua.run("return jido.list_dir('.')").values == [[{"name": b"d\xff", "type": "directory"}]]
        assert sorted(lua.run("return jido.glob('**/*')").values[0]) == [b"d\xff", b"d\xff/f\xfe.txt"]
        assert lua.run(r"return jido.read_file('d\xff/f\xfe.txt', {raw = true})").values == ["hi"]
        # overlong and surrogate encodings of '.', '/' and '..' are plain bytes, never separators
        for name in (r"\xc0\xae\xc0\xae/../../x.txt", r"d\xff/../../x.txt", r"d\xff/\xc0\xae\xc0\xae/../../../x.txt"):
            ok, message = lua.run(f"return jido.write_file('{name}', 'a')").values
            assert ok is None and "escapes project boundary" in message
        assert lua.run(r"return jido.write_file('\xc0\xaf..\xc0\xafx.txt', 'a')").values == [True]
        assert lua.run(r"return jido.write_file('a\xff', '1'), jido.write_file('a\xfe', '2')").values == [True, True]
        values = lua.run(r"return jido.read_file('a\xff', {raw = true}), jido.read_file('a\xfe', {raw = true})").values
        assert values == ["1", "2"]
        assert lua.run(r"return jido.delete_file('a\xff')").values == [True]
        assert lua.run(r"return jido.read_file('a\xfe', {raw = true})").values == ["2"]
    finally:
        lua.close()
    assert sorted(os.listdir(tmp_path)) == ["project"]
    assert sorted(os.listdir(raw)) == [b"a\xfe", b"d\xff", b"\xc0\xaf..\xc0\xafx.txt"]


def test_options_tables_are_read_raw_and_checked(sandbox: LuaSandbox) -> None:
    code = r"""
    local trap = setmetatable({}, {__index = function() error('boom') end, __pairs = function() error('boom') end})
    local a, b = jido.read_file('missing', trap)
    local c, d = jido.read_file('missing', {raw = 'yes'})
    return a, b, c, d
    """
    values = sandbox.run(code).values
    assert values[0] is None and "not found" in values[1]
    assert values[2] is None and "raw must be a boolean" in values[3]


def test_bytes_that_are_not_utf8_reach_the_kernel_only_as_valid_text(tmp_path: Path) -> None:
    calls: list[Any] = []
    printed: list[str] = []
    lua = LuaSandbox(
        tmp_path.resolve(), timeout=30, on_tool_call=calls.append, on_state_call=lambda op, args: [op, args]
    )
    try:
        code = r"""
        print('\xff\xed\xa0\x80 \\ud800')
        jido.read_file('\xed\xa0\x80\xff')
        jido.write_file('\xed\xb0\x80', '\xed\xa0\x80')
        return jido.state.append_message({role = '\xed\xa0\x80', ['\xff'] = '\xc0\xaf'})
        """
        result = lua.run(code, on_stdout=printed.append)
        assert result.values == [["append_message", [{"role": b"\xed\xa0\x80", b"\xff": b"\xc0\xaf"}]]]
        assert [call["status"] for call in calls] == ["running", "error", "running", "completed"]
        for text in texts([printed, calls, result.values]):
            text.encode("utf-8")
        assert "\\ud800" in "".join(printed)
    finally:
        lua.close()


def test_distinct_opaque_keys_cross_or_fail_clearly(sandbox: LuaSandbox) -> None:
    sandbox.run("kept = 7")
    (functions,) = sandbox.run("return {[print] = 1, [type] = 2, [function() end] = 3}").values
    assert sorted(functions.values()) == [1, 2, 3]
    (tables,) = sandbox.run("return {[{}] = 1, [{}] = 2}").values
    assert sorted(tables.values()) == [1, 2]
    try:
        sandbox.run("return {[coroutine.create(print)] = 1, [coroutine.create(print)] = 2}")
    except LuaValueError as error:
        assert "distinct in Lua but the same key in Python" in str(error)
    assert sandbox.run("return kept").values == [7]
