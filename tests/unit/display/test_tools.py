"""Tool-call renderings: Lua-syntax arguments, grouped runs, semantic HTML."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jido_kernel.display import tools
from jido_kernel.display.state import part_bundle
from jido_kernel.state import SessionState, ToolCall


def test_arguments_read_as_lua() -> None:
    call = ToolCall("t", "read_file", {"path": "a.txt", "options": {"limit": 3}}, "completed")
    assert tools.signature(call) == 'read_file(path="a.txt", options={limit = 3})'
    listing = ToolCall("u", "shell", {"command": "ls", "args": ["-a", "b"]})
    assert tools.signature(listing) == 'shell(command="ls", args={"-a", "b"})'


def test_consecutive_calls_of_one_function_are_one_row() -> None:
    state = SessionState("s")
    for number in range(111):
        call = state.add_tool_call("file_stat", {"path": f"f{number}"}, status="running")
        state.update_tool_call(call.id, status="completed", duration_ms=0.03, result="file")
    failed = state.add_tool_call("file_stat", {"path": "missing"}, status="running")
    state.update_tool_call(failed.id, status="error", result="not found")
    state.add_tool_call("read_file", {"path": "a"}, status="running")
    bundle = part_bundle(state.get_state(), "tool_calls")
    assert bundle["text/plain"].splitlines() == [
        "112 \u00d7 file_stat \u00b7 1 error",
        '  file_stat(path="missing") \u2014 error',
        "    \u2192 not found",
        'read_file(path="a") \u2014 running',
    ]
    html = bundle["text/html"]
    assert html.count('<details class="jido-group" open>') == 1  # opened: it holds an error
    assert "112 \u00d7 file_stat \u00b7 1 error \u00b7 3 ms" in html
    assert html.count('<tr class="jido-tool') == 112 + 1 + 1


def test_short_runs_stay_rows() -> None:
    calls = [ToolCall(f"t{i}", "glob", {"pattern": "*"}, "completed") for i in range(tools.GROUP_MIN - 1)]
    assert [len(run) for run in tools.groups(calls)] == [tools.GROUP_MIN - 1]
    assert "jido-group" not in tools.tool_calls_html(calls)
    assert len(tools.tool_calls_text(calls)) == tools.GROUP_MIN - 1


def test_a_running_call_shows_its_elapsed_time_in_html_only() -> None:
    started = datetime.now(UTC) - timedelta(seconds=4)
    call = ToolCall("t", "shell", {"command": "sleep"}, "running", timestamp=started)
    assert "4 s\u2026" in tools.tool_call_html(call)
    assert " s" not in tools.tool_call_text(call).split("\u2014")[0]


def test_the_table_reads_without_a_stylesheet() -> None:
    html = tools.tool_call_html(ToolCall("t", "glob", {"pattern": "*"}, "error", "bad"))
    assert "<table" in html and "<th>status</th>" in html and '<td class="jido-badge">error</td>' in html
