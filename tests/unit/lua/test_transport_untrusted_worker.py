"""The kernel's bounds on what a worker sends, with a worker that breaks the rules.

The Lua worker is the untrusted side of the pipe: these workers are small Python
programs speaking the protocol the way a compromised worker could. The kernel passes on
a bounded amount of printed text, accepts tool calls of known functions with small
arguments only, answers state calls of finished runs, and restarts a worker that lets
its replies pile up unread or asks for an unknown state operation.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from jido_kernel.lua import LuaWorkerCrashed
from jido_kernel.lua.events import MAX_OUTPUT
from jido_kernel.lua.protocol import MAX_BACKLOG
from tests.fake_worker import PREAMBLE, workers

MIB = 1024 * 1024

WORKER = PREAMBLE + textwrap.dedent(
    """
    ready(["n" * 100] * (1000 if sys.argv[1] == "notes" else 1))
    run = receive()
    rid = run["id"]
    result = {"type": "result", "id": rid, "values": ["finished"], "outputs": {}, "duration": 0.0}
    mode = sys.argv[1]
    if mode == "print":
        for _ in range(40):
            send({"type": "stdout", "id": rid, "text": "p" * MIB})
    elif mode == "tool":
        call = ["c1", sys.argv[2], {"path": "a" * int(sys.argv[3])}, "running", None, "s" * 100_000]
        send({"type": "tool_calls", "id": rid, "calls": [call]})
    elif mode == "state":
        send({"type": "state_call", "id": rid, "call_id": 1, "op": sys.argv[2], "args": []})
        result["values"] = [receive()]
    elif mode == "stale":
        send({"type": "state_call", "id": rid - 1, "call_id": 7, "op": "end_streaming", "args": []})
        result["values"] = [receive()]
    elif mode == "unread":
        for call in range(MAX_BACKLOG // (15 * MIB) + 3):
            send({"type": "state_call", "id": rid, "call_id": call, "op": "end_streaming", "args": []})
        time.sleep(60)  # never reads the replies
    send(result)
    receive()
    """
).replace("MIB", str(MIB)).replace("MAX_BACKLOG", str(MAX_BACKLOG))


@pytest.fixture
def rogue(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    records: list[Mapping[str, Any]] = []
    options = {"on_tool_call": records.append, "on_state_call": lambda op, args: "x" * (15 * MIB)}
    with workers(WORKER, project, tmp_path, monkeypatch, **options) as start:
        start.records = records  # type: ignore[attr-defined]
        yield start


def test_printed_text_is_bounded_by_the_kernel_too(rogue: Any) -> None:
    printed: list[str] = []
    assert rogue("print").run("", on_stdout=printed.append).values == ["finished"]
    text = "".join(printed)
    assert len(text) < MAX_OUTPUT + 100 and text.endswith("[output truncated: the cell printed more than 32 MiB]\n")


@pytest.mark.parametrize(("name", "size"), [("os_execute", 10), ("read_file", 64 * 1024)])
def test_tool_calls_of_unknown_functions_or_with_large_arguments_restart_it(rogue: Any, name: str, size: int) -> None:
    with pytest.raises(LuaWorkerCrashed, match="broke the protocol") as caught:
        rogue("tool", name, str(size)).run("")
    assert caught.value.state_reset and rogue.records == []


def test_tool_call_summaries_are_clipped(rogue: Any) -> None:
    assert rogue("tool", "read_file", "10").run("").values == ["finished"]
    (record,) = rogue.records
    assert len(record["result_summary"]) == 2000


def test_an_unknown_state_operation_restarts_it(rogue: Any) -> None:
    with pytest.raises(LuaWorkerCrashed, match="unknown state operation"):
        rogue("state", "__class__").run("")


def test_a_state_call_of_a_finished_run_is_answered(rogue: Any) -> None:
    (reply,) = rogue("stale").run("").values
    assert reply == {
        "type": "state_reply", "id": 7, "ok": False, "value": None,
        "error": "jido.state.end_streaming: the run is over",
    }  # fmt: skip


def test_replies_left_unread_restart_it(rogue: Any) -> None:
    with pytest.raises(LuaWorkerCrashed, match="replies unread"):
        rogue("unread").run("")


def test_a_flood_of_confinement_notes_is_refused(rogue: Any) -> None:
    with pytest.raises(LuaWorkerCrashed, match="confinement notes"):
        rogue("notes").run("")
