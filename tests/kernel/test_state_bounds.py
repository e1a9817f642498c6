"""Bounds on what Lua can make the kernel hold or send, through a real ``jido`` kernel."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from kernel_helpers import Execution, execute, jido_kernel

pytestmark = pytest.mark.kernel

MiB = 1 << 20
UPDATE_BYTES = 512 * 1024  # LiveDisplay.max_update_bytes
RSS = (
    "import gc\ngc.collect()\n"
    "print(next(line for line in open('/proc/self/status') if line.startswith('VmRSS')).split()[1])"
)


@pytest.fixture(scope="module")
def kc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BlockingKernelClient]:
    root = tmp_path_factory.mktemp("state-bounds").resolve()
    with jido_kernel(root) as (_, client):
        yield client


def lua(kc: BlockingKernelClient, code: str, timeout: float = 120) -> Execution:
    done = execute(kc, "%%lua\n" + code, timeout=timeout)
    assert done.status == "ok", done.error
    return done


def rss_mib(kc: BlockingKernelClient) -> float:
    return int(execute(kc, RSS).stdout.strip()) / 1024


def python(kc: BlockingKernelClient, expression: str) -> str:
    done = execute(kc, f"import jido_kernel\nstate = jido_kernel.current_session().state\nprint({expression})")
    assert done.status == "ok", done.error
    return done.stdout.strip()


def display_messages(done: Execution) -> list[dict]:
    return done.of_type("display_data", "update_display_data")


def test_large_messages_are_refused_and_the_kernel_stays_small(kc: BlockingKernelClient) -> None:
    before = rss_mib(kc)
    done = lua(
        kc,
        "local big = string.rep('x', 8 * 1024 * 1024)\n"
        "local refused, last = 0, nil\n"
        "for i = 1, 40 do\n"
        "  local ok, err = jido.state.append_message('user', big)\n"
        "  if ok == nil then refused = refused + 1 last = err end\n"
        "end\n"
        "return refused, last",
    )
    assert done.result is not None
    shown = done.result["text/plain"]
    assert shown.startswith('40, "The message has 8.0 MB of text, above the limit of 1.0 MB')
    assert "StateLimits.max_message_chars" in shown
    assert rss_mib(kc) - before < 100  # unbounded: 320 MB held


def test_many_small_messages_stay_within_the_session_total(kc: BlockingKernelClient) -> None:
    before = rss_mib(kc)
    lua(
        kc,
        "local chunk = string.rep('m', 1024 * 1024 - 16)\n"
        "for i = 1, 120 do assert(jido.state.append_message('assistant', chunk)) end\n"
        "for i = 1, 100 do assert(jido.state.add_reasoning_step(chunk)) end",
    )
    total = int(python(kc, "sum(len(m.content) for m in state.messages + state.reasoning_steps)"))
    assert total <= 16 * MiB
    assert rss_mib(kc) - before < 100  # unbounded: 220 MB held
    python(kc, "state.clear_messages() or state.clear_reasoning_steps()")


def test_stream_chunks_are_bounded(kc: BlockingKernelClient) -> None:
    before = rss_mib(kc)
    done = lua(
        kc,
        "assert(jido.state.start_streaming())\n"
        "local too_big = select(2, jido.state.update_streaming(string.rep('c', 2 * 1024 * 1024)))\n"
        "local chunk, refused = string.rep('k', 512 * 1024), 0\n"
        "for i = 1, 200 do\n"
        "  if jido.state.update_streaming(chunk) == nil then refused = refused + 1 end\n"
        "end\n"
        "local text = jido.state.end_streaming()\n"
        "return refused, #text, too_big",
    )
    assert done.result is not None
    refused, length, too_big = done.result["text/plain"].split(", ", 2)
    assert (int(refused), int(length)) == (192, 4 * MiB)
    assert "StateLimits.max_chunk_chars" in too_big
    assert rss_mib(kc) - before < 100  # unbounded: 100 MB held
    for message in display_messages(done):
        assert len(json.dumps(message["content"]["data"])) <= UPDATE_BYTES + 4096
    final = done.displays()
    assert any("[clipped: " in data["text/plain"] for data in final.values())
    python(kc, "state.clear_messages()")


def test_todo_floods_are_refused(kc: BlockingKernelClient) -> None:
    done = lua(
        kc,
        "local many = {}\n"
        "for i = 1, 5000 do many[i] = {content = 'task ' .. i} end\n"
        "local _, too_many = jido.state.update_todos(many)\n"
        "local _, too_long = jido.state.update_todos({{content = string.rep('t', 100000)}})\n"
        "return too_many, too_long",
    )
    assert done.result is not None
    assert "StateLimits.max_todos" in done.result["text/plain"]
    assert "StateLimits.max_todo_chars" in done.result["text/plain"]
    assert python(kc, "len(state.todos)") == "0"


def test_a_thousand_streams_use_a_bounded_number_of_display_messages(kc: BlockingKernelClient) -> None:
    done = lua(
        kc,
        "for i = 1, 1000 do\n"
        "  jido.state.start_streaming()\n"
        "  jido.state.update_streaming('stream ' .. i)\n"
        "  jido.state.end_streaming()\n"
        "end",
    )
    messages = display_messages(done)
    created = done.of_type("display_data")
    assert len(created) == 21, len(created)  # 20 streams of their own, one shared view
    assert len(messages) < 200, len(messages)  # unbounded: 2000
    shared = list(done.displays().values())[-1]["text/plain"]
    assert "More than 20 streams in this cell" in shared and "stream 1000" in shared
    again = lua(kc, "jido.state.start_streaming() jido.state.update_streaming('next cell') jido.state.end_streaming()")
    assert len(again.of_type("display_data")) == 1  # the next cell starts afresh
    python(kc, "state.clear_messages()")


def test_markdown_of_a_huge_stream_does_not_hold_the_cell(kc: BlockingKernelClient) -> None:
    def stream_of(unit: str) -> tuple[float, Execution]:
        code = (
            f"local chunk = string.rep('{unit}', 1000 * 1000)\n"
            "jido.state.start_streaming()\n"
            "for i = 1, 3 do assert(jido.state.update_streaming(chunk)) end\n"
            "return #jido.state.end_streaming()"
        )
        started = time.monotonic()
        done = lua(kc, code)
        return time.monotonic() - started, done

    plain, _ = stream_of("a")
    brackets, done = stream_of("[")
    assert done.result is not None and done.result["text/plain"] == "3000000"
    assert brackets < 3 * plain + 5, (plain, brackets)  # regex markdown: ~18 s
    for message in display_messages(done):
        assert len(json.dumps(message["content"]["data"])) <= UPDATE_BYTES + 4096
    python(kc, "state.clear_messages()")


def test_a_large_lua_result_renders_under_the_cap(kc: BlockingKernelClient) -> None:
    done = lua(
        kc,
        "local rows = {}\n"
        "for i = 1, 40000 do rows[i] = {name = string.rep('n', 100), i = i, tags = {'a', 'b', 'c'}} end\n"
        "return rows, string.rep('s', 5 * 1024 * 1024)",
    )
    assert done.result is not None
    size = sum(len(value) for value in done.result.values())
    assert size < 1_000_000, size
    assert "more" in done.result["text/plain"]


def test_terminal_control_from_lua_is_neutralised_in_state_views(kc: BlockingKernelClient) -> None:
    lua(kc, "jido.state.append_message('assistant', 'a\\27]0;title\\7b\\27[2J\\27[31mred\\27[0m')")
    done = execute(kc, "%messages --static")
    assert done.status == "ok", done.error
    text = next(iter(done.of_type("display_data")))["content"]["data"]["text/plain"]
    assert "assistant: ab\x1b[31mred\x1b[0m" in text and "title" not in text and "\x1b[2J" not in text
    python(kc, "state.clear_messages()")
