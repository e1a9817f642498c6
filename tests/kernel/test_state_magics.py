"""Live state views through the ``jido`` kernel: the magics, ``%%lua`` and streams."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from kernel_helpers import Execution, execute, jido_kernel

pytestmark = pytest.mark.kernel

CHUNKS = 10_000


@pytest.fixture(scope="module")
def kc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BlockingKernelClient]:
    with jido_kernel(tmp_path_factory.mktemp("state-project")) as (_, client):
        execute(client, "import jido_kernel, threading, time\nstate = jido_kernel.current_session().state")
        yield client


def display_id_of(run: Execution) -> str:
    (message,) = run.of_type("display_data")
    return message["content"]["transient"]["display_id"]


def updates_for(run: Execution, display_id: str) -> list[dict[str, Any]]:
    return [
        m["content"]["data"]
        for m in run.of_type("update_display_data")
        if m["content"]["transient"]["display_id"] == display_id
    ]


def test_a_view_updates_in_place_from_later_cells_and_lua(kc: BlockingKernelClient) -> None:
    view = execute(kc, "%messages")
    display_id = display_id_of(view)
    later = execute(kc, "state.append_message('user', 'hello from a later cell')")
    from_lua = execute(kc, "%lua jido.state.append_message('assistant', 'hello from **Lua**')")
    assert later.status == from_lua.status == "ok"
    assert "hello from a later cell" in updates_for(later, display_id)[-1]["text/plain"]
    final = updates_for(from_lua, display_id)[-1]
    assert "assistant: hello from **Lua**" in final["text/plain"]
    assert "<strong>Lua</strong>" in final["text/html"]
    assert not later.of_type("display_data"), "updated in place, not appended"


def test_static_views_do_not_update(kc: BlockingKernelClient) -> None:
    snapshot = execute(kc, "%todos --static")
    assert snapshot.of_type("display_data") and not snapshot.of_type("display_data")[0]["content"]["transient"]
    change = execute(kc, "state.update_todos([{'content': 'x', 'status': 'pending'}])")
    assert change.status == "ok" and not change.of_type("update_display_data")


def test_todos_from_lua_show_their_final_state(kc: BlockingKernelClient) -> None:
    view = execute(kc, "%todos")
    display_id = display_id_of(view)
    run = execute(
        kc,
        "%%lua\n"
        "jido.state.update_todos({{content = 'plan', status = 'in_progress'}})\n"
        "jido.state.update_todos({{content = 'plan', status = 'completed'},\n"
        "                         {content = 'build', status = 'pending'}})",
    )
    final = updates_for(run, display_id)[-1]["text/plain"]
    assert "[x] plan" in final and "[ ] build" in final


def test_a_stream_from_a_cell_grows_in_place_within_the_rate(kc: BlockingKernelClient) -> None:
    started = time.monotonic()
    run = execute(
        kc,
        f"with state.stream() as s:\n    for i in range({CHUNKS}):\n        s.write(f'c{{i}};')\n"
        "        if i % 500 == 0: time.sleep(0.02)",
    )
    elapsed = time.monotonic() - started
    assert run.status == "ok", run.error
    expected = "".join(f"c{i};" for i in range(CHUNKS))
    displays = run.displays()  # only messages that arrived before the cell went idle
    assert len(displays) == 1, "one output area for the stream"
    assert next(iter(displays.values()))["text/plain"] == f"assistant: {expected}"
    assert len(run.of_type("display_data", "update_display_data")) <= elapsed * 10 + 5


def test_a_stream_from_lua(kc: BlockingKernelClient) -> None:
    run = execute(
        kc,
        "%%lua\njido.state.start_streaming()\n"
        "for i = 1, 300 do jido.state.update_streaming('t' .. i .. ' ') end\n"
        "return jido.state.end_streaming()",
    )
    expected = "".join(f"t{i} " for i in range(1, 301))
    assert run.result["text/plain"] == repr(expected)
    (shown,) = run.displays().values()
    assert shown["text/plain"] == f"assistant: {expected}"


def test_a_stream_from_a_background_thread(kc: BlockingKernelClient) -> None:
    start = execute(
        kc,
        "def produce():\n    with state.stream() as s:\n"
        f"        for i in range({CHUNKS}):\n            s.write(f'b{{i}};')\n"
        "            if i % 1000 == 0: time.sleep(0.05)\n"
        "worker = threading.Thread(target=produce)\nworker.start()",
    )
    joined = execute(kc, "worker.join()\nlen(state.messages[-1].content)")
    expected = "".join(f"b{i};" for i in range(CHUNKS))
    assert joined.result["text/plain"] == str(len(expected))
    shown: dict[str, dict[str, Any]] = {}
    for run in (start, joined):
        for message in run.messages:
            display_id = message["content"].get("transient", {}).get("display_id")
            if message["msg_type"] in ("display_data", "update_display_data") and display_id:
                shown[display_id] = message["content"]["data"]
    finals = [d["text/plain"] for d in shown.values() if d["text/plain"].startswith("assistant: b0;")]
    assert finals == [f"assistant: {expected}"]
