"""Tool-call records between the worker and the kernel: the worker batches them into
``tool_calls`` messages (in order with printed text, a full message sent at once), and
the kernel checks every record of a batch as strictly as it would check it alone, refusing
malformed and oversized batches."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jido_kernel.lua import protocol
from jido_kernel.lua.events import checked_tool_calls
from jido_kernel.lua.limits import SandboxLimits
from jido_kernel.lua.protocol import (
    FROM_WORKER,
    FUNCTIONS,
    MAX_ARGUMENTS,
    MAX_CALLS,
    TOOL_CALL_FIELDS,
    TOOL_STATUSES,
    ProtocolError,
    one_line,
)
from jido_kernel.lua.worker import main as worker_main
from jido_kernel.lua.worker.bridge import Bridge
from jido_kernel.lua.worker.main import Channel, Output
from jido_kernel.lua.worker.stopper import Limiter


def row(**fields: Any) -> list[Any]:
    record = {"id": "c1", "name": "read_file", "arguments": {"path": "a.txt"}, "status": "running",
              "duration_ms": None, "result_summary": None, **fields}  # fmt: skip
    return [record[field] for field in TOOL_CALL_FIELDS]


def single(record: dict[str, Any]) -> dict[str, Any] | str:
    """What the kernel made of one record before records came in batches (the rules
    spelled out one field at a time): the record fit for the session, or the problem."""
    for name, kind in TOOL_CALL_FIELDS.items():
        if not isinstance(record[name], kind):
            return f"mistyped {name!r}"
    if record["status"] not in TOOL_STATUSES:
        return "unknown tool call status"
    if record["name"] not in FUNCTIONS:
        return "unknown function"
    if len(json.dumps(record["arguments"])) > MAX_ARGUMENTS:
        return "arguments larger"
    summary = record["result_summary"]
    return {**record, "id": record["id"][:64], "result_summary": summary if summary is None else one_line(summary)}


class TestKernelChecks:
    def test_records_come_back_as_dicts_with_ids_and_summaries_bounded(self) -> None:
        rows = [row(id="x" * 100), row(status="completed", duration_ms=1.5, result_summary="two\n  lines" * 300)]
        running, done = checked_tool_calls(rows)
        assert running == {"id": "x" * 64, "name": "read_file", "arguments": {"path": "a.txt"},
                           "status": "running", "duration_ms": None, "result_summary": None}  # fmt: skip
        assert done["result_summary"] == one_line("two\n  lines" * 300) and len(done["result_summary"]) == 2000
        assert checked_tool_calls([]) == []

    def test_a_call_announced_and_finished_at_once_is_its_two_records(self) -> None:
        finished = [*row(id="b", arguments={"path": "b", "options": {"raw": True}}, status="error", duration_ms=2,
                         result_summary="File not found: b"), True]  # fmt: skip
        first, running, failed, last = checked_tool_calls([row(id="a"), finished, row(id="c")])
        assert (first["id"], last["id"]) == ("a", "c")
        assert running == {"id": "b", "name": "read_file", "arguments": {"path": "b", "options": {"raw": True}},
                           "status": "running", "duration_ms": None, "result_summary": None}  # fmt: skip
        assert failed == {**running, "status": "error", "duration_ms": 2, "result_summary": "File not found: b"}
        assert failed["arguments"] is not running["arguments"]

    @pytest.mark.parametrize(
        ("rows", "problem"),
        [
            ([row()] * (MAX_CALLS + 1), f"more than {MAX_CALLS} records"),
            ([{"id": "c1"}], "must be arrays of 6 values"),
            ([row()[:5]], "must be arrays of 6 values"),
            ([[*row(), True, True]], "must be arrays of 6 values"),
            ([row(), "x"], "must be arrays of 6 values"),
            ([[*row(status="completed"), 1]], "a finished call followed by true"),
            ([[*row(status="error"), None]], "a finished call followed by true"),
            ([[*row(status="running"), True]], "a finished call followed by true"),
            ([row(id=1)], "mistyped 'id'"),
            ([row(name=None)], "mistyped 'name'"),
            ([row(arguments=[])], "mistyped 'arguments'"),
            ([row(status=["running"])], "mistyped 'status'"),
            ([row(duration_ms="1")], "mistyped 'duration_ms'"),
            ([row(result_summary={})], "mistyped 'result_summary'"),
            ([row(), row(status="weird" * 100)], "unknown tool call status 'weirdweird"),
            ([row(name="os_execute")], "tool call of unknown function 'os_execute'"),
            ([row(arguments={"path": "a" * MAX_ARGUMENTS})], f"larger than {MAX_ARGUMENTS} bytes"),
            ([row()] * 40 + [row(arguments={"path": "é" * (MAX_ARGUMENTS // 6)})], "larger than"),
        ],
    )
    def test_malformed_or_oversized_batches_are_refused(self, rows: list[Any], problem: str) -> None:
        with pytest.raises(ProtocolError, match=problem) as caught:
            checked_tool_calls(rows)
        assert len(str(caught.value)) < 150  # what the worker sent is quoted short

    def test_arguments_are_measured_exactly_at_the_bound(self) -> None:
        fits = {"path": "a" * (MAX_ARGUMENTS - len('{"path": ""}'))}
        assert len(json.dumps(fits)) == MAX_ARGUMENTS
        assert len(checked_tool_calls([row(arguments=fits)] * MAX_CALLS)) == MAX_CALLS
        over = {"path": fits["path"] + "a"}
        with pytest.raises(ProtocolError, match="larger"):
            checked_tool_calls([row(arguments=fits)] * 100 + [row(arguments=over)])

    def test_arguments_nested_too_deeply_are_refused(self) -> None:
        deep: dict[str, Any] = {}
        for _ in range(5000):
            deep = {"a": deep}
        with pytest.raises(ProtocolError, match="nested too deeply"):
            checked_tool_calls([row(arguments=deep)])

    @settings(max_examples=300)
    @given(
        st.lists(
            st.fixed_dictionaries(
                {
                    "id": st.one_of(st.text(max_size=70), st.integers()),
                    "name": st.one_of(st.sampled_from([*FUNCTIONS, "eval"]), st.none()),
                    "arguments": st.one_of(
                        st.dictionaries(st.text(max_size=5), st.one_of(st.text(max_size=3000), st.booleans(),
                                                                       st.integers(), st.none()), max_size=8),
                        st.lists(st.integers(), max_size=2),
                    ),
                    "status": st.sampled_from([*TOOL_STATUSES, "done", 3]),
                    "duration_ms": st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False),
                                             st.integers(), st.booleans(), st.text(max_size=2)),
                    "result_summary": st.one_of(st.none(), st.text(max_size=50), st.integers()),
                    "finished": st.sampled_from([None, True, False, 1]),  # a seventh value, if any
                }
            ),
            max_size=12,
        )
    )  # fmt: skip
    def test_a_batch_is_accepted_exactly_when_each_record_would_be(self, records: list[dict[str, Any]]) -> None:
        rows = [[record[field] for field in TOOL_CALL_FIELDS] for record in records]
        for fields, record in zip(rows, records, strict=True):
            if record["finished"] is not None:
                fields.append(record["finished"])
        rows = json.loads(json.dumps(rows))
        expected: list[dict[str, Any] | str] = []
        for fields in rows:
            record = dict(zip(TOOL_CALL_FIELDS, fields[:6], strict=True))
            if len(fields) == 7:  # the call's running record, then its end: only a true after an end
                if fields[6] is not True or record["status"] not in ("completed", "error"):
                    expected.append("not a finished call followed by true")
                expected.append(single({**record, "status": "running", "duration_ms": None, "result_summary": None}))
            expected.append(single(record))
        if all(isinstance(result, dict) for result in expected):
            assert checked_tool_calls(rows) == expected
        else:
            with pytest.raises(ProtocolError):
                checked_tool_calls(rows)


class Pipe:
    """An :class:`Output` writing to a real pipe, read back with the kernel's decoder."""

    def __init__(self) -> None:
        self.read_fd, write_fd = os.pipe()
        self.output = Output(Channel(write_fd), nullcontext)
        self.decoder = protocol.Decoder(FROM_WORKER)
        self.messages: list[dict[str, Any]] = []
        self.arrived = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while data := os.read(self.read_fd, 65536):
            self.decoder.feed(data)
            while (message := self.decoder.next()) is not None:
                self.messages.append(message)
                self.arrived.set()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.005)
        return self.messages


@pytest.fixture
def pipe() -> Iterator[Pipe]:
    yield Pipe()


def records_of(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        record
        for message in messages
        if message["type"] == "tool_calls"
        for record in checked_tool_calls(message["calls"])
    ]


class TestWorkerBatches:
    def test_records_and_printed_text_keep_their_order(self, pipe: Pipe) -> None:
        output = pipe.output
        output.begin(4)
        output.write(b"before\n")
        output.start(4, tuple(row(id="a")))
        output.finish(4, tuple(row(id="a", status="completed", duration_ms=0.5, result_summary="1 line")))
        output.write(b"between\n")
        output.start(4, tuple(row(id="b")))
        output.flush()
        messages = pipe.wait_for(4)
        assert [message["type"] for message in messages] == ["stdout", "tool_calls", "stdout", "tool_calls"]
        assert all(message["id"] == 4 for message in messages)
        assert [record["id"] for record in records_of(messages)] == ["a", "a", "b"]
        assert records_of(messages)[1]["result_summary"] == "1 line"

    def test_a_call_that_ends_before_a_flush_crosses_as_one_row(self, pipe: Pipe, tmp_path: Path) -> None:
        (tmp_path / "a.txt").write_text("a\n")
        bridge = Bridge(tmp_path, Limiter(), lambda message: None, SandboxLimits(), calls=pipe.output)
        bridge.run_id = 3
        assert bridge.call("read_file", (b"a.txt",)) == ("     1→a".encode(), None)
        assert bridge.call("read_file", (b"missing",))[0] is None
        pipe.output.start(3, (first := tuple(row(id="c"))))
        pipe.output.flush()  # c still runs: its running record goes now, its end later
        pipe.output.finish(3, (*first[:3], "completed", 1.0, "done"))
        pipe.output.flush()
        messages = pipe.wait_for(3)
        assert [[len(call) for call in message["calls"]] for message in messages] == [[7, 7, 6], [6]]
        records = records_of(messages)
        assert [(record["status"], record["result_summary"]) for record in records] == [
            ("running", None), ("completed", "1 line"), ("running", None), ("error", "File not found: missing"),
            ("running", None), ("completed", "done"),
        ]  # fmt: skip
        assert [record["id"] for record in records[4:]] == ["c", "c"]

    def test_a_call_still_running_is_announced_by_the_flusher(self, pipe: Pipe) -> None:
        threading.Thread(target=pipe.output.loop, daemon=True).start()
        pipe.output.start(1, tuple(row(id="slow")))
        (message,) = pipe.wait_for(1)
        assert [(record["id"], record["status"]) for record in records_of([message])] == [("slow", "running")]
        pipe.output.finish(1, tuple(row(id="slow", status="completed")))
        assert [len(call) for call in pipe.wait_for(2)[1]["calls"]] == [6]

    def test_records_of_another_run_start_another_message(self, pipe: Pipe) -> None:
        pipe.output.start(1, tuple(row(id="a")))
        pipe.output.finish(1, tuple(row(id="a", status="completed")))
        pipe.output.start(2, tuple(row(id="b")))
        pipe.output.finish(2, tuple(row(id="b", status="completed")))
        pipe.output.flush()
        first, second = pipe.wait_for(2)
        assert (first["id"], len(first["calls"]), second["id"], len(second["calls"])) == (1, 1, 2, 1)

    def test_a_full_message_is_sent_at_once_and_never_holds_more_than_the_kernel_takes(
        self, pipe: Pipe, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(worker_main, "FLUSH_INTERVAL", 30.0)
        threading.Thread(target=pipe.output.loop, daemon=True).start()
        start = time.monotonic()
        for index in range(MAX_CALLS + 10):
            pipe.output.start(1, tuple(row(id=str(index))))
            pipe.output.finish(1, tuple(row(id=str(index), status="completed")))
        first = pipe.wait_for(1, timeout=10.0)[0]
        assert time.monotonic() - start < 10.0 and len(first["calls"]) == MAX_CALLS  # long before the interval
        pipe.output.flush()
        deadline = time.monotonic() + 5.0
        while len(records_of(pipe.messages)) < 2 * (MAX_CALLS + 10) and time.monotonic() < deadline:
            time.sleep(0.005)
        assert all(len(message["calls"]) <= MAX_CALLS for message in pipe.messages)
        ids = [str(index) for index in range(MAX_CALLS + 10)]
        assert [record["id"] for record in records_of(pipe.messages)] == [i for i in ids for _ in "rc"]

    def test_a_full_message_of_the_largest_records_fits_in_one_message(self) -> None:
        # The worker's bounds: shown arguments at most a quarter of MAX_ARGUMENTS each (as
        # ASCII JSON, no shorter in UTF-8), at most three of them; a summary of MAX_TEXT characters.
        widest = "\U0001f600" * (MAX_ARGUMENTS // 4 // 12 - 1)
        arguments = {"command": widest, "args": [widest], "options": {"timeout": widest}}
        summary = "\x01" * protocol.MAX_TEXT
        calls = [row(id="f" * 32, name="shell", arguments=arguments, status="error", duration_ms=1e300,
                     result_summary=summary)] * MAX_CALLS  # fmt: skip
        line = protocol.dump({"type": "tool_calls", "id": 2**53, "calls": calls})
        assert len(line) < protocol.MAX_MESSAGE // 4
