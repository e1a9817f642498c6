"""SessionState: jido_code's Session.State behaviour, validation, observers, threads."""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import UTC, datetime

import pytest

from jido_kernel.errors import JidoError
from jido_kernel.state import (
    MAX_MESSAGES,
    MAX_REASONING_STEPS,
    MAX_TOOL_CALLS,
    Message,
    SessionState,
    StateError,
    StateEvent,
    Todo,
    ToolCall,
)


@pytest.fixture
def state() -> SessionState:
    return SessionState(str(uuid.uuid4()))


def record(state: SessionState, kinds: list[str] | None = None) -> list[StateEvent]:
    events: list[StateEvent] = []
    state.subscribe(events.append, kinds)
    return events


# -- initial state and access ---------------------------------------------------------


def test_initial_values(state: SessionState) -> None:
    assert state.messages == ()
    assert state.reasoning_steps == ()
    assert state.tool_calls == ()
    assert state.todos == ()
    assert state.scroll_offset == 0
    assert state.streaming_message is None
    assert state.streaming_message_id is None
    assert state.is_streaming is False
    assert state.seq == 0


def test_get_state_returns_full_snapshot(state: SessionState) -> None:
    state.append_message("user", "hi")
    state.add_reasoning_step("think")
    state.add_tool_call("read_file", {"path": "a.txt"})
    state.update_todos([{"content": "Write tests"}])
    state.set_scroll_offset(3)
    state.start_streaming("m-1")
    state.update_streaming("partial")
    snap = state.get_state()
    assert snap.session_id == state.session_id
    assert [m.content for m in snap.messages] == ["hi"]
    assert [s.content for s in snap.reasoning_steps] == ["think"]
    assert [c.name for c in snap.tool_calls] == ["read_file"]
    assert snap.todos == (Todo("Write tests"),)
    assert snap.scroll_offset == 3
    assert snap.is_streaming and snap.streaming is not None
    assert (snap.streaming.id, snap.streaming.content) == ("m-1", "partial")
    assert snap.seq == state.seq == 7


def test_accessors_are_snapshots_not_live_lists(state: SessionState) -> None:
    state.append_message("user", "one")
    before = state.messages
    state.append_message("user", "two")
    assert isinstance(before, tuple) and len(before) == 1
    assert len(state.messages) == 2
    with pytest.raises(AttributeError):
        before[0].content = "changed"  # type: ignore[misc]


def test_invalid_session_id() -> None:
    with pytest.raises(StateError) as info:
        SessionState("")
    assert info.value.reason == "invalid_id"


# -- messages -------------------------------------------------------------------------


def test_append_message_keeps_order_and_fields(state: SessionState) -> None:
    first = state.append_message("user", "Hello")
    second = state.append_message("assistant", "Hi there", id="msg-2")
    assert state.messages == (first, second)
    assert first.role == "user" and first.content == "Hello"
    uuid.UUID(first.id)
    assert second.id == "msg-2"
    assert first.timestamp.tzinfo is UTC
    assert first.interrupted is False


@pytest.mark.parametrize("role", ["user", "assistant", "system", "tool"])
def test_every_role_is_accepted(state: SessionState, role: str) -> None:
    assert state.append_message(role, "x").role == role


@pytest.mark.parametrize("role", ["admin", "USER", "", None, 3])
def test_invalid_role_is_refused(state: SessionState, role: object) -> None:
    with pytest.raises(StateError) as info:
        state.append_message(role, "x")  # type: ignore[arg-type]
    assert info.value.reason == "invalid_role"
    assert isinstance(info.value, JidoError)
    assert "user, assistant, system, tool" in str(info.value)
    assert state.messages == () and state.seq == 0


def test_invalid_content_is_refused(state: SessionState) -> None:
    with pytest.raises(StateError) as info:
        state.append_message("user", b"bytes")  # type: ignore[arg-type]
    assert info.value.reason == "invalid_content"


def test_clear_messages(state: SessionState) -> None:
    state.append_message("user", "a")
    state.append_message("assistant", "b")
    state.clear_messages()
    assert state.messages == ()


def test_message_cap_evicts_oldest(state: SessionState) -> None:
    for index in range(MAX_MESSAGES + 5):
        state.append_message("user", f"m{index}")
    contents = [m.content for m in state.messages]
    assert len(contents) == MAX_MESSAGES
    assert contents[0] == "m5" and contents[-1] == f"m{MAX_MESSAGES + 4}"


def test_end_streaming_applies_the_message_cap(state: SessionState) -> None:
    for index in range(MAX_MESSAGES):
        state.append_message("user", f"m{index}")
    state.start_streaming()
    state.update_streaming("streamed")
    state.end_streaming()
    assert len(state.messages) == MAX_MESSAGES
    assert state.messages[0].content == "m1"
    assert state.messages[-1].content == "streamed"


# -- pagination -----------------------------------------------------------------------


def test_get_messages_pagination(state: SessionState) -> None:
    for index in range(25):
        state.append_message("user", f"m{index}")
    page, meta = state.get_messages(0, 10)
    assert [m.content for m in page] == [f"m{i}" for i in range(10)]
    assert meta == {"total": 25, "offset": 0, "limit": 10, "returned": 10, "has_more": True}
    page, meta = state.get_messages(20, 10)
    assert [m.content for m in page] == [f"m{i}" for i in range(20, 25)]
    assert meta["returned"] == 5 and meta["has_more"] is False
    page, meta = state.get_messages(10)
    assert len(page) == 15 and meta["limit"] is None and meta["has_more"] is False
    page, meta = state.get_messages(1000, 10)
    assert page == [] and meta["returned"] == 0 and meta["has_more"] is False
    page, meta = state.get_messages()
    assert len(page) == 25 and meta["total"] == 25


@pytest.mark.parametrize(("offset", "limit"), [(-1, None), (0, 0), (0, -3), (1.5, None), (True, 2)])
def test_get_messages_invalid_pagination(state: SessionState, offset: object, limit: object) -> None:
    with pytest.raises(StateError) as info:
        state.get_messages(offset, limit)  # type: ignore[arg-type]
    assert info.value.reason == "invalid_pagination"


# -- streaming ------------------------------------------------------------------------


def test_start_streaming_sets_flag(state: SessionState) -> None:
    assert state.start_streaming("msg-1") == "msg-1"
    assert state.is_streaming is True
    assert state.streaming_message == ""
    assert state.streaming_message_id == "msg-1"


def test_start_streaming_generates_an_id(state: SessionState) -> None:
    uuid.UUID(state.start_streaming())


def test_update_streaming_appends_chunks(state: SessionState) -> None:
    state.start_streaming("msg-1")
    state.update_streaming("Hello ")
    state.update_streaming("world")
    assert state.streaming_message == "Hello world"
    current = state.get_streaming()
    assert current is not None and current.content == "Hello world"


def test_end_streaming_finalizes_message(state: SessionState) -> None:
    state.append_message("user", "question")
    state.start_streaming("msg-1")
    state.update_streaming("Hello ")
    state.update_streaming("world!")
    message = state.end_streaming()
    assert (message.id, message.role, message.content) == ("msg-1", "assistant", "Hello world!")
    assert message.interrupted is False
    assert state.messages[-1] == message
    assert state.is_streaming is False
    assert state.streaming_message is None
    assert state.streaming_message_id is None


def test_stream_with_another_role(state: SessionState) -> None:
    state.start_streaming(role="tool")
    state.update_streaming("output")
    assert state.end_streaming().role == "tool"


def test_chunks_are_ignored_when_idle(state: SessionState) -> None:
    state.update_streaming("lost")
    assert state.streaming_message is None and state.seq == 0
    state.start_streaming()
    state.end_streaming()
    state.update_streaming("late")
    assert state.messages[-1].content == ""


def test_end_streaming_when_idle_is_not_streaming(state: SessionState) -> None:
    with pytest.raises(StateError) as info:
        state.end_streaming()
    assert info.value.reason == "not_streaming"
    assert "start_streaming()" in str(info.value)


def test_start_while_streaming_is_refused(state: SessionState) -> None:
    state.start_streaming("first")
    state.update_streaming("kept")
    with pytest.raises(StateError) as info:
        state.start_streaming("second")
    assert info.value.reason == "already_streaming"
    assert state.streaming_message_id == "first" and state.streaming_message == "kept"


def test_invalid_chunk_is_refused(state: SessionState) -> None:
    state.start_streaming()
    with pytest.raises(StateError) as info:
        state.update_streaming(42)  # type: ignore[arg-type]
    assert info.value.reason == "invalid_chunk"


def test_stream_context_manager(state: SessionState) -> None:
    with state.stream() as writer:
        writer.write("Hello ")
        writer.write("world")
        assert writer.text == "Hello world"
        assert state.is_streaming
    assert not state.is_streaming
    assert writer.message is not None and writer.message.content == "Hello world"
    assert writer.message.interrupted is False
    assert state.messages == (writer.message,)


def test_stream_context_manager_marks_interrupted_and_reraises(state: SessionState) -> None:
    with pytest.raises(KeyboardInterrupt), state.stream(role="assistant", message_id="m-9") as writer:
        writer.write("partial")
        raise KeyboardInterrupt
    assert not state.is_streaming
    (message,) = state.messages
    assert (message.id, message.content, message.interrupted) == ("m-9", "partial", True)


def test_stream_writer_refuses_writes_after_its_stream_ended(state: SessionState) -> None:
    with state.stream() as writer:
        writer.write("a")
        state.end_streaming()
        with pytest.raises(StateError) as info:
            writer.write("b")
        assert info.value.reason == "not_streaming"
        state.start_streaming("other")
    assert state.streaming_message_id == "other"
    assert writer.message is None
    assert [m.content for m in state.messages] == ["a"]


def test_stream_refuses_to_start_while_streaming(state: SessionState) -> None:
    state.start_streaming()
    with pytest.raises(StateError) as info, state.stream():
        pass
    assert info.value.reason == "already_streaming"


# -- reasoning, tool calls, todos, scroll -------------------------------------------


def test_reasoning_steps(state: SessionState) -> None:
    first = state.add_reasoning_step("Read the file")
    state.add_reasoning_step("Then edit it", id="r-2")
    assert [s.content for s in state.reasoning_steps] == ["Read the file", "Then edit it"]
    assert state.reasoning_steps[1].id == "r-2"
    uuid.UUID(first.id)
    state.clear_reasoning_steps()
    assert state.reasoning_steps == ()


def test_reasoning_cap_evicts_oldest(state: SessionState) -> None:
    for index in range(MAX_REASONING_STEPS + 3):
        state.add_reasoning_step(f"s{index}")
    assert len(state.reasoning_steps) == MAX_REASONING_STEPS
    assert state.reasoning_steps[0].content == "s3"


def test_tool_calls_lifecycle(state: SessionState) -> None:
    arguments = {"path": "a.txt"}
    call = state.add_tool_call("read_file", arguments, status="running", id="tc-1")
    arguments["path"] = "changed"
    assert call == state.tool_calls[0]
    assert call.arguments == {"path": "a.txt"} and call.status == "running"
    assert call.result is None and call.duration_ms is None
    done = state.update_tool_call("tc-1", status="completed", result="text", duration_ms=12)
    assert (done.status, done.result, done.duration_ms) == ("completed", "text", 12.0)
    assert done.timestamp == call.timestamp
    assert state.get_tool_call("tc-1") == done
    assert state.update_tool_call("tc-1", status="error").result == "text"


@pytest.mark.parametrize(
    ("name", "arguments", "status"),
    [
        ("", {}, "pending"),
        ("read_file", ["not", "a", "dict"], "pending"),
        ("read_file", {1: "int key"}, "pending"),
        ("read_file", {}, "done"),
    ],
)
def test_invalid_tool_calls(state: SessionState, name: str, arguments: object, status: str) -> None:
    with pytest.raises(StateError) as info:
        state.add_tool_call(name, arguments, status=status)  # type: ignore[arg-type]
    assert info.value.reason == "invalid_tool_call"
    assert state.tool_calls == ()


@pytest.mark.parametrize(
    "changes",
    [{"status": "finished"}, {"result": 42}, {"duration_ms": -1}, {"duration_ms": float("nan")}],
)
def test_invalid_tool_call_updates_change_nothing(state: SessionState, changes: dict) -> None:
    call = state.add_tool_call("shell", {"cmd": "ls"})
    with pytest.raises(StateError) as info:
        state.update_tool_call(call.id, **changes)
    assert info.value.reason == "invalid_tool_call"
    assert state.tool_calls == (call,)


def test_duplicate_and_unknown_tool_call_ids(state: SessionState) -> None:
    state.add_tool_call("a", {}, id="same")
    with pytest.raises(StateError) as info:
        state.add_tool_call("b", {}, id="same")
    assert info.value.reason == "invalid_tool_call"
    with pytest.raises(StateError) as info:
        state.update_tool_call("missing", status="completed")
    assert info.value.reason == "tool_call_not_found"


def test_tool_call_cap_evicts_oldest(state: SessionState) -> None:
    for index in range(MAX_TOOL_CALLS + 2):
        state.add_tool_call("t", {"i": index}, id=f"tc-{index}")
    assert len(state.tool_calls) == MAX_TOOL_CALLS
    assert state.tool_calls[0].id == "tc-2"
    with pytest.raises(StateError) as info:
        state.update_tool_call("tc-0", status="completed")
    assert info.value.reason == "tool_call_not_found"


def test_update_todos_replaces_the_list(state: SessionState) -> None:
    state.update_todos([{"content": "Old"}])
    todos = state.update_todos(
        [
            {"content": "Write tests", "status": "completed"},
            Todo("Run benchmarks", "in_progress", "Running benchmarks"),
            {"content": "Document", "status": "pending", "active_form": None},
        ]
    )
    assert state.todos == todos
    assert [t.content for t in todos] == ["Write tests", "Run benchmarks", "Document"]
    assert todos[1].active_form == "Running benchmarks"
    assert state.update_todos([]) == ()


@pytest.mark.parametrize(
    "todos",
    [
        [{"content": "ok"}, {"content": "bad", "status": "done"}],
        [{"status": "pending"}],
        [{"content": "   "}],
        [{"content": "x", "priority": "high"}],
        [{"content": "x", "active_form": 3}],
        ["just a string"],
        "not a list",
        {"content": "a dict"},
    ],
)
def test_invalid_todos_change_nothing(state: SessionState, todos: object) -> None:
    state.update_todos([{"content": "Keep me"}])
    with pytest.raises(StateError) as info:
        state.update_todos(todos)  # type: ignore[arg-type]
    assert info.value.reason == "invalid_todo"
    assert state.todos == (Todo("Keep me"),)


def test_scroll_offset(state: SessionState) -> None:
    state.set_scroll_offset(10)
    assert state.scroll_offset == 10
    state.set_scroll_offset(0)
    assert state.scroll_offset == 0
    for bad in (-1, 1.5, "3", True):
        with pytest.raises(StateError) as info:
            state.set_scroll_offset(bad)  # type: ignore[arg-type]
        assert info.value.reason == "invalid_scroll_offset"
    assert state.scroll_offset == 0


def test_two_states_are_isolated() -> None:
    a, b = SessionState("a"), SessionState("b")
    events_b = record(b)
    a.append_message("user", "only in a")
    a.start_streaming()
    a.update_streaming("a-chunk")
    a.update_todos([{"content": "a todo"}])
    a.add_tool_call("t", {})
    a.set_scroll_offset(4)
    b.update_streaming("ignored")
    assert b.messages == () and b.todos == () and b.tool_calls == ()
    assert not b.is_streaming and b.scroll_offset == 0
    assert events_b == []
    assert a.streaming_message == "a-chunk"


def test_records_to_dict() -> None:
    moment = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert Message("m", "user", "hi", moment).to_dict() == {
        "id": "m",
        "role": "user",
        "content": "hi",
        "timestamp": "2024-01-02T03:04:05+00:00",
        "interrupted": False,
    }
    call = ToolCall("t", "read_file", {"path": "a"}, "completed", "x", 3, moment)
    assert call.to_dict()["duration_ms"] == 3.0
    assert Todo("a", "in_progress", "A-ing").to_dict() == {
        "content": "a",
        "status": "in_progress",
        "active_form": "A-ing",
    }


# -- observers ------------------------------------------------------------------------


def test_every_change_emits_an_event(state: SessionState) -> None:
    events = record(state)
    message = state.append_message("user", "hi")
    state.clear_messages()
    state.start_streaming("s")
    state.update_streaming("a")
    state.update_streaming("")
    ended = state.end_streaming()
    step = state.add_reasoning_step("r")
    state.clear_reasoning_steps()
    call = state.add_tool_call("t", {})
    updated = state.update_tool_call(call.id, status="completed")
    todos = state.update_todos([{"content": "x"}])
    state.set_scroll_offset(2)
    assert [e.kind for e in events] == [
        "message_appended",
        "messages_cleared",
        "stream_started",
        "stream_chunk",
        "stream_ended",
        "reasoning_added",
        "reasoning_cleared",
        "tool_call_added",
        "tool_call_updated",
        "todos_updated",
        "scroll",
    ]
    assert [e.seq for e in events] == list(range(1, 12))
    payloads = [e.payload for e in events]
    assert payloads[0] == message and payloads[1] is None
    assert payloads[2].id == "s" and payloads[2].content == ""
    assert payloads[3] == "a" and payloads[4] == ended
    assert payloads[5] == step and payloads[7] == call and payloads[8] == updated
    assert payloads[9] == todos and payloads[10] == 2


def test_refused_changes_emit_nothing(state: SessionState) -> None:
    events = record(state)
    with pytest.raises(StateError):
        state.append_message("robot", "x")
    with pytest.raises(StateError):
        state.end_streaming()
    state.update_streaming("idle chunk")
    assert events == [] and state.seq == 0


def test_subscribe_to_some_kinds_and_unsubscribe(state: SessionState) -> None:
    seen: list[str] = []
    unsubscribe = state.subscribe(lambda e: seen.append(e.kind), ["stream_ended", "scroll"])
    with state.stream() as writer:
        writer.write("chunk")
    state.set_scroll_offset(1)
    state.append_message("user", "x")
    assert seen == ["stream_ended", "scroll"]
    unsubscribe()
    unsubscribe()
    state.set_scroll_offset(2)
    assert seen == ["stream_ended", "scroll"]


def test_unknown_event_kind_is_refused(state: SessionState) -> None:
    with pytest.raises(StateError) as info:
        state.subscribe(print, ["message_appended", "tea_time"])
    assert info.value.reason == "invalid_event_kind"
    assert "tea_time" in str(info.value)


def test_failing_observer_is_logged_and_skipped(state: SessionState, caplog: pytest.LogCaptureFixture) -> None:
    def broken(event: StateEvent) -> None:
        raise RuntimeError("observer bug")

    state.subscribe(broken)
    events = record(state)
    with caplog.at_level(logging.ERROR, logger="jido_kernel.state.model"):
        state.append_message("user", "still stored")
        state.start_streaming()
        state.update_streaming("chunk")
    assert [m.content for m in state.messages] == ["still stored"]
    assert state.streaming_message == "chunk"
    assert [e.kind for e in events] == ["message_appended", "stream_started", "stream_chunk"]
    failures = [r for r in caplog.records if "observer bug" in str(r.exc_info)]
    assert len(failures) == 3


def test_observers_run_outside_the_lock(state: SessionState) -> None:
    """An observer may read the state from another thread without deadlocking."""
    seen: list[int] = []

    def reader(event: StateEvent) -> None:
        worker = threading.Thread(target=lambda: seen.append(len(state.messages)))
        worker.start()
        worker.join(timeout=10)

    state.subscribe(reader, ["message_appended"])
    state.append_message("user", "x")
    assert seen == [1]


# -- threads --------------------------------------------------------------------------


def run_threads(count: int, target) -> None:  # type: ignore[no-untyped-def]
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def body(index: int) -> None:
        barrier.wait()
        try:
            target(index)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert not any(thread.is_alive() for thread in threads)


def test_concurrent_appends_lose_nothing_and_keep_the_cap(state: SessionState) -> None:
    events = record(state)
    threads, each = 8, 400

    def append(index: int) -> None:
        for number in range(each):
            state.append_message("user", f"{index}:{number}")

    run_threads(threads, append)
    assert len(events) == threads * each
    assert sorted(e.seq for e in events) == list(range(1, threads * each + 1))
    appended = {e.payload.content for e in events}
    assert appended == {f"{i}:{n}" for i in range(threads) for n in range(each)}
    kept = [m.content for m in state.messages]
    assert len(kept) == MAX_MESSAGES
    for index in range(threads):
        numbers = [int(c.split(":")[1]) for c in kept if c.split(":")[0] == str(index)]
        assert numbers == sorted(numbers)
    last = {e.payload.content for e in sorted(events, key=lambda e: e.seq)[-MAX_MESSAGES:]}
    assert set(kept) == last


def test_concurrent_streams_are_never_torn(state: SessionState) -> None:
    threads, streams, chunks = 6, 15, 40

    def stream(index: int) -> None:
        for number in range(streams):
            while True:
                try:
                    with state.stream() as writer:
                        for part in range(chunks):
                            writer.write(f"{index}.{number}.{part};")
                    break
                except StateError as error:
                    assert error.reason == "already_streaming"

    run_threads(threads, stream)
    contents = {m.content for m in state.messages}
    expected = {"".join(f"{i}.{n}.{p};" for p in range(chunks)) for i in range(threads) for n in range(streams)}
    assert contents == expected
    assert not state.is_streaming


def test_concurrent_chunks_into_one_stream_are_all_kept(state: SessionState) -> None:
    threads, each = 8, 2000
    state.start_streaming()
    snapshots: list[str] = []

    def write(index: int) -> None:
        for number in range(each):
            state.update_streaming(f"<{index}.{number}>")
            if number % 500 == 0:
                snapshots.append(state.get_state().streaming.content)  # type: ignore[union-attr]

    run_threads(threads, write)
    content = state.end_streaming().content
    tokens = content[1:-1].split("><")
    assert len(tokens) == threads * each
    assert set(tokens) == {f"{i}.{n}" for i in range(threads) for n in range(each)}
    for index in range(threads):
        numbers = [int(t.split(".")[1]) for t in tokens if t.split(".")[0] == str(index)]
        assert numbers == list(range(each))
    assert all(content.startswith(snapshot) for snapshot in snapshots)


def test_tool_calls_can_be_cleared() -> None:
    state = SessionState("s")
    events: list[str] = []
    state.subscribe(lambda event: events.append(event.kind))
    state.add_tool_call("glob", {"pattern": "*"})
    state.clear_tool_calls()
    assert state.tool_calls == () and events == ["tool_call_added", "tool_calls_cleared"]
