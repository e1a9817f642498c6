"""Live views: one display, in-place updates, coalescing, flushing, threads."""

from __future__ import annotations

import itertools
import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from IPython.core.displaypub import CapturingDisplayPublisher
from traitlets import TraitError
from traitlets.config import Config

from jido_kernel.display.live import LiveDisplay, LiveView, flush_all
from jido_kernel.display.state import part_bundle
from jido_kernel.state import SessionState, StateError


class Recorder:
    """A display publisher that keeps every message it is asked to send, with its time."""

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
            self.sent.append({"time": time.monotonic(), "data": data, "transient": transient, "update": update})

    @property
    def updates(self) -> list[dict[str, Any]]:
        with self._lock:
            return [message for message in self.sent if message["update"]]

    def text(self) -> str:
        with self._lock:
            return self.sent[-1]["data"]["text/plain"]


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


@pytest.fixture
def display() -> Iterator[LiveDisplay]:
    live = LiveDisplay()
    yield live
    live.close_all()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def expected(state: SessionState, part: str, display: LiveDisplay, **kwargs: Any) -> str:
    bundle = part_bundle(state.get_state(), part, limit=display.max_rows, stream_text=False, live=True, **kwargs)
    return bundle["text/plain"]


def test_view_is_displayed_once_with_a_fresh_id(display: LiveDisplay, recorder: Recorder) -> None:
    state = SessionState("s")
    state.update_todos([{"content": "Write tests"}])
    first = LiveView(state, "todos", display=display, publisher=recorder)
    second = LiveView(state, "todos", display=display, publisher=recorder)
    assert first.display_id != second.display_id
    assert len(first.display_id) == 32 and int(first.display_id, 16) >= 0
    assert [m["update"] for m in recorder.sent] == [False, False]
    assert recorder.sent[0]["transient"] == {"display_id": first.display_id}
    assert recorder.sent[0]["data"]["text/plain"] == "[ ] Write tests"
    assert set(recorder.sent[0]["data"]) == {"text/plain", "text/html"}
    assert first._repr_mimebundle_() == recorder.sent[0]["data"]


def test_changes_update_the_same_display(display: LiveDisplay, recorder: Recorder) -> None:
    state = SessionState("s")
    view = LiveView(state, "messages", display=display, publisher=recorder)
    state.append_message("user", "hello")
    wait_for(lambda: len(recorder.updates) == 1)
    update = recorder.updates[0]
    assert update["transient"] == {"display_id": view.display_id}
    assert update["data"]["text/plain"] == "user: hello"
    view.close()


def test_updates_from_other_threads(display: LiveDisplay) -> None:
    state = SessionState("s")
    publisher = CapturingDisplayPublisher()
    view = LiveView(state, "tool_calls", display=display, publisher=publisher)

    def work(index: int) -> None:
        for number in range(50):
            call = state.add_tool_call("read_file", {"n": f"{index}.{number}"}, status="running")
            state.update_tool_call(call.id, status="completed", duration_ms=1.0)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    view.close()
    final = publisher.outputs[-1]
    assert final["transient"] == {"display_id": view.display_id}
    assert final["data"]["text/plain"] == expected(state, "tool_calls", display)
    assert final["data"]["text/plain"] == "200 \u00d7 read_file \u00b7 0 errors"  # one group of 200


def test_updates_are_coalesced_to_the_rate(display: LiveDisplay, recorder: Recorder) -> None:
    display.max_rate = 10
    state = SessionState("s")
    view = LiveView(state, "messages", display=display, publisher=recorder)
    started = time.monotonic()
    for index in range(3000):
        state.append_message("user", f"m{index}")
        if index % 100 == 0:
            time.sleep(0.02)
    duration = time.monotonic() - started
    view.close()
    updates = recorder.updates
    assert 1 <= len(updates) <= duration * 10 + 3
    times = [m["time"] for m in recorder.sent]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times[:-1])]
    assert all(gap >= 0.09 for gap in gaps), gaps
    assert recorder.text() == expected(state, "messages", display)
    assert recorder.text().startswith("(800 earlier messages not shown)\nuser: m2800")


def byte_paced_view(display: LiveDisplay, recorder: Recorder, bytes_rate: float) -> tuple[SessionState, LiveView]:
    """A messages view allowed 100 updates and ``bytes_rate`` bytes a second."""
    display.max_rate = 100
    display.max_bytes_rate = bytes_rate
    state = SessionState("s")
    return state, LiveView(state, "messages", display=display, publisher=recorder)


def test_large_views_update_less_often(display: LiveDisplay, recorder: Recorder) -> None:
    state, view = byte_paced_view(display, recorder, 1000)
    state.append_message("user", "x" * 50_000)
    view.flush()
    assert len(recorder.updates) == 1
    state.append_message("user", "next")
    time.sleep(0.3)
    assert len(recorder.updates) == 1
    view.flush()
    assert len(recorder.updates) == 2
    assert recorder.text().endswith("user: next")


def test_bytes_sent_beyond_the_budget_are_paid_for_before_the_next_update(
    display: LiveDisplay, recorder: Recorder
) -> None:
    """A flush sends at once (so does a stream's update, which grows while it waits): what
    it sends beyond the byte budget delays the next update, so the average holds."""
    state, view = byte_paced_view(display, recorder, 100_000)
    state.append_message("user", "x" * 10_000)
    view.flush()
    state.append_message("user", "y" * 10_000)
    view.flush()  # both sent at once: the budget is owed
    sent = recorder.updates[-1]
    last = sum(len(json.dumps(value, ensure_ascii=False).encode()) for value in sent["data"].values())
    state.append_message("user", "z")
    time.sleep(1.5 * last / display.max_bytes_rate)  # an update of its size waits that long after what is owed
    assert len(recorder.updates) == 2
    while len(recorder.updates) < 3 and time.monotonic() - sent["time"] < 5:
        time.sleep(0.01)
    assert recorder.updates[-1]["time"] - sent["time"] >= 1.9 * last / display.max_bytes_rate
    assert recorder.text().endswith("user: z")
    view.close()


def test_the_byte_rate_counts_the_bytes_sent_not_characters(display: LiveDisplay, recorder: Recorder) -> None:
    state, view = byte_paced_view(display, recorder, 200_000)
    state.append_message("user", "\u8a9e\n" * 20_000)  # 40k characters, 80k bytes of JSON, 3 bytes each in UTF-8
    view.flush()
    sent = sum(len(json.dumps(value, ensure_ascii=False).encode()) for value in recorder.sent[-1]["data"].values())
    assert sent > 2 * sum(map(len, recorder.sent[-1]["data"].values()))
    state.append_message("user", "next")
    time.sleep(0.6 * sent / display.max_bytes_rate)  # past what counting characters would wait
    assert len(recorder.updates) == 1
    view.flush()
    assert recorder.text().endswith("user: next")


def test_flush_sends_the_pending_update_now(display: LiveDisplay, recorder: Recorder) -> None:
    display.max_rate = 0.1
    state = SessionState("s")
    view = LiveView(state, "reasoning", display=display, publisher=recorder)
    state.add_reasoning_step("first")
    time.sleep(0.2)
    assert recorder.updates == []
    view.flush()
    assert len(recorder.updates) == 1
    state.add_reasoning_step("second")
    assert len(recorder.updates) == 1
    view.flush()
    assert len(recorder.updates) == 2
    assert recorder.text() == "1. first\n2. second"
    view.flush()
    assert len(recorder.updates) == 2


def test_flush_all_hook_flushes_every_view(recorder: Recorder) -> None:
    LiveDisplay.clear_instance()
    try:
        display = LiveDisplay.current()
        display.max_rate = 0.1
        state = SessionState("s")
        views = [LiveView(state, part, publisher=recorder) for part in ("todos", "state", "messages")]
        assert display.views == tuple(views)
        state.update_todos([{"content": "a"}])
        state.append_message("user", "b")
        flush_all()
        assert len(recorder.updates) == 3
        state.update_todos([{"content": "a", "status": "completed"}])
        state.append_message("user", "c")
        flush_all(None)
        assert len(recorder.updates) == 6
        last = {m["transient"]["display_id"]: m["data"]["text/plain"] for m in recorder.sent}
        assert last[views[0].display_id] == "[x] a"
        assert last[views[2].display_id] == "user: b\nuser: c"
        assert last[views[1].display_id] == expected(state, "state", display)
        display.close_all()
        assert display.views == ()
    finally:
        LiveDisplay.clear_instance()
    flush_all()


def test_close_sends_the_last_update_and_stops(display: LiveDisplay, recorder: Recorder) -> None:
    display.max_rate = 0.1
    state = SessionState("s")
    view = LiveView(state, "todos", display=display, publisher=recorder)
    state.update_todos([{"content": "first"}])
    view.flush()
    state.update_todos([{"content": "second"}])
    with view:
        pass
    assert view.closed and view not in display.views
    assert recorder.text() == "[ ] second"
    count = len(recorder.sent)
    state.update_todos([{"content": "third"}])
    view.flush()
    view.close()
    time.sleep(0.2)
    assert len(recorder.sent) == count


def test_show_again_keeps_the_id(display: LiveDisplay, recorder: Recorder) -> None:
    view = LiveView(SessionState("s"), "state", display=display, publisher=recorder)
    view.show()
    assert [m["update"] for m in recorder.sent] == [False, False]
    assert {m["transient"]["display_id"] for m in recorder.sent} == {view.display_id}


def test_stream_view_follows_the_stream(display: LiveDisplay, recorder: Recorder) -> None:
    display.max_rate = 20
    state = SessionState("s")
    state.append_message("user", "history stays out of the stream view")
    view = LiveView(state, "stream", display=display, publisher=recorder)
    assert recorder.text() == "No message is streaming."
    chunks = [f"c{i};" for i in range(3000)]
    started = time.monotonic()

    def produce() -> None:
        with state.stream() as writer:
            for index, chunk in enumerate(chunks):
                writer.write(chunk)
                if index % 100 == 0:
                    time.sleep(0.02)

    producer = threading.Thread(target=produce)
    producer.start()
    producer.join(timeout=60)
    duration = time.monotonic() - started
    final = "assistant: " + "".join(chunks)
    wait_for(lambda: recorder.text() == final)
    updates = recorder.updates
    assert len(updates) <= duration * 20 + 4
    assert len(updates) >= 3
    texts = [m["data"]["text/plain"] for m in updates]
    for text in texts[:-1]:
        prefix = "assistant (streaming): "
        assert text.startswith(prefix) and final.startswith("assistant: " + text[len(prefix) :])
    for message in recorder.sent:
        assert "history stays out" not in message["data"]["text/plain"]
        assert "history stays out" not in message["data"]["text/html"]
    view.close()


def test_stream_view_created_during_a_stream(display: LiveDisplay, recorder: Recorder) -> None:
    state = SessionState("s")
    with state.stream() as writer:
        writer.write("Hello ")
        view = LiveView(state, "stream", display=display, publisher=recorder)
        assert recorder.text() == "assistant (streaming): Hello "
        writer.write("world")
        wait_for(lambda: recorder.text() == "assistant (streaming): Hello world")
    view.flush()
    assert recorder.text() == "assistant: Hello world"
    assert "<p>Hello world</p>" in recorder.sent[-1]["data"]["text/html"]
    view.close()


def test_history_views_are_not_redrawn_for_chunks(display: LiveDisplay, recorder: Recorder) -> None:
    state = SessionState("s")
    view = LiveView(state, "messages", display=display, publisher=recorder)
    state.start_streaming()
    view.flush()
    assert recorder.text() == "assistant (streaming):"
    before = len(recorder.sent)
    for index in range(1000):
        state.update_streaming(f"{index} ")
    view.flush()
    time.sleep(0.2)
    assert len(recorder.sent) == before
    state.end_streaming(interrupted=True)
    view.flush()
    assert recorder.text().startswith("assistant (interrupted): 0 1 2")


def test_new_only_views_show_what_was_added_after_them(display: LiveDisplay, recorder: Recorder) -> None:
    state = SessionState("s")
    state.add_tool_call("read_file", {"path": "old.txt"}, status="completed")
    state.append_message("user", "old message")
    with LiveView(state, "tool_calls", display=display, publisher=recorder, new_only=True):
        assert (
            recorder.text()
            == "No tool calls yet; this view updates in place (in a text console, run %tool_calls again)."
        )
        call = state.add_tool_call("write_file", {"path": "new.txt"}, status="running")
        state.update_tool_call(call.id, status="completed")
        state.append_message("user", "not a tool call")
    assert recorder.text() == 'write_file(path="new.txt") \u2014 completed'
    with LiveView(state, "messages", display=display, publisher=recorder, new_only=True):
        state.append_message("assistant", "new message")
    assert recorder.text() == "assistant: new message"
    with pytest.raises(StateError) as info:
        LiveView(state, "todos", display=display, publisher=recorder, new_only=True)
    assert info.value.reason == "invalid_part"


def test_oldest_view_is_closed_past_max_views(display: LiveDisplay, recorder: Recorder) -> None:
    display.max_views = 2
    state = SessionState("s")
    views = [LiveView(state, "todos", display=display, publisher=recorder) for _ in range(3)]
    assert views[0].closed and not views[1].closed and not views[2].closed
    assert display.views == (views[1], views[2])


def test_failing_publisher_is_logged_and_the_flusher_goes_on(
    display: LiveDisplay, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(Recorder):
        def publish(self, data: dict[str, Any], *args: Any, update: bool = False, **kw: Any) -> None:
            if update:
                raise RuntimeError("front end gone")
            super().publish(data, *args, update=update, **kw)

    state = SessionState("s")
    with caplog.at_level(logging.ERROR, logger="jido_kernel.display.live"):
        LiveView(state, "todos", display=display, publisher=Broken())
        healthy = LiveView(state, "messages", display=display, publisher=recorder)
        state.update_todos([{"content": "x"}])
        state.append_message("user", "still shown")
        wait_for(lambda: recorder.text() == "user: still shown")
        wait_for(lambda: any("failed to send" in r.getMessage() for r in caplog.records))
    healthy.close()


def test_invalid_part(display: LiveDisplay, recorder: Recorder) -> None:
    with pytest.raises(StateError) as info:
        LiveView(SessionState("s"), "everything", display=display, publisher=recorder)
    assert info.value.reason == "invalid_part"
    assert "state, messages, todos, tool_calls, reasoning, stream" in str(info.value)
    assert recorder.sent == []


def test_configuration() -> None:
    config = Config({"LiveDisplay": {"max_rate": 2.5, "max_rows": 7}})
    display = LiveDisplay(config=config)
    assert (display.max_rate, display.max_rows) == (2.5, 7)
    assert LiveDisplay().max_rate == 10.0
    for name, value in (("max_rate", 0.0), ("max_bytes_rate", 1.0), ("max_views", 0)):
        with pytest.raises(TraitError):
            setattr(LiveDisplay(), name, value)
    assert set(LiveDisplay.class_own_traits(config=True)) == {
        "max_rate",
        "max_bytes_rate",
        "max_rows",
        "max_views",
        "max_stream_views",
        "max_update_bytes",
    }


def test_live_view_without_a_shell_is_a_clear_error() -> None:
    code = (
        "from jido_kernel.display.live import LiveDisplay, LiveView\n"
        "from jido_kernel.state import SessionState, StateError\n"
        "state = SessionState('s')\n"
        "try:\n"
        "    LiveView(state, 'todos')\n"
        "except StateError as error:\n"
        "    print(error.reason, '|', error)\n"
        "assert LiveDisplay.current().views == () and state._observers == ()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    reason, message = result.stdout.strip().split(" | ")
    assert reason == "no_display"
    assert "IPython" in message and "publisher=" in message


def test_in_ipython_config_publisher_and_post_execute_hook() -> None:
    code = """
import json
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from traitlets.config import Config
from jido_kernel.display.live import LiveDisplay, flush_all

config = Config()
config.LiveDisplay.max_rate = 0.2
shell = InteractiveShell.instance(config=config)
shell.events.register("post_execute", flush_all)
with capture_output() as captured:
    shell.run_cell(
        "from jido_kernel.display.live import LiveView\\n"
        "from jido_kernel.state import SessionState\\n"
        "state = SessionState('s')\\n"
        "view = LiveView(state, 'todos')\\n"
        "state.update_todos([{'content': 'Ship'}])\\n"
        "state.update_todos([{'content': 'Ship', 'status': 'completed'}])\\n"
    )
print(json.dumps({
    "rate": LiveDisplay.current().max_rate,
    "outputs": [
        [o.update, o.transient["display_id"], o.data["text/plain"]] for o in captured.outputs
    ],
    "id": shell.user_ns["view"].display_id,
}))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["rate"] == 0.2
    assert report["outputs"] == [
        [False, report["id"], "No todos yet; this view updates in place (in a text console, run %todos again)."],
        [True, report["id"], "[x] Ship"],
    ]


def test_a_running_tool_call_ticks(display: LiveDisplay, recorder: Recorder) -> None:
    from jido_kernel.display.live import TICK_SECONDS

    state = SessionState("s")
    state.add_tool_call("shell", {"command": "sleep"}, status="running")
    with LiveView(state, "tool_calls", display=display, publisher=recorder):
        time.sleep(2.5 * TICK_SECONDS)
        ticks = len(recorder.updates)
    assert ticks >= 2, "redrawn while the call runs, with no change to the state"
