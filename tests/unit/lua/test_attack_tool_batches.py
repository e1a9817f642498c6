"""Batches of tool-call records (``tool_calls`` messages) under hostile input.

The kernel checks a batch whole before any record of it is used: rows of the record's
fields in order (a finished call's row may stand for its ``running`` record too), known
functions and statuses, bounded arguments; text fields are clipped, and a record the
session's state refuses (a duplicate id, an update of a call never started, an odd
duration) is dropped without stopping the run. A real worker sends the records of
hundreds of calls in order with what the chunk printed between them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jido_kernel.lua import LuaSandbox, LuaWorkerCrashed
from jido_kernel.lua.events import checked_tool_calls
from jido_kernel.lua.protocol import MAX_ARGUMENTS, MAX_CALLS, MAX_TEXT, ProtocolError
from jido_kernel.state import SessionState
from tests.fake_worker import replaying

OK = ["c1", "read_file", {"path": "a.txt"}, "completed", 1.5, "3 lines"]


def deep(levels: int) -> list[Any]:
    root: list[Any] = []
    inner = root
    for _ in range(levels):
        inner.append([])
        inner = inner[0]
    return root


MALFORMED = {
    "too many rows": [OK] * (MAX_CALLS + 1),
    "a row that is an object": [dict(zip("abcdef", OK, strict=True))],
    "a short row": [OK[:5]],
    "a long row": [[*OK, True, True]],
    "a row of one value": [["c1"]],
    "a running call marked finished too": [[*OK[:3], "running", None, None, True]],
    "a mark that is 1": [[*OK, 1]],
    "a mark that is false": [[*OK, False]],
    "a mark that is a string": [[*OK, "true"]],
    "an id that is a number": [[1, *OK[1:]]],
    "a name that is a list": [[OK[0], ["read_file"], *OK[2:]]],
    "arguments that are a list": [[*OK[:2], ["a"], *OK[3:]]],
    "a status that is null": [[*OK[:3], None, *OK[4:]]],
    "a duration that is a string": [[*OK[:4], "1", OK[5]]],
    "a summary that is an object": [[*OK[:5], {"a": 1}]],
    "an unknown function": [[OK[0], "os_execute", *OK[2:]]],
    "a dunder function": [[OK[0], "__class__", *OK[2:]]],
    "an unknown status": [[*OK[:3], "pending", *OK[4:]]],
    "arguments past the bound": [[*OK[:2], {"path": "x" * MAX_ARGUMENTS}, *OK[3:]]],
    "arguments past the bound in escapes": [[*OK[:2], {"path": "\x01" * (MAX_ARGUMENTS // 5)}, *OK[3:]]],
    "arguments past the bound in keys": [[*OK[:2], {"k" * MAX_ARGUMENTS: 1}, *OK[3:]]],
    "arguments nested past the bound": [[*OK[:2], {"path": [[[]]] * 3000}, *OK[3:]]] * MAX_CALLS,
    "arguments nested too deeply": [[*OK[:2], {"path": deep(100_000)}, *OK[3:]]],
    "one large row among small ones": [OK] * 100 + [[*OK[:2], {"p": ["x"] * 5000}, *OK[3:]]] + [OK] * 100,
}


@pytest.mark.parametrize("rows", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_batches_are_refused(rows: list[Any]) -> None:
    started = time.monotonic()
    with pytest.raises(ProtocolError):
        checked_tool_calls(rows)
    assert time.monotonic() - started < 2


def test_a_batch_of_the_largest_rows_is_checked_quickly() -> None:
    row = [
        "i" * 50_000,
        "shell",
        {"command": "x" * (MAX_ARGUMENTS // 14)},
        "error",
        1e308,
        "s\n\t " * 50_000,  # 256 of them: about the largest message
    ]
    started = time.monotonic()
    records = checked_tool_calls([[*row, True]] * (MAX_CALLS // 2) + [row] * (MAX_CALLS // 2))
    assert time.monotonic() - started < 5
    assert len(records) == MAX_CALLS * 3 // 2
    assert {len(record["id"]) for record in records} == {64}
    assert {len(record["result_summary"]) for record in records if record["status"] == "error"} == {MAX_TEXT}
    first, second = records[:2]
    assert first["status"] == "running" and first["result_summary"] is None and first["duration_ms"] is None
    assert first["arguments"] == second["arguments"] and first["arguments"] is not second["arguments"]


def test_an_empty_batch_is_nothing() -> None:
    assert checked_tool_calls([]) == []


# -- through the pipe ----------------------------------------------------------------------


@pytest.fixture
def rogue(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A sandbox whose worker answers every request with the given raw lines; its
    callbacks' calls in ``events``."""
    events: list[Any] = []
    with replaying(project, tmp_path, monkeypatch) as start:

        def start_recording(*messages: Any, on_tool_call: Any = None) -> LuaSandbox:
            return start(*messages, on_tool_call=on_tool_call or events.append)

        start_recording.events = events  # type: ignore[attr-defined]
        yield start_recording


def calls(*rows: Any, run: str = "RID") -> str:
    return f'{{"type": "tool_calls", "id": {run}, "calls": {json.dumps(list(rows))}}}'


def stdout(text: str) -> str:
    return f'{{"type": "stdout", "id": RID, "text": {json.dumps(text)}}}'


RESULT = '{"type": "result", "id": RID, "values": ["done"], "outputs": {}, "duration": 0.0}'


def test_records_of_other_runs_and_after_the_result_are_dropped(rogue: Any) -> None:
    sandbox = rogue(calls(OK, run="PRID"), calls(OK, run="NRID"), RESULT, calls(OK))
    assert sandbox.run("").values == ["done"]
    assert sandbox.run("").values == ["done"]  # the late batch of the first run is not the second's
    assert rogue.events == []


def test_records_and_printed_text_keep_their_order(rogue: Any) -> None:
    printed: list[str] = []
    sandbox = rogue(stdout("a"), calls(OK), stdout("b"), calls([*OK, True], OK), stdout("c"), RESULT)
    order: list[str] = []
    sandbox.on_tool_call = lambda record: order.append(record["status"])

    def on_stdout(text: str) -> None:
        printed.append(text)
        order.append(text)

    assert sandbox.run("", on_stdout=on_stdout).values == ["done"]
    assert order == ["a", "completed", "b", "running", "completed", "completed", "c"]


def test_a_malformed_batch_restarts_the_worker_before_any_record_is_used(rogue: Any) -> None:
    sandbox = rogue(calls(OK, OK, [*OK[:3], "bogus", *OK[4:]]), RESULT)
    with pytest.raises(LuaWorkerCrashed, match="broke the protocol: unknown tool call status 'bogus'"):
        sandbox.run("")
    assert rogue.events == []


def test_a_batch_that_is_not_a_list_restarts_the_worker(rogue: Any) -> None:
    sandbox = rogue('{"type": "tool_calls", "id": RID, "calls": {"a": 1}}', RESULT)
    with pytest.raises(LuaWorkerCrashed, match="broke the protocol"):
        sandbox.run("")


def test_records_the_state_refuses_are_dropped_and_the_run_goes_on(rogue: Any) -> None:
    state = SessionState("attack")
    from jido_kernel.session.manager import SessionManager

    handler = SessionManager._on_tool_call
    holder = type("Holder", (), {"session": type("S", (), {"state": state})()})()
    odd = [
        [*OK[:3], "completed", 1.0, "finished before started"],  # an update of a call never started
        ["c2", "read_file", {}, "running", None, None],
        ["c2", "read_file", {}, "running", None, None],  # the same id again
        ["c2", "read_file", {}, "completed", float("nan"), "x"],
        ["c2", "read_file", {}, "completed", -5, "x"],
        ["c2", "read_file", {}, "completed", True, "x"],
        ["c2", "read_file", {}, "completed", 10**400, "x"],
        ["c3", "read_file", {"a": float("inf")}, "running", None, None],
        ["c4", "read_file", {}, "running", None, None],
        ["c4", "read_file", {}, "completed", 2.0, "ok"],
    ]
    sandbox = rogue(calls(*odd), RESULT, on_tool_call=lambda record: handler(holder, record))
    assert sandbox.run("").values == ["done"]
    calls_now = {call.id: call for call in state.tool_calls}
    assert calls_now["c4"].status == "completed" and calls_now["c4"].duration_ms == 2.0
    assert calls_now["c2"].status == "running"
    assert "c1" not in calls_now


# -- from Lua ------------------------------------------------------------------------------


@pytest.fixture
def recorded(project: Path) -> Iterator[tuple[LuaSandbox, list[Any]]]:
    records: list[Any] = []
    sandbox = LuaSandbox(project, timeout=30, on_tool_call=records.append)
    yield sandbox, records
    sandbox.close()


def test_hundreds_of_calls_between_prints_arrive_in_order(recorded: tuple[LuaSandbox, list[Any]]) -> None:
    sandbox, _records = recorded
    order: list[Any] = []
    sandbox.on_tool_call = lambda record: order.append((record["id"], record["status"]))
    code = """
    for i = 1, 700 do
      jido.file_exists('f' .. i)
      if i % 3 == 0 then print('p' .. i) end
      if i % 5 == 0 then pcall(jido.read_file, 'missing' .. i) end
    end
    return 'ok'
    """
    assert sandbox.run(code, on_stdout=lambda text: order.append(text)).values == ["ok"]
    ids = [item[0] for item in order if isinstance(item, tuple)]
    statuses = [item[1] for item in order if isinstance(item, tuple)]
    assert len(ids) == 2 * (700 + 140)
    assert statuses[0::2] == ["running"] * 840 and set(statuses[1::2]) == {"completed", "error"}
    assert ids[0::2] == ids[1::2] and len(set(ids)) == 840
    printed = "".join(item for item in order if isinstance(item, str))
    assert printed == "".join(f"p{i}\n" for i in range(3, 701, 3))
    # each print comes after the records of the calls before it
    position = {item: index for index, item in enumerate(order) if isinstance(item, tuple)}
    text_at = [index for index, item in enumerate(order) if isinstance(item, str)]
    assert text_at and all(position[(ids[0], "completed")] < index for index in text_at)


def test_huge_arguments_and_results_from_lua_stay_small(recorded: tuple[LuaSandbox, list[Any]]) -> None:
    sandbox, records = recorded
    code = "return jido.read_file(string.rep('a\\n\\0\\127', 1000000), {offset = 1e308})"
    value, message = sandbox.run(code).values
    assert value is None and message.startswith("Security error: invalid path (contains a NUL byte)")
    assert len(message) < 1000
    sandbox.run("jido.write_file('big.txt', string.rep('line\\n', 200000))")
    sandbox.run("return #jido.read_file('big.txt')")
    assert records and all(len(json.dumps(record["arguments"], default=repr)) <= MAX_ARGUMENTS for record in records)
    assert all(record["result_summary"] is None or len(record["result_summary"]) <= MAX_TEXT for record in records)
    assert sandbox.run("return 1").values == [1]


@pytest.mark.parametrize("call", ["jido.read_file('x\\255')", "jido.shell('\\255')", "jido.list_dir('\\255')"])
def test_a_failed_call_on_a_path_that_is_not_utf8_leaves_the_session_working(
    recorded: tuple[LuaSandbox, list[Any]], call: str
) -> None:
    sandbox, _records = recorded
    value, message = sandbox.run(f"return {call}").values
    assert value is None and isinstance(message, str)
    assert sandbox.run("return 1").values == [1]


def test_a_call_on_a_short_path_that_is_not_utf8_is_recorded(recorded: tuple[LuaSandbox, list[Any]]) -> None:
    sandbox, records = recorded
    assert sandbox.run("return jido.file_exists('a\\255')").values == [False]
    assert records[-1]["arguments"] == {"path": "a\\xff"} and records[-1]["status"] == "completed"
    assert sandbox.run("return 1").values == [1]
