"""Bounds of a session's state: refused content, evicted history, clipped tool calls."""

from __future__ import annotations

import pytest
from traitlets import TraitError
from traitlets.config import Config

from jido_kernel.errors import JidoError
from jido_kernel.session.manager import STATE_CALLS
from jido_kernel.state import SessionState, StateError, StateLimitError, StateLimits
from jido_kernel.text import clip

MiB = 1 << 20


def test_defaults() -> None:
    limits = StateLimits()
    assert (limits.max_message_chars, limits.max_chunk_chars, limits.max_stream_chars) == (MiB, MiB, 4 * MiB)
    assert (limits.max_total_chars, limits.max_todos, limits.max_tool_text_chars) == (16 * MiB, 1000, 16 * 1024)
    with pytest.raises(TraitError):
        StateLimits(max_todos=0)
    configured = StateLimits(config=Config({"StateLimits": {"max_message_chars": 10}}))
    with pytest.raises(StateLimitError, match=r"StateLimits\.max_message_chars"):
        SessionState("s", configured).append_message("user", "x" * 11)


def test_a_large_message_is_refused_with_the_limit_named() -> None:
    state = SessionState("s")
    with pytest.raises(StateLimitError) as caught:
        state.append_message("user", "x" * (8 * MiB))
    assert caught.value.reason == "message_too_large"
    assert isinstance(caught.value, JidoError)
    assert "StateLimits.max_message_chars" in str(caught.value) and "8.0 MB" in str(caught.value)
    assert state.messages == ()
    state.append_message("user", "x" * MiB)  # exactly at the limit
    with pytest.raises(StateLimitError, match="reasoning step"):
        state.add_reasoning_step("y" * (MiB + 1))


def test_the_bridge_call_raises_a_typed_error_for_lua() -> None:
    """``jido.state.*`` calls go through STATE_CALLS; a JidoError becomes ``nil, message``."""
    state = SessionState("s")
    with pytest.raises(JidoError, match="max_message_chars"):
        STATE_CALLS["append_message"](state, "assistant", "z" * (2 * MiB))


def test_stream_chunks_and_streams_are_bounded() -> None:
    state = SessionState("s", StateLimits(max_chunk_chars=100, max_stream_chars=250))
    state.start_streaming()
    with pytest.raises(StateLimitError) as caught:
        state.update_streaming("c" * 101)
    assert caught.value.reason == "chunk_too_large"
    state.update_streaming("c" * 100)
    state.update_streaming("c" * 100)
    with pytest.raises(StateLimitError) as caught:
        state.update_streaming("c" * 51)
    assert caught.value.reason == "stream_too_large" and "StateLimits.max_stream_chars" in str(caught.value)
    assert state.end_streaming().content == "c" * 200
    state.start_streaming()  # the next stream starts from zero
    state.update_streaming("d" * 100)
    assert state.end_streaming().content == "d" * 100


def test_unbounded_chunk_flood_stops_at_the_stream_bound() -> None:
    state = SessionState("s")
    state.start_streaming()
    refused = 0
    chunk = "k" * (512 * 1024)
    for _ in range(64):  # 32 MiB offered
        try:
            state.update_streaming(chunk)
        except StateLimitError:
            refused += 1
    assert refused == 56
    assert len(state.streaming_message or "") == 4 * MiB


def test_many_small_messages_stay_within_the_session_total() -> None:
    limits = StateLimits(max_total_chars=10_000, max_messages=1000)
    state = SessionState("s", limits)
    state.add_reasoning_step("r" * 500)
    for index in range(500):
        state.append_message("user", f"{index:03d}" + "m" * 97)
    messages = state.messages
    total = sum(len(m.content) for m in messages) + sum(len(r.content) for r in state.reasoning_steps)
    assert total <= 10_000
    assert messages[-1].content.startswith("499") and len(messages) == 95  # the newest kept
    assert len(state.reasoning_steps) == 1  # the newest reasoning step stays too
    state.clear_messages()
    state.append_message("user", "a" * 9000)  # room again after clearing
    assert len(state.messages) == 1


def test_streaming_counts_toward_the_total() -> None:
    state = SessionState("s", StateLimits(max_total_chars=1000))
    for _ in range(9):
        state.append_message("user", "u" * 100)
    with state.stream() as stream:
        stream.write("s" * 500)
    assert sum(len(m.content) for m in state.messages) <= 1000
    assert state.messages[-1].content == "s" * 500


def test_todos_are_bounded_in_count_and_text() -> None:
    state = SessionState("s")
    with pytest.raises(StateLimitError) as caught:
        state.update_todos({"content": f"task {i}"} for i in range(10**9))  # never fully read
    assert caught.value.reason == "too_many_todos" and "StateLimits.max_todos" in str(caught.value)
    with pytest.raises(StateLimitError) as caught:
        state.update_todos([{"content": "t" * 4097}])
    assert caught.value.reason == "todo_too_large"
    with pytest.raises(StateLimitError):
        state.update_todos([{"content": "ok", "active_form": "a" * (64 * 1024)}])
    assert state.todos == ()
    assert len(state.update_todos([{"content": f"task {i}"} for i in range(1000)])) == 1000


def test_tool_call_arguments_and_results_are_clipped_not_refused() -> None:
    state = SessionState("s")
    huge = "a" * (8 * MiB)
    call = state.add_tool_call(
        "write_file",
        {"path": "x.txt", "content": huge, "nested": {"rows": [huge] * 3}, **{f"k{i}": i for i in range(100)}},
    )
    assert call.arguments["path"] == "x.txt"
    assert "[clipped: " in call.arguments["content"] and len(call.arguments["content"]) < 20_000
    assert isinstance(call.arguments["nested"], str) and len(call.arguments["nested"]) < 20_000
    assert len(call.arguments) == 21 and "more arguments" in call.arguments["\u2026"]
    done = state.update_tool_call(call.id, status="completed", result=huge)
    assert done.result is not None and len(done.result) <= 16 * 1024 and "[clipped: 8.0 MB more]" in done.result
    named = state.add_tool_call("n" * 10_000, {})
    assert len(named.name) <= 200


def test_small_tool_call_arguments_are_kept_as_they_are() -> None:
    state = SessionState("s")
    arguments = {"path": "a.txt", "options": {"offset": 1, "limit": [1, 2, 3]}}
    assert state.add_tool_call("read_file", arguments).arguments == arguments


def test_tool_call_records_are_a_ring() -> None:
    state = SessionState("s", StateLimits(max_tool_calls=10))
    for index in range(50):
        state.add_tool_call("t", {"i": index}, id=f"c{index}")
    assert [call.id for call in state.tool_calls] == [f"c{i}" for i in range(40, 50)]
    with pytest.raises(StateError, match="10 most recent"):
        state.get_tool_call("c0")


def test_clip_keeps_within_the_limit_and_names_what_is_left_out() -> None:
    text = clip("b" * 3_400_000, 1000)
    assert len(text) == 1000 and text.endswith("\u2026 [clipped: 3.2 MB more]")
    assert clip("short", 1000) == "short"
