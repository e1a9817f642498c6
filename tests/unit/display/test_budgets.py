"""Every rendering stays within its byte budget, with a visible marker for what is left out."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from jido_kernel.display.live import LiveDisplay, LiveView
from jido_kernel.display.lua import MAX_HTML_CHARS, MAX_REPR_CHARS, LuaTable, LuaValues, display_value, lua_repr
from jido_kernel.display.state import MAX_BUNDLE_BYTES, part_bundle
from jido_kernel.state import Message, SessionState, StateLimits

MiB = 1 << 20


def _size(bundle: dict[str, str]) -> int:
    return sum(len(value.encode()) for value in bundle.values())


class Recorder:
    """A display publisher that keeps what it is asked to send."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def publish(
        self,
        data: dict[str, Any],
        metadata: dict[str, Any] | None = None,
        *,
        transient: dict[str, Any] | None = None,
        update: bool = False,
    ) -> None:
        with self._lock:
            self.sent.append(data)


def _full_state() -> SessionState:
    state = SessionState("s", StateLimits(max_messages=1000))
    for index in range(300):
        state.append_message("assistant" if index % 2 else "user", f"**{index}** " + "<&\"'" * 200_000)
    for _ in range(100):
        state.add_reasoning_step("r" * 500_000)
    state.update_todos([{"content": "\u00e9" * 4000} for _ in range(1000)])
    for _ in range(500):
        call = state.add_tool_call("shell", {"cmd": "c" * 100_000})
        state.update_tool_call(call.id, status="completed", result="o" * 100_000)
    return state


def test_every_part_of_a_full_state_stays_within_the_budget() -> None:
    snapshot = _full_state().get_state()
    for part in ("state", "messages", "reasoning", "todos", "tool_calls"):
        started = time.perf_counter()
        bundle = part_bundle(snapshot, part, limit=200)
        assert time.perf_counter() - started < 10
        assert _size(bundle) <= MAX_BUNDLE_BYTES, part
        assert part == "tool_calls" or "[clipped: " in bundle["text/plain"], part
    small = part_bundle(snapshot, "messages", limit=200, max_bytes=64 * 1024)
    assert _size(small) <= 64 * 1024


def test_a_message_shown_alone_is_bounded() -> None:
    bundle = Message("m", "assistant", "x" * (8 * MiB))._repr_mimebundle_()
    assert _size(bundle) <= MAX_BUNDLE_BYTES and "[clipped: " in bundle["text/plain"]


def test_the_final_update_of_a_large_stream_is_clipped_and_complete() -> None:
    display = LiveDisplay(max_update_bytes=64 * 1024)
    recorder = Recorder()
    state = SessionState("s")
    view = LiveView(state, "stream", display=display, publisher=recorder, single=True)
    state.start_streaming()
    for _ in range(4):
        state.update_streaming("s" * (MiB - 10))
    state.end_streaming()
    display.end_cell()
    assert view.closed
    assert all(len(json.dumps(data)) <= 64 * 1024 + 2048 for data in recorder.sent)
    final = recorder.sent[-1]["text/plain"]
    assert final.startswith("assistant: sss") and final.endswith("more]")
    assert "(streaming)" not in final


def test_a_large_lua_result_renders_under_the_cap() -> None:
    records = [{"name": "n" * 100, "i": i, "sub": {"a": list(range(30))}} for i in range(50_000)]
    for value in (
        records,
        ["y" * (5 * MiB)],
        [[["z" * 1000] * 50] * 50] * 50,
        {f"k{i}": "v" * 50 for i in range(10**5)},
    ):
        started = time.perf_counter()
        bundle = display_value([value])._repr_mimebundle_()
        assert time.perf_counter() - started < 5
        assert len(bundle["text/plain"]) <= MAX_REPR_CHARS
        assert len(bundle["text/html"]) <= MAX_HTML_CHARS * 1.1
        assert "more" in bundle["text/plain"]


def test_many_returned_values_share_one_budget() -> None:
    values = LuaValues([LuaTable(["q" * 9000] * 100)] * 1000)
    html = values._repr_html_()
    assert html is not None and len(html) <= MAX_HTML_CHARS * 1.1
    printer: list[str] = []

    class Printer:
        def text(self, text: str) -> None:
            printer.append(text)

    values._repr_pretty_(Printer(), False)
    assert len(printer[0]) <= MAX_REPR_CHARS and "[clipped: " in printer[0]


def test_lua_repr_markers() -> None:
    assert lua_repr(list(range(1005))).endswith("--[[ 5 more ]],\n}")
    assert '"' + "x" * 10_000 + '" --[[ 5 B more ]]' in lua_repr(["x" * 10_005])
    deep: Any = 1
    for _ in range(30):
        deep = [deep]
    assert "nested too deep" in lua_repr(deep)
    assert lua_repr(["\x1b]0;t\x07\u009b"]) == '{"\\x1b]0;t\\x07\\xc2\\x9b"}'
